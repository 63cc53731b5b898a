"""Electronic and non-VAT document families (增值税电子普通发票, 数电票, taxi receipts, railway e-tickets):
determinism, ground-truth geometry over ink, value spans, the fields each document carries, and
the arithmetic of the printed values."""
import re
import time
from decimal import Decimal

import numpy as np
import pytest

from paddle_cam.datasets.invoices import FIELDS, ROLES, amount_to_capital
from paddle_cam.datasets.invoices.digital import KINDS as DIGITAL_KINDS
from paddle_cam.datasets.invoices.digital import render_digital
from paddle_cam.datasets.invoices.electronic import render_e_normal
from paddle_cam.datasets.invoices.receipts import TAXI_KINDS, TRAIN_KIND, render_taxi, render_train

RENDERERS = {"vat_e_normal": render_e_normal, "digital": render_digital, "taxi": render_taxi, "train": render_train}
SEEDS = (0, 1, 2, 7, 11, 42)
VAT_FIELDS = {"invoice_number", "date", "buyer_name", "buyer_tax_id", "seller_name", "seller_tax_id",
              "item_amount", "item_tax_rate", "item_tax", "amount_total", "tax_total", "total_capital",
              "total_figures"}
EXPECTED = {
    "vat_e_normal": VAT_FIELDS | {"invoice_code", "check_code"},
    "digital": VAT_FIELDS,
    "taxi": {"invoice_code", "invoice_number", "date", "total_figures"},
    "train": {"invoice_number", "date", "total_figures", "buyer_name", "buyer_tax_id"},
}
ABSENT = {
    "vat_e_normal": set(),
    "digital": {"invoice_code", "check_code", "password"},
    "taxi": {"buyer_name", "buyer_tax_id", "seller_name", "seller_tax_id", "check_code", "total_capital",
             "amount_total", "tax_total", "item_amount"},
    "train": {"invoice_code", "check_code", "seller_name", "seller_tax_id", "total_capital", "amount_total",
              "tax_total"},
}


@pytest.fixture(scope="module")
def pages():
    return {(fam, s): fn(np.random.RandomState(s)) for fam, fn in RENDERERS.items() for s in SEEDS}


def value_text(line: dict) -> str:
    """The value part of a value line: its span when the label shares the line."""
    if "value_span" in line:
        a, b = line["value_span"]
        return line["text"][a:b]
    return line["text"]


def values(lines, field):
    return [value_text(ln) for ln in lines if ln["role"] == "value" and ln["field"] == field]


def amount(s: str) -> Decimal:
    return Decimal(re.sub(r"[¥￥,元\s]", "", s))


@pytest.mark.parametrize("family", sorted(RENDERERS))
def test_deterministic_from_seed(family):
    fn = RENDERERS[family]
    a_page, a_lines, a_info = fn(np.random.RandomState(5))
    b_page, b_lines, b_info = fn(np.random.RandomState(5))
    assert np.array_equal(a_page, b_page) and a_lines == b_lines and a_info == b_info
    c_page, c_lines, _ = fn(np.random.RandomState(6))
    assert c_page.shape != a_page.shape or not np.array_equal(c_page, a_page)


def test_page_format_and_kinds(pages):
    for (fam, _), (page, lines, info) in pages.items():
        assert page.dtype == np.uint8 and page.ndim == 3 and page.shape[2] == 3
        assert info["medium"] == "pdf"
        h, w = page.shape[:2]
        if fam in ("vat_e_normal", "digital", "train"):
            assert 1400 <= w <= 2000 and 1.3 < w / h < 1.9, (fam, w, h)
        else:
            assert h > 1.3 * w  # a narrow receipt
        kinds = {"vat_e_normal": ("增值税电子普通发票",), "digital": DIGITAL_KINDS, "taxi": TAXI_KINDS,
                 "train": (TRAIN_KIND,)}[fam]
        assert info["kind"] in kinds
        titles = [ln["text"] for ln in lines if ln["role"] == "title"]
        assert any(info["kind"] in t or t in info["kind"] for t in titles), (fam, titles)
        assert [ln["id"] for ln in lines] == list(range(len(lines)))
        for ln in lines:
            assert ln["field"] in FIELDS and ln["role"] in ROLES and ln["text"].strip()


def test_polygons_inside_page_and_over_ink(pages):
    for (fam, seed), (page, lines, _) in pages.items():
        h, w = page.shape[:2]
        paper = np.median(page.reshape(-1, 3), axis=0)
        diff = (paper[None, None, :].astype(int) - page.astype(int)).max(axis=2)
        ink, faint = diff > 60, diff > 12  # faint: anti-aliased edges of light print count as ink
        for ln in lines:
            p = np.asarray(ln["polygon"])
            assert p.shape == (4, 2)
            # strictly inside: a polygon touching the border was clipped, i.e. text ran off the page
            assert (p[:, 0] > 0).all() and (p[:, 0] < w - 1).all(), (fam, seed, ln)
            assert (p[:, 1] > 0).all() and (p[:, 1] < h - 1).all(), (fam, seed, ln)
            x0, y0 = np.floor(p.min(axis=0)).astype(int)
            x1, y1 = np.ceil(p.max(axis=0)).astype(int)
            assert x1 - x0 >= 4 and y1 - y0 >= 4
            cover = ink[y0:y1 + 1, x0:x1 + 1].mean()
            assert cover > 0.03, (fam, seed, ln["text"], cover)
            # the box is tight: its outer rows and columns hold ink
            box = faint[y0:y1 + 1, x0:x1 + 1]
            if ln["field"] not in ("stamp",) and not (ln["role"] == "other" and ln["field"] == "other"):
                assert box[:, :3].any() and box[:, -3:].any() and box[:3].any() and box[-3:].any(), (fam, ln)


