"""Documents that share some fields with VAT invoices but are not VAT invoices, so that ``other``
stays honest: the machine-printed 出租汽车统一发票 / 专用发票 taxi receipt and the 2024 railway
e-ticket invoice 电子发票（铁路电子客票）.

Only what the document really carries under the same meaning keeps a field name: a taxi receipt's
发票代码 / 发票号码 / 日期 and its 金额 (the amount paid, ``total_figures``); a train ticket's 发票号码,
开票日期, 票价 (``total_figures``) and, since 2024, 购买方名称 / 统一社会信用代码. Stations, car
number, mileage, passenger and the like are ``other``.

>>> import numpy as np
>>> page, lines, info = render_taxi(np.random.RandomState(0))
>>> info["medium"], any(ln["field"].startswith("buyer") for ln in lines)
('pdf', False)
"""
from __future__ import annotations

from decimal import Decimal
from typing import List, Tuple

import numpy as np

from .content import invoice_content, money
from .drawing import FORM_COLOURS, SEAL_RED, VALUE_COLOURS, Look, Run, Sheet, Style, digits, kv, label_runs, pick, \
    pick_faces
from .electronic import date_text, draw_title, random_date

TAXI_KINDS = ("出租汽车统一发票", "出租汽车专用发票", "出租小汽车专用发票")
TRAIN_KIND = "电子发票（铁路电子客票）"
# (city, plate prefix, invoice-code region, tax bureau)
_TAXI_CITIES = (("北京", "京B", "1110", "北京市税务局"), ("上海", "沪", "1310", "上海市税务局"),
                ("广州", "粤A", "1440", "广东省税务局"), ("深圳", "粤B", "1440", "深圳市税务局"),
                ("杭州", "浙A", "1330", "浙江省税务局"), ("南京", "苏A", "1320", "江苏省税务局"),
                ("成都", "川A", "1510", "四川省税务局"), ("武汉", "鄂A", "1420", "湖北省税务局"),
                ("天津", "津", "1120", "天津市税务局"), ("济南", "鲁A", "1370", "山东省税务局"))
_STATIONS = (("北京南", "Beijingnan"), ("北京西", "Beijingxi"), ("上海虹桥", "Shanghaihongqiao"),
             ("上海", "Shanghai"), ("广州南", "Guangzhounan"), ("深圳北", "Shenzhenbei"), ("杭州东", "Hangzhoudong"),
             ("南京南", "Nanjingnan"), ("成都东", "Chengdudong"), ("武汉", "Wuhan"), ("天津", "Tianjin"),
             ("济南西", "Jinanxi"), ("郑州东", "Zhengzhoudong"), ("西安北", "Xi'anbei"), ("长沙南", "Changshanan"),
             ("重庆北", "Chongqingbei"), ("苏州", "Suzhou"), ("合肥南", "Hefeinan"))
_SEATS = (("二等座", 0.46), ("一等座", 0.75), ("商务座", 1.45), ("无座", 0.46), ("硬卧", 0.35), ("二等卧", 0.6),
          ("硬座", 0.16))


def _spacer(n: int, style: Style) -> Run:
    return Run(" " * n, style)


