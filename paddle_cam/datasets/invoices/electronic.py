"""增值税电子普通发票 (the 2016-2023 PDF e-invoice) as a PDF viewer rasterises it: the form printed in
brown or red-brown, the values in black or blue, a real QR code, the 监制章 over the title and the
seller's semi-transparent red 发票专用章 over the seller block.

The pieces the 2024 数电票 shares with it (title with seal and double rule, item table, 价税合计 row)
are public here and used by :mod:`.digital`.

>>> import numpy as np
>>> page, lines, info = render_e_normal(np.random.RandomState(3))
>>> info["kind"], page.dtype
('增值税电子普通发票', dtype('uint8'))
"""
from __future__ import annotations

from decimal import Decimal
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .content import amount_to_capital, format_figures, invoice_content
from .drawing import FORM_COLOURS, SEAL_RED, VALUE_COLOURS, Look, Run, Sheet, Style, digits, kv, label_runs, \
    pick, pick_faces

KIND = "增值税电子普通发票"


def random_date(rng: np.random.RandomState, years: Tuple[int, int]) -> Tuple[int, int, int]:
    """(year, month, day) with ``years`` inclusive."""
    return int(rng.randint(years[0], years[1] + 1)), int(rng.randint(1, 13)), int(rng.randint(1, 29))


def date_text(ymd: Tuple[int, int, int]) -> str:
    """2020年01月05日, as every VAT invoice prints it."""
    return f"{ymd[0]}年{ymd[1]:02d}月{ymd[2]:02d}日"


def figures(amount: Decimal, rng: np.random.RandomState) -> str:
    """¥ and the amount; the invoicing software prints no thousands separators, a few viewers do."""
    return format_figures(amount) if rng.rand() < 0.15 else f"¥{amount:.2f}"


def draw_title(sheet: Sheet, rng: np.random.RandomState, title: str, bureau: str, cx: float, cy: float,
               colour: Tuple[int, int, int], size: float, max_w: float) -> Tuple[float, float, float, float]:
    """The title centred at (cx, cy) mm and at most ``max_w`` mm wide, its double rule below and the
    oval 全国统一发票监制章 (the region's bureau at its bottom) printed over it in the form's colour;
    returns the title's box (mm)."""
    family = pick(rng, ("song", "song", "kai", "hei"))
    st = sheet.style(family, size, colour, track=rng.uniform(0.05, 0.35), stroke=int(rng.rand() < 0.6))
    box = sheet.write(cx, cy, [Run(title, st)], "title", "title", align="c", max_w=max_w)
    l, t, r, b = (v / sheet.s for v in box)
    w = max(1, int(round(sheet.px(0.2))))
    for dy in (1.0, 1.7) if rng.rand() < 0.8 else (1.2,):
        sheet.line(l - 1.5, b + dy, r + 1.5, b + dy, colour, w)
    sheet.seal(cx, cy - rng.uniform(0.5, 2.5), (rng.uniform(24, 29), rng.uniform(16, 19)), "全国统一发票监制章",
               "国家税务总局" if rng.rand() < 0.8 else "", bureau, arc_mm=2.2, mid_mm=2.2, bottom_mm=2.0,
               ring_mm=0.45, angle=0.0, span_deg=200, colour=colour, alpha=0.95, field="other", rng=rng)
    return l, t, r, b


def as_printed(c: dict, rng: np.random.RandomState, max_items: int = 6, individual: float = 0.0) -> dict:
    """Invoice content as it gets printed: more items than rows (and a few pages anyway) become one
    （详见销货清单） line carrying the totals; with probability ``individual`` the buyer is a private
    person (a name or 个人, no tax id, no address or bank)."""
    c = dict(c)
    items = c["items"]
    if len(items) > max_items or rng.rand() < 0.05:
        rates = [it["rate"] for it in items]
        rate = max(set(rates), key=rates.count)
        c["items"] = [{"name": pick(rng, ("（详见销货清单）", "详见销货清单")), "spec": "", "unit": "", "qty": "",
                       "price": "", "amount": f"{c['amount_total']:.2f}", "rate": rate,
                       "tax": f"{c['tax_total']:.2f}" if c["tax_total"] else "***"}]
    if rng.rand() < individual:
        name = c["payee"] if rng.rand() < 0.6 else "个人"
        c["buyer"] = {"name": name, "tax_id": "", "address": "", "bank": ""}
    return c


