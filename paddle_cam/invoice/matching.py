"""Detected boxes against ground-truth lines: the one matching protocol every evaluation uses.

A detected box is matched to at most one ground-truth line and a line to at most one box,
greedily by IoU (highest first), at IoU >= ``IOU_THRESH``, against the ground-truth line grown
the way a DB detector grows its boxes (:func:`detector_like_polygon`).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..geometry import box_height, polygon_iou

Polygon = Sequence[Sequence[float]]

IOU_THRESH = 0.5

# Margins of PP-OCRv4 DB boxes around the generator's tight glyph boxes, in glyph heights, measured
# on generated invoices (mean, spread): DB's unclip grows every side, the top more than the bottom.
DET_MARGINS = {"left": (0.15, 0.3), "right": (0.1, 0.3), "top": (0.23, 0.1), "bottom": (0.19, 0.1)}


def _bbox(p: np.ndarray) -> Tuple[float, float, float, float]:
    return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def match_to_gt(det_polygons: Sequence[Polygon], gt_polygons: Sequence[Polygon],
                iou_thresh: float = IOU_THRESH) -> List[Optional[int]]:
    """One-to-one matching of detected boxes to ground-truth polygons, greedily by IoU (highest first).

    Returns, per detected box, the index of its ground-truth polygon or ``None`` below ``iou_thresh``.
    """
    dets = [np.asarray(p, np.float64).reshape(-1, 2) for p in det_polygons]
    gts = [np.asarray(p, np.float64).reshape(-1, 2) for p in gt_polygons]
    gb = np.array([_bbox(g) for g in gts]) if gts else np.zeros((0, 4))
    pairs = []
    for i, d in enumerate(dets):
        x0, y0, x1, y1 = _bbox(d)
        near = np.nonzero((gb[:, 0] < x1) & (gb[:, 2] > x0) & (gb[:, 1] < y1) & (gb[:, 3] > y0))[0]
        for j in near:
            iou = polygon_iou(d, gts[j])
            if iou >= iou_thresh:
                pairs.append((iou, i, int(j)))
    out: List[Optional[int]] = [None] * len(dets)
    used = set()
    for iou, i, j in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
        if out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out


def detector_like_polygon(polygon: Polygon, rng: Optional[np.random.RandomState] = None) -> np.ndarray:
    """A tight ground-truth quad grown like a DB detector's box (randomly jittered when ``rng`` is given).

    The field classifier is meant for detector boxes and its window scales with the box height,
    so tight glyph boxes must be grown the same way before they are classified or matched.
    """
    p = np.asarray(polygon, np.float64).reshape(4, 2)
    h = max(box_height(p), 1.0)
    m = {k: mu + (rng.normal(0, sd) if rng is not None else 0.0) for k, (mu, sd) in DET_MARGINS.items()}
    # unit vectors along the line (TL->TR) and across it (TL->BL), so rotated boxes grow along their axes
    u = p[1] - p[0]
    u /= max(np.linalg.norm(u), 1e-6)
    v = p[3] - p[0]
    v /= max(np.linalg.norm(v), 1e-6)
    out = p.copy()
    out[[0, 3]] -= u * m["left"] * h
    out[[1, 2]] += u * m["right"] * h
    out[[0, 1]] -= v * m["top"] * h
    out[[2, 3]] += v * m["bottom"] * h
    return out


def match_detections(det_polygons: Sequence[Polygon], gt_lines: Sequence[dict],
                     iou_thresh: float = IOU_THRESH) -> List[Optional[int]]:
    """:func:`match_to_gt` of detector boxes against ground-truth lines grown like a DB box.

    The generator's polygons are tight glyph boxes (digits get the cap height only), a DB box of
    the same line is 1.4-2x as tall: against the tight boxes short values (税率 "13%", 发票号码)
    fall below IoU 0.5 and would silently drop out of every score.
    """
    return match_to_gt(det_polygons, [detector_like_polygon(ln["polygon"]) for ln in gt_lines], iou_thresh)
