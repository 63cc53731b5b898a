"""PP-LCNetV3 re-parameterisation: the fused form inference folders hold, and fusing the
training (multi-branch) form into it.

A ``LearnableRepLayer`` trains with kxk conv+BN branches, a 1x1 conv+BN branch and an identity
BN; export sums them into one conv with bias (``reparam_conv``). Hooks on block outputs
(``...encoder.blocks.3``) see the same tensors in both forms.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn


def _paddlex_v3():
    from paddlex.inference.models.image_classification.modeling.pplcnetv3 import (
        PPLCNetV3ActLearnableAffineBlock, PPLCNetV3LearnableAffineBlock, PPLCNetV3LearnableRepLayer)

    return PPLCNetV3LearnableRepLayer, PPLCNetV3LearnableAffineBlock, PPLCNetV3ActLearnableAffineBlock


class FusedRepLayer(nn.Layer):
    """conv(+bias) -> learnable affine -> (stride != 2 only) activation -> learnable affine."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride, groups: int,
                 activation: str = "hardswish"):
        super().__init__()
        _, LAB, ActLAB = _paddlex_v3()
        self.stride = stride
        self.reparam_conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups)
        self.lab = LAB()
        # PaddleOCR exports no activation after stride-2 layers, so none is built (no dead weights)
        self.act = ActLAB(activation) if stride != 2 else None

    def forward(self, x):
        x = self.lab(self.reparam_conv(x))
        return self.act(x) if self.act is not None else x


def _fuse_bn(kernel: np.ndarray, bn: nn.BatchNorm2D):
    std = np.sqrt(bn._variance.numpy().astype(np.float64) + bn._epsilon)
    t = bn.weight.numpy().astype(np.float64) / std
    return kernel * t[:, None, None, None], bn.bias.numpy().astype(np.float64) - bn._mean.numpy() * t


def fused_from(layer) -> FusedRepLayer:
    """The single-conv equivalent of a multi-branch ``PPLCNetV3LearnableRepLayer``."""
    conv0 = layer.conv_symmetric[0].convolution
    cin, cout, k = conv0._in_channels, conv0._out_channels, conv0._kernel_size[0]
    groups = conv0._groups
    act_name = "hardswish"
    fused = FusedRepLayer(cin, cout, k, layer.stride, groups, act_name)
    kernel = np.zeros((cout, cin // groups, k, k), np.float64)
    bias = np.zeros(cout, np.float64)
    for branch in layer.conv_symmetric:
        kk, bb = _fuse_bn(branch.convolution.weight.numpy().astype(np.float64), branch.normalization)
        kernel += kk
        bias += bb
    if layer.conv_small_symmetric is not None:
        kk, bb = _fuse_bn(layer.conv_small_symmetric.convolution.weight.numpy().astype(np.float64),
                          layer.conv_small_symmetric.normalization)
        kernel[:, :, k // 2, k // 2] += kk[:, :, 0, 0]
        bias += bb
    if layer.identity is not None:
        ident = np.zeros((cout, cin // groups, k, k), np.float64)
        for i in range(cout):
            ident[i, i % (cin // groups), k // 2, k // 2] = 1.0
        kk, bb = _fuse_bn(ident, layer.identity)
        kernel += kk
        bias += bb
    fused.reparam_conv.weight.set_value(paddle.to_tensor(kernel.astype(np.float32)))
    fused.reparam_conv.bias.set_value(paddle.to_tensor(bias.astype(np.float32)))
    fused.lab.scale.set_value(layer.lab.scale)
    fused.lab.bias.set_value(layer.lab.bias)
    if fused.act is not None:
        fused.act.lab.scale.set_value(layer.act.lab.scale)
        fused.act.lab.bias.set_value(layer.act.lab.bias)
    return fused


def _replace(model: nn.Layer, make) -> int:
    RepLayer, *_ = _paddlex_v3()
    count = 0
    for name, layer in list(model.named_sublayers()):
        if isinstance(layer, RepLayer):
            parent_name, _, attr = name.rpartition(".")
            parent = dict(model.named_sublayers())[parent_name] if parent_name else model
            parent._sub_layers[attr] = make(layer)
            count += 1
    return count


def fuse_rep_layers(model: nn.Layer) -> int:
    """Re-parameterise every multi-branch rep layer in place (weights kept); returns how many."""
    return _replace(model, fused_from)


def to_fused_structure(model: nn.Layer) -> int:
    """Swap rep layers for empty fused layers of the same geometry (to load fused weights into)."""

    def make(layer):
        c = layer.conv_symmetric[0].convolution
        return FusedRepLayer(c._in_channels, c._out_channels, c._kernel_size[0], layer.stride, c._groups)

    return _replace(model, make)
