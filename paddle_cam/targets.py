"""Targets: callables that turn one batch item's model output into one scalar to explain.

``BaseCAM`` hands each target the output of *its own* batch item (batch axis removed), so a
list of targets must have exactly one entry per image.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import paddle

from .errors import TargetError


def first_leaf(output: Any, kinds: tuple) -> Any:
    """The first value of type ``kinds`` in a (possibly nested list/tuple/dict) model output, or None:
    models return a tensor, a list of maps (DB heads) or a dict (PaddleX), and targets and
    predictors all mean the first of them."""
    if isinstance(output, kinds):
        return output
    if isinstance(output, (list, tuple)) and output:
        return first_leaf(output[0], kinds)
    if isinstance(output, dict) and output:
        return first_leaf(next(iter(output.values())), kinds)
    return None


def first_tensor(output: Any) -> paddle.Tensor:
    """The first tensor of a model output; ``TargetError`` when it holds none."""
    t = first_leaf(output, (paddle.Tensor,))
    if t is None:
        raise TargetError(f"model output of type {type(output).__name__} holds no tensor")
    return t


class ClassifierOutputTarget:
    """The score of one class in a classifier's (N, C) output."""

    def __init__(self, category: int):
        self.category = int(category)

    def __call__(self, output: Any) -> paddle.Tensor:
        scores = first_tensor(output)
        if scores.ndim != 1:
            raise TargetError(f"ClassifierOutputTarget expects a (C,) score vector per item, got shape {scores.shape}")
        n = scores.shape[0]
        if not 0 <= self.category < n:
            raise TargetError(f"class id {self.category} is out of range: the model has {n} classes (0..{n - 1})")
        return scores[self.category]

    def __repr__(self) -> str:
        return f"ClassifierOutputTarget({self.category})"


class MaskedMeanTarget:
    """Mean of a dense output (e.g. a probability map) inside a binary mask.

    ``mask`` has the output's spatial size (H, W); ``channel`` picks the map when the item
    output is (C, H, W).
    """

    def __init__(self, mask: np.ndarray, channel: int = 0, name: str = "region"):
        mask = np.asarray(mask, dtype=np.float32)
        if mask.ndim != 2 or mask.sum() <= 0:
            raise TargetError("a region target needs a non-empty 2-D mask at the output's size")
        self.mask = mask
        self.channel = channel
        self.name = name

    def __call__(self, output: Any) -> paddle.Tensor:
        dense = first_tensor(output)
        if dense.ndim == 3:
            dense = dense[self.channel]
        if tuple(dense.shape) != self.mask.shape:
            raise TargetError(f"mask shape {self.mask.shape} does not match the output map {tuple(dense.shape)}")
        m = paddle.to_tensor(self.mask)
        return (dense * m).sum() / float(self.mask.sum())

    def __repr__(self) -> str:
        return f"MaskedMeanTarget({self.name}, area={int(self.mask.sum())})"


def default_targets(output: Any, batch_size: int) -> list:
    """Top class of each item for classifier outputs; other outputs need explicit targets."""
    scores = first_tensor(output)
    if scores.ndim != 2:
        raise TargetError(
            f"no default target for an output of shape {scores.shape}; pass targets= explicitly "
            "(one per batch item)"
        )
    top = np.argmax(scores.numpy(), axis=1)
    return [ClassifierOutputTarget(int(c)) for c in top[:batch_size]]


def check_targets(targets: Optional[Sequence], batch_size: int) -> None:
    """Fail loudly unless there is exactly one callable target per batch item."""
    if targets is None:
        return
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise TargetError("targets must be a list with one callable per batch item")
    if len(targets) != batch_size:
        raise TargetError(
            f"got {len(targets)} target(s) for a batch of {batch_size}: pass exactly one target per image"
        )
    for t in targets:
        if not callable(t):
            raise TargetError(f"target {t!r} is not callable; use e.g. ClassifierOutputTarget(class_id)")


def select_item(output: Any, index: int) -> Any:
    """The part of a (possibly nested) batched output that belongs to item ``index``."""
    if isinstance(output, paddle.Tensor):
        return output[index]
    if isinstance(output, (list, tuple)):
        return type(output)(select_item(o, index) for o in output)
    if isinstance(output, dict):
        return {k: select_item(v, index) for k, v in output.items()}
    return output


def score_of(target, item_output: Any) -> paddle.Tensor:
    """Call a target and check it returned a single scalar."""
    score = target(item_output)
    if not isinstance(score, paddle.Tensor):
        raise TargetError(f"target {target!r} returned {type(score).__name__}, expected a scalar paddle.Tensor")
    if int(np.prod(score.shape)) != 1:
        raise TargetError(f"target {target!r} returned shape {score.shape}; it must return one scalar per item")
    return score.reshape([])


def score_numpy(target, item_output: np.ndarray) -> float:
    """A target's value on one item's numpy output (black-box methods and the faithfulness curves).

    ``MaskedMeanTarget`` and ``ClassifierOutputTarget`` are computed in numpy; other paddle_cam
    targets get the output as a tensor unless they declare ``numpy_target = True``; any other
    callable (a numpy score function) gets the numpy array and may return a float.
    """
    item = np.asarray(item_output)
    if isinstance(target, MaskedMeanTarget):
        dense = item[target.channel] if item.ndim == 3 else item
        if dense.shape != target.mask.shape:
            raise TargetError(f"mask shape {target.mask.shape} does not match the output map {dense.shape}")
        return float((dense.astype(np.float64) * target.mask).sum() / float(target.mask.sum()))
    if isinstance(target, ClassifierOutputTarget):
        return float(item.reshape(-1)[target.category])
    if type(target).__module__.startswith("paddle_cam.") and not getattr(target, "numpy_target", False):
        return float(target(paddle.to_tensor(item)))
    value = target(item)
    if isinstance(value, paddle.Tensor):
        return float(value)
    return float(np.asarray(value, np.float64).reshape(-1)[0])
