"""EigenCAM (Muhammad & Yeasin, 2020): first principal component of the activations.

Gradient-free and target-independent. The sign of a singular vector is arbitrary, so it is
fixed to agree with the channel-summed activation: same map on every LAPACK build.
"""
import numpy as np

from ..base import BaseCAM


class EigenCAM(BaseCAM):
    name = "eigencam"
    crop_paths = False
    uses_gradients = False

    def get_cam_image(self, activations, grads, input_tensor, targets, layer):
        maps = []
        for a in activations.astype(np.float64):
            c, h, w = a.shape
            flat = a.reshape(c, -1).T
            flat = flat - flat.mean(axis=0)
            _, _, vt = np.linalg.svd(flat, full_matrices=False)
            proj = flat @ vt[0]
            ref = a.sum(axis=0).ravel()
            if np.dot(proj, ref - ref.mean()) < 0:
                proj = -proj
            maps.append(proj.reshape(h, w))
        return np.stack(maps)
