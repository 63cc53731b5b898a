"""PaddleOCR's text-line orientation classifier (``ch_ppocr_mobile_v2_cls``): MobileNetV3-small
with (2, 1) strides, as in ``ppocr/modeling/backbones/rec_mobilenet_v3.py`` plus ``ClsHead``.

Layer names equal PaddleOCR's training names (``backbone.blocks.3.mid_se.conv1``), so the
``.pdiparams.info`` of an exported model and a training ``.pdparams`` both load by name.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def make_divisible(v: float, divisor: int = 8, min_value=None) -> int:
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNLayer(nn.Layer):
    def __init__(self, cin, cout, k, stride, padding, groups=1, act=None):
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, k, stride, padding, groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        if self.act == "relu":
            x = F.relu(x)
        elif self.act == "hardswish":
            x = F.hardswish(x)
        return x


class SEModule(nn.Layer):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x):
        s = self.conv2(F.relu(self.conv1(self.avg_pool(x))))
        return x * F.hardsigmoid(s, slope=0.2, offset=0.5)


class ResidualUnit(nn.Layer):
    def __init__(self, cin, mid, cout, k, stride, use_se, act):
        super().__init__()
        self.if_shortcut = stride == 1 and cin == cout
        self.if_se = use_se
        self.expand_conv = ConvBNLayer(cin, mid, 1, 1, 0, act=act)
        self.bottleneck_conv = ConvBNLayer(mid, mid, k, stride, (k - 1) // 2, groups=mid, act=act)
        if use_se:
            self.mid_se = SEModule(mid)
        self.linear_conv = ConvBNLayer(mid, cout, 1, 1, 0, act=None)

    def forward(self, inputs):
        x = self.bottleneck_conv(self.expand_conv(inputs))
        if self.if_se:
            x = self.mid_se(x)
        x = self.linear_conv(x)
        return inputs + x if self.if_shortcut else x


_SMALL = [  # k, exp, c, se, act, stride
    [3, 16, 16, True, "relu", (2, 1)],
    [3, 72, 24, False, "relu", (2, 1)],
    [3, 88, 24, False, "relu", 1],
    [5, 96, 40, True, "hardswish", (2, 1)],
    [5, 240, 40, True, "hardswish", 1],
    [5, 240, 40, True, "hardswish", 1],
    [5, 120, 48, True, "hardswish", 1],
    [5, 144, 48, True, "hardswish", 1],
    [5, 288, 96, True, "hardswish", (2, 1)],
    [5, 576, 96, True, "hardswish", 1],
    [5, 576, 96, True, "hardswish", 1],
]


class MobileNetV3Small(nn.Layer):
    def __init__(self, scale: float = 0.35):
        super().__init__()
        inplanes = make_divisible(16 * scale)
        self.conv1 = ConvBNLayer(3, inplanes, 3, 2, 1, act="hardswish")
        blocks = []
        for k, exp, c, se, act, s in _SMALL:
            blocks.append(ResidualUnit(inplanes, make_divisible(scale * exp), make_divisible(scale * c), k, s, se, act))
            inplanes = make_divisible(scale * c)
        self.blocks = nn.Sequential(*blocks)
        self.conv2 = ConvBNLayer(inplanes, make_divisible(scale * 576), 1, 1, 0, act="hardswish")
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)

    def forward(self, x):
        return self.pool(self.conv2(self.blocks(self.conv1(x))))


class ClsHead(nn.Layer):
    def __init__(self, in_channels: int, class_dim: int = 2):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(in_channels, class_dim)

    def forward(self, x):
        x = paddle.flatten(self.pool(x), start_axis=1)
        return F.softmax(self.fc(x), axis=1)


class TextLineOrientationClassifier(nn.Layer):
    """Outputs (N, classes) probabilities; ``backbone.*`` layers are hookable by name."""

    def __init__(self, scale: float = 0.35, class_dim: int = 2):
        super().__init__()
        self.backbone = MobileNetV3Small(scale)
        self.head = ClsHead(make_divisible(scale * 576), class_dim)

    def forward(self, x):
        return self.head(self.backbone(x))
