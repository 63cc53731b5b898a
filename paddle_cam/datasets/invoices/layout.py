"""The form and what the printer put on it: fonts, the page's ink layers with their ground-truth
lines, and the drawing of the pre-printed grid, labels and printed values of one invoice.

Positions are in form millimetres (the 240 x 140 mm form; a continuous sheet adds its pin-feed strips
on both sides); the pre-printed form sits offset on the sheet and the printer is misregistered
against the form (:class:`PrintStyle`), so values drift across grid lines as on real invoices.
Labels are worded, spaced and coloned per page (:class:`.labels.LabelStyle`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .content import KINDS, amount_to_capital, format_figures
from .wording import LabelStyle, gt_label

PAGE_MM = (240.0, 140.0)
ROLES = ("label", "value", "title", "other")
FIELDS = (
    "title", "invoice_code", "invoice_number", "date", "check_code",
    "buyer_name", "buyer_tax_id", "buyer_address", "buyer_bank",
    "seller_name", "seller_tax_id", "seller_address", "seller_bank",
    "item_name", "item_spec", "item_unit", "item_qty", "item_price", "item_amount", "item_tax_rate", "item_tax",
    "amount_total", "tax_total", "total_capital", "total_figures", "password", "remarks",
    "payee", "reviewer", "drawer", "stamp", "other",
)
ITEM_PITCH = 4.8  # mm between item rows


@functools.lru_cache(maxsize=512)
def load_font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    """Face ``index`` of a font file at ``px`` pixels (6 at least), cached."""
    return ImageFont.truetype(path, max(6, int(px)), index=index)


class Page:
    """Ink layers (L masks) in page pixels, positions in mm, and the ground-truth lines drawn so far.

    ``faces`` maps the roles ``label``, ``title``, ``value``, ``mono`` and ``stamp`` to (path, index);
    ``mm_w`` is the sheet width in mm (the page is ``w`` px wide).
    """

    def __init__(self, w: int, h: int, faces: Dict[str, Tuple[str, int]], mm_w: float = PAGE_MM[0]):
        self.w, self.h, self.s = w, h, w / mm_w
        self.faces = faces
        self.layers = {k: Image.new("L", (w, h), 0) for k in ("form", "value", "holes")}
        self.draws = {k: ImageDraw.Draw(v) for k, v in self.layers.items()}
        self.lines: List[dict] = []

    def px(self, mm: float) -> float:
        return mm * self.s

    def font(self, face: str, size_mm: float) -> ImageFont.FreeTypeFont:
        return load_font(*self.faces[face], int(round(size_mm * self.s)))

    def add(self, poly, text: str, field: str, role: str) -> None:
        assert field in FIELDS and role in ROLES, (field, role)
        self.lines.append({"id": len(self.lines), "polygon": np.asarray(poly, np.float64).reshape(4, 2),
                           "text": text, "field": field, "role": role})

    def text(self, layer: str, x: float, y: float, s: str, size: float, field: str, role: str, *,
             face: str = "label", align: str = "l", track: float = 0.0, fill: int = 255, stroke: int = 0,
             max_w: Optional[float] = None) -> Tuple[float, float, float, float]:
        """Draw ``s`` with its vertical middle at ``y`` mm; ``track`` adds em-spacing between characters.

        ``max_w`` (mm) shrinks the font like the invoicing software does for over-long values.
        The recorded polygon is the union of Pillow's glyph boxes at the rounded draw positions; the
        recorded text of labels and titles drops letter-spacing blanks (:func:`.labels.gt_label`).
        """
        font = self.font(face, size)
        if max_w is not None:
            natural = font.getlength(s) + track * font.size * max(0, len(s) - 1)
            if natural > self.px(max_w):
                font = load_font(*self.faces[face], max(6, int(font.size * self.px(max_w) / natural)))
        em = font.size
        adv = [font.getlength(c) + track * em for c in s] if track else [font.getlength(s)]
        total = sum(adv) - (track * em if track else 0)
        x0 = self.px(x) - total * {"l": 0.0, "c": 0.5, "r": 1.0}[align]
        Y = int(round(self.px(y)))
        draw = self.draws[layer]
        pieces = list(s) if track else [s]
        boxes = []
        cx = x0
        for piece, a in zip(pieces, adv):
            if piece.strip():
                X = int(round(cx))
                draw.text((X, Y), piece, font=font, fill=fill, anchor="lm", stroke_width=stroke, stroke_fill=fill)
                l, t, r, b = font.getbbox(piece, anchor="lm", stroke_width=stroke)
                boxes.append((X + l, Y + t, X + r, Y + b))
            cx += a
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        l, t, r, b = box
        text = gt_label(s) if role in ("label", "title") else (s.replace(" ", "") if track else s)
        self.add([[l, t], [r, t], [r, b], [l, b]], text, field, role)
        return box

    def vtext(self, layer: str, x: float, y0: float, y1: float, s: str, size: float, field: str, role: str,
              fill: int = 255) -> None:
        """Characters stacked top to bottom, centred on ``x`` and spread evenly between ``y0`` and ``y1``."""
        font = self.font("label", size)
        n = len(s)
        boxes = []
        for i, ch in enumerate(s):
            yc = y0 + (y1 - y0) * (i + 0.5) / n
            X, Y = int(round(self.px(x))), int(round(self.px(yc)))
            self.draws[layer].text((X, Y), ch, font=font, fill=fill, anchor="mm")
            l, t, r, b = font.getbbox(ch, anchor="mm")
            boxes.append((X + l, Y + t, X + r, Y + b))
        l, t = min(b[0] for b in boxes), min(b[1] for b in boxes)
        r, b = max(b[2] for b in boxes), max(b[3] for b in boxes)
        self.add([[l, t], [r, t], [r, b], [l, b]], s, field, role)

    def line(self, layer: str, x0: float, y0: float, x1: float, y1: float, width: int, fill: int = 255) -> None:
        self.draws[layer].line([(self.px(x0), self.px(y0)), (self.px(x1), self.px(y1))], fill=fill, width=width)


def draw_qr(page: Page, x: float, y: float, size: float, rng: np.random.RandomState) -> None:
    """A QR-looking block (version 2 layout, random modules): dark, dense, and not text."""
    n = 25
    m = rng.rand(n, n) < 0.5
    for fy, fx in ((0, 0), (0, n - 7), (n - 7, 0)):
        m[max(fy - 1, 0):fy + 8, max(fx - 1, 0):fx + 8] = False
        m[fy:fy + 7, fx:fx + 7] = True
        m[fy + 1:fy + 6, fx + 1:fx + 6] = False
        m[fy + 2:fy + 5, fx + 2:fx + 5] = True
    m[6, 8:n - 8] = np.arange(8, n - 8) % 2 == 0
    m[8:n - 8, 6] = np.arange(8, n - 8) % 2 == 0
    cell = page.px(size) / n
    X0, Y0 = page.px(x), page.px(y)
    d = page.draws["value"]
    for r, c in zip(*np.nonzero(m)):
        d.rectangle([X0 + c * cell, Y0 + r * cell, X0 + (c + 1) * cell - 1, Y0 + (r + 1) * cell - 1], fill=255)


# ----------------------------------------------------------------------------- form geometry


@dataclass(frozen=True)
class PrintStyle:
    """How this copy of the form was printed and filled in (mm; line widths in page px)."""

    form_dx: float       # offset of the pre-printed form on the sheet
    form_dy: float
    printer_dx: float    # misregistration of the printed values against the form
    printer_dy: float
    label_mm: float      # form label size
    value_mm: float      # printed value size
    thin: int            # grid line widths
    thick: int

    @classmethod
    def sample(cls, page: Page, rng: np.random.RandomState) -> "PrintStyle":
        form_dx, form_dy = rng.uniform(-2.5, 2.5), rng.uniform(-1.5, 1.5)
        # the printer never registers exactly with the pre-printed form; dot-matrix values often sit
        # half a row off and run into the rules
        printer_dx, printer_dy = rng.uniform(-2.0, 4.0), rng.uniform(-1.3, 1.8) * rng.choice((1.0, 1.6))
        label_mm = rng.uniform(2.6, 3.1)
        value_mm = label_mm * rng.uniform(1.0, 1.15)
        thin = max(1, int(round(page.px(rng.uniform(0.12, 0.2)))))
        thick = thin + int(rng.randint(1, 3))
        return cls(form_dx, form_dy, printer_dx, printer_dy, label_mm, value_mm, thin, thick)


@dataclass(frozen=True)
class FormGrid:
    """The form's rules in form mm: the outer frame, the rows of its blocks and the item columns."""

    left: float
    right: float
    top: float             # top of the frame = top of the buyer block
    row_h: float           # one row of the buyer / seller blocks
    buyer_bottom: float
    header_bottom: float   # bottom of the item column headers
    items_bottom: float    # bottom of the item rows (the 合计 row included)
    total_bottom: float    # bottom of the 价税合计 row = top of the seller block
    seller_bottom: float
    label_col: float       # right edge of the 购买方 / 销售方 column
    side_col: float        # left edge of the 密码区 / 备注 label column
    side_text: float       # right edge of that column: the 密码 / remarks start here
    cols: Tuple[float, ...]  # item column edges, from left to right

    @classmethod
    def sample(cls, rng: np.random.RandomState) -> "FormGrid":
        left, right = 12.0 + rng.uniform(-1, 1), 228.0 + rng.uniform(-1, 1)
        top = 36.0 + rng.uniform(-0.8, 0.8)
        row_h = rng.uniform(5.2, 5.6)
        buyer_bottom = top + 4 * row_h
        header_bottom = buyer_bottom + rng.uniform(5.0, 5.8)
        items_bottom = header_bottom + 6.1 * ITEM_PITCH
        total_bottom = items_bottom + rng.uniform(6.5, 7.5)
        seller_bottom = total_bottom + 4 * row_h
        label_col = left + rng.uniform(5.5, 6.5)
        side_col = left + rng.uniform(110, 124)
        side_text = side_col + rng.uniform(5.5, 6.5)
        # column widths differ between printings of the form; the 税额 column keeps at least 26 mm
        widths = np.array([52, 26, 12, 20, 28, 32, 12], float) * rng.uniform(0.82, 1.2, 7)
        widths *= min(1.0, (right - left - 26.0) / widths.sum())
        cols = tuple([left] + list(left + np.cumsum(widths)) + [right])
        return cls(left, right, top, row_h, buyer_bottom, header_bottom, items_bottom, total_bottom, seller_bottom,
                   label_col, side_col, side_text, cols)


