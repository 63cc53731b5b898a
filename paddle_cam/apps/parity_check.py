"""Dynamic-graph model vs its reference runtime on the same preprocessed image.

examples:
  paddle-cam parity -i IMG --model_dir PATH [--kind det|rec|cls]
  python tools/parity_check.py -i demo_docs/invoices/invoice_0100.jpg --limit_side_len 640

PATH: an inference folder, a safetensors/paddle_dyn folder, an ``.onnx`` file (or a folder
holding one). The reference is onnxruntime for ONNX, Paddle Inference for inference folders
(IR optimisation off: the same kernels; on: as deployed) and PaddleX's own class and forward for
safetensors folders. Detectors: the DB probability map on the page as the model's own
preprocessing prepares it (``PreProcess`` keys left null); recognisers: CTC probabilities of
the page's line crops. Defaults: configs/parity_check.yml (-c FILE, -o Section.key=value). The
last line is ``max_abs_diff=<float>``, the largest difference.
"""
import argparse
import os

from ..cli import quiet_paddle, run_main
from .common import add_device_arg, add_input_arg, parse, parser

quiet_paddle()

KINDS = ("auto", "det", "rec", "cls")
FLAGS = {"model_dir": "Global.model_dir", "kind": "Global.kind", "device": "Global.device", "limit_side_len": "PreProcess.limit_side_len",
         "limit_type": "PreProcess.limit_type"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_input_arg(p, "an image")
    p.add_argument("--model_dir", default=None, help="model folder or .onnx file (default: bundled PP-OCRv4 det)")
    p.add_argument("--kind", choices=KINDS, default=None, help="det, rec, cls or auto")
    p.add_argument("--limit_side_len", type=int, default=None, help="det: DetResizeForTest limit")
    p.add_argument("--limit_type", default=None, help="det: max or min")
    add_device_arg(p)
    add_config_args(p)
    return parse(p, argv, "parity_check", FLAGS)


def model_kind(model_dir) -> str:
    """``det``, ``rec`` or ``cls`` for a model folder or file (None: the bundled detector)."""
    from ..models.cls import BUNDLED_CLS

    if not model_dir:
        return "det"
    if os.path.basename(os.path.normpath(model_dir)) == BUNDLED_CLS:
        return "cls"
    from ..models.hf_folder import folder_format, read_config
    from ..models.onnx_weights import find_onnx_file, read_onnx

    if os.path.isdir(model_dir) and folder_format(model_dir):
        what = " ".join(str(v) for v in [read_config(model_dir).get("model_type")] +
                        list(read_config(model_dir).get("architectures") or []))
        return "rec" if "rec" in what.lower() else "cls" if "cls" in what.lower() else "det"
    onnx = find_onnx_file(model_dir)
    if onnx and not (os.path.isdir(model_dir) and any(f.endswith(".pdiparams") for f in os.listdir(model_dir))):
        graph = read_onnx(onnx)
        return "rec" if graph.output_rank() == 3 else "det"
    from ..models.paddle_format import read_inference_folder

    inf = read_inference_folder(model_dir)
    names = " ".join((inf.structured_names or {}).values())
    model_name = str(((inf.config or {}).get("Global") or {}).get("model_name", ""))
    post = str((inf.config or {}).get("PostProcess"))
    if model_name.endswith("_rec") or "ctc" in names.lower() or "CTCLabelDecode" in post:
        return "rec"
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

    from ..cli import set_device
    from ..io import read_image

    img = read_image(args.input)
    set_device(g["device"])
    kind = model_kind(g["model_dir"]) if g["kind"] == "auto" else g["kind"]
    if kind == "rec":
        from ..ocr.rec import rec_parity

        worst = rec_parity(g["model_dir"], img)
        print(f"rec line crops of {args.input}: max_abs_diff={worst:.3e}")
        print(f"max_abs_diff={worst:.6e}")
        return 0
    if kind == "cls":
        from ..models.cls import load_classifier
        from ..models.static import StaticPredictor

        model = load_classifier(g["model_dir"])
        batch = model.prepare([img])
        dyn = model.predict(batch)
        refs = {f"Paddle Inference ir_optim={'on' if ir else 'off'}": StaticPredictor(model.source, ir_optim=ir)(batch)
                for ir in (False, True)}
    else:
        from ..models.det import load_detector, reference_outputs
        from ..ocr.db_postprocess import DBPostProcess
        from ..ocr.det_preprocess import DetPreprocess
        from ..ocr.pipeline import TextPipeline

        det = load_detector(g["model_dir"])
        pre = DetPreprocess.for_detector(det, **cfg["PreProcess"])
        page = TextPipeline(det, pre, DBPostProcess.for_detector(det)).detect(img, recognize=False)
        batch = page.batch
        dyn = page.prob[None, None]
        refs = reference_outputs(det, batch)
        if not refs:
            raise InputError(f"{det.source} is a training checkpoint ({det.format}): it has no reference runtime; "
                             "pass an inference, safetensors or ONNX model")
        print(f"det {det.name} ({det.arch}, {det.format}) limit {pre.limit_side_len}/{pre.limit_type}")
    worst = 0.0
    for label, ref in refs.items():
        diff = float(np.abs(dyn - ref).max()) if ref.shape == dyn.shape else float("inf")
        worst = max(worst, diff)
        mean = float(np.abs(dyn - ref).mean()) if ref.shape == dyn.shape else float("inf")
        print(f"{kind} input {list(batch.shape)} vs {label}: max_abs_diff={diff:.3e} mean_abs_diff={mean:.3e}")
    print(f"max_abs_diff={worst:.6e}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
