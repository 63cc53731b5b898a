"""Exact per-box CAMs at the neck of a mobile DB detector, at the cost of a tiny head pass per box.

The DB head after the neck is ``3x3 conv -> 2x2/2 transposed conv -> 2x2/2 transposed conv``: a
probability pixel depends on neck pixels within one neck pixel of it. So the neck is computed once
(no graph), and for each target the head runs on a crop of the neck around the target's mask with
``margin`` neck pixels to spare; the target's value and its gradient on the neck are then exactly
those of the full model (zero outside the crop), and the CAM is formed by the method as usual.
"""
from __future__ import annotations

from typing import Iterator, List, Sequence

import numpy as np
import paddle

from ..base import BaseCAM, CAMResult, to_tensor
from ..targets import MaskedMeanTarget, score_of

NECK = "model.neck"
STRIDE = 4        # neck resolution = input / 4
MARGIN = 2        # neck pixels kept around a target; the head needs 1


def supports(detector, method: BaseCAM, layers: Sequence[str], targets: Sequence) -> bool:
    """True when the fast path gives the same maps as the generic one."""
    return (getattr(detector, "arch", "") == "mobile" and list(layers) == [NECK] and method.uses_gradients
            and method.reshape_transform is None and all(isinstance(t, MaskedMeanTarget) for t in targets))


def explain_at_neck(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget]) -> List[CAMResult]:
    """One CAMResult per target, equal to ``method.explain_targets(batch, targets)`` at the neck."""
    return list(iter_at_neck(detector, method, batch, targets))


def iter_at_neck(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget]) -> Iterator[CAMResult]:
    """``explain_at_neck`` as a generator (the neck is computed once for all targets)."""
    model = detector.model
    x = to_tensor(batch)
    if x.shape[0] != 1:
        raise ValueError("explain_at_neck takes one image")
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            neck = model.model(x)
        acts = neck.numpy().astype(np.float32)
        _, c, h4, w4 = acts.shape
        for t in targets:
            ys, xs = np.nonzero(t.mask)
            r0 = max(0, int(ys.min()) // STRIDE - MARGIN)
            r1 = min(h4, int(ys.max()) // STRIDE + 1 + MARGIN)
            c0 = max(0, int(xs.min()) // STRIDE - MARGIN)
            c1 = min(w4, int(xs.max()) // STRIDE + 1 + MARGIN)
            crop = neck[:, :, r0:r1, c0:c1].detach()
            crop.stop_gradient = False
            prob = model.head(crop)
            # the target sees its own mask cut to the crop; its normaliser stays the full mask area
            local = MaskedMeanTarget(t.mask[r0 * STRIDE:r1 * STRIDE, c0 * STRIDE:c1 * STRIDE], t.channel, t.name)
            score = score_of(_Renormalised(local, float(t.mask.sum())), prob[0])
            (g,) = paddle.grad([score], [crop])
            grads = np.zeros_like(acts)
            grads[:, :, r0:r1, c0:c1] = g.numpy()
            yield method._result([NECK], {NECK: acts}, {NECK: grads}, x, [t], np.array([float(score)], np.float32))
    finally:
        if was_training:
            model.train()


class _Renormalised:
    """A masked mean over a crop, divided by the full mask's area (as on the whole map)."""

    def __init__(self, target: MaskedMeanTarget, area: float):
        self.t = target
        self.area = area

    def __call__(self, output):
        dense = output[self.t.channel] if output.ndim == 3 else output
        return (dense * paddle.to_tensor(self.t.mask)).sum() / self.area
