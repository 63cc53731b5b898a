"""What every explain tool does the same way: the per-input loop and the method's options from its config."""
from __future__ import annotations

import argparse
from typing import Callable, Optional, Sequence

from ..cli import fail, progress
from ..errors import PaddleCamError


def explain_each(paths: Sequence[str], desc: str, one: Callable[[str], Optional[str]]) -> int:
    """Run ``one(path)`` on every input; the number that failed.

    One input: its error propagates (one line, exit 2) and its summary line is printed. Several: a
    failed input is one ``error:`` line and the others still run, so a bad file does not cost the
    outputs of the good ones.
    """
    failed = 0
    single = len(paths) == 1
    for path in progress(list(paths), desc):
        try:
            line = one(path)
            if single and line:
                print(line)
        except PaddleCamError as err:
            if single:
                raise
            fail(f"{path}: {err}")
            failed += 1
    return failed


def method_kwargs(explain_cfg: dict) -> dict:
    """Options of the configured method that come from its config section (Score-CAM's batch size)."""
    from ..methods import method_options

    opts = method_options(explain_cfg["method"])
    return {"batch_size": int(explain_cfg["scorecam_batch_size"])} if "batch_size" in opts else {}


# argparse dest -> config key of the text pipeline's models, shared by the tools that detect and read
MODEL_ARGS = {"det_model_dir": "Global.det_model_dir", "det_model_name": "Global.det_model_name",
              "rec_model_dir": "Global.rec_model_dir", "rec_model_name": "Global.rec_model_name"}


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The detector and recogniser flags, with PaddleOCR 3.x's spellings as aliases."""
    add_det_model_args(p)
    p.add_argument("--rec_model_dir", "--text_recognition_model_dir", dest="rec_model_dir", default=None,
                   help="rec model folder or .onnx (default: bundled PP-OCRv4 rec)")
    p.add_argument("--rec_model_name", "--text_recognition_model_name", dest="rec_model_name", default=None,
                   help="PaddleOCR rec model name, e.g. PP-OCRv6_small_rec (PaddleX's cache, as for det)")


def add_det_model_args(p: argparse.ArgumentParser) -> None:
    """The detector flags of :func:`add_model_args`, for tools that only detect."""
    p.add_argument("--det_model_dir", "--text_detection_model_dir", dest="det_model_dir", default=None,
                   help="det model folder, .pdparams or .onnx (default: bundled PP-OCRv4 mobile det)")
    p.add_argument("--det_model_name", "--model_name", "--text_detection_model_name", dest="det_model_name",
                   default=None, help="PaddleOCR det model name, e.g. PP-OCRv6_small_det: without a folder, loaded "
                   "from PaddleX's cache ($PADDLE_PDX_CACHE_HOME/official_models/<name>)")
