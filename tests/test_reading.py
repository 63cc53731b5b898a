"""Page-level reading of invoice fields on hand-built OCR boxes (no models): labels and values in
one box or two, same baseline or below, buyer vs seller blocks of paper invoices and 数电票, a
taxi receipt, pages that are no invoice; the normalisers and the capitals parser."""
import json
import os
from decimal import Decimal

import numpy as np
import pytest

from paddle_cam.datasets.invoices import amount_to_capital
from paddle_cam.invoice.labels import find_labels, header_side, value_format_ok
from paddle_cam.invoice.normalize import (format_amount, normalize_field, parse_amount, parse_capitals, parse_date,
                                          parse_rate)
from paddle_cam.invoice.reading import page_truth, read_fields, score_reading, span_polygon
from paddle_cam.invoice.schema import FIELD_CLASSES
from paddle_cam.ocr.pipeline import Box

CH = 24  # character size in px of the hand-built pages


def box(i, x, y, text, w=None, h=CH):
    """A horizontal line of ``text`` whose top-left corner is (x, y)."""
    w = w or CH * max(1, len(text))
    return Box(i, [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], 0.95, text, 0.95)


def vertical(start_id, x, y, chars, pitch=2 * CH):
    """A vertical header cut per character by the detector (one box per character)."""
    return [box(start_id + k, x, y + k * pitch, c, w=CH) for k, c in enumerate(chars)]


def paper_page(dot_matrix_offset=0):
    """A paper VAT invoice: vertical 购买方 / 销售方 headers, letter-spaced 名 称 split into boxes,
    values in their own boxes (offset downwards like a misregistered dot-matrix printer)."""
    o = dot_matrix_offset
    b = [box(0, 600, 20, "广东增值税专用发票")]
    b += [box(1, 1000, 20, "发票代码："), box(2, 1130, 20 + o, "4400198897"),
          box(3, 1000, 60, "发票号码："), box(4, 1130, 60 + o, "32779684"),
          box(5, 1000, 100, "开票日期："), box(6, 1130, 100 + o, "2019年12月10日"),
          box(7, 60, 100, "机器编号："), box(8, 180, 100 + o, "497344063999")]
    # seller block first in box order: the reader must not depend on it
    b += vertical(10, 20, 600, "销售方")
    b += [box(13, 60, 600, "名", w=CH), box(14, 130, 600, "称", w=CH), box(15, 160, 600, "：", w=12),
          box(16, 260, 600 + o, "深圳市汇通电子商务有限公司"),
          box(17, 60, 650, "纳税人识别号："), box(18, 260, 650 + o, "91440300MA5F5KP94F")]
    b += vertical(20, 20, 200, "购买方")
    b += [box(23, 60, 200, "名", w=CH), box(24, 130, 200, "称", w=CH), box(25, 160, 200, "：", w=12),
          box(26, 260, 200 + o, "成都联创供应链管理有限公司"),
          box(27, 60, 250, "纳税人识别号："), box(28, 260, 250 + o, "91510107MA61R2XA1Y"),
          box(29, 60, 300, "地址、电话："), box(30, 260, 300 + o, "成都市武侯区人民南路281号 028-81846943")]
    b += [box(40, 900, 380, "金额", w=2 * CH), box(41, 1050, 380, "税率", w=2 * CH), box(42, 1200, 380, "税额", w=2 * CH),
          box(43, 500, 380, "单价", w=2 * CH),
          box(44, 880, 420 + o, "1000.00", w=90), box(45, 1055, 420 + o, "13%", w=40), box(46, 1200, 420 + o, "130.00", w=80),
          box(47, 60, 480, "合", w=CH), box(48, 130, 480, "计", w=CH),
          box(49, 870, 480 + o, "¥1000.00", w=100), box(50, 1190, 480 + o, "¥130.00", w=90),
          box(51, 60, 530, "价税合计（大写）"), box(52, 300, 530 + o, "⊗壹仟壹佰叁拾元整"),
          box(53, 800, 530, "（小写）"), box(54, 900, 530 + o, "¥1,130.00")]
    return b