def column_edges(left: float, right: float, widths: Sequence[float], rng: np.random.RandomState) -> List[float]:
    """Column edges from nominal ``widths`` (mm), jittered and stretched to fill ``left``..``right``."""
    w = np.asarray(widths, float) * rng.uniform(0.85, 1.15, len(widths))
    w *= (right - left) / w.sum()
    return [left] + list(left + np.cumsum(w))


def draw_items(sheet: Sheet, look: Look, rng: np.random.RandomState, items: List[Dict[str, str]],
               cols: Sequence[float], headers: Sequence[Tuple[str, str]], header_y: float, top: float,
               pitch: float, max_rows: int) -> None:
    """Column headers (labels of the item fields) at ``header_y`` and one row per item from ``top``
    (mm); a long name wraps onto the next row when rows are free."""
    for k, (text, field) in enumerate(headers):
        n = len(text)
        track = 0.0 if n > 4 or rng.rand() < 0.3 else (0.5 if n > 2 else 1.4)
        st = Style(look.label.face, look.label.size, look.label.colour, track, look.label.stroke)
        sheet.write((cols[k] + cols[k + 1]) / 2, header_y, [Run(text, st)], field, "label", align="c",
                    max_w=cols[k + 1] - cols[k] - 1)
    val = look.value
    free = max_rows - len(items)
    row = 0
    for it in items:
        y = top + pitch * (row + 0.5)
        name_w = cols[1] - cols[0] - 1.5
        parts = [it["name"]]
        font_w = sheet.px(val.size) * len(it["name"])
        if font_w > sheet.px(name_w) and free > 0:
            cut = int(len(it["name"]) * sheet.px(name_w) / font_w)
            parts = [it["name"][:cut], it["name"][cut:]]
            free -= 1
        for j, part in enumerate(parts):
            sheet.text(cols[0] + 0.8, y + pitch * j, part, val, "item_name", "value", max_w=name_w)
        sheet.text(cols[1] + 0.8, y, it["spec"], val, "item_spec", "value", max_w=cols[2] - cols[1] - 1.5)
        sheet.text((cols[2] + cols[3]) / 2, y, it["unit"], val, "item_unit", "value", align="c")
        num = look.mono
        sheet.text(cols[4] - 0.8, y, it["qty"], num, "item_qty", "value", align="r", max_w=cols[4] - cols[3] - 1.5)
        sheet.text(cols[5] - 0.8, y, it["price"], num, "item_price", "value", align="r",
                   max_w=cols[5] - cols[4] - 1.5)
        sheet.text(cols[6] - 0.8, y, it["amount"], num, "item_amount", "value", align="r",
                   max_w=cols[6] - cols[5] - 1.5)
        sheet.text((cols[6] + cols[7]) / 2, y, it["rate"], val, "item_tax_rate", "value", align="c")
        sheet.text(cols[8] - 0.8, y, it["tax"], num, "item_tax", "value", align="r", max_w=cols[8] - cols[7] - 1.5)
        row += len(parts)


def draw_sum_row(sheet: Sheet, look: Look, rng: np.random.RandomState, c: dict, cols: Sequence[float],
                 y: float) -> None:
    """合计 with ¥ amount and ¥ tax under their columns."""
    label = pick(rng, ("合计", "合计", "合　　计"))
    st = Style(look.label.face, look.label.size, look.label.colour, 1.5 if rng.rand() < 0.5 else 0.0,
               look.label.stroke)
    sheet.write((cols[0] + cols[1]) / 2, y, [Run(label.replace("　", ""), st)], "amount_total", "label", align="c")
    sheet.text(cols[6] - 0.8, y, f"¥{c['amount_total']:.2f}", look.mono, "amount_total", "value", align="r")
    tax = f"¥{c['tax_total']:.2f}" if c["tax_total"] or rng.rand() < 0.5 else "***"
    sheet.text(cols[8] - 0.8, y, tax, look.mono, "tax_total", "value", align="r")


