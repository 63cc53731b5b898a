"""VisualDL logging: one run folder per model variant, identical tags across runs so that
VisualDL's own run comparison lines images and scalars up."""
from __future__ import annotations

import os
import re

import numpy as np

from ..errors import InputError


def safe_tag(text: str) -> str:
    """A tag component without slashes or spaces (VisualDL splits tags on '/')."""
    return re.sub(r"[^\w\-.]+", "_", text).strip("_") or "x"


class VisualDLRun:
    """Writer for ``<vdl_dir>/<run>``; use as a context manager so the file is flushed and closed."""

    def __init__(self, vdl_dir: str, run: str = "base"):
        try:
            from visualdl import LogWriter
        except ImportError:  # pragma: no cover - pinned dependency
            raise InputError("--vdl_dir needs visualdl==2.5.3; run `make install`") from None
        self.logdir = os.path.join(vdl_dir, safe_tag(run))
        try:
            os.makedirs(self.logdir, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot write VisualDL logs to {self.logdir} ({e.strerror}); pass a writable --vdl_dir") from None
        # the run's name in VisualDL is the one given here, not the folder's absolute path
        self._writer = LogWriter(logdir=self.logdir, display_name=safe_tag(run))

    def image(self, tag: str, rgb: np.ndarray, step: int = 0) -> None:
        self._writer.add_image(tag=tag, img=np.ascontiguousarray(rgb, dtype=np.uint8), step=step)

    def scalar(self, tag: str, value: float, step: int = 0) -> None:
        self._writer.add_scalar(tag=tag, value=float(value), step=step)

    def histogram(self, tag: str, values: np.ndarray, step: int = 0, buckets: int = 10) -> None:
        self._writer.add_histogram(tag=tag, values=np.asarray(values, np.float64), step=step, buckets=buckets)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self._writer.add_text(tag=tag, text_string=text, step=step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "VisualDLRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
