"""Read Paddle model files without switching Paddle into static mode.

- ``.pdiparams``: a run of serialized LoDTensors, stored in lexicographic order of the
  persistable variable names (both for legacy ``.pdmodel`` and PIR ``.json`` programs).
- ``.pdmodel``: a ``ProgramDesc`` protobuf; ``.json``: a PIR program.
- ``.pdiparams.info`` (when present): pickle of ``var name -> {'structured_name': ...}``.
"""
from __future__ import annotations

import json
import os
import pickle
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import ModelLoadError

_DTYPES = None


def _dtypes():
    global _DTYPES
    if _DTYPES is None:
        from paddle.base.proto import framework_pb2 as fp

        vt = fp.VarType
        _DTYPES = {vt.FP32: np.float32, vt.FP64: np.float64, vt.FP16: np.float16, vt.INT32: np.int32,
                   vt.INT64: np.int64, vt.INT8: np.int8, vt.UINT8: np.uint8, vt.BOOL: np.bool_}
    return _DTYPES


def read_pdiparams(path: str) -> List[np.ndarray]:
    """All tensors of a combined ``.pdiparams`` file, in file order."""
    from paddle.base.proto import framework_pb2 as fp

    try:
        with open(path, "rb") as f:
            buf = f.read()
    except OSError as e:
        raise ModelLoadError(f"cannot read weights file {path}: {e.strerror}") from None
    out, off = [], 0
    try:
        while off < len(buf):
            off += 4  # tensor version
            (lod_level,) = struct.unpack_from("<Q", buf, off)
            off += 8
            for _ in range(lod_level):
                (n,) = struct.unpack_from("<Q", buf, off)
                off += 8 + n
            off += 4  # tensor version again
            (desc_len,) = struct.unpack_from("<i", buf, off)
            off += 4
            desc = fp.VarType.TensorDesc()
            desc.ParseFromString(buf[off:off + desc_len])
            off += desc_len
            dt = np.dtype(_dtypes()[desc.data_type])
            count = int(np.prod(desc.dims)) if len(desc.dims) else 1
            if off + count * dt.itemsize > len(buf):
                raise ValueError("truncated")
            out.append(np.frombuffer(buf, dt, count, off).reshape(list(desc.dims)).copy())
            off += count * dt.itemsize
    except Exception:
        raise ModelLoadError(f"weights file {path} is truncated or not a Paddle .pdiparams file; "
                             "re-export the model or copy the file again") from None
    return out


@dataclass
class ProgramParams:
    """Persistable parameters of an inference program."""

    names_in_use_order: List[str]          # order of first use by an op
    shapes: Dict[str, Tuple[int, ...]]
    ops: List[Tuple[str, List[str]]]       # (op type, parameter inputs) in program order


def _read_pdmodel(path: str) -> ProgramParams:
    from paddle.base.proto import framework_pb2 as fp

    prog = fp.ProgramDesc()
    try:
        with open(path, "rb") as f:
            prog.ParseFromString(f.read())
    except Exception:
        raise ModelLoadError(f"{path} is not a readable Paddle program (.pdmodel); re-export the model") from None
    block = prog.blocks[0]
    persist = {v.name: tuple(v.type.dense_tensor.tensor.dims) for v in block.vars
               if v.persistable and v.name not in ("feed", "fetch")}
    order, seen, ops = [], set(), []
    for op in block.ops:
        params = [a for i in op.inputs for a in i.arguments if a in persist]
        ops.append((op.type, params))
        for a in params:
            if a not in seen:
                seen.add(a)
                order.append(a)
    return ProgramParams(order, persist, ops)