def draw_total_row(sheet: Sheet, look: Look, rng: np.random.RandomState, total: Decimal, x0: float, x1: float,
                   label_right: float, right: float, y: float) -> None:
    """价税合计（大写） in the cell ``x0``..``label_right``, ⊗ and the capitals, （小写） and the figures
    (one line with its label on some pages) ending before ``right``."""
    lab = look.label
    label = pick(rng, ("价税合计（大写）", "价税合计（大写）", "价税合计(大写)"))
    centred = rng.rand() < 0.6
    sheet.write((x0 + label_right) / 2 if centred else x0 + 1.0, y, [Run(label, lab)], "total_capital", "label",
                align="c" if centred else "l", max_w=label_right - x0 - 1)
    cx = label_right + rng.uniform(2.5, 4.0)
    sheet.crossed_circle(cx, y, look.value.size * 0.42, look.value.colour, max(1, int(round(sheet.px(0.15)))))
    small_x = x1 + rng.uniform(-8, 4)
    sheet.text(cx + look.value.size * 0.6 + 0.8, y, amount_to_capital(total), look.value, "total_capital", "value",
               max_w=small_x - cx - 4)
    small = pick(rng, ("（小写）", "（小写）", "(小写)"))
    kv(sheet, look, rng, small_x, y, small, figures(total, rng), "total_figures", value_style=look.mono, colon="",
       max_w=right - small_x - 1, gap=rng.uniform(0.3, 2.0))


def party_block(sheet: Sheet, look: Look, rng: np.random.RandomState, party: Dict[str, str], who: str,
                x: float, y0: float, row_h: float, right: float, labels: Sequence[Tuple[str, str]]) -> None:
    """Four label / value rows of a 购买方 or 销售方 block of the pre-2024 forms."""
    width = max(len(t) for t, _ in labels)
    aligned = rng.rand() < 0.6  # values start at one column, or right after their labels
    value_x = x + width * look.label.size * 1.02 + 1.5
    for k, (text, key) in enumerate(labels):
        y = y0 + row_h * (k + 0.5)
        style = look.mono if key == "tax_id" and rng.rand() < 0.7 else look.value
        kv(sheet, look, rng, x, y, text, party[key], f"{who}_{key}", value_style=style,
           value_x=value_x if aligned else None, width_chars=width, max_w=right - x - 1)


