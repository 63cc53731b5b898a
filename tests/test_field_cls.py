"""Invoice-field classifier: committed weights, fresh-seed accuracy, explanations, shortcut cue, bad input.

Fresh pages: seeds 91000.. of four document families (paper 专用, 电子普通, 数电票, a taxi receipt),
used neither in training (seeds 10000.., configs/field/train_field_cls.yml) nor in the
metrics.json evaluation (90000..); the shortcut model trained on 30000..30119.
"""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from paddle_cam import ModelLoadError, TargetError
from paddle_cam.datasets.invoices import render_invoice
from paddle_cam.errors import InputError
from paddle_cam.invoice.classifier import FieldClassifier, default_model_dir
from paddle_cam.invoice.label_context import TEXT_CHANNELS, field_kinds
from paddle_cam.invoice.matching import detector_like_polygon, match_detections, match_to_gt
from paddle_cam.invoice.pointing import (PageDetector, attribution, cue_energy, cue_mask, draw_cues, evaluate,
                                         field_pairs, format_accuracy_table, format_attribution, make_case,
                                         occlusion_check, pointing_game)
from paddle_cam.invoice.schema import FIELD_CLASSES, field_of_line

pytestmark = pytest.mark.slow

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FRESH = ((91000, "vat_special"), (91001, "vat_e_normal"), (91002, "digital"), (91003, "taxi"))
SHORTCUT_DIR = os.path.join(ROOT, "demo_docs", "field_cls_shortcut")
# the six-family model that reads the labels around a line (label planes); not the default yet
LABELS_DIR = os.path.join(ROOT, "demo_docs", "field_cls_labels")


@pytest.fixture(scope="module")
def clf():
    return FieldClassifier.load()


@pytest.fixture(scope="module")
def labels_clf():
    return FieldClassifier.load(LABELS_DIR)


@pytest.fixture(scope="module")
def cases():
    det = PageDetector()
    return [make_case(s, det, family=f) for s, f in FRESH]


# The committed label model was trained on boxes detected at 960 / max (PaddleX's module default);
# QA now detects at PaddleOCR's pipeline resolution (configs/qa.yml). Its behaviour is checked on
# the boxes it was trained on until it is retrained.
TRAINED_ON = {"PreProcess": {"limit_side_len": 960, "limit_type": "max", "max_side_limit": 4000}}


@pytest.fixture(scope="module")
def trained_case():
    return make_case(FRESH[0][0], PageDetector(processing=TRAINED_ON), family=FRESH[0][1])


def test_committed_files_are_small():
    total = 0
    for d in (default_model_dir(), SHORTCUT_DIR, LABELS_DIR):
        for f in os.listdir(d):
            total += os.path.getsize(os.path.join(d, f))
    assert total < 8e6, f"committed field classifiers take {total / 1e6:.2f} MB"


@pytest.mark.parametrize("folder,channels", [(None, 3), (LABELS_DIR, 3 + len(TEXT_CHANNELS))])
def test_loader_round_trip(cases, folder, channels):
    """Inference folder (paddle.jit.save) and training .pdparams give the same model; a model with
    label planes loads with its wider stem from either."""
    clf = FieldClassifier.load(folder)
    ref = FieldClassifier.load(os.path.join(folder or default_model_dir(), "model.pdparams"))
    assert clf.labels == list(FIELD_CLASSES) == ref.labels
    assert clf.spec == ref.spec and clf.default_layer == ref.default_layer
    assert not clf.model.training and clf.reads_labels == (channels > 3)
    case = cases[0]
    x = clf.prepare(case.page, case.det_polygons[:40], case.page_boxes)
    assert x.shape == (min(40, len(case.det_polygons)), channels) + tuple(clf.spec.input_hw)
    assert x.dtype == np.float32
    a, b = clf.predict(x), ref.predict(x)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-5)


def test_cases_are_the_families_asked_for(cases):
    assert [c.family for c in cases] == [f for _, f in FRESH]
    for c in cases:
        assert len(c.match) == len(c.det_polygons) and c.texts is None
        used = [j for j in c.match if j is not None]
        assert len(used) == len(set(used))   # one-to-one
    # merged label+value lines are value lines of their field and are matched like any other
    merged = [(c, j) for c in cases for j in range(len(c.gt["lines"])) if c.gt["lines"][j].get("value_span")
              and field_of_line(c.gt["lines"][j]) != "other"]
    assert merged and any(j in c.match for c, j in merged)


