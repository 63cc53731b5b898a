"""PP-LCNet classifiers (x0_25 ... x2_5) on PaddleX's official dynamic-graph code.

PaddleX's ``PPLCNet.forward`` takes a list and returns numpy; ``PPLCNetClassifier`` keeps its
layers (``encoder.blocks.4`` ...) and replaces only the forward with a differentiable one.
"""
from __future__ import annotations

import re
from typing import Dict, Optional

import numpy as np
import paddle.nn.functional as F

from ..errors import ModelLoadError

SCALES = (0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5)
STEM_WEIGHT = "encoder.convolution.convolution.weight"


def _paddlex():
    try:
        from paddlex.inference.models.image_classification.modeling._config import PPLCNetConfig
        from paddlex.inference.models.image_classification.modeling.pplcnet import PPLCNet
        from paddlex.modules.base.utils.pdparams2safetensors import MODEL_CONFIGS, PPLCNET_MAPPING
    except ImportError as e:  # pragma: no cover - paddlex is a pinned dependency
        raise ModelLoadError(f"PP-LCNet needs paddlex ({e}); run `make install`") from None
    return PPLCNet, PPLCNetConfig, MODEL_CONFIGS, PPLCNET_MAPPING


def config_for(model_name: Optional[str], scale: Optional[float] = None, num_labels: int = 2):
    """A PaddleX ``PPLCNetConfig`` for a model name such as ``PP-LCNet_x0_25_textline_ori``."""
    PPLCNet, PPLCNetConfig, MODEL_CONFIGS, _ = _paddlex()
    kw = {}
    if model_name and model_name in MODEL_CONFIGS and MODEL_CONFIGS[model_name].get("model_type") == "pp_lcnet":
        kw = {k: v for k, v in MODEL_CONFIGS[model_name].items() if k not in ("model_type", "id2label")}
    elif model_name and "textline" in model_name:
        kw = {k: v for k, v in MODEL_CONFIGS["PP-LCNet_x0_25_textline_ori"].items() if k not in ("model_type", "id2label")}
    m = re.search(r"x(\d+)_(\d+)", model_name or "")
    if m:
        kw["scale"] = float(f"{m.group(1)}.{m.group(2)}")
    if scale is not None:
        kw["scale"] = scale
    kw["num_labels"] = num_labels
    return PPLCNetConfig(**kw)


def make_classifier_class():
    PPLCNet, *_ = _paddlex()

    class PPLCNetClassifier(PPLCNet):
        """PaddleX PP-LCNet with a tensor-in, probabilities-out forward."""

        def forward(self, x):
            h = self.encoder(x)
            h = self.act_fn(self.last_convolution(self.avg_pool(h)))
            h = self.flatten(h * (1 - self.hidden_dropout_prob))  # PaddleClas downscale_in_infer dropout
            return F.softmax(self.head(h), axis=-1)

    return PPLCNetClassifier


def build(model_name: Optional[str] = None, scale: Optional[float] = None, num_labels: int = 2,
          in_channels: int = 3):
    """A fresh PP-LCNet classifier (eval mode); ``in_channels`` other than 3 rebuilds the stem conv
    (inputs with planes beyond the image, e.g. the field classifier's label planes)."""
    cls = make_classifier_class()
    model = cls(config_for(model_name, scale, num_labels))
    if in_channels != 3:
        from .weights import conform_to_state_dict

        out_c, _, kh, kw = model.encoder.convolution.convolution.weight.shape
        conform_to_state_dict(model, {STEM_WEIGHT: np.zeros((out_c, in_channels, kh, kw), np.float32)})
    model.eval()
    return model


def to_paddlex_names(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """PaddleClas / PaddleX training names (``blocks2.0.dw_conv.conv.weight``) -> module names."""
    *_, PPLCNET_MAPPING = _paddlex()
    if any(k.startswith("encoder.") for k in state):
        return dict(state)
    from paddlex.modules.base.utils.pdparams2safetensors import apply_key_mapping

    stripped = {re.sub(r"^(backbone|model)\.", "", k): v for k, v in state.items()}
    return apply_key_mapping(stripped, PPLCNET_MAPPING)


def scale_from_state(state: Dict[str, np.ndarray]) -> float:
    """Smallest PP-LCNet scale whose stem and last stage widths match the weights."""
    from paddlex.inference.models.image_classification.modeling.pplcnet import make_divisible

    stem = state[STEM_WEIGHT].shape[0]
    last = state["last_convolution.weight"].shape[1]
    for s in SCALES:
        if make_divisible(16 * s, 8) == stem and make_divisible(512 * s, 8) == last:
            return s
    return min(SCALES, key=lambda s: abs(make_divisible(512 * s, 8) - last))  # pruned: widths are rebuilt
