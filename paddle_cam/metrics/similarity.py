"""How alike two saliency maps are: Spearman rank correlation, SSIM, top-k% IoU.

Used by the randomisation sanity check (map before vs after re-initialising weights) and for
before/after model comparisons. numpy + OpenCV only (no scikit-image).
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64).ravel()


def rankdata(a: np.ndarray) -> np.ndarray:
    """1-based ranks of a flattened array, ties given their average rank (like scipy's default)."""
    x = _flat(a)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    # boundaries of runs of equal values in sorted order
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks start+1 .. end
    ranks = np.empty(x.size, np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally sized arrays; NaN when either is constant (a constant
    map has no ordering to compare, e.g. a map that collapsed to zero), like scipy."""
    x, y = _flat(a), _flat(b)
    if x.size != y.size:
        raise ValueError(f"maps differ in size: {np.shape(a)} vs {np.shape(b)}")
    x, y = x - x.mean(), y - y.mean()
    sx, sy = np.sqrt((x * x).sum()), np.sqrt((y * y).sum())
    if sx == 0 or sy == 0:
        return float("nan")
    return float(np.clip((x * y).sum() / (sx * sy), -1.0, 1.0))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (Pearson of average ranks) of two maps; NaN if either map is
    constant."""
    if np.size(a) != np.size(b):
        raise ValueError(f"maps differ in size: {np.shape(a)} vs {np.shape(b)}")
    return pearson(rankdata(a), rankdata(b))


def minmax(a: np.ndarray) -> np.ndarray:
    """Map scaled to [0, 1]; a constant map becomes zeros."""
    a = np.asarray(a, np.float64)
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5, data_range: float = 1.0,
         normalize: bool = True, k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean structural similarity (Wang et al., 2004) of two 2-D maps.

    Gaussian window of ``sigma`` (11 x 11 for 1.5, truncated at 3.5 sigma like scikit-image's
    ``gaussian_weights=True``), sample covariances. With ``normalize`` both maps are min-max
    scaled first, as in Adebayo et al.: only the shape of a saliency map matters, not its scale.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"ssim takes two 2-D maps of one size, got {x.shape} and {y.shape}")
    if normalize:
        x, y = minmax(x), minmax(y)
    ksize = 2 * int(3.5 * sigma + 0.5) + 1

    def blur(m):
        return cv2.GaussianBlur(m, (ksize, ksize), sigma, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    # unbiased (sample) covariance, as scikit-image uses by default
    n = ksize * ksize
    cov_norm = n / (n - 1.0)
    vx = cov_norm * (blur(x * x) - mx * mx)
    vy = cov_norm * (blur(y * y) - my * my)
    vxy = cov_norm * (blur(x * y) - mx * my)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    pad = (ksize - 1) // 2  # drop the border, where the window is mostly reflection
    if min(x.shape) > 2 * pad:
        s = s[pad:-pad, pad:-pad]
    return float(s.mean())


def topk_mask(a: np.ndarray, k: float) -> np.ndarray:
    """Boolean mask of the ``k`` fraction (0-1] of pixels with the largest values.

    Exactly ``ceil(k * size)`` pixels; ties at the threshold are broken by position.
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    x = _flat(a)
    n = max(1, int(np.ceil(k * x.size)))
    idx = np.argsort(-x, kind="stable")[:n]
    m = np.zeros(x.size, bool)
    m[idx] = True
    return m.reshape(np.shape(a))


def topk_iou(a: np.ndarray, b: np.ndarray, k: float = 0.1, positive_only: bool = False,
             empty: Optional[float] = 1.0) -> Optional[float]:
    """IoU of the top-``k`` fractions of two maps (1 = same most salient pixels).

    ``positive_only``: pixels <= 0 never count (the top set of a sparse ReLU map is otherwise
    filled up with zeros in raster order, and two sparse maps share those); ``empty`` is returned
    when both top sets are empty."""
    ma, mb = topk_mask(a, k), topk_mask(b, k)
    if positive_only:
        ma &= np.asarray(a) > 0
        mb &= np.asarray(b) > 0
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else empty


def compare_maps(a: np.ndarray, b: np.ndarray, k: float = 0.1) -> dict:
    """Spearman, SSIM and top-k IoU of two 2-D maps, in one dict."""
    return {"spearman": spearman(a, b), "ssim": ssim(a, b), f"top{int(round(k * 100))}_iou": topk_iou(a, b, k)}
