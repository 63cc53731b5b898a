"""The words printed on Chinese invoices next to each field, the block headers, and what each
field's value looks like.

Written from the forms themselves (增值税专用/普通发票 paper forms, 增值税电子普通发票, the 2024
全面数字化的电子发票 (数电票), taxi receipts, railway e-tickets), not from any generator's page, so
the reader works on layouts it has never seen.

Matching is on :func:`paddle_cam.invoice.normalize.normalize_text` output, which removes
letter-spacing (名　　称), maps full-width to ASCII and traditional to simplified characters; a
colon (or what OCR made of it) may follow a label or not. Labels of four or more characters also
match with one wrong character (纳税人识荆号), as OCR reads them.

>>> [m.targets for m in find_labels("纳税人识别号：91440300MA5F5KP94F")]
[('buyer_tax_id', 'seller_tax_id')]
>>> header_side("购 买 方 信 息"), header_side("销售方：（章）")
('buyer', None)
>>> value_format_ok("invoice_number", "25442000000123456789"), value_format_ok("buyer_tax_id", "91440300MA5F5KP94F")
(True, True)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .normalize import COLON_CHARS, find_amount, is_capitals, normalize_text, parse_date, parse_rate

BUYER, SELLER = "buyer", "seller"

# Pseudo-field: 价税合计 in capitals; the reader keeps it beside ``total`` (figures) for the cross-check.
TOTAL_CAPITAL = "total_capital"

# (wording, fields the value after it may be). Several targets: the block (buyer/seller), the
# value's format (capitals or figures) or the column decides. ``other`` labels own their value so
# that a 12-digit 机器编号 is never taken for an invoice code.
LABELS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("发票代码", ("invoice_code",)),
    ("代码", ("invoice_code",)),
    ("发票号码", ("invoice_number",)),
    ("号码", ("invoice_number",)),
    ("开票日期", ("date",)),
    ("开票时间", ("date",)),
    ("日期", ("date",)),
    ("校验码", ("check_code",)),
    ("购买方名称", ("buyer_name",)),
    ("购方名称", ("buyer_name",)),
    ("买方名称", ("buyer_name",)),
    ("购货单位名称", ("buyer_name",)),
    ("购货单位", ("buyer_name",)),
    ("付款方名称", ("buyer_name",)),
    ("销售方名称", ("seller_name",)),
    ("销方名称", ("seller_name",)),
    ("卖方名称", ("seller_name",)),
    ("销货单位名称", ("seller_name",)),
    ("销货单位", ("seller_name",)),
    ("收款方名称", ("seller_name",)),
    ("名称", ("buyer_name", "seller_name")),
    ("购买方", ("buyer_name",)),     # 购买方：XX公司 (train e-tickets); only with a colon, else it is a block header
    ("销售方", ("seller_name",)),
    ("购买方纳税人识别号", ("buyer_tax_id",)),
    ("购方纳税人识别号", ("buyer_tax_id",)),
    ("购买方税号", ("buyer_tax_id",)),
    ("购方税号", ("buyer_tax_id",)),
    ("销售方纳税人识别号", ("seller_tax_id",)),
    ("销方纳税人识别号", ("seller_tax_id",)),
    ("销售方税号", ("seller_tax_id",)),
    ("销方税号", ("seller_tax_id",)),
    ("统一社会信用代码/纳税人识别号", ("buyer_tax_id", "seller_tax_id")),
    ("统一社会信用代码", ("buyer_tax_id", "seller_tax_id")),
    ("纳税人识别号", ("buyer_tax_id", "seller_tax_id")),
    ("纳税人识别码", ("buyer_tax_id", "seller_tax_id")),
    ("纳税人登记号", ("buyer_tax_id", "seller_tax_id")),
    ("识别号", ("buyer_tax_id", "seller_tax_id")),
    ("税号", ("buyer_tax_id", "seller_tax_id")),
    ("价税合计(大写)", (TOTAL_CAPITAL, "total")),
    ("价税合计", (TOTAL_CAPITAL, "total")),
    ("(大写)", (TOTAL_CAPITAL,)),
    ("大写", (TOTAL_CAPITAL,)),
    ("(小写)", ("total",)),
    ("小写", ("total",)),
    ("金额合计", ("amount",)),
    ("合计金额", ("amount",)),
    ("不含税金额", ("amount",)),
    ("税额合计", ("tax",)),
    ("合计税额", ("tax",)),
    ("合计", ("amount", "tax")),
    ("税率/征收率", ("tax_rate",)),
    ("征收率", ("tax_rate",)),
    ("税率", ("tax_rate",)),
    ("金额", ("amount",)),
    ("税额", ("tax",)),
    ("票价", ("total",)),
    ("实收金额", ("total",)),
    # labels of values that are none of the fields
    ("代开企业名称", ("other",)), ("代开企业税号", ("other",)), ("代开企业纳税人识别号", ("other",)),
    ("代开单位", ("other",)), ("地址、电话号码", ("other",)), ("复核人", ("other",)),
    ("机器编号", ("other",)), ("地址、电话", ("other",)), ("地址电话", ("other",)), ("地址", ("other",)),
    ("电话", ("other",)), ("开户行及账号", ("other",)), ("开户银行", ("other",)), ("银行账号", ("other",)),
    ("开户行", ("other",)), ("密码区", ("other",)), ("备注", ("other",)), ("收款人", ("other",)),
    ("复核", ("other",)), ("开票人", ("other",)), ("规格型号", ("other",)), ("单位", ("other",)),
    ("数量", ("other",)), ("单价", ("other",)), ("项目名称", ("other",)), ("货物或应税劳务、服务名称", ("other",)),
    ("货物或应税劳务名称", ("other",)), ("车号", ("other",)), ("证号", ("other",)), ("里程", ("other",)),
    ("上车", ("other",)), ("下车", ("other",)), ("等候", ("other",)), ("监督电话", ("other",)),
    ("订单号", ("other",)), ("合同编号", ("other",)), ("付款方式", ("other",)), ("身份证号", ("other",)),
    ("车次", ("other",)), ("座位", ("other",)), ("电子客票号", ("other",)), ("检票", ("other",)),
    ("收款单位", ("other",)), ("销售方(章)", ("other",)),
)
# How the reader names the role of a label: a ``header`` (金额, 税率, 税额) sits over a table column.
COLUMN_LABELS: Dict[str, str] = {"金额": "amount", "税额": "tax", "税率": "tax_rate", "税率/征收率": "tax_rate",
                                 "征收率": "tax_rate", "全额": "amount"}  # 全额: how OCR often reads 金额
TABLE_HEADER_WORDS = ("项目名称", "货物或应税劳务、服务名称", "货物或应税劳务名称", "规格型号", "单位", "数量", "单价",
                      "金额", "税率", "税额", "税率/征收率")

_HEADERS = {
    BUYER: ("购买方", "购买方信息", "购方", "买方", "购货单位", "购货方", "购买方信息栏", "购方信息"),
    SELLER: ("销售方", "销售方信息", "销方", "卖方", "销货单位", "销货方", "销售方信息栏", "销方信息"),
}
# printed on every VAT invoice and on no taxi receipt or train ticket
VAT_MARKERS = ("增值税", "价税合计", "纳税人识别号", "税额", "税率", "电子发票", "统一社会信用代码", "销售方", "购买方")
# taxi receipts and railway tickets: invoices (they say 发票) without VAT fields, even as 电子发票（铁路电子客票）
RECEIPT_MARKERS = ("客票", "出租汽车", "出租车", "乘车", "车票", "候车")
INVOICE_MARKERS = ("发票", "发票代码", "发票号码", "开票日期", "校验码", "纳税人识别号", "价税合计", "票价")


@dataclass(frozen=True)
class LabelMatch:
    """A label found in a text: the wording, the fields its value may be, and the character
    span ``[start, end)`` of the label (colon included) in the *raw* text."""

    wording: str
    targets: Tuple[str, ...]
    start: int
    end: int

    @property
    def is_other(self) -> bool:
        return self.targets == ("other",)


def _near(a: str, b: str) -> bool:
    """Equal but for at most one substituted character (only for words of four or more)."""
    return len(a) == len(b) and len(b) >= 4 and sum(x != y for x, y in zip(a, b)) <= 1


def _norm_label(w: str) -> str:
    return normalize_text(w)


_LEX = sorted(((_norm_label(w), t) for w, t in LABELS), key=lambda x: -len(x[0]))


def find_labels(text: str) -> List[LabelMatch]:
    """Every label in ``text``, left to right and not overlapping (the longest wording wins), with
    raw-text spans that include a following colon.

    ``No``/``NO.``/``№`` count as the invoice-number label only at the start of a text. Short
    wordings (代码, 号码, 名称, 合计, 金额, ...) only count where they are not part of a longer run
    of CJK text that is not a label (``*水冰雪*饮用天然水`` holds no label).

    >>> [(m.wording, m.start, m.end) for m in find_labels("开票日期：2024年12月16日 校验码：0418")]
    [('开票日期', 0, 5), ('校验码', 17, 21)]
    >>> [m.wording for m in find_labels("No 56655174")]
    ['No']
    """
    norm, idx = normalize_text_map(text)
    out: List[LabelMatch] = []
    taken = [False] * len(norm)
    m = re.match(r"(?i)(no|n0)\.?(?=\s*:?\s*\d|$)", norm)
    if m:
        out.append(_match("No", ("invoice_number",), norm, idx, text, 0, m.end()))
        for k in range(m.end()):
            taken[k] = True
    exact = {w for w, _ in _LEX}
    for fuzzy in (False, True):  # every exact wording first: 发票号码 must not become a misread 发票代码
        for word, targets in _LEX:
            n = len(word)
            if fuzzy and n < 4:
                continue
            pos = 0
            while pos + n <= len(norm):
                seg = norm[pos:pos + n]
                hit = seg == word if not fuzzy else (
                    seg not in exact and _near(seg, word) and sum(_near(seg, w) for w in exact if len(w) == n) == 1)
                if hit and not any(taken[pos:pos + n]) and _standalone(norm, pos, pos + n, word):
                    out.append(_match(word, targets, norm, idx, text, pos, pos + n))
                    for k in range(pos, pos + n):
                        taken[k] = True
                    pos += n
                    continue
                pos += 1
    return sorted(out, key=lambda x: x.start)


def normalize_text_map(text: str):
    from .normalize import normalize_with_map

    return normalize_with_map(text or "")


# wordings that are block headers unless a colon follows them
_NEED_COLON = {"购买方", "销售方"}


def _standalone(norm: str, a: int, b: int, word: str) -> bool:
    """A short wording counts at the start of the text, after a colon, bracket, digit or letter,
    or after other words when a colon follows it; otherwise it is part of a longer phrase
    (``名称`` ending a misread 货物或应税劳务、服务名称 header is no 名称 label)."""
    after = norm[b] if b < len(norm) else ""
    if word in _NEED_COLON:
        return after != "" and after in COLON_CHARS
    if len(word) >= 4:
        return True
    before = norm[a - 1] if a > 0 else ""
    if a == 0 or before in COLON_CHARS + "()*" or not "\u4e00" <= before <= "\u9fff":
        return True
    # after other words only when a colon follows: 日期：… 校验码：… yes, 服务名称 (a misread column header) no
    return after != "" and after in COLON_CHARS


def _match(word, targets, norm, idx, text, a, b) -> LabelMatch:
    # swallow what OCR made of the colon and of the brackets around (大写)/(小写)
    while b < len(norm) and norm[b] in COLON_CHARS:
        b += 1
    start = idx[a] if a < len(idx) else len(text)
    end = idx[b - 1] + 1 if b - 1 < len(idx) else len(text)
    return LabelMatch(word, tuple(targets), start, end)


def header_side(text: str) -> Optional[str]:
    """``buyer`` / ``seller`` when ``text`` is a block header (购买方, 购 买 方 信 息, 销售方, 卖方,
    购货单位, ...; one wrong character allowed in four or more), else None. ``销售方（章）`` (the
    stamp's place) is not a header.

    A header the detector cut short (销售方信, its 息 in a box of its own) still counts: a party
    word followed by the start of 信息栏.

    >>> header_side("购实方"), header_side("销售方信息"), header_side("第三联：记账联 购买方记账凭证")
    ('buyer', 'seller', None)
    >>> header_side("销售方信"), header_side("销售方式")
    ('seller', None)
    """
    t = normalize_text(text).strip(COLON_CHARS)
    if not t or "章" in t:
        return None
    for side, words in _HEADERS.items():
        for w in words:
            if t == w or (len(w) >= 3 and len(t) == len(w) and sum(x != y for x, y in zip(t, w)) <= 1
                          and t[0] == w[0]):
                return side
            if len(w) >= 2 and len(t) > len(w) and t.startswith(w) and "信息栏".startswith(t[len(w):]):
                return side
    return None


# ----------------------------------------------------------------------------- value formats

_TAX_ID = re.compile(r"^[0-9A-Z]{15}$|^[0-9A-Z]{17,18}$|^[0-9A-Z]{20}$")


def _digits_only(s: str) -> str:
    return re.sub(r"\s", "", normalize_text(s))


def value_format_ok(field: str, text: str) -> bool:
    """Does ``text`` look like a value of ``field``? (Names: a few characters, not a number.)

    Tax ids: 15, 17, 18 or 20 characters of 0-9A-Z (统一社会信用代码 18); invoice code 10 or 12
    digits; number 8 digits (20 for 数电票); date in any invoice form; check code 20 digits
    (printed in groups of five); amounts with ¥/￥ or two decimals; rates like 13% / 免税 /
    不征税; capitals with 元/角/分.

    >>> value_format_ok("check_code", "04183 18432 33748 63765"), value_format_ok("invoice_code", "0755-65352611")
    (True, False)
    """
    t = normalize_text(text).lstrip(COLON_CHARS)
    if not t:
        return False
    if field in ("buyer_tax_id", "seller_tax_id"):
        return bool(_TAX_ID.match(t.upper())) and any(c.isdigit() for c in t)
    if field == "invoice_code":
        return bool(re.fullmatch(r"\d{10}|\d{12}", _digits_only(t)))
    if field == "invoice_number":
        return bool(re.fullmatch(r"\d{8}|\d{20}", _digits_only(t)))
    if field == "check_code":
        return bool(re.fullmatch(r"\d{20}", _digits_only(t)))
    if field == "date":
        return parse_date(t) is not None
    if field in ("amount", "tax"):
        return find_amount(t) is not None
    if field == "total":
        return find_amount(t) is not None or is_capitals(t)
    if field == TOTAL_CAPITAL:
        return is_capitals(t)
    if field == "tax_rate":
        return parse_rate(t) is not None
    if field in ("buyer_name", "seller_name"):
        cjk = sum(1 for c in t if "\u4e00" <= c <= "\u9fff")
        return cjk >= 2 and sum(c.isdigit() for c in t) <= len(t) // 3
    return True


def extract_value(field: str, text: str) -> Optional[Tuple[str, int, int]]:
    """The part of ``text`` that is a value of ``field``: (substring, start, end) in ``text``'s
    offsets, or None. Names and other free text: the text without leading colons or spaces.

    >>> extract_value("total", "（小写）¥23,739.21")
    ('¥23,739.21', 4, 14)
    >>> extract_value("invoice_number", "No56655174")
    ('56655174', 2, 10)
    >>> extract_value("buyer_name", "称：上海市星辰餐饮管理有限公司")   # 名 and 称： read as two boxes
    ('上海市星辰餐饮管理有限公司', 2, 15)
    """
    if not text:
        return None
    s = 0
    while s < len(text) and (text[s] in COLON_CHARS + "：；" or text[s].isspace()):
        s += 1
    e = len(text)
    while e > s and text[e - 1].isspace():
        e -= 1
    body = text[s:e]
    if not body:
        return None
    if field in ("amount", "tax", "total"):
        if field == "total" and is_capitals(body):
            return body, s, e
        found = find_amount(body)
        if found is None:
            return None
        _, a, b = found
        return body[a:b], s + a, s + b
    if field == TOTAL_CAPITAL:
        return (body, s, e) if is_capitals(body) else None
    if field in ("buyer_name", "seller_name"):
        # the tail of a label the recogniser split off its head (名 | 称：XX公司) is no part of the name
        m = re.match(r"([\u4e00-\u9fff]{1,3})\s*[" + re.escape(COLON_CHARS) + r"：]\s*", body)
        if m and m.end() < len(body) and any(w.endswith(m.group(1)) and w != m.group(1) for w in _NAME_WORDINGS):
            return body[m.end():], s + m.end(), e
    if field in ("invoice_code", "invoice_number", "check_code"):
        want = {"invoice_code": (10, 12), "invoice_number": (8, 20), "check_code": (20,)}[field]
        # a whole token: not the digits inside a file name (dzfp_4592136679.pdf) or a longer id
        for m in re.finditer(r"(?<![0-9_])\d[\d ]*\d(?![0-9A-Za-z_]|\.[A-Za-z])", body):
            d = m.group(0).replace(" ", "")
            if len(d) in want:
                return m.group(0), s + m.start(), s + m.end()
        return None
    if field in ("buyer_tax_id", "seller_tax_id"):
        for m in re.finditer(r"[0-9A-Za-z][0-9A-Za-z ]{13,24}[0-9A-Za-z]", body):
            if value_format_ok(field, m.group(0).replace(" ", "")):
                return m.group(0), s + m.start(), s + m.end()
        return None
    if field == "date":
        from .normalize import find_date

        found = find_date(body)
        return (body[found[1]:found[2]], s + found[1], s + found[2]) if found else None
    if field == "tax_rate":
        m = re.search(r"\d{1,2}(?:\.\d{1,2})?\s*[%％]|免税|不征税|出口零税率", body)
        return (m.group(0), s + m.start(), s + m.end()) if m else None
    return body, s, e


_NAME_WORDINGS = tuple(normalize_text(w) for w, t in LABELS if set(t) & {"buyer_name", "seller_name"})


def targets_of(wording: str) -> Tuple[str, ...]:
    """The fields a label wording may carry (``()`` for an unknown wording).

    >>> targets_of("纳税人识别号")
    ('buyer_tax_id', 'seller_tax_id')
    """
    w = _norm_label(wording)
    return next((t for x, t in _LEX if x == w), ())


def all_wordings(fields: Sequence[str]) -> List[str]:
    """The label wordings that may carry one of ``fields``."""
    return [w for w, t in LABELS if set(t) & set(fields)]
