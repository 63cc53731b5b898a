"""Dynamic-graph model vs Paddle Inference on the same preprocessed image.

    python tools/parity_check.py --model_dir DIR --img IMG [--kind det|cls]

Prints the difference with IR optimisation off (same kernels) and on (as deployed); the last
line is ``max_abs_diff=<float>``, the larger of the two.
"""
import argparse
import os

from ..cli import quiet_paddle, run_main

quiet_paddle()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="dynamic graph vs Paddle Inference parity")
    p.add_argument("--model_dir", default=None, help="inference folder (default: bundled PP-OCRv4 det)")
    p.add_argument("--img", "--image_dir", dest="img", required=True, help="an image")
    p.add_argument("--kind", choices=["auto", "det", "cls"], default="auto")
    p.add_argument("--limit_side_len", type=int, default=960)
    p.add_argument("--limit_type", default="max")
    args = p.parse_args(argv)

    import numpy as np

    from ..io import read_image
    from ..models.cls import BUNDLED_CLS, bundled_model_dir
    from ..models.static import StaticPredictor

    img = read_image(args.img)
    kind = args.kind
    if kind == "auto":
        kind = "cls" if args.model_dir and os.path.basename(os.path.normpath(args.model_dir)) == BUNDLED_CLS else "det"
        if args.model_dir and kind == "det":
            from ..models.paddle_format import read_inference_folder

            inf = read_inference_folder(args.model_dir)
            names = " ".join((inf.structured_names or {}).values())
            model_name = str(((inf.config or {}).get("Global") or {}).get("model_name", ""))
            if "expand_conv" in names or "encoder.blocks" in names or "_cls" in model_name or "LCNet" in model_name:
                kind = "cls"
    if kind == "cls":
        from ..models.cls import load_classifier

        model = load_classifier(args.model_dir)
        batch = model.prepare([img])
        dyn = model.predict(batch)
        source = model.source
    else:
        from ..models.det import load_detector
        from ..ocr.det_preprocess import DetPreprocess

        det = load_detector(args.model_dir)
        chw, _ = DetPreprocess(limit_side_len=args.limit_side_len, limit_type=args.limit_type)(img)
        batch = chw[None].astype(np.float32)
        dyn = det.prob_map(batch)
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
