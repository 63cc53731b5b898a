"""PaddleOCR-style configs: ``-c file.yml`` plus ``-o Section.key=value`` overrides."""
from __future__ import annotations

import argparse
import copy
import os
from typing import List, Optional

import yaml

from .errors import InputError


def load_config(path: Optional[str], overrides: Optional[List[str]] = None, defaults: Optional[dict] = None) -> dict:
    """Defaults, updated by the YAML file, updated by ``Key.sub=value`` overrides (YAML-typed)."""
    cfg = copy.deepcopy(defaults or {})
    if path:
        if not os.path.isfile(path):
            raise InputError(f"config not found: {path}; pass -c an existing .yml file")
        try:
            with open(path, "r", encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise InputError(f"config {path} is not valid YAML ({str(e).splitlines()[0]})") from None
        _merge(cfg, data)
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"override '{item}' must look like Section.key=value")
        key, value = item.split("=", 1)
        node = cfg
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise InputError(f"override '{item}': {p} is not a section")
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else None
    return cfg


def _merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default=None, help="YAML config file (PaddleOCR style)")
    parser.add_argument("-o", "--opt", nargs="+", action="extend", default=[],
                        help="override config values: -o Global.device=cpu Explain.method=layercam")
