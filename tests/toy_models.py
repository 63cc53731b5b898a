"""Tiny hand-built models and numpy re-implementations of their forward passes."""
import numpy as np
import paddle
import paddle.nn as nn


class ConvReadout(nn.Layer):
    """conv3x3(3->C, pad 1) -> ReLU ('act') -> flatten -> linear(C*h*w -> K).

    d(logit k)/d(act) is linear.weight[:, k] reshaped to (C, h, w): a non-uniform gradient,
    so Grad-CAM, LayerCAM, HiResCAM, Grad-CAM++ and XGrad-CAM all give different maps.
    """

    def __init__(self, c=4, h=6, w=5, k=3, seed=0):
        super().__init__()
        paddle.seed(seed)
        self.conv = nn.Conv2D(3, c, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(c * h * w, k)
        self.unused = nn.Conv2D(3, 3, 1)
        self.shape = (c, h, w)

    def forward(self, x):
        return self.fc(paddle.flatten(self.act(self.conv(x)), start_axis=1))


def np_conv3x3(x, w, b):
    n, cin, h, wd = x.shape
    cout = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, cout, h, wd), np.float64)
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + h, j:j + wd], w[:, :, i, j])
    return out + b[None, :, None, None]


def np_forward(model, x):
    """(activations after ReLU, logits) computed with numpy only."""
    w = model.conv.weight.numpy().astype(np.float64)
    b = model.conv.bias.numpy().astype(np.float64)
    act = np.maximum(np_conv3x3(x.astype(np.float64), w, b), 0)
    logits = act.reshape(x.shape[0], -1) @ model.fc.weight.numpy().astype(np.float64) + model.fc.bias.numpy()
    return act, logits


def np_bilinear(m, H, W):
    """Half-pixel-centre bilinear resize (OpenCV INTER_LINEAR / align_corners=False) in numpy."""
    h, w = m.shape

    def coords(out, inp):
        src = (np.arange(out) + 0.5) * inp / out - 0.5
        src = np.clip(src, 0, inp - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, inp - 1)
        return lo, hi, src - lo

    y0, y1, fy = coords(H, h)
    x0, x1, fx = coords(W, w)
    top = m[y0][:, x0] * (1 - fx) + m[y0][:, x1] * fx
    bot = m[y1][:, x0] * (1 - fx) + m[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bot * fy[:, None]
