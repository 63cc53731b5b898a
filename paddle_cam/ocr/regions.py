"""Where the heat went: shares of a map's positive mass on text boxes and background."""
from __future__ import annotations

from typing import Dict, Sequence

import cv2
import numpy as np
from shapely.geometry import Polygon

from ..geometry import box_height, grown_polygon, polygon_mask








def energy_in_box(raw_map: np.ndarray, polygon: Sequence[Sequence[float]], grow: float = 0.5) -> float:
    """Share of the positive map's mass inside the box grown by ``grow`` x box height per side.

    The margin forgives the few pixels of blur any CAM has at a text edge; 0 if the map is empty.
    """
    pos = np.maximum(raw_map, 0).astype(np.float64)
    total = pos.sum()
    if total <= 0:
        return 0.0
    mask = polygon_mask(grown_polygon(polygon, grow * box_height(polygon)), pos.shape)
    return float((pos * mask).sum() / total)


class BoxLabels:
    """Which box owns each page pixel (overlaps go to the smaller box); built once per page so
    that shares of many maps cost one ``bincount`` each."""

    def __init__(self, polygons: Sequence[Sequence[Sequence[float]]], hw: Sequence[int], ids: Sequence[int] = None):
        self.ids = list(ids) if ids is not None else list(range(len(polygons)))
        self.label = np.full((int(hw[0]), int(hw[1])), -1, np.int32)
        order = sorted(range(len(polygons)), key=lambda i: -Polygon(np.asarray(polygons[i], float)).area)
        for i in order:  # larger first, so smaller boxes drawn later win overlaps
            pts = np.round(np.asarray(polygons[i], np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.fillPoly(self.label, [pts], int(i))
        self._flat = self.label.ravel() + 1

    def shares(self, raw_map: np.ndarray) -> Dict[str, object]:
        """Shares of the positive mass per box and on background; they sum to 1."""
        pos = np.maximum(raw_map, 0).astype(np.float64)
        total = pos.sum()
        if total <= 0:
            return {"regions": [{"box_id": b, "share": 0.0} for b in self.ids], "background": 1.0}
        sums = np.bincount(self._flat, weights=pos.ravel(), minlength=len(self.ids) + 1)
        return {"regions": [{"box_id": b, "share": float(sums[i + 1] / total)} for i, b in enumerate(self.ids)],
                "background": float(sums[0] / total)}


def region_shares(raw_map: np.ndarray, polygons: Sequence[Sequence[Sequence[float]]],
                  ids: Sequence[int] = None) -> Dict[str, object]:
    """Shares of positive mass on each box (pixels of overlapping boxes go to the smaller box)
    and on background; the shares and ``background`` sum to 1."""
    return BoxLabels(polygons, raw_map.shape, ids).shares(raw_map)
