"""Synthetic Chinese VAT invoices (增值税专用发票 / 增值税普通发票) with line-level ground truth.

The pages are meant to be as awkward as real scans, not a clean showcase: the pre-printed form
(brown grid and labels) and the printer's values are separate ink layers, and the printer is
misregistered against the form, so values drift across grid lines; a semi-transparent red
发票专用章 covers seller text, the 监制章 covers the title; faded or dot-matrix ribbons, low-DPI
resampling, rotation, blur, noise, JPEG, folds and scanner shading come on top. Everything is drawn
from one ``numpy.random.RandomState(seed)``, so a seed always gives the same page on one machine.
"""
from __future__ import annotations

import functools
import os
from decimal import ROUND_HALF_UP, Decimal
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..sinks.fonts import CANDIDATES, draws_cjk, find_cjk_font_path

PAGE_MM = (240.0, 140.0)
KINDS = ("增值税专用发票", "增值税普通发票")
ROLES = ("label", "value", "title", "other")
FIELDS = (
    "title", "invoice_code", "invoice_number", "date", "check_code",
    "buyer_name", "buyer_tax_id", "buyer_address", "buyer_bank",
    "seller_name", "seller_tax_id", "seller_address", "seller_bank",
    "item_name", "item_spec", "item_unit", "item_qty", "item_price", "item_amount", "item_tax_rate", "item_tax",
    "amount_total", "tax_total", "total_capital", "total_figures", "password", "remarks",
    "payee", "reviewer", "drawer", "stamp", "other",
)

# ----------------------------------------------------------------------------- amounts

_CN_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CN_UNITS = ("", "拾", "佰", "仟")
_CN_GROUPS = ("", "万", "亿")
_CENT = Decimal("0.01")


def money(x: Union[Decimal, float, int, str]) -> Decimal:
    """Round to fen the way invoices do (half up, not banker's rounding)."""
    return Decimal(str(x)).quantize(_CENT, rounding=ROUND_HALF_UP)


