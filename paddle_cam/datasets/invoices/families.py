"""The document families the generator draws from, and one page of any of them from one seed.

A family is a layout that can be held out as a whole (leave-one-family-out): the machine-printed
paper VAT invoices (``vat_special``, ``vat_normal``), the 增值税电子普通发票 PDF (``vat_e_normal``),
the 2024 全面数字化的电子发票 (``digital``), and two documents that share some fields but are not VAT
invoices (``taxi`` receipts, ``train`` e-tickets), so that ``other`` stays honest. Each family
renders a clean page and declares how such pages reach a reader (its capture styles, see
:mod:`.capture`): paper is scanned or photographed; electronic documents are rendered from the
PDF, screenshotted in a viewer, photographed on a screen or desk, or printed and scanned; a taxi
receipt is a paper slip.

Ground truth of :func:`render_document`: ``{"seed", "size": [w, h], "kind", "family", "capture",
"medium", "lines": [{"id", "polygon", "text", "field", "role"[, "value_span"]}]}``.

>>> img, gt = render_document(5, "vat_normal")
>>> gt["family"], gt["kind"], gt["capture"] in FAMILY_SPECS["vat_normal"].styles
('vat_normal', '增值税普通发票', True)
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ...errors import InputError
from .capture import capture

FAMILIES: Tuple[str, ...] = ("vat_special", "vat_normal", "vat_e_normal", "digital", "taxi", "train")
PAPER_FAMILIES: Tuple[str, ...] = ("vat_special", "vat_normal")


@dataclass(frozen=True)
class Family:
    """One layout family: where its clean page comes from and how it may be captured."""

    key: str
    module: str                       # module of this package with the renderer
    renderer: str                     # renderer(rng) -> (clean BGR page, lines, {"kind", "medium", ...})
    styles: Tuple[str, ...]           # allowed capture styles
    weights: Tuple[float, ...]        # how often each style is drawn
    args: Tuple = ()

    def render_clean(self, rng: np.random.RandomState) -> Tuple[np.ndarray, List[dict], dict]:
        # imported on use: a family's renderer (and its fonts) loads only when it is drawn
        fn: Callable = getattr(importlib.import_module(f"{__package__}.{self.module}"), self.renderer)
        return fn(rng, *self.args)


_ELECTRONIC = (("pdf", "screenshot", "photo", "scan"), (0.3, 0.25, 0.3, 0.15))
FAMILY_SPECS: Dict[str, Family] = {
    "vat_special": Family("vat_special", "paper", "render_paper", ("scan", "photo"), (0.55, 0.45), ("增值税专用发票",)),
    "vat_normal": Family("vat_normal", "paper", "render_paper", ("scan", "photo"), (0.55, 0.45), ("增值税普通发票",)),
    "vat_e_normal": Family("vat_e_normal", "electronic", "render_e_normal", *_ELECTRONIC),
    "digital": Family("digital", "digital", "render_digital", *_ELECTRONIC),
    "taxi": Family("taxi", "receipts", "render_taxi", ("photo", "scan"), (0.7, 0.3)),
    "train": Family("train", "receipts", "render_train", *_ELECTRONIC),
}
assert tuple(FAMILY_SPECS) == FAMILIES


def check_family(family: str) -> str:
    """``family`` if it is a known key, else an :class:`InputError` naming the valid keys."""
    if family not in FAMILY_SPECS:
        raise InputError(f"unknown document family {family!r}; valid families: {', '.join(FAMILIES)}")
    return family


def _round_polygons(lines: List[dict]) -> List[dict]:
    return [dict(ln, polygon=[[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(ln["polygon"])])
            for ln in lines]


def render_document(seed: int, family: Optional[str] = None, style: Optional[str] = None) -> Tuple[np.ndarray, dict]:
    """One captured page (BGR uint8) of ``family`` (drawn from the seed when None) and its ground truth.

    The page and its capture come from separate random streams of ``seed``, so
    ``render_document(s)`` equals ``render_document(s, <the family s draws>)``, and ``style`` (one of
    the family's capture styles; drawn when None) changes only the capture.

    >>> img, gt = render_document(3)
    >>> gt["family"] in FAMILIES and list(img.shape[1::-1]) == gt["size"]
    True
    """
    seed = int(seed)
    if not 0 <= seed < 2 ** 32:
        raise InputError(f"seeds lie in [0, 2**32), not {seed}")
    if family is None:
        family = FAMILIES[int(np.random.RandomState(seed).randint(len(FAMILIES)))]
    fam = FAMILY_SPECS[check_family(family)]
    k = FAMILIES.index(family)
    page, lines, info = fam.render_clean(np.random.RandomState([seed, k, 0]))
    crng = np.random.RandomState([seed, k, 1])
    drawn = fam.styles[int(crng.choice(len(fam.styles), p=fam.weights))]
    if style is None:
        style = drawn
    elif style not in fam.styles:
        raise InputError(f"family {family} is not captured as {style!r}; its styles: {', '.join(fam.styles)}")
    img, lines, _ = capture(page, _round_polygons(lines), style, crng)
    return img, {"seed": seed, "size": [int(img.shape[1]), int(img.shape[0])], "kind": info["kind"],
                 "family": family, "capture": style, "medium": info["medium"], "lines": lines}


def render_paper_invoice(seed: int) -> Tuple[np.ndarray, dict]:
    """A page of one of the paper families (专用 45%, 普通 55%), chosen by ``seed``."""
    seed = int(seed)
    if not 0 <= seed < 2 ** 32:
        raise InputError(f"seeds lie in [0, 2**32), not {seed}")
    family = PAPER_FAMILIES[int(np.random.RandomState(seed).rand() >= 0.45)]
    return render_document(seed, family)
