"""PaddleX's text-recognition classes as paddle_cam builds them: families, configs from PaddleX's
own released ``config.json`` values (``MODEL_CONFIGS``), a tensor ``forward``, and the CTC class list.

Example:
    >>> from paddle_cam.models.rec_arch import build_rec, class_list
    >>> m = build_rec("PP-OCRv6_small_rec", head_out_channels=18710)      # doctest: +SKIP
    >>> class_list(["a", "b"], 4, "m")
    ['blank', 'a', 'b', ' ']
"""
from __future__ import annotations

import functools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle.nn as nn

from ..errors import ModelLoadError
from .lcnetv3_rep import to_fused_structure

# model family -> (PaddleX class name, PaddleX MODEL_CONFIGS key)
FAMILIES = {
    "PP-OCRv4_mobile_rec": ("PPOCRV5MobileRec", "PP-OCRv5_mobile_rec"),
    "PP-OCRv5_mobile_rec": ("PPOCRV5MobileRec", "PP-OCRv5_mobile_rec"),
    "PP-OCRv5_server_rec": ("PPOCRV5ServerRec", "PP-OCRv5_server_rec"),
    "PP-OCRv6_small_rec": ("PPOCRV6SmallRec", "PP-OCRv6_small_rec"),
    "PP-OCRv6_medium_rec": ("PPOCRV6SmallRec", "PP-OCRv6_medium_rec"),
    "PP-OCRv6_tiny_rec": ("PPOCRV6TinyRec", "PP-OCRv6_tiny_rec"),
}
# Hookable layers per family (backbone stages, the SVTR neck, the CTC head).
LAYERS = {
    "PPOCRV5MobileRec": {"neck": "head.encoder", "head": "head.head", "stage5": "model.backbone.encoder.blocks.4",
                         "stage4": "model.backbone.encoder.blocks.3", "stage3": "model.backbone.encoder.blocks.2",
                         "stage2": "model.backbone.encoder.blocks.1"},
    "PPOCRV6SmallRec": {"neck": "head.encoder", "head": "head.head", "stage4": "model.backbone.encoder.blocks.3",
                        "stage3": "model.backbone.encoder.blocks.2", "stage2": "model.backbone.encoder.blocks.1",
                        "stage1": "model.backbone.encoder.blocks.0"},
}


@functools.lru_cache(maxsize=None)
def rec_class(paddlex_class: str):
    """PaddleX's rec class with a tensor ``forward`` (PaddleX's own takes a list and returns numpy)."""
    from paddlex.inference.models.text_recognition import modeling

    base = getattr(modeling, paddlex_class)

    class TensorRec(base):
        """``forward(x)`` = ``head(model(x))``: (N, 3, H, W) tensor -> (N, T, classes) probabilities."""

        def forward(self, x):
            return self.head(self.model(x))

    TensorRec.__name__ = TensorRec.__qualname__ = paddlex_class
    return TensorRec


def paddlex_config(family: str, **overrides):
    """PaddleX's config object of ``family`` (its released ``config.json`` values), with overrides."""
    from paddlex.inference.models.text_recognition import modeling
    from paddlex.modules.base.utils.pdparams2safetensors import MODEL_CONFIGS

    if family not in FAMILIES:
        raise ModelLoadError(f"unknown recognition model {family!r}; known: {', '.join(FAMILIES)}")
    cls_name, key = FAMILIES[family]
    cfg = dict(MODEL_CONFIGS[key])
    cfg.update(overrides)
    return getattr(modeling, cls_name).config_class(**cfg)


NECK_KEYS = ("hidden_size", "depth", "mlp_ratio", "num_attention_heads", "head_out_channels")


def build_rec(family: str, head_out_channels: Optional[int] = None, fused: bool = True, **overrides) -> nn.Layer:
    """An (untrained) dynamic-graph recogniser of ``family`` in eval mode.

    ``head_out_channels`` and ``overrides`` (``hidden_size``, ``depth``, ``mlp_ratio``,
    ``num_attention_heads``, read from the weights by the loaders) replace PaddleX's released
    config values; ``fused`` gives PP-LCNetV3 backbones the single-conv (exported) form of their
    rep layers.

    Example:
        >>> m = build_rec("PP-OCRv6_small_rec", head_out_channels=18710)      # doctest: +SKIP
    """
    over = {k: v for k, v in overrides.items() if v is not None}
    if head_out_channels:
        over["head_out_channels"] = int(head_out_channels)
    model = rec_class(FAMILIES[family][0])(paddlex_config(family, **over))
    if fused:
        to_fused_structure(model)
    model.eval()
    return model