def amount_to_capital(amount: Union[Decimal, float, int, str]) -> str:
    """Chinese financial capitals for an amount in yuan, e.g. 1234.56 -> 壹仟贰佰叁拾肆元伍角陆分.

    Rules (人民银行《正确填写票据和结算凭证的基本规定》, as printed by the tax-control software):
    every 拾 keeps its digit (10 -> 壹拾元整); a run of zeros inside the integer part is one 零
    (1005 -> 壹仟零伍元), also across 万/亿 (100100 -> 壹拾万零壹佰元, 100010000 -> 壹亿零壹万元);
    zeros that only end a 万/亿 group are silent (108000 -> 壹拾万捌仟元, 107000.53 -> 壹拾万柒仟元伍角叁分);
    a 万 group of all zeros drops its 万 (100000000 -> 壹亿元); trailing zeros are silent; no fen and
    no jiao -> 整; a zero jiao before a fen is written 零 (1005.07 -> 壹仟零伍元零柒分); 整 is not
    added after 角; below one yuan there is no 元 (0.56 -> 伍角陆分); 0 -> 零元整; negatives
    (red-letter invoices) get 负. Amounts are rounded half-up to fen first; 1e12 and above raise.
    """
    d = money(amount)
    neg = d < 0
    cents = int(abs(d) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if yuan >= 10 ** 12:
        raise ValueError(f"amount {amount} is too large for invoice capitals (max 999999999999.99)")
    out: List[str] = []
    digits = str(yuan) if yuan else ""
    n = len(digits)
    zero_pending = group_used = False
    for i, ch in enumerate(digits):
        pos = n - 1 - i
        v = int(ch)
        if v == 0:
            zero_pending = True
        else:
            if zero_pending:
                out.append("零")
            zero_pending = False
            out.append(_CN_DIGITS[v] + _CN_UNITS[pos % 4])
            group_used = True
        if pos % 4 == 0:
            if group_used and pos:
                out.append(_CN_GROUPS[pos // 4])
                zero_pending = False  # zeros that only end the upper group are silent: 108000 -> 壹拾万捌仟
            group_used = False
    if yuan:
        out.append("元")
    if jiao == 0 and fen == 0:
        out.append("整" if yuan else "零元整")
    else:
        if jiao:
            out.append(_CN_DIGITS[jiao] + "角")
        elif yuan:
            out.append("零")
        if fen:
            out.append(_CN_DIGITS[fen] + "分")
    return ("负" if neg else "") + "".join(out)


def format_figures(amount: Union[Decimal, float, int, str]) -> str:
    """¥ with thousands separators, as after （小写）: 1234.56 -> ¥1,234.56."""
    return "¥" + f"{money(amount):,.2f}"


# ----------------------------------------------------------------------------- content

# (title prefix, bureau, invoice-code region, tax-id area codes, city, phone area code, districts, roads)
_REGIONS = [
    ("北京", "北京市税务局", "1100", ("110105", "110108", "110101", "110106"), "北京", "010",
     ("朝阳区", "海淀区", "东城区", "丰台区"), ("建国路", "中关村大街", "学院路", "西三环北路", "望京街")),
    ("上海", "上海市税务局", "3100", ("310115", "310104", "310101", "310112"), "上海", "021",
     ("浦东新区", "徐汇区", "黄浦区", "闵行区"), ("张江路", "漕溪北路", "南京东路", "虹梅路", "世纪大道")),
    ("广东", "广东省税务局", "4400", ("440106", "440104", "440604"), "广州", "020",
     ("天河区", "越秀区", "番禺区", "白云区"), ("天河路", "中山五路", "体育西路", "华夏路")),
    ("深圳", "深圳市税务局", "4403", ("440305", "440303", "440304"), "深圳", "0755",
     ("南山区", "福田区", "罗湖区"), ("科技园南路", "深南大道", "福华三路", "高新南七道")),
    ("浙江", "浙江省税务局", "3300", ("330106", "330108", "330110"), "杭州", "0571",
     ("西湖区", "滨江区", "余杭区"), ("文三路", "江南大道", "文一西路")),
    ("江苏", "江苏省税务局", "3200", ("320102", "320106", "320505"), "南京", "025",
     ("玄武区", "鼓楼区", "建邺区"), ("中山路", "汉中路", "江东中路")),
    ("四川", "四川省税务局", "5100", ("510107", "510104", "510105"), "成都", "028",
     ("武侯区", "锦江区", "高新区"), ("天府大道", "人民南路", "科华北路")),
    ("湖北", "湖北省税务局", "4200", ("420106", "420111", "420102"), "武汉", "027",
     ("武昌区", "洪山区", "江岸区"), ("珞喻路", "中北路", "解放大道")),
    ("山东", "山东省税务局", "3700", ("370102", "370112", "370202"), "济南", "0531",
     ("历下区", "历城区", "市南区"), ("经十路", "泉城路", "香港中路")),
    ("天津", "天津市税务局", "1200", ("120116", "120101", "120103"), "天津", "022",
     ("滨海新区", "和平区", "河西区"), ("南京路", "友谊路", "第三大街")),
]
_BRANDS = ("云杉", "华信", "博远", "鼎盛", "中科", "万通", "恒达", "金桥", "瑞丰", "泰和", "星辰", "宏图",
           "长城", "新元", "联创", "东方", "海纳", "天成", "汇通", "嘉禾", "启明", "蓝海", "正泽", "易达")
_TRADES = ("数据科技", "信息技术", "电子商务", "建筑工程", "物流", "商贸", "餐饮管理", "文化传媒", "医疗器械",
           "新能源科技", "机械设备", "企业管理咨询", "网络科技", "印务", "环保科技", "供应链管理")
_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")
_BUILDINGS = ("大厦", "科技园", "中心", "广场", "国际大厦")
_BANKS = ("中国工商银行", "中国建设银行", "中国农业银行", "中国银行", "招商银行", "交通银行", "中信银行",
          "兴业银行", "上海浦东发展银行", "中国民生银行", "平安银行")
_BRANCHES = ("支行", "分行营业部", "营业部")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华红玉萍建文辉力飞斌宇晨欣佳"
# (name, specs, units, net unit price range, tax rates)
_ITEMS = [
    ("*信息技术服务*软件开发服务", ("",), ("项", ""), (5000, 90000), ("6%",)),
    ("*信息技术服务*技术服务费", ("",), ("次", "项", ""), (800, 30000), ("6%",)),
    ("*现代服务*咨询服务费", ("",), ("", "项"), (2000, 50000), ("6%",)),
    ("*计算机外部设备*激光打印机", ("HP M403d", "LBP2900+", "M7400Pro"), ("台",), (900, 4000), ("13%",)),
    ("*电子计算机*笔记本电脑", ("ThinkPad X1", "MateBook14", "灵越5000"), ("台",), (3500, 12000), ("13%",)),
    ("*纸制品*复印纸", ("A4 70g", "A4 80g", "A3 70g"), ("箱", "包"), (90, 260), ("13%",)),
    ("*文具*中性笔", ("0.5mm 黑色", "0.38mm"), ("盒", "支"), (2, 40), ("13%",)),
    ("*餐饮服务*餐费", ("",), ("", "次"), (100, 3000), ("6%", "1%", "3%")),
    ("*运输服务*国内道路货物运输服务", ("",), ("", "车次"), (500, 20000), ("9%",)),
    ("*建筑服务*工程服务", ("",), ("项", ""), (10000, 300000), ("9%", "3%")),
    ("*住宿服务*住宿费", ("标准间", "大床房", ""), ("天", "间夜"), (180, 900), ("6%", "3%")),
    ("*日用杂品*垃圾袋", ("45*55cm", "60*80cm"), ("卷", "包"), (5, 30), ("13%",)),
    ("*钢材*螺纹钢", ("HRB400E 12mm", "HRB400 16mm"), ("吨",), (3200, 4800), ("13%",)),
    ("*润滑油*机油", ("4L SN 5W-30", "1L 0W-20"), ("桶", "瓶"), (60, 400), ("13%",)),
    ("*水冰雪*饮用天然水", ("550ml*24", "4L*6"), ("箱",), (20, 60), ("13%",)),
    ("*办公设备*投影仪", ("EB-X51", "CB-FH52"), ("台",), (2500, 6000), ("13%",)),
    ("*广告服务*广告设计费", ("",), ("项", ""), (1000, 40000), ("6%",)),
    ("*软件*操作系统软件", ("V3.0", "V10 专业版"), ("套",), (300, 5000), ("13%",)),
    ("*劳务*劳务派遣服务", ("",), ("月", "人"), (3000, 50000), ("6%", "免税")),
    ("*农产品*大米", ("5kg", "10kg 一级"), ("袋",), (30, 120), ("9%", "免税")),
]
_REMARKS = ("合同编号：HT{y}{n4}", "订单号：{n12}", "项目名称：{city}办公楼维修工程", "付款方式：银行转账",
            "开户许可证号：J{n4}{n6}", "项目地点：{city}市{district}", "服务期间：{y}年{m}月")
_PW = "0123456789<>+-*/"
_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 统一社会信用代码 alphabet (no I O S V Z)
_USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)


def _digits(rng: np.random.RandomState, n: int, first_nonzero: bool = False) -> str:
    d = "".join(str(v) for v in rng.randint(0, 10, size=n))
    if first_nonzero and d[0] == "0":
        d = str(rng.randint(1, 10)) + d[1:]
    return d


def _pick(rng: np.random.RandomState, seq: Sequence):
    return seq[int(rng.randint(len(seq)))]


def make_tax_id(rng: np.random.RandomState, area: str) -> str:
    """18-char 统一社会信用代码 with valid 组织机构代码 and GB 32100 check characters."""
    head = "9" + _pick(rng, "1111123")
    if rng.rand() < 0.5:  # newer registrations start the organisation code with MA
        body = "MA" + "".join(_pick(rng, _USCC) for _ in range(6))
    else:
        body = _digits(rng, 8)
    org_sum = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_W))
    c9 = 11 - org_sum % 11
    org = body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    s17 = head + area + org
    r = 31 - sum(_USCC.index(c) * w for c, w in zip(s17, _USCC_W)) % 31
    return s17 + _USCC[0 if r == 31 else r]


def _company(rng: np.random.RandomState, region) -> str:
    city, brand, trade, suf = region[4], _pick(rng, _BRANDS), _pick(rng, _TRADES), _pick(rng, _SUFFIXES)
    form = rng.randint(4)
    if form == 0:
        return f"{brand}{trade}（{city}）{suf}"
    if form == 1:
        return f"{city}市{brand}{trade}{suf}"
    return f"{city}{brand}{trade}{suf}"


