"""BaseCAM: forward with hooks, targets, gradients, per-layer maps, upsampling and fusion.

A method subclass only says how channels are weighted (``get_cam_weights``) or, for methods
that are not a weighted channel sum, how a layer map is formed (``get_cam_image``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

import cv2
import numpy as np
import paddle

from .hooks import LayerHooks, LayerRef
from .modes import eval_mode
from .targets import check_targets, default_targets, score_of, select_item

ArrayLike = Union[np.ndarray, paddle.Tensor]


@dataclass
class CAMResult:
    """What a CAM call returns; all maps are float32 with a leading batch axis.

    raw:        (N, H, W) at input size, ReLU'd but not normalised. With several layers it is
                the mean of the per-layer raw maps. Keep it to compare models on one scale.
    normalized: (N, H, W) in [0, 1]; per image min-max of the (mean of per-layer normalised) map.
    per_layer_raw: input-size raw map of every layer.
    layer_maps: raw map of every layer at the layer's own resolution.
    scores:     (N,) value of each target on the unmodified input.
    """

    raw: np.ndarray
    normalized: np.ndarray
    per_layer_raw: Dict[str, np.ndarray]
    layer_maps: Dict[str, np.ndarray]
    scores: np.ndarray
    targets: list
    method: str
    layers: List[str] = field(default_factory=list)


def to_tensor(x: ArrayLike) -> paddle.Tensor:
    """A float32 NCHW tensor from a numpy array or tensor."""
    if isinstance(x, paddle.Tensor):
        t = x.astype("float32") if x.dtype != paddle.float32 else x
    else:
        t = paddle.to_tensor(np.ascontiguousarray(x, dtype=np.float32))
    if t.ndim != 4:
        raise ValueError(f"input must be a batch of images shaped (N, C, H, W), got {t.shape}")
    return t


def resize_maps(maps: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    """Bilinear resize of (N, h, w) maps to (N, H, W) (pixel-centre aligned, like OpenCV)."""
    h, w = int(size_hw[0]), int(size_hw[1])
    return np.stack([cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) for m in maps])


def normalize_maps(maps: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Per-image min-max to [0, 1]; a constant map becomes all zeros."""
    out = np.zeros_like(maps, dtype=np.float32)
    for i, m in enumerate(maps):
        lo, hi = float(m.min()), float(m.max())
        if hi - lo > eps:
            out[i] = (m - lo) / (hi - lo)
    return out


