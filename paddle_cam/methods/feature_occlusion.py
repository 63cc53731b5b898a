"""Occlusion of feature columns: what a sequence head reads where (Captum's layer feature ablation).

For a model that is a feature extractor followed by a head that reads its columns, as a CTC text
recogniser is (backbone -> ``(N, C, h, T)`` -> SVTR neck -> per-frame classes), each column of the
features in turn is replaced by the features of a paper-filled input at that column, and the drop
of every target is recorded. The backbone runs twice (the input, the paper-filled input); each
occluded column costs one run of the head only, and every run scores all targets of the line at
once, so all characters of a line cost about one backbone forward plus ``T`` head runs.

The map is a column map on the input: column ``t`` covers input columns ``[t, t + 1) * W / T``
over the full height. It says which columns the decision reads *through the head* (the SVTR blocks
mix every column with every other); within a column it says nothing, which is what column
occlusion of the input says too, at a fraction of the cost.

The model must offer ``features(x)`` and ``from_features(f)`` (e.g.
:class:`paddle_cam.ocr.rec_explain.RecLogits`); anything else is refused with one clear line.

Example:
    >>> m = FeatureOcclusion(RecLogits(load_recognizer().model))          # doctest: +SKIP
    >>> res = m.explain_targets(x, char_targets(alignment))               # doctest: +SKIP
"""
from __future__ import annotations

from typing import Callable, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..targets import score_numpy
from .input_attribution import Baseline, input_baseline
from .occlusion import BlackBoxMethod, Region, _region


class FeatureOcclusion(BlackBoxMethod):
    """Column-by-column occlusion of a split model's features, scored through its head."""

    name = "feature_occlusion"

    def __init__(self, model, *, baseline: Baseline = "paper", batch_size: int = 16, region: Region = None):
        if not (callable(getattr(model, "features", None)) and callable(getattr(model, "from_features", None))):
            raise InputError("feature_occlusion needs a model split into features(x) and from_features(f), as the "
                             "text recognisers are (explain_ocr.py --rec); use occlusion for this model")
        super().__init__(model, baseline, batch_size, region)

    def _run(self, fn: Callable, arr: np.ndarray) -> np.ndarray:
        import paddle

        from ..modes import eval_mode

        with eval_mode(self.model), paddle.no_grad():
            return fn(paddle.to_tensor(np.ascontiguousarray(arr, np.float32))).numpy()

    def explain_image(self, x: np.ndarray, targets: Sequence[Callable]) -> Tuple[np.ndarray, np.ndarray]:
        c, h, w = x.shape
        both = self._run(self.model.features, np.stack([x, input_baseline(x, self.baseline)]))
        feats, paper = both[0], both[1]
        cols = feats.shape[-1]
        x0, _, x1, _ = _region(self.region, h, w)
        step = w / float(cols)
        todo = [t for t in range(cols) if x0 < (t + 1) * step and t * step < x1]

        def scores(f_batch: np.ndarray) -> np.ndarray:
            out = self._run(self.model.from_features, f_batch)
            return np.array([[score_numpy(t, out[j]) for t in targets] for j in range(len(f_batch))], np.float64)

        s0 = scores(feats[None])[0]
        drop = np.zeros((len(targets), cols), np.float64)
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s:s + self.batch_size]
            batch = np.repeat(feats[None], len(chunk), axis=0)
            for j, t in enumerate(chunk):
                batch[j, ..., t] = paper[..., t]
            drop[:, chunk] = (s0[None] - scores(batch)).T
        edges = np.round(np.arange(cols + 1) * step).astype(int)
        maps = np.zeros((len(targets), h, w), np.float32)
        for t in todo:
            maps[:, :, edges[t]:edges[t + 1]] = drop[:, t][:, None, None]
        return maps, s0