class FormWriter:
    """Draws the form's labels and rules and the printer's values on a page, in form mm.

    ``sheet_dx``: where the form starts on the sheet (the width of a pin-feed strip, or 0);
    ``pairs`` collects (label id, value id) of labels with their value right after them.
    """

    def __init__(self, page: Page, style: PrintStyle, grid: FormGrid, rng: np.random.RandomState,
                 labels: Optional[LabelStyle] = None, sheet_dx: float = 0.0, show_check: bool = True):
        self.page, self.grid, self.rng = page, grid, rng
        self.style = PrintStyle(**{**style.__dict__, "form_dx": style.form_dx + sheet_dx})
        self.labels = labels or LabelStyle("：", "spread", (), 0.0)
        self.show_check = show_check
        self.pairs: List[Tuple[int, int]] = []
        # some printers strike every value twice (bold); labels of some form printings are bold too
        self.value_stroke = int(rng.rand() < 0.15)
        self.label_stroke = int(rng.rand() < 0.1)

    def on_form(self, x: float, y: float) -> Tuple[float, float]:
        """Sheet position of a point of the pre-printed form."""
        return x + self.style.form_dx, y + self.style.form_dy

    def printed(self, x: float, y: float) -> Tuple[float, float]:
        """Sheet position of a point the printer aimed at on the form."""
        st = self.style
        return x + st.form_dx + st.printer_dx, y + st.form_dy + st.printer_dy

    def after(self, label_box: Tuple[float, float, float, float]) -> float:
        """Form x of a value printed right after a drawn label (page-px box)."""
        st = self.style
        return label_box[2] / self.page.s + 1.0 - st.form_dx + max(0.0, -st.printer_dx)

    def label(self, x: float, y: float, s: str, field: str, role: str = "label", **kw):
        """A pre-printed label (``Page.text`` options in ``kw``); returns its page-px box."""
        kw.setdefault("size", self.style.label_mm)
        kw.setdefault("stroke", self.label_stroke)
        return self.page.text("form", *self.on_form(x, y), s, kw.pop("size"), field, role, **kw)

    def value(self, x: float, y: float, s: str, field: str, size: Optional[float] = None, **kw):
        """A printed value with a faded ribbon; nothing (and None) for an empty string."""
        if not s:
            return None
        fill = int(255 * self.rng.uniform(0.72, 1.0))
        kw.setdefault("face", "value")
        kw.setdefault("stroke", self.value_stroke)
        return self.page.text("value", *self.printed(x, y), s, size or self.style.value_mm, field, "value",
                              fill=fill, **kw)

    def labelled(self, x: float, y: float, label: str, value: str, field: str, value_x: Optional[float] = None,
                 label_kw: Optional[dict] = None, **value_kw):
        """A label and its value on one row (the value right after the label unless ``value_x``);
        records the pair for :func:`.labels.merge_pairs`. Returns the value's box (or None)."""
        lbox = self.label(x, y, label, field, **(label_kw or {}))
        lid = len(self.page.lines) - 1
        box = self.value(self.after(lbox) if value_x is None else value_x, y, value, field, **value_kw)
        if box is not None:
            self.pairs.append((lid, len(self.page.lines) - 1))
        return box

    def hline(self, y: float, width: Optional[int] = None) -> None:
        """A rule across the whole frame."""
        g = self.grid
        self.page.line("form", *self.on_form(g.left, y), *self.on_form(g.right, y), width or self.style.thin)

    def vline(self, x: float, y0: float, y1: float, width: Optional[int] = None) -> None:
        self.page.line("form", *self.on_form(x, y0), *self.on_form(x, y1), width or self.style.thin)