class BaseCAM:
    """Common machinery of the CAM family.

    A method class declares ``name`` (its one spelling in the CLI, configs and reports),
    ``kind`` (``"layer_cam"`` here), ``crop_paths`` (whether the detector's exact neck/stage crop
    paths reproduce its maps: true when a layer map is a function of that layer's activations
    and gradients alone) and ``uses_gradients`` (whether a call back-propagates to the layers).

    Args:
        model: a dynamic-graph ``paddle.nn.Layer``; it is put in ``eval()`` for the call and
            its training flag is restored afterwards.
        target_layers: dotted ``named_sublayers()`` names or Layer objects.
        reshape_transform: maps a layer output to (N, C, h, w) (e.g. for token sequences).
        gradient_support: zero the map wherever the target's gradient is exactly zero on every
            channel, i.e. where the layer cannot influence the target at all. Channel-weighted
            methods (Grad-CAM, Grad-CAM++, XGrad-CAM) otherwise paint every region that shares
            the weighted features - all text lines of a page for one DB box. Element-wise methods
            (LayerCAM, HiResCAM) already vanish there.
    """

    name = "base"
    kind = "layer_cam"
    crop_paths = False
    uses_gradients = True

    def __init__(
        self,
        model: paddle.nn.Layer,
        target_layers: Union[LayerRef, Sequence[LayerRef]],
        reshape_transform: Optional[Callable[[paddle.Tensor], paddle.Tensor]] = None,
        gradient_support: bool = False,
    ):
        self.model = model
        self.gradient_support = bool(gradient_support)
        if isinstance(target_layers, (str, paddle.nn.Layer)):
            target_layers = [target_layers]
        self.target_layers = list(target_layers)
        self.reshape_transform = reshape_transform

    # --- what a method overrides -------------------------------------------------------
    def get_cam_weights(self, activations: np.ndarray, grads: Optional[np.ndarray],
                        input_tensor: paddle.Tensor, targets: list, layer: str) -> np.ndarray:
        """(N, C) channel weights."""
        raise NotImplementedError

    def get_cam_image(self, activations: np.ndarray, grads: Optional[np.ndarray],
                      input_tensor: paddle.Tensor, targets: list, layer: str) -> np.ndarray:
        """(N, h, w) map before ReLU: weighted sum of channels by default."""
        weights = self.get_cam_weights(activations, grads, input_tensor, targets, layer)
        return np.einsum("nc,nchw->nhw", weights.astype(np.float64), activations.astype(np.float64))

    # --- shared machinery ---------------------------------------------------------------
    def forward_capture(self, x: paddle.Tensor, targets: Optional[list]):
        """One forward with hooks: activations, gradients (if the method needs them), scores."""
        n = x.shape[0]
        with LayerHooks(self.model, self.target_layers, graph_from_layers=self.uses_gradients) as hooks:
            if self.uses_gradients:
                output = self.model(x.detach())   # the graph starts at the first hooked layer
            else:
                with paddle.no_grad():
                    output = self.model(x)
            if targets is None:
                targets = default_targets(output, n)
            scores = [score_of(t, select_item(output, i)) for i, t in enumerate(targets)]
            acts = hooks.activations
            grads = {}
            if self.uses_gradients:
                total = scores[0] if n == 1 else paddle.add_n(scores)
                grads = hooks.gradients(total)
            names = list(hooks.names)
        acts_np = {k: self._as_nchw(v) for k, v in acts.items()}
        grads_np = {k: self._as_nchw(v) for k, v in grads.items()}
        score_np = np.array([float(s) for s in scores], dtype=np.float32)
        return names, acts_np, grads_np, targets, score_np

    def _as_nchw(self, t: paddle.Tensor) -> np.ndarray:
        if self.reshape_transform is not None:
            t = self.reshape_transform(t)
        a = t.detach().numpy().astype(np.float32)
        if a.ndim != 4:
            raise ValueError(f"layer output must be (N, C, h, w) for a CAM, got shape {a.shape}; "
                             "pass reshape_transform= for sequence outputs")
        return a

    def maps_from_captures(self, names: Sequence[str], activations: Dict[str, np.ndarray],
                           gradients: Dict[str, np.ndarray], input_tensor: paddle.Tensor, targets: list,
                           scores: np.ndarray) -> CAMResult:
        """The method's maps from captured (N, C, h, w) ``activations`` and ``gradients`` per
        layer name (gradients may be absent for gradient-free methods), as a full call forms them.

        A fast path that computes a layer's activations and its exact gradients some other way
        (e.g. the detector head on a crop of the neck) gets the same result as ``__call__``;
        ``scores`` are the (N,) target values on the unmodified input.
        """
        h, w = input_tensor.shape[2:]
        layer_maps, per_layer_raw = {}, {}
        for name in names:
            cam = self.get_cam_image(activations[name], gradients.get(name), input_tensor, targets, name)
            if self.gradient_support and gradients.get(name) is not None:
                cam = cam * (np.abs(gradients[name]).sum(axis=1) > 0)
            cam = np.maximum(cam, 0).astype(np.float32)
            layer_maps[name] = cam
            per_layer_raw[name] = resize_maps(cam, (h, w))
        if len(names) == 1:
            raw = per_layer_raw[names[0]]  # the same array: one layer needs no second copy
            normalized = normalize_maps(raw)
        else:
            raw = np.mean([per_layer_raw[k] for k in names], axis=0).astype(np.float32)
            normalized = normalize_maps(np.mean([normalize_maps(per_layer_raw[k]) for k in names], axis=0))
        return CAMResult(raw=raw, normalized=normalized, per_layer_raw=per_layer_raw,
                         layer_maps=layer_maps, scores=scores, targets=list(targets),
                         method=self.name, layers=list(names))

    def __call__(self, input_tensor: ArrayLike, targets: Optional[Sequence[Callable]] = None) -> CAMResult:
        x = to_tensor(input_tensor)
        check_targets(targets, x.shape[0])
        with eval_mode(self.model):
            names, acts, grads, targets, scores = self.forward_capture(x, list(targets) if targets else None)
            return self.maps_from_captures(names, acts, grads, x, targets, scores)

    def explain_targets(self, input_tensor: ArrayLike, targets: Sequence[Callable]) -> List[CAMResult]:
        """Many targets on ONE image: one forward, then one backward per target (graph retained).

        Exact, and much cheaper than a call per target, which repeats the forward each time.
        Methods without gradients fall back to one call per target.
        """
        return list(self.iter_targets(input_tensor, targets))

    def iter_targets(self, input_tensor: ArrayLike, targets: Sequence[Callable]) -> Iterator[CAMResult]:
        """``explain_targets`` as a generator: results can be consumed (and freed) one by one."""
        x = to_tensor(input_tensor)
        if x.shape[0] != 1:
            raise ValueError("explain_targets takes one image; loop over the batch for more")
        targets = list(targets)
        if not targets:
            return
        if not self.uses_gradients:
            for t in targets:
                yield self(x, [t])
            return
        for t in targets:
            check_targets([t], 1)
        with eval_mode(self.model), LayerHooks(self.model, self.target_layers, graph_from_layers=True) as hooks:
            output = self.model(x.detach())   # the graph starts at the first hooked layer
            item = select_item(output, 0)
            acts = {k: self._as_nchw(v) for k, v in hooks.activations.items()}
            for i, t in enumerate(targets):
                score = score_of(t, item)
                g = hooks.gradients(score, retain_graph=i < len(targets) - 1)
                grads = {k: self._as_nchw(v) for k, v in g.items()}
                yield self.maps_from_captures(hooks.names, acts, grads, x, [t],
                                              np.array([float(score)], np.float32))
