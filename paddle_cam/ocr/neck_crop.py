"""Exact per-box CAMs at the neck of a mobile DB detector, at the cost of a tiny head pass per box.

The DB head after the neck is ``3x3 conv -> 2x2/2 transposed conv -> 2x2/2 transposed conv``: a
probability pixel depends on neck pixels within one neck pixel of it. So the neck is computed once
(no graph), and for each target the head runs on a crop of the neck around the target's mask with
``margin`` neck pixels to spare; the target's value and its gradient on the neck are then exactly
those of the full model (zero outside the crop), and the CAM is formed by the method as usual.
"""
from __future__ import annotations

from typing import Iterable, Iterator, List, Sequence

import numpy as np
import paddle

from ..base import BaseCAM, CAMResult, to_tensor
from ..modes import eval_mode
from ..targets import MaskedMeanTarget, score_of

NECK = "model.neck"
STRIDE = 4        # neck resolution = input / 4
MARGIN = 2        # neck pixels kept around a target; the head needs 1


STAGE_PREFIX = "model.backbone.encoder.blocks."


def _stage_index(layer: str):
    if layer.startswith(STAGE_PREFIX) and layer[len(STAGE_PREFIX):].isdigit():
        k = int(layer[len(STAGE_PREFIX):])
        return k if 1 <= k <= 4 else None
    return None


def supports(detector, method: BaseCAM, layers: Sequence[str], targets: Sequence) -> bool:
    """True when the fast path gives the same maps as the generic one."""
    return (getattr(detector, "arch", "") == "mobile" and len(layers) == 1
            and (layers[0] == NECK or _stage_index(layers[0]) is not None) and method.crop_paths
            and method.reshape_transform is None and all(isinstance(t, MaskedMeanTarget) for t in targets))


def iter_fast(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget], layer: str) -> Iterator[CAMResult]:
    """The neck crop path, or its extension to a backbone stage (see ``iter_at_stage``)."""
    if layer == NECK:
        return iter_at_neck(detector, method, batch, targets)
    return iter_at_stage(detector, method, batch, targets, layer)


def _crop_grad(model, neck: paddle.Tensor, t: MaskedMeanTarget):
    """(score, d score / d neck on the crop, crop slices): the head on a crop around the target."""
    h4, w4 = neck.shape[2:]
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
    return score, g, (slice(r0, r1), slice(c0, c1))


def iter_at_stage(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget], layer: str) -> Iterator[CAMResult]:
    """Exact per-box CAMs at backbone stage ``k``: the stages up to ``k`` run once without a graph,
    the rest once with one; per box the head runs on a crop (as at the neck) and only the
    neck-to-stage part is back-propagated, with the crop's gradient as the cotangent."""
    model = detector.model
    k = _stage_index(layer)
    x = to_tensor(batch)
    with eval_mode(model):
        enc = model.model.backbone.encoder
        with paddle.no_grad():
            h = enc.convolution(x)
            outs = []
            for blk in list(enc.blocks)[:k + 1]:
                h = blk(h)
                outs.append(h)
        leaf = outs[k].detach()
        leaf.stop_gradient = False
        stages = [o.detach() for o in outs[:k]] + [leaf]
        h = leaf
        for blk in list(enc.blocks)[k + 1:]:
            h = blk(h)
            stages.append(h)
        feats = [model.model.layer[i](f) for i, f in enumerate(stages[1:])]
        neck = model.model.neck(feats)
        acts = leaf.numpy().astype(np.float32)
        for i, t in enumerate(targets):
            score, g, (rs, cs) = _crop_grad(model, neck, t)
            cot = paddle.zeros_like(neck)
            cot[:, :, rs, cs] = g
            (gl,) = paddle.grad([neck], [leaf], grad_outputs=[cot], retain_graph=i < len(targets) - 1)
            yield method.maps_from_captures([layer], {layer: acts}, {layer: gl.numpy()}, x, [t],
                                            np.array([float(score)], np.float32))


def explain_at_neck(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget]) -> List[CAMResult]:
    """One CAMResult per target, equal to ``method.explain_targets(batch, targets)`` at the neck."""
    return list(iter_at_neck(detector, method, batch, targets))


def iter_at_neck(detector, method: BaseCAM, batch, targets: Iterable[MaskedMeanTarget]) -> Iterator[CAMResult]:
    """``explain_at_neck`` as a generator (the neck is computed once for all targets; ``targets``
    may be a generator, so their masks need not all exist at once)."""
    model = detector.model
    x = to_tensor(batch)
    if x.shape[0] != 1:
        raise ValueError("explain_at_neck takes one image")
    with eval_mode(model):
        with paddle.no_grad():
            neck = model.model(x)
        acts = neck.numpy().astype(np.float32)
        for t in targets:
            score, g, (rs, cs) = _crop_grad(model, neck, t)
            grads = np.zeros_like(acts)
            grads[:, :, rs, cs] = g.numpy()
            yield method.maps_from_captures([NECK], {NECK: acts}, {NECK: grads}, x, [t],
                                            np.array([float(score)], np.float32))


class _Renormalised:
    """A masked mean over a crop, divided by the full mask's area (as on the whole map)."""

    def __init__(self, target: MaskedMeanTarget, area: float):
        self.t = target
        self.area = area

    def __call__(self, output):
        dense = output[self.t.channel] if output.ndim == 3 else output
        return (dense * paddle.to_tensor(self.t.mask)).sum() / self.area
