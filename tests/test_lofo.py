"""Training pages by family, the held-out family, page-level reading scores and leave-one-family-out."""
import json
import math

import numpy as np
import pytest

from paddle_cam.config import config_path, load_config
from paddle_cam.datasets.invoices import FAMILIES
from paddle_cam.errors import InputError
from paddle_cam.evaluation.field import KEY_FIELDS, score_readings
from paddle_cam.invoice.schema import FIELD_CLASSES
from paddle_cam.invoice.training import DATA_KEYS, check_families, page_family, page_plan, page_samples


def test_key_fields_are_the_schema_without_other():
    assert KEY_FIELDS == tuple(f for f in FIELD_CLASSES if f != "other")


def test_holdout_never_among_training_pages():
    for h in FAMILIES:
        plan = page_plan(10000, 300, FAMILIES, h)
        fams = [f for _, f in plan]
        assert len(plan) == 300 and h not in fams
        assert set(fams) == set(FAMILIES) - {h}
        # the other families share the load evenly (families in turn by seed)
        counts = [fams.count(f) for f in set(fams)]
        assert max(counts) - min(counts) <= 1
        assert len({s for s, _ in plan}) == 300


def test_family_assignment_is_deterministic_and_independent_of_the_holdout():
    full = dict(page_plan(10000, 120, FAMILIES))
    assert page_plan(10000, 120, FAMILIES) == list(full.items())
    for h in FAMILIES:
        for s, f in page_plan(10000, 100, FAMILIES, h):
            assert f == full[s] == page_family(s, FAMILIES)   # a page is the same page in every LOFO training
    assert [page_family(s, FAMILIES) for s in range(6)] == list(FAMILIES)


def test_check_families():
    assert check_families(None) == (FAMILIES, None)
    assert check_families(["taxi", "train"], "train") == (("taxi", "train"), "train")
    for fams, h, msg in ((["taxi", "taxi"], None, "twice"), (["taxi"], "train", "not one of"),
                         (["taxi"], "taxi", "no family to train on"), (["lorry"], None, "unknown document family")):
        with pytest.raises(InputError, match=msg):
            check_families(fams, h)


def test_training_page_of_the_holdout_is_refused_and_pages_are_reproducible():
    cfg = load_config("field/train_field_cls", overrides=["Data.holdout=taxi", "Data.detector_boxes=0"])
    data = {k: cfg["Data"][k] for k in DATA_KEYS}
    with pytest.raises(ValueError, match="held-out family taxi"):
        page_samples((10000, "train", data, "taxi"))
    seed = next(s for s in range(10000, 10010) if page_family(s, FAMILIES) == "taxi")
    with pytest.raises(ValueError, match="held-out family"):
        page_samples((seed, "train", data))   # the family follows from the seed
    a = page_samples((10004, "train", data))
    b = page_samples((10004, "train", data, "vat_e_normal"))
    assert a["family"] == b["family"] == page_family(10004, FAMILIES) == "vat_e_normal"
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["y"], b["y"])
    assert len(a["y"]) > 20 and set(a["y"].tolist()) > {FIELD_CLASSES.index("other")}


def test_score_readings_counts_false_readings_apart():
    truth = [{"invoice_number": "12345678", "date": "2024-01-02", "total": "53.00"},
             {"invoice_number": "87654321", "buyer_tax_id": "91310101MA8H5CMQX7"}]
    read = [{"invoice_number": "12345678", "date": "2024-01-03", "total": "53.00", "buyer_tax_id": "X1"},
            {"invoice_number": None, "buyer_tax_id": "91310101MA8H5CMQX7"}]
    r = score_readings(read, truth, seeds=[7, 8])
    per = r["per_field"]
    assert per["invoice_number"] == {"n": 2, "correct": 1, "missed": 1, "wrong": 0, "false_readings": 0,
                                     "accuracy": 0.5}
    assert per["date"]["wrong"] == 1 and per["date"]["accuracy"] == 0.0
    assert per["buyer_tax_id"]["n"] == 1 and per["buyer_tax_id"]["false_readings"] == 1   # read off page 7
    assert per["seller_name"]["accuracy"] is None and r["fields_scored"] == 5
    assert r["key_field_accuracy"] == pytest.approx(3 / 5) and r["false_readings"] == 1
    assert {"seed": 7, "field": "buyer_tax_id", "truth": None, "read": "X1"} in r["errors"]


