"""Canonical forms of invoice field values, so a reading compares with ground truth and with
itself (capitals against figures) whatever the print or the OCR made of spacing and symbols.

- dates -> ``YYYY-MM-DD`` (2024年01月11日, 2024-1-11, 2024/01/11, 2024.01.11, 20240111);
- amounts -> :class:`~decimal.Decimal` to the fen (strips ¥ ￥ （小写） , and spaces);
- financial capitals (壹万贰仟叁佰肆拾伍圆陆角柒分, 整/正, 零, 万/亿, 负) -> Decimal;
- tax ids and codes upper-case without spaces; rates -> ``13%`` / ``免税`` / ``不征税``.

:func:`normalize_field` is the one canonical string per schema field used by the reader, the
cross-checks and the scoring.

>>> parse_date("2024年1月11日"), format_amount(parse_amount("（小写）￥2,169.00"))
('2024-01-11', '2169.00')
>>> str(parse_capitals("壹万贰仟叁佰肆拾伍圆陆角柒分"))
'12345.67'
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import List, Optional, Tuple

# Traditional forms of the characters invoice labels are made of (Hong Kong/Taiwan-trained OCR and
# old 繁体 forms print these); mapped one to one so character offsets survive.
_TRAD = str.maketrans({
    "發": "发", "號": "号", "碼": "码", "開": "开", "購": "购", "買": "买", "銷": "销", "賣": "卖", "稅": "税",
    "納": "纳", "識": "识", "別": "别", "價": "价", "計": "计", "額": "额", "驗": "验", "稱": "称", "證": "证",
    "統": "统", "會": "会", "貨": "货", "單": "单", "規": "规", "數": "数", "電": "电", "話": "话", "帳": "账",
    "賬": "账", "戶": "户", "銀": "银", "務": "务", "項": "项", "備": "备", "註": "注", "複": "复", "圓": "圆",
    "萬": "万", "億": "亿", "貳": "贰", "參": "叁", "陸": "陆", "寫": "写", "專": "专", "費": "费", "徵": "征",
    "區": "区",
})
# characters OCR gives for the colon after a label (and the separators printers put there)
COLON_CHARS = ":;：；∶﹕﹔︰·.,，、|丨"
_SPACE = re.compile(r"\s+")
_CENT = Decimal("0.01")


def normalize_with_map(text: str) -> Tuple[str, List[int]]:
    """NFKC (full-width to ASCII), traditional -> simplified for label characters, no whitespace;
    with, for each output character, the index of the input character it came from.

    >>> normalize_with_map("名　　称：Ａ")
    ('名称:A', [0, 3, 4, 5])
    """
    out, idx = [], []
    for i, ch in enumerate(text or ""):
        piece = unicodedata.normalize("NFKC", ch).translate(_TRAD)
        for c in piece:
            if c.isspace():
                continue
            out.append(c)
            idx.append(i)
    return "".join(out), idx


def nfkc_same_length(text: str) -> str:
    """NFKC character by character where that keeps one character (full-width digits, commas,
    colons, ￥ stay where they were), so offsets into the result are offsets into ``text``.

    >>> nfkc_same_length("¥8,385，124.66")
    '¥8,385,124.66'
    """
    out = []
    for ch in text or "":
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def normalize_text(text: str) -> str:
    """:func:`normalize_with_map` without the map.

    >>> normalize_text("销 售 方（章）")
    '销售方(章)'
    """
    return normalize_with_map(text)[0]


# ----------------------------------------------------------------------------- dates

_DATE_PATTERNS = (
    re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?"),
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"),
)


def find_date(text: str) -> Optional[Tuple[str, int, int]]:
    """The first valid date in ``text``: (YYYY-MM-DD, start, end) in ``text``'s own offsets, or None.

    >>> find_date("开票日期：2024年01月11日")
    ('2024-01-11', 5, 16)
    """
    t = nfkc_same_length(text)
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(t):
            try:
                d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                continue
            return d.isoformat(), m.start(), m.end()
    return None


def parse_date(text: str) -> Optional[str]:
    """``YYYY-MM-DD`` of the first valid date in ``text``, or None.

    >>> parse_date("20240111"), parse_date("2024-02-30")
    ('2024-01-11', None)
    """
    found = find_date(text)
    return found[0] if found else None


# ----------------------------------------------------------------------------- amounts

_AMOUNT = re.compile(r"(?<![\d.,])[-−]?\s*[¥￥Y]?\s*[-−]?(?:\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,3}(?:[,.]\d{3})+\.\d{2})(?![\d.])"
                     r"|(?<![\d.,])[-−]?\s*[¥￥Y]?\s*[-−]?\d+(?:\.\d{1,2})?(?![\d.])")


def money(x) -> Decimal:
    """Round half up to the fen, as invoices do.

    >>> money("2.005")
    Decimal('2.01')
    """
    return Decimal(str(x)).quantize(_CENT, rounding=ROUND_HALF_UP)


def find_amount(text: str, need_symbol_or_decimals: bool = True) -> Optional[Tuple[Decimal, int, int]]:
    """The first amount in ``text``: (value, start, end), or None. With ``need_symbol_or_decimals``
    only amounts printed as amounts count (¥ in front, or two decimals), not bare integers.

    >>> find_amount("（小写）￥2,169.00")
    (Decimal('2169.00'), 4, 13)
    """
    t = nfkc_same_length(text)
    for m in _AMOUNT.finditer(t):
        s = m.group(0)
        has_sym = any(c in s for c in "¥￥Y")
        if "Y" in s and not re.search(r"Y\s*[-−]?\d", s):
            continue
        digits = re.sub(r"[^\d.,]", "", s)
        # thousands separators, including a comma OCR read as a point (1.018,648.86)
        m2 = re.match(r"^(.*?)(\.\d{1,2})?$", digits)
        digits = re.sub(r"[.,]", "", m2.group(1)) + (m2.group(2) or "")
        if need_symbol_or_decimals and not has_sym and not re.search(r"\.\d{2}$", digits):
            continue
        try:
            v = money(digits)
        except InvalidOperation:
            continue
        if "-" in s or "−" in s:
            v = -v
        start = m.start() + (len(s) - len(s.lstrip()))
        return v, start, m.end()
    return None


def parse_amount(text: str) -> Optional[Decimal]:
    """The amount in ``text`` (¥ ￥ , spaces and （小写） stripped) to the fen, or None.

    >>> parse_amount("¥ 1,234.5"), parse_amount("-100.00")
    (Decimal('1234.50'), Decimal('-100.00'))
    """
    t = _SPACE.sub("", unicodedata.normalize("NFKC", text or ""))
    found = find_amount(t, need_symbol_or_decimals=False)
    return found[0] if found else None


def format_amount(v: Optional[Decimal]) -> Optional[str]:
    """'1234.50' (two decimals, no separators), or None.

    >>> format_amount(Decimal("3"))
    '3.00'
    """
    return None if v is None else f"{money(v):.2f}"


# ----------------------------------------------------------------------------- capitals

_CAP_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_CAP_DIGITS.update({c: i for i, c in enumerate("〇一二三四五六七八九")})
_CAP_DIGITS.update({"两": 2, "貳": 2, "參": 3, "陸": 6, "O": 0, "o": 0})
_CAP_UNITS = {"拾": 10, "佰": 100, "仟": 1000, "十": 10, "百": 100, "千": 1000}
CAPITAL_CHARS = set(_CAP_DIGITS) | set(_CAP_UNITS) | set("万萬亿億元圆圓角分整正负")
_CAP_STRIP = "⊗ⓧⓍ×⨂X()（）[]"


def is_capitals(text: str) -> bool:
    """True when ``text`` (⊗ and spaces aside) is written in financial capitals.

    >>> is_capitals("⊗贰万叁仟柒佰叁拾玖元贰角壹分"), is_capitals("壹")
    (True, False)
    """
    t = "".join(c for c in _SPACE.sub("", text or "") if c not in _CAP_STRIP)
    return (len(t) >= 2 and all(c in CAPITAL_CHARS for c in t) and any(c in "元圆圓角分" for c in t)
            and any(c in _CAP_DIGITS for c in t))


def parse_capitals(text: str) -> Optional[Decimal]:
    """Financial capitals -> Decimal yuan, or None when ``text`` is not a well-formed amount.

    Handles 零 (silent), 拾 without a digit (拾元 = 10), 万 and 亿 groups (壹亿零壹万元), 元/圆,
    角 and 分, the closing 整/正, 负 in front and a leading ⊗.

    >>> parse_capitals("壹拾万零壹佰元整"), parse_capitals("伍角陆分"), parse_capitals("零元整")
    (Decimal('100100.00'), Decimal('0.56'), Decimal('0.00'))
    """
    t = "".join(c for c in _SPACE.sub("", text or "") if c not in _CAP_STRIP)
    if not is_capitals(t) and t != "零元整":
        return None
    neg = t.startswith("负")
    t = t[1:] if neg else t
    t = t.rstrip("整正")
    total = section = num = 0
    yuan = None
    jiao = fen = 0
    pending: Optional[int] = None  # a digit waiting for 角 or 分 after 元
    for ch in t:
        if ch in _CAP_DIGITS:
            if yuan is None:
                num = _CAP_DIGITS[ch]
            else:
                pending = _CAP_DIGITS[ch]
        elif ch in _CAP_UNITS:
            if yuan is not None:
                return None
            section += (num if num else (1 if _CAP_UNITS[ch] == 10 else 0)) * _CAP_UNITS[ch]
            num = 0
        elif ch in "万萬":
            if yuan is not None:
                return None
            total += (section + num) * 10000
            section = num = 0
        elif ch in "亿億":
            if yuan is not None:
                return None
            total = (total + section + num) * 100000000
            section = num = 0
        elif ch in "元圆圓":
            if yuan is not None:
                return None
            yuan = total + section + num
            num = 0
        elif ch in "角分":
            if yuan is None:  # below one yuan nothing comes before 角
                if total or section:
                    return None
                yuan, pending, num = 0, num, 0
            if pending is None:
                return None
            if ch == "角":
                jiao = pending
            else:
                fen = pending
            pending = None
        else:
            return None
    if yuan is None or pending:
        return None
    v = Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100
    return money(-v if neg else v)


# ----------------------------------------------------------------------------- ids, rates, codes

_RATE = re.compile(r"(\d{1,2}(?:\.\d{1,2})?)\s*[%％]")


def parse_rate(text: str) -> Optional[str]:
    """'13%', '1.5%', '免税', '不征税' (or '出口零税率' -> '0%'), or None.

    >>> parse_rate("税率：13 %"), parse_rate("免税"), parse_rate("0.06")
    ('13%', '免税', None)
    """
    t = normalize_text(text)
    for word in ("不征税", "免税"):
        if word in t:
            return word
    if "零税率" in t:
        return "0%"
    m = _RATE.search(t)
    if not m:
        return None
    v = Decimal(m.group(1)).normalize()
    return f"{v:f}%"


def normalize_id(text: str) -> str:
    """Upper-case, NFKC, no spaces or separators: a tax id, code or number as one token.

    >>> normalize_id("9144 0300ma5f5kp94f")
    '91440300MA5F5KP94F'
    """
    return re.sub(r"[\s\-_]", "", unicodedata.normalize("NFKC", text or "")).upper()


def normalize_name(text: str) -> str:
    """A company or person name: NFKC, no spaces, no leading colon left by OCR.

    >>> normalize_name("：成都联创供应链管理（武汉）有限公司")
    '成都联创供应链管理(武汉)有限公司'
    """
    return normalize_text(text).lstrip(COLON_CHARS)


def normalize_field(field: str, text: Optional[str]) -> Optional[str]:
    """The canonical string of a schema field's value (None when it does not parse).

    >>> normalize_field("total", "（小写）¥23,739.21"), normalize_field("check_code", "04183 18432 33748 63765")
    ('23739.21', '04183184323374863765')
    >>> normalize_field("total", "贰万叁仟柒佰叁拾玖元贰角壹分")
    '23739.21'
    """
    if text is None:
        return None
    if field == "date":
        return parse_date(text)
    if field in ("amount", "tax", "total"):
        if is_capitals(text):
            return format_amount(parse_capitals(text))
        return format_amount(parse_amount(text))
    if field == "tax_rate":
        return parse_rate(text)
    if field in ("invoice_code", "invoice_number", "check_code"):
        d = re.sub(r"\D", "", normalize_id(text))
        return d or None
    if field in ("buyer_tax_id", "seller_tax_id"):
        return normalize_id(text) or None
    if field in ("buyer_name", "seller_name"):
        return normalize_name(text) or None
    return normalize_text(text) or None