def render_taxi(rng: np.random.RandomState) -> Tuple[np.ndarray, List[dict], dict]:
    """A clean taxi receipt (BGR uint8, narrow and tall), its ground-truth lines and ``{"kind", "medium"}``.

    The pre-printed head (title, 发票联, 发票代码, 发票号码, the 监制章) and the meter's printout (电话,
    车号, 证号, 日期, 上车, 下车, 单价, 里程, 等候, 金额, ...) each in their own ink.

    >>> page, lines, info = render_taxi(np.random.RandomState(1))
    >>> info["kind"].endswith("发票") and page.shape[0] > page.shape[1]
    True
    """
    city, plate, region_code, bureau = pick(rng, _TAXI_CITIES)
    kind = pick(rng, TAXI_KINDS)
    ymd = random_date(rng, (2013, 2023))
    w_mm = rng.uniform(70, 84)
    h_mm = w_mm * rng.uniform(1.9, 2.4)
    sheet = Sheet(w_mm, h_mm, int(rng.randint(760, 1101)), pick_faces(rng),
                  paper=pick(rng, ((255, 255, 255), (252, 250, 244), (248, 248, 248))))
    head = pick(rng, ((0, 0, 0), (200, 40, 40), (30, 60, 150)) + FORM_COLOURS[:2])
    ink = pick(rng, ((0, 0, 0), (30, 30, 30), (60, 60, 80), (40, 40, 120)))
    look = Look.sample(sheet, rng, head, ink, (3.0, 3.8), joined=(0.0, 1.0))
    margin = rng.uniform(4, 8)
    cx = w_mm / 2

    # pre-printed head
    title_st = sheet.style(pick(rng, ("song", "hei", "kai")), rng.uniform(4.2, 5.2), head,
                           track=rng.uniform(0.0, 0.2), stroke=int(rng.rand() < 0.5))
    y = rng.uniform(8, 12)
    if rng.rand() < 0.5:
        sheet.write(cx, y, [Run(f"{city}市", title_st)], "title", "title", align="c")
        y += title_st.size * 1.4
        sheet.write(cx, y, [Run(kind, title_st)], "title", "title", align="c", max_w=w_mm - 2 * margin)
    else:
        sheet.write(cx, y, [Run(f"{city}市{kind}", title_st)], "title", "title", align="c", max_w=w_mm - 2 * margin)
    y += title_st.size * 1.5
    copy = sheet.style(pick(rng, ("song", "hei")), look.label.size * 1.1, head, track=1.0)
    sheet.write(cx, y, [Run("发票联", copy)], "other", "other", align="c")
    sheet.seal(cx + rng.uniform(-6, 6), y - rng.uniform(3, 7), (rng.uniform(20, 24), rng.uniform(13, 16)),
               "全国统一发票监制章", bureau, "", arc_mm=1.8, mid_mm=1.8, bottom_mm=1.6, ring_mm=0.4, angle=0.0,
               span_deg=200, colour=SEAL_RED, alpha=rng.uniform(0.6, 0.9), field="other", rng=rng)
    y += rng.uniform(6, 8)
    code = region_code + f"{ymd[0] % 100:02d}" + pick(rng, ("1", "2", "0")) + digits(rng, 5)
    number = digits(rng, 8)
    code_style = sheet.style(pick(rng, ("mono", "hei", "song")), look.value.size, pick(rng, (head, ink, (200, 30, 30))))
    for label, value, field in (("发票代码", code, "invoice_code"), ("发票号码", number, "invoice_number")):
        kv(sheet, look, rng, margin, y, label, value, field, value_style=code_style, max_w=w_mm - 2 * margin)
        y += look.label.size * rng.uniform(1.7, 2.2)
    if rng.rand() < 0.6:
        sheet.line(margin - 1, y - 1, w_mm - margin + 1, y - 1, head, max(1, int(round(sheet.px(0.2)))))
    y += rng.uniform(2, 5)

    # the meter's printout
    km = money(rng.uniform(1.5, 45) if rng.rand() < 0.9 else rng.uniform(45, 90)).quantize(Decimal("0.1"))
    unit = money(pick(rng, (2.3, 2.5, 2.6, 2.7, 2.4, 2.0, 3.0)))
    start = money(pick(rng, (13, 14, 10, 11, 8, 9)))
    wait_s = int(rng.randint(0, 1500))
    total = start + max(Decimal(0), km - 3) * unit + money(wait_s / 300 * float(unit))
    fuel = Decimal(int(rng.randint(0, 2)))
    total = Decimal(int(total + fuel + Decimal("0.5")))  # the meters round the fare to whole yuan
    hh, mm = int(rng.randint(0, 23)), int(rng.randint(0, 60))
    ride = int(float(km) * rng.uniform(1.5, 3.5) + wait_s / 60) + 1
    t1 = hh * 60 + mm + ride
    date_fmt = int(rng.randint(3))
    date = (f"{ymd[0]}-{ymd[1]:02d}-{ymd[2]:02d}", date_text(ymd), f"{ymd[0] % 100:02d}-{ymd[1]:02d}-{ymd[2]:02d}")[
        date_fmt]
    yuan = pick(rng, ("元", "元", ""))
    rows = [
        (pick(rng, ("电话", "监督电话", "服务电话")), f"{pick(rng, ('96', '65', '68', '88'))}{digits(rng, 6)}", "other"),
        ("车号", f"{plate}{pick(rng, ('-', '·', ''))}{pick(rng, 'DTFLJ')}{digits(rng, 4)}", "other"),
        (pick(rng, ("证号", "工号", "司机号")), digits(rng, 6), "other"),
        ("日期", date, "date"),
        ("上车", f"{hh:02d}:{mm:02d}", "other"),
        ("下车", f"{t1 // 60 % 24:02d}:{t1 % 60:02d}", "other"),
        ("单价", f"{unit:.2f}{yuan}", "other"),
        ("里程", f"{km}{pick(rng, ('km', '公里', 'KM'))}", "other"),
        ("等候", f"{wait_s // 3600:02d}:{wait_s // 60 % 60:02d}:{wait_s % 60:02d}", "other"),
    ]
    if fuel and rng.rand() < 0.7:
        rows.append((pick(rng, ("燃油附加费", "附加费")), f"{fuel:.2f}{yuan}", "other"))
    rows.append((pick(rng, ("金额", "金额", "实收金额")), f"{total:.2f}{yuan}", "total_figures"))
    if rng.rand() < 0.35:
        balance = money(rng.uniform(total + 1, total + 300))
        rows += [("卡号", digits(rng, 10), "other"), ("原额", f"{balance:.2f}", "other"),
                 ("余额", f"{balance - total:.2f}", "other")]
    body = sheet.style(pick(rng, ("mono", "mono", "hei", "song")), rng.uniform(3.2, 4.2), ink,
                       stroke=int(rng.rand() < 0.4))
    label_st = Style(body.face, body.size, ink, 0.0, body.stroke)
    colon = pick(rng, ("：", ":", "", ""))
    right_aligned = rng.rand() < 0.5
    value_x = margin + rng.uniform(16, 24)
    pitch = body.size * rng.uniform(1.55, 2.1)
    x0 = margin + rng.uniform(0, 4)
    for label, value, field in rows:
        runs = label_runs(label, label_st, colon, 5 if len(label) == 2 and rng.rand() < 0.3 else 0, rng)
        if right_aligned:  # value flush right, far from its label: two detections
            sheet.write(x0, y, runs, field, "label")
            sheet.write(w_mm - margin, y, [Run(value, body)], field, "value", align="r")
        elif rng.rand() < 0.6:  # label, a space or two, value: one detection
            n = int(rng.randint(1, 3))
            sheet.write(x0, y, runs + [_spacer(n, body), Run(value, body)], field, "value", value_run=len(runs) + 1)
        else:
            box = sheet.write(x0, y, runs, field, "label")
            sheet.write(max(value_x, box[2] / sheet.s + 1.5), y, [Run(value, body)], field, "value")
        y += pitch
        if y > h_mm - margin:
            break
    # the paper is torn off the roll some way below the last printed line
    page, lines = sheet.finish(height_mm=min(h_mm, y + rng.uniform(4, 25)))
    return page, lines, {"kind": kind, "medium": "pdf"}


