"""全面数字化的电子发票 (数电票, the 2024 layout) as a PDF viewer rasterises it: 电子发票（增值税专用发票）
or 电子发票（普通发票）, a 20-digit 发票号码 and 开票日期 top right (no 发票代码, no 校验码, no 密码区), the
购买方信息 / 销售方信息 blocks side by side, the 项目名称 table without column rules, 合　　计,
价税合计（大写）/（小写）, 备注 and 开票人; no seller seal (the file is signed electronically).

>>> import numpy as np
>>> page, lines, info = render_digital(np.random.RandomState(1))
>>> info["kind"] in ("电子发票（增值税专用发票）", "电子发票（普通发票）")
True
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from .content import invoice_content
from .drawing import FORM_COLOURS, VALUE_COLOURS, Look, Sheet, Style, digits, kv, pick, pick_faces
from .electronic import as_printed, column_edges, date_text, draw_items, draw_sum_row, draw_title, draw_total_row, \
    random_date

KINDS = ("电子发票（增值税专用发票）", "电子发票（普通发票）")


def render_digital(rng: np.random.RandomState) -> Tuple[np.ndarray, List[dict], dict]:
    """A clean 数电票 page (BGR uint8), its ground-truth lines and ``{"kind", "medium"}``.

    >>> page, lines, info = render_digital(np.random.RandomState(0))
    >>> any(ln["field"] == "invoice_code" for ln in lines)
    False
    """
    kind = KINDS[int(rng.rand() < 0.55)]
    c = as_printed(invoice_content(rng), rng, individual=0.15 if kind == KINDS[1] else 0.0)
    region = c["region"]
    ymd = random_date(rng, (2023, 2026))
    number = f"{ymd[0] % 100:02d}{region[2][:2]}{pick(rng, '12')}" + digits(rng, 15)

    w_mm = rng.uniform(205, 216)
    h_mm = w_mm / rng.uniform(1.42, 1.56)
    sheet = Sheet(w_mm, h_mm, int(rng.randint(1400, 2001)), pick_faces(rng))
    form = pick(rng, FORM_COLOURS)
    look = Look.sample(sheet, rng, form, pick(rng, VALUE_COLOURS[:3] if rng.rand() < 0.8 else VALUE_COLOURS),
                       (2.4, 3.0), joined=(0.3, 1.0))
    thin = max(1, int(round(sheet.px(rng.uniform(0.12, 0.22)))))
    thick = thin + int(rng.randint(0, 2))
    left, right = rng.uniform(5, 11), w_mm - rng.uniform(5, 11)

    qr_size, qr_y = rng.uniform(17, 22), rng.uniform(3, 6)
    type_code = "31" if kind == KINDS[0] else "32"
    payload = (f"01,{type_code},,{number},{c['amount_total']:.2f},{ymd[0]}{ymd[1]:02d}{ymd[2]:02d},,"
               + "".join(pick(rng, "0123456789ABCDEF") for _ in range(4)) + ",")
    sheet.qr(left + rng.uniform(0, 4), qr_y, qr_size, payload)
    title_y = rng.uniform(11, 15)
    block_x = right - rng.uniform(52, 62)
    title_x = w_mm / 2 + rng.uniform(-4, 4)
    draw_title(sheet, rng, kind, region[1], title_x, title_y, form, rng.uniform(5.5, 7.0),
               max_w=2 * (block_x - 3 - title_x))
    y = title_y + rng.uniform(-2, 3)
    step = rng.uniform(5, 7)
    aligned = rng.rand() < 0.5
    value_x = block_x + 4 * look.label.size * 1.05 + rng.uniform(1.0, 2.5)
    for label, value, field in (("发票号码", number, "invoice_number"), ("开票日期", date_text(ymd), "date")):
        kv(sheet, look, rng, block_x, y, label, value, field, value_style=look.mono if field != "date" else look.value,
           value_x=value_x if aligned else None, max_w=right - block_x + 3)
        y += step

    # the frame: parties side by side, the item table, 价税合计, 备注
    top = max(qr_y + qr_size + rng.uniform(3, 6), y + 1)
    party_h = rng.uniform(18, 24)
    side_w = rng.uniform(5, 7)
    mid = (left + right) / 2 + rng.uniform(-3, 3)
    party_bottom = top + party_h
    n_rows = max(len(c["items"]) + 1, int(rng.randint(3, 7)))
    pitch = rng.uniform(4.2, 5.2)
    header_h = rng.uniform(4.5, 6)
    sum_h = rng.uniform(5, 6.5)
    items_bottom = party_bottom + header_h + n_rows * pitch + sum_h
    total_h = rng.uniform(6, 8)
    remark_h = rng.uniform(12, 20)
    bottom = items_bottom + total_h + remark_h
    k = float(np.clip((h_mm - rng.uniform(7, 11) - top) / (bottom - top), 0.6, 1.4))  # fill the page
    if k != 1.0:
        party_h, pitch, header_h, sum_h, total_h, remark_h = (v * k for v in (party_h, pitch, header_h, sum_h,
                                                                              total_h, remark_h))
        party_bottom = top + party_h
        items_bottom = party_bottom + header_h + n_rows * pitch + sum_h
        bottom = items_bottom + total_h + remark_h
    total_bottom = items_bottom + total_h
    sheet.rect(left, top, right, bottom, form, thick)
    for yy in (party_bottom, items_bottom, total_bottom):
        sheet.line(left, yy, right, yy, form, thin)
    if rng.rand() < 0.3:
        sheet.line(left, items_bottom - sum_h, right, items_bottom - sum_h, form, thin)
    for x0 in (left + side_w, mid, mid + side_w):
        sheet.line(x0, top, x0, party_bottom, form, thin)
    sheet.line(left + side_w, total_bottom, left + side_w, bottom, form, thin)

    side = Style(look.label.face, look.label.size * rng.uniform(1.0, 1.15), form, 0.0, look.label.stroke)
    tax_label = pick(rng, ("统一社会信用代码/纳税人识别号", "统一社会信用代码/纳税人识别号", "纳税人识别号"))
    for who, x0, x1, side_label in (("buyer", left, mid, "购买方信息"), ("seller", mid, right, "销售方信息")):
        sheet.vtext(x0 + side_w / 2, top + 1.0, party_bottom - 1.0, side_label, side, "other", "label")
        party = c[who]
        x = x0 + side_w + 1.2
        ys = top + party_h * np.array([0.3, 0.68]) + rng.uniform(-1, 1)
        kv(sheet, look, rng, x, ys[0], "名称", party["name"], f"{who}_name", max_w=x1 - x - 1)
        kv(sheet, look, rng, x, ys[1], tax_label, party["tax_id"], f"{who}_tax_id", value_style=look.mono,
           max_w=x1 - x - 1)

    cols = column_edges(left, right, (50, 24, 12, 18, 26, 28, 18, 26), rng)
    headers = (("项目名称", "item_name"), ("规格型号", "item_spec"), ("单位", "item_unit"), ("数量", "item_qty"),
               ("单价", "item_price"), ("金额", "item_amount"), (pick(rng, ("税率/征收率", "税率/征收率", "税率")),
                                                              "item_tax_rate"), ("税额", "item_tax"))
    draw_items(sheet, look, rng, c["items"], cols, headers, party_bottom + header_h / 2, party_bottom + header_h,
               pitch, n_rows)
    draw_sum_row(sheet, look, rng, c, cols, items_bottom - sum_h / 2)
    label_right = cols[1] if rng.rand() < 0.6 else left + rng.uniform(30, 40)
    if rng.rand() < 0.6:
        sheet.line(label_right, items_bottom, label_right, total_bottom, form, thin)
    draw_total_row(sheet, look, rng, c["total"], left, cols[5], label_right, right, (items_bottom + total_bottom) / 2)

    sheet.vtext(left + side_w / 2, total_bottom + 1.5, bottom - 1.5, "备注", side, "remarks", "label")
    for k, s in enumerate(c["remarks"]):
        sheet.text(left + side_w + 1.5, total_bottom + 3.5 + k * 4.5, s, look.value, "remarks", "value",
                   max_w=right - left - side_w - 3)
    kv(sheet, look, rng, left + rng.uniform(2, 40), bottom + rng.uniform(3, 5), "开票人", c["drawer"], "drawer")
    page, lines = sheet.finish()
    return page, lines, {"kind": kind, "medium": "pdf"}


__all__ = ["KINDS", "render_digital"]