def _party(rng: np.random.RandomState, region) -> Dict[str, str]:
    name = _company(rng, region)
    addr = f"{region[4]}市{_pick(rng, region[6])}{_pick(rng, region[7])}{rng.randint(1, 300)}号"
    if rng.rand() < 0.5:
        building = f"{_pick(rng, _BRANDS)}{_pick(rng, _BUILDINGS)}{_pick(rng, 'ABCD')}座"
        addr += f"{building}{rng.randint(2, 28)}{rng.randint(1, 30):02d}室"
    phone = f"{region[5]}-{_digits(rng, 8, True)}" if rng.rand() < 0.75 else "1" + _pick(rng, "3589") + _digits(rng, 9)
    acct = _digits(rng, int(_pick(rng, (12, 16, 17, 19))), True)
    if rng.rand() < 0.4:
        acct = " ".join(acct[i:i + 4] for i in range(0, len(acct), 4))
    bank = f"{_pick(rng, _BANKS)}{region[4]}{_pick(rng, region[6])[:-1]}{_pick(rng, _BRANCHES)}"
    return {"name": name, "tax_id": make_tax_id(rng, _pick(rng, region[3])),
            "address": f"{addr} {phone}", "bank": f"{bank} {acct}"}


def _person(rng: np.random.RandomState) -> str:
    return _pick(rng, _SURNAMES) + "".join(_pick(rng, _GIVEN) for _ in range(int(rng.randint(1, 3))))


def _fmt_num(v: Decimal, max_dec: int) -> str:
    """Quantity / unit price as the tax software prints them: up to ``max_dec`` decimals, no trailing zeros."""
    s = f"{v:.{max_dec}f}".rstrip("0").rstrip(".")
    return s or "0"


def _items(rng: np.random.RandomState, n: int) -> List[Dict[str, str]]:
    rows = []
    for _ in range(n):
        name, specs, units, (lo, hi), rates = _ITEMS[int(rng.randint(len(_ITEMS)))]
        rate = _pick(rng, rates)
        r = Decimal(0) if rate == "免税" else Decimal(rate[:-1]) / 100
        qty = Decimal(int(rng.randint(1, 50))) if rng.rand() < 0.8 else money(rng.uniform(0.5, 30))
        if rng.rand() < 0.5:
            # priced tax-inclusive, so the net unit price has a long decimal tail like real invoices
            gross = money(rng.uniform(lo, hi) * 1.1)
            amount = money(qty * gross / (1 + r))
            price = amount / qty
        else:
            price = money(rng.uniform(lo, hi))
            amount = money(qty * price)
        tax = money(amount * r)
        service = not specs[0] and rng.rand() < 0.5
        rows.append({
            "name": name, "spec": _pick(rng, specs), "unit": "" if service else _pick(rng, units),
            "qty": "" if service else _fmt_num(qty, 2), "price": "" if service else _fmt_num(price, 8),
            "amount": f"{amount:.2f}", "rate": rate, "tax": "***" if rate == "免税" else f"{tax:.2f}",
            "_amount": amount, "_tax": tax,
        })
    return rows


def _content(rng: np.random.RandomState) -> dict:
    kind = KINDS[int(rng.rand() < 0.45)]
    seller_region, buyer_region = _pick(rng, _REGIONS), _pick(rng, _REGIONS)
    year = int(rng.randint(2017, 2026))
    month, day = int(rng.randint(1, 13)), int(rng.randint(1, 29))
    code_tail = f"{year % 100:02d}" + _digits(rng, 4 if kind == KINDS[0] else 6)
    items = _items(rng, int(rng.randint(1, 6)))
    amount_total = sum((it["_amount"] for it in items), Decimal("0.00"))
    tax_total = sum((it["_tax"] for it in items), Decimal("0.00"))
    check = _digits(rng, 20)
    fill = {"y": year, "m": f"{month:02d}", "n4": _digits(rng, 4), "n6": _digits(rng, 6), "n12": _digits(rng, 12),
            "city": seller_region[4], "district": _pick(rng, seller_region[6])}
    remarks = [_REMARKS[i].format(**fill) for i in rng.permutation(len(_REMARKS))[:int(rng.choice([0, 1, 1, 2]))]]
    return {
        "kind": kind, "region": seller_region,
        "title": f"{seller_region[0]}{kind}",
        "copy": _pick(rng, ("发票联", "抵扣联")) if kind == KINDS[0] else "发票联",
        "code": seller_region[2] + code_tail,
        "number": _digits(rng, 8),
        "date": f"{year}年{month:02d}月{day:02d}日",
        "check": " ".join(check[i:i + 5] for i in range(0, 20, 5)),
        "machine": "49" + _digits(rng, 10),
        "buyer": _party(rng, buyer_region), "seller": _party(rng, seller_region),
        "password": ["".join(_pick(rng, _PW) for _ in range(28)) for _ in range(4)],
        "items": items, "amount_total": amount_total, "tax_total": tax_total,
        "total": amount_total + tax_total, "remarks": remarks,
        "payee": _person(rng), "reviewer": _person(rng), "drawer": _person(rng),
    }


# ----------------------------------------------------------------------------- fonts


@functools.lru_cache(maxsize=None)
def _faces() -> Tuple[Tuple[Tuple[str, int], ...], Tuple[Tuple[str, int], ...]]:
    """(proportional, monospaced) CJK faces found on this machine; wqy-microhei alone is enough."""
    base = find_cjk_font_path()
    props: List[Tuple[str, int]] = []
    monos: List[Tuple[str, int]] = []
    for path in dict.fromkeys([base[0]] + [p for p, _ in CANDIDATES]):
        if not os.path.isfile(path):
            continue
        for idx in range(4):
            try:
                f = ImageFont.truetype(path, 24, index=idx)
            except OSError:
                break
            if draws_cjk(f):
                (monos if "Mono" in " ".join(f.getname()) else props).append((path, idx))
    if base not in props and base not in monos:
        props.insert(0, base)
    return tuple(props or [base]), tuple(monos or props or [base])