def render_e_normal(rng: np.random.RandomState) -> Tuple[np.ndarray, List[dict], dict]:
    """A clean 增值税电子普通发票 page (BGR uint8), its ground-truth lines and ``{"kind", "medium"}``.

    Everything is drawn from ``rng``; the page is 1400..2000 px wide with the PDF's aspect.

    >>> page, lines, info = render_e_normal(np.random.RandomState(0))
    >>> {"amount_total", "check_code"} <= {ln["field"] for ln in lines if ln["role"] == "value"}
    True
    """
    c = as_printed(invoice_content(rng), rng, individual=0.12)
    region = c["region"]
    ymd = random_date(rng, (2016, 2023))
    code = "0" + region[2] + f"{ymd[0] % 100:02d}" + digits(rng, 1) + "11" + digits(rng, 2)
    number = digits(rng, 8)
    check = digits(rng, 20)
    machine = pick(rng, ("661", "499", "661", "539")) + digits(rng, 9)

    w_mm = rng.uniform(214, 242)
    h_mm = w_mm / rng.uniform(1.58, 1.75)
    sheet = Sheet(w_mm, h_mm, int(rng.randint(1400, 2001)), pick_faces(rng))
    form = pick(rng, FORM_COLOURS)
    look = Look.sample(sheet, rng, form, pick(rng, VALUE_COLOURS), (2.5, 3.1), joined=(0.0, 0.9))
    thin = max(1, int(round(sheet.px(rng.uniform(0.12, 0.22)))))
    thick = thin + int(rng.randint(0, 3))

    left = rng.uniform(6, 12)
    right = w_mm - rng.uniform(6, 12)
    # header: QR, 机器编号, title and seal, the code block
    qr_size = rng.uniform(16, 21)
    qr_y = rng.uniform(3, 6)
    total_net = c["amount_total"]
    payload = f"01,10,{code},{number},{total_net:.2f},{ymd[0]}{ymd[1]:02d}{ymd[2]:02d},{check},"
    if rng.rand() < 0.5:
        payload += "".join(pick(rng, "0123456789ABCDEF") for _ in range(4)) + ","
    sheet.qr(left + rng.uniform(0, 3), qr_y, qr_size, payload)
    top = max(qr_y + qr_size + rng.uniform(5, 8), rng.uniform(29, 34))
    kv(sheet, look, rng, left + rng.uniform(0, 2), top - rng.uniform(2.3, 3.2), "机器编号", machine, "other",
       value_style=look.mono)
    title = f"{region[0]}{KIND}" if rng.rand() < 0.9 else KIND
    block_x = right - rng.uniform(58, 70)
    title_x = w_mm / 2 + rng.uniform(-6, 2)
    draw_title(sheet, rng, title, region[1], title_x, rng.uniform(10, 14), form, rng.uniform(5.6, 7.2),
               max_w=2 * (block_x - 4 - title_x))
    step = rng.uniform(4.2, 5.4)
    y = rng.uniform(6, 9)
    value_x = block_x + 5 * look.label.size + rng.uniform(1.0, 3.0)
    aligned = rng.rand() < 0.7
    for label, value, field in (("发票代码", code, "invoice_code"), ("发票号码", number, "invoice_number"),
                                ("开票日期", date_text(ymd), "date"),
                                ("校验码", " ".join(check[i:i + 5] for i in range(0, 20, 5)), "check_code")):
        style = look.mono if field != "date" else look.value
        kv(sheet, look, rng, block_x, y, label, value, field, value_style=style,
           value_x=value_x if aligned else None, width_chars=4, max_w=right - block_x + 2)
        y += step

    # the frame: buyer block, item table, 价税合计, seller block; it fills the page down to the signatures
    side_w = rng.uniform(5.5, 7)
    n_rows = max(len(c["items"]) + 1, 6)
    row_h, head_h, pitch, sum_h, total_h = (rng.uniform(4.8, 5.8), rng.uniform(4.6, 5.6), rng.uniform(4.0, 4.8),
                                            rng.uniform(5, 6.5), rng.uniform(6, 7.5))
    k = float(np.clip((h_mm - rng.uniform(8, 11) - top) / (8 * row_h + head_h + n_rows * pitch + sum_h + total_h),
                      0.6, 1.4))
    row_h, head_h, pitch, sum_h, total_h = (v * k for v in (row_h, head_h, pitch, sum_h, total_h))
    buyer_bottom = top + 4 * row_h
    header_bottom = buyer_bottom + head_h
    items_bottom = header_bottom + n_rows * pitch + sum_h
    total_bottom = items_bottom + total_h
    seller_bottom = total_bottom + 4 * row_h
    side_col = left + (right - left) * rng.uniform(0.56, 0.6)
    side_text = side_col + side_w
    cols = column_edges(left, right, (52, 26, 12, 20, 28, 32, 12, 28), rng)
    for yy in (buyer_bottom, header_bottom, items_bottom, total_bottom):
        sheet.line(left, yy, right, yy, form, thin)
    sheet.rect(left, top, right, seller_bottom, form, thick)
    for x0, y0, y1 in ((left + side_w, top, buyer_bottom), (side_col, top, buyer_bottom),
                       (side_text, top, buyer_bottom), (left + side_w, total_bottom, seller_bottom),
                       (side_col, total_bottom, seller_bottom), (side_text, total_bottom, seller_bottom)):
        sheet.line(x0, y0, x0, y1, form, thin)
    grid_cols = rng.rand() < 0.8
    for k, x in enumerate(cols[1:-1], start=1):
        if grid_cols or k in (1,):
            sheet.line(x, buyer_bottom, x, items_bottom, form, thin)
    label_right = cols[1]
    sheet.line(label_right, items_bottom, label_right, total_bottom, form, thin)

    side = Style(look.label.face, look.label.size * 1.05, form, 0.0, look.label.stroke)
    party_labels = (("名称", "name"), ("纳税人识别号", "tax_id"), ("地址、电话", "address"), ("开户行及账号", "bank"))
    for who, y0, y1, side_label, right_label, right_field in (
            ("buyer", top, buyer_bottom, "购买方", "密码区", "password"),
            ("seller", total_bottom, seller_bottom, "销售方", "备注", "remarks")):
        sheet.vtext(left + side_w / 2, y0 + 1.0, y1 - 1.0, side_label, side, "other", "label")
        inset = 1.2 + (3 - len(right_label)) * 2.5
        sheet.vtext(side_col + side_w / 2, y0 + inset, y1 - inset, right_label, side, right_field, "label")
        party_block(sheet, look, rng, c[who], who, left + side_w + 1.0, y0, row_h, side_col, party_labels)
    pw_style = Style(look.mono.face, min(row_h * 0.8, look.mono.size * 1.25), look.value.colour)
    for k, s in enumerate(c["password"]):
        sheet.text(side_text + 1.0, top + row_h * (k + 0.5), s, pw_style, "password", "value",
                   max_w=right - side_text - 2)
    for k, s in enumerate(c["remarks"]):
        sheet.text(side_text + 1.2, total_bottom + row_h * (k + 0.7), s, look.value, "remarks", "value",
                   max_w=right - side_text - 2.5)

    name_header = pick(rng, ("货物或应税劳务、服务名称", "货物或应税劳务、服务名称", "货物或应税劳务名称", "项目名称"))
    headers = ((name_header, "item_name"), ("规格型号", "item_spec"), ("单位", "item_unit"), ("数量", "item_qty"),
               ("单价", "item_price"), ("金额", "item_amount"), ("税率", "item_tax_rate"), ("税额", "item_tax"))
    draw_items(sheet, look, rng, c["items"], cols, headers, (buyer_bottom + header_bottom) / 2, header_bottom, pitch,
               n_rows)
    draw_sum_row(sheet, look, rng, c, cols, items_bottom - sum_h / 2)
    draw_total_row(sheet, look, rng, c["total"], left, cols[5], label_right, right, (items_bottom + total_bottom) / 2)

    # signatures below the frame
    y = seller_bottom + rng.uniform(3.0, 4.5)
    xs = np.array([0.02, 0.27, 0.5, 0.74]) * (right - left) + left + rng.uniform(-2, 2, 4)
    for x, text, key in zip(xs, ("收款人", "复核", "开票人"), ("payee", "reviewer", "drawer")):
        kv(sheet, look, rng, x, y, text, c[key] if rng.rand() < 0.9 else "", key)
    sheet.write(xs[3], y, label_runs("销售方", look.label, look.colon) + [Run("（章）", look.label)], "stamp", "label")
    # the seller's 发票专用章 over the seller block
    seller = c["seller"]
    seal_w, seal_h = rng.uniform(38, 42), rng.uniform(27, 30)
    sheet.seal(rng.uniform(side_col - 25, min(right - 18, w_mm - seal_w / 2 - 2)),
               rng.uniform(total_bottom + 4, min(seller_bottom + 2, h_mm - seal_h / 2 - 2.5)), (seal_w, seal_h),
               seller["name"], seller["tax_id"], "发票专用章",
               arc_mm=rng.uniform(3.4, 4.2), mid_mm=3.0, bottom_mm=3.4, ring_mm=rng.uniform(0.8, 1.1),
               angle=rng.uniform(-12, 12), span_deg=rng.uniform(210, 240), colour=SEAL_RED,
               alpha=rng.uniform(0.55, 0.85), field="stamp", rng=rng)
    page, lines = sheet.finish()
    return page, lines, {"kind": KIND, "medium": "pdf"}