# ----------------------------------------------------------------------------- the blocks of the form


def draw_header(w: FormWriter, c: dict) -> None:
    """QR code, the codes and number, machine number, title with its double rule, copy name, and
    the 发票代码 / 发票号码 / 开票日期 / 校验码 block."""
    page, st, rng = w.page, w.style, w.rng
    lab, val, left = st.label_mm, st.value_mm, w.grid.left
    has_qr = rng.rand() < 0.85
    if has_qr:
        draw_qr(page, *w.printed(left + 2, 6.5), rng.uniform(17, 20), rng)
    L = w.labels
    w.value(left + (25 if has_qr else 3), 10.5, c["code"], "invoice_code", size=val * 1.35, face="mono")
    w.labelled(left + 2, 30.5, L.text("机器编号"), c["machine"], "other", label_kw={"size": lab * 0.95},
               face="mono")
    title_size = rng.uniform(6.3, 7.4)
    title = w.label(120, 12.5, c["title"], "title", role="title", size=title_size, align="c", face="title",
                    track=rng.uniform(0.2, 0.45), stroke=int(rng.rand() < 0.5))
    rule_l, rule_r, title_bottom = title[0] / page.s - 2, title[2] / page.s + 2, title[3] / page.s
    for dy in (1.3, 2.1):
        page.line("form", rule_l, title_bottom + dy, rule_r, title_bottom + dy, st.thin)
    w.label(120, title_bottom + 5.5, c["copy"], "other", role="other", size=lab * 1.25, align="c", track=1.0)
    w.labelled(172, 10.5, "No", c["number"], "invoice_number", value_x=172 + lab * 1.4 * 1.2 + 1.5,
               label_kw={"size": lab * 1.4}, size=val * 1.5, face="mono")
    label_x = 170 + rng.uniform(-1, 1)
    value_x = label_x + 5 * lab + 1.6
    rows = [("发票代码", c["code"], "invoice_code"), ("发票号码", c["number"], "invoice_number"),
            ("开票日期", c["date"], "date")]
    if w.show_check:
        rows.append(("校验码", c["check"], "check_code"))
    for k, (text, value, field) in enumerate(rows):
        y = 17.0 + 4.4 * k
        text = L.text(text)
        track = (5 - len(gt_label(text))) / max(1, len(gt_label(text)) - 1) if L.spacing == "spread" else 0.0
        w.labelled(label_x, y, text, value, field, value_x=value_x, label_kw={"track": max(0.0, track)},
                   face="mono" if field in ("invoice_code", "invoice_number", "check_code") else "value",
                   size=val * 0.95, max_w=w.grid.right - value_x - 0.5)


