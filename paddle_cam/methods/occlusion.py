"""Occlusion (Zeiler & Fergus, 2014): slide a paper-coloured patch, record the score drop.

Black-box: ``model`` is a dynamic Layer *or* any ``predict(batch np) -> outputs np`` such as
``paddle_cam.models.static.StaticPredictor`` on an exported inference folder, so it explains
what PP-OCR users deploy without a dynamic graph. Targets are the usual paddle_cam targets
(computed in numpy for mask/class targets) or plain numpy score functions
``f(item_output) -> float`` (see ``paddle_cam.targets.score_numpy``).

A pixel's attribution is the mean, over the windows covering it, of score(x) - score(x with the
window filled); ``raw`` is its ReLU (pixels whose occlusion lowers the target). Occluded
inputs go ``batch_size`` at a time and every forward scores all targets of the image at once.
``region=(x0, y0, x1, y1)`` (input pixels) restricts the windows to e.g. one text box's
neighbourhood: on a full page that is what keeps occlusion affordable.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import TargetError
from ..predictors import as_predict
from ..targets import ClassifierOutputTarget, score_numpy
from .input_attribution import AttributionResult, Baseline, InputAttribution, attribution_result, input_baseline

Region = Optional[Tuple[int, int, int, int]]


def _pair(v) -> Tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _region(region: Region, h: int, w: int) -> Tuple[int, int, int, int]:
    if region is None:
        return 0, 0, w, h
    x0, y0, x1, y1 = (int(round(v)) for v in region)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"region {region} lies outside the {w} x {h} input")
    return x0, y0, x1, y1


class BlackBoxMethod(InputAttribution):
    """Shared plumbing of perturbation methods: prediction, targets, batching, results.

    A subclass implements ``explain_image`` (one input, all targets, signed maps); the calls
    (``__call__``, ``explain_targets``, ``iter_targets``) come from ``InputAttribution``.
    """

    name = "blackbox"
    kind = "black_box"

    def __init__(self, model: Callable, baseline: Baseline = "paper",
                 batch_size: int = 8, region: Region = None):
        self.model = model
        self.predict = as_predict(model)
        self.baseline = baseline
        self.batch_size = max(1, int(batch_size))
        self.region = region

    def scores(self, batch: np.ndarray, targets: Sequence[Callable]) -> np.ndarray:
        """(B, T) value of every target on every item of a batch."""
        out = self.predict(batch)
        return np.array([[score_numpy(t, out[j]) for t in targets] for j in range(len(batch))], np.float64)

    def explain_image(self, x: np.ndarray, targets: Sequence[Callable]) -> Tuple[np.ndarray, np.ndarray]:
        """Signed (T, H, W) maps of T targets on one (C, H, W) input, and the intact scores (T,)."""
        raise NotImplementedError

    def default_targets(self, x: np.ndarray) -> list:
        """The top class of a classifier's (N, K) output."""
        out = np.asarray(self.predict(x))
        if out.ndim != 2:
            raise TargetError(f"no default target for an output of shape {out.shape}; pass targets=")
        return [ClassifierOutputTarget(int(c)) for c in out.argmax(axis=1)]

    def attribute(self, x: np.ndarray, targets: Sequence[Callable]) -> List[AttributionResult]:
        maps, s0 = self.explain_image(x, targets)
        return [attribution_result(maps[i][None, None], "positive", s0[i:i + 1], [t], self.name)
                for i, t in enumerate(targets)]


class Occlusion(BlackBoxMethod):
    """Sliding-window occlusion with a document baseline."""

    name = "occlusion"

    def __init__(self, model, *, window: Union[int, Tuple[int, int]] = 16, stride: Union[int, Tuple[int, int]] = 8,
                 baseline: Baseline = "paper", batch_size: int = 8, region: Region = None):
        super().__init__(model, baseline, batch_size, region)
        self.window = _pair(window)
        self.stride = _pair(stride)
        if min(self.window) < 1 or min(self.stride) < 1:
            raise ValueError("window and stride must be >= 1")

    def windows(self, h: int, w: int) -> List[Tuple[int, int, int, int]]:
        """(y0, y1, x0, x1) of every window inside the region; the last ones touch its far edges."""
        x0, y0, x1, y1 = _region(self.region, h, w)
        wh, ww = min(self.window[0], y1 - y0), min(self.window[1], x1 - x0)

        def starts(lo, hi, size, step):
            s = list(range(lo, hi - size + 1, step))
            if s[-1] != hi - size:
                s.append(hi - size)
            return s

        return [(y, y + wh, x, x + ww) for y in starts(y0, y1, wh, self.stride[0])
                for x in starts(x0, x1, ww, self.stride[1])]

    def explain_image(self, x: np.ndarray, targets: Sequence[Callable]) -> Tuple[np.ndarray, np.ndarray]:
        c, h, w = x.shape
        base = input_baseline(x, self.baseline)
        s0 = self.scores(x[None], targets)[0]
        total = np.zeros((len(targets), h, w), np.float64)
        count = np.zeros((h, w), np.float64)
        wins = self.windows(h, w)
        for s in range(0, len(wins), self.batch_size):
            chunk = wins[s:s + self.batch_size]
            batch = np.repeat(x[None], len(chunk), axis=0)
            for j, (a, b, l, r) in enumerate(chunk):
                batch[j, :, a:b, l:r] = base[:, a:b, l:r]
            drop = s0[None] - self.scores(batch, targets)  # (B, T)
            for j, (a, b, l, r) in enumerate(chunk):
                total[:, a:b, l:r] += drop[j][:, None, None]
                count[a:b, l:r] += 1
        maps = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        return maps.astype(np.float32), s0
