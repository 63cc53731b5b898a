"""PaddleOCR-style configs: ``configs/<tool>.yml`` holds every default; ``-c file.yml`` and
``-o Section.key=value`` change them.

A key that the defaults file does not have is refused (with the closest valid keys), and so is a
value whose type does not fit the default's, before any model is loaded: a typo such as
``-o PostProcess.box_tresh=0.5`` must not reach a constructor.

Example:
    >>> from paddle_cam.config import load_config
    >>> cfg = load_config("det/explain_ocr", overrides=["PostProcess.box_thresh=0.5"])
    >>> cfg["PostProcess"]["box_thresh"]
    0.5
"""
from __future__ import annotations

import argparse
import copy
import difflib
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import yaml

from .errors import InputError

_HERE = os.path.dirname(os.path.abspath(__file__))
# a checkout's configs/ (PaddleOCR's place for them), else the copy an installed wheel carries
CONFIG_DIR = next((d for d in (os.path.join(_HERE, "..", "configs"), os.path.join(_HERE, "configs"))
                   if os.path.isfile(os.path.join(d, "det", "explain_ocr.yml"))), os.path.join(_HERE, "..", "configs"))
CONFIG_DIR = os.path.abspath(CONFIG_DIR)

# A section whose default is an empty mapping takes any keys (free-form options).
_FREE = "__free__"


def config_path(name: str) -> str:
    """The defaults file of a tool: ``det/explain_ocr`` -> ``configs/det/explain_ocr.yml``.

    A path to an existing ``.yml`` file is returned as it is.
    """
    if os.path.isfile(name):
        return os.path.abspath(name)
    path = os.path.join(CONFIG_DIR, name if name.endswith((".yml", ".yaml")) else name + ".yml")
    if not os.path.isfile(path):
        raise InputError(f"defaults file {path} is missing; reinstall paddle_cam (its wheel carries configs/) "
                         f"or run from a checkout")
    return path


def read_yaml(path: str) -> dict:
    """A YAML mapping from ``path``; one clear error for a missing file or bad YAML."""
    if not os.path.isfile(path):
        raise InputError(f"config not found: {path}; pass -c an existing .yml file")
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise InputError(f"config {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    except ValueError as e:  # a scalar YAML recognises but cannot build (2024-13-01)
        raise InputError(f"config {path} has a value YAML cannot read ({e}); quote it") from None
    if not isinstance(data, dict):
        raise InputError(f"config {path} must be a mapping of sections (Global:, Explain:, ...)")
    return data


def load_config(defaults: str, path: Optional[str] = None, overrides: Sequence[str] = ()) -> dict:
    """The tool's defaults, updated by the user's YAML file, updated by ``Key.sub=value`` overrides.

    Args:
        defaults: the tool's defaults file under ``configs/`` (``"det/explain_ocr"``) or a path.
        path: the user's ``-c`` file, or None. Its keys must exist in the defaults.
        overrides: ``-o`` items ``Section.key=value``; values are parsed as YAML.

    Raises:
        InputError: an unknown key (the message names the closest valid keys), a value whose type
            does not fit the default, or an unreadable file.
    """
    base = read_yaml(config_path(defaults))
    cfg = copy.deepcopy(base)
    if path:
        _merge_checked(cfg, read_yaml(path), base, prefix="", where=f"config {path}")
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"override '{item}' must look like Section.key=value")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except (yaml.YAMLError, ValueError):
            # YAML gave up on it (an impossible date such as 2024-13-01, an unclosed bracket): the
            # text itself goes to the key's type check, which says what the key expects
            parsed = value
        _set_checked(cfg, base, key.strip(), parsed, where=f"-o {item}")
    return cfg


def valid_keys(defaults: Mapping) -> List[str]:
    """Every dotted key of a defaults mapping (leaves and sections)."""
    return [k for k, _ in _walk(defaults, "")]


def _walk(node: Mapping, prefix: str) -> Iterator[Tuple[str, Any]]:
    for k, v in node.items():
        key = f"{prefix}{k}"
        yield key, v
        if isinstance(v, dict) and v:
            yield from _walk(v, key + ".")


