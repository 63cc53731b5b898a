"""What every explain tool does the same way: the per-input loop and the method's options from its config."""
from __future__ import annotations

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