@functools.lru_cache(maxsize=512)
def _font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(6, int(px)), index=index)


# ----------------------------------------------------------------------------- drawing


class _Page:
    """Ink layers (L masks) in page pixels, positions in mm, and the ground-truth lines drawn so far."""

    def __init__(self, w: int, h: int, faces: Dict[str, Tuple[str, int]]):
        self.w, self.h, self.s = w, h, w / PAGE_MM[0]
        self.faces = faces
        self.layers = {k: Image.new("L", (w, h), 0) for k in ("form", "value")}
        self.draws = {k: ImageDraw.Draw(v) for k, v in self.layers.items()}
        self.lines: List[dict] = []

    def px(self, mm: float) -> float:
        return mm * self.s

    def font(self, face: str, size_mm: float) -> ImageFont.FreeTypeFont:
        return _font(*self.faces[face], int(round(size_mm * self.s)))

    def add(self, poly, text: str, field: str, role: str) -> None:
        assert field in FIELDS and role in ROLES, (field, role)
        self.lines.append({"id": len(self.lines), "polygon": np.asarray(poly, np.float64).reshape(4, 2),
                           "text": text, "field": field, "role": role})

    def text(self, layer: str, x: float, y: float, s: str, size: float, field: str, role: str, *,
             face: str = "sans", align: str = "l", track: float = 0.0, fill: int = 255, stroke: int = 0,
             max_w: Optional[float] = None) -> Tuple[float, float, float, float]:
        """Draw ``s`` with its vertical middle at ``y`` mm; ``track`` adds em-spacing between characters.

        ``max_w`` (mm) shrinks the font like the invoicing software does for over-long values.
        The recorded polygon is the union of Pillow's glyph boxes at the rounded draw positions.
        """
        font = self.font(face, size)
        if max_w is not None:
            natural = font.getlength(s) + track * font.size * max(0, len(s) - 1)
            if natural > self.px(max_w):
                font = _font(*self.faces[face], max(6, int(font.size * self.px(max_w) / natural)))
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
        self.add([[l, t], [r, t], [r, b], [l, b]], s.replace(" ", "") if track else s, field, role)
        return box

    def vtext(self, layer: str, x: float, y0: float, y1: float, s: str, size: float, field: str, role: str,
              fill: int = 255) -> None:
        """Characters stacked top to bottom, centred on ``x`` and spread evenly between ``y0`` and ``y1``."""
        font = self.font("sans", size)
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


def _qr(page: _Page, x: float, y: float, size: float, rng: np.random.RandomState) -> None:
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


