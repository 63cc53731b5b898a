"""Repairs a page's own fields allow, applied after the reading and always flagged.

Invoices carry redundancy that can restore a value OCR read in part, without guessing:

- **价税合计 in capitals**: figures read in part (see below) that the capitals complete are
  repaired to the capitals; figures equal to the capitals are confirmed and never repaired.
- **金额 + 税额 = 价税合计**: when two of the three were read with their decimals and the third
  was read *in part* (its decimals lost where the value crosses a grid line, leading digits cut
  by the detector, one digit misread), the third is what the other two give. When more than one
  of them could be the partial one (a lost leading digit fits either term), nothing is repaired.
  A value that was not read at all is not derived: a reviewer sees it missing.
- **统一社会信用代码 check digit** (GB 32100): an 18-character tax id whose check fails is
  repaired when exactly one substitution of a character by a look-alike (0/D, 1/I, 6/G ...) makes
  it valid. Any ambiguity leaves the reading (and its failed cross-check) as it was.

Every repair keeps the reading as read (``FieldValue.raw``), adds evidence ``repaired`` and a
page flag ``{"kind": "repaired", "field", "read", "value", "by"}``, so QA shows both readings.

>>> repair_tax_id("91310101MA0WHW7Y26")
'91310101MADWHW7Y26'
>>> repair_amounts({"amount": ("279408.59", "¥279408.59"), "tax": ("26546.00", "¥26546"),
...                 "total": ("305955.30", "¥305955.30")})
('tax', '26546.71', 'the decimals')
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

from .crosscheck import USCC_ALPHABET, tax_id_problem, valid_uscc
from .normalize import format_amount, normalize_text

# look-alikes under print and OCR, both ways; a small table: each extra pair is one more chance
# that some wrong substitution passes a mod-31 check
_LOOKALIKE_PAIRS = ("0D", "0Q", "0O", "1I", "1L", "2Z", "5S", "6G", "8B", "UV", "MN", "0C")
_LOOKALIKES: Dict[str, str] = {}
for _a, _b in _LOOKALIKE_PAIRS:
    _LOOKALIKES[_a] = _LOOKALIKES.get(_a, "") + _b
    _LOOKALIKES[_b] = _LOOKALIKES.get(_b, "") + _a
AMOUNT_FIELDS = ("amount", "tax", "total")


def repair_tax_id(code: str) -> Optional[str]:
    """The one valid 统一社会信用代码 a single look-alike substitution makes of ``code``, or None
    (``code`` already valid, not 18 characters, no substitution or more than one that validates).
    Characters 3-8 (the region code) are digits.

    >>> repair_tax_id("92330106MAQDB3AK16")
    '92330106MAQDB3AK1G'
    >>> repair_tax_id("91440300MA5F5KP94F") is None   # valid as read
    True
    """
    if len(code) != 18 or tax_id_problem(code) is None:   # valid, as a USCC or a resident id
        return None
    found = set()
    for i, c in enumerate(code):
        for alt in _LOOKALIKES.get(c, ""):
            if alt not in USCC_ALPHABET or (2 <= i < 8 and not alt.isdigit()):
                continue
            cand = code[:i] + alt + code[i + 1:]
            if valid_uscc(cand):
                found.add(cand)
    return found.pop() if len(found) == 1 else None


def _with_decimals(raw: str) -> bool:
    """The amount's digits end in two decimals as read (not supplied by normalisation)."""
    return bool(re.search(r"\.\d{2}$", re.sub(r"[^\d.]", "", normalize_text(raw))))


