"""paddle_cam: explainability (CAM family and attributions) for PaddleOCR models in dynamic graph."""
import os as _os
import warnings as _warnings

_os.environ.setdefault("GLOG_minloglevel", "2")
with _warnings.catch_warnings():
    # Importing Paddle warns about a missing ccache (irrelevant: nothing is compiled) and sets a
    # process-wide "always" warnings filter; the block keeps both out of the user's process.
    _warnings.simplefilter("ignore")
    import paddle as _paddle  # noqa: F401
from .base import BaseCAM, CAMResult, normalize_maps, resize_maps
from .errors import (FontNotFoundError, HookNotFiredError, InputError, LayerNotFoundError, ModelLoadError,
                     PaddleCamError, TargetError)
from .hooks import LayerHooks, layer_names, resolve_layer
from .methods import (METHODS, RISE, EigenCAM, FeatureOcclusion, GradCAM, GradCAMPlusPlus, HiResCAM,
                      IntegratedGradients, LayerCAM, Occlusion, ScoreCAM, SmoothGrad, XGradCAM, get_method,
                      make_method, method_names, method_options)
from .modes import eval_mode
from .targets import ClassifierOutputTarget, MaskedMeanTarget

__version__ = "0.1.0"

__all__ = [
    "BaseCAM", "CAMResult", "normalize_maps", "resize_maps", "LayerHooks", "layer_names", "resolve_layer",
    "GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "HiResCAM", "EigenCAM", "ScoreCAM", "IntegratedGradients",
    "SmoothGrad", "Occlusion", "FeatureOcclusion", "RISE", "METHODS", "get_method", "make_method", "method_names", "method_options",
    "eval_mode", "ClassifierOutputTarget", "MaskedMeanTarget", "PaddleCamError", "InputError",
    "LayerNotFoundError", "HookNotFiredError", "TargetError", "ModelLoadError", "FontNotFoundError",
]
