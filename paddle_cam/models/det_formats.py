"""Write a loaded detector in the formats PaddleX 3.7 reads, so that every loader can be tested
on real weights and PaddleX itself can run what paddle_cam explains:

- ``safetensors`` / ``paddle_dyn``: ``config.json`` + ``model.safetensors`` / ``model_state.pdparams``
  + ``inference.yml`` (``models/hf_folder.py``; PaddleX's ``from_pretrained`` reads them back);
- ``paddle``: ``inference.json`` + ``inference.pdiparams`` (``paddle.jit.save``) + ``inference.yml``.

PaddleX's ``PPOCRV5MobileDet`` holds PP-LCNetV3 in its multi-branch (training) form, while
inference folders and ONNX files hold it fused; a fused layer is written as the multi-branch
layer that computes the same thing (the fused kernel and bias in branch 0, the other branches
and the identity batch norm scaled to zero).

Example:
    >>> det = load_detector("PP-OCRv6_det_small.onnx")                            # doctest: +SKIP
    >>> save_detector(det, "out/PP-OCRv6_small_det_safetensors", "safetensors")   # doctest: +SKIP
    >>> load_detector("out/PP-OCRv6_small_det_safetensors").format                 # doctest: +SKIP
    'safetensors'
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn

from .det_families import family, inference_yml

FORMATS = ("safetensors", "paddle_dyn", "paddle")


def _set(param, value: np.ndarray) -> None:
    param.set_value(paddle.to_tensor(np.asarray(value, np.float32).reshape(param.shape)))


def _identity_bn(bn: nn.Layer, bias: np.ndarray) -> None:
    c = int(bn.weight.shape[0])
    _set(bn.weight, np.ones(c))
    _set(bn.bias, bias)
    _set(bn._mean, np.zeros(c))
    _set(bn._variance, np.full(c, 1.0 - float(bn._epsilon)))


def _zero_branch(bn: nn.Layer) -> None:
    c = int(bn.weight.shape[0])
    for p, v in ((bn.weight, 0.0), (bn.bias, 0.0), (bn._mean, 0.0), (bn._variance, 1.0)):
        _set(p, np.full(c, v))


def unfused_mobile(model: nn.Layer) -> nn.Layer:
    """PaddleX's multi-branch ``PPOCRV5MobileDet`` computing what the fused ``model`` computes."""
    from .det import build_mobile_det
    from .lcnetv3_rep import FusedRepLayer

    out = build_mobile_det(fused=False)
    fused_layers = {n: l for n, l in model.named_sublayers() if isinstance(l, FusedRepLayer)}
    own = {k: v.numpy() for k, v in model.state_dict().items()}
    target = out.state_dict()
    plain = {k: v for k, v in own.items() if not any(k.startswith(n + ".") for n in fused_layers)}
    for k, v in plain.items():
        _set(target[k], v)
    subs = dict(out.named_sublayers())
    for name, fl in fused_layers.items():
        rep = subs[name]
        conv0 = rep.conv_symmetric[0]
        _set(conv0.convolution.weight, fl.reparam_conv.weight.numpy())
        _identity_bn(conv0.normalization, fl.reparam_conv.bias.numpy())
        for branch in list(rep.conv_symmetric)[1:]:
            _set(branch.convolution.weight, np.zeros(branch.convolution.weight.shape))
            _zero_branch(branch.normalization)
        if rep.conv_small_symmetric is not None:
            small = rep.conv_small_symmetric
            _set(small.convolution.weight, np.zeros(small.convolution.weight.shape))
            _zero_branch(rep.conv_small_symmetric.normalization)
        if rep.identity is not None:
            _zero_branch(rep.identity)
        _set(rep.lab.scale, fl.lab.scale.numpy())
        _set(rep.lab.bias, fl.lab.bias.numpy())
        if fl.act is not None:
            _set(rep.act.lab.scale, fl.act.lab.scale.numpy())
            _set(rep.act.lab.bias, fl.act.lab.bias.numpy())
    out.eval()
    return out


def save_detector(det, out_dir: str, fmt: str = "safetensors") -> str:
    """Write ``det`` (a :class:`~paddle_cam.models.det.Detector`) as a PaddleX model folder of
    format ``fmt`` (``safetensors``, ``paddle_dyn`` or ``paddle``) with an ``inference.yml``
    carrying the detector's own pre/post-processing. Returns the absolute folder path.

    Raises:
        InputError: ``out_dir`` is a file or holds other files.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    yml = inference_yml(det.name, det.processing)
    if fmt == "paddle":
        from .export import save_inference
        from .onnx_weights import accurate_global_pooling, standard_global_pooling

        # the program holds the architecture as PaddleX defines it (Paddle's global pooling), not
        # the onnxruntime-accurate pooling an ONNX-loaded model explains with
        swapped = standard_global_pooling(det.model)
        try:
            return save_inference(det.model, out_dir, config=yml)
        finally:
            if swapped:
                accurate_global_pooling(det.model)
    from .hf_folder import write_hf_folder

    model = det.model
    if det.arch == "mobile" and det.fused:
        model = unfused_mobile(model)
    return write_hf_folder(model, out_dir, family(det.arch).paddlex_class, yml, fmt)