def draw_rules(w: FormWriter) -> None:
    """The frame, the block rows and the column rules."""
    g, thick = w.grid, w.style.thick
    for y in (g.buyer_bottom, g.header_bottom, g.items_bottom, g.total_bottom):
        w.hline(y)
    w.hline(g.top, thick)
    w.hline(g.seller_bottom, thick)
    w.vline(g.left, g.top, g.seller_bottom, thick)
    w.vline(g.right, g.top, g.seller_bottom, thick)
    for y0, y1 in ((g.top, g.buyer_bottom), (g.total_bottom, g.seller_bottom)):
        w.vline(g.label_col, y0, y1)
        w.vline(g.side_col, y0, y1)
        w.vline(g.side_text, y0, y1)
    for x in g.cols[1:-1]:
        w.vline(x, g.buyer_bottom, g.items_bottom)
    w.vline(g.cols[1], g.items_bottom, g.total_bottom)


def draw_parties(w: FormWriter, c: dict) -> None:
    """Buyer and seller blocks: side labels and four label / value rows each."""
    page, st, g = w.page, w.style, w.grid
    lab = st.label_mm
    label_w = 7 * lab  # every label is spread to the width of 纳税人识别号：
    blocks = (("buyer", g.top, "购买方", "密码区", "password"), ("seller", g.total_bottom, "销售方", "备注", "remarks"))
    for who, y0, side_label, right_label, right_field in blocks:
        inset = 1.5 + (3 - len(right_label)) * 2  # 备注 has two characters but the same cell height
        top, bottom = y0 + st.form_dy, y0 + st.form_dy + 4 * g.row_h
        page.vtext("form", (g.left + g.label_col) / 2 + st.form_dx, top + 1.2, bottom - 1.2, side_label,
                   lab * 1.05, "other", "label")
        page.vtext("form", (g.side_col + g.side_text) / 2 + st.form_dx, top + inset, bottom - inset, right_label,
                   lab * 1.05, right_field, "label")
        party = c[who]
        rows = (("名称", "name"), ("纳税人识别号", "tax_id"), ("地址、电话", "address"), ("开户行及账号", "bank"))
        for k, (base, key) in enumerate(rows):
            y = y0 + g.row_h * (k + 0.5)
            text = w.labels.text(base)
            n = len(text)
            track = max(0.0, (label_w / lab - n) / max(1, n - 1)) if w.labels.spacing == "spread" else 0.0
            # a long wording (统一社会信用代码/纳税人识别号) is set smaller and pushes its value right
            long = len(text) > 8
            value_x = g.label_col + 2.2 + label_w * (1.5 if long else 1.0)
            w.labelled(g.label_col + 1.2, y, text, party[key], f"{who}_{key}", value_x=value_x,
                       label_kw={"track": track, "max_w": label_w * (1.5 if long else 1.0)},
                       face="mono" if key == "tax_id" else "value",
                       max_w=g.side_col - value_x - 1.3 - st.printer_dx)


