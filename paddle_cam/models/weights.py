"""Put weights from any of the formats users have into a dynamic-graph model.

Two ideas carry all loaders:
- width inference: layers whose weights have other channel counts than the architecture's
  defaults (pruned models, other scales) are rebuilt with the weights' shapes;
- execution-order mapping: when a program has no structured names, its parameter groups are
  matched, in order of first use, to the model's parameterised leaf layers in execution order.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import ModelLoadError
from .paddle_format import InferenceModel

_SUFFIX = {"w_0": "weight", "b_0": "bias", "w_1": "_mean", "w_2": "_variance"}


def _rebuilt(layer: nn.Layer, params: Dict[str, np.ndarray]) -> Optional[nn.Layer]:
    """A copy of ``layer`` sized to ``params`` (or None when it already fits)."""
    w = params.get("weight")
    if w is None:
        return None
    if isinstance(layer, nn.Conv2D):
        if tuple(layer.weight.shape) == w.shape:
            return None
        out_c, in_per_group = w.shape[0], w.shape[1]
        depthwise = layer._groups > 1 and layer._groups == layer._in_channels
        groups = out_c if depthwise else layer._groups
        new = nn.Conv2D(in_per_group * groups, out_c, layer._kernel_size, layer._stride, layer._padding,
                        dilation=layer._dilation, groups=groups,
                        bias_attr=False if layer.bias is None else None, data_format=layer._data_format)
        return new
    if isinstance(layer, (nn.BatchNorm2D, nn.BatchNorm1D)) or type(layer).__name__ == "BatchNorm":
        if tuple(layer.weight.shape) == w.shape:
            return None
        return type(layer)(int(w.shape[0]), momentum=layer._momentum, epsilon=layer._epsilon) \
            if isinstance(layer, (nn.BatchNorm2D, nn.BatchNorm1D)) else nn.BatchNorm(int(w.shape[0]))
    if isinstance(layer, nn.Linear):
        if tuple(layer.weight.shape) == w.shape:
            return None
        return nn.Linear(int(w.shape[0]), int(w.shape[1]), bias_attr=False if layer.bias is None else None)
    return None


def conform_to_state_dict(model: nn.Layer, state: Dict[str, np.ndarray]) -> int:
    """Rebuild conv/BN/linear layers whose shapes differ from ``state``; returns how many."""
    changed = 0
    for name, layer in list(model.named_sublayers()):
        prefix = name + "."
        own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
        new = _rebuilt(layer, own)
        if new is None:
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = model if not parent_name else dict(model.named_sublayers())[parent_name]
        parent._sub_layers[attr] = new
        changed += 1
    return changed


def load_state(model: nn.Layer, state: Dict[str, np.ndarray], source: str) -> None:
    """Strict load: every model tensor must be given, with its shape; extra entries are an error."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} model tensors have no weight (first: {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} weights fit no model tensor (first: {extra[0]})")
        raise ModelLoadError(f"weights in {source} do not fit the architecture: {'; '.join(parts)}")
    for k, t in own.items():
        if tuple(t.shape) != tuple(state[k].shape):
            raise ModelLoadError(f"weight {k} in {source} has shape {tuple(state[k].shape)}, "
                                 f"the model expects {tuple(t.shape)}")
    model.set_state_dict({k: paddle.to_tensor(np.asarray(v, dtype=np.float32)) if v.dtype != np.float32
                          else paddle.to_tensor(v) for k, v in state.items()})


