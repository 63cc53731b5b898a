"""Score-CAM (Wang et al., 2020): each channel, upsampled and min-max scaled, masks the input;
the target's score on the masked input, softmaxed over channels, is the channel's weight.

Masked inputs go through the model in batches of ``batch_size``. ``baseline`` is what masked-out
pixels become in the model's input space (0 = the normalised mean colour); a document user
may prefer the normalised value of white paper.
"""
from typing import Union

import numpy as np
import paddle
import paddle.nn.functional as F

from ..base import BaseCAM
from ..targets import score_of, select_item


class ScoreCAM(BaseCAM):
    name = "scorecam"
    crop_paths = False
    uses_gradients = False

    def __init__(self, model, target_layers, reshape_transform=None, gradient_support: bool = False,
                 batch_size: int = 16, baseline: Union[float, np.ndarray] = 0.0):
        super().__init__(model, target_layers, reshape_transform, gradient_support)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = int(batch_size)
        self.baseline = baseline

    @staticmethod
    def channel_masks(activations: np.ndarray, size_hw) -> paddle.Tensor:
        """(N, C, H, W) masks in [0, 1]; a constant channel gives an all-zero mask (no NaN)."""
        up = F.interpolate(paddle.to_tensor(activations), size=list(size_hw), mode="bilinear",
                           align_corners=False)
        lo = up.amin(axis=[2, 3], keepdim=True)
        hi = up.amax(axis=[2, 3], keepdim=True)
        span = hi - lo
        return paddle.where(span > 0, (up - lo) / paddle.where(span > 0, span, paddle.ones_like(span)),
                            paddle.zeros_like(up))

    def get_cam_weights(self, activations, grads, input_tensor, targets, layer):
        n, c = activations.shape[:2]
        h, w = input_tensor.shape[2:]
        base = paddle.to_tensor(np.asarray(self.baseline, dtype=np.float32))
        weights = np.zeros((n, c), dtype=np.float64)
        with paddle.no_grad():
            masks = self.channel_masks(activations, (h, w))
            for i in range(n):
                xi = input_tensor[i:i + 1]
                scores = []
                for s in range(0, c, self.batch_size):
                    m = masks[i, s:s + self.batch_size].unsqueeze(1)
                    out = self.model(base + m * (xi - base))
                    scores.extend(float(score_of(targets[i], select_item(out, j))) for j in range(m.shape[0]))
                sc = np.asarray(scores, dtype=np.float64)
                e = np.exp(sc - sc.max())
                weights[i] = e / e.sum()
        return weights
