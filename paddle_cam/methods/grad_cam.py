"""Grad-CAM (Selvaraju et al., 2017): channel weight = spatial mean of the gradient."""
from ..base import BaseCAM


class GradCAM(BaseCAM):
    name = "gradcam"
    crop_paths = True

    def get_cam_weights(self, activations, grads, input_tensor, targets, layer):
        return grads.mean(axis=(2, 3))
