"""Synthetic VAT invoices: determinism, geometry of the ground truth, amounts, and the CLI."""
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import cv2
import numpy as np
import pytest

from paddle_cam.datasets.invoices import FIELDS, KINDS, ROLES, amount_to_capital, render_invoice

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "make_demo_docs.py")
SEEDS = (0, 3, 100, 101, 112)


@pytest.fixture(scope="module")
def pages():
    return {s: render_invoice(s) for s in SEEDS}


def ref_capital(amount) -> str:
    """Independent conversion: spell every digit with its unit, then collapse zeros with regexes."""
    d = "零壹贰叁肆伍陆柒捌玖"
    units = ["", "拾", "佰", "仟", "万", "拾", "佰", "仟", "亿", "拾", "佰", "仟"]
    cents = int((abs(Decimal(str(amount))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    y, j, f = cents // 100, cents // 10 % 10, cents % 10
    s = ""
    if y:
        s = "".join(d[int(ch)] + units[i] for i, ch in reversed(list(enumerate(reversed(str(y))))))
        s = re.sub("零[拾佰仟]", "零", s)
        s = re.sub("零+", "零", s)
        s = s.replace("亿零万", "亿零")  # an all-zero 万 group between 亿 and the rest reads as one 零
        s = re.sub("零(万|亿)", r"\1", s)
        s = re.sub("零+", "零", s).rstrip("零") + "元"
    if j == 0 and f == 0:
        s += "整" if y else "零元整"
    else:
        s += (d[j] + "角") if j else ("零" if y else "")
        s += (d[f] + "分") if f else ""
    return ("负" if Decimal(str(amount)) < 0 else "") + s


KNOWN = [
    ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    ("100", "壹佰元整"),
    ("1005.07", "壹仟零伍元零柒分"),
    ("10", "壹拾元整"),
    ("0", "零元整"),
    ("0.56", "伍角陆分"),
    ("0.07", "柒分"),
    ("1200.50", "壹仟贰佰元伍角"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("100100", "壹拾万零壹佰元整"),
    ("10000.01", "壹万元零壹分"),
    ("10000.005", "壹万元零壹分"),  # half-up to fen, not banker's rounding
    ("108000", "壹拾万捌仟元整"),
    ("107000.53", "壹拾万柒仟元伍角叁分"),
    ("97308044.58", "玖仟柒佰叁拾万捌仟零肆拾肆元伍角捌分"),
    ("100000000", "壹亿元整"),
    ("100001000", "壹亿零壹仟元整"),
    ("100010000", "壹亿零壹万元整"),
    ("101000000", "壹亿零壹佰万元整"),
    ("2000000001", "贰拾亿零壹元整"),
    ("858009.91", "捌拾伍万捌仟零玖元玖角壹分"),
    ("-12.30", "负壹拾贰元叁角"),
]


@pytest.mark.parametrize("amount,expected", KNOWN)
def test_capital_known_amounts(amount, expected):
    assert amount_to_capital(amount) == expected
    assert ref_capital(amount) == expected  # the reference used below agrees on the known cases


def test_capital_matches_reference_on_random_amounts():
    rng = np.random.RandomState(0)
    for _ in range(3000):
        # sparse digit strings so that runs of zeros hit every position and group boundary
        digits = "".join(str(rng.randint(1, 10)) if rng.rand() < 0.35 else "0" for _ in range(rng.randint(1, 13)))
        amount = Decimal(int(digits)) + Decimal(int(rng.randint(0, 100))) / 100
        assert amount_to_capital(amount) == ref_capital(amount), amount
    with pytest.raises(ValueError):
        amount_to_capital(10 ** 12)


def test_deterministic():
    a, ga = render_invoice(42)
    b, gb = render_invoice(42)
    assert a.tobytes() == b.tobytes() and ga == gb
    c, _ = render_invoice(43)
    assert a.shape != c.shape or a.tobytes() != c.tobytes()


def test_ground_truth_schema(pages):
    kinds = set()
    for seed, (img, gt) in pages.items():
        w, h = gt["size"]
        assert img.dtype == np.uint8 and img.shape == (h, w, 3)
        assert 1400 <= w <= 1800 and abs(w / h - 240 / 140) < 0.01
        assert gt["seed"] == seed and gt["kind"] in KINDS
        kinds.add(gt["kind"])
        assert [ln["id"] for ln in gt["lines"]] == list(range(len(gt["lines"])))
        for ln in gt["lines"]:
            assert ln["field"] in FIELDS and ln["role"] in ROLES and ln["text"].strip()
            assert np.asarray(ln["polygon"]).shape == (4, 2)
        have = {(ln["field"], ln["role"]) for ln in gt["lines"]}
        for f in ("invoice_code", "invoice_number", "date", "check_code", "buyer_name", "buyer_tax_id", "buyer_address",
                  "buyer_bank", "seller_name", "seller_tax_id", "seller_address", "seller_bank", "item_amount",
                  "item_tax_rate", "item_tax", "amount_total", "total_capital", "total_figures",
                  "payee", "reviewer", "drawer"):
            assert (f, "label") in have and (f, "value") in have, (seed, f)
        assert ("tax_total", "value") in have  # 合计 labels the whole row; it is filed under amount_total
        assert ("title", "title") in have and ("item_name", "value") in have and ("password", "value") in have
        assert sum(ln["field"] == "stamp" for ln in gt["lines"]) >= 3
        title = next(ln["text"] for ln in gt["lines"] if ln["role"] == "title")
        assert title.endswith(gt["kind"])
    assert kinds == set(KINDS)


def test_polygons_inside_page(pages):
    for _, (_, gt) in pages.items():
        w, h = gt["size"]
        p = np.array([ln["polygon"] for ln in gt["lines"]])
        assert (p[..., 0] >= 0).all() and (p[..., 0] <= w - 1).all()
        assert (p[..., 1] >= 0).all() and (p[..., 1] <= h - 1).all()
        # boxes are real lines of text, not slivers or whole-page boxes
        sides = np.linalg.norm(p - np.roll(p, 1, axis=1), axis=2)
        assert sides.min() >= 3 and sides.max() < 0.5 * w


def _mask(poly, shape):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly)).astype(np.int32)], 1)
    return m.astype(bool)