def probs_for(boxes, wanted):
    """A field classifier's output: ``wanted`` {box id: field} at 0.9, all else ``other``."""
    p = np.full((len(boxes), len(FIELD_CLASSES)), 0.01, np.float32)
    for i, b in enumerate(boxes):
        p[i, FIELD_CLASSES.index(wanted.get(b.id, "other"))] = 0.9
    return p


def test_label_and_value_in_one_box_keep_the_value_span():
    b = [box(0, 20, 20, "增值税电子普通发票"), box(1, 20, 80, "纳税人识别号：91440300MA5F5KP94F"),
         box(2, 20, 40, "发票号码：12345678")]
    r = read_fields(b)
    v = r.fields["buyer_tax_id"]
    assert v.value == "91440300MA5F5KP94F" and v.raw == "91440300MA5F5KP94F"
    assert v.box_id == 1 and v.span == (7, 25) and v.label_box_ids == [1] and v.label == "纳税人识别号"
    assert "label" in v.evidence and "format" in v.evidence
    assert b[1].text[v.span[0]:v.span[1]] == v.raw
    poly = span_polygon(b[1].polygon, b[1].text, v.span)
    assert poly[0][0] > b[1].polygon[0][0] and abs(poly[1][0] - b[1].polygon[1][0]) < 1e-6


@pytest.mark.parametrize("offset", [0, 14])
def test_paper_layout_same_baseline_blocks_and_split_labels(offset):
    r = read_fields(paper_page(offset))
    got = r.values()
    assert got["invoice_code"] == "4400198897" and got["invoice_number"] == "32779684"
    assert got["date"] == "2019-12-10"                    # not the 12-digit 机器编号 on the next row
    assert got["buyer_name"] == "成都联创供应链管理有限公司" and got["seller_name"] == "深圳市汇通电子商务有限公司"
    assert got["buyer_tax_id"] == "91510107MA61R2XA1Y" and got["seller_tax_id"] == "91440300MA5F5KP94F"
    assert r.fields["buyer_name"].block == "buyer" and "block" in r.fields["buyer_name"].evidence
    assert r.fields["buyer_name"].label_box_ids == [23, 24, 25]   # 名 / 称 / ： joined into one label
    assert got["amount"] == "1000.00" and got["tax"] == "130.00" and got["total"] == "1130.00"
    assert got["tax_rate"] == "13%"
    assert r.extras["total_capital"].value == "1130.00"
    assert r.kind == "vat"


def test_value_below_its_label_when_nothing_is_on_its_right():
    b = [box(0, 20, 10, "增值税普通发票"), box(1, 20, 60, "开票日期"), box(2, 20, 90, "2023-02-22"),
         box(3, 400, 60, "发票号码"), box(4, 520, 60, "96983379")]
    r = read_fields(b)
    assert r.fields["date"].value == "2023-02-22" and r.fields["date"].label_box_ids == [1]
    assert r.fields["invoice_number"].value == "96983379" and r.fields["invoice_number"].box_id == 4


