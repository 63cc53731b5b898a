"""XGrad-CAM (Fu et al., 2020): gradients weighted by the normalised activation."""
import numpy as np

from ..base import BaseCAM


class XGradCAM(BaseCAM):
    name = "xgradcam"
    crop_paths = True
    eps = 1e-7

    def get_cam_weights(self, activations, grads, input_tensor, targets, layer):
        a = activations.astype(np.float64)
        sum_a = a.sum(axis=(2, 3))[:, :, None, None]
        return (grads * a / (sum_a + self.eps)).sum(axis=(2, 3))
