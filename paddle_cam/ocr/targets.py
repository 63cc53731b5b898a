"""DB-detector targets: one scalar from the shrink (probability) map of one image.

Polygons are in model-input pixels (the resized page); the map has the input's size.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np
import paddle

from ..errors import TargetError
from ..targets import MaskedMeanTarget, _first_tensor


def polygon_mask(polygon: Sequence[Sequence[float]], hw: Sequence[int]) -> np.ndarray:
    """Filled polygon as a float32 {0, 1} mask of size (H, W)."""
    mask = np.zeros((int(hw[0]), int(hw[1])), np.uint8)
    pts = np.round(np.asarray(polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(np.float32)


class DBBoxTarget(MaskedMeanTarget):
    """Mean text probability inside one detected box: "why was this line detected?"."""

    def __init__(self, polygon, map_hw, box_id: int = 0):
        mask = polygon_mask(polygon, map_hw)
        if mask.sum() == 0:
            raise TargetError(f"box {box_id} covers no pixel of the {tuple(map_hw)} map")
        super().__init__(mask, channel=0, name=f"box_{box_id}")
        self.kind = "box"
        self.box_id = box_id


class RegionTarget(MaskedMeanTarget):
    """Mean text probability inside a user region (any polygon, e.g. an invoice field area)."""

    def __init__(self, polygon, map_hw, name: str = "region"):
        mask = polygon_mask(polygon, map_hw)
        if mask.sum() == 0:
            raise TargetError(f"region {name} lies outside the page")
        super().__init__(mask, channel=0, name=name)
        self.kind = "region"


class MissedLineTarget(RegionTarget):
    """A line the user expected where nothing was detected: "why was it not?".

    The map shows what raised the probability there and by how little; the report adds the
    peak probability inside the region against the DB threshold.
    """

    def __init__(self, polygon, map_hw, name: str = "missed"):
        super().__init__(polygon, map_hw, name)
        self.kind = "missed"


class AllTextTarget:
    """Mean probability over every pixel the DB threshold calls text ("text-ness" of the page).

    The text mask is taken from the output itself and treated as constant.
    """

    kind = "all_text"

    def __init__(self, thresh: float = 0.3):
        self.thresh = float(thresh)

    def __call__(self, output: Any) -> paddle.Tensor:
        prob = _first_tensor(output)
        if prob.ndim == 3:
            prob = prob[0]
        mask = (prob.detach() > self.thresh).astype("float32")
        area = float(mask.sum())
        if area == 0:
            raise TargetError(f"no pixel is above the DB threshold {self.thresh}: the page has no detected text")
        return (prob * mask).sum() / area

    def __repr__(self) -> str:
        return f"AllTextTarget(thresh={self.thresh})"