def draw_password_and_remarks(w: FormWriter, c: dict) -> None:
    """密码区: big monospaced characters filling the box; 备注: the remark lines."""
    page, st, g = w.page, w.style, w.grid
    pw_w = (g.right - g.side_text - 3.0 - max(0.0, st.printer_dx)) * w.rng.uniform(0.86, 0.97)
    mono = load_font(*page.faces["mono"], 100)
    pw_size = min(pw_w / (mono.getlength(c["password"][0]) / 100), g.row_h * 0.95)
    for k, s in enumerate(c["password"]):
        w.value(g.side_text + 1.5, g.top + g.row_h * (k + 0.5), s, "password", size=pw_size, face="mono")
    for k, s in enumerate(c["remarks"]):
        w.value(g.side_text + 2.0, g.total_bottom + g.row_h * (k + 0.7), s, "remarks",
                max_w=g.right - g.side_text - 4 - st.printer_dx)


def draw_items(w: FormWriter, c: dict) -> None:
    """Item column headers, one row per item (long names wrap onto a free row), and the 合计 row."""
    page, g = w.page, w.grid
    cols = g.cols
    header_y = (g.buyer_bottom + g.header_bottom) / 2
    headers = (("货物或应税劳务、服务名称", "item_name"), ("规格型号", "item_spec"), ("单位", "item_unit"),
               ("数量", "item_qty"), ("单价", "item_price"), ("金额", "item_amount"), ("税率", "item_tax_rate"),
               ("税额", "item_tax"))
    for k, (text, field) in enumerate(headers):
        n = len(text)
        track = 0.0 if n > 4 else (0.6 if n > 2 else 1.2)
        w.label((cols[k] + cols[k + 1]) / 2, header_y, text, field, align="c", track=track,
                max_w=cols[k + 1] - cols[k] - 1)
    row = 0
    value_font = page.font("value", w.style.value_mm)
    free = 5 - len(c["items"])
    for it in c["items"]:
        y = g.header_bottom + ITEM_PITCH * (row + 0.55)
        name = it["name"]
        name_w = page.px(cols[1] - cols[0] - 1.5)
        parts = [name]
        if value_font.getlength(name) > name_w and free > 0:
            # wrap like the invoicing software: the rest of the name continues on the next row
            cut = max(i for i in range(1, len(name)) if value_font.getlength(name[:i]) <= name_w)
            parts = [name[:cut], name[cut:]]
            free -= 1
        for j, part in enumerate(parts):
            w.value(cols[0] + 1.0, y + ITEM_PITCH * j, part, "item_name", max_w=cols[1] - cols[0] - 1.5)
        w.value(cols[1] + 1.0, y, it["spec"], "item_spec", max_w=cols[2] - cols[1] - 1.5)
        w.value((cols[2] + cols[3]) / 2, y, it["unit"], "item_unit", align="c")
        w.value(cols[4] - 1.0, y, it["qty"], "item_qty", align="r", max_w=cols[4] - cols[3] - 1.5)
        w.value(cols[5] - 1.0, y, it["price"], "item_price", align="r", max_w=cols[5] - cols[4] - 1.5)
        w.value(cols[6] - 1.0, y, it["amount"], "item_amount", align="r")
        w.value((cols[6] + cols[7]) / 2, y, it["rate"], "item_tax_rate", align="c")
        w.value(cols[8] - 1.0, y, it["tax"], "item_tax", align="r")
        row += len(parts)
    sum_y = g.items_bottom - 2.6
    w.label((cols[0] + cols[1]) / 2, sum_y, "合计", "amount_total", align="c", track=2.0)
    w.value(cols[6] - 1.0, sum_y, "¥" + f"{c['amount_total']:.2f}", "amount_total", align="r")
    w.value(cols[8] - 1.0, sum_y, "¥" + f"{c['tax_total']:.2f}", "tax_total", align="r")


