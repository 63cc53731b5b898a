"""CAM methods, one file each; ``METHODS`` maps CLI names to classes."""
from .eigen_cam import EigenCAM
from .grad_cam import GradCAM
from .grad_cam_plusplus import GradCAMPlusPlus
from .hires_cam import HiResCAM
from .layer_cam import LayerCAM
from .score_cam import ScoreCAM
from .xgrad_cam import XGradCAM
from .integrated_gradients import IntegratedGradients
from .occlusion import Occlusion
from .rise import RISE
from .smooth_grad import SmoothGrad

METHODS = {cls.name: cls for cls in (GradCAM, GradCAMPlusPlus, XGradCAM, LayerCAM, HiResCAM, EigenCAM, ScoreCAM,
                                     IntegratedGradients, SmoothGrad, Occlusion, RISE)}


def get_method(name: str):
    """Method class by CLI name (case-insensitive, '-' and '_' ignored, 'gradcam++' accepted)."""
    from ..errors import InputError

    key = name.lower().replace("-", "").replace("_", "").replace("++", "pp")
    if key not in METHODS:
        raise InputError(f"unknown method '{name}'; choose one of: {', '.join(METHODS)}")
    return METHODS[key]


__all__ = ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "HiResCAM", "EigenCAM", "ScoreCAM",
           "IntegratedGradients", "SmoothGrad", "Occlusion", "RISE", "METHODS", "get_method"]
