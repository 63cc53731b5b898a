"""Grad-CAM++ (Chattopadhyay et al., 2018): positive gradients weighted by alpha_kij."""
import numpy as np

from ..base import BaseCAM


class GradCAMPlusPlus(BaseCAM):
    name = "gradcampp"
    crop_paths = True
    eps = 1e-7

    def get_cam_weights(self, activations, grads, input_tensor, targets, layer):
        g = grads.astype(np.float64)
        g2, g3 = g ** 2, g ** 3
        sum_a = activations.astype(np.float64).sum(axis=(2, 3))[:, :, None, None]
        alpha = g2 / (2 * g2 + sum_a * g3 + self.eps)
        alpha = np.where(g != 0, alpha, 0.0)
        return (np.maximum(g, 0) * alpha).sum(axis=(2, 3))
