"""LayerCAM (Jiang et al., 2021): element-wise positive gradient times activation."""
import numpy as np

from ..base import BaseCAM


class LayerCAM(BaseCAM):
    name = "layercam"
    crop_paths = True

    def get_cam_image(self, activations, grads, input_tensor, targets, layer):
        return (np.maximum(grads, 0).astype(np.float64) * activations).sum(axis=1)
