"""Filter pruning with PaddleSlim's own dygraph pruners, on Paddle 3.x.

PaddleSlim 2.6 traces the model into an *old-IR* program to find which tensors share a channel
axis (its "pruning collections"). On Paddle 3 that needs, only around the PaddleSlim calls:

- ``paddle.pir_utils.DygraphOldIrGuard()`` (PIR stays on for the rest of the process);
- the alias ``paddle.base.dygraph.base._to_static_mode_guard_`` (renamed in Paddle 3);
- legacy-op fallbacks for the few functional ops whose Paddle 3 Python API has no old-IR branch
  any more (``F.sigmoid`` ends every DB head; ``tanh``/``exp``/``sqrt``/``abs``/``log``/``gelu``
  are covered too);
- a fix in PaddleSlim's elementwise worker for ``scalar * feature_map`` (PP-LCNetV3's learnable
  affine blocks put the 1-element parameter first, which trips an assertion), and FPGM's
  ``np.product`` (removed in numpy 2);
- pass-through workers for ``clip``, ``hard_sigmoid``, ``nearest_interp_v2``, ``pad3d`` and a
  spatial ``reduce_mean`` (channels pass straight through; without them PaddleSlim drops every
  collection that reaches RSE-FPN's hard-sigmoid, i.e. the whole neck, and prunes a PP-LCNetV4
  block's channels without its squeeze-excitation convs, whose pooling lowers to ``reduce_mean``);
- the patched functions also replace the ones a layer stored at construction (PaddleX's
  ``GELUActivation`` keeps ``F.gelu`` as an attribute).

:func:`slim_compat` applies all of them and undoes the patches on exit.

What gets pruned: :func:`prune_model` prunes, by one uniform ratio, every collection PaddleSlim
finds whose master is a regular (``groups == 1``) conv's output axis - depthwise convs follow
their producer, never lead - and skips collections that would shrink the *output* of a layer under
a protected prefix. For the DB detector (:func:`prune_detector`) that prefix is ``head.``: the
backbone, the stage-to-neck 1x1 convs and the SE bottlenecks are pruned, the DB head keeps its
widths (its first conv only loses the input channels its producer lost). PaddleSlim itself leaves
out collections it cannot follow through: here the four RSE-FPN output convs, which meet in a
``concat`` (PaddleSlim 2.6 has no concat worker) right before the head.

Optional bias compensation (``calibration=``): PaddleSlim removes the filters; the mean of each
removed channel on a few calibration inputs is then folded into the bias of the convs that read
it. The fused PP-LCNetV3 convs carry large biases, so a removed channel is far from "zero": one-shot
pruning by 10% without compensation leaves the detector with almost no boxes. Consumers without
a bias (the RSE-FPN convs) cannot take the correction and are listed in ``uncompensated``.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import InputError, ModelLoadError
from ..modes import eval_mode

PRUNERS = ("l1", "fpgm")
DET_PROTECTED = ("head.",)  # the DB head: its outputs are the shrink map; keep its widths
TRACE_HW = (64, 64)         # graph structure only; any size the model accepts will do
CALIB_SEED0 = 70_000        # generated calibration invoices; the demo set uses seeds ~100


# ----------------------------------------------------------------------------- Paddle 3 compatibility

_LEGACY_UNARY = {"sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "sqrt": "sqrt", "abs": "abs", "log": "log"}


def _legacy_op(op_type: str, original, attrs: Optional[dict] = None):
    """``original`` in dygraph / PIR; an old-IR op when handed a legacy static ``Variable``."""
    from paddle.base import framework
    from paddle.base.layer_helper import LayerHelper

    def fn(x, *args, **kwargs):
        if isinstance(x, framework.Variable) and not paddle.in_dynamic_mode():
            helper = LayerHelper(op_type)
            out = helper.create_variable_for_type_inference(x.dtype)
            extra = dict(attrs or {})
            if op_type == "gelu":
                extra["approximate"] = bool(kwargs.get("approximate", args[0] if args else False))
            helper.append_op(type=op_type, inputs={"X": x}, outputs={"Out": out}, attrs=extra)
            return out
        return original(x, *args, **kwargs)

    fn.__wrapped__ = original
    return fn


def _patch_targets() -> List[Tuple[object, str, object]]:
    """(module, attribute, replacement) for every place the legacy-less ops are looked up."""
    import paddle.nn.functional as F
    import paddle.nn.functional.activation as act
    import paddle.tensor as T

    mods = [paddle, F, act, T]
    for sub in ("math", "ops", "activation"):
        m = getattr(T, sub, None)
        if m is not None:
            mods.append(m)
    out = []
    names = dict(_LEGACY_UNARY, gelu="gelu")
    for name, op_type in names.items():
        for mod in mods:
            orig = getattr(mod, name, None)
            if orig is not None and callable(orig) and not hasattr(orig, "__wrapped__"):
                out.append((mod, name, _legacy_op(op_type, orig)))
    return out


def _elementwise_scalar_first_fix():
    """PaddleSlim's elementwise worker asserts Y has fewer dims than X when the pruned tensor is Y;
    ``scale * x`` with a 1-element ``scale`` puts it the other way round. A 1-element operand has
    no channel axis, so the pruning just passes through to the output."""
    from paddleslim.prune import prune_worker as pw

    original = pw.elementwise_op._prune

    def _prune(self, var, pruned_axis, transforms):
        if var in self.op.inputs("Y"):
            x = self.op.inputs("X")[0]
            if int(np.prod(x.shape())) == 1 and len(var.shape()) > len(x.shape()):
                self._visit_and_search(self.op.outputs("Out")[0], pruned_axis, transforms)
                return
        return original(self, var, pruned_axis, transforms)

    return pw.elementwise_op, "_prune", _prune


def _fpgm_numpy2_fix():
    """PaddleSlim's FPGM distance uses ``np.product``, gone in numpy 2; the same sum of L2
    distances from one filter to all filters, with ``reshape``."""
    from paddleslim.dygraph.prune.fpgm_pruner import FPGMFilterPruner

    def get_distance_sum(self, value, out_idx):
        w = np.asarray(value).reshape(value.shape[0], -1)
        d = w - w[out_idx]
        return np.sqrt(np.sum(d * d, -1)).sum()

    return FPGMFilterPruner, "get_distance_sum", get_distance_sum


def _pass_through_workers():
    """Workers for ops that keep the channel axis, which PaddleSlim 2.6 lacks: RSE-FPN's
    hard-sigmoid is ``clip(0.2x + 0.5)``; PP-LCNetV4's squeeze-excitation pools with
    ``reduce_mean`` and ends in ``hard_sigmoid``; PP-OCRv6 necks upsample with ``nearest_interp_v2``
    and its stem pads with ``pad3d``."""
    from paddleslim.prune import prune_worker as pw

    class reduce_mean(pw.activation):  # noqa: N801 - PaddleSlim finds workers by the op's type name
        """A mean over other axes (``AdaptiveAvgPool2D(1)`` lowers to ``reduce_mean`` over H, W
        with ``keep_dim``) keeps the channel axis where it was, so channels pass through."""

        def _prune(self, var, pruned_axis, transforms):
            dims = [d % 4 for d in self.op.attr("dim")] if not self.op.attr("reduce_all") else [0, 1, 2, 3]
            if pruned_axis in dims or not self.op.attr("keep_dim"):
                return  # the channel axis is reduced or moves: the collection stops here
            super()._prune(var, pruned_axis, transforms)

    return [type(op, (pw.activation,), {}) for op in ("clip", "hard_sigmoid", "nearest_interp_v2", "pad3d")] \
        + [reduce_mean]


def _bound_functions(model: Optional[nn.Layer], patches) -> List[Tuple[object, str, object]]:
    """Sublayer attributes that hold one of the patched functions itself: a layer that stored
    ``F.gelu`` at construction (PaddleX's ``GELUActivation.act``) never looks it up again."""
    if model is None:
        return []
    by_id = {id(orig): new for obj, name, new in patches for orig in [getattr(obj, name, None)] if callable(orig)}
    out = []
    for layer in model.sublayers(include_self=True):
        for attr, value in list(vars(layer).items()):
            if callable(value) and id(value) in by_id:
                out.append((layer, attr, by_id[id(value)]))
    return out


@contextlib.contextmanager
def slim_compat(verbose: bool = False, model: Optional[nn.Layer] = None) -> Iterator[None]:
    """Run PaddleSlim's tracing pruners on Paddle 3 (see the module docstring); restores everything
    it patched on exit, PIR included. ``model``: also patch the functions its layers hold."""
    import paddle.base.dygraph.base as dybase

    if not hasattr(dybase, "_to_static_mode_guard_"):
        # an alias only: code that knows the new name is unaffected, so it may stay
        dybase._to_static_mode_guard_ = dybase.to_static_mode_guard
    patches = _patch_targets() + [_elementwise_scalar_first_fix(), _fpgm_numpy2_fix()]
    patches += _bound_functions(model, patches)
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.startswith("paddleslim")]
    levels = [lg.level for lg in loggers]
    from paddleslim.prune.prune_worker import PRUNE_WORKER

    added_workers = []
    try:
        for obj, name, new in patches:
            setattr(obj, name, new)
        for worker in _pass_through_workers():
            if PRUNE_WORKER.get(worker.__name__) is None:
                PRUNE_WORKER.module_dict[worker.__name__] = worker
                added_workers.append(worker.__name__)
        if not verbose:
            for lg in loggers:
                lg.setLevel(logging.ERROR)  # PaddleSlim logs every tensor at INFO and expected skips at WARNING
        with paddle.pir_utils.DygraphOldIrGuard():
            yield
    finally:
        for obj, name, old in saved:
            setattr(obj, name, old)
        for name in added_workers:
            PRUNE_WORKER.module_dict.pop(name, None)
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