def _glyph(font: ImageFont.FreeTypeFont, ch: str, squeeze: float) -> Tuple[np.ndarray, Tuple[float, ...]]:
    """One character on its own canvas, centred, squeezed horizontally; returns (mask, ink box about centre)."""
    side = int(font.size * 2)
    im = Image.new("L", (side, side), 0)
    ImageDraw.Draw(im).text((side // 2, side // 2), ch, font=font, fill=255, anchor="mm")
    l, t, r, b = font.getbbox(ch, anchor="mm")
    if squeeze != 1.0:
        im = im.resize((max(1, int(round(side * squeeze))), side), Image.BICUBIC)
        l, r = l * squeeze, r * squeeze
    return np.asarray(im), (l, t, r, b)


def _paste_max(dst: np.ndarray, src: np.ndarray, cx: float, cy: float) -> None:
    h, w = src.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, dst.shape[1]), min(y0 + h, dst.shape[0])
    if xa < xb and ya < yb:
        np.maximum(dst[ya:yb, xa:xb], src[ya - y0:yb - y0, xa - x0:xb - x0], out=dst[ya:yb, xa:xb])


def _rot(pts: np.ndarray, deg: float) -> np.ndarray:
    """Rotate points about the origin the way PIL's Image.rotate turns the picture (counter-clockwise on screen)."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.stack([pts[:, 0] * c + pts[:, 1] * s, -pts[:, 0] * s + pts[:, 1] * c], axis=1)


def _order_quad(p: np.ndarray) -> np.ndarray:
    """Clockwise on screen, starting at the corner nearest the top-left, like the axis-aligned boxes."""
    ctr = p.mean(axis=0)
    p = p[np.argsort(np.arctan2(p[:, 1] - ctr[1], p[:, 0] - ctr[0]))]
    return np.roll(p, -int(np.argmin(p[:, 0] + p[:, 1])), axis=0)


def _box_pts(box, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    l, t, r, b = box
    return np.array([[l, t], [r, t], [r, b], [l, b]], np.float64) + (cx, cy)


def _oval_stamp(page: _Page, rng: np.random.RandomState, size_mm: Tuple[float, float], arc: str, middle: str,
                bottom: str, arc_mm: float, mid_mm: float, bottom_mm: float, ring_mm: float, angle: float,
                span_deg: float) -> Tuple[np.ndarray, List[Tuple[np.ndarray, str]]]:
    """An oval seal on its own square canvas: ring, text along the upper arc, a middle line and a
    bottom line, all turned by ``angle``. Returns (mask, [(4x2 polygon in canvas px, text)])."""
    A, B = page.px(size_mm[0]) / 2, page.px(size_mm[1]) / 2
    side = int(2 * A + page.px(4))
    c = side / 2
    mask = np.zeros((side, side), np.uint8)
    ring = max(2, int(round(page.px(ring_mm))))
    cv2.ellipse(mask, (int(c), int(c)), (int(A - ring / 2), int(B - ring / 2)), 0, 0, 360, 255, ring, cv2.LINE_AA)
    polys = []
    # arc text: centres on an inner ellipse, spaced by arc length, each glyph's top facing outwards
    afont = _font(*page.faces["sans"], int(round(page.px(arc_mm))))
    ia, ib = A - ring - 0.62 * afont.size, B - ring - 0.62 * afont.size
    half = np.deg2rad(span_deg) / 2
    t = np.linspace(1.5 * np.pi - half, 1.5 * np.pi + half, 2000)
    xy = np.stack([ia * np.cos(t), ib * np.sin(t)], 1)
    cum = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    n = len(arc)
    squeeze = float(np.clip(cum[-1] / n / (afont.size * 1.02), 0.55, 0.95))
    pts = []
    for i, ch in enumerate(arc):
        k = int(np.searchsorted(cum, cum[-1] * (i + 0.5) / n))
        ti = t[min(k, len(t) - 1)]
        px_, py_ = c + ia * np.cos(ti), c + ib * np.sin(ti)
        nx, ny = np.cos(ti) / ia, np.sin(ti) / ib
        deg = np.degrees(np.arctan2(-ny, nx)) - 90.0
        g, box = _glyph(afont, ch, squeeze)
        gi = Image.fromarray(g).rotate(deg, resample=Image.BICUBIC, expand=True)
        _paste_max(mask, np.asarray(gi), px_, py_)
        pts.append(_rot(_box_pts(box), deg) + (px_, py_))
    rect = cv2.minAreaRect(np.concatenate(pts).astype(np.float32))
    polys.append((cv2.boxPoints(rect).astype(np.float64), arc))
    # middle line: condensed like the real stamps' tall narrow digits
    for text_, size, yc, target_w in ((middle, mid_mm, c + 0.04 * B, 1.4 * A),
                                      (bottom, bottom_mm, c + 0.56 * B, 0.9 * A)):
        if not text_:
            continue
        f = _font(*page.faces["sans"], int(round(page.px(size))))
        im = Image.new("L", (int(f.getlength(text_) + 2 * f.size), int(2 * f.size)), 0)
        ImageDraw.Draw(im).text((im.width // 2, im.height // 2), text_, font=f, fill=255, anchor="mm")
        l, tt, r, b = f.getbbox(text_, anchor="mm")
        sq = min(1.0, target_w / max(1.0, r - l))
        im = im.resize((max(1, int(round(im.width * sq))), im.height), Image.BICUBIC)
        _paste_max(mask, np.asarray(im), c, yc)
        polys.append((_box_pts((l * sq, tt, r * sq, b), c, yc), text_))
    M = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    mask = cv2.warpAffine(mask, M, (side, side), flags=cv2.INTER_LINEAR)
    polys = [(_order_quad(p @ M[:, :2].T + M[:, 2]), s) for p, s in polys]
    return mask, polys


def _place(page: _Page, stamp: np.ndarray, cx: float, cy: float, layer: np.ndarray) -> Tuple[float, float]:
    """Paste a stamp canvas centred at (cx, cy) page px; returns the canvas' top-left offset."""
    _paste_max(layer, stamp, cx, cy)
    h, w = stamp.shape
    return float(int(round(cx - w / 2))), float(int(round(cy - h / 2)))


def _uneven(mask: np.ndarray, rng: np.random.RandomState, lo: float, speckle: float) -> np.ndarray:
    """Patchy ink: a smooth random field scales the mask, plus small dropouts."""
    h, w = mask.shape
    field = rng.rand(max(2, h // 24), max(2, w // 24)).astype(np.float32)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    field = lo + (1 - lo) * np.clip(field, 0, 1)
    holes = (rng.rand(h, w) > speckle).astype(np.float32)
    holes = cv2.GaussianBlur(holes, (0, 0), 0.7)
    return np.clip(mask.astype(np.float32) * field * holes, 0, 255).astype(np.uint8)


def _draw(page: _Page, c: dict, rng: np.random.RandomState) -> Tuple[np.ndarray, np.ndarray]:
    """Form, printed values, 监制章 and 发票专用章; returns the two stamp masks (seal, stamp)."""
    ox, oy = rng.uniform(-2.5, 2.5), rng.uniform(-1.5, 1.5)
    # the printer never registers exactly with the pre-printed form
    pdx, pdy = rng.uniform(-1.2, 2.5), rng.uniform(-1.3, 1.8)
    lab = rng.uniform(2.6, 3.1)         # form label size (mm)
    val = lab * rng.uniform(1.0, 1.15)  # printed value size
    thin = max(1, int(round(page.px(rng.uniform(0.12, 0.2)))))
    thick = thin + int(rng.randint(1, 3))

    def F(x, y):
        return x + ox, y + oy

    def V(x, y):
        return x + ox + pdx, y + oy + pdy

    def fade():
        return int(255 * rng.uniform(0.72, 1.0))

    def label(x, y, s, field, role="label", **kw):
        kw.setdefault("size", lab)
        return page.text("form", *F(x, y), s, kw.pop("size"), field, role, **kw)

    def value(x, y, s, field, size=None, **kw):
        if not s:
            return None
        return page.text("value", *V(x, y), s, size or val, field, "value", fill=fade(), **kw)

    X0, X1 = 12.0 + rng.uniform(-1, 1), 228.0 + rng.uniform(-1, 1)
    YT = 36.0 + rng.uniform(-0.8, 0.8)
    rowh = rng.uniform(5.2, 5.6)
    yb0, yb1 = YT, YT + 4 * rowh              # buyer block
    yh1 = yb1 + rng.uniform(5.0, 5.8)         # item header
    yi1 = yh1 + 6.1 * 4.8                     # item body incl. 合计
    yc1 = yi1 + rng.uniform(6.5, 7.5)         # 价税合计
    ys1 = yc1 + 4 * rowh                      # seller block
    xl = X0 + rng.uniform(5.5, 6.5)
    xp = X0 + rng.uniform(116, 122)
    xp2 = xp + rng.uniform(5.5, 6.5)
    widths = np.array([52, 26, 12, 20, 28, 32, 12], float) + rng.uniform(-1.2, 1.2, 7)
    cols = [X0] + list(X0 + np.cumsum(widths)) + [X1]

    # --- header -----------------------------------------------------------------------
    qr = rng.rand() < 0.85
    if qr:
        _qr(page, *V(X0 + 2, 6.5), rng.uniform(17, 20), rng)
    value(X0 + (25 if qr else 3), 10.5, c["code"], "invoice_code", size=val * 1.35, face="mono")
    label(X0 + 2, 30.5, "机器编号：", "other", size=lab * 0.95)
    value(X0 + 2 + lab * 0.95 * 5 + 0.5, 30.5, c["machine"], "other", face="mono")
    tsize = rng.uniform(6.3, 7.4)
    tb = label(120, 12.5, c["title"], "title", role="title", size=tsize, align="c", track=rng.uniform(0.2, 0.45),
               stroke=int(rng.rand() < 0.5))
    tl, tr, tbot = tb[0] / page.s - 2, tb[2] / page.s + 2, tb[3] / page.s
    for dy in (1.3, 2.1):
        page.line("form", tl, tbot + dy, tr, tbot + dy, thin)
    label(120, tbot + 5.5, c["copy"], "other", role="other", size=lab * 1.25, align="c", track=1.0)
    label(172, 10.5, "No", "invoice_number", size=lab * 1.4)
    value(172 + lab * 1.4 * 1.2 + 1.5, 10.5, c["number"], "invoice_number", size=val * 1.5, face="mono")
    hx = 170 + rng.uniform(-1, 1)
    hv = hx + 5 * lab + 1.6
    for k, (lbl, v, fld) in enumerate((("发票代码：", c["code"], "invoice_code"), ("发票号码：", c["number"], "invoice_number"),
                                        ("开票日期：", c["date"], "date"), ("校验码：", c["check"], "check_code"))):
        y = 17.0 + 4.4 * k
        label(hx, y, lbl, fld, track=0.0 if k < 3 else 1 / 3)
        value(hv, y, v, fld, face="mono" if fld in ("invoice_code", "invoice_number", "check_code") else "sans",
              size=val * 0.95, max_w=X1 - hv - 0.5)

    # --- grid ---------------------------------------------------------------------------
    def hline(y, x0=X0, x1=X1, w=thin):
        page.line("form", *F(x0, y), *F(x1, y), w)

    def vline(x, y0, y1, w=thin):
        page.line("form", *F(x, y0), *F(x, y1), w)

    for y in (yb1, yh1, yi1, yc1):
        hline(y)
    hline(YT, w=thick)
    hline(ys1, w=thick)
    vline(X0, YT, ys1, thick)
    vline(X1, YT, ys1, thick)
    for y0, y1 in ((yb0, yb1), (yc1, ys1)):
        vline(xl, y0, y1)
        vline(xp, y0, y1)
        vline(xp2, y0, y1)
    for x in cols[1:-1]:
        vline(x, yb1, yi1)
    vline(cols[1], yi1, yc1)

    # --- buyer / seller ---------------------------------------------------------------
    lw = 7 * lab  # every label is spread to the width of 纳税人识别号：
    for who, y0, side_lbl, right_lbl, right_field in (("buyer", yb0, "购买方", "密码区", "password"),
                                                      ("seller", yc1, "销售方", "备注", "remarks")):
        inset = 1.5 + (3 - len(right_lbl)) * 2  # 备注 has two characters but the same cell height
        page.vtext("form", (X0 + xl) / 2 + ox, y0 + oy + 1.2, y0 + oy + 4 * rowh - 1.2, side_lbl, lab * 1.05,
                   "other", "label")
        page.vtext("form", (xp + xp2) / 2 + ox, y0 + oy + inset, y0 + oy + 4 * rowh - inset, right_lbl, lab * 1.05,
                   right_field, "label")
        p = c[who]
        for k, (lbl, key) in enumerate((("名称：", "name"), ("纳税人识别号：", "tax_id"), ("地址、电话：", "address"),
                                        ("开户行及账号：", "bank"))):
            y = y0 + rowh * (k + 0.5)
            n = len(lbl)
            label(xl + 1.2, y, lbl, f"{who}_{key}", track=(lw / lab - n) / max(1, n - 1))
            value(xl + 2.2 + lw, y, p[key], f"{who}_{key}", face="mono" if key == "tax_id" else "sans",
                  max_w=xp - xl - lw - 3.5 - pdx)
    # 密码区: big monospaced digits filling the box
    pw_w = (X1 - xp2 - 3.0 - max(0.0, pdx)) * rng.uniform(0.86, 0.97)
    mono = _font(*page.faces["mono"], 100)
    pw_size = min(pw_w / (mono.getlength(c["password"][0]) / 100) , rowh * 0.95)
    for k, s in enumerate(c["password"]):
        value(xp2 + 1.5, yb0 + rowh * (k + 0.5), s, "password", size=pw_size, face="mono")
    for k, s in enumerate(c["remarks"]):
        value(xp2 + 2.0, yc1 + rowh * (k + 0.7), s, "remarks", max_w=X1 - xp2 - 4 - pdx)

    # --- items --------------------------------------------------------------------------
    yh = (yb1 + yh1) / 2
    for k, (lbl, fld) in enumerate((("货物或应税劳务、服务名称", "item_name"), ("规格型号", "item_spec"), ("单位", "item_unit"),
                                    ("数量", "item_qty"), ("单价", "item_price"), ("金额", "item_amount"),
                                    ("税率", "item_tax_rate"), ("税额", "item_tax"))):
        n = len(lbl)
        tr_ = 0.0 if n > 4 else (0.6 if n > 2 else 1.2)
        label((cols[k] + cols[k + 1]) / 2, yh, lbl, fld, align="c", track=tr_, max_w=cols[k + 1] - cols[k] - 1)
    pitch = 4.8
    row = 0
    vfont = page.font("sans", val)
    free = 5 - len(c["items"])
    for it in c["items"]:
        y = yh1 + pitch * (row + 0.55)
        name = it["name"]
        name_w = page.px(cols[1] - cols[0] - 1.5)
        parts = [name]
        if vfont.getlength(name) > name_w and free > 0:
            # wrap like the invoicing software: the rest of the name continues on the next row
            cut = max(i for i in range(1, len(name)) if vfont.getlength(name[:i]) <= name_w)
            parts = [name[:cut], name[cut:]]
            free -= 1
        for j, part in enumerate(parts):
            value(cols[0] + 1.0, y + pitch * j, part, "item_name", max_w=cols[1] - cols[0] - 1.5)
        value(cols[1] + 1.0, y, it["spec"], "item_spec", max_w=cols[2] - cols[1] - 1.5)
        value((cols[2] + cols[3]) / 2, y, it["unit"], "item_unit", align="c")
        value(cols[4] - 1.0, y, it["qty"], "item_qty", align="r", max_w=cols[4] - cols[3] - 1.5)
        value(cols[5] - 1.0, y, it["price"], "item_price", align="r", max_w=cols[5] - cols[4] - 1.5)
        value(cols[6] - 1.0, y, it["amount"], "item_amount", align="r")
        value((cols[6] + cols[7]) / 2, y, it["rate"], "item_tax_rate", align="c")
        value(cols[8] - 1.0, y, it["tax"], "item_tax", align="r")
        row += len(parts)
    ysum = yi1 - 2.6
    label((cols[0] + cols[1]) / 2, ysum, "合计", "amount_total", align="c", track=2.0)
    value(cols[6] - 1.0, ysum, "¥" + f"{c['amount_total']:.2f}", "amount_total", align="r")
    value(cols[8] - 1.0, ysum, "¥" + f"{c['tax_total']:.2f}", "tax_total", align="r")

    # --- 价税合计 -----------------------------------------------------------------------
    ycap = (yi1 + yc1) / 2
    label((cols[0] + cols[1]) / 2, ycap, "价税合计（大写）", "total_capital", align="c", max_w=cols[1] - cols[0] - 1)
    ocx, ocy = V(cols[1] + 3.5, ycap)
    r_ = page.px(val * 0.42)
    d = page.draws["value"]
    d.ellipse([page.px(ocx) - r_, page.px(ocy) - r_, page.px(ocx) + r_, page.px(ocy) + r_], outline=255, width=thin)
    q = r_ * 0.7
    d.line([page.px(ocx) - q, page.px(ocy) - q, page.px(ocx) + q, page.px(ocy) + q], fill=255, width=thin)
    d.line([page.px(ocx) - q, page.px(ocy) + q, page.px(ocx) + q, page.px(ocy) - q], fill=255, width=thin)
    xs = cols[5] - rng.uniform(4, 10)
    value(cols[1] + 6.5, ycap, amount_to_capital(c["total"]), "total_capital", size=val * 1.05,
          max_w=xs - cols[1] - 8.5 - max(0.0, pdx))
    lb = label(xs, ycap, "（小写）", "total_figures")
    value(lb[2] / page.s + 1.0 - ox + max(0.0, -pdx), ycap, format_figures(c["total"]), "total_figures",
          size=val * 1.05)

    # --- signatures and margin ----------------------------------------------------------
    ysig = ys1 + 3.6
    for x, lbl, key in ((X0 + 4, "收款人：", "payee"), (X0 + 58, "复核：", "reviewer"), (X0 + 108, "开票人：", "drawer")):
        lb = label(x, ysig, lbl, key)
        value(lb[2] / page.s + 1.0 - ox + max(0.0, -pdx), ysig, c[key], key)
    label(X0 + 160, ysig, "销售方：（章）", "stamp")
    copy_txt = ("第二联：抵扣联购买方扣税凭证" if c["copy"] == "抵扣联" else "第三联：发票联购买方记账凭证") \
        if c["kind"] == KINDS[0] else "第二联：发票联购买方记账凭证"
    page.vtext("form", X1 + 4.2 + ox, YT + 6 + oy, YT + 6 + oy + len(copy_txt) * lab * 1.1, copy_txt, lab * 0.95,
               "other", "other")

    # --- 全国统一发票监制章 over the title ------------------------------------------------------
    reg = c["region"]
    seal_mask, seal_polys = _oval_stamp(page, rng, (rng.uniform(28, 31), rng.uniform(19, 21)), "全国统一发票监制章",
                                        "国家税务总局", reg[1], arc_mm=2.3, mid_mm=2.4, bottom_mm=2.2, ring_mm=0.6,
                                        angle=0.0, span_deg=200)
    seal_layer = np.zeros((page.h, page.w), np.uint8)
    ofs = _place(page, seal_mask, *(page.px(v) for v in F(120, 16.0 + rng.uniform(-1, 1))), seal_layer)
    for poly, s in seal_polys:
        page.add(poly + ofs, s, "other", "other")
    # --- 发票专用章: seller name on the arc, tax id across, 发票专用章 below -----------------------
    st_mask, st_polys = _oval_stamp(page, rng, (rng.uniform(38, 42), rng.uniform(28, 31)), c["seller"]["name"],
                                    c["seller"]["tax_id"], "发票专用章", arc_mm=rng.uniform(3.6, 4.4), mid_mm=3.2,
                                    bottom_mm=3.6, ring_mm=rng.uniform(0.9, 1.2), angle=rng.uniform(-18, 18),
                                    span_deg=rng.uniform(210, 240))
    st_layer = np.zeros((page.h, page.w), np.uint8)
    scx, scy = X0 + rng.uniform(95, 185), ys1 - rng.uniform(2, 10)
    ofs = _place(page, st_mask, page.px(scx), page.px(scy), st_layer)
    for poly, s in st_polys:
        page.add(poly + ofs, s, "stamp", "other")
    return seal_layer, st_layer


# ----------------------------------------------------------------------------- ink and scan


def _ink(img: np.ndarray, mask: np.ndarray, rgb, alpha: float = 1.0) -> None:
    """Subtractive ink: paper shows through light ink and earlier ink darkens what goes on top."""
    m = mask.astype(np.float32) * (alpha / 255.0)
    img *= 1.0 - m[..., None] * (1.0 - np.asarray(rgb, np.float32) / 255.0)


def _background(w: int, h: int, rng: np.random.RandomState) -> np.ndarray:
    paper = np.array([rng.uniform(236, 255), rng.uniform(232, 252), rng.uniform(218, 246)], np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = paper
    # paper grain at two scales
    grain = cv2.resize(rng.normal(0, 1, (h // 8, w // 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img += (grain * rng.uniform(1.0, 3.0))[..., None]
    if rng.rand() < 0.6:  # anti-counterfeit guilloche, faint
        layer = np.zeros((h, w), np.uint8)
        period = rng.uniform(18, 40)
        amp, freq = rng.uniform(4, 12), rng.uniform(0.01, 0.03)
        xs = np.arange(0, w, 2, dtype=np.float32)
        for y0 in np.arange(-amp, h + amp, period):
            ys = y0 + amp * np.sin(xs * freq + y0 * 0.05)
            cv2.polylines(layer, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, 1, cv2.LINE_AA)
        tint = np.array([rng.uniform(170, 230), rng.uniform(190, 240), rng.uniform(170, 235)], np.float32)
        _ink(img, layer, tint, rng.uniform(0.08, 0.25))
    return img


def render_invoice(seed: int) -> Tuple[np.ndarray, dict]:
    """A scanned-looking VAT invoice page (BGR uint8) and its ground truth, fully determined by ``seed``.

    Ground truth: ``{"seed", "size": [w, h], "kind", "lines": [{"id", "polygon", "text", "field", "role"}]}``;
    polygons are 4 points, clockwise from the top-left corner, in final page pixels (after the scan's
    rotation and shift, which are applied to image and points with the same affine matrix).
    """
    rng = np.random.RandomState(seed)
    c = _content(rng)
    W = int(rng.randint(1400, 1801))
    H = int(round(W * PAGE_MM[1] / PAGE_MM[0]))
    props, monos = _faces()
    faces = {"sans": props[int(rng.randint(len(props)))], "mono": monos[int(rng.randint(len(monos)))]}
    page = _Page(W, H, faces)
    seal_layer, stamp_layer = _draw(page, c, rng)

    img = _background(W, H, rng)
    form_ink = (rng.uniform(125, 180), rng.uniform(35, 80), rng.uniform(25, 65))
    # black, blue-black, carbon-copy violet, worn grey ribbon
    inks = [(rng.uniform(10, 50),) * 3, (30, 35, 75), (60, 45, 110), (45, 45, 55)]
    value_ink = inks[int(rng.choice(4, p=[.5, .2, .15, .15]))]
    form = np.asarray(page.layers["form"])
    if rng.rand() < 0.3:  # worn plate: the pre-printed form is a bit patchy
        form = _uneven(form, rng, 0.6, 0.02)
    _ink(img, form, form_ink)
    _ink(img, seal_layer, (rng.uniform(190, 235), rng.uniform(40, 90), rng.uniform(40, 90)), rng.uniform(0.5, 0.8))
    vals = np.asarray(page.layers["value"]).astype(np.float32)
    style = rng.rand()
    if style < 0.25:  # dot-matrix ribbon: visible needle grid and slight smear
        dots = np.zeros((H, W), np.float32)
        dots[::2, ::2] = 1
        dots[1::2, 1::2] = 1
        dots = cv2.GaussianBlur(dots, (0, 0), 0.6)
        vals = cv2.GaussianBlur(vals * (0.45 + 0.55 * dots / dots.max()), (0, 0), 0.5)
    elif style < 0.5:  # ink bleed
        vals = np.clip(cv2.GaussianBlur(vals, (0, 0), rng.uniform(0.5, 0.9)) * 1.35, 0, 255)
    _ink(img, vals.astype(np.uint8), value_ink)
    stamp = _uneven(stamp_layer, rng, rng.uniform(0.35, 0.7), rng.uniform(0.0, 0.08))
    _ink(img, stamp, (rng.uniform(200, 240), rng.uniform(20, 70), rng.uniform(30, 80)), rng.uniform(0.55, 0.85))

    if rng.rand() < 0.35:  # fold crease: a dark valley with a bright ridge beside it
        vertical = rng.rand() < 0.6
        pos = rng.uniform(0.3, 0.7) * (W if vertical else H)
        coord = np.arange(W if vertical else H, dtype=np.float32) - pos
        prof = 1 - rng.uniform(0.06, 0.16) * np.exp(-(coord / rng.uniform(1.5, 4)) ** 2) \
            + rng.uniform(0.02, 0.05) * np.exp(-((coord - 6) / 5) ** 2)
        img *= (prof[None, :, None] if vertical else prof[:, None, None])

    # scanner: the page sits slightly rotated and shifted; corners show the lid
    angle = rng.uniform(-1.5, 1.5)
    M = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
    M[:, 2] += (rng.uniform(-0.012, 0.012) * W, rng.uniform(-0.012, 0.012) * H)
    lid = tuple(float(v) for v in (img[5, 5] * rng.uniform(0.85, 1.0)))
    img = cv2.warpAffine(np.clip(img, 0, 255), M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=lid)
    if rng.rand() < 0.5:  # uneven scanner illumination
        gx, gy = np.meshgrid(np.linspace(-1, 1, W, dtype=np.float32), np.linspace(-1, 1, H, dtype=np.float32))
        a = rng.uniform(0, 2 * np.pi)
        ramp = (gx * np.cos(a) + gy * np.sin(a) + 1.5) / 3.0
        img *= (1 - rng.uniform(0.05, 0.16) * ramp - rng.uniform(0.0, 0.06) * (gx ** 2 + gy ** 2))[..., None]
    if rng.rand() < 0.4:  # low-DPI scan, resampled back up
        f = rng.uniform(0.55, 0.85)
        small = cv2.resize(img, (int(W * f), int(H * f)), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    # scanner tone curve: washed-out or contrasty, sometimes grey-scale or near bi-level output
    img = np.clip(img, 0, 255)
    img = 255.0 * (img / 255.0) ** rng.uniform(0.8, 1.35)
    lo_, hi_ = rng.uniform(0, 35), rng.uniform(235, 262)
    img = lo_ + img * (hi_ - lo_) / 255.0
    mode = rng.rand()
    if mode < 0.25:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    elif mode < 0.32:  # bi-level scan: hard threshold, anti-aliased again by the optics below
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        thr = np.percentile(g[::8, ::8], 90) - rng.uniform(38, 55)  # just below the paper, as scanners set it
        white, black = rng.uniform(235, 252), rng.uniform(10, 50)
        img = np.repeat(np.where(g > thr, white, black).astype(np.float32)[..., None], 3, axis=2)
    img = cv2.GaussianBlur(img, (0, 0), 0.3 + 1.1 * rng.rand() ** 1.5)
    img += rng.normal(0, rng.uniform(1.5, 5.0), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)[:, :, ::-1]
    ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.randint(30, 86))])
    out = cv2.imdecode(enc, cv2.IMREAD_COLOR)

    lines = []
    for ln in page.lines:
        p = ln["polygon"] @ M[:, :2].T + M[:, 2]
        p[:, 0] = np.clip(p[:, 0], 0, W - 1)
        p[:, 1] = np.clip(p[:, 1], 0, H - 1)
        lines.append({"id": ln["id"], "polygon": [[round(float(x), 1), round(float(y), 1)] for x, y in p],
                      "text": ln["text"], "field": ln["field"], "role": ln["role"]})
    return out, {"seed": int(seed), "size": [W, H], "kind": c["kind"], "lines": lines}