@pytest.mark.slow
def test_lofo_tiny(tmp_path):
    """One held-out family, three training pages, a few steps: lofo.json and lofo.md are complete."""
    from paddle_cam.evaluation.lofo import lofo_jobs, run_lofo

    cfg = load_config("field/train_field_cls", config_path("field/lofo"), [
        "Data.train_pages=3", "Data.eval_pages=1", "Train.epochs=1", "Train.batch_size=16", "Train.warmup_steps=1",
        "Explain.select_pages=1", "Report.pointing_pages=1", "Lofo.families=taxi", "Global.workers=1"])
    train, union, ev = lofo_jobs(cfg)
    assert list(train) == ["taxi"] and all(f != "taxi" for _, f in union) and ev["taxi"] == [(90000, "taxi")]
    out = tmp_path / "lofo"
    rep = run_lofo(cfg, str(out))
    with open(out / "lofo.json", encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["held_out"] == ["taxi"] and set(saved["results"]) == {"taxi"}
    r = saved["results"]["taxi"]
    assert "taxi" not in r["train_families"] and r["train_pages"] == 3 and r["train_seconds"] > 0

    def unit(v):
        return v is None or (isinstance(v, (int, float)) and 0 <= v <= 1 and not math.isnan(v))

    assert set(r["reading"]["per_field"]) == set(KEY_FIELDS) == set(r["reading_without_classifier"]["per_field"])
    for f, v in r["reading"]["per_field"].items():
        assert unit(v["accuracy"]) and v["correct"] <= v["n"], (f, v)
    # a taxi receipt carries its number, date and total; no tax id, so it is not scored there
    assert r["reading"]["per_field"]["invoice_number"]["n"] == 1 and r["reading"]["per_field"]["buyer_tax_id"]["n"] == 0
    assert unit(r["reading"]["key_field_accuracy"]) and r["reading"]["fields_scored"] >= 3
    for f, v in r["lines"]["per_field"].items():
        assert unit(v["accuracy"]), (f, v)
    assert unit(r["pointing_game"]["rate"]) and unit(saved["summary"]["key_field_accuracy"]["taxi"])
    assert saved["summary"]["targets"] == {"key_field_accuracy": 0.9, "pointing_game": 0.9}
    md = (out / "lofo.md").read_text(encoding="utf-8")
    assert "| taxi |" in md and "invoice_number" in md and "training time" in md
    assert (out / "models" / "taxi" / "model.pdparams").is_file()
    assert rep["summary"] == saved["summary"]


def test_label_planes_mark_the_labels_read_where_they_stand():
    """The window's label planes hold each label where it was read, in the plane of what it names;
    a misspelt-beyond-tolerance label paints nothing, a block header its whole box."""
    from paddle_cam.invoice.label_context import TEXT_CHANNELS, label_regions
    from paddle_cam.invoice.windows import WindowSpec, compute_window, page_planes, window_u8

    page = np.full((200, 600, 3), 255, np.uint8)
    value = [[200, 100], [360, 100], [360, 120], [200, 120]]
    boxes = [([[40, 100], [180, 100], [180, 120], [40, 120]], "发票号码："), (value, "12345678"),
             ([[40, 40], [120, 40], [120, 60], [40, 60]], "销售方"),
             ([[400, 100], [560, 100], [560, 120], [400, 120]], "某某某某：")]
    spec = WindowSpec(text_channels=TEXT_CHANNELS)
    x = window_u8(page_planes(page), value, spec, regions=label_regions(boxes))
    assert x.shape == (spec.channels,) + spec.input_hw
    x0, y0, x1, y1 = compute_window(value, spec)
    sx, sy = spec.input_hw[1] / (x1 - x0), spec.input_hw[0] / (y1 - y0)

    def at(px, py):   # page pixel -> input cell
        return int((py - y0) * sy), int((px - x0) * sx)

    number, seller = 3 + TEXT_CHANNELS.index("number"), 3 + TEXT_CHANNELS.index("seller")
    assert x[number][at(110, 110)] == 255 and x[number][at(280, 110)] == 0   # on the label, not the value
    assert x[seller][at(80, 50)] == 255 and x[seller].sum() < x[number].sum() * 2
    assert x[2][at(280, 110)] == 255                                        # the marker on the value
    others = [c for c in range(3, spec.channels) if c not in (number, seller)]
    assert x[others].max() == 0                                              # 某某某某 is no label
    plain = window_u8(page_planes(page), value, WindowSpec())
    np.testing.assert_array_equal(plain, x[:3])                              # image channels unchanged