def _quiet_slim_loggers() -> None:
    for n in list(logging.root.manager.loggerDict):
        if n.startswith("paddleslim"):
            logging.getLogger(n).setLevel(logging.ERROR)


# ----------------------------------------------------------------------------- counting

def count_params(model: nn.Layer) -> int:
    """Elements of every parameter (BN statistics included: they are what an inference folder stores)."""
    return int(sum(int(np.prod(p.shape)) for p in model.parameters()))


def count_flops(model: nn.Layer, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of Conv2D, Conv2DTranspose and Linear layers for one forward pass.

    PaddleSlim's convention (``h_out * w_out * c_out * (k_h * k_w * c_in / groups + bias)``), but
    counted with forward hooks in dygraph, so the DB head's transposed convs are included and no
    tracing is needed. ``input_shape`` is the full NCHW shape.
    """
    total = [0]

    def conv_hook(layer, inputs, output):
        w = layer.weight.shape  # (c_out, c_in / groups, kh, kw)
        n, c_out, h, wd = output.shape
        bias = 1 if layer.bias is not None else 0
        total[0] += int(n) * int(h) * int(wd) * int(c_out) * (int(w[1]) * int(w[2]) * int(w[3]) + bias)

    def deconv_hook(layer, inputs, output):
        w = layer.weight.shape  # (c_in, c_out / groups, kh, kw)
        x = inputs[0]
        n, c_in, h, wd = x.shape
        _, c_out, ho, wo = output.shape
        bias = int(ho) * int(wo) * int(c_out) if layer.bias is not None else 0
        total[0] += int(n) * (int(h) * int(wd) * int(c_in) * int(w[1]) * int(w[2]) * int(w[3]) + bias)

    def linear_hook(layer, inputs, output):
        rows = int(np.prod(output.shape[:-1]))
        total[0] += rows * int(layer.weight.shape[0]) * int(layer.weight.shape[1])

    handles = []
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, nn.Conv2DTranspose):
            handles.append(layer.register_forward_post_hook(deconv_hook))
        elif isinstance(layer, nn.Conv2D):
            handles.append(layer.register_forward_post_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_post_hook(linear_hook))
    try:
        with eval_mode(model), paddle.no_grad():
            model(paddle.zeros(list(input_shape), dtype="float32"))
    finally:
        for h in handles:
            h.remove()
    return total[0]


# ----------------------------------------------------------------------------- pruning

@dataclass
class PruneResult:
    """What one pruning did: which conv outputs shrank, and the cost before and after."""

    pruner: str
    ratio: float
    input_shape: List[int]                     # FLOPs were counted at this NCHW shape
    params_before: int
    params_after: int
    flops_before: int
    flops_after: int
    layers: List[Dict[str, object]] = field(default_factory=list)   # {name, before, after}
    skipped: List[str] = field(default_factory=list)                # protected collection masters
    compensated: List[str] = field(default_factory=list)            # consumers whose bias took the means
    uncompensated: List[str] = field(default_factory=list)          # consumers without a bias

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def _pruner_class(name: str):
    from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner

    _quiet_slim_loggers()
    table = {"l1": L1NormFilterPruner, "fpgm": FPGMFilterPruner}
    if name not in table:
        raise InputError(f"unknown pruner '{name}'; use one of: {', '.join(PRUNERS)}")
    return table[name]


def check_ratio(ratio: float) -> float:
    """A pruning ratio strictly between 0 and 1, else ``InputError``."""
    try:
        r = float(ratio)
    except (TypeError, ValueError):
        raise InputError(f"pruning ratio '{ratio}' is not a number; use values in (0, 1) like 0.1,0.3,0.5") from None
    if not 0.0 < r < 1.0:
        raise InputError(f"pruning ratio {ratio} is outside (0, 1); use values like 0.1,0.3,0.5")
    return r


def _drop_backups(model: nn.Layer) -> None:
    """PaddleSlim keeps every pruned tensor's old value in a ``*_backup`` buffer (for ``restore``);
    a pruned copy for export must not carry, count or save them."""
    for layer in model.sublayers(include_self=True):
        for k in [k for k in layer._buffers if k.endswith("_backup")]:
            del layer._buffers[k]
        layer.__dict__.pop("_origin_groups", None)


def input_channel_means(model: nn.Layer, batches: Sequence[np.ndarray]) -> Dict[str, np.ndarray]:
    """Mean of every input channel of every regular (``groups == 1``) conv over ``batches``."""
    sums: Dict[str, np.ndarray] = {}
    counts: Dict[str, int] = {}
    handles = []

    def make(name):
        def hook(layer, inputs):
            x = inputs[0].numpy().astype(np.float64)
            sums[name] = sums.get(name, 0) + x.sum(axis=(0, 2, 3))
            counts[name] = counts.get(name, 0) + x.shape[0] * x.shape[2] * x.shape[3]
        return hook

    for name, layer in model.named_sublayers():
        if isinstance(layer, nn.Conv2D) and not isinstance(layer, nn.Conv2DTranspose) and layer._groups == 1:
            handles.append(layer.register_forward_pre_hook(make(name)))
    try:
        with eval_mode(model), paddle.no_grad():
            for b in batches:
                model(paddle.to_tensor(np.asarray(b, np.float32)))
    finally:
        for h in handles:
            h.remove()
    return {k: sums[k] / counts[k] for k in sums}


def _compensate(plan, by_param: Dict[str, str], layer_of: Dict[str, nn.Layer], weights: Dict[str, np.ndarray],
                means: Dict[str, np.ndarray]) -> Tuple[List[str], List[str]]:
    """Bias compensation: a removed input channel is replaced by its calibration mean, folded into
    the consumer conv's bias (``b += W[:, removed] . mean[removed]``, kernels summed). Without
    it, every removed channel takes away a constant offset the next layer relied on - with the
    fused PP-LCNetV3 convs' large biases, that alone wipes out the detector even at 10%.
    Returns (compensated, left out: consumers without a bias to fold into)."""
    done, left = [], []
    for pname, masks in plan._masks.items():
        pn = by_param.get(pname, "")
        lname = pn.rpartition(".")[0]
        if not pn.endswith("weight") or lname not in means:
            continue
        ins = [m for m in masks if m.dims == 1]
        if not ins:
            continue
        layer = layer_of[lname]
        if layer.bias is None:
            left.append(lname)
            continue
        removed = np.asarray(ins[0].mask) == 0
        outs = [m for m in masks if m.dims == 0]
        keep = np.asarray(outs[0].mask) != 0 if outs else np.ones(weights[lname].shape[0], bool)
        delta = weights[lname][:, removed].sum(axis=(2, 3)) @ means[lname][removed]
        layer.bias.set_value(paddle.to_tensor((layer.bias.numpy().astype(np.float64) + delta[keep]).astype(np.float32)))
        done.append(lname)
    return done, left


def prune_model(model: nn.Layer, input_shape: Sequence[int], pruner: str = "l1", ratio: float = 0.3,
                protected: Sequence[str] = (), flops_shape: Optional[Sequence[int]] = None,
                calibration: Optional[Sequence[np.ndarray]] = None) -> PruneResult:
    """Prune ``model`` **in place** with PaddleSlim's L1-norm or FPGM filter pruner.

    ``input_shape`` (NCHW) is what PaddleSlim traces with (small is fine); every collection led
    by a ``groups == 1`` conv's output axis is pruned by ``ratio`` unless it would shrink the
    output of a layer whose structured name starts with one of ``protected``. Works for any
    conv ``nn.Layer`` (detectors, PP-LCNet classifiers); load a fresh copy first if the original
    is still needed (``copy.deepcopy`` renames parameters, which breaks program-order loading).
    FLOPs are counted at ``flops_shape`` (default ``input_shape``).

    ``calibration`` (model-input batches): fold the mean of every removed channel into its
    consumers' biases (see ``_compensate``); the filters removed are PaddleSlim's either way.
    """
    ratio = check_ratio(ratio)
    cls = _pruner_class(pruner)
    flops_shape = list(flops_shape or input_shape)
    model.eval()
    params_before, flops_before = count_params(model), count_flops(model, flops_shape)
    by_param = {p.name: n for n, p in model.named_parameters()}
    layer_of = {n: l for n, l in model.named_sublayers()}
    widths_before = {n: int(p.shape[0]) for n, p in model.named_parameters() if len(p.shape) == 4}
    means = input_channel_means(model, calibration) if calibration is not None else None
    weights = {n: layer_of[n].weight.numpy().astype(np.float64) for n in (means or {})}
    with slim_compat(model=model):
        pr = cls(model, [list(input_shape)])
        ratios, skipped = {}, []
        for coll in pr.collections:
            if coll.master_axis != 0:
                continue
            master = by_param.get(coll.master_name)
            if master is None:
                continue
            layer = layer_of.get(master.rpartition(".")[0])
            if not isinstance(layer, nn.Conv2D) or isinstance(layer, nn.Conv2DTranspose) or layer._groups != 1:
                continue
            hits = [by_param.get(d.name, "") for d in coll.all_pruning_details() if d.axis == 0]
            if any(h.startswith(tuple(protected)) for h in hits if h) and protected:
                skipped.append(master)
                continue
            ratios[coll.master_name] = ratio
        if not ratios:
            raise InputError("PaddleSlim found no prunable conv in this model (outside the protected layers)")
        plan = pr.prune_vars(ratios, 0)
    _drop_backups(model)
    compensated, uncompensated = _compensate(plan, by_param, layer_of, weights, means) if means else ([], [])
    model.eval()
    layers = []
    for n, p in model.named_parameters():
        if n in widths_before and int(p.shape[0]) != widths_before[n] and n.endswith("weight"):
            layers.append({"name": n.rpartition(".")[0], "before": widths_before[n], "after": int(p.shape[0])})
    return PruneResult(pruner, ratio, flops_shape, params_before, count_params(model), flops_before,
                       count_flops(model, flops_shape), layers, skipped, compensated, uncompensated)


def detector_calibration(pages: int = 2, limit_side_len: int = 960) -> List[np.ndarray]:
    """Model inputs of generated invoices (seeds far from the demo set's) for bias compensation."""
    from ..datasets.invoices import render_invoice
    from ..ocr.det_preprocess import DetPreprocess

    pre = DetPreprocess(limit_side_len=limit_side_len)
    return [pre(render_invoice(CALIB_SEED0 + i)[0])[0][None] for i in range(pages)]


def prune_detector(source: Optional[str] = None, pruner: str = "l1", ratio: float = 0.3,
                   flops_hw: Sequence[int] = (640, 640), calibration: Optional[Sequence[np.ndarray]] = None):
    """A freshly loaded DB detector (``load_detector(source)``) pruned by ``ratio``; the DB head
    keeps its widths; ``calibration`` batches switch on bias compensation (see
    :func:`detector_calibration`). Returns ``(Detector, PruneResult)``."""
    from ..models.det import load_detector

    det = load_detector(source)
    res = prune_model(det.model, [1, 3, *TRACE_HW], pruner, ratio, DET_PROTECTED, [1, 3, *flops_hw], calibration)
    det.name = f"{det.name} ({pruner} pruned {ratio:g})"
    det.inference = None
    return det, res


# ----------------------------------------------------------------------------- export

def detector_config(base_config: Optional[dict], **slim) -> dict:
    """``inference.yml`` for an exported detector: the base's sections, plus a ``Slim`` record of
    how it was made. No structured names are written, so loading goes by program order (checked
    against Paddle Inference by ``load_detector``)."""
    cfg = {k: v for k, v in (base_config or {}).items() if k in ("Global", "PreProcess", "PostProcess")}
    cfg["Slim"] = {k: v for k, v in slim.items() if v is not None}
    return cfg


def reload_detector(model_dir: str):
    """``load_detector`` on an exported folder, with a one-line error when it does not load."""
    from ..models.det import load_detector

    try:
        return load_detector(model_dir)
    except ModelLoadError:
        raise
    except Exception as e:  # a broken export is a bug in the export, but say which folder
        raise ModelLoadError(f"{model_dir} does not load as a detector ({type(e).__name__}: {e})") from None
