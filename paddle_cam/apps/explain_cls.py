#!/usr/bin/env python
"""Explain a classifier decision (default: PaddleOCR's bundled text-line orientation classifier).

    python tools/explain_cls.py --img demo_docs/lines/line_01_180.png --output output/cls
    python tools/explain_cls.py --img lines/ --model_dir PP-LCNet_x0_25_textline_ori_infer --method layercam

Writes, per image, OUT/<name>/overlay.png, OUT/<name>/raw_map.npy and OUT/<name>/report.json.
"""
import argparse
import os
import sys

from ..cli import fail, progress, quiet_paddle, run_main

quiet_paddle()

DEFAULTS = {
    "Global": {"model_dir": None, "model_name": None, "device": "cpu", "output": "output/cls"},
    "Explain": {"method": "gradcam", "layers": None, "class_id": None, "scorecam_batch_size": 16},
    "Output": {"alpha": 0.45, "display_height": 96},
}


def parse_args(argv=None):
    from paddle_cam.config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--img", "--image_dir", dest="img", required=True, help="image file or folder of images")
    p.add_argument("--model_dir", default=None, help="inference folder or training .pdparams (default: bundled)")
    p.add_argument("--model_name", default=None, help="e.g. PP-LCNet_x0_25_textline_ori (picks architecture/preprocess)")
    p.add_argument("--output", default=None, help="output folder (default output/cls)")
    p.add_argument("--method", default=None, help="gradcam gradcampp xgradcam layercam hirescam eigencam scorecam")
    p.add_argument("--layers", default=None, help="comma-separated layer names (dotted named_sublayers names)")
    p.add_argument("--class_id", type=int, default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    add_config_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from paddle_cam.config import load_config

    cfg = load_config(args.config, args.opt, DEFAULTS)
    g, e, o = cfg["Global"], cfg["Explain"], cfg["Output"]
    for key, section, name in (("model_dir", g, "model_dir"), ("model_name", g, "model_name"), ("output", g, "output"),
                               ("device", g, "device"), ("method", e, "method"), ("class_id", e, "class_id")):
        if getattr(args, key) is not None:
            section[name] = getattr(args, key)
    if args.layers:
        e["layers"] = [s.strip() for s in args.layers.split(",") if s.strip()]
    elif isinstance(e.get("layers"), str):
        e["layers"] = [s.strip() for s in e["layers"].split(",") if s.strip()]

    from paddle_cam.cli import set_device
    from paddle_cam.errors import PaddleCamError
    from paddle_cam.hooks import resolve_layer
    from paddle_cam.io import ensure_writable_dir, list_images
    from paddle_cam.methods import get_method
    from paddle_cam.models.cls import load_classifier
    from paddle_cam.sinks.fonts import find_cjk_font_path

    out_root = ensure_writable_dir(g["output"])
    images = list_images(args.img)
    get_method(e["method"])  # fail on a bad method before loading anything
    find_cjk_font_path()
    set_device(g["device"])
    clf = load_classifier(g["model_dir"], g["model_name"])
    for layer in e["layers"] or [clf.default_layer]:
        resolve_layer(clf.model, layer)

    failed = 0
    single = len(images) == 1
    for path in progress(images, "explain_cls"):
        try:
            report = explain_one(clf, path, out_root, cfg, single)
            if single:
                print(f"{report['prediction']['label']} (p={report['prediction']['score']:.4f}) -> "
                      f"{os.path.dirname(report['explanations'][0]['overlay'])}")
        except PaddleCamError as err:
            if single:
                raise
            fail(f"{path}: {err}")
            failed += 1
    if not single:
        print(f"explained {len(images) - failed}/{len(images)} images -> {out_root}")
    return 2 if failed else 0


def explain_one(clf, path, out_root, cfg, single):
    import numpy as np

    from paddle_cam.cls_explain import explain_image
    from paddle_cam.io import read_image, save_json, save_npy, save_png
    from paddle_cam.sinks.overlay import caption, fit_height, overlay, side_by_side

    e, o = cfg["Explain"], cfg["Output"]
    img = read_image(path)
    kwargs = {"batch_size": int(e["scorecam_batch_size"])} if e["method"].lower().startswith("score") else {}
    ex = explain_image(clf, img, e["method"], e["layers"], e["class_id"], **kwargs)
    stem = os.path.splitext(os.path.basename(path))[0]
    out_dir = os.path.join(out_root, stem)
    pred = int(np.argmax(ex.probs))
    label = clf.labels[ex.class_id]
    h = int(o["display_height"])
    panel = side_by_side(
        [fit_height(img[:, :, ::-1], h), fit_height(overlay(img, ex.image_norm, float(o["alpha"])), h)],
        ["原图 input", f"{ex.cam.method} · 类别 {label}"])
    panel = caption(panel, [f"预测 {clf.labels[pred]}  置信度 {ex.probs[pred]:.4f}   解释类别 {label} "
                            f"(p={ex.probs[ex.class_id]:.4f})   层 {', '.join(ex.cam.layers)}"])
    overlay_path = save_png(os.path.join(out_dir, "overlay.png"), panel)
    raw_path = save_npy(os.path.join(out_dir, "raw_map.npy"), ex.image_raw.astype(np.float32))
    report = {
        "image": os.path.abspath(path),
        "size": [int(img.shape[1]), int(img.shape[0])],
        "model": {"name": clf.name, "source": os.path.abspath(clf.source), "labels": clf.labels},
        "prediction": {"class_id": pred, "label": clf.labels[pred], "score": float(ex.probs[pred]),
                       "probs": [float(p) for p in ex.probs]},
        "explanations": [{
            "target": {"kind": "class", "class_id": ex.class_id, "label": label, "score": float(ex.probs[ex.class_id])},
            "method": ex.cam.method,
            "layers": ex.cam.layers,
            "layer_map_shapes": {k: list(v.shape[1:]) for k, v in ex.cam.layer_maps.items()},
            "raw_max": float(ex.image_raw.max()),
            "overlay": os.path.abspath(overlay_path),
            "raw_map": os.path.abspath(raw_path),
        }],
    }
    save_json(os.path.join(out_dir, "report.json"), report)
    return report


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