def _crossed_circle(w: FormWriter, x: float, y: float) -> None:
    """The printed ⊗ before the capitals of 价税合计, centred at printed position (x, y) mm."""
    page, thin = w.page, w.style.thin
    cx, cy = page.px(x), page.px(y)
    radius = page.px(w.style.value_mm * 0.42)
    draw = page.draws["value"]
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=255, width=thin)
    q = radius * 0.7
    draw.line([cx - q, cy - q, cx + q, cy + q], fill=255, width=thin)
    draw.line([cx - q, cy + q, cx + q, cy - q], fill=255, width=thin)


def draw_total(w: FormWriter, c: dict) -> None:
    """The 价税合计 row: the total in capitals after ⊗, then （小写） and the total in figures."""
    st, cols = w.style, w.grid.cols
    val = st.value_mm
    y = (w.grid.items_bottom + w.grid.total_bottom) / 2
    w.label((cols[0] + cols[1]) / 2, y, "价税合计（大写）", "total_capital", align="c", max_w=cols[1] - cols[0] - 1)
    _crossed_circle(w, *w.printed(cols[1] + 3.5, y))
    figures_x = cols[5] - w.rng.uniform(4, 10)
    w.value(cols[1] + 6.5, y, amount_to_capital(c["total"]), "total_capital", size=val * 1.05,
            max_w=figures_x - cols[1] - 8.5 - max(0.0, st.printer_dx))
    w.labelled(figures_x, y, "（小写）", format_figures(c["total"]), "total_figures", size=val * 1.05)


