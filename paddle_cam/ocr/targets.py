"""DB-detector targets: one scalar from the shrink (probability) map of one image.

Polygons are in model-input pixels (the resized page); the map has the input's size.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import paddle

from ..errors import TargetError
from ..geometry import polygon_mask
from ..targets import MaskedMeanTarget, first_tensor


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

    The text mask is fixed: the pixels above the threshold in the page's own probability map
    (``mask``, as :meth:`from_prob` takes it). Input-gradient and black-box methods run the model
    on perturbed inputs (integrated gradients near its black baseline): the target must stay the
    one of the real page. Without ``mask`` it is taken from each output (the CAM methods' single
    forward is the real page's) and treated as constant.
    """

    kind = "all_text"

    def __init__(self, thresh: float = 0.3, mask: Optional[np.ndarray] = None):
        self.thresh = float(thresh)
        self.mask = None if mask is None else np.asarray(mask, np.float32)
        if self.mask is not None and self.mask.sum() == 0:
            raise TargetError(f"no pixel is above the DB threshold {self.thresh}: the page has no detected text")

    @classmethod
    def from_prob(cls, prob: np.ndarray, thresh: float = 0.3) -> "AllTextTarget":
        """The target of a page whose (h, w) probability map is ``prob``."""
        return cls(thresh, np.asarray(prob) > thresh)

    def __call__(self, output: Any) -> paddle.Tensor:
        prob = first_tensor(output)
        if prob.ndim == 3:
            prob = prob[0]
        if self.mask is not None:
            mask = paddle.to_tensor(self.mask)
        else:
            mask = (prob.detach() > self.thresh).astype("float32")
        area = float(mask.sum())
        if area == 0:
            raise TargetError(f"no pixel is above the DB threshold {self.thresh}: the page has no detected text")
        return (prob * mask).sum() / area

    def __repr__(self) -> str:
        return f"AllTextTarget(thresh={self.thresh}{', fixed mask' if self.mask is not None else ''})"


class DRiseBoxTarget:
    """D-RISE similarity of a DB detector's output to one target box (numpy, black-box).

    ``polygon``: the target box on the output map's grid (e.g. ``DBPostProcess``'s
    ``input_polygon``). On an item's shrink map, DB post-processing runs on a window of
    ``context`` x the box's size around it (boxes that can overlap the target lie there; this
    keeps it to a few ms instead of post-processing the whole page per mask), and the value is
    max over found boxes of IoU(box, target) x box score, 0 if none overlaps.

    Faithful to what the user sees, but a step function of the mask (a box appears or not), so
    RISE needs more masks with it than with the cheaper proxy ``DBBoxTarget`` (mean shrink
    probability inside the polygon): DB's box score *is* the mean probability inside the box,
    and a line that shrinks, splits or vanishes loses probability mass inside the polygon
    roughly in proportion to the lost IoU, so the proxy tracks IoU x score smoothly.
    """

    numpy_target = True
    kind = "box"

    def __init__(self, polygon, postprocess=None, context: float = 1.0, box_id: int = 0):
        from shapely.geometry import Polygon

        from .db_postprocess import DBPostProcess

        self.polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
        self.post = postprocess or DBPostProcess()
        self.context = float(context)
        self.box_id = box_id
        self._shape = Polygon(self.polygon).buffer(0)

    def window(self, hw) -> Tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the post-processing window on a map of size hw."""
        lo, hi = self.polygon.min(axis=0), self.polygon.max(axis=0)
        pad = (hi - lo) * self.context + 4
        x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(hi + pad, [hw[1], hw[0]])).astype(int)
        return int(x0), int(y0), int(x1), int(y1)

    def __call__(self, output) -> float:
        from shapely.geometry import Polygon

        from .db_postprocess import as_prob_map

        prob = as_prob_map(output.numpy() if hasattr(output, "numpy") else output)
        x0, y0, x1, y1 = self.window(prob.shape)
        crop = prob[y0:y1, x0:x1]
        best = 0.0
        for d in self.post(crop, np.array([y1 - y0, x1 - x0])):
            box = Polygon(np.asarray(d["input_polygon"], np.float64) + [x0, y0]).buffer(0)
            inter = box.intersection(self._shape).area
            if inter > 0:
                best = max(best, inter / box.union(self._shape).area * float(d["score"]))
        return best

    def __repr__(self) -> str:
        return f"DRiseBoxTarget(box_{self.box_id})"