def test_digital_invoice_side_by_side_blocks_20_digit_number_no_code():
    b = [box(0, 400, 20, "电子发票（增值税专用发票）"), box(1, 900, 20, "发票号码：25442000000123456789"),
         box(2, 900, 60, "开票日期：2024年01月11日")]
    b += vertical(10, 20, 120, "购买方信息", pitch=CH + 6)
    b += vertical(20, 520, 120, "销售方信息", pitch=CH + 6)
    b += [box(30, 60, 130, "名称：北京云杉数据科技有限公司"), box(31, 560, 130, "名称：上海博远物流有限公司"),
          box(32, 60, 200, "统一社会信用代码/纳税人识别号：91110105MA01ABCD13"),
          box(33, 560, 200, "统一社会信用代码/纳税人识别号：91310115MA1K4B2C3J"),
          box(40, 60, 300, "项目名称"), box(41, 600, 300, "金额", w=2 * CH), box(42, 750, 300, "税率/征收率"),
          box(43, 950, 300, "税额", w=2 * CH), box(44, 600, 340, "5000.00", w=90), box(45, 760, 340, "6%", w=30),
          box(46, 950, 340, "300.00", w=80),
          box(50, 60, 400, "合计"), box(51, 590, 400, "¥5000.00", w=100), box(52, 940, 400, "¥300.00", w=90),
          box(53, 60, 440, "价税合计（大写）"), box(54, 300, 440, "⊗伍仟叁佰元整"), box(55, 700, 440, "（小写）¥5300.00")]
    r = read_fields(b)
    got = r.values()
    assert r.kind == "digital" and got["invoice_number"] == "25442000000123456789" and got["invoice_code"] is None
    assert got["check_code"] is None
    assert got["buyer_name"] == "北京云杉数据科技有限公司" and got["seller_name"] == "上海博远物流有限公司"
    assert got["buyer_tax_id"] == "91110105MA01ABCD13" and got["seller_tax_id"] == "91310115MA1K4B2C3J"
    assert r.fields["seller_name"].block == "seller"
    assert (got["amount"], got["tax"], got["total"], got["tax_rate"]) == ("5000.00", "300.00", "5300.00", "6%")


@pytest.mark.parametrize("seller_header", ["tail", "tall"])
def test_digital_block_headers_as_ocr_cuts_them(seller_header):
    """Vertical 数电票 headers the detector cut into pieces and OCR partly lost: 购 + 方信 (买 lost)
    is the buyer's; the seller's is either only its tail 方 + 信 (the other party's header, right of
    the buyer's) or 销 + a tall box 售方信 + 息. Either way the seller's name is in the seller's block,
    not in the buyer's (the nearest header to its left without the fix)."""
    b = [box(0, 400, 20, "电子发票（普通发票）"), box(1, 900, 20, "发票号码：25442000000123456789"),
         box(2, 900, 60, "开票日期：2024年01月11日")]
    b += [box(10, 20, 120, "购", w=CH), box(11, 20, 190, "方信", w=CH, h=2 * CH)]
    if seller_header == "tail":
        b += [box(20, 520, 150, "方", w=CH), box(21, 520, 190, "信", w=CH)]
    else:
        b += [box(20, 520, 110, "销", w=CH), box(21, 520, 140, "售方信", w=CH, h=3 * CH), box(22, 520, 215, "息", w=CH)]
    b += [box(30, 60, 130, "名称：北京云杉数据科技有限公司"), box(31, 560, 130, "名称：上海博远物流有限公司"),
          box(32, 60, 200, "统一社会信用代码/纳税人识别号：91110105MA01ABCD13"),
          box(33, 560, 200, "统一社会信用代码/纳税人识别号：91310115MA1K4B2C3J")]
    r = read_fields(b)
    got = r.values()
    assert got["buyer_name"] == "北京云杉数据科技有限公司" and got["seller_name"] == "上海博远物流有限公司"
    assert got["buyer_tax_id"] == "91110105MA01ABCD13" and got["seller_tax_id"] == "91310115MA1K4B2C3J"
    assert r.fields["seller_name"].block == "seller" and r.fields["buyer_name"].block == "buyer"


def test_without_block_headers_the_first_block_is_the_buyer():
    b = [box(0, 20, 10, "增值税电子普通发票"), box(1, 20, 300, "名称：乙方科技有限公司"),
         box(2, 20, 100, "名称：甲方贸易有限公司")]
    r = read_fields(b)
    assert r.fields["buyer_name"].value == "甲方贸易有限公司" and r.fields["seller_name"].value == "乙方科技有限公司"
    assert "order" in r.fields["buyer_name"].evidence


