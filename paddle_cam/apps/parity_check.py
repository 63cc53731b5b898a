"""Dynamic-graph model vs Paddle Inference on the same preprocessed image.

    python tools/parity_check.py --model_dir DIR --img IMG [--kind det|cls]

Defaults: configs/parity_check.yml (change them with -c FILE or -o Section.key=value).
Prints the difference with IR optimisation off (same kernels) and on (as deployed); the last
line is ``max_abs_diff=<float>``, the larger of the two.
"""
import argparse
import os

from ..cli import quiet_paddle, run_main

quiet_paddle()

KINDS = ("auto", "det", "cls")
FLAGS = {"model_dir": "Global.model_dir", "kind": "Global.kind", "limit_side_len": "PreProcess.limit_side_len",
         "limit_type": "PreProcess.limit_type"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    p = argparse.ArgumentParser(description="dynamic graph vs Paddle Inference parity")
    p.add_argument("--model_dir", default=None, help="inference folder (default: bundled PP-OCRv4 det)")
    p.add_argument("--img", "--image_dir", dest="img", required=True, help="an image")
    p.add_argument("--kind", choices=KINDS, default=None, help="det, cls or auto (default)")
    p.add_argument("--limit_side_len", type=int, default=None, help="det: DetResizeForTest limit (default 960)")
    p.add_argument("--limit_type", default=None, help="det: max (default) or min")
    add_config_args(p)
    return p.parse_args(argv)


def model_kind(model_dir) -> str:
    """``det`` or ``cls`` for an inference folder (None: the bundled detector)."""
    from ..models.cls import BUNDLED_CLS

    if not model_dir:
        return "det"
    if os.path.basename(os.path.normpath(model_dir)) == BUNDLED_CLS:
        return "cls"
    from ..models.paddle_format import read_inference_folder

    inf = read_inference_folder(model_dir)
    names = " ".join((inf.structured_names or {}).values())
    model_name = str(((inf.config or {}).get("Global") or {}).get("model_name", ""))
    if "expand_conv" in names or "encoder.blocks" in names or "_cls" in model_name or "LCNet" in model_name:
        return "cls"
    return "det"


def main(argv=None) -> int:
    args = parse_args(argv)
    from ..config import load_config, set_from_args
    from ..errors import InputError

    cfg = set_from_args(load_config("parity_check", args.config, args.opt), args, FLAGS)
    g = cfg["Global"]
    if g["kind"] not in KINDS:
        raise InputError(f"Global.kind must be one of {', '.join(KINDS)}, not {g['kind']!r}")

    import numpy as np

    from ..io import read_image
    from ..models.static import StaticPredictor

    img = read_image(args.img)
    kind = model_kind(g["model_dir"]) if g["kind"] == "auto" else g["kind"]
    if kind == "cls":
        from ..models.cls import load_classifier

        model = load_classifier(g["model_dir"])
        batch = model.prepare([img])
        dyn = model.predict(batch)
        source = model.source
    else:
        from ..models.det import load_detector
        from ..ocr.db_postprocess import DBPostProcess
        from ..ocr.det_preprocess import DetPreprocess
        from ..ocr.pipeline import TextPipeline

        det = load_detector(g["model_dir"])
        page = TextPipeline(det, DetPreprocess(**cfg["PreProcess"]), DBPostProcess()).detect(img, recognize=False)
        batch = page.batch
        dyn = page.prob[None, None]
        source = det.source
    worst = 0.0
    for ir in (False, True):
        ref = StaticPredictor(source, ir_optim=ir)(batch)
        diff = float(np.abs(dyn - ref).max())
        worst = max(worst, diff)
        print(f"{kind} input {list(batch.shape)} ir_optim={'on ' if ir else 'off'}: max_abs_diff={diff:.3e} "
              f"mean_abs_diff={float(np.abs(dyn - ref).mean()):.3e}")
    print(f"max_abs_diff={worst:.6e}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