@pytest.mark.xfail(strict=True, reason="the committed model was trained on paper VAT invoices of the previous "
                   "generator (76% of lines, 66% of field lines on these four families); the six-family recipe "
                   "(issue 14) does not yet train a better one: retrain, then drop this mark")
def test_accuracy_on_fresh_invoices(clf, cases):
    m = evaluate(clf, cases)
    print("\n" + format_accuracy_table(m))
    assert m["lines"] > 60 and m["field_lines"] > 20
    # the committed model gives up some 'other' recall for decisions that rest on the line and its
    # labels (metrics.json: other 91.8%, field lines 96.3%)
    assert m["accuracy"] >= 0.85
    assert m["field_accuracy"] >= 0.85  # the values themselves, not just the many 'other' lines


def test_pointing_game_on_fresh_invoices(clf, cases):
    """The game runs on detector boxes and accounts for every peak; its value is recorded, not
    assumed (metrics.json: 96.4% with the model's default method on 20 held-out pages)."""
    pg = pointing_game(clf, cases)
    print(f"\npointing game {pg['hits']}/{pg['total']} = {pg['rate']:.3f}; peaks: {pg['peak_at']}")
    assert pg["total"] > 20
    assert sum(pg["peak_at"].values()) == pg["total"]
    assert pg["hits"] == pg["peak_at"]["own_line"] + pg["peak_at"]["own_label"]
    assert sum(v["total"] for v in pg["per_field"].values()) == pg["total"]
    assert "other" not in pg["per_field"]


def test_pointing_game_target(clf, cases):
    """The issue's target, with the model's default method on fresh invoices: the one its training
    run chose on pages of their own and recorded in inference.yml."""
    with open(os.path.join(default_model_dir(), "inference.yml"), encoding="utf-8") as f:
        exp = yaml.safe_load(f)["Explain"]
    rates = exp["selected_on"]["pointing_game"]
    assert clf.default_method == exp["default_method"] == max(rates, key=rates.get)
    pg = pointing_game(clf, cases)
    assert pg["method"] == clf.default_method
    assert pg["rate"] >= 0.90, pg["peak_at"]


def test_decisions_rest_on_the_line_and_its_labels(clf, cases):
    """Trained with counterfactual windows, the classifier needs the value's ink and its labels:
    painting them over with paper costs the decided class most of its probability (the model
    trained without counterfactuals lost 0.006 on average - it read the layout instead)."""
    oc = occlusion_check(clf, cases)
    print(f"\nocclusion: {oc}")
    assert oc["lines"] > 20
    assert oc["mean_drop_own_regions"] > 0.3


def test_explain_maps_on_the_page(clf, cases):
    case = cases[1]
    pairs = field_pairs(case)[:6]
    polys = [case.det_polygons[i] for i, _ in pairs]
    exps = clf.explain(case.page, polys, page_boxes=case.page_boxes)
    H, W = case.page.shape[:2]
    assert len(exps) == len(polys)
    for ex, poly in zip(exps, polys):
        pm = ex.page_raw
        assert pm.shape == (H, W) and pm.dtype == np.float32
        assert pm.min() >= 0 and pm.sum() > 0
        x0, y0, x1, y1 = clf.window(poly, (H, W))
        p = np.asarray(poly)
        assert x0 <= p[:, 0].min() and p[:, 0].min() < x1 and y0 <= p[:, 1].min() and p[:, 1].max() <= y1
        outside = pm.copy()
        outside[max(y0, 0):y1, max(x0, 0):x1] = 0
        assert outside.max() == 0  # nothing outside the window the model saw
        np.testing.assert_array_equal(pm, clf.map_to_page(ex.cam.raw[0], poly, (H, W)))
        assert ex.cam.raw.shape == (1,) + tuple(clf.spec.input_hw)
        assert ex.field == clf.labels[ex.class_id] == ex.predicted and 0 < ex.prob <= 1
        att = attribution(ex, case.det_polygons, [str(k) for k in range(len(case.det_polygons))])
        assert abs(sum(r["share"] for r in att["lines"]) + att["rest"] + att["background"] - 1) < 1e-6
        assert "←" in format_attribution(att) and "background" in format_attribution(att)
    # another class on request, one for all lines
    other = clf.explain(case.page, polys[:2], class_ids=FIELD_CLASSES.index("other"), page_boxes=case.page_boxes)
    assert [e.field for e in other] == ["other", "other"]


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_shortcut_model_looks_at_the_cue(clf, method):
    """Trained where a coloured disc next to each value names its field: its maps move onto the discs."""
    shortcut = FieldClassifier.load(os.path.join(SHORTCUT_DIR, "model.pdparams"))
    shares = {"honest": [], "shortcut": []}
    peaks = {"honest": [], "shortcut": []}
    for seed, _ in FRESH[:2]:
        page, gt = render_invoice(seed)
        cues = draw_cues(page, gt)
        mask = cue_mask(gt, cues, page.shape[:2])
        polys = [detector_like_polygon(gt["lines"][j]["polygon"]) for j, _ in cues]
        ks = [FIELD_CLASSES.index(field_of_line(gt["lines"][j])) for j, _ in cues]
        for name, model in (("honest", clf), ("shortcut", shortcut)):
            read = [(ln["polygon"], ln["text"]) for ln in gt["lines"]]   # a perfect reading
            for e in model.explain(page, polys, class_ids=ks, method=method, page_boxes=read):
                s_, p_ = cue_energy(e, mask)
                shares[name].append(s_)
                peaks[name].append(p_)
    share = {k: float(np.mean(v)) for k, v in shares.items()}
    peak = {k: float(np.mean(v)) for k, v in peaks.items()}
    print(f"\ncue energy share: {share}; peak on a cue: {peak}")
    assert share["shortcut"] - share["honest"] >= 0.10
    assert peak["shortcut"] >= 3 * peak["honest"]