def test_taxi_receipt_has_no_tax_id_and_its_amount_is_the_total():
    b = [box(0, 100, 20, "深圳市出租汽车统一发票"), box(1, 40, 80, "发票代码 144031909110"),
         box(2, 40, 120, "发票号码 12345678"), box(3, 40, 180, "电话"), box(4, 200, 180, "0755-12345678"),
         box(5, 40, 220, "车号"), box(6, 200, 220, "粤B12345"), box(7, 40, 260, "证号"),
         box(8, 200, 260, "440301198001011234"), box(9, 40, 300, "日期"), box(10, 200, 300, "2019-05-12"),
         box(11, 40, 340, "上车"), box(12, 200, 340, "08:15"), box(13, 40, 380, "金额"), box(14, 200, 380, "￥25.00"),
         box(15, 40, 420, "91440300MA5F5KP94F")]   # a stray id-like line with no label
    r = read_fields(b)
    got = r.values()
    assert r.kind == "receipt"
    assert got["buyer_tax_id"] is None and got["seller_tax_id"] is None
    assert got["invoice_code"] == "144031909110" and got["invoice_number"] == "12345678"
    assert got["date"] == "2019-05-12" and got["total"] == "25.00" and got["amount"] is None


def test_labels_beat_positions_and_the_classifier():
    """The issue's render: 发票号码 from '(小写)¥2169.00', 开票日期 from '发票代码：…', 购买方名称 from
    '校验码：…'. A classifier that says so must not win over the labels."""
    b = [box(0, 300, 10, "广东增值税电子普通发票"), box(1, 900, 40, "发票代码：044032100111"),
         box(2, 900, 80, "发票号码：12345678"), box(3, 900, 120, "开票日期：2021年03月04日"),
         box(4, 900, 160, "校验码：04530 12345 67890 12345"), box(5, 60, 220, "名称：深圳市甲乙丙科技有限公司"),
         box(6, 60, 600, "价税合计（大写）"), box(7, 300, 600, "⊗贰仟壹佰陆拾玖元整"), box(8, 800, 600, "（小写）¥2169.00")]
    p = probs_for(b, {8: "invoice_number", 1: "date", 4: "buyer_name", 2: "total"})
    r = read_fields(b, p, FIELD_CLASSES)
    got = r.values()
    assert got["invoice_number"] == "12345678" and got["date"] == "2021-03-04"
    assert got["invoice_code"] == "044032100111" and got["check_code"] == "04530123456789012345"
    assert got["buyer_name"] == "深圳市甲乙丙科技有限公司" and got["total"] == "2169.00"


def test_classifier_nominates_a_value_no_label_reached():
    b = [box(0, 20, 10, "增值税普通发票"), box(1, 20, 200, "成都联创供应链管理有限公司"), box(2, 20, 60, "发票号码：12345678")]
    r = read_fields(b, probs_for(b, {1: "seller_name"}), FIELD_CLASSES)
    assert r.fields["seller_name"].value == "成都联创供应链管理有限公司"
    assert r.fields["seller_name"].evidence[0] == "classifier" and r.fields["seller_name"].label is None
    assert "seller_name" not in read_fields(b).fields


def test_mixed_item_rates_give_no_page_rate():
    b = paper_page()
    b[[x.id for x in b].index(45)] = box(45, 1055, 420, "6%", w=40)
    b.append(box(60, 1055, 450, "13%", w=40))
    r = read_fields(b)
    assert "tax_rate" not in r.fields and any("different tax rates" in n for n in r.notes)


def test_pages_that_are_no_invoice_or_have_no_text():
    r = read_fields([])
    assert r.kind == "empty" and r.fields == {} and r.flags[0]["kind"] == "no_text"
    r = read_fields([box(0, 10, 10, ""), box(1, 10, 50, "   ")])
    assert r.kind == "empty"
    r = read_fields([box(0, 10, 10, "会议纪要"), box(1, 10, 50, "2024年01月11日 下午三点"), box(2, 10, 90, "参会人员：张三")])
    assert r.kind == "not_invoice" and r.fields == {} and r.flags[0]["kind"] == "not_invoice"


