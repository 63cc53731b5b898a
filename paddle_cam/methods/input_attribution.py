"""Shared base of the input-attribution methods (Integrated Gradients, SmoothGrad) and of the
black-box ones (occlusion, RISE), as ``base.py``'s ``BaseCAM`` is for the CAM family.

``InputAttribution`` owns the call conventions every paddle_cam method has: ``__call__`` (one
target per image), ``explain_targets`` / ``iter_targets`` (many targets on one image, sharing
the forwards), default targets, and the result type; a method file only says how the
attributions of all targets on one (C, H, W) input are computed (``attribute``).

``GradientAttribution`` adds what gradient methods share: a dynamic-graph model in ``eval()``
for the call (training flag restored) and ``compute`` returning signed (T, C, H, W)
attributions. Black-box methods (``occlusion.BlackBoxMethod``) work on any numpy predictor.

Results carry an input-size (N, H, W) ``raw`` map, ``reduce`` of the attributions over
channels (``abs`` = sum_c |attr|, ``positive`` = ReLU(sum_c attr)), under the layer name
``"input"``; the signed attributions stay in ``AttributionResult.attributions``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle

from ..base import CAMResult, normalize_maps, to_tensor
from ..baselines import make_baseline
from ..modes import eval_mode
from ..targets import check_targets, default_targets, score_of, select_item

Baseline = Union[str, float, np.ndarray, Callable[[np.ndarray], np.ndarray]]


@dataclass
class AttributionResult(CAMResult):
    """A CAMResult for input-attribution and black-box methods.

    ``raw``/``normalized`` are (N, H, W) input-size maps; ``per_layer_raw`` and ``layer_maps``
    hold the same map under the name ``"input"``. Extra fields:
    attributions: (N, C, H, W) signed attributions (C = 1 for occlusion/RISE maps).
    delta:        (N,) completeness gap sum(attr) - (f(x) - f(baseline)), IG only.
    """

    attributions: Optional[np.ndarray] = None
    delta: Optional[np.ndarray] = None


def input_baseline(x: np.ndarray, baseline: Baseline) -> np.ndarray:
    """(C, H, W) baseline for one (C, H, W) input: ``paper``/``white``/``blur`` (see
    ``paddle_cam.baselines.make_baseline``), a number, a (C,) colour, a full array, or a
    callable on the input."""
    if isinstance(baseline, str):
        return make_baseline(x, baseline)
    if callable(baseline):
        return np.asarray(baseline(x), np.float32).reshape(x.shape)
    b = np.asarray(baseline, np.float32)
    if b.ndim == 1:
        b = b.reshape(-1, 1, 1)
    return np.broadcast_to(b, x.shape).astype(np.float32)


def reduce_attributions(attr: np.ndarray, reduce: str) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W) non-negative map: ``positive`` = ReLU(sum_c), ``abs`` = sum_c |.|."""
    if reduce == "positive":
        return np.maximum(attr.sum(axis=1), 0).astype(np.float32)
    if reduce == "abs":
        return np.abs(attr).sum(axis=1).astype(np.float32)
    raise ValueError(f"reduce must be 'positive' or 'abs', not {reduce!r}")


def attribution_result(attr: np.ndarray, reduce: str, scores: np.ndarray, targets: list, method: str,
                       delta: Optional[np.ndarray] = None) -> AttributionResult:
    """Wrap (N, C, H, W) attributions as an ``AttributionResult``."""
    raw = reduce_attributions(attr, reduce)
    return AttributionResult(raw=raw, normalized=normalize_maps(raw), per_layer_raw={"input": raw},
                             layer_maps={"input": raw}, scores=np.asarray(scores, np.float32),
                             targets=list(targets), method=method, layers=["input"],
                             attributions=attr.astype(np.float32), delta=delta)


def stack_results(parts: List[AttributionResult], method: str) -> AttributionResult:
    """One batched ``AttributionResult`` from per-image results of batch size 1."""
    raw = np.concatenate([p.raw for p in parts])
    attr = np.concatenate([p.attributions for p in parts])
    delta = None if parts[0].delta is None else np.concatenate([p.delta for p in parts])
    return AttributionResult(raw=raw, normalized=np.concatenate([p.normalized for p in parts]),
                             per_layer_raw={"input": raw}, layer_maps={"input": raw},
                             scores=np.concatenate([p.scores for p in parts]),
                             targets=[t for p in parts for t in p.targets], method=method, layers=["input"],
                             attributions=attr, delta=delta)


def as_numpy_input(input_tensor) -> np.ndarray:
    """(N, C, H, W) float32 numpy batch from a tensor or array."""
    x = input_tensor.numpy() if hasattr(input_tensor, "numpy") else np.asarray(input_tensor)
    x = np.asarray(x, np.float32)
    if x.ndim != 4:
        raise ValueError(f"input must be a batch of images shaped (N, C, H, W), got {x.shape}")
    return x