def _agrees(value: str, raw: str, derived: str) -> Optional[str]:
    """How the value read can be a partial reading of ``derived``: 'the decimals', 'leading digits',
    'one digit', or None when it cannot."""
    if value == derived:
        return None
    vi, di = value.split(".")[0], derived.split(".")[0]
    if not _with_decimals(raw):
        if vi == di:
            return "the decimals"
        return "leading digits and decimals" if di.endswith(vi) and 0 < len(di) - len(vi) <= 2 else None
    if derived.endswith(value) and 0 < len(derived) - len(value) <= 2:
        return "leading digits"
    if len(value) == len(derived) and sum(a != b for a, b in zip(value, derived)) == 1:
        return "one digit"
    return None


def repair_amounts(read: Dict[str, Tuple[str, str]], capitals: Optional[str] = None
                   ) -> Optional[Tuple[str, str, str]]:
    """``(field, value, what was lost)`` when exactly one of 金额 / 税额 / 价税合计 is a partial
    reading of what the other two give, the other two read with their decimals; else None.

    Args:
        read: field -> (canonical value, raw text as read) for the amount fields read.
        capitals: the canonical 价税合计 read in capitals, if any: a total equal to it is
            confirmed (not repairable), a total read in part is repaired to it.

    >>> repair_amounts({"amount": ("7821363.11", "¥7821363.11"), "tax": ("143735.54", "¥143735.54"),
    ...                 "total": ("2965098.65", "¥2965098.65")}, capitals="2965098.65")
    ('amount', '2821363.11', 'one digit')
    >>> repair_amounts({"amount": ("7821363.11", "¥7821363.11"), "tax": ("143735.54", "¥143735.54"),
    ...                 "total": ("2965098.65", "¥2965098.65")}) is None   # 金额 or 价税合计: either fits
    True
    """
    if capitals is not None and "total" in read and read["total"][0] is not None:
        how = _agrees(read["total"][0], read["total"][1], capitals)
        if how:
            return "total", capitals, how
    if any(f not in read or read[f][0] is None for f in AMOUNT_FIELDS):
        return None
    vals = {f: Decimal(read[f][0]) for f in AMOUNT_FIELDS}
    if vals["amount"] + vals["tax"] == vals["total"]:
        return None
    derived = {"amount": vals["total"] - vals["tax"], "tax": vals["total"] - vals["amount"],
               "total": vals["amount"] + vals["tax"]}
    found = []
    for f in AMOUNT_FIELDS:
        others = [g for g in AMOUNT_FIELDS if g != f]
        if (f == "total" and read[f][0] == capitals) or derived[f] <= 0 or not all(_with_decimals(read[g][1]) for g in others):
            continue
        d = format_amount(derived[f])
        how = _agrees(read[f][0], read[f][1], d)
        if how:
            found.append((f, d, how))
    return found[0] if len(found) == 1 else None


def repair_reading(reading) -> List[dict]:
    """Apply :func:`repair_amounts` and :func:`repair_tax_id` to a
    :class:`~paddle_cam.invoice.reading.PageReading` in place; returns the flags it added."""
    flags = []
    fields = reading.fields

    def apply(f: str, value: str, by: str) -> None:
        fv = fields[f]
        flags.append({"kind": "repaired", "field": f, "read": fv.value, "value": value, "raw": fv.raw, "by": by})
        fv.value = value
        fv.evidence = list(fv.evidence) + ["repaired"]

    amounts = {f: (fields[f].value, fields[f].raw) for f in AMOUNT_FIELDS if f in fields}
    cap = reading.extras.get("total_capital")
    fixed = repair_amounts(amounts, cap.value if cap is not None else None)
    if fixed:
        f, value, how = fixed
        by = "价税合计 in capitals" if cap is not None and value == cap.value and f == "total" else "金额 + 税额 = 价税合计"
        apply(f, value, f"{by} ({how} misread)" if how == "one digit" else f"{by} ({how} not read)")
    for f in ("buyer_tax_id", "seller_tax_id"):
        if f in fields and fields[f].value:
            value = repair_tax_id(fields[f].value)
            if value:
                apply(f, value, "统一社会信用代码 check digit (one look-alike character)")
    reading.flags.extend(flags)
    return flags