def test_bad_model_folders(tmp_path, clf):
    with pytest.raises(ModelLoadError, match="not found"):
        FieldClassifier.load(str(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="not an invoice field classifier"):
        FieldClassifier.load(str(empty))
    from paddle_cam.models.cls import BUNDLED_CLS, bundled_model_dir

    with pytest.raises(ModelLoadError, match="not an invoice field classifier"):
        FieldClassifier.load(bundled_model_dir(BUNDLED_CLS))  # a classifier, but of text orientation
    # right files, wrong program: the orientation classifier's weights under our inference.yml
    wrong = tmp_path / "wrong"
    shutil.copytree(bundled_model_dir(BUNDLED_CLS), wrong)
    shutil.copy(os.path.join(default_model_dir(), "inference.yml"), wrong / "inference.yml")
    with pytest.raises(ModelLoadError, match="cannot load an invoice field classifier"):
        FieldClassifier.load(str(wrong))
    # our weights with a field list of another length
    short = tmp_path / "short"
    shutil.copytree(default_model_dir(), short)
    with open(short / "inference.yml", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    cfg["PostProcess"]["Topk"]["label_list"] = cfg["PostProcess"]["Topk"]["label_list"][:5]
    with open(short / "inference.yml", "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, allow_unicode=True)
    with pytest.raises(ModelLoadError, match="13 output classes"):
        FieldClassifier.load(str(short))


def test_bad_explain_input(clf):
    page, gt = render_invoice(FRESH[1][0])
    poly = gt["lines"][0]["polygon"]
    read = [(ln["polygon"], ln["text"]) for ln in gt["lines"]]
    with pytest.raises(InputError, match="one per line"):
        clf.explain(page, [poly, poly], class_ids=[0], page_boxes=read)
    with pytest.raises(TargetError, match="out of range"):
        clf.explain(page, [poly], class_ids=[len(FIELD_CLASSES)], page_boxes=read)
    with pytest.raises(InputError, match="3\\+ finite points"):
        clf.prepare(page, [[[0, 0], [float("nan"), 1], [2, 2]]], read)
    assert clf.explain(page, []) == [] and clf.prepare(page, [], read).shape[0] == 0


def test_label_model_needs_the_page_text(labels_clf):
    """A model that reads labels, told nothing about the page's text, says what it needs."""
    page, gt = render_invoice(FRESH[1][0])
    with pytest.raises(InputError, match="pass page_boxes"):
        labels_clf.prepare(page, [gt["lines"][0]["polygon"]])
    assert labels_clf.label_evidence(page, [], []) == []


def test_label_evidence_names_the_label_a_decision_rests_on(labels_clf, trained_case):
    """Removing one read label at a time from the label planes: the evidence lists the labels in
    the window by how much the decision falls without each. It can say the model used the wrong
    label (an invoice code decided on 发票号码); on these pages most decisions that rest on one
    label rest on their own."""
    case = trained_case
    pairs = [(i, j) for i, j in field_pairs(case) if case.true_field(j) in ("invoice_number", "date", "invoice_code")]
    assert pairs
    polys = [case.det_polygons[i] for i, _ in pairs]
    evidence = labels_clf.label_evidence(case.page, polys, case.page_boxes)
    rests = hits = 0
    for (i, j), ev in zip(pairs, evidence):
        assert 0 <= ev["without_labels"] <= 1 and ev["labels"] == sorted(ev["labels"], key=lambda d: -d["drop"])
        for d in ev["labels"]:
            assert d["text"] in case.page_boxes[d["box"]][1] and d["kinds"]
        if ev["labels"] and ev["labels"][0]["drop"] > 0.2:
            rests += 1
            hits += bool(set(ev["labels"][0]["kinds"]) & set(field_kinds(ev["field"])))
    print(f"\n{rests} of {len(pairs)} decisions rest on one label, {hits} on their own")
    assert rests >= 1 and hits >= rests / 2, evidence


def test_matching_is_one_to_one():
    a = [[0, 0], [10, 0], [10, 10], [0, 10]]
    b = [[1, 0], [11, 0], [11, 10], [1, 10]]
    assert match_to_gt([a, b], [a]) == [0, None]
    assert match_to_gt([b], [a, [[50, 50], [60, 50], [60, 60], [50, 60]]]) == [0]
    assert match_to_gt([[[0, 0], [3, 0], [3, 3], [0, 3]]], [a]) == [None]  # IoU 0.09


def test_detector_boxes_match_ground_truth_grown_like_them():
    """A DB box of a short digits-only value is ~2x as tall as its tight glyph box: IoU < 0.5
    against the glyph box, so the value would silently drop out of every score."""
    glyph = [[100, 100], [130, 100], [130, 114], [100, 114]]      # "13%", cap height 14 px
    db_box = [[96, 93], [134, 93], [134, 120], [96, 120]]         # what PP-OCRv4 draws around it
    assert match_to_gt([db_box], [glyph]) == [None]
    assert match_detections([db_box], [{"polygon": glyph}]) == [0]
    far = [[300, 100], [330, 100], [330, 114], [300, 114]]
    assert match_detections([db_box], [{"polygon": far}]) == [None]


def test_training_cli_smoke(tmp_path):
    """The training tool end to end on a toy budget (not the committed model)."""
    out = tmp_path / "fc"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "train_field_cls.py"), "--output", str(out), "--workers", "1",
           "--vdl_dir", str(tmp_path / "vdl"), "-o", "Data.train_pages=2", "Data.eval_pages=1", "Train.epochs=1",
           "Train.batch_size=16", "Train.warmup_steps=1", "Report.pointing_pages=1", "Explain.select_pages=1",
           "Explain.select_seed=80500"]
    cmd += ["Data.families=vat_normal,taxi", "Data.holdout=taxi"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ("model.pdparams", "inference.json", "inference.pdiparams", "inference.yml", "metrics.json"):
        assert (out / f).is_file(), f
    assert "pointing game" in r.stdout and "overall" in r.stdout
    with open(out / "metrics.json", encoding="utf-8") as f:
        metrics = json.load(f)
    # per family: the held-out taxi receipts are scored, never trained on
    assert metrics["held_out_family"] == "taxi" and list(metrics["per_family"]) == ["vat_normal", "taxi"]
    assert metrics["per_family"]["taxi"]["held_out"] and not metrics["per_family"]["vat_normal"]["held_out"]
    for rep in metrics["per_family"].values():
        rd = rep["reading"]
        assert set(rd["per_field"]) == set(FIELD_CLASSES[:-1]) and rd["pages"] == 1
        assert rd["fields_scored"] == sum(v["n"] for v in rd["per_field"].values()) > 0
        assert 0 <= rd["key_field_accuracy"] <= 1 and rep["pointing_game"]["total"] >= 0
    assert metrics["per_family"]["taxi"]["reading"]["per_field"]["buyer_tax_id"]["n"] == 0   # a taxi receipt has none
    with open(out / "inference.yml", encoding="utf-8") as f:
        training = yaml.safe_load(f)["Training"]
    assert training["families"] == ["vat_normal"] and training["held_out_family"] == "taxi"
    assert os.listdir(tmp_path / "vdl" / "field_cls")
    # the default explanation method was chosen on its own page, and the loaded model uses it
    with open(out / "inference.yml", encoding="utf-8") as f:
        exp = yaml.safe_load(f)["Explain"]
    rates = exp["selected_on"]["pointing_game"]
    assert exp["selected_on"]["seeds"] == [80500, 80500] and set(rates) == {"layercam", "integrated_gradients"}
    assert exp["default_method"] == max(rates, key=rates.get)
    assert FieldClassifier.load(str(out)).default_method == exp["default_method"]


def test_counterfactual_windows_blank_to_paper():
    """Training counterfactuals: the paper estimate has no ink where a value was, keeps the page's
    shading, and a mixed window changes only the chosen regions (marker untouched). On a scanned
    paper invoice (a photo's window also shows the desk, which is no paper)."""
    from paddle_cam.datasets.invoices import render_document
    from paddle_cam.geometry import box_height, grown_polygon
    from paddle_cam.invoice.counterfactuals import paper_background, window_u8_mixed
    from paddle_cam.invoice.windows import WindowSpec, page_planes, window_u8

    page, gt = render_document(91002, "vat_normal", style="scan")
    j = [k for k, ln in enumerate(gt["lines"]) if field_of_line(ln) == "invoice_number"][-1]  # inside the page
    poly = np.asarray(gt["lines"][j]["polygon"], np.float64)
    h = box_height(poly)
    region = [grown_polygon(poly, 0.3 * h)]  # as in training: ink reaches past the tight glyph box
    bg = paper_background(page, h)
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int)
    gray = page[y0:y1, x0:x1].min(2)
    gray_bg = bg[y0:y1, x0:x1].min(2)
    assert gray.min() < 150                       # the value line has ink
    assert gray_bg.min() > 170                    # the paper estimate has none there
    # but the same paper tone as the paper between the glyphs (dot-matrix digits fill half the tight box)
    assert abs(float(np.median(gray_bg)) - float(np.percentile(gray, 90))) < 25

    spec = WindowSpec()
    planes, bg_planes = page_planes(page), page_planes(bg)
    det_poly = detector_like_polygon(poly)
    full = window_u8(planes, det_poly, spec)
    blank = window_u8_mixed(planes, bg_planes, det_poly, spec, region, keep=False)
    alone = window_u8_mixed(planes, bg_planes, det_poly, spec, region, keep=True)
    np.testing.assert_array_equal(blank[2], full[2])
    np.testing.assert_array_equal(alone[2], full[2])
    on_line = full[2] > 200
    paper = float(np.median(full[0]))
    assert paper - full[0][on_line].min() > 60 and paper - blank[0][on_line].min() < 15
    # 'alone' keeps the line's ink and nothing else: the rows above the line are plain paper
    assert np.abs(alone[0][on_line].astype(int) - full[0][on_line]).max() <= 1
    above = np.zeros_like(on_line)
    above[:40] = cv2.erode((full[0][:40] > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # on the page
    assert paper - full[0][above].min() > 60 and paper - alone[0][above].min() < 25


def test_training_cli_checks_its_config_first(tmp_path):
    """Defaults from configs/field/train_field_cls.yml, --shortcut = -c configs/field/shortcut.yml; a
    misspelt key or an output folder holding other files exits 2 before any page is rendered."""
    import time

    from paddle_cam.config import load_config

    short = load_config("field/train_field_cls", os.path.join(ROOT, "configs", "field", "shortcut.yml"))
    assert short["Data"]["shortcut"] is True and short["Global"]["export_inference"] is False
    tool = os.path.join(ROOT, "tools", "train_field_cls.py")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    for extra, msg in ((["-o", "Train.epohcs=1"], "Train.epochs"), (["--shortcut", "-c", "x.yml"], "--shortcut"),
                       (["--output", str(busy)], "holds other files"), (["-o", "Data.holdout=taxy"], "'taxy'"),
                       (["--lofo", "-o", "Data.holdout=taxi"], "Data.holdout"),
                       (["--lofo", "--output", default_model_dir()], "committed model")):
        t0 = time.time()
        r = subprocess.run([sys.executable, tool, "--output", str(tmp_path / "out")] + extra, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
        assert time.time() - t0 < 30
    assert (busy / "notes.txt").is_file() and not (tmp_path / "out").exists()
