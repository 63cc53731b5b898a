"""RISE (Petsiuk et al., 2018) and its detector form D-RISE (Petsiuk et al., 2021), black-box.

Random low-resolution binary grids (keep probability ``p_keep``), bilinearly upsampled and
randomly shifted, blend the input with a *paper* baseline (``m * x + (1 - m) * paper``); the map
is the score-weighted mean of the masks. With ``center`` (default) the mean score is
subtracted first: the same ordering as the paper's sum (it only removes a constant equal to the
mean score), but the map is no longer a uniform floor with the evidence on top, which would
spread any energy measure over the whole page. ``raw`` is its ReLU.

``model`` is a dynamic Layer or any ``predict(batch np) -> outputs np`` (e.g. a
``StaticPredictor`` of an exported model); one forward per mask scores every target of the
image. ``region=(x0, y0, x1, y1)`` confines the masks to part of the input (the rest stays
intact), so a small text line gets cells of text height instead of page-sized ones.

Targets for detections:
- ``DRiseBoxTarget``: D-RISE similarity, max over the boxes DB post-processing finds on the
  masked input of IoU(box, target) x box score. Faithful to what the user sees, but a step
  function of the mask (a box appears or not), so it needs more masks.
- the cheaper proxy ``DBBoxTarget`` (mean shrink probability inside the target polygon):
  DB's box score *is* the mean probability inside the box, and a line that shrinks, splits or
  vanishes loses probability mass inside the polygon roughly in proportion to the lost IoU, so
  the proxy tracks IoU x score smoothly and converges with fewer masks.
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import cv2
import numpy as np

from .input_attribution import Baseline, input_baseline
from .occlusion import BlackBoxMethod, Region, _pair, _region


class RISE(BlackBoxMethod):
    """Randomised input sampling; ``target_layers`` is ignored."""

    name = "rise"

    def __init__(self, model, target_layers=None, reshape_transform=None, n_masks: int = 256, grid=8,
                 p_keep: float = 0.5, baseline: Baseline = "paper", batch_size: int = 8, region: Region = None,
                 center: bool = True, seed: int = 0, **kwargs):
        super().__init__(model, baseline, batch_size, region)
        if n_masks < 1 or not 0 < p_keep < 1:
            raise ValueError("n_masks must be >= 1 and 0 < p_keep < 1")
        self.n_masks = int(n_masks)
        self.grid = _pair(grid)
        self.p_keep = float(p_keep)
        self.center = bool(center)
        self.seed = int(seed)

    def masks(self, n: int, hw: Tuple[int, int], rng: np.random.RandomState) -> np.ndarray:
        """(n, h, w) float32 masks in [0, 1] (RISE's upsample-and-shift construction)."""
        h, w = hw
        gh, gw = self.grid
        ch, cw = int(np.ceil(h / gh)), int(np.ceil(w / gw))
        out = np.empty((n, h, w), np.float32)
        for i in range(n):
            cells = (rng.rand(gh, gw) < self.p_keep).astype(np.float32)
            up = cv2.resize(cells, ((gw + 1) * cw, (gh + 1) * ch), interpolation=cv2.INTER_LINEAR)
            dy, dx = rng.randint(0, ch), rng.randint(0, cw)
            out[i] = up[dy:dy + h, dx:dx + w]
        return out

    def explain_image(self, x: np.ndarray, targets: Sequence[Callable]) -> Tuple[np.ndarray, np.ndarray]:
        c, h, w = x.shape
        x0, y0, x1, y1 = _region(self.region, h, w)
        base = input_baseline(x, self.baseline)
        s0 = self.scores(x[None], targets)[0]
        rng = np.random.RandomState(self.seed)
        acc = np.zeros((len(targets), y1 - y0, x1 - x0), np.float64)
        score_sum = np.zeros(len(targets), np.float64)
        mask_sum = np.zeros((y1 - y0, x1 - x0), np.float64)
        for s in range(0, self.n_masks, self.batch_size):
            k = min(self.batch_size, self.n_masks - s)
            m = self.masks(k, (y1 - y0, x1 - x0), rng)
            batch = np.repeat(x[None], k, axis=0)
            xr, br = x[None, :, y0:y1, x0:x1], base[None, :, y0:y1, x0:x1]
            batch[:, :, y0:y1, x0:x1] = m[:, None] * xr + (1 - m[:, None]) * br
            sc = self.scores(batch, targets)  # (k, T)
            acc += np.einsum("kt,khw->thw", sc, m)
            score_sum += sc.sum(axis=0)
            mask_sum += m.sum(axis=0)
        n = float(self.n_masks)
        sal = acc / (n * self.p_keep)
        if self.center:
            # subtract mean score x (mask coverage / p): exactly 0 where masks carry no information
            sal -= (score_sum / n)[:, None, None] * (mask_sum / (n * self.p_keep))[None]
        maps = np.zeros((len(targets), h, w), np.float32)
        maps[:, y0:y1, x0:x1] = sal
        return maps, s0


class DRiseBoxTarget:
    """D-RISE similarity of a DB detector's output to one target box (numpy, black-box).

    ``polygon``: the target box on the output map's grid (e.g. ``DBPostProcess``'s
    ``input_polygon``). On an item's shrink map, DB post-processing runs on a window of
    ``context`` x the box's size around it (boxes that can overlap the target lie there; this
    keeps it to a few ms instead of post-processing the whole page per mask), and the value is
    max over found boxes of IoU(box, target) x box score, 0 if none overlaps.
    """

    numpy_target = True
    kind = "box"

    def __init__(self, polygon, postprocess=None, context: float = 1.0, box_id: int = 0):
        from shapely.geometry import Polygon

        from ..ocr.db_postprocess import DBPostProcess

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

        from ..ocr.db_postprocess import as_prob_map

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
