"""PaddleSlim pruning on Paddle 3 and tools/prune_compare.py end to end (one invoice at 640 px)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from vdl_server import VisualDLServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TOOL = os.path.join(ROOT, "tools", "prune_compare.py")
INVOICE = os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100")


def run(*args, timeout=600):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "warn" not in ln.lower()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def one_invoice(tmp_path_factory):
    d = tmp_path_factory.mktemp("inv")
    for ext in (".jpg", ".json"):
        shutil.copy(INVOICE + ext, d / ("invoice_0100" + ext))
    return d


@pytest.fixture(scope="module")
def compare_run(one_invoice, tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    runs = out / "runs"
    code, so, se = run("--model", "det", "--pruner", "l1", "--ratios", "0.3", "--input", str(one_invoice),
                       "--output", str(out), "--vdl_dir", str(runs), "--limit_side_len", "640", "--repeats", "1")
    assert code == 0, se
    return json.loads((out / "compare.json").read_text(encoding="utf-8")), out, runs


@pytest.mark.slow
def test_pruning_lowers_cost_and_report_contract(compare_run):
    rep, out, _ = compare_run
    v = {r["name"]: r for r in rep["variants"]}
    assert list(v) == ["base", "l1_0.3"]
    base, pruned = v["base"], v["l1_0.3"]
    for r in (base, pruned):
        for k in ("name", "params", "flops", "latency_ms", "hmean", "spearman", "ssim", "topk_iou", "energy_in_box"):
            assert k in r
        assert r["latency_ms"] > 0 and r["targets"] > 10
    assert pruned["flops"] < 0.85 * base["flops"] and pruned["params"] < 0.7 * base["params"]
    assert pruned["prune"]["protected"] == ["head.conv_down.convolution.weight"]  # the DB head keeps its widths
    assert pruned["prune"]["bias_compensation"] and pruned["prune"]["compensated"] > 10
    assert base["spearman"] == pytest.approx(1.0) and base["ssim"] == pytest.approx(1.0)
    assert base["hmean"] > 0.2  # ICDAR 2015 (IoU > 0.5) against the invoice's ground-truth lines
    # DetEval forgives the DB box margins and counts merges/splits; every ICDAR miss has a reason
    assert base["hmean_deteval"] > base["hmean"]
    assert sum(base["unmatched"].values()) == base["gt_lines"] - base["matched"]
    for k in ("spearman", "ssim", "topk_iou"):
        assert -1 <= pruned[k] <= 1
    assert pruned["crop_path_max_rel_diff"] <= 1e-3  # fast per-box path checked against the ordinary one
    assert (out / "compare.png").stat().st_size > 10_000
    page = out / "l1_0.3" / "invoice_0100"
    for f in ("side_by_side.png", "diff.png", "detections.png", "metrics.json", "raw.npz"):
        assert (page / f).is_file(), f
    raw = np.load(page / "raw.npz")
    base_raw = np.load(out / "base" / "invoice_0100" / "raw.npz")
    assert set(raw.files) == set(base_raw.files) and "box_0" in raw.files  # the same targets on both
    meta = json.loads((page / "metrics.json").read_text(encoding="utf-8"))
    assert raw["box_0"].dtype == np.float32 and list(raw["box_0"].shape[::-1]) == meta["raw_map_grid"]


@pytest.mark.slow
def test_pruned_folder_reloads_with_static_parity(compare_run):
    from paddle_cam.io import read_image
    from paddle_cam.models.det import load_detector
    from paddle_cam.models.static import StaticPredictor
    from paddle_cam.ocr.det_preprocess import DetPreprocess

    _, out, _ = compare_run
    folder = str(out / "models" / "l1_0.3")
    det = load_detector(folder)  # widths come from the weights
    assert int(det.model.model.layer[3].weight.shape[0]) < 360
    chw, _ = DetPreprocess(limit_side_len=640)(read_image(INVOICE + ".jpg"))
    x = chw[None].astype(np.float32)
    assert float(np.abs(det.prob_map(x) - StaticPredictor(folder)(x)).max()) <= 1e-4


@pytest.mark.slow
def test_visualdl_serves_both_runs_with_the_same_tags(compare_run):
    _, _, runs = compare_run
    with VisualDLServer(str(runs)) as s:
        names = s.json("runs")
        assert sorted(os.path.basename(r) for r in names) == ["base", "l1_0.3"]
        img = s.json("image/tags")
        sca = s.json("scalar/tags")
        itags = {os.path.basename(r): set(t) for r, t in zip(img["runs"], img["tags"])}
        stags = {os.path.basename(r): set(t) for r, t in zip(sca["runs"], sca["tags"])}
        assert itags["base"] == itags["l1_0.3"] and stags["base"] == stags["l1_0.3"]
        assert {"invoice_0100/cam/side_by_side", "invoice_0100/cam/diff"} <= itags["base"]
        assert {"summary/hmean", "summary/flops", "drift/spearman", "invoice_0100/drift/ssim"} <= stags["base"]
        for run_name in names:
            png = s.get("image/image", run=run_name, tag="invoice_0100/cam/diff", index=0)
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            flops = s.json("scalar/list", run=run_name, tag="summary/flops")
            assert len(flops) == 1 and flops[0][2] > 0


@pytest.mark.parametrize("args,needle", [
    (["--ratios", "0.3,1.5"], "outside (0, 1)"),
    (["--ratios", "0"], "outside (0, 1)"),
    (["--pruner", "taylor"], "unknown pruner"),
])
def test_bad_arguments_exit_2(one_invoice, tmp_path, args, needle):
    code, _, se = run(*args, "--input", str(one_invoice), "--output", str(tmp_path / "o"))
    assert code == 2 and needle in one_error_line(se)


@pytest.mark.slow
def test_bad_model_folders_exit_2(compare_run, one_invoice, tmp_path):
    _, out, _ = compare_run
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "inference.json").write_text("{not json")
    (broken / "inference.pdiparams").write_bytes(b"\0" * 16)
    code, _, se = run("--before", str(broken), "--after", str(out / "models" / "l1_0.3"),
                      "--input", str(one_invoice), "--output", str(tmp_path / "o"))
    assert code == 2 and "--before" in one_error_line(se)
    from paddle_cam.models.cls import bundled_model_dir

    cls_dir = bundled_model_dir("ch_ppocr_mobile_v2_cls_infer")
    code, _, se = run("--before", str(out / "models" / "base"), "--after", cls_dir,
                      "--input", str(one_invoice), "--output", str(tmp_path / "o"))
    assert code == 2 and "same kind" in one_error_line(se)


def test_slim_compat_restores_paddle(tmp_path):
    import paddle
    import paddle.nn.functional as F

    from paddle_cam.models import pplcnet
    from paddle_cam.slim.prune import count_flops, prune_model, slim_compat

    sig = F.sigmoid
    m = pplcnet.build("PP-LCNet_x0_25", 0.25, 4)
    with slim_compat():
        from paddleslim.analysis import flops

        ref = flops(m, [1, 3, 48, 96])
    assert F.sigmoid is sig and paddle.get_flags(["FLAGS_enable_pir_api"])["FLAGS_enable_pir_api"]
    ours = count_flops(m, [1, 3, 48, 96])
    assert ref <= ours <= 1.001 * ref  # PaddleSlim's count, plus the conv biases it traces as separate adds
    res = prune_model(m, [1, 3, 48, 96], "fpgm", 0.5)
    assert res.flops_after < res.flops_before and res.layers
    assert not [k for l in m.sublayers() for k in l._buffers if k.endswith("_backup")]


def test_detection_protocols():
    from paddle_cam.slim.metrics import evaluate_page, match_page, prf

    def rect(x0, y0, x1, y1):
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    sq = rect(0, 0, 100, 20)
    c = match_page([sq, rect(0, 50, 10, 60)], [rect(5, 0, 100, 20)])
    assert c == {"gt": 2, "det": 1, "matched": 1} and prf([c])["hmean"] == pytest.approx(2 / 3)
    # ICDAR 2015 wants IoU strictly above 0.5: a box of exactly twice the line's area does not match
    assert match_page([rect(0, 0, 100, 20)], [rect(0, -10, 100, 30)])["matched"] == 0
    # ... DetEval takes it (area recall 1, area precision 0.5 >= 0.4): a loose but right box
    loose = evaluate_page([rect(0, 0, 100, 20)], [rect(0, -10, 100, 30)])
    assert loose["unmatched"]["loose"] == 1 and prf([loose])["deteval"]["hmean"] == pytest.approx(1.0)
    # a label and its value in one box: one DetEval many-to-one match, both lines recalled in full
    label, value = rect(0, 0, 60, 20), rect(70, 0, 130, 20)
    merged = evaluate_page([label, value], [rect(-2, -2, 132, 22)])
    q = prf([merged])
    assert merged["matched"] == 0 and merged["unmatched"]["merged"] == 2
    assert q["deteval"]["recall"] == pytest.approx(1.0) and q["deteval"]["precision"] == pytest.approx(1.0)
    # a letter-spaced label found as three boxes: a split, 0.8 recall and 0.8 precision per box
    split = evaluate_page([rect(0, 0, 300, 20)], [rect(0, 0, 90, 20), rect(105, 0, 195, 20), rect(210, 0, 300, 20)])
    q = prf([split])
    assert split["unmatched"]["split"] == 1
    assert q["deteval"]["recall"] == pytest.approx(0.8) and q["deteval"]["precision"] == pytest.approx(0.8)
    # missed line; a don't-care line and the box inside it count nowhere
    miss = evaluate_page([rect(0, 0, 100, 20), rect(0, 100, 100, 120)], [rect(0, 100, 100, 120)], [False, True])
    assert miss["unmatched"]["missed"] == 1 and (miss["gt"], miss["det"]) == (1, 0)


def test_drift_metrics_use_the_shared_similarity():
    from paddle_cam.metrics import similarity
    from paddle_cam.slim.metrics import spearman, ssim, topk_iou

    rng = np.random.RandomState(0)
    a = rng.rand(30, 40).astype(np.float32)
    assert spearman(a, a ** 3) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.zeros_like(a)) is None  # a collapsed map has no ranking
    assert spearman(a, a * 2 + 1) == pytest.approx(similarity.spearman(a, a * 2 + 1))
    assert ssim(a, a) == pytest.approx(1.0) and ssim(a, 0.5 * a) < 0.95  # raw scale: weaker is less similar
    assert ssim(np.zeros_like(a), np.zeros_like(a)) is None
    assert topk_iou(a, a, 0.1) == 1.0 and topk_iou(a, 1 - a, 0.1) == 0.0
    sparse = np.zeros((30, 40), np.float32)
    sparse[0, :10] = 1.0  # 10 positive pixels, fewer than the top 10% (120)
    other = np.zeros_like(sparse)
    other[5, :10] = 1.0
    assert topk_iou(sparse, other, 0.1) == 0.0  # shared zeros are not a shared "top"
    assert topk_iou(np.zeros_like(a), np.zeros_like(a)) is None


def test_db_labels_on_a_toy_polygon():
    from paddle_cam.slim.finetune import border_map, shrink_map

    poly = np.array([[10, 10], [110, 10], [110, 30], [10, 30]], float)
    gt, mask = shrink_map([poly], (64, 128))
    # PaddleOCR's offset D = A (1 - 0.4^2) / L = 2000 * 0.84 / 240 = 7 px per side
    assert abs(gt.sum() - (100 - 14) * (20 - 14)) < 120 and mask.min() == 1
    assert gt[20, 60] == 1 and gt[12, 60] == 0 and gt[20, 12] == 0
    t, tmask = border_map([poly], (64, 128))
    assert t[10, 60] == pytest.approx(0.7, abs=1e-6) and t[30, 60] == pytest.approx(0.7, abs=1e-6)  # on the edges
    assert t[20, 60] == pytest.approx(0.3) and (t[18:23, 20:100] == pytest.approx(0.3))  # the shrunk kernel
    assert t[13, 60] == pytest.approx(0.3 + 0.4 * (1 - 3 / 7), abs=1e-5)  # 3 px inside: linear in the distance
    assert t[5, 60] == pytest.approx(0.3 + 0.4 * (1 - 5 / 7), abs=1e-5)  # 5 px outside, inside the grown band
    assert tmask[5, 60] == 1 and tmask[20, 60] == 1 and tmask[1, 60] == 0 and t[1, 60] == pytest.approx(0.3)
    assert t.min() == pytest.approx(0.3) and t.max() <= 0.7 + 1e-6
    t2, m2 = border_map([poly], (64, 128), ignore=[True])  # ignored: no label, no mask
    assert m2.sum() == 0 and np.allclose(t2, 0.3)


@pytest.mark.slow
def test_db_loss_and_threshold_branch():
    import paddle

    from paddle_cam.slim.finetune import ThreshHead, db_loss, shrink_logits

    g = np.zeros((1, 16, 16), np.float32)
    g[:, 6:10, 2:14] = 1
    m = np.ones_like(g)
    tg = np.full_like(g, 0.3)
    tg[:, 5, 2:14] = 0.7
    tm = np.zeros_like(g)
    tm[:, 4:12, 1:15] = 1
    T = paddle.to_tensor
    z = T((g * 20 - 10)[:, None])  # confident and right
    good = db_loss(z, T(tg[:, None]), T(g), T(m), T(tg), T(tm))
    assert float(good["thresh_l1"]) == pytest.approx(0.0, abs=1e-6) and float(good["shrink"]) < 1e-3
    assert float(good["binary_dice"]) < 0.01 and float(good["loss"]) < 0.05
    bad_t = db_loss(z, T(np.full_like(tg, 0.5)[:, None]), T(g), T(m), T(tg), T(tm))
    l1 = float((np.abs(0.5 - tg) * tm).sum() / tm.sum())
    assert float(bad_t["thresh_l1"]) == pytest.approx(l1, rel=1e-5)
    assert float(bad_t["loss"]) == pytest.approx(5 * float(bad_t["shrink"]) + 10 * l1 + float(bad_t["binary_dice"]),
                                                 rel=1e-5)
    dice = db_loss(z, T(tg[:, None]), T(g), T(m), T(tg), T(tm), shrink_loss="dice")
    assert float(dice["shrink"]) < 0.01
    # the threshold branch starts from the shrink branch's layers and gives T = 0.3 everywhere
    from paddle_cam.models.det import load_detector

    det = load_detector()
    th = ThreshHead.from_head(det.model.head)
    x = T(np.random.RandomState(0).rand(1, 3, 64, 64).astype(np.float32))
    feats, logits = shrink_logits(det.model, x)
    assert np.allclose(th(feats).numpy(), 0.3, atol=1e-6)
    assert np.allclose(paddle.nn.functional.sigmoid(logits).numpy(), det.prob_map(x.numpy()), atol=1e-6)
    assert not any(p.name in {q.name for q in det.model.parameters()} for p in th.parameters())


@pytest.mark.slow
def test_finetune_step_runs_on_a_pruned_detector(compare_run):
    import paddle

    from paddle_cam.models.det import load_detector
    from paddle_cam.slim.finetune import FinetuneConfig, InvoiceCrops, finetune_detector

    _, out, _ = compare_run
    det = load_detector(str(out / "models" / "l1_0.3"))
    page = np.full((200, 300, 3), 255, np.uint8)
    page[60:80, 40:200] = 20
    gt = {"lines": [{"polygon": [[40, 60], [200, 60], [200, 80], [40, 80]], "text": "x"}]}
    cfg = FinetuneConfig(steps=2, batch_size=1, crop=128, limit_side_len=300, scale_jitter=(1.0, 1.0))
    before = det.model.head.conv_final.weight.numpy().copy()
    keys = set(det.model.state_dict())
    logs = finetune_detector(det.model, cfg, InvoiceCrops(cfg, pages=[(page, gt)]))
    assert len(logs) == 2 and all(np.isfinite(r["loss"]) for r in logs)
    assert {"shrink", "thresh_l1", "binary_dice", "lr"} <= set(logs[0])
    assert set(det.model.state_dict()) == keys  # the threshold branch is not left on the model
    assert not np.allclose(before, det.model.head.conv_final.weight.numpy())
    assert not det.model.training and paddle.get_flags(["FLAGS_enable_pir_api"])["FLAGS_enable_pir_api"]


@pytest.mark.slow
def test_field_route_prunes_finetunes_and_compares(one_invoice, tmp_path):
    """--model field on the committed field classifier: prune, fine-tune, reload with parity; then
    the same comparison between two folders the user brings."""
    out = tmp_path / "out"
    code, so, se = run("--model", "field", "--pruner", "fpgm", "--ratios", "0.3", "--finetune_steps", "3",
                       "--finetune_pages", "1", "--input", str(one_invoice), "--output", str(out), "--vdl_dir",
                       str(tmp_path / "runs"), "--repeats", "1")
    assert code == 0, se
    rep = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    v = {r["name"]: r for r in rep["variants"]}
    assert rep["model"] == "field" and list(v) == ["base", "fpgm_0.3", "fpgm_0.3_ft"]
    base, pruned, ft = v["base"], v["fpgm_0.3"], v["fpgm_0.3_ft"]
    assert pruned["flops"] < 0.8 * base["flops"] and ft["flops"] == pruned["flops"]
    assert base["accuracy"] > 0.9 and base["spearman"] == pytest.approx(1.0)  # held-out invoice, detector-like boxes
    for r in (pruned, ft):
        assert r["parity_max_abs_diff"] <= 1e-4 and r["targets"] == base["targets"] > 0
        for k in ("accuracy", "accuracy_fields", "spearman", "ssim", "topk_iou"):
            assert r[k] is not None
    assert ft["finetune"]["steps"] == 3 and (out / "compare.png").stat().st_size > 10_000
    with VisualDLServer(str(tmp_path / "runs")) as s:
        sca = s.json("scalar/tags")
        tags = {os.path.basename(r): set(t) for r, t in zip(sca["runs"], sca["tags"])}
        assert "train/loss" in tags["fpgm_0.3_ft"] and "summary/accuracy" in tags["base"]
    ba = tmp_path / "ba"
    field_cls = os.path.join(ROOT, "demo_docs", "field_cls")
    code, _, se = run("--before", field_cls, "--after", str(out / "models" / "fpgm_0.3_ft"),
                      "--input", str(one_invoice), "--output", str(ba), "--repeats", "1")
    assert code == 0, se
    pair = json.loads((ba / "compare.json").read_text(encoding="utf-8"))
    assert pair["model"] == "field" and [r["name"] for r in pair["variants"]] == ["base", "fpgm_0.3_ft"]
    assert pair["variants"][1]["accuracy"] == pytest.approx(ft["accuracy"])
    code, _, se = run("--model", "det", "--before", field_cls, "--after",
                      str(out / "models" / "fpgm_0.3"), "--input", str(one_invoice), "--output", str(tmp_path / "o"))
    assert code == 2 and "--model det but --before/--after hold classifiers" in one_error_line(se)


def test_input_folder_of_ground_truth_folders(tmp_path):
    """--input demo_docs: no images at the top, so the sub-folders whose images carry <stem>.json."""
    from paddle_cam.errors import InputError
    from paddle_cam.slim.compare import page_files

    (tmp_path / "inv").mkdir()
    (tmp_path / "lines").mkdir()
    for ext in (".jpg", ".json"):
        shutil.copy(INVOICE + ext, tmp_path / "inv" / ("a" + ext))
    shutil.copy(INVOICE + ".jpg", tmp_path / "lines" / "b.jpg")  # no ground truth beside it
    assert page_files(str(tmp_path)) == [str(tmp_path / "inv" / "a.jpg")]
    assert page_files(str(tmp_path / "lines")) == [str(tmp_path / "lines" / "b.jpg")]
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="no image"):
        page_files(str(tmp_path / "empty"))
