"""Cross-checks an invoice allows between its own fields: 价税合计 in capitals against figures,
金额 + 税额 = 价税合计 to the fen, tax-id length, charset and (统一社会信用代码) check digit, a
plausible date, invoice number and code lengths. A failed check is a QA flag that shows both
readings; a check whose fields were not read is not applicable (not counted as passed).

>>> uscc_check_digit("91440300MA5F5KP94")
'F'
>>> valid_uscc("91440300MA5F5KP94F"), valid_uscc("91440300MA5F5KP94E")
(True, False)
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Dict, List, Optional

from .normalize import format_amount, parse_capitals

# GB 32100-2015: 31 characters (no I O S V Z), weights 3^i mod 31 over the first 17 characters
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11643-1999 (居民身份证号码, an individual's tax id): weights 2^(17-i) mod 11
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
CHECKS = ("capitals_vs_figures", "amount_plus_tax", "buyer_tax_id", "seller_tax_id", "date", "invoice_number",
          "invoice_code")


def uscc_check_digit(first17: str) -> Optional[str]:
    """The 18th character of a 统一社会信用代码 from its first 17, or None when they use a character
    outside the alphabet."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        return None
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def valid_uscc(code: str) -> bool:
    """True for an 18-character 统一社会信用代码 whose check digit is right."""
    return len(code) == 18 and uscc_check_digit(code[:17]) == code[17]


def valid_resident_id(code: str) -> bool:
    """True for an 18-character 居民身份证号码 (individuals' tax id) with a right check character.

    >>> valid_resident_id("11010519491231002X")
    True
    """
    if not re.fullmatch(r"\d{17}[\dX]", code):
        return False
    return _ID_CHECK[sum(int(c) * w for c, w in zip(code, _ID_WEIGHTS)) % 11] == code[17]


def tax_id_problem(code: str) -> Optional[str]:
    """Why ``code`` cannot be a tax id (length, characters, check digit), or None when it can.

    >>> tax_id_problem("91440300MA5F5KP94E")
    'check digit is E, GB 32100 gives F'
    """
    if len(code) not in (15, 17, 18, 20):
        return f"{len(code)} characters (tax ids have 15, 17, 18 or 20)"
    if not re.fullmatch(r"[0-9A-Z]+", code):
        return "characters outside 0-9A-Z"
    if len(code) == 18 and not valid_uscc(code) and not valid_resident_id(code):
        want = uscc_check_digit(code[:17])
        if want is None:
            bad = sorted({c for c in code[:17] if c not in USCC_ALPHABET})
            return f"character {''.join(bad)} is not in the 统一社会信用代码 alphabet"
        return f"check digit is {code[17]}, GB 32100 gives {want}"
    return None


@dataclass
class CheckResult:
    """One cross-check on one page: ``ok`` True/False, or None when it does not apply (a field not read)."""

    check: str
    ok: Optional[bool]
    fields: List[str]
    readings: Dict[str, str] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def cross_check(values: Dict[str, Optional[str]], capitals: Optional[str] = None,
                today: Optional[_dt.date] = None, min_date: _dt.date = _dt.date(1994, 1, 1)) -> List[CheckResult]:
    """Every check of :data:`CHECKS` on a page's normalised readings.

    Args:
        values: field -> canonical value (:func:`paddle_cam.invoice.normalize.normalize_field`), None if not read.
        capitals: the 价税合计 capitals as read (raw), if any.
        today: the reference date a date must not come after (default: today).
        min_date: no invoice of this system is older (the 1994 VAT reform).

    >>> r = cross_check({"total": "2196.00"}, capitals="贰仟壹佰陆拾玖元整")
    >>> r[0].ok, r[0].readings
    (False, {'capitals': '2169.00', 'figures': '2196.00'})
    """
    today = today or _dt.date.today()
    out: List[CheckResult] = []
    total = values.get("total")
    cap = format_amount(parse_capitals(capitals)) if capitals else None
    if cap is not None and total is not None:
        out.append(CheckResult("capitals_vs_figures", cap == total, ["total"], {"capitals": cap, "figures": total},
                               "" if cap == total else f"capitals say {cap}, figures say {total}"))
    else:
        out.append(CheckResult("capitals_vs_figures", None, ["total"]))
    amount, tax = values.get("amount"), values.get("tax")
    if amount is not None and tax is not None and total is not None:
        s = Decimal(amount) + Decimal(tax)
        ok = s == Decimal(total)
        out.append(CheckResult("amount_plus_tax", ok, ["amount", "tax", "total"],
                               {"amount+tax": f"{s:.2f}", "total": total},
                               "" if ok else f"金额 {amount} + 税额 {tax} = {s:.2f}, 价税合计 says {total}"))
    else:
        out.append(CheckResult("amount_plus_tax", None, ["amount", "tax", "total"]))
    for f in ("buyer_tax_id", "seller_tax_id"):
        v = values.get(f)
        why = tax_id_problem(v) if v is not None else None
        out.append(CheckResult(f, None if v is None else why is None, [f], {f: v} if v else {}, why or ""))
    d = values.get("date")
    if d is not None:
        day = _dt.date.fromisoformat(d)
        why = "after the reference date " + today.isoformat() if day > today else (
            f"before {min_date.isoformat()}" if day < min_date else "")
        out.append(CheckResult("date", not why, ["date"], {"date": d, "reference": today.isoformat()}, why))
    else:
        out.append(CheckResult("date", None, ["date"]))
    n, c = values.get("invoice_number"), values.get("invoice_code")
    if n is not None:
        why = "" if len(n) in (8, 20) else f"{len(n)} digits (8, or 20 on 数电票)"
        if not why and len(n) == 20 and c is not None:
            why = "a 20-digit (数电票) number comes without an invoice code"
        out.append(CheckResult("invoice_number", not why, ["invoice_number"], {"invoice_number": n}, why))
    else:
        out.append(CheckResult("invoice_number", None, ["invoice_number"]))
    if c is not None:
        why = "" if len(c) in (10, 12) else f"{len(c)} digits (10 or 12)"
        out.append(CheckResult("invoice_code", not why, ["invoice_code"], {"invoice_code": c}, why))
    else:
        out.append(CheckResult("invoice_code", None, ["invoice_code"]))
    return out