def render_train(rng: np.random.RandomState) -> Tuple[np.ndarray, List[dict], dict]:
    """A clean 电子发票（铁路电子客票） page (BGR uint8), its ground-truth lines and ``{"kind", "medium"}``.

    >>> page, lines, info = render_train(np.random.RandomState(2))
    >>> info["kind"], any(ln["field"] == "buyer_tax_id" for ln in lines)
    ('电子发票（铁路电子客票）', True)
    """
    c = invoice_content(rng)
    region = c["region"]
    ymd = random_date(rng, (2024, 2026))
    if ymd[0] == 2024:  # railways issue these e-invoices since 1 November 2024
        ymd = (2024, int(rng.randint(11, 13)), ymd[2])
    # 20 digits: year, region, issuing channel, 15-digit sequence
    number = f"{ymd[0] % 100:02d}{region[2][:2]}{pick(rng, '12')}" + digits(rng, 15)
    w_mm = rng.uniform(200, 216)
    h_mm = w_mm / rng.uniform(1.5, 1.8)
    sheet = Sheet(w_mm, h_mm, int(rng.randint(1400, 2001)), pick_faces(rng))
    form = pick(rng, FORM_COLOURS + ((40, 80, 150), (30, 100, 130)))
    ink = pick(rng, VALUE_COLOURS[:3])
    look = Look.sample(sheet, rng, form, ink, (2.6, 3.3), joined=(0.3, 1.0))
    left, right = rng.uniform(6, 14), w_mm - rng.uniform(6, 14)

    qr_size, qr_y = rng.uniform(17, 22), rng.uniform(3, 6)
    qr_left = rng.rand() < 0.6
    qr_x = left + rng.uniform(0, 3) if qr_left else right - qr_size - rng.uniform(0, 3)
    sheet.qr(qr_x, qr_y, qr_size, f"01,32,,{number},{c['total']:.2f},{ymd[0]}{ymd[1]:02d}{ymd[2]:02d},,"
                                  + "".join(pick(rng, "0123456789ABCDEF") for _ in range(4)) + ",")
    title_y = rng.uniform(11, 15)
    block_x = right - rng.uniform(55, 62) if qr_left else left + rng.uniform(0, 3)
    title_x = w_mm / 2 + rng.uniform(-4, 4)
    # the title keeps clear of the number block on its right, or of the QR code
    title_w = 2 * (block_x - 3 - title_x) if qr_left else 2 * (qr_x - 3 - title_x)
    draw_title(sheet, rng, TRAIN_KIND, region[1], title_x, title_y, form, rng.uniform(5.2, 6.6), max_w=title_w)
    y = title_y + rng.uniform(-3, 2) if qr_left else qr_y + qr_size + rng.uniform(-8, -3)
    if not qr_left:
        y = max(y, title_y + 8)
    for label, value, field in (("发票号码", number, "invoice_number"), ("开票日期", date_text(ymd), "date")):
        kv(sheet, look, rng, block_x, y, label, value, field, value_style=look.mono if field != "date" else look.value,
           max_w=(right - block_x + 2) if qr_left else 70)
        y += rng.uniform(5, 6.5)

    top = max(qr_y + qr_size, y) + rng.uniform(3, 6)
    bottom = h_mm - rng.uniform(10, 18)
    sheet.rect(left, top, right, bottom, form, max(1, int(round(sheet.px(rng.uniform(0.15, 0.3))))))
    (dep, dep_py), (arr, arr_py) = (_STATIONS[i] for i in rng.permutation(len(_STATIONS))[:2])
    train = pick(rng, "GGGDDCKTZ") + str(int(rng.randint(1, 9999)))
    seat, per_km = pick(rng, _SEATS)
    price = money(Decimal(int(rng.uniform(60, 2800) * per_km / 0.46)) / 2)  # fares are whole or half yuan
    inner_l, inner_r = left + rng.uniform(6, 14), right - rng.uniform(6, 14)
    h = bottom - top
    st_big = sheet.style(pick(rng, ("hei", "song", "kai")), rng.uniform(4.5, 5.8), ink, stroke=int(rng.rand() < 0.5))
    st_py = sheet.style(pick(rng, ("hei", "song")), rng.uniform(2.4, 3.0), ink)
    sta = "站" if rng.rand() < 0.7 else ""
    y1 = top + h * rng.uniform(0.14, 0.2)
    sheet.text(inner_l, y1, dep + sta, st_big, "other", "other")
    sheet.text(inner_r, y1, arr + sta, st_big, "other", "other", align="r")
    sheet.text((inner_l + inner_r) / 2, y1 - rng.uniform(0, 1.5), train, st_big, "other", "other", align="c")
    if rng.rand() < 0.8:
        y_py = y1 + st_big.size * 0.95
        sheet.text(inner_l, y_py, dep_py, st_py, "other", "other")
        sheet.text(inner_r, y_py, arr_py, st_py, "other", "other", align="r")
    val = look.value
    y2 = top + h * rng.uniform(0.36, 0.42)
    dep_h, dep_m = int(rng.randint(6, 22)), int(rng.randint(0, 60))
    car, row, letter = int(rng.randint(1, 17)), int(rng.randint(1, 20)), pick(rng, "ABCDF")
    sheet.text(inner_l, y2, f"{date_text(random_date(rng, (ymd[0], ymd[0])))} {dep_h:02d}:{dep_m:02d}开", val,
               "other", "other")
    seat_no = f"{car:02d}车{row:02d}{letter}号" if seat != "无座" else f"{car:02d}车无座"
    sheet.text((inner_l + inner_r) / 2 + rng.uniform(5, 15), y2, seat_no, val, "other", "other")
    sheet.text(inner_r, y2, seat, val, "other", "other", align="r")
    y3 = top + h * rng.uniform(0.52, 0.58)
    price_style = Style(val.face, val.size * rng.uniform(1.0, 1.3), ink, 0.0, int(rng.rand() < 0.5))
    price_box = kv(sheet, look, rng, inner_l, y3, "票价", f"¥{price:.2f}", "total_figures", value_style=price_style,
                   colon=pick(rng, ("：", ":", "")))
    if rng.rand() < 0.1:  # student and child fares are marked next to the price
        sheet.text(price_box[2] / sheet.s + rng.uniform(4, 12), y3, pick(rng, ("学", "孩")), val, "other", "other")
    y4 = top + h * rng.uniform(0.66, 0.7)
    pid = digits(rng, 6, True) + f"{int(rng.randint(1960, 2006))}" + "****" + digits(rng, 3) + pick(rng, "0123456789X")
    person = f"{pid} {c['drawer']}" if rng.rand() < 0.7 else f"{c['drawer']} {pid}"
    sheet.text(inner_l, y4, person, val, "other", "other")
    ticket_no = digits(rng, 21) if rng.rand() < 0.5 else "E" + digits(rng, 20)
    y5 = top + h * rng.uniform(0.79, 0.83)
    kv(sheet, look, rng, inner_l, y5, "电子客票号", ticket_no, "other", value_style=look.mono)
    y6 = top + h * rng.uniform(0.91, 0.94)
    buyer = c["buyer"]
    kv(sheet, look, rng, inner_l, y6, pick(rng, ("购买方名称", "购买方名称", "购买方")), buyer["name"], "buyer_name",
       max_w=(inner_r - inner_l) * 0.55)
    kv(sheet, look, rng, inner_l + (inner_r - inner_l) * rng.uniform(0.56, 0.6), y6, "统一社会信用代码", buyer["tax_id"],
       "buyer_tax_id", value_style=look.mono, max_w=(inner_r - inner_l) * 0.4)
    notes = ("报销凭证 遗失不补", "退票改签时须交回车站", "仅供报销使用")
    if rng.rand() < 0.6:
        sheet.text(left + 1, bottom + rng.uniform(3, 5), pick(rng, notes), Style(look.label.face, look.label.size * 0.9,
                   form), "other", "other")
    page, lines = sheet.finish()
    return page, lines, {"kind": TRAIN_KIND, "medium": "pdf"}
