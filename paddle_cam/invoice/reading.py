"""Page-level reading of invoice fields: one value per field, decided the way a reviewer reads a
page, from the printed labels and the layout, not from where lines sit on any one form.

Evidence, in the order it weighs:

- **label**: a label (:mod:`.labels`) and its value: in the same box after the label (the value
  part and its character span are kept), else the nearest box on the same baseline to the right,
  else just below; a value belongs to one label. Letter-spaced labels that the detector split into
  single characters (名 / 称 / ：) are joined first; dot-matrix printing offsets the values from the
  form, so the page's median label-to-value offset is taken out before "same baseline" is judged;
- **block**: 名称 / 纳税人识别号 go to the buyer or the seller by the block header they sit next to
  (购买方 written vertically left of the block on paper invoices, 购买方信息 / 销售方信息 side by side
  on 数电票); without headers the first block in reading order is the buyer's;
- **format**: the value must look like the field (:func:`.labels.value_format_ok`); strongly
  formatted values with no label (a 20-digit check code in groups, capitals) can stand on format;
- **classifier**: the field classifier's probability for the box, when given, adds to every
  candidate and can nominate a box no label reached (its text must still fit the field's format).

Tables: the 合计 row's ¥ values are 金额 then 税额 (a lone one goes by the column header above it);
where OCR lost the 合计 label, two amounts on one row that add up to the 价税合计 read are 金额 and
税额 (**arithmetic**); 税率 is the items' rate when they share one (none when they differ).

>>> from paddle_cam.ocr.pipeline import Box
>>> r = read_fields([Box(0, [[10, 10], [300, 10], [300, 40], [10, 40]], 0.99, "发票号码：12345678", 0.99)])
>>> r.fields["invoice_number"].value, r.fields["invoice_number"].span, r.fields["invoice_number"].evidence
('12345678', (5, 13), ['label', 'format'])
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..geometry import span_polygon  # noqa: F401  (re-exported: the reader's value spans)
from .labels import (BUYER, COLUMN_LABELS, INVOICE_MARKERS, RECEIPT_MARKERS, SELLER, TABLE_HEADER_WORDS,
                     TOTAL_CAPITAL, VAT_MARKERS, LabelMatch, extract_value, find_labels, header_side, value_format_ok)
from .normalize import COLON_CHARS, normalize_field, normalize_text, parse_capitals, parse_rate
from .repair import repair_reading
from .schema import FIELD_CLASSES, GENERATOR_TO_FIELD

READ_FIELDS: Tuple[str, ...] = tuple(f for f in FIELD_CLASSES if f != "other")
PARTY_FIELDS = {"name": ("buyer_name", "seller_name"), "tax_id": ("buyer_tax_id", "seller_tax_id")}
# evidence weights: a label relation outweighs format, block and classifier together
W_LABEL_INLINE, W_LABEL_RIGHT, W_LABEL_BELOW, W_FORMAT, W_BLOCK, W_CLASSIFIER = 0.6, 0.55, 0.45, 0.25, 0.1, 0.2
# receipts (taxi, train): their 金额 / 票价 is what was paid
RECEIPT_TOTAL_LABELS = ("金额", "票价", "实收金额", "应收金额")
RECEIPT_FIELDS = ("invoice_code", "invoice_number", "date", "total")


@dataclass
class FieldValue:
    """One field's reading.

    ``value`` is canonical (:func:`paddle_cam.invoice.normalize.normalize_field`), ``raw`` the
    value part as read, ``span`` its ``[start, end)`` in the box's text, ``label_box_ids`` the
    box(es) of the label it was read after (a split label has several), ``evidence`` what decided
    it (label, format, block, order, column, classifier, capitals)."""

    field: str
    value: Optional[str]
    raw: str
    box_id: int
    span: Tuple[int, int]
    label: Optional[str] = None
    label_box_ids: List[int] = field(default_factory=list)
    block: Optional[str] = None
    score: float = 0.0
    evidence: List[str] = field(default_factory=list)

    @property
    def label_box_id(self) -> Optional[int]:
        return self.label_box_ids[0] if self.label_box_ids else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["span"] = list(self.span)
        d["score"] = round(float(self.score), 4)
        d["label_box_id"] = self.label_box_id
        return d


@dataclass
class PageReading:
    """The fields read off one page.

    ``kind``: ``vat`` (增值税 invoices), ``digital`` (数电票: 20-digit number, no code), ``receipt``
    (taxi, train: some fields, no tax), ``not_invoice`` or ``empty`` (no text); the last two have no
    fields and a flag. ``extras`` holds ``total_capital`` (价税合计 in capitals) for the cross-check."""

    kind: str
    fields: Dict[str, FieldValue] = field(default_factory=dict)
    extras: Dict[str, FieldValue] = field(default_factory=dict)
    flags: List[dict] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def values(self) -> Dict[str, Optional[str]]:
        """field -> canonical value (None when not read) for every field of :data:`READ_FIELDS`."""
        return {f: (self.fields[f].value if f in self.fields else None) for f in READ_FIELDS}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "fields": {k: v.to_dict() for k, v in self.fields.items()},
                "extras": {k: v.to_dict() for k, v in self.extras.items()}, "flags": self.flags, "notes": self.notes}


def expected_fields(reading: PageReading, configured: Sequence[str]) -> List[str]:
    """The configured fields this kind of document carries: 数电票 have no 发票代码 / 校验码; a
    receipt only its number, date and total; non-invoices and empty pages nothing.

    >>> expected_fields(PageReading("digital"), ["invoice_code", "invoice_number", "date"])
    ['invoice_number', 'date']
    """
    if reading.kind in ("empty", "not_invoice"):
        return []
    if reading.kind == "digital":
        return [f for f in configured if f not in ("invoice_code", "check_code")]
    if reading.kind == "receipt":
        return [f for f in configured if f in ("invoice_number", "date", "total")]
    return list(configured)


# ----------------------------------------------------------------------------- geometry

@dataclass
class _Item:
    """A box, or several boxes joined into one letter-spaced label."""

    ids: List[int]                  # indices into the page's boxes
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    labels: List[LabelMatch] = field(default_factory=list)
    prefix_ids: List[int] = field(default_factory=list)   # boxes holding the start of this box's first label

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def w(self) -> float:
        return self.x1 - self.x0


def _bbox(poly) -> Tuple[float, float, float, float]:
    p = np.asarray(poly, np.float64).reshape(-1, 2)
    return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def _short(norm: str) -> bool:
    core = norm.strip(COLON_CHARS)
    return len(core) <= 2 and (not core or all("\u4e00" <= c <= "\u9fff" for c in core))


def _join_split_labels(items: List[_Item], lh: float) -> List[_Item]:
    """Join runs of one- or two-character boxes on one baseline into a label when together they
    spell one (名 / 称 / ： -> 名称：; 合 / 计 -> 合计); the joined boxes become one item."""
    norms = [normalize_text(it.text) for it in items]
    order = sorted(range(len(items)), key=lambda i: items[i].x0)
    used = set()
    out: List[_Item] = []
    for i in order:
        if i in used or not _short(norms[i]) or not norms[i].strip(COLON_CHARS):
            continue
        chain = [i]
        best = None
        while len(chain) < 6:
            last = items[chain[-1]]
            nxt = [j for j in order if j not in used and j not in chain and _short(norms[j])
                   and abs(items[j].cy - last.cy) < 0.5 * max(lh, last.h)
                   and -0.2 * lh <= items[j].x0 - last.x1 < 5 * lh]
            if not nxt:
                break
            chain.append(min(nxt, key=lambda j: items[j].x0))
            joined = "".join(items[k].text for k in chain)
            ms = find_labels(joined)
            if ms and ms[0].start == 0 and len(normalize_text(joined[ms[0].end:]).strip(COLON_CHARS)) == 0:
                best = list(chain)
        if best:
            # a colon box right after the label belongs to it
            for k in best:
                used.add(k)
            text = "".join(items[k].text for k in best)
            out.append(_Item([items[k].ids[0] for k in best], text, min(items[k].x0 for k in best),
                             min(items[k].y0 for k in best), max(items[k].x1 for k in best),
                             max(items[k].y1 for k in best), find_labels(text)))
    # a label cut between a one-character box and the box of its value: 名 | 称：XX公司
    for i in order:
        if i in used or not _short(norms[i]) or not norms[i].strip(COLON_CHARS) or items[i].labels:
            continue
        it = items[i]
        nxt = [j for j in order if j not in used and j != i and abs(items[j].cy - it.cy) < 0.5 * max(lh, it.h)
               and -0.2 * lh <= items[j].x0 - it.x1 < 5 * lh]
        if not nxt:
            continue
        j = min(nxt, key=lambda k: items[k].x0)
        v = items[j]
        ms = find_labels(it.text + v.text)
        n = len(it.text)
        if ms and ms[0].start == 0 and ms[0].end > n and not (v.labels and v.labels[0].start == 0):
            m = ms[0]
            v.labels = [LabelMatch(m.wording, m.targets, 0, m.end - n)] + [x for x in v.labels if x.start >= m.end - n]
            v.prefix_ids = list(it.ids)
            used.add(i)
    rest = [it for k, it in enumerate(items) if k not in used]
    return rest + out


def _vertical_headers(items: List[_Item], lh: float) -> List[Tuple[str, _Item]]:
    """Block headers: a box that reads 购买方 / 销售方信息 / ..., or a column of single characters
    (a vertical header the detector cut per character) that spells one."""
    out = []
    norms = [normalize_text(it.text).strip(COLON_CHARS) for it in items]
    for it, n in zip(items, norms):
        side = header_side(it.text)
        if side and len(n) >= 2:
            out.append((side, it))
    # pieces of a vertical header: one or two characters, or a tall box of a few (售方信 between 销 and 息)
    whole = {id(it) for _, it in out}
    singles = [k for k, n in enumerate(norms) if items[k].w < 2.5 * lh and id(items[k]) not in whole and
               (1 <= len(n) <= 2 or (len(n) <= 6 and items[k].h > 1.5 * items[k].w))]
    singles.sort(key=lambda k: items[k].y0)
    used = set()
    partial: List[_Item] = []
    for k in singles:
        if k in used:
            continue
        chain = [k]
        while True:
            last = items[chain[-1]]
            nxt = [j for j in singles if j not in used and j not in chain and items[j].y0 > last.y0
                   and abs(items[j].cx - last.cx) < 0.6 * max(lh, last.w)
                   and items[j].y0 - last.y1 < 3 * lh]
            if not nxt:
                break
            chain.append(min(nxt, key=lambda j: items[j].y0))
        used.update(chain)
        if len(chain) < 2:
            continue
        joined = "".join(norms[j] for j in chain)
        side = header_side(joined)
        # OCR of vertical characters is poor (买 -> 实, 息 lost): 购/销 on top and 方 or 买/售 below will do
        if side is None and len(joined) <= 6 and joined[0] in "购销" and ("方" in joined or joined[1] in "买售货"):
            side = BUYER if joined[0] == "购" else SELLER
        its = [items[j] for j in chain]
        merged = _Item([i for x in its for i in x.ids], joined, min(x.x0 for x in its), min(x.y0 for x in its),
                       max(x.x1 for x in its), max(x.y1 for x in its))
        if side:
            out.append((side, merged))
        elif set(joined) <= _HEADER_CHARS and set(joined) & set("方信息"):
            partial.append(merged)
    # a header OCR kept only the tail of (方信, 方息): the other party's, beside or below the one read
    sides = {side for side, _ in out}
    if len(sides) == 1 and len(partial) == 1:
        (side,), h = sides, partial[0]
        known = next(it for sd, it in out if sd == side)
        after = h.x0 > known.x1 or h.y0 > known.y1        # reading order: the buyer's block comes first
        if after == (side == BUYER):
            out.append((SELLER if side == BUYER else BUYER, h))
    return out


_HEADER_CHARS = set("购买方销售信息栏货单位")


def _block_of(it: _Item, headers: List[Tuple[str, _Item]], lh: float) -> Optional[str]:
    """The block a line sits in: the nearest header left of it (vertical headers span the
    block's height) or above it (horizontal headers)."""
    best, best_cost = None, None
    for side, h in headers:
        if h.h >= h.w:      # vertical header: the block is to its right, about as tall as it
            if h.cx > it.x0 + 0.5 * lh:
                continue
            dy = max(0.0, h.y0 - it.cy, it.cy - h.y1)
            if dy > max(3 * lh, 0.6 * h.h):
                continue
            cost = (it.x0 - h.x1) / lh + 6 * dy / lh
        else:               # horizontal header (购买方信息 over the block): the block is below it
            if h.cy > it.cy + 0.5 * lh or h.x0 > it.x1:
                continue
            dy = max(0.0, it.y0 - h.y1)
            if dy > 8 * lh:
                continue
            cost = dy / lh + abs(it.x0 - h.x0) / lh * 0.3
        if best_cost is None or cost < best_cost:
            best, best_cost = side, cost
    return best


def _deskew(polys) -> np.ndarray:
    """The rotation that levels the page's text lines (median direction of the long lines'
    top edges), so "same baseline" and "column" hold on skewed scans and photos."""
    angles = []
    for p in polys:
        q = np.asarray(p, np.float64).reshape(-1, 2)
        if len(q) != 4:
            continue
        top = q[1] - q[0]
        h = np.linalg.norm(q[3] - q[0])
        if np.linalg.norm(top) > 3 * max(h, 1e-6):
            angles.append(np.arctan2(top[1], top[0]))
    a = -float(np.median(angles)) if angles else 0.0
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _line_height(items: List[_Item]) -> float:
    hs = [it.h for it in items if it.w > 1.5 * it.h]
    hs = hs or [it.h for it in items]
    return float(np.median(hs)) if hs else 20.0


# ----------------------------------------------------------------------------- candidates

@dataclass
class _Cand:
    field: str
    item: _Item
    span: Tuple[int, int]     # in item.text
    raw: str
    score: float
    evidence: List[str]
    label: Optional[LabelMatch] = None
    label_item: Optional[_Item] = None
    block: Optional[str] = None
    party: Optional[str] = None   # "name" / "tax_id" while buyer vs seller is open


def _segments(it: _Item) -> List[Tuple[LabelMatch, int, int]]:
    """(label, start, end) of the text after each label up to the next label in the same box."""
    out = []
    for k, m in enumerate(it.labels):
        end = it.labels[k + 1].start if k + 1 < len(it.labels) else len(it.text)
        out.append((m, m.end, end))
    return out


def _is_value_box(it: _Item) -> bool:
    return not it.labels


def read_fields(boxes: Sequence, field_probs: Optional[np.ndarray] = None, labels: Optional[Sequence[str]] = None,
                page_size: Optional[Tuple[int, int]] = None, min_classifier_prob: float = 0.5) -> PageReading:
    """Read one value per field off a page's recognised boxes.

    Args:
        boxes: ``paddle_cam.ocr.pipeline.Box`` (``id``, ``polygon``, ``text``); boxes without
            text are ignored.
        field_probs: (n_boxes, n_classes) field-classifier probabilities, or None.
        labels: the classifier's class names (columns of ``field_probs``).
        page_size: (h, w) of the page (not needed by the rules; kept for callers that scale).
        min_classifier_prob: a box the classifier alone nominates needs this probability.

    Returns:
        a :class:`PageReading`; a page without text or that is no invoice gets no fields and a
        flag (``no_text`` / ``not_invoice``), never an exception.
    """
    del page_size
    idx = [i for i, b in enumerate(boxes) if (b.text or "").strip()]
    if not idx:
        return PageReading("empty", flags=[{"kind": "no_text"}])
    rot = _deskew([boxes[i].polygon for i in idx])
    raw_items = [_Item([i], boxes[i].text, *_bbox(np.asarray(boxes[i].polygon, np.float64).reshape(-1, 2) @ rot.T))
                 for i in idx]
    for it in raw_items:
        it.labels = find_labels(it.text)
    lh = _line_height(raw_items)
    items = _join_split_labels(raw_items, lh)
    all_text = "".join(normalize_text(it.text) for it in items)
    wordings = {m.wording for it in items for m in it.labels if not m.is_other}
    if not (any(w in all_text for w in INVOICE_MARKERS) or len(wordings) >= 3):
        return PageReading("not_invoice", flags=[{"kind": "not_invoice", "texts": len(items)}])
    vat = any(w in all_text for w in VAT_MARKERS) and not any(w in all_text for w in RECEIPT_MARKERS)
    headers = _vertical_headers(items, lh)
    probs = _class_probs(field_probs, labels, boxes, idx)
    cands: List[_Cand] = []
    owned = set()   # item positions that a label took as its value

    # table: header row, columns, the 合计 row
    table = _table(items, lh)

    # 1. labels with their value in the same box
    pairs_needed: List[Tuple[_Item, LabelMatch]] = []
    for it in items:
        for m, a, b in _segments(it):
            seg = it.text[a:b]
            if normalize_text(seg).strip(COLON_CHARS + "()"):
                new = [] if m.is_other else _label_cands(it, m, it, a, b, W_LABEL_INLINE, "inline", vat)
                cands += new
                if not new and not m.is_other and m is it.labels[-1]:
                    pairs_needed.append((it, m))   # what follows is a misread rest of the label: look beside
            elif m.wording in COLUMN_LABELS and id(it) in table["headers"]:
                continue
            else:
                pairs_needed.append((it, m))
    # 2. labels whose value is in another box: same baseline to the right, else below
    values = [k for k, it in enumerate(items) if _is_value_box(it)]
    offset = _print_offset(items, pairs_needed, values, lh)
    # the 合计 row first: its values go to 金额 and 税额 by column (or left to right), not to （小写）
    cands += _total_row(items, table, values, offset, lh, owned)
    options = []
    for li, (lit, m) in enumerate(pairs_needed):
        if m.targets == ("amount", "tax"):
            continue
        for k in values:
            if k in owned:
                continue
            v = items[k]
            dy = v.cy - lit.cy - offset
            if v.x0 >= lit.x1 - 0.5 * lh and abs(dy) < 0.9 * max(lh, lit.h, v.h) and v.x0 - lit.x1 < 25 * lh:
                if _label_between(items, lit, v, lh, offset):
                    continue
                options.append(((v.x0 - lit.x1) / lh + 4 * abs(dy) / lh, li, k, "right"))
            elif 0 < v.y0 - lit.y1 + 0.3 * lh < 2.2 * lh and min(v.x1, lit.x1 + 4 * lh) - max(v.x0, lit.x0 - lh) > 0:
                options.append((8 + (v.y0 - lit.y1) / lh + abs(v.x0 - lit.x0) / lh * 0.2, li, k, "below"))
    options.sort(key=lambda o: o[0])
    done_labels, taken = set(), set()
    for cost, li, k, how in options:
        if li in done_labels or k in taken:
            continue
        lit, m = pairs_needed[li]
        v = items[k]
        if m.is_other:
            done_labels.add(li)
            taken.add(k)
            continue
        w = W_LABEL_RIGHT - 0.005 * min(cost, 20) if how == "right" else W_LABEL_BELOW
        new = _label_cands(v, m, lit, 0, len(v.text), w, how, vat)
        if not new:
            continue  # does not look like this label's field: look further along the row or below
        done_labels.add(li)
        taken.add(k)
        cands += new
    owned |= taken
    # 3. 税率: the items' rate when they share one
    rate = _tax_rate(items, table, values, owned, lh) if vat else None
    notes = []
    if isinstance(rate, str):
        notes.append(rate)
    elif rate is not None:
        cands.append(rate)
    # 4. 金额 + 税额 = 价税合计: a pair on one row that adds up to the total (a misread 合计 label)
    cands += _sum_pairs(items, values, owned, cands, lh, offset)
    # 5. format alone, for values no label reached
    for k in values:
        if k in owned:
            continue
        cands += _format_cands(items[k], vat, table)
    # 6. the classifier's nominations
    if probs is not None:
        new = _classifier_cands(items, values, owned, probs, min_classifier_prob)
        # a receipt carries no tax fields and no seller block, whatever a classifier trained on invoices says
        cands += new if vat else [c for c in new if c.field in RECEIPT_FIELDS]
    # block, order and classifier evidence on every candidate
    if notes:   # the items' rates differ: the page has no one 税率
        cands = [c for c in cands if c.field != "tax_rate"]
    for c in cands:
        if c.party is None and c.field not in PARTY_FIELDS["name"] + PARTY_FIELDS["tax_id"]:
            continue
        c.block = _block_of(c.label_item or c.item, headers, lh) if headers else None
        if c.block is None and c.label_item is not None and c.label_item is not c.item:
            c.block = _block_of(c.item, headers, lh) if headers else None
    _resolve_parties(cands, headers)
    if probs is not None:
        for c in cands:
            p = _prob(probs, c.item, "total" if c.field == TOTAL_CAPITAL else c.field)
            if p > 0:
                c.score += W_CLASSIFIER * p
                if p >= min_classifier_prob and "classifier" not in c.evidence:
                    c.evidence.append("classifier")
    if not vat:
        for c in cands:
            if c.field == "amount" and c.label is not None and c.label.wording in RECEIPT_TOTAL_LABELS:
                c.field = "total"
    reading = _select(cands, vat, notes, boxes)
    repair_reading(reading)
    return reading


def _class_probs(field_probs, labels, boxes, idx) -> Optional[Dict[int, Dict[str, float]]]:
    if field_probs is None or labels is None or len(field_probs) != len(boxes):
        return None
    fp = np.asarray(field_probs, np.float64)
    return {i: {lab: float(fp[i, c]) for c, lab in enumerate(labels)} for i in idx}


def _prob(probs, it: _Item, f: str) -> float:
    return max(probs.get(i, {}).get(f, 0.0) for i in it.ids)


def _label_cands(v: _Item, m: LabelMatch, lit: _Item, a: int, b: int, weight: float, how: str,
                 vat: bool) -> List[_Cand]:
    """Candidates for each field label ``m`` may carry, from text ``v.text[a:b]``."""
    out = []
    seg = v.text[a:b]
    targets = list(m.targets)
    if not vat and m.wording in RECEIPT_TOTAL_LABELS:
        targets = ["total"]
    if m.wording == "票价":
        targets = ["total"]
    for f in targets:
        if f in PARTY_FIELDS["name"][1:] + PARTY_FIELDS["tax_id"][1:] and len(targets) > 1:
            continue   # one candidate per place; the block (or the order) makes it buyer's or seller's
        ex = extract_value(f, seg)
        if ex is None:
            continue
        raw, s, e = ex
        if f in ("buyer_name", "seller_name") and not value_format_ok(f, raw):
            continue   # （章） after 销售方： is no name
        ev = ["label", "format"]
        score = weight + (W_FORMAT if "format" in ev else 0.0)
        party = None
        if f in ("buyer_name", "seller_name") and len(targets) > 1:
            party = "name"
        if f in ("buyer_tax_id", "seller_tax_id") and len(targets) > 1:
            party = "tax_id"
        out.append(_Cand(f, v, (a + s, a + e), raw, score, ev, m, lit, party=party))
    if not out and how == "inline" and len(targets) == 1 and targets[0] not in ("other",):
        # the label says which field; the value does not look like it: keep it, weakly, for review
        f = targets[0]
        ex = extract_value("other", seg)
        if ex and f in ("invoice_code", "invoice_number", "check_code", "date", "buyer_tax_id", "seller_tax_id"):
            raw, s, e = ex
            out.append(_Cand(f, v, (a + s, a + e), raw, weight - 0.2, ["label"], m, lit))
    return out


def _label_between(items, lit: _Item, v: _Item, lh: float, offset: float) -> bool:
    """Another label sits on the row between ``lit`` and ``v``: ``v`` is that label's value."""
    del offset
    return any(it is not lit and it is not v and it.labels and abs(it.cy - lit.cy) < 0.7 * lh
               and lit.x1 - 0.2 * lh <= it.x0 < v.x0 for it in items)


def _print_offset(items, pairs_needed, values, lh) -> float:
    """The vertical offset of printed values from the form's labels (dot-matrix misregistration):
    the median over labels of the offset to their nearest value on the right."""
    d = []
    for lit, m in pairs_needed:
        best = None
        for k in values:
            v = items[k]
            dy = v.cy - lit.cy
            if v.x0 >= lit.x1 - 0.5 * lh and abs(dy) < 1.4 * lh and v.x0 - lit.x1 < 8 * lh:
                if best is None or v.x0 < best[0]:
                    best = (v.x0, dy)
        if best is not None:
            d.append(best[1])
    return float(np.median(d)) if len(d) >= 3 else 0.0


def _table(items: List[_Item], lh: float) -> dict:
    """The item table: its header row (金额 / 税率 / 税额 columns, by x), the 合计 row."""
    hdr = []
    for it in items:
        n = normalize_text(it.text).strip(COLON_CHARS)
        if n in TABLE_HEADER_WORDS or n in COLUMN_LABELS:
            hdr.append((n, it))
    row: List[Tuple[str, _Item]] = []
    for n, it in hdr:
        same = [(n2, it2) for n2, it2 in hdr if abs(it2.cy - it.cy) < 1.2 * lh]
        if len(same) > len(row):
            row = same
    headers = {}
    cols = []
    if len(row) >= 2:
        for n, it in row:
            headers[id(it)] = n
            cols.append((COLUMN_LABELS.get(n, "other"), it))
    top = max((it.y1 for _, it in row), default=None)
    sums = [it for it in items for m in it.labels if m.targets == ("amount", "tax")]
    sum_item = min(sums, key=lambda it: it.y0) if sums else None
    bottom = None
    if sum_item is not None:
        bottom = sum_item.y0
    else:
        tot = [it for it in items for m in it.labels if TOTAL_CAPITAL in m.targets]
        bottom = min((it.y0 for it in tot), default=None)

    def col_of(it: _Item) -> Optional[str]:
        if not cols:
            return None
        f, h = min(cols, key=lambda c: abs(c[1].cx - it.cx) if c[1].x0 - lh <= it.x1 else 1e9 + abs(c[1].cx - it.cx))
        return f

    def in_items(it: _Item) -> bool:
        if top is not None and it.cy < top:
            return False
        if bottom is not None and it.cy > bottom - 0.3 * lh:
            return False
        return top is not None or bottom is not None

    return {"headers": headers, "col_of": col_of, "cols": cols, "top": top, "bottom": bottom,
            "sum_item": sum_item, "in_items": in_items}


def _total_row(items, table, values, offset, lh, owned) -> List[_Cand]:
    """金额 and 税额 of the 合计 row: its money values, by the column above each (else left to right)."""
    out = []
    for lit in items:
        ms = [m for m in lit.labels if m.targets == ("amount", "tax")]
        if not ms:
            continue
        m = ms[0]
        found = []
        # values in the same box after 合计
        for mm, a, b in _segments(lit):
            if mm is m:
                seg = lit.text[a:b]
                for x in re.finditer(r"[¥￥Y]?\s*-?[\d,]+\.\d{2}|[¥￥]\s*-?[\d,]+", seg):
                    found.append((lit.x0 + (lit.w * (a + x.start()) / max(1, len(lit.text))), lit, a + x.start(),
                                  a + x.end()))
        for k in values:
            v = items[k]
            if k in owned or v.x0 < lit.x1 - 0.5 * lh:
                continue
            if abs(v.cy - lit.cy - offset) < 1.0 * max(lh, lit.h, v.h):
                ex = extract_value("amount", v.text)
                if ex is not None:
                    found.append((v.x0, v, ex[1], ex[2]))
        found.sort(key=lambda f: f[0])
        if not found:
            continue
        # left to right the row holds 金额 then 税额 on every form; the columns only decide a lone value
        # (values are right-aligned and misregistered, so the nearest header can be the wrong one)
        assigned = {}
        marked = [f for f in found if re.search(r"[¥￥Y]", f[1].text[f[2]:f[3]])]
        found = marked or found   # the 合计 row prints ¥; item values spilling onto its line do not
        if len(found) >= 2:
            for f, (x, v, a, b) in zip(("amount", "tax"), found[:2]):
                assigned[f] = (v, a, b, ["label", "format"])
        else:
            x, v, a, b = found[0]
            heads = [(f, h) for f, h in table["cols"] if f in ("amount", "tax")]
            f = min(heads, key=lambda c: abs(c[1].x1 - v.x1))[0] if heads and v is not lit else "amount"
            assigned[f] = (v, a, b, ["label", "format"] + (["column"] if heads and v is not lit else []))
        for f, (v, a, b, ev) in assigned.items():
            out.append(_Cand(f, v, (a, b), v.text[a:b], W_LABEL_RIGHT + W_FORMAT, ev, m, lit))
        for x, v, a, b in found:
            if v is not lit:
                owned.add(items.index(v))
    if not any(c.field == "amount" for c in out) and table["cols"]:
        # no 合计 row: a single item's 金额 / 税额 under their column headers
        for f in ("amount", "tax"):
            col = [items[k] for k in values if k not in owned and table["in_items"](items[k])
                   and table["col_of"](items[k]) == f and extract_value(f, items[k].text)]
            if len(col) == 1:
                v = col[0]
                raw, a, b = extract_value(f, v.text)
                out.append(_Cand(f, v, (a, b), raw, W_LABEL_BELOW + W_FORMAT, ["column", "format"]))
    return out


def _tax_rate(items, table, values, owned, lh):
    """A candidate for 税率 when the items share one rate; a note when they do not; None."""
    rates = []
    for k in values:
        v = items[k]
        if k in owned:
            continue
        ex = extract_value("tax_rate", v.text)
        if ex is None or len(normalize_text(v.text)) > len(normalize_text(ex[0])) + 1:
            continue
        if any(f == "tax_rate" for f, _ in table["cols"]):
            if table["col_of"](v) != "tax_rate" or not table["in_items"](v):
                continue
        elif not table["in_items"](v):   # no table found: a % elsewhere (a viewer's zoom) is no rate
            continue
        rates.append((v, ex))
    if not rates:
        return None
    vals = {parse_rate(ex[0]) for _, ex in rates}
    if len(vals) > 1:
        return "items have different tax rates: " + ", ".join(sorted(v for v in vals if v))
    v, (raw, a, b) = min(rates, key=lambda r: r[0].y0)
    by_col = any(f == "tax_rate" for f, _ in table["cols"])
    return _Cand("tax_rate", v, (a, b), raw, (W_LABEL_BELOW if by_col else 0.0) + W_FORMAT,
                 ["column", "format"] if by_col else ["format"])


def _sum_pairs(items, values, owned, cands, lh, offset) -> List[_Cand]:
    """金额 and 税额 as the two amounts on one row (金额 left) whose sum is the total read after
    价税合计 / （小写）: arithmetic stands in for a 合计 label OCR lost."""
    from decimal import Decimal

    totals = set()
    for c in cands:
        if c.field in ("total", TOTAL_CAPITAL) and c.label is not None:
            v = normalize_field("total", c.raw)
            if v is not None:
                totals.add(Decimal(v))
    if not totals:
        return []
    money = []
    for k in values:
        if k in owned:
            continue
        ex = extract_value("amount", items[k].text)
        if ex is not None:
            v = normalize_field("amount", ex[0])
            if v is not None:
                money.append((items[k], Decimal(v), ex))
    out = []
    for p, pv, pex in money:
        for q, qv, qex in money:
            if q is p or q.x0 <= p.x1 or abs(q.cy - p.cy) > 0.9 * max(lh, p.h, q.h) or not (0 <= qv < pv):
                continue
            if pv + qv in totals:
                out.append(_Cand("amount", p, (pex[1], pex[2]), pex[0], W_LABEL_BELOW + W_FORMAT,
                                 ["arithmetic", "format"]))
                out.append(_Cand("tax", q, (qex[1], qex[2]), qex[0], W_LABEL_BELOW + W_FORMAT,
                                 ["arithmetic", "format"]))
    return out


_TAX_ID_LABEL_CHARS = set("纳税人识别号统一社会信用代码")
_GROUPED20 = re.compile(r"^\d{5}\s+\d{5}\s+\d{5}\s+\d{5}$")


def _format_cands(v: _Item, vat: bool, table) -> List[_Cand]:
    """Values no label reached that only one field's format fits."""
    out = []
    t = v.text.strip()
    n = normalize_text(t)

    def add(f, ev=("format",), w=W_FORMAT):
        ex = extract_value(f, t)
        if ex:
            out.append(_Cand(f, v, (ex[1], ex[2]), ex[0], w, list(ev)))

    if parse_capitals(n.strip("⊗ⓧ×()")) is not None:
        add(TOTAL_CAPITAL)
    if _GROUPED20.match(t):
        add("check_code")
    if re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", n):
        add("date")
    if vat and re.fullmatch(r"\d{10}|\d{12}", n):
        add("invoice_code", w=W_FORMAT - 0.1)
    m = re.fullmatch(r"(.{2,20}?)[:：]?([0-9A-Z]{15,20})", n)
    if vat and m and sum(c in _TAX_ID_LABEL_CHARS for c in m.group(1)) >= 2:
        # a tax id after a label OCR garbled (一社会代品#人91110105…): the label's characters are there
        ex = extract_value("buyer_tax_id", t)
        if ex:
            fuzzy = LabelMatch(m.group(1), ("buyer_tax_id", "seller_tax_id"), 0, ex[1])
            out.append(_Cand("buyer_tax_id", v, (ex[1], ex[2]), ex[0], W_LABEL_BELOW, ["label", "format"], fuzzy, v,
                             party="tax_id"))
    elif vat and re.fullmatch(r"[0-9A-Z]{18}", n):
        from .crosscheck import valid_uscc

        if valid_uscc(n):
            out.append(_Cand("buyer_tax_id", v, (0, len(t)), t, W_FORMAT - 0.1, ["format"], party="tax_id"))
    return out


def _classifier_cands(items, values, owned, probs, min_p) -> List[_Cand]:
    out = []
    for k in values:
        if k in owned:
            continue
        v = items[k]
        for f in READ_FIELDS:
            p = _prob(probs, v, f)
            if p < min_p:
                continue
            ex = extract_value(f, v.text)
            if ex is None or not value_format_ok(f, ex[0]):
                continue
            out.append(_Cand(f, v, (ex[1], ex[2]), ex[0], 0.0, ["classifier", "format"]))
    return out


def _order_key(c: _Cand):
    it = c.label_item or c.item
    return it.cy, it.x0


def _resolve_parties(cands: List[_Cand], headers) -> None:
    """名称 / 纳税人识别号 with no buyer or seller in their label: the block decides; without one
    the reading order does (the buyer's block comes first: above, or left on the same row)."""
    for kind, (bf, sf) in PARTY_FIELDS.items():
        open_ = [c for c in cands if c.party == kind]
        for c in open_:
            if c.block in (BUYER, SELLER):
                c.field = bf if c.block == BUYER else sf
                c.score += W_BLOCK
                c.evidence.append("block")
                c.party = None
        for c in open_:
            if c.party == kind and c.label is None:
                c.field, c.party = "other", None   # an id-like line with neither label nor block: no party's
        rest = [c for c in open_ if c.party == kind]
        if not rest:
            continue
        # distinct places in reading order; rows first, then left to right on one row
        rest.sort(key=_order_key)
        lh = np.median([c.item.h for c in rest]) if rest else 20
        ordered: List[_Cand] = []
        for c in rest:
            if ordered and abs(_order_key(c)[0] - _order_key(ordered[-1])[0]) < lh and \
                    _order_key(c)[1] < _order_key(ordered[-1])[1]:
                ordered.insert(len(ordered) - 1, c)
            else:
                ordered.append(c)
        explicit = {c.field for c in cands if c.field in (bf, sf) and c.party is None and "label" in c.evidence}
        free = [f for f in (bf, sf) if f not in explicit] or [bf, sf]
        for c, f in zip(ordered, free + [sf] * len(ordered)):
            c.field = f
            c.evidence.append("order")
            c.party = None


def _select(cands: List[_Cand], vat: bool, notes: List[str], boxes) -> PageReading:
    """Highest score per field; one piece of text serves one field."""
    cands = sorted(cands, key=lambda c: -c.score)
    used: List[Tuple[int, Tuple[int, int], str]] = []
    chosen: Dict[str, _Cand] = {}
    for c in cands:
        if c.field in chosen or c.field == "other":
            continue
        if any(id(c.item) == i and c.span[0] < s[1] and s[0] < c.span[1] and f != c.field
               and {f, c.field} != {"total", TOTAL_CAPITAL} for i, s, f in used):
            continue
        chosen[c.field] = c
        used.append((id(c.item), c.span, c.field))
    reading = PageReading("vat" if vat else "receipt", notes=notes)
    for f, c in chosen.items():
        fv = FieldValue(f, normalize_field("total" if f == TOTAL_CAPITAL else f, c.raw), c.raw,
                        boxes[c.item.ids[0]].id, c.span, c.label.wording if c.label else None,
                        [] if c.label_item is None else [boxes[i].id for i in c.label_item.prefix_ids + c.label_item.ids], c.block, round(c.score, 4),
                        list(dict.fromkeys(c.evidence)))
        (reading.extras if f == TOTAL_CAPITAL else reading.fields)[f] = fv
    if "total" not in reading.fields and TOTAL_CAPITAL in reading.extras:
        cap = reading.extras[TOTAL_CAPITAL]
        reading.fields["total"] = FieldValue("total", cap.value, cap.raw, cap.box_id, cap.span, cap.label,
                                             cap.label_box_ids, cap.block, cap.score, cap.evidence + ["capitals"])
    num = reading.fields.get("invoice_number")
    if vat and num is not None and num.value and len(num.value) == 20 and "invoice_code" not in reading.fields:
        reading.kind = "digital"
    return reading


# ----------------------------------------------------------------------------- ground truth

def page_truth(gt: dict) -> Dict[str, str]:
    """The true page-level value of each field from the generator's ground truth, canonical
    (:func:`paddle_cam.invoice.normalize.normalize_field`); fields the page does not carry are absent.

    amount is the 合计 amount (``amount_total``, else the single item's amount), tax the
    ``tax_total`` (else the single item's), total the （小写） figures (else the capitals), tax_rate
    the items' rate when they share one; the rest is the first value line of the field (a
    ``value_span`` cuts the value out of a line that also holds its label).

    >>> page_truth({"lines": [{"field": "item_tax_rate", "role": "value", "text": "13%"},
    ...                       {"field": "total_figures", "role": "value", "text": "（小写）¥1,130.00", "value_span": [4, 13]}]})
    {'total': '1130.00', 'tax_rate': '13%'}
    """
    by: Dict[str, List[str]] = {}
    for ln in gt.get("lines", []):
        if ln.get("role") != "value":
            continue
        t = ln.get("text") or ""
        sp = ln.get("value_span")
        if sp:
            t = t[int(sp[0]):int(sp[1])]
        by.setdefault(ln.get("field", ""), []).append(t)
    out: Dict[str, str] = {}

    def put(f, texts):
        for t in texts:
            v = normalize_field(f, t)
            if v is not None:
                out[f] = v
                return

    for g in ("invoice_code", "invoice_number", "date", "check_code", "buyer_name", "buyer_tax_id", "seller_name",
              "seller_tax_id"):
        if GENERATOR_TO_FIELD.get(g) == g and by.get(g):
            put(g, by[g])
    put("amount", by.get("amount_total") or (by["item_amount"] if len(by.get("item_amount", [])) == 1 else []))
    put("tax", by.get("tax_total") or (by["item_tax"] if len(by.get("item_tax", [])) == 1 else []))
    put("total", by.get("total_figures") or by.get("total_capital") or [])
    rates = {parse_rate(t) for t in by.get("item_tax_rate", [])}
    if len(rates) == 1 and None not in rates:
        out["tax_rate"] = rates.pop()
    return out


def score_reading(reading: PageReading, truth: Dict[str, str]) -> Dict[str, dict]:
    """Per field: the truth, the reading and whether they agree. A field counts where the page
    carries it or where something was read (reading a tax id off a taxi receipt is an error).

    >>> score_reading(PageReading("vat"), {"date": "2024-01-11"})["date"]
    {'truth': '2024-01-11', 'read': None, 'correct': False}
    """
    out = {}
    vals = reading.values()
    for f in READ_FIELDS:
        t, r = truth.get(f), vals.get(f)
        if t is None and r is None:
            continue
        out[f] = {"truth": t, "read": r, "correct": t is not None and t == r}
    return out