def _unknown(key: str, base: Mapping, where: str) -> InputError:
    """The error for a key the defaults do not have, naming the closest valid keys: leaves of the
    same section first (a misspelt leaf), then any dotted key (a misspelt section)."""
    keys = valid_keys(base)
    section, _, leaf = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == section]
    close = [f"{section}.{m}" if section else m for m in difflib.get_close_matches(leaf, siblings, n=3, cutoff=0.5)]
    if not close:
        close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else \
        f"; valid sections: {', '.join(k for k in base)}"
    return InputError(f"{where}: unknown key '{key}'{hint}")


def _type_ok(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, (list, str))  # "a,b" lists are split by the tools
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def _type_name(v: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(v), type(v).__name__)


def _check_value(key: str, default: Any, value: Any, where: str) -> Any:
    if not _type_ok(default, value):
        raise InputError(f"{where}: {key} must be {_type_name(default)} (default {default!r}), not {value!r}")
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    if isinstance(default, str) and isinstance(value, (int, float)):
        return str(value)
    return value


def _set_checked(cfg: dict, base: Mapping, key: str, value: Any, where: str) -> None:
    parts = key.split(".")
    node, ref = cfg, base
    for i, p in enumerate(parts[:-1]):
        if not isinstance(ref, dict) or p not in ref:
            raise _unknown(key, base, where)
        if not isinstance(ref[p], dict):
            raise InputError(f"{where}: {'.'.join(parts[:i + 1])} is a value, not a section")
        if not ref[p]:  # free-form section: anything below is accepted as given
            node = node.setdefault(p, {})
            for q in parts[i + 1:-1]:
                node = node.setdefault(q, {})
            node[parts[-1]] = value
            return
        node, ref = node.setdefault(p, {}), ref[p]
    leaf = parts[-1]
    if not isinstance(ref, dict) or leaf not in ref:
        raise _unknown(key, base, where)
    if isinstance(ref[leaf], dict) and ref[leaf] and isinstance(value, dict):
        _merge_checked(node[leaf], value, ref[leaf], prefix=key + ".", where=where)
        return
    node[leaf] = _check_value(key, ref[leaf], value, where)


def _merge_checked(dst: dict, src: Mapping, base: Mapping, prefix: str, where: str) -> None:
    for k, v in src.items():
        key = f"{prefix}{k}"
        if k not in base:
            raise _unknown(key, _rebase(base, prefix), where)
        if isinstance(base[k], dict) and base[k]:
            if not isinstance(v, dict):
                raise InputError(f"{where}: {key} is a section; give it as a mapping")
            _merge_checked(dst.setdefault(k, {}), v, base[k], key + ".", where)
        elif isinstance(base[k], dict):  # free-form
            if not isinstance(v, dict):
                raise InputError(f"{where}: {key} must be a mapping")
            dst[k] = copy.deepcopy(v)
        else:
            dst[k] = _check_value(key, base[k], v, where)


def _rebase(base: Mapping, prefix: str) -> Mapping:
    """``base`` seen from the root, so suggestions carry full dotted keys."""
    if not prefix:
        return base
    node: Dict[str, Any] = dict(base)
    for p in reversed(prefix.rstrip(".").split(".")):
        node = {p: node}
    return node


def set_from_args(cfg: dict, args: argparse.Namespace, mapping: Mapping[str, str]) -> dict:
    """Copy command-line values that were given (not None) into the config.

    Args:
        mapping: argparse dest -> dotted config key, e.g. ``{"det_model_dir": "Global.det_model_dir"}``.
    """
    for dest, key in mapping.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = value
    return cfg


def as_list(value: Any) -> List[str]:
    """``"a, b"`` or ``["a", "b"]`` (or None) as a list of stripped strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return [str(v).strip() if isinstance(v, str) else v for v in value]


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """``-c/--config`` and ``-o/--opt`` as PaddleOCR's tools have them."""
    parser.add_argument("-c", "--config", default=None, help="YAML config file (PaddleOCR style); its keys "
                        "must exist in the tool's defaults under configs/")
    parser.add_argument("-o", "--opt", nargs="+", action="extend", default=[],
                        help="override config values: -o Global.device=cpu Explain.method=layercam")
