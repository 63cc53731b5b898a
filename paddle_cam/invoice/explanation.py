"""The record of one field decision's explanation, with its map placed back on the page."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ..base import CAMResult
from .windows import Window, paste_to_page


def slice_cam(res: CAMResult, i: int) -> CAMResult:
    """Item ``i`` of a batched CAM result, as a result of batch size 1."""
    return CAMResult(raw=res.raw[i:i + 1], normalized=res.normalized[i:i + 1],
                     per_layer_raw={k: v[i:i + 1] for k, v in res.per_layer_raw.items()},
                     layer_maps={k: v[i:i + 1] for k, v in res.layer_maps.items()},
                     scores=res.scores[i:i + 1], targets=[res.targets[i]], method=res.method, layers=list(res.layers))


@dataclass
class FieldExplanation:
    """Why one line was given (or would be given) a field.

    ``page_raw`` is computed on access from the input-size map (a page-size float32 map per line
    would take megabytes each); it is zero outside the line's window.
    """

    index: int                      # position in the polygons passed to explain()
    polygon: List[List[float]]
    field: str                      # explained class (the predicted one unless class_ids was given)
    class_id: int
    prob: float                     # probability of the explained class
    predicted: str                  # arg-max field
    probs: np.ndarray               # (C,)
    window: Window
    page_hw: Tuple[int, int]
    cam: CAMResult                  # maps on the model input (batch of one)

    @property
    def page_raw(self) -> np.ndarray:
        """(page_h, page_w) float32 raw (un-normalised) map placed back on the page."""
        return paste_to_page(self.cam.raw[0], self.window, self.page_hw)

    @property
    def page_norm(self) -> np.ndarray:
        """``page_raw`` scaled to [0, 1] by its maximum (0 everywhere for an empty map)."""
        m = self.page_raw
        top = float(m.max())
        return m / top if top > 0 else m
