"""PaddleOCR static rec folders (PP-OCRv4/v5 mobile rec: fused PP-LCNetV3 + SVTR neck + CTC head)
placed onto PaddleX's ``PPOCRV5MobileRec``.

PaddleX has no PP-OCRv4 rec class, but PP-OCRv4 and PP-OCRv5 mobile rec share the architecture
(PP-LCNetV3 scale 0.95 with the rec strides, ``EncoderWithSVTR`` dims 120 / depth 2 / kernel [1, 3],
a linear CTC head); only the head width (the dictionary) differs, and that is read from the weights.
The exported program holds the re-parameterised (fused) backbone, so the model gets the fused
structure first (:func:`paddle_cam.models.lcnetv3_rep.to_fused_structure`).

Weights are placed by ``.pdiparams.info`` structured names (PaddleOCR names, renamed with PaddleX's
own ``PPOCRV5_MOBILE_REC_MAPPING``) or, without them, by program order (which also serves the other
rec families, whose exported programs run their layers in PaddleX's forward order). The layer-norm epsilons of
the exported program are copied onto the model (PaddleOCR's SVTR blocks use 1e-5 where PaddleX's
class uses 1e-6). The caller checks the result against Paddle Inference.

Example:
    >>> from paddle_cam.models.paddle_format import read_inference_folder
    >>> inf = read_inference_folder(rec_dir)                       # doctest: +SKIP
    >>> state = state_from_inference(model, inf)                   # doctest: +SKIP
"""
from __future__ import annotations

import json
import re
from typing import Dict, List

import numpy as np
import paddle
import paddle.nn as nn

from ..errors import ModelLoadError
from .paddle_format import InferenceModel
from .weights import state_from_program_order

# PP-OCRv4 names of the fused rep layers' parameters -> FusedRepLayer's (before PaddleX's mapping).
_FUSED_RULES = [
    (r"\.(dw_conv|pw_conv)\.w$", r".\1.lab.scale"),
    (r"\.(dw_conv|pw_conv)\.b$", r".\1.lab.bias"),
    (r"\.activation\.scale$", r".act.lab.scale"),
    (r"\.activation\.bias$", r".act.lab.bias"),
]


def to_module_names(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """PaddleOCR rec names (``head.ctc_encoder.encoder.conv1.conv.weight``) -> PaddleX module names.

    Drops the training-only branches (GTC / NRTR head) the way PaddleX's converter does.
    """
    from paddlex.modules.base.utils import pdparams2safetensors as px

    out = {}
    for k, v in state.items():
        if k.startswith(tuple(px.REC_DROP_PREFIXES)):
            continue
        for pat, rep in _FUSED_RULES:
            k = re.sub(pat, rep, k)
        out[k] = v
    mapped = px.apply_key_mapping(out, px.PPOCRV5_MOBILE_REC_MAPPING)
    return {k.replace(".running_mean", "._mean").replace(".running_var", "._variance"): v for k, v in mapped.items()}


def neck_config(structured_names) -> Dict[str, object]:
    """SVTR neck and CTC head sizes from PaddleOCR's structured names and the weights' shapes."""
    by_name = dict(structured_names)
    enc = "head.ctc_encoder.encoder."
    fc = by_name.get("head.ctc_head.fc.weight")
    if fc is None:
        return {}
    blocks = {k[len(enc):].split(".")[1] for k in by_name if k.startswith(enc + "svtr_block.")}
    fc1 = by_name.get(enc + "svtr_block.0.mlp.fc1.weight")
    out = {"hidden_size": int(fc.shape[0]), "head_out_channels": int(fc.shape[1]), "depth": len(blocks)}
    if fc1 is not None:
        out["mlp_ratio"] = float(fc1.shape[1]) / fc1.shape[0]
    return out


def layer_norm_epsilons(inf: InferenceModel) -> List[float]:
    """Epsilons of the program's ``layer_norm`` ops, in program order."""
    if inf.is_pir:
        with open(inf.model_file, "r", encoding="utf-8") as f:
            ops = json.load(f)["program"]["regions"][0]["blocks"][0]["ops"]
        eps = []
        for op in ops:
            if op.get("#", "").endswith("layer_norm"):
                for a in op.get("A", []):
                    if isinstance(a, dict) and a.get("N") == "epsilon":
                        eps.append(float(a["AT"]["D"]))
        return eps
    from paddle.base.proto import framework_pb2 as fp

    prog = fp.ProgramDesc()
    with open(inf.model_file, "rb") as f:
        prog.ParseFromString(f.read())
    return [a.f for op in prog.blocks[0].ops if op.type == "layer_norm" for a in op.attrs if a.name == "epsilon"]


def copy_layer_norm_epsilons(model: nn.Layer, eps: List[float], example: paddle.Tensor) -> None:
    """Set each ``nn.LayerNorm``'s epsilon, in execution order, to the program's."""
    from .weights import leaf_layers_in_execution_order

    norms = [layer for _, layer in leaf_layers_in_execution_order(model, example) if isinstance(layer, nn.LayerNorm)]
    if eps and len(eps) == len(norms):
        for layer, e in zip(norms, eps):
            layer._epsilon = float(e)


def state_from_inference(model: nn.Layer, inf: InferenceModel, by_program_order: bool = False,
                         example_hw=(48, 64)) -> Dict[str, np.ndarray]:
    """Weights of a static rec folder keyed by ``model``'s state-dict names (fused structure)."""
    example = paddle.zeros([1, 3, *example_hw])
    copy_layer_norm_epsilons(model, layer_norm_epsilons(inf), example)
    if inf.structured_names and not by_program_order:
        named = {inf.structured_names[k]: v for k, v in inf.weights.items() if k in inf.structured_names}
        if not any(k.startswith("head.ctc_") for k in named):
            raise ModelLoadError(f"{inf.params_file} holds no CTC recognition head (no head.ctc_* weights): "
                                 "it is not a text recognition model; pass a rec folder")
        return to_module_names(named)
    return state_from_program_order(model, inf, example, check_shapes=False)
