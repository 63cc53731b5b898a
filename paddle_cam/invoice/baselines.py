"""What "removed" means for a field-classifier input: the fill that perturbation and path
attributions put where evidence was taken away."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..baselines import make_baseline


def field_baseline(x: np.ndarray, query_channels: Sequence[int] = (2,), kind: str = "paper") -> np.ndarray:
    """Removed-pixel fill of one (C, H, W) field-classifier input: paper (the window's median
    luminance and chroma: paper-white, no colour), ``white`` (luminance 255, chroma 0) or ``blur``.
    The query channels (the line marker) stay as they are: the marker says *which* line is asked
    about, removing it would change the question, not the evidence. Label planes (channels after
    the marker) become empty: a removed label is one that was not read."""
    if kind == "white":
        b = make_baseline(x, "white", white=[1.0] + [-1.0] * (x.shape[0] - 1))
    else:
        b = make_baseline(x, "blur" if kind == "blur" else "paper")
    b[3:] = -1.0
    for c in query_channels:
        b[c] = x[c]
    return b
