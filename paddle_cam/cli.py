"""Shared command-line plumbing: exit codes (0 done, 2 bad input, 1 bug) and devices."""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

from .errors import PaddleCamError


def fail(msg: str, kind: str = "error") -> None:
    """One ``kind: msg`` line on stderr, nothing else (printed above a running progress bar, not into
    it); ``kind`` is ``error`` for what was not done, ``warning`` for what was done but needs a look."""
    from tqdm import tqdm

    tqdm.write(f"{kind}: {msg}", file=sys.stderr)
    sys.stderr.flush()


def progress(items, desc: str):
    """A progress bar on terminals; none in logs and pipes, where it would only add noise."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", disable=None if len(items) > 1 else True, file=sys.stderr)


def run_main(main: Callable[[], int]) -> None:
    """Run a tool's main; user errors -> exit 2 with one line, bugs -> exit 1 with traceback."""
    try:
        code = main()
    except PaddleCamError as e:
        fail(str(e))
        code = 2
    except KeyboardInterrupt:
        fail("interrupted; outputs already written are complete")
        code = 130
    except Exception:
        traceback.print_exc()
        code = 1
    sys.exit(code or 0)


def set_device(device: str) -> None:
    """``cpu``, ``gpu[:id]`` or ``auto`` (as PaddleOCR: the first GPU when Paddle has one, else
    the CPU); a GPU request on a CPU build is a user error."""
    import paddle

    from .errors import InputError

    device = (device or "auto").lower()
    if device == "auto":
        device = "gpu:0" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"
    if device.startswith("gpu"):
        if not paddle.device.is_compiled_with_cuda():
            raise InputError("--device gpu needs a CUDA build of Paddle; install it with "
                             "`make install PADDLE=paddlepaddle-gpu` or use --device cpu")
        paddle.set_device(device)
    elif device == "cpu":
        paddle.set_device("cpu")
    else:
        raise InputError(f"unknown device '{device}'; use cpu, gpu, gpu:N or auto")


def quiet_paddle() -> None:
    """Silence Paddle's C++ info logs (the package import already hides its Python warnings)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("FLAGS_call_stack_level", "0")
