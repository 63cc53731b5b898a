"""Grad-CAM (Selvaraju et al., 2017): channel weight = spatial mean of the gradient."""
import numpy as np

from ..base import BaseCAM


class GradCAM(BaseCAM):
    name = "gradcam"

    def get_cam_weights(self, activations, grads, input_tensor, targets, layer):
        return grads.mean(axis=(2, 3))