def test_ink_inside_light_outside(pages):
    for seed, (img, gt) in pages.items():
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        paper = np.median(g)
        for field in ("invoice_number", "buyer_name", "seller_tax_id", "total_capital", "item_amount"):
            ln = next(x for x in gt["lines"] if x["field"] == field and x["role"] == "value")
            ink = g[_mask(ln["polygon"], g.shape)]
            assert ink.min() < paper - 60, (seed, field, int(ink.min()), paper)
            assert ink.mean() < paper - 8, (seed, field)
        title = next(x for x in gt["lines"] if x["role"] == "title")
        assert g[_mask(title["polygon"], g.shape)].min() < paper - 60
        inside = np.zeros(g.shape, bool)
        for ln in gt["lines"]:
            inside |= _mask(ln["polygon"], g.shape)
        outside = g[~cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)]
        # only the thin grid, the QR block and stamp rings are dark outside the text boxes
        assert (outside > 150).mean() > 0.93, seed


def test_amounts_consistent(pages):
    for seed, (_, gt) in pages.items():
        by = {}
        for ln in gt["lines"]:
            if ln["role"] == "value":
                by.setdefault(ln["field"], []).append(ln["text"])
        amounts = [Decimal(t) for t in by["item_amount"]]
        taxes = [Decimal(t) for t in by["item_tax"] if t != "***"]
        for a, r, t in zip(amounts, by["item_tax_rate"], by["item_tax"]):
            expect = "***" if r == "免税" else str((a * Decimal(r[:-1]) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
            assert t == expect, (seed, a, r, t)
        assert Decimal(by["amount_total"][0].lstrip("¥")) == sum(amounts)
        assert Decimal(by["tax_total"][0].lstrip("¥")) == sum(taxes, Decimal("0.00"))
        figures = by["total_figures"][0]
        assert re.fullmatch(r"¥\d{1,3}(,\d{3})*\.\d\d", figures), figures
        total = Decimal(figures[1:].replace(",", ""))
        assert total == sum(amounts) + sum(taxes, Decimal("0.00"))
        assert by["total_capital"] == [ref_capital(total)]


def test_cli_writes_pairs(tmp_path):
    out = tmp_path / "inv"
    p = subprocess.run([sys.executable, TOOL, "--num", "2", "--seed", "7", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["invoice_0007.jpg", "invoice_0007.json", "invoice_0008.jpg", "invoice_0008.json"]
    for seed in (7, 8):
        gt = json.loads((out / f"invoice_{seed:04d}.json").read_text(encoding="utf-8"))
        _, expected = render_invoice(seed)
        assert gt == json.loads(json.dumps(expected))
        jpg = out / f"invoice_{seed:04d}.jpg"
        assert os.path.getsize(jpg) < 400 * 1024
        img = cv2.imread(str(jpg))
        assert img is not None and list(img.shape[1::-1]) == gt["size"]


def test_cli_bad_num(tmp_path):
    p = subprocess.run([sys.executable, TOOL, "--num", "0", "--out", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--num" in p.stderr


def test_cli_config_and_misspelt_key(tmp_path):
    """Defaults come from configs/make_demo_docs.yml; -c and -o change them; a misspelt key exits 2
    with the closest keys before anything is rendered."""
    cfg = tmp_path / "docs.yml"
    cfg.write_text("Global:\n  num: 1\n  seed: 5\nOutput:\n  jpeg_quality: 50\n", encoding="utf-8")
    out = tmp_path / "inv"
    p = subprocess.run([sys.executable, TOOL, "-c", str(cfg), "-o", f"Global.output={out}"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["invoice_0005.jpg", "invoice_0005.json"]
    bad = tmp_path / "bad"
    p = subprocess.run([sys.executable, TOOL, "--out", str(bad), "-o", "Global.nmu=2"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "Global.num" in p.stderr and not bad.exists()


def test_ground_truth_loader(tmp_path):
    """One loader for every tool: <image>.json beside the image when it is the generator's record."""
    from paddle_cam.datasets.ground_truth import find_labelled_pages, load_ground_truth
    from paddle_cam.errors import InputError

    img, gt = render_invoice(7)
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    for path in (tmp_path / "b" / "p.jpg", tmp_path / "a" / "q.png", tmp_path / "r.jpg", tmp_path / ".hidden" / "s.jpg",
                 tmp_path / "a" / "nogt.jpg", tmp_path / "a" / "other.jpg"):
        cv2.imwrite(str(path), img)
        if path.stem not in ("nogt", "other"):
            path.with_suffix(".json").write_text(json.dumps(gt), encoding="utf-8")
    (tmp_path / "a" / "other.json").write_text('{"labels": []}', encoding="utf-8")  # some other JSON
    pages = find_labelled_pages(str(tmp_path))
    assert [os.path.relpath(p, tmp_path) for p, _ in pages] == ["r.jpg", os.path.join("a", "q.png"),
                                                                 os.path.join("b", "p.jpg")]
    assert all(j == os.path.splitext(p)[0] + ".json" for p, j in pages)
    assert find_labelled_pages(str(tmp_path / "r.jpg")) == [pages[0]]
    assert load_ground_truth(str(tmp_path / "r.jpg")) == json.loads(json.dumps(gt))
    assert load_ground_truth(str(tmp_path / "a" / "nogt.jpg")) is None
    assert load_ground_truth(str(tmp_path / "a" / "other.jpg")) is None
    (tmp_path / "b" / "p.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(InputError, match="not readable JSON"):
        load_ground_truth(str(tmp_path / "b" / "p.jpg"))
    assert load_ground_truth(str(tmp_path / "b" / "p.jpg"), strict=False) is None
    with pytest.raises(InputError, match="no image with the generator's ground truth"):
        find_labelled_pages(str(tmp_path / "a" / "nogt.jpg"))
    with pytest.raises(InputError, match="not found"):
        find_labelled_pages(str(tmp_path / "missing"))