def test_label_lexicon_spacing_colons_traditional_and_ocr_errors():
    assert [m.wording for m in find_labels("名　　称:ABC")] == ["名称"]
    assert [m.wording for m in find_labels("納稅人識別號 123")] == ["纳税人识别号"]
    assert [m.wording for m in find_labels("纳税人识荆号；123")] == ["纳税人识别号"]
    assert [m.wording for m in find_labels("发票号码：1")] == ["发票号码"]     # not a misread 发票代码
    assert find_labels("*信息技术服务*软件开发服务") == []
    assert header_side("购 买 方") == "buyer" and header_side("销售方信息") == "seller"
    assert header_side("销售方（章）") is None
    assert value_format_ok("seller_tax_id", "440300123456789") and not value_format_ok("seller_tax_id", "4403001234")
    assert value_format_ok("invoice_code", "044032100111") and not value_format_ok("invoice_number", "1234567")


def test_normalisers():
    assert parse_date("2024年01月11日") == parse_date("2024-1-11") == parse_date("20240111") == "2024-01-11"
    assert parse_date("2024/01/11") == "2024-01-11" and parse_date("2023年02月30日") is None
    assert format_amount(parse_amount("（小写）￥1,299,157.07")) == "1299157.07"
    assert format_amount(parse_amount("¥ 2169")) == "2169.00"
    assert format_amount(parse_amount("￥1.018,648.86")) == "1018648.86"   # a comma read as a point
    assert parse_rate("13%") == parse_rate("13 ％") == "13%" and parse_rate("免税") == "免税"
    assert parse_rate("不征税") == "不征税" and parse_rate("1.50%") == "1.5%"
    assert normalize_field("buyer_tax_id", "9144 0300ma5f5kp94f") == "91440300MA5F5KP94F"
    assert normalize_field("check_code", "04530 12345 67890 12345") == "04530123456789012345"


def test_capitals_parser_round_trips_the_generator_on_random_amounts():
    rng = np.random.RandomState(0)
    for k in range(3000):
        digits = int(rng.randint(1, 13))
        cents = int(rng.randint(0, 10 ** min(digits, 9))) * 10 ** max(0, digits - 9) + int(rng.randint(0, 100))
        if rng.rand() < 0.2:   # zeros inside: 1005.07, 100010000
            cents = int("".join(c if rng.rand() < 0.5 else "0" for c in str(cents)))
        v = (Decimal(cents) / 100).quantize(Decimal("0.01"))
        if v >= 10 ** 12:
            continue
        v = -v if rng.rand() < 0.05 else v
        assert parse_capitals(amount_to_capital(v)) == v, (v, amount_to_capital(v))
    assert parse_capitals("壹万贰仟叁佰肆拾伍圆陆角柒分") == Decimal("12345.67")
    assert parse_capitals("⊗壹拾万零壹佰元正") == Decimal("100100.00")
    assert parse_capitals("伍元伍") is None and parse_capitals("hello") is None


def test_page_truth_of_a_demo_page(root):
    with open(os.path.join(root, "demo_docs", "invoices", "invoice_0101.json"), encoding="utf-8") as f:
        gt = json.load(f)
    t = page_truth(gt)
    assert t["invoice_number"] == "56655174" and t["invoice_code"] == "3100249848" and t["date"] == "2024-12-16"
    assert t["amount"] == "22374.07" and t["tax"] == "1365.14" and t["total"] == "23739.21"
    assert t["buyer_name"] == "成都联创供应链管理有限公司" and "tax_rate" not in t   # the items' rates differ
    # the ground truth's own lines, read as if OCR were perfect, give the truth back
    boxes = [Box(i, ln["polygon"], 1.0, ln["text"], 1.0) for i, ln in enumerate(gt["lines"])]
    scored = score_reading(read_fields(boxes), t)
    assert all(x["correct"] for x in scored.values()), scored


@pytest.mark.parametrize("module", ["normalize", "labels", "crosscheck", "reading", "label_context", "repair"])
def test_docstring_examples(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(f"paddle_cam.invoice.{module}"))
    assert res.attempted > 0 and res.failed == 0