def test_value_span_covers_value(pages):
    spans = 0
    for (fam, _), (page, lines, _) in pages.items():
        for ln in lines:
            if "value_span" not in ln:
                continue
            spans += 1
            a, b = ln["value_span"]
            assert ln["role"] == "value" and 0 < a < b <= len(ln["text"]), ln
            label, val = ln["text"][:a], ln["text"][a:b]
            assert label.strip() and val.strip() and val == val.strip(), ln
            assert not re.search(r"[：:]", val[:1]), ln
    assert spans > 20  # label and value share a line on a good share of the pages


def test_expected_fields_per_family(pages):
    for (fam, seed), (page, lines, _) in pages.items():
        present = {ln["field"] for ln in lines if ln["role"] == "value"}
        expected = set(EXPECTED[fam])
        if fam in ("vat_e_normal", "digital") and "公司" not in values(lines, "buyer_name")[0]:
            # a private buyer: the 纳税人识别号 label stands empty
            expected.discard("buyer_tax_id")
            assert "buyer_tax_id" not in present
            assert [ln for ln in lines if ln["field"] == "buyer_tax_id" and ln["role"] == "label"]
        assert expected <= present, (fam, seed, expected - present)
        assert not (ABSENT[fam] & {ln["field"] for ln in lines}), (fam, seed, ABSENT[fam] & present)


def test_value_formats(pages):
    for (fam, seed), (page, lines, _) in pages.items():
        for v in values(lines, "invoice_number"):
            assert re.fullmatch(r"\d{20}" if fam in ("digital", "train") else r"\d{8}", v), (fam, v)
        for v in values(lines, "invoice_code"):
            assert re.fullmatch(r"\d{12}", v), (fam, v)
        for v in values(lines, "check_code"):
            assert re.fullmatch(r"\d{5}( \d{5}){3}", v), v
        for v in values(lines, "date"):
            assert re.fullmatch(r"(\d{4}年\d\d月\d\d日|\d{4}-\d\d-\d\d|\d\d-\d\d-\d\d)", v), (fam, v)
        for f in ("buyer_tax_id", "seller_tax_id"):
            for v in values(lines, f):
                assert re.fullmatch(r"[0-9A-Z]{18}", v), (fam, f, v)


def test_totals_are_consistent(pages):
    for (fam, seed), (page, lines, _) in pages.items():
        figures = values(lines, "total_figures")
        assert len(figures) == 1, (fam, seed, figures)
        total = amount(figures[0])
        assert total > 0
        if fam in ("vat_e_normal", "digital"):
            assert values(lines, "total_capital") == [amount_to_capital(total)]
            amount_total = amount(values(lines, "amount_total")[0])
            tax = values(lines, "tax_total")[0]
            tax_total = Decimal(0) if tax == "***" else amount(tax)
            assert amount_total + tax_total == total, (fam, seed)
            assert sum(amount(v) for v in values(lines, "item_amount")) == amount_total
            item_tax = sum(amount(v) for v in values(lines, "item_tax") if v != "***")
            assert item_tax == tax_total


def test_labels_joined_or_apart_and_spaced_vary():
    """Across pages a field's label shares its value's line on some and stands alone on others, and
    labels are letter-spaced (名　　称) on some."""
    widths = set()
    for fam, field in (("vat_e_normal", "buyer_name"), ("digital", "seller_tax_id"), ("taxi", "date")):
        kinds = set()
        for s in range(10):
            lines = RENDERERS[fam](np.random.RandomState(s))[1]
            kinds |= {"joined" if "value_span" in ln else ln["role"] for ln in lines if ln["field"] == field}
            for ln in lines:
                if fam == "vat_e_normal" and ln["field"] == field and ln["role"] == "label":
                    p = np.asarray(ln["polygon"])
                    widths.add(round((p[1, 0] - p[0, 0]) / (p[2, 1] - p[1, 1])))  # width in character heights
        assert {"joined", "label"} <= kinds, (fam, field, kinds)
    assert len(widths) >= 2, widths  # 名称 drawn tight on some pages, spread wide on others


def test_renders_are_fast():
    for fn in RENDERERS.values():
        fn(np.random.RandomState(99))  # fonts loaded and cached
        t = time.perf_counter()
        for s in range(3):
            fn(np.random.RandomState(100 + s))
        assert (time.perf_counter() - t) / 3 < 2.0
