"""Synthetic paper VAT invoices: determinism, geometry of the ground truth, amounts, and the CLI."""
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import cv2
import numpy as np
import pytest

from paddle_cam.datasets.invoices import FIELDS, KINDS, PAPER_FAMILIES, ROLES, amount_to_capital, render_document, \
    render_invoice
from paddle_cam.datasets.invoices.paper import render_paper

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "make_demo_docs.py")
SEEDS = (0, 3, 100, 101, 112)


@pytest.fixture(scope="module")
def pages():
    return {s: render_invoice(s) for s in SEEDS}


def value_text(line: dict) -> str:
    """The value part of a line (all of it, or its value_span when a label shares the line)."""
    a, b = line.get("value_span", (0, len(line["text"])))
    return line["text"][a:b]


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
    same, g2 = render_document(42, ga["family"])
    assert same.tobytes() == a.tobytes() and g2 == ga
    c, _ = render_invoice(43)
    assert a.shape != c.shape or a.tobytes() != c.tobytes()


def test_ground_truth_schema(pages):
    kinds, captures = set(), set()
    for seed, (img, gt) in pages.items():
        w, h = gt["size"]
        assert img.dtype == np.uint8 and img.shape == (h, w, 3)
        assert 1100 <= max(w, h) <= 4000  # LONG_SIDE, raised only as far as legibility needs
        assert gt["seed"] == seed and gt["kind"] in KINDS and gt["family"] in PAPER_FAMILIES
        assert gt["kind"] == KINDS[PAPER_FAMILIES.index(gt["family"])] and gt["medium"] == "paper"
        kinds.add(gt["kind"])
        captures.add(gt["capture"])
        assert [ln["id"] for ln in gt["lines"]] == list(range(len(gt["lines"])))
        for ln in gt["lines"]:
            assert ln["field"] in FIELDS and ln["role"] in ROLES and ln["text"].strip()
            assert np.asarray(ln["polygon"]).shape == (4, 2)
        title = next(ln["text"] for ln in gt["lines"] if ln["role"] == "title")
        assert title.endswith(gt["kind"])
    assert kinds == set(KINDS) and captures == {"scan", "photo"}


@pytest.mark.parametrize("kind", KINDS)
def test_sheet_has_every_field(kind):
    """On the printed sheet (before capture may crop it) every field has its label and value,
    as separate lines or as one line with a value_span; 专用发票 never print a 校验码."""
    for seed in range(3):
        _, lines, info = render_paper(np.random.RandomState(seed), kind)
        assert info["kind"] == kind
        have = {(ln["field"], ln["role"]) for ln in lines}
        have |= {(ln["field"], "label") for ln in lines if "value_span" in ln}
        for f in ("invoice_code", "invoice_number", "date", "buyer_name", "buyer_tax_id", "buyer_address",
                  "buyer_bank", "seller_name", "seller_tax_id", "seller_address", "item_amount",
                  "item_tax_rate", "item_tax", "amount_total", "total_capital", "total_figures",
                  "payee", "reviewer", "drawer"):
            assert (f, "label") in have and (f, "value") in have, (seed, f)
        assert ("tax_total", "value") in have  # 合计 labels the whole row; it is filed under amount_total
        assert ("title", "title") in have and ("item_name", "value") in have and ("password", "value") in have
        assert sum(ln["field"] == "stamp" for ln in lines) >= 3
        if kind == KINDS[0]:
            assert not any(ln["field"] == "check_code" for ln in lines)
            assert not any("抵扣联" in ln["text"] for ln in lines) or info["copy"] == "抵扣联"
        else:
            assert info["copy"] != "抵扣联"


