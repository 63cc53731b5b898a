"""paddle_cam: explainability (CAM family and attributions) for PaddleOCR models in dynamic graph.

Explain a page in a few lines (the command line's defaults, read from ``configs/det/explain_ocr.yml``):

    >>> import paddle_cam as pc
    >>> ex = pc.OCRExplainer.from_pretrained()          # doctest: +SKIP
    >>> res = ex.explain("invoice.jpg", boxes="top-3")  # doctest: +SKIP
    >>> res.save("output/invoice")                      # doctest: +SKIP

Names are imported on first use: ``import paddle_cam`` (and ``--help`` of every tool) does not
load Paddle.
"""
from __future__ import annotations

import importlib as _importlib
import os as _os
import warnings as _warnings

_os.environ.setdefault("GLOG_minloglevel", "2")
# Importing Paddle warns that ccache is missing: irrelevant here (nothing is compiled); this one
# message only is hidden, whichever module of the package imports Paddle first.
_warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

__version__ = "0.2.0"

# public name -> module that defines it
_EXPORTS = {
    "OCRExplainer": "api", "PageExplanation": "api",
    "BaseCAM": "base", "CAMResult": "base", "normalize_maps": "base", "resize_maps": "base",
    "LayerHooks": "hooks", "layer_names": "hooks", "resolve_layer": "hooks",
    "eval_mode": "modes",
    "ClassifierOutputTarget": "targets", "MaskedMeanTarget": "targets",
    "PaddleCamError": "errors", "InputError": "errors", "LayerNotFoundError": "errors",
    "HookNotFiredError": "errors", "TargetError": "errors", "ModelLoadError": "errors",
    "FontNotFoundError": "errors",
    **{n: "methods" for n in ("GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "HiResCAM", "EigenCAM",
                              "ScoreCAM", "IntegratedGradients", "SmoothGrad", "Occlusion", "FeatureOcclusion",
                              "RISE", "METHODS", "get_method", "make_method", "method_names", "method_options")},
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'paddle_cam' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
