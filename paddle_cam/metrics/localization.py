"""Do attributions fall on the text? Pointing games on text polygons.

- ``energy_pointing_game``: share of the positive map's mass inside the polygon (the
  energy-based pointing game of Score-CAM, Wang et al. 2020); ``grow`` widens the polygon by a
  fraction of the box height like ``paddle_cam.ocr.regions.energy_in_box`` (same function).
- ``pointing_game``: a hit when the map's maximum lies inside the (grown) polygon (Zhang et al.
  2016). Text boxes are small and many, so the energy version is the more informative one.
- ``relevance_rank_accuracy``: share of the top-|box| pixels that lie inside the box (Arras et al.).

Maps and polygons must share one pixel grid (page maps with page polygons, or input maps with
input polygons).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..geometry import box_height, grown_polygon, polygon_mask
from ..ocr.regions import energy_in_box

Polygon = Sequence[Sequence[float]]


def _region_mask(polygon: Polygon, hw, grow: float) -> np.ndarray:
    poly = grown_polygon(polygon, grow * box_height(polygon)) if grow > 0 else np.asarray(polygon, np.float64)
    return polygon_mask(poly, hw) > 0


def _polygon_list(polygons) -> list:
    try:
        a = np.asarray(polygons, np.float64)
    except ValueError:  # ragged: several polygons with different point counts
        return list(polygons)
    if a.ndim == 2:
        return [a]
    if a.ndim == 3:
        return list(a)
    raise ValueError(f"expected a polygon (K, 2) or a list of polygons, got shape {a.shape}")


def energy_pointing_game(raw_map: np.ndarray, polygon: Polygon, grow: float = 0.5) -> float:
    """Share (0-1) of the positive map's mass inside the polygon grown by ``grow`` x box height.

    ``grow=0.5`` is the report's ``energy_in_box``; ``grow=0`` is the strict relevance mass.
    """
    if grow <= 0:
        pos = np.maximum(np.asarray(raw_map, np.float64), 0)
        total = pos.sum()
        return float((pos * polygon_mask(polygon, pos.shape)).sum() / total) if total > 0 else 0.0
    return energy_in_box(raw_map, polygon, grow)


def pointing_game(saliency: np.ndarray, polygons, grow: float = 0.5,
                  rng: Optional[np.random.RandomState] = None) -> bool:
    """Hit if the map's maximum lies inside one of ``polygons`` (a polygon or a list of them),
    each grown by ``grow`` x its box height (the tolerance Zhang et al. give in pixels).

    An all-zero or non-finite map is a miss. Among tied maxima one is drawn with ``rng`` (the
    first in raster order without it), so ties do not count as hits wherever any of them lands.
    """
    m = np.asarray(saliency, np.float64)
    if not np.isfinite(m).all() or m.max() <= 0:
        return False
    polys = _polygon_list(polygons)
    peaks = np.flatnonzero(m.ravel() == m.max())
    p = peaks[rng.randint(len(peaks))] if rng is not None and len(peaks) > 1 else peaks[0]
    y, x = divmod(int(p), m.shape[1])
    return any(_region_mask(poly, m.shape, grow)[y, x] for poly in polys)


def relevance_rank_accuracy(saliency: np.ndarray, polygon: Polygon) -> float:
    """Share of the K most salient pixels inside the polygon, K = the polygon's pixel count."""
    m = np.asarray(saliency, np.float64)
    mask = polygon_mask(polygon, m.shape) > 0
    k = int(mask.sum())
    if k == 0 or m.max() <= m.min():
        return 0.0
    top = np.argsort(-m.ravel(), kind="stable")[:k]
    return float(mask.ravel()[top].mean())


def localization_scores(raw_map: np.ndarray, polygon: Polygon, grow: float = 0.5) -> dict:
    """``energy_in_box``, ``pointing_game`` (0/1), ``relevance_mass`` (strict polygon) and
    ``relevance_rank`` of one map for one box."""
    return {
        "energy_in_box": energy_pointing_game(raw_map, polygon, grow),
        "pointing_game": float(pointing_game(raw_map, polygon, grow)),
        "relevance_mass": energy_pointing_game(raw_map, polygon, 0.0),
        "relevance_rank": relevance_rank_accuracy(raw_map, polygon),
    }
