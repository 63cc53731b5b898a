"""Exact per-box CAMs at the neck of a DB detector, at the cost of a tiny head pass per box.

Families (``models/det_families.py``): PP-OCRv4/v5 mobile and PP-OCRv6 small/medium det take
these paths (at the neck and at any backbone stage ``stage2``..``stage5``); PP-OCRv5 server det
is declined, and :func:`declined` says why. Every model and layer is checked once at run time
against the generic path, which takes over on a mismatch.

The DB head after the neck is ``3x3 conv -> 2x2/2 transposed conv -> 2x2/2 transposed conv``: a
probability pixel depends on neck pixels within one neck pixel of it. So the neck is computed once
(no graph), and for each target the head runs on a crop of the neck around the target's mask with
``margin`` neck pixels to spare; the target's value and its gradient on the neck are then exactly
those of the full model (zero outside the crop), and the CAM is formed by the method as usual.
"""
from __future__ import annotations

import warnings
from typing import Iterable, Iterator, List, Optional, Sequence

import numpy as np
import paddle

from ..base import BaseCAM, CAMResult, to_tensor
from ..models.det_families import FAMILIES, stage_index
from ..modes import eval_mode
from ..targets import MaskedMeanTarget, score_of

NECK = "model.neck"
STRIDE = 4        # neck resolution = input / 4
MARGIN = 2        # neck pixels kept around a target; the head needs 1
CHECK_RTOL = 1e-4  # the run-time check of a fast path against the generic one (relative to the map's max)


def _stage_index(detector, layer: str) -> Optional[int]:
    return stage_index(getattr(detector, "arch", ""), layer)


def _head_is_local(model) -> bool:
    """DB head = 3x3 conv -> 2x2/2 transposed conv -> 2x2/2 transposed conv (MARGIN covers it)."""
    head = getattr(model, "head", None)
    try:
        down, up, final = head.conv_down.convolution, head.conv_up.convolution, head.conv_final
    except AttributeError:
        return False
    return (list(down._kernel_size) == [3, 3] and list(down._stride) == [1, 1]
            and list(up._kernel_size) == [2, 2] and list(up._stride) == [2, 2]
            and list(final._kernel_size) == [2, 2] and list(final._stride) == [2, 2])


def declined(detector, layers: Sequence[str]) -> Optional[str]:
    """Why the exact crop paths do not apply to ``detector`` at ``layers`` (None when they do)."""
    fam = FAMILIES.get(getattr(detector, "arch", ""))
    if fam is None:
        return f"unknown detector family {getattr(detector, 'arch', None)!r}"
    if fam.fast_path_note:
        return fam.fast_path_note
    if not fam.neck_crop or not _head_is_local(detector.model):
        return "the DB head is not 3x3 conv + two 2x2/2 transposed convs, so the 1-pixel crop margin is not proven"
    if len(layers) != 1:
        return "the crop paths explain one layer at a time"
    if layers[0] != NECK and _stage_index(detector, layers[0]) is None:
        return f"{layers[0]} is neither the neck nor a backbone stage of {fam.name}"
    if _checked(detector, layers[0]) is False:
        return "the run-time check against the generic path failed for this model and layer"
    return None


def _checked(detector, layer: str):
    return getattr(detector.model, "_paddle_cam_crop_checked", {}).get(layer)


def supports(detector, method: BaseCAM, layers: Sequence[str], targets: Sequence) -> bool:
    """True when the fast path gives the same maps as the generic one."""
    return (declined(detector, layers) is None and method.crop_paths and method.reshape_transform is None
            and all(isinstance(t, MaskedMeanTarget) for t in targets))


def _same(a: CAMResult, b: CAMResult) -> bool:
    scale = max(float(np.abs(a.raw).max()), 1e-12)
    return (np.allclose(a.scores, b.scores, rtol=1e-5, atol=1e-7)
            and float(np.abs(a.raw - b.raw).max()) <= CHECK_RTOL * scale + 1e-6 * scale)


def iter_fast(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget], layer: str) -> Iterator[CAMResult]:
    """The neck crop path, or its extension to a backbone stage (see ``iter_at_stage``).

    The first time a model and layer take the fast path, its first map is checked against the
    generic path (``method.explain_targets``); on a mismatch the generic path serves this and
    every later call (and :func:`declined` says why)."""
    targets = list(targets)
    fast = iter_at_neck(detector, method, batch, targets) if layer == NECK else \
        iter_at_stage(detector, method, batch, targets, layer)
    if _checked(detector, layer) is not None or not targets:
        yield from fast
        return
    first = next(fast)
    ok = _same(method.explain_targets(batch, targets[:1])[0], first)
    state = dict(getattr(detector.model, "_paddle_cam_crop_checked", {}))
    state[layer] = ok
    detector.model._paddle_cam_crop_checked = state
    if ok:
        yield first
        yield from fast
        return
    warnings.warn(f"the exact crop path at {layer} differs from the generic path on this model; using the generic path")
    fast.close()
    yield from method.iter_targets(batch, targets)


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


def iter_at_stage(detector, method: BaseCAM, batch, targets: Sequence[MaskedMeanTarget],
                  layer: str) -> Iterator[CAMResult]:
    """Exact per-box CAMs at backbone stage ``k``: the stages up to ``k`` run once without a graph,
    the rest once with one; per box the head runs on a crop (as at the neck) and only the
    neck-to-stage part is back-propagated, with the crop's gradient as the cotangent."""
    model = detector.model
    k = _stage_index(detector, layer)
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
        neck = model.model.neck(_neck_inputs(model, stages))
        acts = leaf.numpy().astype(np.float32)
        for i, t in enumerate(targets):
            score, g, (rs, cs) = _crop_grad(model, neck, t)
            cot = paddle.zeros_like(neck)
            cot[:, :, rs, cs] = g
            (gl,) = paddle.grad([neck], [leaf], grad_outputs=[cot], retain_graph=i < len(targets) - 1)
            yield method.maps_from_captures([layer], {layer: acts}, {layer: gl.numpy()}, x, [t],
                                            np.array([float(score)], np.float32))


def _neck_inputs(model, stages: List[paddle.Tensor]) -> List[paddle.Tensor]:
    """What the model's neck reads from the backbone's stage outputs: PP-LCNetV3 (mobile) drops
    the first block and projects the rest by 1x1 convs (``model.layer``); PP-LCNetV4 (PP-OCRv6)
    passes all stages as they are."""
    layer = getattr(model.model, "layer", None)
    if layer is not None:
        return [layer[i](f) for i, f in enumerate(stages[1:])]
    return stages


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
