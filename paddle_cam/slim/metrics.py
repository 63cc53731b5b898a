"""Metrics for before/after comparisons: detection quality and explanation drift.

Detection quality: two standard protocols on the same polygons, counts summed over pages before
dividing (as the ICDAR scripts do). Ground-truth lines whose text is ``###`` are "don't care"; so
are detections lying mostly inside one (their share of area in it above the protocol's area
precision constraint), and neither is counted.

- ICDAR 2015 (``precision``/``recall``/``hmean``), PaddleOCR's ``DetMetric``
  (``DetectionIoUEvaluator``): one-to-one matching, greedy in (ground truth, detection) order, a
  pair matching when IoU > 0.5 (strictly). The headline number.
- ICDAR 2013 DetEval (``deteval``; Wolf & Jolion 2006, the protocol of DB's and PaddleOCR_DBNet's
  ``deteval.py``): area recall ``|G n D| / |G|`` >= 0.8 and area precision ``|G n D| / |D|`` >= 0.4
  instead of IoU; one-to-one matches (single overlap, centres within the mean half-diagonal)
  score 1; one ground-truth line covered by several boxes (a split) scores 0.8 recall and 0.8
  precision per box; one box covering several lines (a merge) scores 1 per line and 1 for the box.

Why two, measured on ``demo_docs/invoices`` (PP-OCRv4 mobile det, PaddleOCR's post-processing):
the generator's ground truth is the tight union of Pillow glyph boxes of each string (cap height
for digits), one line per label and one per value, while DB boxes are unclipped (ratio 1.5) line
boxes: median box height 1.53 x the glyph box, about 0.26 glyph heights of margin per side. Of
224 lines found as a whole (a box covering > 95% of the line, not spanning others), 26% still
have IoU <= 0.5 with it: a short value like ``49`` gets a box twice its glyph area. The other
misses at IoU 0.5 are merges (a label and its value in one box, 74 of 375 lines), splits of
letter-spaced labels (名  称 :, vertical 购买方/密码区), stamp text and faint lines the model does
not see. So the ICDAR 2015 number measures this ground truth's convention as much as the
detector; DetEval tolerates the margins (area precision 0.4) and counts merges and splits, and
the ``unmatched`` breakdown (:func:`evaluate_page`) says which is which. Neither protocol is
tuned: the thresholds are the published ones.

Drift between two raw (un-normalised) maps of the same target, from
:mod:`paddle_cam.metrics.similarity`:

- ``spearman``: rank correlation of the pixel values (ties get average ranks);
- ``ssim``: structural similarity on the *common raw scale* (no min-max normalisation;
  ``data_range`` = the larger of the two maxima), so a map that only got weaker also loses
  similarity;
- ``topk_iou``: IoU of the two maps' top-k% pixels, positive pixels only (a ReLU'd map with fewer
  than k% positive pixels has a smaller "top"; zeros are not salient).

They return None where the metric is undefined (a constant map, two all-zero maps).
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from shapely.geometry import Polygon

from ..metrics import similarity

IOU_THRESH = 0.5          # ICDAR 2015: IoU strictly above
AREA_PRECISION_DC = 0.5   # ICDAR 2015: a detection inside a don't-care line by more than this is ignored
DE_RECALL = 0.8           # DetEval area recall constraint
DE_PRECISION = 0.4        # DetEval area precision constraint (also its don't-care test)
DE_SPLIT = 0.8            # DetEval score of a one-to-many (split) match
DE_MERGE = 1.0            # DetEval score of a many-to-one (merge) match
DE_CENTER = 1.0           # DetEval one-to-one: centre distance / mean half-diagonal below this
DONT_CARE = "###"
UNMATCHED_KINDS = ("loose", "merged", "split", "missed")


def _poly(points) -> Optional[Polygon]:
    p = Polygon(np.asarray(points, np.float64).reshape(-1, 2))
    if not p.is_valid:
        p = p.buffer(0)  # self-intersecting quads (rare, from rotation rounding) -> their area
    return p if p.area > 0 else None


def _intersections(gpolys: Sequence[Optional[Polygon]], dpolys: Sequence[Optional[Polygon]]) -> np.ndarray:
    """(G, D) intersection areas; bounding boxes that do not overlap are skipped."""
    inter = np.zeros((len(gpolys), len(dpolys)), np.float64)
    dboxes = [d.bounds if d is not None else None for d in dpolys]
    for i, g in enumerate(gpolys):
        if g is None:
            continue
        gx0, gy0, gx1, gy1 = g.bounds
        for j, d in enumerate(dpolys):
            b = dboxes[j]
            if b is None or b[0] >= gx1 or b[2] <= gx0 or b[1] >= gy1 or b[3] <= gy0:
                continue
            inter[i, j] = g.intersection(d).area
    return inter


def _grouped(cover: np.ndarray, share: np.ndarray, care_a, done_a, care_b, done_b, share_min: float,
             cover_min: float) -> Iterator[int]:
    """DetEval's one-to-many pass: for each unmatched ``a``, the unmatched ``b`` with
    ``share[a, b] >= share_min`` match it together when their ``cover[a, b]`` add up to
    ``cover_min``; yields each group's size (marks ``done_*`` in place)."""
    for a in np.flatnonzero(care_a & ~done_a):
        bs = np.flatnonzero(care_b & ~done_b & (share[a] >= share_min))
        if len(bs) and round(float(cover[a, bs].sum()), 4) >= cover_min:
            done_a[a] = True
            done_b[bs] = True
            yield len(bs)