def _read_pir_json(path: str) -> ProgramParams:
    try:
        with open(path, "r", encoding="utf-8") as f:
            prog = json.load(f)
        ops_json = prog["program"]["regions"][0]["blocks"][0]["ops"]
    except Exception:
        raise ModelLoadError(f"{path} is not a readable PIR program (.json); re-export the model") from None
    value_to_param: Dict[int, str] = {}
    shapes: Dict[str, Tuple[int, ...]] = {}
    order, seen, ops = [], set(), []
    for op in ops_json:
        if op.get("#") == "p":  # parameter op: A = [.., .., .., name]
            name = op["A"][3]
            value_to_param[op["O"]["%"]] = name
            shapes[name] = tuple(op["O"]["TT"]["D"][1])
            continue
        params = [value_to_param[i["%"]] for i in op.get("I", []) if isinstance(i, dict) and i.get("%") in value_to_param]
        ops.append((op.get("#", "").split(".", 1)[-1], params))
        for a in params:
            if a not in seen:
                seen.add(a)
                order.append(a)
    return ProgramParams(order, shapes, ops)


@dataclass
class InferenceModel:
    """An inference folder read into memory."""

    model_file: str
    params_file: str
    program: ProgramParams
    weights: Dict[str, np.ndarray]                 # var name -> array
    structured_names: Optional[Dict[str, str]]     # var name -> training name, when .info exists
    config: Optional[dict]                         # inference.yml, when present

    @property
    def is_pir(self) -> bool:
        return self.model_file.endswith(".json")


def find_model_files(model_dir: str) -> Tuple[str, str]:
    """(program file, params file) of an inference folder, with errors that say what is missing."""
    if not os.path.isdir(model_dir):
        raise ModelLoadError(f"model folder not found: {model_dir}; pass the folder that holds inference.pdiparams")
    files = os.listdir(model_dir)
    for stem in ("inference", "model"):
        params = os.path.join(model_dir, stem + ".pdiparams")
        for ext in (".json", ".pdmodel"):
            prog = os.path.join(model_dir, stem + ext)
            if os.path.isfile(prog) and os.path.isfile(params):
                return prog, params
    progs = [f for f in files if f.endswith((".pdmodel", ".json")) and f != "config.json"]
    params = [f for f in files if f.endswith(".pdiparams")]
    if len(progs) == 1 and len(params) == 1:
        return os.path.join(model_dir, progs[0]), os.path.join(model_dir, params[0])
    what = "no .pdiparams weights" if not params else "no .pdmodel or .json program" if not progs else \
        f"ambiguous files {sorted(progs + params)}"
    raise ModelLoadError(f"model folder {model_dir} has {what}; it must hold inference.pdmodel (or inference.json) "
                         "and inference.pdiparams as written by paddle.jit.save / PaddleOCR export")


def read_inference_folder(model_dir: str) -> InferenceModel:
    """Program parameter order, weights by name, structured names and config of a folder."""
    prog_file, params_file = find_model_files(model_dir)
    program = _read_pir_json(prog_file) if prog_file.endswith(".json") else _read_pdmodel(prog_file)
    tensors = read_pdiparams(params_file)
    names = sorted(program.shapes)
    if len(tensors) != len(names):
        raise ModelLoadError(
            f"{params_file} holds {len(tensors)} tensors but {os.path.basename(prog_file)} declares {len(names)}: "
            "program and weights come from different exports; copy both from the same folder")
    weights = {}
    for name, arr in zip(names, tensors):
        want = program.shapes[name]
        if want and tuple(arr.shape) != tuple(want) and -1 not in want:
            raise ModelLoadError(f"weight {name} has shape {tuple(arr.shape)} but the program expects {tuple(want)}: "
                                 "program and weights come from different exports")
        weights[name] = arr
    info = None
    info_file = params_file + ".info"
    if os.path.isfile(info_file):
        try:
            with open(info_file, "rb") as f:
                raw = pickle.load(f)
            info = {k: v["structured_name"] for k, v in raw.items() if isinstance(v, dict) and "structured_name" in v}
        except Exception:
            info = None  # optional metadata; the program order still maps the weights
    config = None
    yml = os.path.join(model_dir, "inference.yml")
    if os.path.isfile(yml):
        import yaml

        try:
            with open(yml, "r", encoding="utf-8") as f:
                config = yaml.safe_load(f)
        except Exception:
            raise ModelLoadError(f"{yml} is not valid YAML; fix or remove it") from None
    return InferenceModel(prog_file, params_file, program, weights, info, config)
