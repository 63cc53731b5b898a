"""What the recognised text says around a line, as input planes of the field classifier.

A reviewer decides which field a value is by the printed label beside or above it (发票号码,
开票日期, 纳税人识别号 ...) and the block it sits in (购买方 / 销售方). At eight pixels per line
height the classifier's image channels cannot read those labels, so the labels the recogniser
read enter the window as planes of their own: every label found in a box's text
(:func:`~.labels.find_labels`, the same lexicon the page reader uses) paints its own part of the
box (:func:`~paddle_cam.geometry.span_polygon`) into the plane of what it names, a block header
paints its whole box into ``buyer`` or ``seller``. The planes name label kinds, not families or
positions, so a layout never trained on still shows its labels in the same planes.

The explanation keeps saying which regions drove a decision (a map over the window peaks on the
label box when the label decided), and which text: the label kinds whose planes hold the evidence.

>>> regions = label_regions([([[0, 0], [100, 0], [100, 10], [0, 10]], "发票号码：12345678")])
>>> [TEXT_CHANNELS[c] for c, _ in regions], regions[0][1][1]
(['number'], [38.46, 0.0])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..geometry import span_polygon
from .labels import TOTAL_CAPITAL, find_labels, header_side

# The label kinds, one input plane each (after the luminance, chroma and marker channels).
TEXT_CHANNELS: Tuple[str, ...] = ("code", "number", "date", "check", "name", "tax_id", "amount", "tax_rate", "tax",
                                  "total", "buyer", "seller", "other_label")

# field a label may carry -> (its kind, the party it names or None)
_KIND = {"invoice_code": ("code", None), "invoice_number": ("number", None), "date": ("date", None),
         "check_code": ("check", None), "buyer_name": ("name", "buyer"), "seller_name": ("name", "seller"),
         "buyer_tax_id": ("tax_id", "buyer"), "seller_tax_id": ("tax_id", "seller"), "amount": ("amount", None),
         "tax_rate": ("tax_rate", None), "tax": ("tax", None), "total": ("total", None),
         TOTAL_CAPITAL: ("total", None), "other": ("other_label", None)}

Region = Tuple[int, List[List[float]]]


def label_kinds(targets: Sequence[str]) -> List[str]:
    """The planes a label with these target fields paints: every kind it may name, and its party
    when all targets agree on one (名称 names a name but no party; 销售方名称 names both).

    >>> label_kinds(("buyer_name", "seller_name")), label_kinds(("seller_tax_id",)), label_kinds(("amount", "tax"))
    (['name'], ['tax_id', 'seller'], ['amount', 'tax'])
    """
    kinds, parties = [], set()
    for t in targets:
        kind, party = _KIND.get(t, (None, None))
        if kind is not None and kind not in kinds:
            kinds.append(kind)
        parties.add(party)
    if len(parties) == 1 and None not in parties:
        kinds.append(parties.pop())
    return kinds


def field_kinds(field: str) -> Tuple[str, ...]:
    """The planes of labels that name ``field``: its kind and its party.

    >>> field_kinds("seller_tax_id"), field_kinds("date")
    (('tax_id', 'seller'), ('date',))
    """
    kind, party = _KIND.get(field, (None, None))
    return tuple(k for k in (kind, party) if k is not None)


def _box(b: Any) -> Tuple[Any, str]:
    if hasattr(b, "polygon"):
        return b.polygon, str(getattr(b, "text", "") or "")
    poly, text = b[0], b[1]
    if isinstance(text, (tuple, list)):   # (text, score) as the recogniser returns it
        text = text[0] if text else ""
    return poly, str(text or "")


@dataclass(frozen=True)
class LabelSpan:
    """A label (or block header) read on the page: which box, its characters, the planes it paints."""

    box: int                        # index into the boxes given
    text: str                       # the label's characters as read (colon included)
    kinds: Tuple[str, ...]          # names in TEXT_CHANNELS
    polygon: List[List[float]]      # its part of the box, page pixels

    def to_dict(self) -> dict:
        return {"box": self.box, "text": self.text, "kinds": list(self.kinds), "polygon": self.polygon}


def label_spans(boxes: Sequence[Any], drop: float = 0.0, rng: Optional[np.random.RandomState] = None) -> List[LabelSpan]:
    """Every label and block header the boxes' texts hold.

    ``boxes``: objects with ``.polygon`` and ``.text`` (detector boxes after recognition) or
    ``(polygon, text)`` pairs (``text`` may be ``(text, score)``), page pixels.
    ``drop``: training only, the chance that a box's labels are left out, as when the recogniser
    misreads a label beyond the lexicon's one-character tolerance.
    """
    out: List[LabelSpan] = []
    for i, b in enumerate(boxes):
        poly, text = _box(b)
        if not text.strip():
            continue
        if drop > 0 and rng is not None and rng.rand() < drop:
            continue
        side = header_side(text)
        if side is not None:
            whole = [[float(x), float(y)] for x, y in np.asarray(poly, float).reshape(-1, 2)]
            out.append(LabelSpan(i, text, (side,), whole))
            continue
        for m in find_labels(text):
            kinds = tuple(label_kinds(m.targets))
            if kinds:
                out.append(LabelSpan(i, text[m.start:m.end], kinds, span_polygon(poly, text, (m.start, m.end))))
    return out


def regions_of(spans: Sequence[LabelSpan]) -> List[Region]:
    """``(plane index into TEXT_CHANNELS, polygon)`` of label spans, as the window drawer takes them."""
    return [(TEXT_CHANNELS.index(k), s.polygon) for s in spans for k in s.kinds]


def label_regions(boxes: Sequence[Any], drop: float = 0.0, rng: Optional[np.random.RandomState] = None) -> List[Region]:
    """``(plane index into TEXT_CHANNELS, polygon)`` of every label and block header the texts hold
    (:func:`label_spans`, same arguments)."""
    return regions_of(label_spans(boxes, drop, rng))