def _deteval(g_care: np.ndarray, d_care: np.ndarray, rec: np.ndarray, prec: np.ndarray, gt_pts,
             det_pts) -> Tuple[float, float]:
    """(recall sum, precision sum) of DetEval on one page (see the module docstring)."""
    G, D = rec.shape
    g_done = np.zeros(G, bool)
    d_done = np.zeros(D, bool)
    r_acc = p_acc = 0.0
    if G == 0 or D == 0:
        return r_acc, p_acc
    ok = (rec >= DE_RECALL) & (prec >= DE_PRECISION)
    touch = rec > 0
    n_touch_g = (touch & d_care[None, :]).sum(1)   # care detections each line overlaps
    n_touch_d = (touch & g_care[:, None]).sum(0)   # care lines each detection overlaps
    ok_per_g, ok_per_d = ok.sum(1), ok.sum(0)

    def centre_ok(i, j):
        a, b = np.asarray(gt_pts[i], np.float64), np.asarray(det_pts[j], np.float64)
        diag = lambda r: float(np.hypot(np.ptp(r[:, 0]), np.ptp(r[:, 1])))  # noqa: E731
        dist = float(np.linalg.norm(a.mean(0) - b.mean(0)))
        return 2.0 * dist / max(diag(a) + diag(b), 1e-9) < DE_CENTER

    for i in np.flatnonzero(g_care):                       # one-to-one
        for j in np.flatnonzero(d_care):
            if g_done[i] or d_done[j] or not ok[i, j] or ok_per_g[i] != 1 or ok_per_d[j] != 1:
                continue
            if n_touch_g[i] == 1 and n_touch_d[j] == 1 and centre_ok(i, j):
                g_done[i] = d_done[j] = True
                r_acc += 1.0
                p_acc += 1.0
    for n in _grouped(rec, prec, g_care, g_done, d_care, d_done, DE_PRECISION, DE_RECALL):  # a line, several boxes
        r_acc += 1.0 if n == 1 else DE_SPLIT
        p_acc += 1.0 if n == 1 else DE_SPLIT * n
    for n in _grouped(prec.T, rec.T, d_care, d_done, g_care, g_done, DE_RECALL, DE_PRECISION):  # a box, several lines
        r_acc += 1.0 if n == 1 else DE_MERGE * n
        p_acc += 1.0 if n == 1 else DE_MERGE
    return r_acc, p_acc


def evaluate_page(gt: Sequence[Sequence], det: Sequence[Sequence], ignore: Optional[Sequence[bool]] = None) -> Dict:
    """Counts of one page under both protocols, and why unmatched lines were missed.

    Returns ``{"gt", "det", "matched"}`` (ICDAR 2015, cares only), ``"deteval": {"gt", "det",
    "recall_sum", "precision_sum"}``, ``"unmatched": {kind: n}`` for the care lines ICDAR 2015 left
    unmatched - ``missed`` (boxes cover < 50% of the line), ``merged`` (a box covering >= 50% of
    it also covers >= 50% of another line), ``split`` (>= 2 boxes cover >= 10% each, none 80%),
    ``loose`` (one box covers it, but IoU <= 0.5: margins or offset) - and ``best_iou``: each care
    line's best IoU with any care detection.
    """
    ignore = list(ignore) if ignore is not None else [False] * len(gt)
    gpolys = [_poly(g) for g in gt]
    dpolys = [_poly(d) for d in det]
    G, D = len(gpolys), len(dpolys)
    g_area = np.array([p.area if p is not None else 0.0 for p in gpolys])
    d_area = np.array([p.area if p is not None else 0.0 for p in dpolys])
    g_care = np.array([p is not None and not ig for p, ig in zip(gpolys, ignore)], bool)
    inter = _intersections(gpolys, dpolys)
    with np.errstate(divide="ignore", invalid="ignore"):
        rec = np.where(g_area[:, None] > 0, inter / g_area[:, None], 0.0)
        prec = np.where(d_area[None, :] > 0, inter / d_area[None, :], 0.0)
        iou = np.where(inter > 0, inter / (g_area[:, None] + d_area[None, :] - inter), 0.0)
    dc_rows = ~g_care & (g_area > 0)
    d_valid = d_area > 0

    def det_care(limit):
        inside_dc = (prec[dc_rows] > limit).any(0) if dc_rows.any() else np.zeros(D, bool)
        return d_valid & ~inside_dc

    # ICDAR 2015
    d_care15 = det_care(AREA_PRECISION_DC)
    g_used, d_used = np.zeros(G, bool), np.zeros(D, bool)
    for i in np.flatnonzero(g_care):
        for j in np.flatnonzero(d_care15):
            if not g_used[i] and not d_used[j] and iou[i, j] > IOU_THRESH:
                g_used[i] = d_used[j] = True
    matched = int(g_used.sum())
    # DetEval
    d_care13 = det_care(DE_PRECISION)
    r_sum, p_sum = _deteval(g_care, d_care13, rec, prec, gt, det)
    # why the ICDAR 2015 misses
    why = dict.fromkeys(UNMATCHED_KINDS, 0)
    rc = rec[:, d_care15]
    for i in np.flatnonzero(g_care & ~g_used):
        r = rc[i]
        others = g_care.copy()
        others[i] = False
        if r.sum() < 0.5:
            why["missed"] += 1
        elif any((rc[others, k] >= 0.5).any() for k in np.flatnonzero(r >= 0.5)):
            why["merged"] += 1
        elif (r >= 0.1).sum() >= 2 and r.max() < 0.8:
            why["split"] += 1
        else:
            why["loose"] += 1
    best = iou[np.ix_(g_care, d_care15)].max(1) if d_care15.any() else np.zeros(int(g_care.sum()))
    return {"gt": int(g_care.sum()), "det": int(d_care15.sum()), "matched": matched,
            "deteval": {"gt": int(g_care.sum()), "det": int(d_care13.sum()), "recall_sum": r_sum,
                        "precision_sum": p_sum},
            "unmatched": why, "best_iou": [float(v) for v in best]}


