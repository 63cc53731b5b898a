"""Metrics for before/after comparisons: detection quality and explanation drift.

Detection: ICDAR-2015 style one-to-one matching of polygons at IoU >= 0.5 (shapely), as
PaddleOCR's ``DetMetric``/``DetectionIoUEvaluator`` does (don't-care ground truth ``###`` and the
detections mostly inside it are left out of both counts), summed over pages before dividing.

Drift between two raw (un-normalised) maps of the same target:
- ``spearman``: rank correlation of the pixel values (ties get average ranks);
- ``ssim``: structural similarity (Wang et al. 2004: 11 x 11 Gaussian window, sigma 1.5, K1 0.01,
  K2 0.03) on the common raw scale, ``data_range`` = the larger of the two maxima, so a map that
  only got weaker also loses similarity;
- ``topk_iou``: IoU of the two maps' top-k% pixels (only positive pixels count as "top").
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from shapely.geometry import Polygon

IOU_THRESH = 0.5
DONT_CARE = "###"


def _poly(points) -> Optional[Polygon]:
    p = Polygon(np.asarray(points, np.float64).reshape(-1, 2))
    if not p.is_valid:
        p = p.buffer(0)  # self-intersecting quads (rare, from rotation rounding) -> their area
    return p if p.area > 0 else None


def _iou(a: Polygon, b: Polygon) -> float:
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return float(inter / union) if union > 0 else 0.0


def match_page(gt: Sequence[Sequence], det: Sequence[Sequence], ignore: Optional[Sequence[bool]] = None,
               iou_thresh: float = IOU_THRESH) -> Dict[str, int]:
    """Counts for one page: ``gt`` (cares), ``det`` (cares) and ``matched`` pairs.

    Greedy in (gt, det) order like the ICDAR script; a pair matches when IoU >= ``iou_thresh``.
    """
    ignore = list(ignore) if ignore is not None else [False] * len(gt)
    gpolys = [_poly(g) for g in gt]
    dpolys = [_poly(d) for d in det]
    gt_dc = [i for i, p in enumerate(gpolys) if p is None or ignore[i]]
    det_dc = []
    for j, d in enumerate(dpolys):
        if d is None:
            det_dc.append(j)
            continue
        for i in gt_dc:
            g = gpolys[i]
            if g is not None and d.intersection(g).area / d.area > 0.5:
                det_dc.append(j)
                break
    gt_used, det_used = set(), set()
    matched = 0
    for i, g in enumerate(gpolys):
        if i in gt_dc:
            continue
        for j, d in enumerate(dpolys):
            if j in det_dc or j in det_used or i in gt_used:
                continue
            if _iou(g, d) >= iou_thresh:
                gt_used.add(i)
                det_used.add(j)
                matched += 1
    return {"gt": len(gpolys) - len(gt_dc), "det": len(dpolys) - len(det_dc), "matched": matched}


def prf(counts: Sequence[Dict[str, int]]) -> Dict[str, float]:
    """Precision, recall and hmean over pages (counts summed first, as the ICDAR script does)."""
    g = sum(c["gt"] for c in counts)
    d = sum(c["det"] for c in counts)
    m = sum(c["matched"] for c in counts)
    p = m / d if d else 0.0
    r = m / g if g else 0.0
    h = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "hmean": h, "gt": g, "det": d, "matched": m}


def gt_polygons(gt: Dict) -> Tuple[List, List[bool]]:
    """Polygons and don't-care flags of a ground-truth JSON (``{"lines": [{"polygon", "text"}]}``)."""
    lines = gt.get("lines", [])
    return [ln["polygon"] for ln in lines], [str(ln.get("text", "")) == DONT_CARE for ln in lines]


# ----------------------------------------------------------------------------- map drift

def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), np.float64)
    # average rank of each run of equal values
    edges = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(x)]])
    avg = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    """Spearman's rho of two maps (None when either is constant: no ranking to compare)."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"maps differ in size: {a.size} vs {b.size}")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    return float((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()))


def ssim(a: np.ndarray, b: np.ndarray, data_range: Optional[float] = None, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Optional[float]:
    """Mean SSIM of two 2-D maps with a Gaussian window (as ``skimage`` with
    ``gaussian_weights=True``: truncated at 3.5 sigma, population covariances, reflected borders).
    None when both maps are all zero (nothing to compare)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim needs two 2-D maps of one shape, got {a.shape} and {b.shape}")
    L = float(data_range) if data_range is not None else float(max(a.max(), b.max()) - min(a.min(), b.min(), 0.0))
    if L <= 0:
        return None
    r = int(3.5 * sigma + 0.5)
    ksize = (2 * r + 1, 2 * r + 1)

    def blur(x):
        return cv2.GaussianBlur(x, ksize, sigma, borderType=cv2.BORDER_REFLECT)

    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    mu_a, mu_b = blur(a), blur(b)
    va = blur(a * a) - mu_a * mu_a
    vb = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def top_mask(x: np.ndarray, frac: float) -> np.ndarray:
    """The ``frac`` share of pixels with the highest values, positive ones only."""
    flat = np.asarray(x, np.float64).ravel()
    k = max(1, int(round(frac * flat.size)))
    if k >= flat.size:
        thr = flat.min()
    else:
        thr = np.partition(flat, flat.size - k)[flat.size - k]
    return (flat >= thr) & (flat > 0)


def topk_iou(a: np.ndarray, b: np.ndarray, frac: float = 0.1) -> Optional[float]:
    """IoU of the top-``frac`` pixel sets of two maps (None when both sets are empty)."""
    ma, mb = top_mask(a, frac), top_mask(b, frac)
    union = np.logical_or(ma, mb).sum()
    if union == 0:
        return None
    return float(np.logical_and(ma, mb).sum() / union)


def mean_or_none(values) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None