def first_calls(model: nn.Layer, example: paddle.Tensor, select: Callable[[nn.Layer], bool],
                post: bool = True) -> List[Tuple[str, nn.Layer, Any, Any]]:
    """``(name, layer, input, output)`` of each selected sublayer at its first call in one forward
    pass on ``example`` (no gradients), in call order; hooks are removed even on error.

    ``post=False`` records at the start of the call (``output`` is None), which orders a layer
    before the sublayers it runs.
    """
    calls: List[Tuple[str, nn.Layer, Any, Any]] = []
    seen = set()
    handles = []

    def make(name):
        def record(layer, inputs, output=None):
            if id(layer) not in seen:
                seen.add(id(layer))
                calls.append((name, layer, inputs[0] if isinstance(inputs, (tuple, list)) else inputs, output))
        return record

    try:
        for name, layer in model.named_sublayers():
            if select(layer):
                hook = layer.register_forward_post_hook if post else layer.register_forward_pre_hook
                handles.append(hook(make(name)))
        with paddle.no_grad():
            model(example if isinstance(example, paddle.Tensor) else paddle.to_tensor(example))
    finally:
        for h in handles:
            h.remove()
    return calls


def leaf_layers_in_execution_order(model: nn.Layer, example: paddle.Tensor) -> List[Tuple[str, nn.Layer]]:
    """Layers owning parameters or buffers, in the order a forward pass first calls them."""
    calls = first_calls(model, example, lambda layer: bool(layer._parameters or layer._buffers), post=False)
    return [(name, layer) for name, layer, _, _ in calls]


def state_from_program_order(model: nn.Layer, inf: InferenceModel, example: paddle.Tensor,
                             check_shapes: bool = True) -> Dict[str, np.ndarray]:
    """Map program parameter groups (``conv2d_3.w_0`` ...) onto the model by execution order.

    With ``check_shapes=False`` widths may differ (pruned or other-scale weights): follow with
    ``conform_to_state_dict`` and a strict ``load_state``, which checks every shape.
    """
    groups: List[Tuple[str, List[str]]] = []
    index: Dict[str, int] = {}
    for var in inf.program.names_in_use_order:
        prefix, _, suffix = var.rpartition(".")
        if prefix not in index:
            index[prefix] = len(groups)
            groups.append((prefix, []))
        groups[index[prefix]][1].append(var)
    layers = leaf_layers_in_execution_order(model, example)
    if len(layers) != len(groups):
        raise ModelLoadError(
            f"{inf.model_file} has {len(groups)} parameterised layers but the architecture has {len(layers)}: "
            "the folder holds another model than the one asked for")
    state: Dict[str, np.ndarray] = {}
    for (lname, layer), (prefix, vars_) in zip(layers, groups):
        own = dict(layer.state_dict(include_sublayers=False))
        for var in vars_:
            suffix = var.rpartition(".")[2]
            if "weight" in own:
                attr = _SUFFIX.get(suffix)
            else:  # custom parameters (e.g. a learnable affine's scale, bias) are w_0, w_1, ... in order
                i = int(suffix[2:]) if re.fullmatch(r"w_\d+", suffix) else -1
                attr = list(own)[i] if 0 <= i < len(own) else None
            if attr is None or attr not in own:
                raise ModelLoadError(f"cannot place {var} on layer {lname} ({type(layer).__name__}); "
                                     "the folder holds another model than the one asked for")
            arr = inf.weights[var]
            if check_shapes and tuple(own[attr].shape) != tuple(arr.shape):
                raise ModelLoadError(f"{var} {tuple(arr.shape)} does not fit {lname}.{attr} "
                                     f"{tuple(own[attr].shape)}: the folder holds another model")
            state[f"{lname}.{attr}"] = arr
    return state


def rename(state: Dict[str, np.ndarray], rules) -> Dict[str, np.ndarray]:
    """Apply ``(regex, replacement)`` rules once per key, in order."""
    out = {}
    for k, v in state.items():
        for pat, rep in rules:
            k = re.sub(pat, rep, k)
        out[k] = v
    return out


def read_pdparams(path: str) -> Dict[str, np.ndarray]:
    """A training checkpoint (``paddle.save`` of a state dict) as numpy arrays."""
    try:
        raw = paddle.load(path, return_numpy=True)
    except Exception as e:
        raise ModelLoadError(f"cannot read {path} as a Paddle checkpoint ({type(e).__name__}); "
                             "pass a .pdparams written by paddle.save") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} does not hold a state dict")
    return {k: np.asarray(v) for k, v in raw.items() if hasattr(v, "shape")}
