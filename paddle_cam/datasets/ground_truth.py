"""Ground truth of generated pages: the generator's JSON beside each image.

``tools/make_demo_docs.py`` writes ``invoice_0100.jpg`` with ``invoice_0100.json`` next to it,
``{"seed", "size", "kind", "lines": [{"id", "polygon", "text", "field", "role"}]}``. Every tool
that scores against ground truth finds and reads it here, so they all agree on which pages are
labelled and what a label file is.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Sequence, Tuple

from ..errors import InputError
from ..io import IMAGE_EXTS


def ground_truth_path(image_path: str) -> str:
    """``<stem>.json`` beside an image."""
    return os.path.splitext(image_path)[0] + ".json"


def is_ground_truth(data: object) -> bool:
    """True for the generator's record: a mapping with a ``lines`` list."""
    return isinstance(data, dict) and isinstance(data.get("lines"), list)


def load_ground_truth(image_path: str, strict: bool = True) -> Optional[dict]:
    """The generator's ground truth beside ``image_path``, or None when there is none.

    A JSON file that is not the generator's (no ``lines`` list) is not ground truth: None.

    Args:
        strict: an unreadable JSON file raises ``InputError`` (scoring must not silently lose a
            page); ``strict=False`` treats it as absent (a QA run over a user's archive, where a
            stray ``.json`` beside a scan is not ours to judge).
    """
    path = ground_truth_path(image_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        if strict:
            raise InputError(f"ground truth {path} is not readable JSON ({e}); fix or remove it") from None
        return None
    return data if is_ground_truth(data) else None


def find_labelled_pages(root: str, exts: Sequence[str] = IMAGE_EXTS) -> List[Tuple[str, str]]:
    """(image path, ground-truth JSON path) of every image under ``root`` with the generator's
    ground truth beside it.

    ``root`` is one image or a folder searched recursively (hidden folders skipped); a folder's
    own images come first, then its sub-folders', each in name order, so the order is the same
    on every machine. Images without ground truth are left out.

    Raises:
        InputError: ``root`` does not exist, or holds no labelled image.
    """
    exts = tuple(e.lower() for e in exts)
    if not os.path.exists(root):
        raise InputError(f"input not found: {root}; pass a folder of images with <image>.json ground truth")
    if os.path.isdir(root):
        images = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            images += [os.path.join(folder, f) for f in sorted(names) if f.lower().endswith(exts)]
    else:
        images = [root]
    out = [(p, ground_truth_path(p)) for p in images if load_ground_truth(p) is not None]
    if not out:
        raise InputError(f"{root}: no image with the generator's ground truth (<image>.json with 'lines') beside "
                         "it; make some with tools/make_demo_docs.py --out DIR")
    return out