def test_daikai_and_pin_feed_variants():
    """Across seeds: 代开 invoices name the real seller in 备注 and carry the 代开 seal; continuous
    paper shows its pin-feed holes (dark round blobs in the margins)."""
    seen = set()
    for seed in range(40):
        img, lines, info = render_paper(np.random.RandomState(seed), KINDS[seed % 2])
        if info["daikai"] and "daikai" not in seen:
            remarks = [ln["text"] for ln in lines if ln["field"] == "remarks" and ln["role"] == "value"]
            assert any(t.startswith("代开企业税号") for t in remarks) and any(t.startswith("代开企业名称") for t in remarks)
            seller = next(ln["text"] for ln in lines if ln["field"] == "seller_name" and ln["role"] == "value")
            assert "税务" in seller
            assert any(ln["field"] == "stamp" and ln["text"] == "代开发票专用章" for ln in lines)
            seen.add("daikai")
        if info["pin_feed"] and "pin" not in seen:
            g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            strip = g[:, : g.shape[1] // 25]
            n, _, stats, _ = cv2.connectedComponentsWithStats((strip < np.median(g) - 12).astype(np.uint8))
            round_blobs = [s for s in stats[1:] if s[4] > 100 and 0.7 < s[2] / s[3] < 1.4]
            assert len(round_blobs) >= 5, len(round_blobs)
            seen.add("pin")
        if seen == {"daikai", "pin"}:
            break
    assert seen == {"daikai", "pin"}


def test_polygons_inside_page(pages):
    for _, (_, gt) in pages.items():
        w, h = gt["size"]
        p = np.array([ln["polygon"] for ln in gt["lines"]])
        assert (p[..., 0] >= 0).all() and (p[..., 0] <= w - 1).all()
        assert (p[..., 1] >= 0).all() and (p[..., 1] <= h - 1).all()
        # boxes are real lines of text, not slivers or whole-page boxes
        sides = np.linalg.norm(p - np.roll(p, 1, axis=1), axis=2)
        assert sides.min() >= 2 and sides.max() < 0.5 * w


def _mask(poly, shape):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly)).astype(np.int32)], 1)
    return m.astype(bool)


def test_ink_inside_light_outside(pages):
    for seed, (img, gt) in pages.items():
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        inside = np.zeros(g.shape, bool)
        for ln in gt["lines"]:
            inside |= _mask(ln["polygon"], g.shape)
        near = cv2.dilate(inside.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool) & \
            ~cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        paper = np.median(g[near])  # the paper around the text (a photo's desk is elsewhere)
        for field in ("invoice_number", "buyer_name", "seller_tax_id", "total_capital", "item_amount"):
            lns = [x for x in gt["lines"] if x["field"] == field and x["role"] == "value"]
            if not lns:  # cropped off a photo
                continue
            m = _mask(lns[0]["polygon"], g.shape)
            ring = cv2.dilate(m.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool) & \
                ~cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            ink = g[m]
            assert ink.min() < paper - 50, (seed, field, int(ink.min()), paper)
            # faded ink in a blurred photo is light, and a merged label leaves blank space in the box
            assert np.percentile(ink, 10) < np.median(g[ring]) - 20, (seed, field)
        if gt["capture"] == "scan":
            outside = g[~cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)]
            # only the thin grid, the QR block, stamp rings and pin-feed holes are dark outside the text boxes
            assert (outside > 150).mean() > 0.9, seed


def test_amounts_consistent(pages):
    for seed, (_, gt) in pages.items():
        by = {}
        for ln in gt["lines"]:
            if ln["role"] == "value":
                by.setdefault(ln["field"], []).append(value_text(ln))
        if not all(k in by for k in ("item_amount", "item_tax", "amount_total", "tax_total", "total_figures",
                                     "total_capital")):
            continue  # part of a photographed page is out of the frame
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
        assert os.path.getsize(jpg) < 1536 * 1024  # a noisy phone photo of up to ~3000 px
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


def test_cli_families_and_samples(tmp_path):
    """--families writes <family>_<seed> pages with the registry's ground truth; --kind samples one
    small JPEG per family; an unknown family is one line and exit 2, before anything is written."""
    out = tmp_path / "fam"
    p = subprocess.run([sys.executable, TOOL, "--families", "train,taxi", "--per_family", "1", "--seed", "3",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == ["taxi_0003.jpg", "taxi_0003.json", "train_0003.jpg", "train_0003.json"]
    gt = json.loads((out / "train_0003.json").read_text(encoding="utf-8"))
    assert gt == json.loads(json.dumps(render_document(3, "train")[1]))
    samples = tmp_path / "samples"
    p = subprocess.run([sys.executable, TOOL, "--kind", "samples", "--families", "vat_normal,digital", "--out",
                        str(samples)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(samples)) == ["digital.jpg", "vat_normal.jpg"]
    for f in os.listdir(samples):
        img = cv2.imread(str(samples / f))
        assert img.shape[1] <= 1200 and os.path.getsize(samples / f) < 400 * 1024
    bad = tmp_path / "bad"
    p = subprocess.run([sys.executable, TOOL, "--families", "vat_special,bus", "--out", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "vat_e_normal" in p.stderr
    assert not bad.exists()