def test_tax_ids_after_labels_ocr_garbled_keep_their_order():
    b = [box(0, 300, 10, "江苏增值税普通发票"), box(1, 40, 100, "一社会代品#人91110105MAQA95MU1D"),
         box(2, 40, 400, "线一社信用代码规人识号93320505MAP2EP7N1N"), box(3, 700, 420, "93320505MAP2EP7N1N")]
    got = read_fields(b).values()   # box 3: the seal repeats the seller's id; no label, no block: no party's
    assert got["buyer_tax_id"] == "91110105MAQA95MU1D" and got["seller_tax_id"] == "93320505MAP2EP7N1N"


def test_tax_id_repair_restores_look_alikes_and_refuses_the_rest():
    """Valid random codes with one character replaced: by a look-alike, the repair must restore
    nearly all and never invent another code; by any other character, it must mostly refuse."""
    import random

    from paddle_cam.invoice.crosscheck import USCC_ALPHABET, uscc_check_digit
    from paddle_cam.invoice.repair import _LOOKALIKES, repair_tax_id

    rng = random.Random(0)
    stats = {"look-alike": [0, 0, 0], "any": [0, 0, 0]}   # restored, another code, refused
    for _ in range(1500):
        s = rng.choice("159") + rng.choice("123") + "".join(rng.choice("0123456789") for _ in range(6)) \
            + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = s + uscc_check_digit(s)
        i = rng.randrange(18)
        for kind, alts in (("look-alike", _LOOKALIKES.get(code[i], "")), ("any", USCC_ALPHABET.replace(code[i], ""))):
            if not alts:
                continue
            r = repair_tax_id(code[:i] + rng.choice(alts) + code[i + 1:])
            stats[kind][0 if r == code else 2 if r is None else 1] += 1
    ok, wrong, refused = stats["look-alike"]
    assert ok / (ok + wrong + refused) > 0.85 and wrong == 0, stats
    ok, wrong, refused = stats["any"]
    assert refused / (ok + wrong + refused) > 0.75, stats


def test_page_reading_repairs_and_flags_what_its_fields_allow():
    b = [box(0, 300, 10, "江苏增值税专用发票"), box(1, 40, 100, "名称：甲公司"),
         box(2, 40, 140, "纳税人识别号：91310101MA0WHW7Y26"),    # 0 read for D
         box(3, 40, 400, "合计"), box(4, 500, 400, "¥279408.59"), box(5, 800, 400, "¥26546"),  # decimals lost
         box(6, 40, 440, "价税合计（大写）"), box(7, 500, 440, "（小写）¥305955.30")]
    r = read_fields(b)
    got = r.values()
    assert got["buyer_tax_id"] == "91310101MADWHW7Y26" and got["tax"] == "26546.71", got
    flags = {f["field"]: f for f in r.flags if f["kind"] == "repaired"}
    assert flags["tax"]["read"] == "26546.00" and flags["tax"]["raw"] == "¥26546" and "decimals" in flags["tax"]["by"]
    assert flags["buyer_tax_id"]["read"] == "91310101MA0WHW7Y26"
    assert "repaired" in r.fields["tax"].evidence
    # the same page with the tax read whole: nothing to repair, nothing flagged
    b[5] = box(5, 800, 400, "¥26546.71")
    b[2] = box(2, 40, 140, "纳税人识别号：91310101MADWHW7Y26")
    assert not [f for f in read_fields(b).flags if f["kind"] == "repaired"]


def test_summary_counts_repairs_and_the_page_table_shows_the_reading_as_read():
    from paddle_cam.sinks.qa_report import reading_summary, reading_table_html

    b = [box(0, 300, 10, "江苏增值税专用发票"), box(1, 40, 140, "纳税人识别号：91310101MA0WHW7Y26")]
    r = read_fields(b)
    row = {"page": "p", "reading": r.to_dict(), "flags": r.flags, "report": "/x/p/report.json"}
    assert reading_summary([row])["repaired_fields"] == {"buyer_tax_id": 1}
    html = reading_table_html(row)
    assert "repaired: read 91310101MA0WHW7Y26" in html and "91310101MADWHW7Y26" in html
