"""One registry of explanation methods: canonical names, accepted spellings, options, factory.

Every method class declares ``name`` (its one spelling in the CLI, configs, reports and the
benchmark), ``kind`` (``layer_cam``: a map from a layer's activations; ``input_gradient``:
gradients on the input; ``black_box``: model outputs on perturbed inputs only) and
``crop_paths`` (whether the DB detector's exact neck/stage crop paths reproduce its maps).
Its options are the keyword arguments of its ``__init__`` after the model (and, for layer
CAMs, the layers); ``make_method`` rejects any other with the valid ones listed.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Dict, List, Optional, Sequence

from ..errors import InputError
from .attention_rollout import AttentionRollout
from .eigen_cam import EigenCAM
from .feature_occlusion import FeatureOcclusion
from .grad_cam import GradCAM
from .grad_cam_plusplus import GradCAMPlusPlus
from .hires_cam import HiResCAM
from .integrated_gradients import IntegratedGradients
from .layer_cam import LayerCAM
from .occlusion import Occlusion
from .rise import RISE
from .score_cam import ScoreCAM
from .smooth_grad import SmoothGrad
from .xgrad_cam import XGradCAM

KINDS = ("layer_cam", "input_gradient", "black_box")

METHODS: Dict[str, type] = {cls.name: cls for cls in (
    GradCAM, GradCAMPlusPlus, XGradCAM, LayerCAM, HiResCAM, EigenCAM, ScoreCAM,
    IntegratedGradients, SmoothGrad, Occlusion, FeatureOcclusion, RISE, AttentionRollout)}

# methods that need a particular kind of model (the rest explain any Layer): what they need
NEEDS = {"feature_occlusion": ("rec", "a recogniser split into backbone features and head (explain_ocr.py --rec)"),
         "attention_rollout": ("rec", "self-attention blocks (the SVTR neck of a recogniser, --rec)")}

# spellings that the normalisation below (case, '-', '_', '++' -> 'pp') does not reach
_ALIASES = {"ig": "integrated_gradients", "rollout": "attention_rollout"}


def _key(name: str) -> str:
    return str(name).lower().replace("-", "").replace("_", "").replace("++", "pp")


_LOOKUP = {**{_key(n): n for n in METHODS}, **{_key(a): n for a, n in _ALIASES.items()}}


def method_names() -> List[str]:
    """The canonical method names, in registry order."""
    return list(METHODS)


def get_method(name: str) -> type:
    """The method class of ``name``: case-insensitive, '-' and '_' ignored, so ``Grad-CAM``,
    ``gradcam++``, ``integratedgradients`` and ``ig`` all resolve; the class's ``name`` is the
    canonical spelling. An unknown name raises ``InputError`` listing the canonical names."""
    key = _key(name)
    if key not in _LOOKUP:
        close = difflib.get_close_matches(key, list(_LOOKUP), n=1, cutoff=0.6)
        hint = f" (did you mean '{_LOOKUP[close[0]]}'?)" if close else ""
        raise InputError(f"unknown method '{name}'{hint}; choose one of: {', '.join(METHODS)}")
    return METHODS[_LOOKUP[key]]


def methods_for(model: str) -> List[str]:
    """The methods that can explain a model of kind ``model`` (``det``, ``rec``, ``cls``, ``field``)."""
    return [n for n in METHODS if n not in NEEDS or NEEDS[n][0] == model]


def check_method_for(name: str, model: str) -> type:
    """:func:`get_method`, and an ``InputError`` when the method cannot explain a ``model`` (naming
    what it needs and the methods that can), raised before any model loads.

    >>> check_method_for("feature_occlusion", "det")
    Traceback (most recent call last):
    ...
    paddle_cam.errors.InputError: method 'feature_occlusion' cannot explain a det model: it needs a recogniser split into backbone features and head (explain_ocr.py --rec); methods that can: gradcam, gradcampp, xgradcam, layercam, hirescam, eigencam, scorecam, integrated_gradients, smoothgrad, occlusion, rise
    """
    cls = get_method(name)
    if cls.name in NEEDS and NEEDS[cls.name][0] != model:
        raise InputError(f"method '{cls.name}' cannot explain a {model} model: it needs {NEEDS[cls.name][1]}; "
                         f"methods that can: {', '.join(methods_for(model))}")
    return cls


def _skipped(cls: type) -> int:
    """Leading constructor parameters that are not options: the model, and a layer CAM's layers."""
    return 2 if cls.kind == "layer_cam" else 1


def method_options(name: str) -> Dict[str, Any]:
    """Option name -> default of a method (any accepted spelling), in constructor order."""
    cls = get_method(name)
    params = list(inspect.signature(cls.__init__).parameters.values())[1 + _skipped(cls):]
    return {p.name: p.default for p in params}


def make_method(name: str, model: Any, layers: Optional[Sequence] = None, **options: Any):
    """An instance of method ``name`` on ``model`` with ``options``.

    ``layers`` (names or Layer objects) are where a layer CAM explains; methods of the other
    kinds attribute the model input, so a tool can pass its configured layers whatever the
    method and they do not use them. ``model`` is a ``paddle.nn.Layer``, or for black-box
    methods also any ``predict(batch np) -> outputs`` callable. An option the method does not
    have raises ``InputError`` naming it, the closest valid option and all of them.
    """
    cls = get_method(name)
    valid = method_options(cls.name)
    for key in options:
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"method '{cls.name}' has no option '{key}'{hint}; "
                             f"its options: {', '.join(valid) or 'none'}")
    if cls.kind == "layer_cam":
        if layers is None or (isinstance(layers, (list, tuple)) and not layers):
            raise InputError(f"method '{cls.name}' explains a layer: pass the layers to explain")
        return cls(model, layers, **options)
    return cls(model, **options)
