"""Explain a classifier decision (default: PaddleOCR's bundled text-line orientation classifier).

examples:
  paddle-cam cls -i demo_docs/lines/line_01_180.png --save_path output/cls
  python tools/explain_cls.py -i lines/ --model_dir PP-LCNet_x0_25_textline_ori_infer --method layercam

Writes, per image, OUT/<name>/overlay.png, OUT/<name>/raw_map.npy and OUT/<name>/report.json.
"""
import argparse
import os

from ..cli import quiet_paddle, run_main
from .common import add_device_arg, add_input_arg, add_save_path_arg, explain_each, parse, parser

quiet_paddle()


FLAGS = {"model_dir": "Global.model_dir", "model_name": "Global.model_name", "output": "Global.output",
         "device": "Global.device", "method": "Explain.method", "class_id": "Explain.class_id",
         "layers": "Explain.layers"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_input_arg(p, "image file or folder of images")
    add_save_path_arg(p)
    p.add_argument("--model_dir", default=None, help="inference folder or training .pdparams (default: bundled)")
    p.add_argument("--model_name", default=None, help="e.g. PP-LCNet_x0_25_textline_ori (picks architecture/preprocess)")
    p.add_argument("--method", default=None, help="gradcam gradcampp xgradcam layercam hirescam eigencam scorecam")
    p.add_argument("--layers", default=None, help="comma-separated layer names (dotted named_sublayers names)")
    p.add_argument("--class_id", type=int, default=None, help="class to explain (default: the predicted one)")
    add_device_arg(p)
    add_config_args(p)
    return parse(p, argv, "cls/orientation", FLAGS)


def build_config(args: argparse.Namespace) -> dict:
    """configs/cls/orientation.yml, then -c, -o and the flags; checked before any model loads."""
    from ..config import as_list, load_config, set_from_args

    cfg = load_config("cls/orientation", args.config, args.opt)
    set_from_args(cfg, args, FLAGS)
    cfg["Explain"]["layers"] = as_list(cfg["Explain"]["layers"]) or None
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    g, e = cfg["Global"], cfg["Explain"]

    from ..cli import set_device
    from ..fonts import find_cjk_font_path
    from ..hooks import resolve_layer
    from ..io import ensure_writable_dir, list_images
    from ..methods import get_method
    from ..models.cls import load_classifier

    out_root = ensure_writable_dir(g["output"])
    images = list_images(args.input)
    get_method(e["method"])  # fail on a bad method before loading anything
    find_cjk_font_path()
    set_device(g["device"])
    clf = load_classifier(g["model_dir"], g["model_name"])
    for layer in e["layers"] or [clf.default_layer]:
        resolve_layer(clf.model, layer)

    def one(path: str) -> str:
        report = explain_one(clf, path, out_root, cfg)
        return (f"{report['prediction']['label']} (p={report['prediction']['score']:.4f}) -> "
                f"{os.path.dirname(report['explanations'][0]['overlay'])}")

    failed = explain_each(images, "explain_cls", one)
    if len(images) > 1:
        print(f"explained {len(images) - failed}/{len(images)} images -> {out_root}")
    return 2 if failed else 0


def explain_one(clf, path: str, out_root: str, cfg: dict) -> dict:
    """Explain one image and write its outputs; returns its report."""
    from ..api import method_kwargs
    from ..io import read_image
    from ..ocr.cls_explain import explain_image
    from ..sinks.cls_report import write_cls_report

    e, o = cfg["Explain"], cfg["Output"]
    img = read_image(path)
    ex = explain_image(clf, img, e["method"], e["layers"], e["class_id"], **method_kwargs(e))
    stem = os.path.splitext(os.path.basename(path))[0]
    return write_cls_report(os.path.join(out_root, stem), path, img, clf, ex, float(o["alpha"]),
                            int(o["display_height"]))


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
