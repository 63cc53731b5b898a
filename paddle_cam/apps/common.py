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


# PaddleOCR 3.x's spellings; the earlier ones stay as hidden aliases
def parser(description: str, epilog: Optional[str] = None) -> argparse.ArgumentParser:
    """A tool's parser: its description, examples as epilog, ``--version``."""
    from .. import __version__

    p = argparse.ArgumentParser(description=description, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"paddle_cam {__version__}")
    return p


def add_input_arg(p: argparse.ArgumentParser, help: str) -> None:
    """``-i/--input`` (hidden aliases ``--img``, ``--image_dir``); required, checked by :func:`parse`."""
    p.add_argument("-i", "--input", dest="input", default=None, metavar="PATH", help=help + " (required)")
    p.add_argument("--img", "--image_dir", dest="input", default=None, help=argparse.SUPPRESS)


def add_save_path_arg(p: argparse.ArgumentParser, help: str = "output folder") -> None:
    """``--save_path`` (hidden aliases ``--output``, ``--out``) -> ``Global.output``."""
    p.add_argument("--save_path", dest="output", default=None, metavar="DIR", help=help)
    p.add_argument("--output", "--out", dest="output", default=None, help=argparse.SUPPRESS)


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="cpu, gpu, gpu:N or auto (a GPU when Paddle has one)")


def add_det_params(p: argparse.ArgumentParser) -> None:
    """The detection parameters of PaddleOCR 3.x's CLI -> ``PreProcess`` / ``PostProcess``."""
    p.add_argument("--limit_side_len", "--text_det_limit_side_len", dest="limit_side_len", type=int, default=None,
                   help="resize so that this side (see --limit_type) is this long")
    p.add_argument("--limit_type", "--text_det_limit_type", dest="limit_type", default=None, help="max or min")
    p.add_argument("--thresh", "--text_det_thresh", dest="thresh", type=float, default=None,
                   help="DB pixel threshold")
    p.add_argument("--box_thresh", "--text_det_box_thresh", dest="box_thresh", type=float, default=None,
                   help="DB box score threshold")
    p.add_argument("--unclip_ratio", "--text_det_unclip_ratio", dest="unclip_ratio", type=float, default=None,
                   help="DB box expansion")


DET_PARAMS = {"limit_side_len": "PreProcess.limit_side_len", "limit_type": "PreProcess.limit_type",
              "thresh": "PostProcess.thresh", "box_thresh": "PostProcess.box_thresh",
              "unclip_ratio": "PostProcess.unclip_ratio"}


def parse(p: argparse.ArgumentParser, argv, defaults: Optional[str] = None, mapping: Optional[dict] = None,
          need_input: bool = True) -> argparse.Namespace:
    """Parse ``argv``, showing in ``--help`` each flag's default from the tool's config
    (``defaults`` under ``configs/``, through ``mapping`` dest -> key); ``-i`` is required when
    ``need_input``. Reads YAML only: no Paddle import."""
    if defaults and mapping:
        from ..config import config_path, read_yaml

        base = read_yaml(config_path(defaults))
        for a in p._actions:
            key = mapping.get(a.dest)
            if key and a.help and a.help != argparse.SUPPRESS and "(default" not in a.help:
                node = base
                for part in key.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                if node is not None:
                    a.help += f" (default: {node})"
                elif key.startswith(("PreProcess.", "PostProcess.")):
                    a.help += " (default: the model's own)"
    args = p.parse_args(argv)
    if need_input and getattr(args, "input", None) is None:
        p.error("the input is required: -i/--input FILE_OR_FOLDER")
    return args


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
