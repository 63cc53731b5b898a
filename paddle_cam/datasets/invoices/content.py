"""What an invoice says: amounts in figures and capitals, fake companies with valid tax ids,
items, codes and remarks, all drawn from one random state."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

KINDS = ("增值税专用发票", "增值税普通发票")


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


def make_tax_id(rng: np.random.RandomState, area: str, head: Optional[str] = None) -> str:
    """18-char 统一社会信用代码 with valid 组织机构代码 and GB 32100 check characters.

    ``head``: registration authority and kind (``"11"`` for a government body such as a tax office);
    a company's ``9x`` by default.
    """
    head = head or "9" + _pick(rng, "1111123")
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


def _tax_office(rng: np.random.RandomState, region) -> Dict[str, str]:
    """A tax office as the seller of a 代开 invoice (issued by the bureau for a small taxpayer)."""
    district = _pick(rng, region[6])
    name = f"国家税务总局{region[4]}市{district}税务局" + _pick(rng, ("", "", "第一税务所", "第二税务分局"))
    addr = f"{region[4]}市{district}{_pick(rng, region[7])}{rng.randint(1, 300)}号 {region[5]}-{_digits(rng, 8, True)}"
    return {"name": name, "tax_id": make_tax_id(rng, _pick(rng, region[3]), head="11"), "address": addr, "bank": ""}


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


def invoice_content(rng: np.random.RandomState, kind: Optional[str] = None, daikai: float = 0.0) -> dict:
    """Everything printed on one invoice (kind, codes, parties, items, totals, remarks, signatures).

    ``kind``: one of :data:`KINDS` (drawn when None); ``daikai``: probability of a 代开 invoice, issued
    by the tax office for a small taxpayer: the office is the seller, the real seller's tax id and name
    go to 备注 (``c["daikai"]`` holds that real seller, None otherwise).
    """
    r = rng.rand()
    if kind is None:
        kind = KINDS[int(r < 0.45)]
    if kind not in KINDS:
        raise ValueError(f"invoice kind {kind!r} is not one of {', '.join(KINDS)}")
    seller_region, buyer_region = _pick(rng, _REGIONS), _pick(rng, _REGIONS)
    year = int(rng.randint(2013, 2026))
    month, day = int(rng.randint(1, 13)), int(rng.randint(1, 29))
    code_tail = f"{year % 100:02d}" + _digits(rng, 4 if kind == KINDS[0] else 6)
    items = _items(rng, int(rng.randint(1, 6)))
    amount_total = sum((it["_amount"] for it in items), Decimal("0.00"))
    tax_total = sum((it["_tax"] for it in items), Decimal("0.00"))
    check = _digits(rng, 20)
    fill = {"y": year, "m": f"{month:02d}", "n4": _digits(rng, 4), "n6": _digits(rng, 6), "n12": _digits(rng, 12),
            "city": seller_region[4], "district": _pick(rng, seller_region[6])}
    remarks = [_REMARKS[i].format(**fill) for i in rng.permutation(len(_REMARKS))[:int(rng.choice([0, 1, 1, 2]))]]
    seller = _party(rng, seller_region)
    real_seller = None
    if rng.rand() < daikai:
        real_seller, seller = seller, _tax_office(rng, seller_region)
        colon = _pick(rng, ("：", "：", ":"))
        marks = [f"代开企业税号{colon}{real_seller['tax_id']}", f"代开企业名称{colon}{real_seller['name']}"]
        if rng.rand() < 0.3:
            marks.append(f"完税凭证号{colon}{_digits(rng, 18, True)}")
        remarks = marks + remarks[:3 - len(marks)]
    copies = ("发票联", "抵扣联", "记账联") if kind == KINDS[0] else ("发票联", "记账联")
    return {
        "kind": kind, "region": seller_region,
        "title": f"{seller_region[0]}{kind}",
        "copy": copies[int(rng.choice(len(copies), p=(0.5, 0.3, 0.2) if len(copies) == 3 else (0.75, 0.25)))],
        "code": seller_region[2] + code_tail,
        "number": _digits(rng, 8),
        "date": f"{year}年{month:02d}月{day:02d}日",
        "check": " ".join(check[i:i + 5] for i in range(0, 20, 5)),
        "machine": "49" + _digits(rng, 10),
        "buyer": _party(rng, buyer_region), "seller": seller, "daikai": real_seller,
        "password": ["".join(_pick(rng, _PW) for _ in range(28)) for _ in range(4)],
        "items": items, "amount_total": amount_total, "tax_total": tax_total,
        "total": amount_total + tax_total, "remarks": remarks,
        "payee": _person(rng), "reviewer": _person(rng), "drawer": _person(rng),
    }