def read_dict_file(path: str) -> List[str]:
    """Dictionary lines as PaddleOCR reads them (split on newlines only, ``\\r\\n`` stripped)."""
    try:
        with open(path, "rb") as f:
            lines = f.readlines()
    except OSError as e:
        raise ModelLoadError(f"cannot read character dictionary {path}: {e.strerror}") from None
    return [ln.decode("utf-8").strip("\n").strip("\r\n") for ln in lines]


def class_list(chars: Sequence[str], num_classes: int, source: str, use_space_char: Optional[bool] = None) -> List[str]:
    """``["blank"] + chars (+ [" "])`` sized to the head; a dictionary that does not fit is an error.

    Example:
        >>> class_list(["a", "b"], 4, "m")
        ['blank', 'a', 'b', ' ']
    """
    chars = list(chars)
    space = len(chars) + 2 == num_classes if use_space_char is None else use_space_char
    classes = ["blank"] + chars + ([" "] if space else [])
    if len(classes) != num_classes:
        raise ModelLoadError(f"the character dictionary of {source} has {len(chars)} entries but the model's head has "
                             f"{num_classes} classes (blank + dictionary{' + space' if space else ''} = "
                             f"{len(classes)}); pass the dictionary the model was trained with")
    return classes


def unfused_state(model: nn.Layer, family: str) -> Tuple[nn.Layer, Dict[str, np.ndarray]]:
    """PaddleX's multi-branch (training-form) model of ``family`` and a state dict that computes what
    the fused ``model`` computes: each fused rep layer's kernel and bias go to its first kxk branch
    (batch norm as identity: scale 1, mean 0, variance 1 - eps, shift = the fused bias); the other
    branches get zero weights and zero batch-norm scale and shift, so they add exactly 0.

    This is how weights that only exist fused (inference exports, ONNX) become a folder PaddleX's
    ``from_pretrained`` builds its own (unfused) class for.
    """
    from .lcnetv3_rep import FusedRepLayer

    target = build_rec(family, fused=False, **{k: getattr(model.config, k, None) for k in NECK_KEYS})
    own = {k: v.numpy() for k, v in model.state_dict().items()}
    fused = {name: layer for name, layer in model.named_sublayers() if isinstance(layer, FusedRepLayer)}
    state: Dict[str, np.ndarray] = {}
    for k, v in target.state_dict().items():
        layer_name = next((n for n in fused if k.startswith(n + ".")), None)
        if layer_name is None:
            state[k] = own[k]
            continue
        rest = k[len(layer_name) + 1:]
        src = fused[layer_name]
        shape = tuple(v.shape)
        if rest.startswith(("lab.", "act.lab.")):
            state[k] = own[f"{layer_name}.{rest}"] if f"{layer_name}.{rest}" in own else v.numpy()
        elif rest == "conv_symmetric.0.convolution.weight":
            state[k] = own[f"{layer_name}.reparam_conv.weight"]
        elif rest.startswith("conv_symmetric.0.normalization."):
            attr = rest.rsplit(".", 1)[1]
            eps = float(dict(target.named_sublayers())[f"{layer_name}.conv_symmetric.0.normalization"]._epsilon)
            state[k] = {"weight": np.ones(shape, np.float32), "bias": own[f"{layer_name}.reparam_conv.bias"],
                        "_mean": np.zeros(shape, np.float32),
                        "_variance": np.full(shape, 1.0 - eps, np.float32)}[attr]
        elif rest.endswith("_variance"):
            state[k] = np.ones(shape, np.float32)
        else:  # other branches' conv weights, BN scale/shift/mean: zero
            state[k] = np.zeros(shape, np.float32)
        if src.act is None and rest.startswith("act.lab."):
            state[k] = v.numpy()  # stride-2 layers never run their activation
    return target, state