class InputAttribution:
    """Call conventions of input-attribution methods; a subclass implements ``attribute``
    (and ``default_targets`` when its model is not a dynamic Layer)."""

    name = "inputattribution"
    # attributions live on the input, not on a layer the detector's crop paths could cut
    crop_paths = False

    # --- what a method provides ----------------------------------------------------------
    def attribute(self, x: np.ndarray, targets: Sequence[Callable]) -> List[AttributionResult]:
        """Results (batch size 1 each) of T targets on one (C, H, W) input."""
        raise NotImplementedError

    def default_targets(self, x: np.ndarray) -> list:
        """One target per image of an (N, C, H, W) batch when the caller gives none."""
        raise NotImplementedError

    # --- calls ---------------------------------------------------------------------------
    def __call__(self, input_tensor, targets: Optional[Sequence[Callable]] = None) -> AttributionResult:
        """One target per image (default: the model's top class); images are attributed one
        after another."""
        x = as_numpy_input(input_tensor)
        check_targets(targets, x.shape[0])
        targets = list(targets) if targets else self.default_targets(x)
        return stack_results([self.attribute(x[i], [t])[0] for i, t in enumerate(targets)], self.name)

    def explain_targets(self, input_tensor, targets: Sequence[Callable]) -> List[AttributionResult]:
        """Many targets on ONE image: every forward is shared by all of them."""
        x = as_numpy_input(input_tensor)
        if x.shape[0] != 1:
            raise ValueError("explain_targets takes one image; loop over the batch for more")
        targets = list(targets)
        for t in targets:
            check_targets([t], 1)
        return self.attribute(x[0], targets) if targets else []

    def iter_targets(self, input_tensor, targets: Sequence[Callable]) -> Iterator[AttributionResult]:
        """``explain_targets`` as a generator (the BaseCAM interface the page explainer uses)."""
        yield from self.explain_targets(input_tensor, targets)


class GradientAttribution(InputAttribution):
    """Input-gradient methods on a dynamic-graph ``model`` (put in ``eval()`` for the call, its
    training flag restored); a subclass implements ``compute``."""

    kind = "input_gradient"

    def __init__(self, model: paddle.nn.Layer, reduce: str = "abs"):
        self.model = model
        reduce_attributions(np.zeros((1, 1, 1, 1)), reduce)  # fail early on a bad name
        self.reduce = reduce

    def compute(self, x: np.ndarray, targets: Sequence[Callable]
                ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """Signed (T, C, H, W) attributions of T targets on one (C, H, W) input, the targets'
        scores f(x) (T,) and the completeness gaps (T,) or None."""
        raise NotImplementedError

    def input_gradients(self, batch: np.ndarray, targets: Sequence[Callable],
                        weights: Optional[Sequence[float]] = None) -> List[np.ndarray]:
        """Per target, sum_j weights[j] x d target(item j) / d item j as a (C, H, W) float64
        array: one forward of the (B, C, H, W) batch, one backward per target."""
        xs = paddle.to_tensor(np.ascontiguousarray(batch, np.float32))
        xs.stop_gradient = False
        out = self.model(xs)
        w = np.ones(len(batch)) if weights is None else np.asarray(weights, np.float64)
        grads = []
        for ti, t in enumerate(targets):
            total = paddle.add_n([score_of(t, select_item(out, j)) * float(w[j]) for j in range(len(batch))])
            g = paddle.grad([total], [xs], retain_graph=ti < len(targets) - 1)[0]
            grads.append(g.numpy().astype(np.float64).sum(axis=0))
        return grads

    def target_scores(self, batch: np.ndarray, targets: Sequence[Callable]) -> np.ndarray:
        """(B, T) value of every target on every item of a batch (no graph)."""
        with paddle.no_grad():
            out = self.model(paddle.to_tensor(np.ascontiguousarray(batch, np.float32)))
            return np.array([[float(score_of(t, select_item(out, j))) for t in targets]
                             for j in range(len(batch))], np.float64)

    def default_targets(self, x: np.ndarray) -> list:
        with eval_mode(self.model), paddle.no_grad():
            return default_targets(self.model(to_tensor(x)), x.shape[0])

    def attribute(self, x: np.ndarray, targets: Sequence[Callable]) -> List[AttributionResult]:
        with eval_mode(self.model):
            attr, fx, delta = self.compute(x, targets)
        return [attribution_result(attr[i:i + 1], self.reduce, fx[i:i + 1], [t], self.name,
                                   None if delta is None else delta[i:i + 1])
                for i, t in enumerate(targets)]
