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

from typing import Callable, Optional, Sequence

import numpy as np
import paddle

from .input_attribution import Baseline, GradientAttribution, input_baseline


class SmoothGrad(GradientAttribution):
    """SmoothGrad of input gradients with the BaseCAM call conventions."""

    name = "smoothgrad"

    def __init__(self, model: paddle.nn.Layer, *, n_samples: int = 16, noise_level: float = 0.15,
                 internal_batch_size: int = 8, multiply_by_input: bool = False, baseline: Baseline = "paper",
                 reduce: Optional[str] = None, seed: int = 0):
        if n_samples < 1:
            raise ValueError("n_samples must be >= 1")
        super().__init__(model, reduce or "abs")
        self.n_samples = int(n_samples)
        self.noise_level = float(noise_level)
        self.internal_batch_size = max(1, int(internal_batch_size))
        self.multiply_by_input = bool(multiply_by_input)
        self.baseline = baseline
        self.seed = int(seed)

    def compute(self, x: np.ndarray, targets: Sequence[Callable]):
        """Averaged input gradients (T, C, H, W) (times input - baseline with
        ``multiply_by_input``) and f(x); every noisy chunk is shared by all targets."""
        rng = np.random.RandomState(self.seed)
        sigma = self.noise_level * float(x.max() - x.min())
        acc = [np.zeros_like(x, dtype=np.float64) for _ in targets]
        for s in range(0, self.n_samples, self.internal_batch_size):
            k = min(self.internal_batch_size, self.n_samples - s)
            noisy = x[None] + rng.normal(0.0, sigma, (k,) + x.shape)
            for ti, g in enumerate(self.input_gradients(noisy, targets)):
                acc[ti] += g
        fx = self.target_scores(x[None], targets)[0]
        grads = np.stack(acc) / self.n_samples
        if self.multiply_by_input:
            grads = grads * (x - input_baseline(x, self.baseline))[None]
        return grads, fx, None
