"""Explain PaddleOCR text detection: which pixels made each DB box (or missed line).

    python tools/explain_ocr.py --img demo_docs/invoices/invoice_0100.jpg --vdl_dir runs
    python tools/explain_ocr.py --img invoices/ --boxes top-5 --method layercam --layers scales
    python tools/explain_ocr.py --img page.png --missed 120,340,560,372 -o PostProcess.box_thresh=0.5

Per image, OUT/<name>/: page.png (all-text heatmap + boxes and their text), panels/<target>.png,
raw/<target>.npy (un-normalised maps) and report.json (written last).
"""
import argparse
import os
import sys

from ..cli import fail, progress, quiet_paddle, run_main

quiet_paddle()

DEFAULTS = {
    "Global": {"det_model_dir": None, "det_model_name": None, "rec_model_dir": None, "use_rec": True,
               "device": "cpu", "output": "output/ocr", "vdl_dir": None, "vdl_run": "base"},
    "PreProcess": {"limit_side_len": 960, "limit_type": "max", "max_side_limit": 4000},
    "PostProcess": {"thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5, "max_candidates": 1000},
    "Explain": {"method": "gradcam", "layers": ["neck"], "boxes": "all", "all_text": True, "regions": [],
                "missed": [], "scorecam_batch_size": 8, "gradient_support": True},
    "Output": {"alpha": 0.45, "raw_maps": "grid", "max_pixels": 120_000_000},
}


def parse_args(argv=None):
    from ..config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--img", "--image_dir", dest="img", required=True, help="image file or folder of images")
    p.add_argument("--det_model_dir", "--model_dir", dest="det_model_dir", default=None,
                   help="det inference folder or .pdparams (default: bundled PP-OCRv4 mobile det)")
    p.add_argument("--det_model_name", default=None, help="e.g. PP-OCRv5_server_det (when the folder does not say)")
    p.add_argument("--rec_model_dir", default=None, help="rec inference folder (default: bundled PP-OCRv4 rec)")
    p.add_argument("--output", default=None, help="output folder (default output/ocr)")
    p.add_argument("--boxes", default=None, help="all | top-K | box ids N,M,... | none")
    p.add_argument("--method", default=None, help="gradcam gradcampp xgradcam layercam hirescam eigencam scorecam")
    p.add_argument("--layers", default=None, help="comma-separated layer names or aliases (neck, stage5, scales)")
    p.add_argument("--region", action="append", default=None, help="explain a region x1,y1,x2,y2[,...] (repeatable)")
    p.add_argument("--missed", action="append", default=None, help="a line that was not detected x1,y1,x2,y2[,...]")
    p.add_argument("--vdl_dir", default=None, help="log images/scalars/text to VisualDL here")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name = model variant (default base)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    add_config_args(p)
    return p.parse_args(argv)


def build_config(args) -> dict:
    from ..config import load_config

    cfg = load_config(args.config, args.opt, DEFAULTS)
    g, e = cfg["Global"], cfg["Explain"]
    for key in ("det_model_dir", "det_model_name", "rec_model_dir", "output", "vdl_dir", "vdl_run", "device"):
        if getattr(args, key) is not None:
            g[key] = getattr(args, key)
    for key in ("boxes", "method"):
        if getattr(args, key) is not None:
            e[key] = getattr(args, key)
    if args.layers:
        e["layers"] = [s.strip() for s in args.layers.split(",") if s.strip()]
    elif isinstance(e.get("layers"), str):
        e["layers"] = [s.strip() for s in e["layers"].split(",") if s.strip()]
    if args.region:
        e["regions"] = list(args.region)
    if args.missed:
        e["missed"] = list(args.missed)
    if cfg["Output"]["raw_maps"] not in ("grid", "page", "none"):
        from ..errors import InputError

        raise InputError(f"Output.raw_maps must be grid, page or none, not {cfg['Output']['raw_maps']}")
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    g, e, o = cfg["Global"], cfg["Explain"], cfg["Output"]

    from ..cli import set_device
    from ..errors import PaddleCamError
    from ..hooks import resolve_layer
    from ..io import ensure_writable_dir, list_images
    from ..methods import get_method
    from ..ocr.explain import OCRExplainer, parse_polygon, resolve_layers
    from ..sinks.fonts import find_cjk_font_path

    out_root = ensure_writable_dir(g["output"])
    images = list_images(args.img)
    get_method(e["method"])
    regions = [parse_polygon(r) if isinstance(r, str) else r for r in e["regions"] or []]
    missed = [parse_polygon(r) if isinstance(r, str) else r for r in e["missed"] or []]
    find_cjk_font_path()
    set_device(g["device"])
    explainer = build_explainer(cfg)
    for layer in explainer.layers:
        resolve_layer(explainer.detector.model, layer)

    vdl = None
    if g["vdl_dir"]:
        from ..sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    failed = 0
    single = len(images) == 1
    try:
        for path in progress(images, "explain_ocr"):
            try:
                report = explain_one(explainer, path, out_root, cfg, regions, missed, vdl)
                if single:
                    n = len(report["explanations"])
                    print(f"{len(report['boxes'])} boxes, {n} explanations -> {os.path.dirname(report['page_overlay'])}")
            except PaddleCamError as err:
                if single:
                    raise
                fail(f"{path}: {err}")
                failed += 1
    finally:
        if vdl is not None:
            vdl.close()
    if not single:
        print(f"explained {len(images) - failed}/{len(images)} images -> {out_root}")
    if vdl is not None:
        print(f"VisualDL: visualdl --logdir {g['vdl_dir']}  (run '{g['vdl_run']}')")
    return 2 if failed else 0


def build_explainer(cfg):
    from ..models.det import load_detector
    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..ocr.explain import OCRExplainer

    g, e = cfg["Global"], cfg["Explain"]
    det = load_detector(g["det_model_dir"], model_name=g["det_model_name"])
    rec = None
    if g["use_rec"]:
        from ..ocr.rec import TextRecognizer

        rec = TextRecognizer(g["rec_model_dir"])
    kwargs = {"batch_size": int(e["scorecam_batch_size"])} if str(e["method"]).lower().startswith("score") else {}
    return OCRExplainer(det, DetPreprocess(**cfg["PreProcess"]), DBPostProcess(**cfg["PostProcess"]), rec,
                        e["method"], e["layers"], kwargs, bool(e["gradient_support"]))


def explain_one(explainer, path, out_root, cfg, regions, missed, vdl):
    from ..io import read_image
    from ..sinks.det_report import write_page
    from ..sinks.visualdl import safe_tag

    e, o, g = cfg["Explain"], cfg["Output"], cfg["Global"]
    img = read_image(path, max_pixels=int(o["max_pixels"]))
    page = explainer.explain_page(img, e["boxes"], bool(e["all_text"]), regions, missed)
    stem = os.path.splitext(os.path.basename(path))[0]
    det = explainer.detector
    model_info = {"name": det.name, "arch": det.arch, "source": os.path.abspath(det.source), "fused": det.fused,
                  "weights": os.path.abspath(det.source)}
    return write_page(os.path.join(out_root, stem), path, page, model_info, explainer.method.name, explainer.layers,
                      float(o["alpha"]), o["raw_maps"], vdl, safe_tag(stem))


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
