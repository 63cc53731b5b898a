"""PaddleX's Hugging-Face-style model folders: ``config.json`` + ``model.safetensors`` (format
``safetensors``) or ``config.json`` + ``model_state.pdparams`` (format ``paddle_dyn``), plus the
``inference.yml`` PaddleX reads for pre- and post-processing in every format.

Reading goes through PaddleX itself: ``Class.from_pretrained(folder, use_safetensors=True,
convert_from_hf=True)``, exactly what ``text_detection/__init__.py`` and
``text_recognition/__init__.py`` register for PP-OCRv5/v6 (``paddle_dynamic_runner.py``). As
``from_pretrained`` only warns about missing or unused weights, every tensor of the file is then
compared with the loaded model, and any difference is an error.

Writing is the inverse PaddleX would read back: ``config.to_dict(saving_file=True)`` (nested
configs as dicts, ``architectures`` naming PaddleX's class), ``model.get_hf_state_dict()`` (batch
norm ``running_mean``/``running_var``) with ``model.get_transpose_weight_keys()`` transposed
(``[out, in]`` as Hugging Face stores linear weights). The folder is written next to its place
and renamed into it.

Example:
    >>> write_hf_folder(model, "out/PP-OCRv6_small_det_safetensors", "PPOCRV6SmallDet",
    ...                 inference_yml={"Global": {"model_name": "PP-OCRv6_small_det"}})  # doctest: +SKIP
    >>> m = read_hf_folder("out/PP-OCRv6_small_det_safetensors", model_class)             # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

import numpy as np

from ..errors import InputError, ModelLoadError

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
PADDLE_DYN_FILES = ("model_state.pdparams", "inference.pdparams")   # PaddleX model_paths.get_model_paths
INFERENCE_YML = "inference.yml"
_OWN_FILES = (CONFIG_FILE, SAFETENSORS_FILE, INFERENCE_YML) + PADDLE_DYN_FILES


def folder_format(folder: str) -> Optional[str]:
    """``safetensors`` or ``paddle_dyn`` when ``folder`` holds ``config.json`` and those weights
    (PaddleX's ``get_model_paths``); None otherwise."""
    if not os.path.isfile(os.path.join(folder, CONFIG_FILE)):
        return None
    if os.path.isfile(os.path.join(folder, SAFETENSORS_FILE)):
        return "safetensors"
    if any(os.path.isfile(os.path.join(folder, f)) for f in PADDLE_DYN_FILES):
        return "paddle_dyn"
    return None


def read_config(folder: str) -> dict:
    """``config.json`` of a folder.

    Raises:
        ModelLoadError: missing or not JSON.
    """
    path = os.path.join(folder, CONFIG_FILE)
    try:
        with open(path, "r", encoding="utf-8") as f:
            cfg = json.load(f)
    except OSError:
        raise ModelLoadError(f"{path} is missing; a safetensors model folder holds config.json and "
                             "model.safetensors") from None
    except ValueError:
        raise ModelLoadError(f"{path} is not valid JSON; copy the folder again") from None
    if not isinstance(cfg, dict):
        raise ModelLoadError(f"{path} does not hold a JSON object; copy the folder again")
    return cfg


def read_inference_yml(folder: str) -> Optional[dict]:
    """``inference.yml`` of a folder (None when absent)."""
    path = os.path.join(folder, INFERENCE_YML)
    if not os.path.isfile(path):
        return None
    import yaml

    try:
        with open(path, "r", encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except Exception:
        raise ModelLoadError(f"{path} is not valid YAML; fix or remove it") from None
    return cfg if isinstance(cfg, dict) else None


def _file_tensors(folder: str, fmt: str) -> Dict[str, np.ndarray]:
    if fmt == "safetensors":
        path = os.path.join(folder, SAFETENSORS_FILE)
        try:
            from safetensors.numpy import load_file

            return dict(load_file(path))
        except Exception as e:
            raise ModelLoadError(f"{path} is truncated or not a safetensors file ({type(e).__name__}); "
                                 "copy or write the folder again") from None
    from .weights import read_pdparams

    path = next(os.path.join(folder, f) for f in PADDLE_DYN_FILES if os.path.isfile(os.path.join(folder, f)))
    return read_pdparams(path)


def _transpose_keys(model) -> List[str]:
    try:
        return list(model.get_transpose_weight_keys() or [])
    except NotImplementedError:
        return []


def _hf_state(model) -> Dict[str, np.ndarray]:
    try:
        sd = model.get_hf_state_dict()
    except NotImplementedError:
        sd = model.state_dict()
    return {k: v.numpy() for k, v in sd.items()}


def read_hf_folder(folder: str, model_class, source_name: Optional[str] = None):
    """PaddleX's ``model_class.from_pretrained`` on a safetensors or paddle_dyn folder, then every
    tensor of the file checked against the loaded model (eval mode on return).

    Raises:
        ModelLoadError: missing/truncated files, or weights the model did not take as they are.
    """
    fmt = folder_format(folder)
    if fmt is None:
        raise ModelLoadError(f"{folder} is not a safetensors folder: it needs config.json and model.safetensors "
                             "(or model_state.pdparams)")
    read_config(folder)  # one-line error for a broken config before PaddleX parses it
    tensors = _file_tensors(folder, fmt)
    import logging

    logging.getLogger("paddlex").setLevel(logging.ERROR)
    try:
        model = model_class.from_pretrained(folder, use_safetensors=(fmt == "safetensors"),
                                            convert_from_hf=(fmt == "safetensors"))
    except Exception as e:
        raise ModelLoadError(f"PaddleX could not load {folder} as {source_name or model_class.__name__} "
                             f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from None
    model.eval()
    check_loaded(model, tensors, folder, fmt)
    return model


def check_loaded(model, tensors: Dict[str, np.ndarray], folder: str, fmt: str) -> None:
    """Every file tensor equals the model's (after PaddleX's name and layout conversion) and every
    model tensor came from the file."""
    if fmt == "safetensors":
        own = _hf_state(model)
        for k in _transpose_keys(model):
            if k in own and own[k].ndim == 2:
                own[k] = own[k].T
    else:
        own = {k: v.numpy() for k, v in model.state_dict().items()}
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        first = f"no weight for {missing[0]}" if missing else f"unused weight {extra[0]}"
        raise ModelLoadError(f"{folder}: {len(missing)} model tensors have no weight and {len(extra)} weights fit "
                             f"no tensor ({first}); the folder holds another model than its config.json says")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(own[k].shape) or not np.array_equal(np.asarray(v, own[k].dtype), own[k]):
            raise ModelLoadError(f"{folder}: weight {k} {list(v.shape)} was not loaded as stored "
                                 f"(model {list(own[k].shape)}); the folder does not fit its config.json")


def write_hf_folder(model, out_dir: str, architecture: str, inference_yml: Optional[dict] = None,
                    fmt: str = "safetensors") -> str:
    """Write ``model`` (a PaddleX ``PretrainedModel``) as the folder PaddleX's ``from_pretrained``
    reads: ``config.json`` + ``model.safetensors`` (``fmt="safetensors"``) or
    ``model_state.pdparams`` (``fmt="paddle_dyn"``), and ``inference.yml`` when given.

    Args:
        architecture: PaddleX's class name written as ``config.json`` ``architectures``.

    Returns:
        The absolute folder path.

    Raises:
        InputError: ``out_dir`` is a file or holds other files (it is replaced as a whole).
    """
    out_dir = os.path.abspath(out_dir)
    if os.path.isfile(out_dir):
        raise InputError(f"model folder {out_dir} is a file; pass a new or empty folder")
    if os.path.isdir(out_dir):
        other = sorted(n for n in os.listdir(out_dir) if n not in _OWN_FILES)
        if other:
            raise InputError(f"model folder {out_dir} holds other files ({', '.join(other[:3])}); it is replaced "
                             "as a whole, so pass a new or empty folder")
    if fmt not in ("safetensors", "paddle_dyn"):
        raise ValueError(f"fmt must be 'safetensors' or 'paddle_dyn', not {fmt!r}")
    cfg = model.config.to_dict(saving_file=True)
    cfg.pop("paddlenlp_version", None)
    cfg["architectures"] = [architecture]
    from ..io import current_umask
    from .export import atomic_folder

    with atomic_folder(out_dir) as tmp:
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2, ensure_ascii=False, default=_json_default)
        if fmt == "safetensors":
            from safetensors.numpy import save_file

            state = _hf_state(model)
            for k in _transpose_keys(model):
                if k in state and state[k].ndim == 2:
                    state[k] = state[k].T
            path = os.path.join(tmp, SAFETENSORS_FILE)
            save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, path)
            os.chmod(path, 0o666 & ~current_umask())  # safetensors writes 0600; a model file is shared like any other
        else:
            import paddle

            paddle.save(model.state_dict(), os.path.join(tmp, PADDLE_DYN_FILES[0]))
        if inference_yml:
            import yaml

            with open(os.path.join(tmp, INFERENCE_YML), "w", encoding="utf-8") as f:
                yaml.safe_dump(inference_yml, f, allow_unicode=True, sort_keys=False)
    return out_dir


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (set, tuple)):
        return list(v)
    if hasattr(v, "to_dict"):
        return v.to_dict()
    return str(v)