def draw_signatures(w: FormWriter, c: dict) -> None:
    """收款人 / 复核 / 开票人 with their names, the stamp label, and the copy's purpose in the margin."""
    page, st, g = w.page, w.style, w.grid
    y = g.seller_bottom + 3.6
    for x, text, key in ((g.left + 4, "收款人", "payee"), (g.left + 58, "复核", "reviewer"),
                         (g.left + 108, "开票人", "drawer")):
        w.labelled(x, y, w.labels.text(text), c[key], key)
    w.label(g.left + 160, y, "销售方" + (w.labels.colon or "：") + "（章）", "stamp")
    special = c["kind"] == KINDS[0]
    copy_text = {"记账联": "第一联：记账联销售方记账凭证",
                 "抵扣联": "第二联：抵扣联购买方扣税凭证",
                 "发票联": "第三联：发票联购买方记账凭证" if special else "第二联：发票联购买方记账凭证"}[c["copy"]]
    top = g.top + 6 + st.form_dy
    page.vtext("form", g.right + 4.2 + st.form_dx, top, top + len(copy_text) * st.label_mm * 1.1, copy_text,
               st.label_mm * 0.95, "other", "other")


def draw_form(page: Page, c: dict, rng: np.random.RandomState, labels: Optional[LabelStyle] = None,
              sheet_dx: float = 0.0, show_check: bool = True) -> FormWriter:
    """Form and printed values of invoice content ``c``; returns the writer (style, grid and the
    label / value pairs) the stamps are placed with. ``sheet_dx``: the form's offset on the sheet
    (a pin-feed strip); ``show_check``: print the 校验码 row (普通发票 since 2017, not 专用发票)."""
    style = PrintStyle.sample(page, rng)
    w = FormWriter(page, style, FormGrid.sample(rng), rng, labels, sheet_dx, show_check)
    draw_header(w, c)
    draw_rules(w)
    draw_parties(w, c)
    draw_password_and_remarks(w, c)
    draw_items(w, c)
    draw_total(w, c)
    draw_signatures(w, c)
    return w
