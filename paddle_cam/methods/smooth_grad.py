"""SmoothGrad (Smilkov et al., 2017): input gradients averaged over Gaussian-noised copies.

sigma = ``noise_level`` x (max - min) of the input (the paper's 10-20 %). Noisy copies go
through the model ``internal_batch_size`` at a time; for several targets on one image each
chunk is forwarded once and back-propagated once per target.

The (N, H, W) ``raw`` map is ``reduce`` over channels of the averaged gradient (or, with
``multiply_by_input``, of gradient x (input - document baseline)): ``abs`` (default, the paper's
choice: a gradient's sign says whether brightening or darkening a pixel helps, and on a page
darker = more ink, so the sign is not "for" or "against"), or ``positive`` as for IG.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np
import paddle

from ..base import to_tensor
from ..targets import check_targets, default_targets, score_of, select_item
from .integrated_gradients import (AttributionResult, Baseline, _stack, attribution_result, input_baseline,
                                   reduce_attributions)


class SmoothGrad:
    """SmoothGrad of input gradients with the BaseCAM call conventions (``target_layers`` ignored)."""

    name = "smoothgrad"
    # BaseCAM's flag for *layer*-gradient CAMs, which tools use to pick the neck-crop fast path;
    # input gradients are taken here without it, so the fast path must not apply
    uses_gradients = False
    reshape_transform = None

    def __init__(self, model: paddle.nn.Layer, target_layers=None, reshape_transform=None, n_samples: int = 16,
                 noise_level: float = 0.15, internal_batch_size: int = 8, multiply_by_input: bool = False,
                 baseline: Baseline = "paper", reduce: Optional[str] = None, seed: int = 0, **kwargs):
        if n_samples < 1:
            raise ValueError("n_samples must be >= 1")
        self.model = model
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.internal_batch_size = max(1, int(internal_batch_size))
        self.multiply_by_input = bool(multiply_by_input)
        self.baseline = baseline
        self.reduce = reduce or "abs"
        reduce_attributions(np.zeros((1, 1, 1, 1)), self.reduce)
        self.seed = int(seed)

    def _attribute(self, x: np.ndarray, targets: Sequence[Callable]):
        rng = np.random.RandomState(self.seed)
        sigma = self.noise_level * float(x.max() - x.min())
        acc = [np.zeros_like(x, dtype=np.float64) for _ in targets]
        bs = self.internal_batch_size
        for s in range(0, self.n_samples, bs):
            k = min(bs, self.n_samples - s)
            noisy = (x[None] + rng.normal(0.0, sigma, (k,) + x.shape)).astype(np.float32)
            xs = paddle.to_tensor(noisy)
            xs.stop_gradient = False
            out = self.model(xs)
            for ti, t in enumerate(targets):
                total = paddle.add_n([score_of(t, select_item(out, j)) for j in range(k)])
                g = paddle.grad([total], [xs], retain_graph=ti < len(targets) - 1)[0]
                acc[ti] += g.numpy().astype(np.float64).sum(axis=0)
        with paddle.no_grad():
            out = self.model(paddle.to_tensor(x[None].astype(np.float32)))
            fx = np.array([float(score_of(t, select_item(out, 0))) for t in targets])
        grads = np.stack(acc) / self.n_samples
        if self.multiply_by_input:
            grads = grads * (x - input_baseline(x, self.baseline))[None]
        return grads, fx

    def _run(self, x: paddle.Tensor, targets: Sequence[Callable]) -> List[AttributionResult]:
        was_training = self.model.training
        self.model.eval()
        try:
            attr, fx = self._attribute(x.numpy()[0], targets)
        finally:
            if was_training:
                self.model.train()
        return [attribution_result(attr[i:i + 1], self.reduce, fx[i:i + 1], [t], self.name)
                for i, t in enumerate(targets)]

    def __call__(self, input_tensor, targets: Optional[Sequence[Callable]] = None) -> AttributionResult:
        """One target per image; images are attributed one after another."""
        x = to_tensor(input_tensor)
        check_targets(targets, x.shape[0])
        if targets is None:
            with paddle.no_grad():
                targets = default_targets(self.model(x), x.shape[0])
        return _stack([self._run(x[i:i + 1], [t])[0] for i, t in enumerate(targets)], self.name)

    def explain_targets(self, input_tensor, targets: Sequence[Callable]) -> List[AttributionResult]:
        """Many targets on ONE image, sharing every noisy forward pass."""
        x = to_tensor(input_tensor)
        if x.shape[0] != 1:
            raise ValueError("explain_targets takes one image; loop over the batch for more")
        targets = list(targets)
        for t in targets:
            check_targets([t], 1)
        return self._run(x, targets) if targets else []

    def iter_targets(self, input_tensor, targets: Sequence[Callable]):
        """``explain_targets`` as a generator (the BaseCAM interface the page explainer uses)."""
        yield from self.explain_targets(input_tensor, targets)
