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
intact), so a small text line gets cells of text height instead of page-sized ones. For a
detector, D-RISE's box similarity is a target like any other (``paddle_cam.ocr.targets``).
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple, Union

import cv2
import numpy as np

from .input_attribution import Baseline, input_baseline
from .occlusion import BlackBoxMethod, Region, _pair, _region


class RISE(BlackBoxMethod):
    """Randomised input sampling."""

    name = "rise"

    def __init__(self, model, *, n_masks: int = 256, grid: Union[int, Tuple[int, int]] = 8, p_keep: float = 0.5,
                 baseline: Baseline = "paper", batch_size: int = 8, region: Region = None, center: bool = True,
                 seed: int = 0):
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
