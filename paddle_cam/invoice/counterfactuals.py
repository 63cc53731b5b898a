"""Training-only counterfactual windows: the same line with parts of its page replaced by paper
(or by another line's surroundings), so that the classifier learns the value and its label as the
evidence, not the layout around them."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from .windows import Polygon, WindowSpec, compute_window, window_u8


def paper_background(page_bgr: np.ndarray, glyph_px: float = 24.0) -> np.ndarray:
    """The page with its ink removed (uint8 BGR): a grey-level closing wider than any stroke or
    gap between strokes drops dark text and grid lines and keeps the paper's shading, folds and
    colour cast; a box blur of the same size hides the closing's blocky texture."""
    k = max(3, int(round(0.8 * glyph_px)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.morphologyEx(np.ascontiguousarray(page_bgr[:, :, :3]), cv2.MORPH_CLOSE, kernel)
    return cv2.blur(bg, (k, k))


def window_u8_mixed(planes: np.ndarray, bg_planes: np.ndarray, polygon: Polygon, spec: WindowSpec,
                    regions: Sequence[Polygon], keep: bool, fill: Optional[np.ndarray] = None,
                    labels: Optional[Sequence] = None) -> np.ndarray:
    """:func:`~.windows.window_u8` with page content replaced by paper outside (``keep``) or
    inside (``not keep``) ``regions`` (page-pixel polygons); the marker channel is unchanged.
    ``fill`` (a (C, H, W) window) replaces with its content instead of paper. ``labels``: the
    page's label regions (:func:`~.label_context.label_regions`); label planes are replaced with
    the image (paper has no labels), so a removed label is gone from what was read as well.

    Counterfactual windows for training: "the line and its labels alone", "the line and its labels
    in another line's surroundings" and "no ink on the line".
    """
    win = compute_window(polygon, spec)
    x0, y0, x1, y1 = win
    a = window_u8(planes, polygon, spec, win, labels)
    b = fill if fill is not None else window_u8(bg_planes, polygon, spec, win)
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    for r in regions:
        pts = np.round((np.asarray(r, np.float64).reshape(-1, 2) - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 1.0, lineType=cv2.LINE_8, shift=4)
    in_h, in_w = spec.input_hw
    alpha = cv2.resize(mask, (in_w, in_h), interpolation=cv2.INTER_AREA)
    if not keep:
        alpha = 1.0 - alpha
    out = a.astype(np.float32)
    mixed = [c for c in range(spec.channels) if c != 2]   # all but the marker
    out[mixed] = alpha * out[mixed] + (1.0 - alpha) * b[mixed].astype(np.float32)
    # off-page stays 0 (black, no marker) as in window_u8
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
