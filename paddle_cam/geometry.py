"""Polygon geometry shared by targets, metrics, matching and reports (page or model-input pixels)."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from shapely.geometry import Polygon


def polygon_mask(polygon: Sequence[Sequence[float]], hw: Sequence[int]) -> np.ndarray:
    """Filled polygon as a float32 {0, 1} mask of size (H, W)."""
    mask = np.zeros((int(hw[0]), int(hw[1])), np.uint8)
    pts = np.round(np.asarray(polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(np.float32)


def box_height(polygon: Sequence[Sequence[float]]) -> float:
    """Short side of the box's minimum-area rectangle (the text height for a line)."""
    (_, _), (w, h), _ = cv2.minAreaRect(np.asarray(polygon, np.float32))
    return float(min(w, h))


def grown_polygon(polygon: Sequence[Sequence[float]], margin: float) -> np.ndarray:
    """Polygon grown by ``margin`` pixels on every side (mitred corners keep boxes boxy)."""
    grown = Polygon(np.asarray(polygon, np.float64)).buffer(margin, join_style=2)
    return np.asarray(grown.exterior.coords[:-1], np.float64)


def polygon_iou(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    """Intersection over union of two simple polygons (0 when either is degenerate)."""
    pa, pb = Polygon(np.asarray(a, np.float64)), Polygon(np.asarray(b, np.float64))
    if not pa.is_valid:
        pa = pa.buffer(0)
    if not pb.is_valid:
        pb = pb.buffer(0)
    inter = pa.intersection(pb).area
    union = pa.area + pb.area - inter
    return float(inter / union) if union > 0 else 0.0


def mask_bounds(mask: np.ndarray) -> np.ndarray:
    """The pixel rectangle of a mask's non-zero pixels as a polygon, ends exclusive:
    ``[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]`` with ``x1 = last column + 1``."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def box_window(polygon: Sequence[Sequence[float]], hw: Sequence[int], grow: float = 0.0, min_pad: float = 0.0,
               extra: float = 0.0, whole_pad: bool = False, scale: Optional[Sequence[float]] = None,
               multiple: Optional[int] = None, anchor: str = "centre") -> Tuple[int, int, int, int]:
    """The box's bounding window grown by ``grow`` x its height: ``(x0, y0, x1, y1)`` in whole
    pixels, ends exclusive, inside an image (or grid) of size ``hw = (H, W)``.

    The margin on every side is ``max(min_pad, grow * box_height(polygon) + extra)`` pixels.

    Args:
        polygon: (N, 2) x/y points (converted to float64).
        hw: (H, W) the window must fit in (the grid's size when ``scale`` is given).
        grow: margin in text heights (the short side of the minimum-area rectangle); 0 skips it.
        min_pad: the smallest margin, in pixels.
        extra: pixels added to the height-proportional margin.
        whole_pad: the margin is cut to whole pixels and the bounding box rounded out to whole
            pixels before it is added; otherwise the grown box is rounded out (after ``scale``).
        scale: (sx, sy) mapping the grown box onto a grid of another resolution.
        multiple: each side's length is made a multiple of this (a detector's input stride).
        anchor: where an aligned window goes (with ``multiple``): ``"centre"`` centres the aligned
            length on the grown box and shifts it inside the image (at most the image's size);
            ``"start"`` cuts the grown box to the image first and extends it towards the end
            (backwards when the image ends first).

    Example:
        >>> box_window([[10, 20], [50, 20], [50, 30], [10, 30]], (100, 200), grow=1.5)
        (0, 5, 65, 45)
    """
    if anchor not in ("centre", "start"):
        raise ValueError(f"anchor must be 'centre' or 'start', not {anchor!r}")
    pts = np.asarray(polygon, np.float64).reshape(-1, 2)
    pad = max(min_pad, grow * box_height(pts) + extra) if grow else max(min_pad, extra)
    if whole_pad:
        pad = int(pad)
        lo, hi = np.floor(pts.min(0)) - pad, np.ceil(pts.max(0)) + pad
    else:
        lo, hi = pts.min(0) - pad, pts.max(0) + pad
    if scale is not None:
        lo, hi = lo * [float(scale[0]), float(scale[1])], hi * [float(scale[0]), float(scale[1])]
    lo, hi = np.floor(lo), np.ceil(hi)
    H, W = int(hw[0]), int(hw[1])
    out = []
    for a, b, size in ((lo[0], hi[0], W), (lo[1], hi[1], H)):
        if multiple is None:
            out.append((max(0, int(a)), min(size, int(b))))
        elif anchor == "centre":
            length = min(size, int(np.ceil((b - a) / multiple) * multiple))
            start = int(min(max(0, (a + b - length) / 2), size - length))
            out.append((start, start + length))
        else:
            a, b = max(0, int(a)), min(size, int(b))
            need = -(-(b - a) // multiple) * multiple
            a = max(0, min(a, size - need))
            out.append((a, min(size, a + need)))
    (x0, x1), (y0, y1) = out
    return x0, y0, x1, y1


def span_polygon(polygon, text: str, span: Tuple[int, int]) -> List[List[float]]:
    """The part of a line's quadrilateral that holds characters ``span`` of its text (characters
    taken as equally wide): where a value sits inside a box it shares with its label.

    >>> span_polygon([[0, 0], [100, 0], [100, 10], [0, 10]], "abcd", (2, 4))
    [[50.0, 0.0], [100.0, 0.0], [100.0, 10.0], [50.0, 10.0]]
    """
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    if len(p) != 4:
        return [[round(float(x), 2), round(float(y), 2)] for x, y in p]
    n = max(1, len(text or ""))
    a, b = max(0, span[0]) / n, min(n, span[1]) / n
    tl, tr, br, bl = p
    top = [tl + (tr - tl) * a, tl + (tr - tl) * b]
    bot = [bl + (br - bl) * b, bl + (br - bl) * a]
    return [[round(float(x), 2), round(float(y), 2)] for x, y in (top[0], top[1], bot[0], bot[1])]
