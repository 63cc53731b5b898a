"""HiResCAM (Draelos & Carin, 2020): element-wise gradient times activation, no pooling."""
import numpy as np

from ..base import BaseCAM


class HiResCAM(BaseCAM):
    name = "hirescam"
    crop_paths = True

    def get_cam_image(self, activations, grads, input_tensor, targets, layer):
        return (grads.astype(np.float64) * activations).sum(axis=1)