def match_page(gt: Sequence[Sequence], det: Sequence[Sequence],
               ignore: Optional[Sequence[bool]] = None) -> Dict[str, int]:
    """ICDAR 2015 counts of one page: ``gt`` (cares), ``det`` (cares) and ``matched`` pairs."""
    r = evaluate_page(gt, det, ignore)
    return {k: r[k] for k in ("gt", "det", "matched")}


def _hm(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def prf(counts: Sequence[Dict]) -> Dict[str, object]:
    """Precision, recall and hmean over pages (counts summed first, as the ICDAR scripts do);
    with :func:`evaluate_page` results also ``deteval`` (same keys), the ``unmatched`` totals and
    the median best IoU of the lines."""
    g = sum(c["gt"] for c in counts)
    d = sum(c["det"] for c in counts)
    m = sum(c["matched"] for c in counts)
    p = m / d if d else 0.0
    r = m / g if g else 0.0
    out: Dict[str, object] = {"precision": p, "recall": r, "hmean": _hm(p, r), "gt": g, "det": d, "matched": m}
    de = [c["deteval"] for c in counts if "deteval" in c]
    if de:
        dg, dd = sum(c["gt"] for c in de), sum(c["det"] for c in de)
        dr = sum(c["recall_sum"] for c in de) / dg if dg else 0.0
        dp = sum(c["precision_sum"] for c in de) / dd if dd else 0.0
        out["deteval"] = {"precision": dp, "recall": dr, "hmean": _hm(dp, dr)}
    if any("unmatched" in c for c in counts):
        out["unmatched"] = {k: sum(c.get("unmatched", {}).get(k, 0) for c in counts) for k in UNMATCHED_KINDS}
        ious = [v for c in counts for v in c.get("best_iou", [])]
        out["best_iou_median"] = float(np.median(ious)) if ious else None
    return out


def gt_polygons(gt: Dict) -> Tuple[List, List[bool]]:
    """Polygons and don't-care flags of a ground-truth JSON (``{"lines": [{"polygon", "text"}]}``)."""
    lines = gt.get("lines", [])
    return [ln["polygon"] for ln in lines], [str(ln.get("text", "")) == DONT_CARE for ln in lines]


# ----------------------------------------------------------------------------- map drift

def _none_if_nan(v: float) -> Optional[float]:
    return None if v is None or not np.isfinite(v) else float(v)


def spearman(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    """Spearman's rho of two maps (None when either is constant: no ranking to compare)."""
    return _none_if_nan(similarity.spearman(a, b))


def ssim(a: np.ndarray, b: np.ndarray, data_range: Optional[float] = None) -> Optional[float]:
    """SSIM of two 2-D maps on their common raw scale (``data_range``: default the larger maximum
    of the two, floored at 0); None when both are all zero."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    L = float(data_range) if data_range is not None else float(max(a.max(), b.max()) - min(a.min(), b.min(), 0.0))
    if L <= 0:
        return None
    return _none_if_nan(similarity.ssim(a, b, data_range=L, normalize=False))


def topk_iou(a: np.ndarray, b: np.ndarray, frac: float = 0.1) -> Optional[float]:
    """IoU of the top-``frac`` pixel sets of two maps, positive pixels only (None when both sets
    are empty): zeros of sparse ReLU maps never count as shared salient pixels."""
    return similarity.topk_iou(a, b, frac, positive_only=True, empty=None)


def mean_or_none(values) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None
