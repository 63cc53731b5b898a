"""ONNX exports (paddle2onnx) placed onto PaddleX dynamic-graph models, checked by onnxruntime.

An ONNX file holds weights without the names of the modules they belong to (``conv2d_112.w_0``),
often with batch norm folded into the convolution (a ``Conv`` followed by an ``Add`` of a
``[1, C, 1, 1]`` constant). This module:

1. reads the graph and its constants (initialisers, ``Constant`` nodes, and constant
   ``Identity``/``Reshape``/``Unsqueeze``/``Squeeze``/``Cast``/``Transpose`` of them):
   :func:`read_onnx` -> :class:`OnnxGraph`;
2. cuts it into parameter *units*: a ``Conv``/``ConvTranspose``/``MatMul``/``Gemm`` with its
   constant bias and a following ``BatchNormalization``, or a scalar affine (``Mul`` by a ``[1]``
   constant, then ``Add`` of one, PP-LCNetV3's learnable affine block): :func:`onnx_units`;
3. cuts the dynamic model into the same kind of units, in forward order (a conv and the batch
   norm reading its output form one unit): :func:`model_units`;
4. matches them by **data flow**, not list position: a model unit takes an ONNX unit whose
   producing units are all placed already, of the same kind, kernel and stride, seeing an input
   of the same spatial size on a probe image (exact weight shape preferred). List position
   fails on necks that visit identical layers in another order (PP-OCRv6 det's lateral convs,
   PP-OCRv4's RSE-FPN); data flow and input size tell them apart: :func:`match_units`;
5. writes the weights: folded batch norm goes to the conv bias, or, when the module has a batch
   norm, into it as an identity (mean 0, variance 1 - eps, scale 1, bias = folded bias);
   widths come from the weights (:func:`paddle_cam.models.weights.conform_to_state_dict`):
   :func:`state_from_onnx`, :func:`load_onnx_weights`;
6. checks the loaded model against onnxruntime on a small input and raises
   :class:`~paddle_cam.errors.ModelLoadError` above a tolerance: :func:`verify_against_onnxruntime`.

Steps 1, 6 and :func:`run_onnxruntime` are model-agnostic; recognisers (linear layers, layer
norm, attention) reuse them and can pass their own unit kinds to :func:`match_units`.

Example:
    >>> g = read_onnx("PP-OCRv6_det_small.onnx")                                  # doctest: +SKIP
    >>> model = build_v6_det()                                                    # doctest: +SKIP
    >>> load_onnx_weights(model, g, np.zeros((1, 3, 64, 96), np.float32))         # doctest: +SKIP
    >>> verify_against_onnxruntime(lambda x: model(paddle.to_tensor(x)).numpy(), g,
    ...                            np.random.rand(1, 3, 96, 128).astype("float32"),
    ...                            "PP-OCRv6_small_det")                          # doctest: +SKIP
    3.1e-06
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
import paddle.nn as nn

from ..errors import ModelLoadError

ANCHORS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
_PASS = ("Identity",)
_FOLDABLE = ("Identity", "Reshape", "Unsqueeze", "Squeeze", "Cast", "Transpose", "Flatten")


@dataclass
class OnnxGraph:
    """An ONNX model read into memory.

    Attributes:
        path: the file.
        model: the ``onnx.ModelProto``.
        nodes: graph nodes in file order.
        consts: constant tensors by name (initialisers, ``Constant`` outputs and folded views).
        producer: tensor name -> index of the node that writes it.
        consumers: tensor name -> indices of the nodes that read it.
        input_name: the (first) graph input that is not a constant.
        output_names: graph outputs.
        metadata: ``metadata_props`` (e.g. a recogniser's ``character`` dictionary).
    """

    path: str
    model: object
    nodes: list
    consts: Dict[str, np.ndarray]
    producer: Dict[str, int]
    consumers: Dict[str, List[int]]
    input_name: str
    output_names: List[str]
    metadata: Dict[str, str]

    def value(self, name: str) -> Optional[np.ndarray]:
        """The constant value of tensor ``name``, or None when it depends on the input."""
        return self.consts.get(name)

    def op_counts(self) -> Dict[str, int]:
        """How many nodes of each op type the graph has (``{"Conv": 83, ...}``)."""
        out: Dict[str, int] = {}
        for n in self.nodes:
            out[n.op_type] = out.get(n.op_type, 0) + 1
        return out

    def output_rank(self) -> int:
        """Rank of the first graph output (4 for a DB probability map, 3 for CTC logits)."""
        out = self.model.graph.output[0]
        return len(out.type.tensor_type.shape.dim)


def find_onnx_file(source: str) -> Optional[str]:
    """``source`` if it is an ``.onnx`` file; the single ``.onnx`` file of a folder; else None.

    Raises:
        ModelLoadError: a folder holds several ``.onnx`` files (which one is meant is unclear).
    """
    if os.path.isfile(source):
        return source if source.lower().endswith(".onnx") else None
    if os.path.isdir(source):
        files = sorted(f for f in os.listdir(source) if f.lower().endswith(".onnx"))
        if len(files) > 1:
            raise ModelLoadError(f"{source} holds several ONNX files ({', '.join(files[:4])}); pass the one to load")
        if files:
            return os.path.join(source, files[0])
    return None


def _fold(graph_nodes, consts: Dict[str, np.ndarray]) -> None:
    from onnx import numpy_helper

    for n in graph_nodes:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
                elif a.name in ("value_float", "value_int"):
                    consts[n.output[0]] = np.array(a.f if a.name == "value_float" else a.i)
                elif a.name in ("value_floats", "value_ints"):
                    consts[n.output[0]] = np.array(list(a.floats) if a.name == "value_floats" else list(a.ints))
            continue
        if n.op_type not in _FOLDABLE or not n.input or n.input[0] not in consts:
            continue
        x = consts[n.input[0]]
        attrs = {a.name: a for a in n.attribute}
        try:
            if n.op_type in ("Identity",):
                y = x
            elif n.op_type == "Reshape" and len(n.input) > 1 and n.input[1] in consts:
                shape = [int(s) for s in consts[n.input[1]]]
                shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = x.reshape(shape)
            elif n.op_type == "Unsqueeze":
                axes = list(attrs["axes"].ints) if "axes" in attrs else [int(a) for a in consts.get(n.input[1], [])]
                y = x
                for ax in sorted(axes):
                    y = np.expand_dims(y, ax)
            elif n.op_type == "Squeeze":
                axes = list(attrs["axes"].ints) if "axes" in attrs else \
                    ([int(a) for a in consts[n.input[1]]] if len(n.input) > 1 and n.input[1] in consts else None)
                y = np.squeeze(x, axis=tuple(axes) if axes else None)
            elif n.op_type == "Transpose":
                y = np.transpose(x, list(attrs["perm"].ints) if "perm" in attrs else None)
            elif n.op_type == "Flatten":
                ax = attrs["axis"].i if "axis" in attrs else 1
                y = x.reshape(int(np.prod(x.shape[:ax])), -1)
            else:  # Cast keeps float weights float
                y = x
        except Exception:
            continue
        consts[n.output[0]] = y


def read_onnx(path: str) -> OnnxGraph:
    """An ONNX file's graph, constants and metadata.

    Raises:
        ModelLoadError: the file is missing, truncated or not an ONNX model (one line, with the fix).
    """
    import onnx
    from onnx import numpy_helper

    if not os.path.isfile(path):
        raise ModelLoadError(f"ONNX file not found: {path}; pass an .onnx file or a folder holding one")
    try:
        model = onnx.load(path)
        g = model.graph
        if not g.node:
            raise ValueError("empty graph")
        consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    except Exception as e:
        raise ModelLoadError(f"{path} is truncated or not an ONNX model ({type(e).__name__}); "
                             "copy or export the file again") from None
    nodes = list(g.node)
    _fold(nodes, consts)
    producer: Dict[str, int] = {}
    consumers: Dict[str, List[int]] = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            producer[o] = i
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(i)
    inputs = [i.name for i in g.input if i.name not in consts]
    if not inputs:
        raise ModelLoadError(f"{path} has no graph input; it is not a model that reads an image")
    metadata = {p.key: p.value for p in model.metadata_props}
    return OnnxGraph(path, model, nodes, consts, producer, consumers, inputs[0], [o.name for o in g.output],
                     metadata)


_SESSIONS: Dict[Tuple[str, Tuple[str, ...]], object] = {}


def onnx_session(graph: OnnxGraph, extra_outputs: Sequence[str] = (), threads: int = 1):
    """An onnxruntime CPU session of ``graph`` (graph optimisations off: the same arithmetic as
    the ops' definitions, so differences to the dynamic graph are the kernels' own). With
    ``extra_outputs``, those intermediate tensors are outputs too."""
    import onnx
    import onnxruntime as ort

    key = (graph.path, tuple(extra_outputs))
    if key in _SESSIONS:
        return _SESSIONS[key]
    model = graph.model
    if extra_outputs:
        model = onnx.ModelProto()
        model.CopyFrom(graph.model)
        have = {o.name for o in model.graph.output}
        for name in extra_outputs:
            if name not in have:
                model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        first = str(e).splitlines()[0][:120] if str(e) else ""
        raise ModelLoadError(f"onnxruntime cannot run {graph.path} ({type(e).__name__}: {first}); "
                             "the file is damaged or uses ops this onnxruntime lacks") from None
    if len(_SESSIONS) > 8:
        _SESSIONS.clear()
    _SESSIONS[key] = sess
    return sess


def run_onnxruntime(graph: OnnxGraph, x: np.ndarray, extra_outputs: Sequence[str] = ()) -> Dict[str, np.ndarray]:
    """Outputs of ``graph`` on input ``x`` (float32), by tensor name: the graph outputs and any
    ``extra_outputs`` (intermediate tensors).

    Example:
        >>> run_onnxruntime(g, np.zeros((1, 3, 64, 64), np.float32))[g.output_names[0]].shape  # doctest: +SKIP
        (1, 1, 64, 64)
    """
    sess = onnx_session(graph, extra_outputs)
    names = [o.name for o in sess.get_outputs()]
    try:
        outs = sess.run(names, {graph.input_name: np.ascontiguousarray(x, dtype=np.float32)})
    except Exception as e:
        raise ModelLoadError(f"onnxruntime failed on {graph.path} with an input of shape {list(x.shape)} "
                             f"({type(e).__name__}); the file does not take such an image") from None
    return dict(zip(names, outs))


def verify_against_onnxruntime(forward: Callable[[np.ndarray], np.ndarray], graph: OnnxGraph, x: np.ndarray,
                               family: str, tol: float = 1e-4, output: int = 0) -> float:
    """Max abs difference between ``forward(x)`` (the dynamic model, numpy out) and onnxruntime's
    output number ``output`` on ``x``; raises when it exceeds ``tol``.

    Raises:
        ModelLoadError: "<file> does not match onnxruntime (max diff X); the file is not a
            <family> export or is damaged".
    """
    ref = run_onnxruntime(graph, x)[graph.output_names[output]]
    out = np.asarray(forward(x))
    diff = float(np.abs(out - ref).max()) if out.shape == ref.shape else float("inf")
    if not diff <= tol:
        shape = "" if out.shape == ref.shape else f", output shape {list(out.shape)} vs {list(ref.shape)}"
        raise ModelLoadError(f"{graph.path} loaded into {family} does not match onnxruntime (max diff {diff:.3g}"
                             f"{shape}); the file is not a {family} export or is damaged")
    return diff


def accurate_global_pooling(model) -> int:
    """Swap every ``AdaptiveAvgPool2D(1)`` of ``model`` for :class:`TwoStageMean` (same module
    name, same function); returns how many. For models checked against onnxruntime: Paddle's
    global average pool sums a whole feature map in one float32 pass, ten times less accurate
    than onnxruntime's ``ReduceMean``/``GlobalAveragePool`` (relative error 7e-6 vs 7e-7 on a
    48 x 144 x 240 map, far more where positive and negative values cancel); through the
    squeeze-excitation gates of PP-LCNetV4 that alone moved PP-OCRv6 small det's 960-px
    probability map by 5.6e-4 from onnxruntime, 4.0e-5 with this swap.
    """
    count = 0
    subs = dict(model.named_sublayers())
    for name, layer in list(subs.items()):
        if isinstance(layer, nn.AdaptiveAvgPool2D) and layer._output_size in (1, [1, 1], (1, 1)):
            parent_name, _, attr = name.rpartition(".")
            parent = subs[parent_name] if parent_name else model
            parent._sub_layers[attr] = TwoStageMean()
            count += 1
    return count


def standard_global_pooling(model) -> int:
    """Undo :func:`accurate_global_pooling` (Paddle's ``AdaptiveAvgPool2D(1)`` again, e.g. before
    exporting the architecture as PaddleX defines it); returns how many layers were swapped."""
    count = 0
    subs = dict(model.named_sublayers())
    for name, layer in list(subs.items()):
        if isinstance(layer, TwoStageMean):
            parent_name, _, attr = name.rpartition(".")
            parent = subs[parent_name] if parent_name else model
            parent._sub_layers[attr] = nn.AdaptiveAvgPool2D(1)
            count += 1
    return count


class TwoStageMean(nn.Layer):
    """Global average pool (N, C, H, W) -> (N, C, 1, 1) as a mean over W, then over H (each
    float32 sum is short, so the result is as accurate as onnxruntime's)."""

    def forward(self, x):
        return x.mean(axis=3, keepdim=True).mean(axis=2, keepdim=True)


# ---------------------------------------------------------------------------------------------
# units on the ONNX side

@dataclass
class OnnxUnit:
    """Parameters of one layer as the ONNX graph holds them.

    ``kind``: ``conv``, ``conv_transpose``, ``linear`` or ``affine``; ``params``: ``weight``
    (Paddle layout: conv ``[out, in/g, k, k]``, conv-transpose ``[in, out/g, k, k]``, linear
    ``[in, out]``; affine ``scale``), ``bias`` (flat), and ``bn_scale``/``bn_bias``/``bn_mean``/
    ``bn_var``/``bn_eps`` when an unfolded ``BatchNormalization`` follows.
    """

    index: int                      # position in onnx_units()
    kind: str
    node: int                       # the anchor node
    input: str                      # its data input
    output: str                     # the unit's last output
    params: Dict[str, np.ndarray]
    attrs: Dict[str, object]
    tensors: List[str] = field(default_factory=list)   # tensors written inside the unit
    parents: FrozenSet[int] = frozenset()


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return list(a.ints) if a.ints else (a.i if a.type == 2 else a.f if a.type == 1 else default)
    return default


def _sole_consumer(graph: OnnxGraph, tensor: str, ops) -> Optional[Tuple[int, str]]:
    """(node index, tensor after Identity nodes) when ``tensor`` flows only into one node of ``ops``."""
    seen = 0
    while True:
        cons = graph.consumers.get(tensor, [])
        if len(cons) != 1 or tensor in graph.output_names:
            return None
        n = graph.nodes[cons[0]]
        if n.op_type in _PASS:
            tensor = n.output[0]
            seen += 1
            if seen > 8:
                return None
            continue
        return (cons[0], tensor) if n.op_type in ops else None


def _const_operand(graph: OnnxGraph, node, data: str) -> Optional[np.ndarray]:
    others = [t for t in node.input if t != data]
    if len(others) != 1 or len(node.input) != 2:
        return None
    v = graph.value(others[0])
    return v if v is not None and np.issubdtype(v.dtype, np.floating) else None


def _attach_tail(graph: OnnxGraph, unit: OnnxUnit, channels: int) -> None:
    """Folded bias (``Add`` of a C-sized constant) and batch norm after an anchor."""
    out = unit.output
    step = _sole_consumer(graph, out, ("Add",))
    if step is not None and "bias" not in unit.params:
        i, t = step
        c = _const_operand(graph, graph.nodes[i], t)
        if c is not None and c.size == channels:
            unit.params["bias"] = c.reshape(-1).astype(np.float32)
            unit.output = graph.nodes[i].output[0]
            unit.tensors.append(unit.output)
    step = _sole_consumer(graph, unit.output, ("BatchNormalization",))
    if step is not None:
        n = graph.nodes[step[0]]
        vals = [graph.value(t) for t in n.input[1:5]]
        if all(v is not None for v in vals):
            for k, v in zip(("bn_scale", "bn_bias", "bn_mean", "bn_var"), vals):
                unit.params[k] = v.astype(np.float32)
            unit.params["bn_eps"] = np.array(_attr(n, "epsilon", 1e-5), np.float32)
            unit.output = n.output[0]
            unit.tensors.append(unit.output)


def onnx_units(graph: OnnxGraph) -> List[OnnxUnit]:
    """The parameter units of ``graph`` in file order, with their data-flow parents."""
    units: List[OnnxUnit] = []
    claimed = set()
    for i, n in enumerate(graph.nodes):
        if i in claimed:
            continue
        op = n.op_type
        if op in ("Conv", "ConvTranspose") and len(n.input) > 1 and graph.value(n.input[1]) is not None:
            w = graph.value(n.input[1]).astype(np.float32)
            u = OnnxUnit(len(units), "conv" if op == "Conv" else "conv_transpose", i, n.input[0], n.output[0],
                         {"weight": w}, {"group": _attr(n, "group", 1), "strides": _attr(n, "strides", [1, 1]),
                                         "kernel": list(w.shape[2:])}, [n.output[0]])
            if len(n.input) > 2 and n.input[2] and graph.value(n.input[2]) is not None:
                u.params["bias"] = graph.value(n.input[2]).reshape(-1).astype(np.float32)
            groups = int(u.attrs["group"] or 1)
            _attach_tail(graph, u, w.shape[0] if op == "Conv" else w.shape[1] * groups)
        elif op in ("MatMul", "Gemm") and len(n.input) > 1 and graph.value(n.input[1]) is not None \
                and graph.value(n.input[0]) is None:
            w = graph.value(n.input[1]).astype(np.float32)
            if op == "Gemm" and _attr(n, "transB", 0):
                w = w.T
            u = OnnxUnit(len(units), "linear", i, n.input[0], n.output[0], {"weight": w}, {}, [n.output[0]])
            if op == "Gemm" and len(n.input) > 2 and graph.value(n.input[2]) is not None:
                u.params["bias"] = graph.value(n.input[2]).reshape(-1).astype(np.float32)
            _attach_tail(graph, u, w.shape[-1])
        elif op == "Mul":
            data = [t for t in n.input if graph.value(t) is None]
            scale = _const_operand(graph, n, data[0]) if len(data) == 1 else None
            if scale is None or scale.shape != (1,):
                continue
            u = OnnxUnit(len(units), "affine", i, data[0], n.output[0], {"scale": scale.astype(np.float32)}, {},
                         [n.output[0]])
            step = _sole_consumer(graph, n.output[0], ("Add",))
            if step is not None:
                b = _const_operand(graph, graph.nodes[step[0]], step[1])
                if b is not None and b.shape == (1,):
                    u.params["bias"] = b.astype(np.float32)
                    u.output = graph.nodes[step[0]].output[0]
                    u.tensors.append(u.output)
                    claimed.add(step[0])
        else:
            continue
        units.append(u)
    link_parents(graph, units)
    return units


def link_parents(graph: OnnxGraph, units: List[OnnxUnit]) -> None:
    """Each unit's nearest upstream units (through any parameter-free ops)."""
    owner = {t: u.index for u in units for t in u.tensors}
    memo: Dict[str, FrozenSet[int]] = {}

    def frontier(tensor: str) -> FrozenSet[int]:
        stack = [tensor]
        while stack:
            t = stack[-1]
            if t in memo:
                stack.pop()
                continue
            if t in owner:
                memo[t] = frozenset([owner[t]])
                stack.pop()
                continue
            p = graph.producer.get(t)
            if p is None or graph.value(t) is not None:
                memo[t] = frozenset()
                stack.pop()
                continue
            pending = [s for s in graph.nodes[p].input if s and s not in memo]
            if pending:
                stack.extend(pending)
                continue
            acc = frozenset()
            for s in graph.nodes[p].input:
                if s:
                    acc = acc | memo[s]
            memo[t] = acc
            stack.pop()
        return memo[tensor]

    for u in units:
        u.parents = frontier(u.input)


# ---------------------------------------------------------------------------------------------
# units on the dynamic-graph side

@dataclass
class ModelUnit:
    """A parameterised layer of the dynamic model (with the batch norm that reads its output)."""

    kind: str
    name: str
    layer: object
    input_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    norm: Optional[Tuple[str, object]] = None


def _kind_of(layer) -> Optional[str]:
    import paddle.nn as nn

    if isinstance(layer, nn.Conv2DTranspose):
        return "conv_transpose"
    if isinstance(layer, nn.Conv2D):
        return "conv"
    if isinstance(layer, nn.Linear):
        return "linear"
    if isinstance(layer, (nn.BatchNorm2D, nn.BatchNorm1D, nn.BatchNorm)):
        return "batch_norm"
    own = dict(layer.named_parameters(include_sublayers=False))
    if sorted(own) in (["bias", "scale"], ["scale"]) and all(tuple(p.shape) == (1,) for p in own.values()):
        return "affine"
    return None


def model_units(model, example) -> List[ModelUnit]:
    """Parameterised layers of ``model`` in the order a forward pass on ``example`` first runs them,
    a batch norm joined to the conv whose output it reads."""
    from .weights import first_calls

    calls = first_calls(model, example, lambda layer: _kind_of(layer) is not None)
    units: List[ModelUnit] = []
    by_output = {}
    for name, layer, inp, out in calls:
        kind = _kind_of(layer)
        if kind == "batch_norm" and id(inp) in by_output and by_output[id(inp)].norm is None \
                and by_output[id(inp)].kind in ("conv", "conv_transpose", "linear"):
            by_output[id(inp)].norm = (name, layer)
            continue
        u = ModelUnit(kind, name, layer, tuple(int(s) for s in inp.shape), tuple(int(s) for s in out.shape))
        units.append(u)
        by_output[id(out)] = u
    return units


def _compatible(mu: ModelUnit, ou: OnnxUnit, onnx_out: Tuple[int, ...]) -> bool:
    """Same kind, kernel, stride and depthwise-ness, and the same output size on the probe image
    (output, not input: exporters move padding into the conv, e.g. PP-LCNetV4's padded stem)."""
    if mu.kind != ou.kind:
        return False
    if mu.kind in ("conv", "conv_transpose"):
        layer = mu.layer
        if list(layer._kernel_size) != ou.attrs["kernel"] or list(layer._stride) != list(ou.attrs["strides"] or [1, 1]):
            return False
        depthwise = layer._groups > 1 and layer._groups == layer._in_channels
        w = ou.params["weight"]
        in_c = w.shape[1] * int(ou.attrs["group"] or 1) if mu.kind == "conv" else w.shape[0]
        onnx_dw = int(ou.attrs["group"] or 1) > 1 and int(ou.attrs["group"]) == in_c
        if depthwise != onnx_dw:
            return False
        return not onnx_out or tuple(mu.output_shape[2:]) == tuple(onnx_out[2:])
    if mu.kind == "linear":
        return not onnx_out or tuple(mu.output_shape[:-1]) == tuple(onnx_out[:-1])
    return not onnx_out or tuple(mu.output_shape[2:]) == tuple(onnx_out[2:])


def _own_weight_shape(mu: ModelUnit) -> Tuple[int, ...]:
    p = dict(mu.layer.named_parameters(include_sublayers=False))
    w = p.get("weight", p.get("scale"))
    return tuple(w.shape) if w is not None else ()


def match_units(mus: Sequence[ModelUnit], ous: Sequence[OnnxUnit], onnx_outputs: Dict[int, Tuple[int, ...]],
                source: str, family: str, compatible: Callable = _compatible) -> List[Tuple[ModelUnit, OnnxUnit]]:
    """Pair model units with ONNX units by data flow (see the module docstring).

    ``onnx_outputs``: output shape of each ONNX unit's anchor op (by index) on the probe image
    (:func:`unit_output_shapes`); ``compatible(model_unit, onnx_unit, onnx_output_shape)``
    decides which pairs may match (recognisers can pass their own).

    Raises:
        ModelLoadError: a model unit has no ready, compatible ONNX unit, or ONNX units are left over.
    """
    placed: set = set()
    pairs = []
    for mu in mus:
        cands = [ou for ou in ous if ou.index not in placed and ou.parents <= placed
                 and compatible(mu, ou, onnx_outputs.get(ou.index, ()))]
        if not cands:
            raise ModelLoadError(f"{source}: no weights of the ONNX graph fit layer {mu.name} ({mu.kind}, input "
                                 f"{list(mu.input_shape)}) of {family}; the file is not a {family} export")
        shape = _own_weight_shape(mu)
        exact = [c for c in cands if tuple(c.params.get("weight", c.params.get("scale")).shape) == shape]
        pick = (exact or cands)[0]
        placed.add(pick.index)
        pairs.append((mu, pick))
    left = [ou for ou in ous if ou.index not in placed]
    if left:
        n = left[0]
        raise ModelLoadError(f"{source}: {len(left)} weight groups of the ONNX graph have no layer in {family} "
                             f"(first: {n.kind} {list(n.params.get('weight', n.params.get('scale')).shape)}); "
                             f"the file is not a {family} export")
    return pairs


def _state_of_pair(mu: ModelUnit, ou: OnnxUnit, source: str) -> Dict[str, np.ndarray]:
    p = ou.params
    own = dict(mu.layer.named_parameters(include_sublayers=False))
    state: Dict[str, np.ndarray] = {}
    if mu.kind == "affine":
        state[f"{mu.name}.scale"] = p["scale"]
        if "bias" in own:
            state[f"{mu.name}.bias"] = p.get("bias", np.zeros(1, np.float32))
        elif "bias" in p:
            raise ModelLoadError(f"{source}: an affine bias has no place in {mu.name}")
        return state
    w = p["weight"]
    state[f"{mu.name}.weight"] = w
    out_c = w.shape[-1] if mu.kind == "linear" else (w.shape[0] if mu.kind == "conv" else
                                                      w.shape[1] * int(ou.attrs.get("group") or 1))
    bias = p.get("bias")
    has_bias = "bias" in own and own["bias"] is not None
    if mu.norm is None:
        if has_bias:
            state[f"{mu.name}.bias"] = bias if bias is not None else np.zeros(out_c, np.float32)
        elif bias is not None and np.any(bias != 0):
            raise ModelLoadError(f"{source}: layer {mu.name} has no bias but the ONNX graph adds one; "
                                 "the file is not an export of this architecture")
        if "bn_scale" in p:
            raise ModelLoadError(f"{source}: a batch norm after layer {mu.name} has no place in the model")
        return state
    bn_name, bn = mu.norm
    eps = float(bn._epsilon)
    if "bn_scale" in p:
        if has_bias:
            state[f"{mu.name}.bias"] = bias if bias is not None else np.zeros(out_c, np.float32)
            bias_in_bn = None
        else:
            bias_in_bn = bias  # conv bias before BN folds into the BN shift
        scale, shift, mean, var = p["bn_scale"], p["bn_bias"], p["bn_mean"], p["bn_var"]
        if bias_in_bn is not None:
            mean = mean - bias_in_bn
        if abs(float(p["bn_eps"]) - eps) > 1e-12:
            var = var + float(p["bn_eps"]) - eps  # same sqrt(var + eps) with the layer's eps
        state.update({f"{bn_name}.weight": scale, f"{bn_name}.bias": shift, f"{bn_name}._mean": mean,
                      f"{bn_name}._variance": var})
        return state
    # batch norm folded into the export: the layer's BN becomes an identity carrying the bias
    if has_bias:
        state[f"{mu.name}.bias"] = np.zeros(out_c, np.float32)
    state.update({f"{bn_name}.weight": np.ones(out_c, np.float32),
                  f"{bn_name}.bias": bias if bias is not None else np.zeros(out_c, np.float32),
                  f"{bn_name}._mean": np.zeros(out_c, np.float32),
                  f"{bn_name}._variance": np.full(out_c, 1.0 - eps, np.float32)})
    return state


def unit_output_shapes(graph: OnnxGraph, units: Sequence[OnnxUnit], example: np.ndarray) -> Dict[int, Tuple[int, ...]]:
    """Output shape of every ONNX unit's anchor op when the graph runs on ``example`` (one
    onnxruntime pass)."""
    names = sorted({graph.nodes[u.node].output[0] for u in units})
    outs = run_onnxruntime(graph, example, names)
    return {u.index: tuple(int(s) for s in outs[graph.nodes[u.node].output[0]].shape) for u in units}


def state_from_onnx(model, graph: OnnxGraph, example: np.ndarray, family: str) -> Dict[str, np.ndarray]:
    """The model's state dict (module names) from the ONNX graph's weights, matched by data flow.

    Widths may differ from the model's defaults: follow with ``conform_to_state_dict`` and a strict
    ``load_state`` (what :func:`load_onnx_weights` does).
    """
    ous = onnx_units(graph)
    mus = model_units(model, example)
    pairs = match_units(mus, ous, unit_output_shapes(graph, ous, example), graph.path, family)
    state: Dict[str, np.ndarray] = {}
    for mu, ou in pairs:
        state.update(_state_of_pair(mu, ou, graph.path))
    return state


def load_onnx_weights(model, graph: OnnxGraph, example: np.ndarray, family: str,
                      verify_input: Optional[np.ndarray] = None, tol: float = 1e-4,
                      forward: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> float:
    """Place the ONNX graph's weights onto ``model`` (in place, widths from the weights) and check
    it against onnxruntime on ``verify_input`` (default: a seeded random 96 x 128 image).

    Returns the max abs difference to onnxruntime.

    Raises:
        ModelLoadError: weights do not fit, or the loaded model disagrees with onnxruntime.
    """
    import paddle

    from .weights import conform_to_state_dict, load_state

    model.eval()
    state = state_from_onnx(model, graph, example, family)
    conform_to_state_dict(model, state)
    load_state(model, state, graph.path)
    model.eval()
    if verify_input is None:
        verify_input = np.random.RandomState(0).uniform(-2, 2, (1, 3, 96, 128)).astype(np.float32)
    if forward is None:
        def forward(x):
            with paddle.no_grad():
                return model(paddle.to_tensor(x)).numpy()
    return verify_against_onnxruntime(forward, graph, verify_input, family, tol)
