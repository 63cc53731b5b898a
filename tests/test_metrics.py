"""Metrics (similarity, localisation, faithfulness, sanity) and the input-attribution / black-box
methods, against hand-computed values and independent numpy computations; one real-detector run."""
import json
import os

import cv2
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_cam import ClassifierOutputTarget, GradCAM
from paddle_cam.methods.integrated_gradients import IntegratedGradients
from paddle_cam.methods.occlusion import Occlusion
from paddle_cam.methods.rise import RISE
from paddle_cam.methods.smooth_grad import SmoothGrad
from paddle_cam.baselines import make_baseline, normalized_value
from paddle_cam.metrics import (auc, cascading_randomization, claim_spearman, claim_ssim, deletion, deletion_insertion,
                                endpoint_scores, energy_pointing_game, insertion, nonzero_iou, pointing_game, rankdata,
                                relevance_rank_accuracy, road_impute, spearman, ssim, topk_iou)
from paddle_cam.ocr.targets import DRiseBoxTarget
from toy_models import ConvReadout


# --- similarity ------------------------------------------------------------------------------

def test_spearman_known_permutation_and_ties():
    a = np.arange(5.0)
    b = np.array([1.0, 0.0, 3.0, 2.0, 4.0])          # d = (1, -1, 1, -1, 0): rho = 1 - 6*4 / (5*24)
    assert spearman(a, b) == pytest.approx(0.8, abs=1e-12)
    assert spearman(a, a[::-1]) == pytest.approx(-1.0, abs=1e-12)
    assert spearman(a.reshape(1, 5), 10 * a ** 3) == pytest.approx(1.0)  # monotone transform, any shape
    np.testing.assert_allclose(rankdata([1, 1, 2]), [1.5, 1.5, 3])
    # ranks (1.5, 1.5, 3) vs (1, 2, 3): cov 1.5, norms sqrt(1.5) and sqrt(2)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(1.5 / np.sqrt(3.0), abs=1e-12)
    assert np.isnan(spearman(np.zeros(4), a[:4]))      # a constant map has no ordering


def _ssim_brute(x, y, sigma=1.5):
    """SSIM from its definition, one 11 x 11 Gaussian window per interior pixel."""
    g = cv2.getGaussianKernel(11, sigma)
    k = g @ g.T
    vals = []
    for i in range(5, x.shape[0] - 5):
        for j in range(5, x.shape[1] - 5):
            px, py = x[i - 5:i + 6, j - 5:j + 6], y[i - 5:i + 6, j - 5:j + 6]
            mx, my = (k * px).sum(), (k * py).sum()
            c = 121 / 120
            vx, vy = c * ((k * px * px).sum() - mx * mx), c * ((k * py * py).sum() - my * my)
            vxy = c * ((k * px * py).sum() - mx * my)
            vals.append((2 * mx * my + 1e-4) * (2 * vxy + 9e-4) / ((mx * mx + my * my + 1e-4) * (vx + vy + 9e-4)))
    return float(np.mean(vals))


def test_ssim_identical_noise_and_definition():
    rng = np.random.RandomState(0)
    a = rng.rand(64, 64)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-9)
    assert ssim(a, 3 * a + 2) == pytest.approx(1.0, abs=1e-9)     # min-max normalised first
    assert abs(ssim(rng.rand(128, 128), rng.rand(128, 128))) < 0.03
    x, y = rng.rand(24, 24), None
    y = 0.6 * x + 0.4 * rng.rand(24, 24)
    assert ssim(x, y, normalize=False) == pytest.approx(_ssim_brute(x, y), abs=1e-9)


def test_topk_iou():
    a = np.array([9, 8, 1, 0, 0, 0, 0, 0, 0, 0], float)   # top 20 %: pixels {0, 1}
    b = np.array([0, 8, 9, 0, 0, 0, 0, 0, 0, 0], float)   # top 20 %: pixels {1, 2}
    assert topk_iou(a, b, 0.2) == pytest.approx(1 / 3)
    assert topk_iou(a, a, 0.2) == 1.0


# --- localisation ------------------------------------------------------------------------------

def test_pointing_games_on_a_polygon():
    box = [[10, 10], [30, 10], [30, 20], [10, 20]]
    m = np.zeros((40, 50))
    m[12:18, 12:28] = 1.0                       # all inside
    m[35, 45] = 0.5                             # weaker peak outside
    inside = 1.0 * 6 * 16
    assert energy_pointing_game(m, box, grow=0) == pytest.approx(inside / (inside + 0.5))
    assert pointing_game(m, box, grow=0)
    m[35, 45] = 2.0                             # now the maximum is outside
    assert not pointing_game(m, box, grow=0)
    assert pointing_game(m, [box, [[40, 30], [49, 30], [49, 39], [40, 39]]], grow=0)   # any of several
    assert not pointing_game(np.zeros((40, 50)), box)
    # the 11 x 21 filled box holds 231 pixels; only the 96 ones (and one outside) are non-zero
    assert relevance_rank_accuracy(m, box) == pytest.approx(96 / 231, abs=0.01)


# --- faithfulness ------------------------------------------------------------------------------

def _additive_problem(seed=0, hw=(16, 16)):
    rng = np.random.RandomState(seed)
    x = rng.rand(1, *hw).astype(np.float32) + 0.5
    w = np.zeros(hw, np.float32)
    w[3:7, 4:12] = rng.rand(4, 8) * 3
    w += rng.rand(*hw) * 0.05
    calls = []

    def score_fn(batch):
        calls.append(len(batch))
        return (batch[:, 0] * w).sum(axis=(1, 2))
    return x, w, score_fn, calls


def test_deletion_auc_of_perfect_attribution_beats_random():
    x, w, score_fn, calls = _additive_problem()
    perfect = w * x[0]                           # exact contributions of an additive score
    base = np.zeros_like(x)
    c = deletion_insertion(x, perfect, score_fn, base, n_steps=16, batch_size=5)
    r = deletion_insertion(x, np.random.RandomState(1).rand(16, 16), score_fn, base, n_steps=16, batch_size=5)
    assert c["deletion"].auc < 0.5 * r["deletion"].auc
    assert c["insertion"].auc > r["insertion"].auc
    assert max(calls) <= 5 and sum(calls) == 2 * (2 * 15 + 2)  # 2 maps; batched; shared endpoints
    full = float(score_fn(x[None])[0])
    assert c["deletion"].scores[0] == pytest.approx(full) and c["insertion"].scores[-1] == pytest.approx(full)
    assert c["deletion"].scores[-1] == pytest.approx(0.0, abs=1e-6)
    # the deletion curve of the perfect order is the greedy one: each step removes the largest terms
    order = np.sort(perfect.ravel())[::-1]
    k = int(round(256 / 16))
    assert c["deletion"].scores[1] == pytest.approx(order[k:].sum(), rel=1e-5)
    ends = endpoint_scores(x, score_fn, base)
    again = deletion(x, perfect, score_fn, base, n_steps=16, endpoint_scores=ends)
    assert again.auc == pytest.approx(c["deletion"].auc)
    assert insertion(x, perfect, score_fn, base, n_steps=16).auc == pytest.approx(c["insertion"].auc)


def test_auc_and_document_baselines():
    assert auc([0, 0.5, 1], [1, 1, 0]) == pytest.approx(0.75)
    img = np.stack([np.full((8, 8), v, np.float32) for v in (0.1, 0.2, 0.3)])
    img[:, 2, 2] = -2.0                          # one ink pixel: the median stays the paper
    np.testing.assert_allclose(make_baseline(img, "paper")[:, 0, 0], [0.1, 0.2, 0.3], atol=1e-6)
    white = make_baseline(img, "white")[:, 0, 0]
    np.testing.assert_allclose(white, [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225], atol=1e-5)
    np.testing.assert_allclose(normalized_value(255.0), white, atol=1e-6)
    assert make_baseline(img, "blur").shape == img.shape
    with pytest.raises(ValueError):
        make_baseline(img, "black")


def test_road_imputation_reproduces_a_linear_page():
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float32)
    img = np.stack([0.1 * xx + 0.05 * yy, 0.2 * yy, np.full_like(xx, 0.7)])   # harmonic: exact under averaging
    removed = np.zeros((20, 30), bool)
    removed[5:12, 8:20] = True
    removed[15, 3] = True
    out = road_impute(img, removed, noise_std=0.0)
    np.testing.assert_allclose(out, img, atol=1e-3)
    noisy = road_impute(img, removed, seed=1)
    assert not np.allclose(noisy[:, removed], img[:, removed])
    np.testing.assert_array_equal(noisy[:, ~removed], img[:, ~removed])


# --- sanity ------------------------------------------------------------------------------------

class BNReadout(ConvReadout):
    """ConvReadout with a BatchNorm (its running statistics are non-trainable parameters)."""

    def __init__(self):
        super().__init__(c=8, h=10, w=10, k=3, seed=3)
        self.bn = nn.BatchNorm2D(8)

    def forward(self, x):
        return self.fc(paddle.flatten(self.act(self.bn(self.conv(x))), start_axis=1))


def _state(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_claim_region_ignores_a_shared_support_but_not_a_shared_map():
    """Two maps that are zero on the same 95 % of the image (a receptive field fixed by the
    architecture) but independent inside it: the whole-map rank correlation is high only
    because of the tied zeros; on the claim region it is about zero. A map that is the same
    inside the support still scores 1 there."""
    rng = np.random.RandomState(0)
    support = np.zeros((60, 80), bool)
    support[20:32, 10:30] = True                    # 240 of 4800 pixels
    a, b = np.zeros(support.shape), np.zeros(support.shape)
    a[support], b[support] = rng.rand(240), rng.rand(240)
    assert spearman(a, b) > 0.6
    assert abs(claim_spearman(a, b)) < 0.2
    assert nonzero_iou(a, b) == pytest.approx(1.0)
    assert claim_spearman(a, 3 * a) == pytest.approx(1.0) and claim_ssim(a, 3 * a) == pytest.approx(1.0)
    assert claim_ssim(a, b) < 0.5 < ssim(a, b)      # SSIM is inflated by the shared zeros as well
    # evidence that moves is compared on both places: disjoint supports anti-correlate
    c = np.zeros(support.shape)
    c[40:52, 50:70] = rng.rand(12, 20)
    assert claim_spearman(a, c) < -0.5 and nonzero_iou(a, c) == 0.0
    assert np.isnan(claim_spearman(a, np.zeros_like(a)))          # a map that collapsed: undefined
    assert np.isnan(claim_spearman(np.zeros_like(a), np.zeros_like(a)))


def test_cascading_randomization_drops_correlation_and_restores_weights():
    model = BNReadout()
    model.eval()
    x = np.random.RandomState(0).randn(2, 3, 10, 10).astype(np.float32)
    targets = [ClassifierOutputTarget(0), ClassifierOutputTarget(2)]
    cam = GradCAM(model, ["act"])
    before = _state(model)
    res = cascading_randomization(model, lambda: cam(x, targets), ["fc", "bn", "conv"], seed=0)
    assert res.layers == ["fc", "bn", "conv"] and res.spearman.shape == (3, 2)
    assert res.claim_spearman.shape == res.claim_ssim.shape == res.nonzero_iou.shape == (3, 2)
    assert res.changed == [2, 2, 2]                                  # weight + bias; BN: scale + shift
    unused = sum(int(p.size) for p in model.unused.parameters())  # the one layer outside the cascade
    total = sum(int(p.size) for p in model.parameters() if p.trainable)
    assert np.all(np.diff(res.randomized_fraction) > 0)
    assert res.randomized_fraction[-1] == pytest.approx(1 - unused / total)
    s = res.summary()
    assert s["claim_spearman"] and s["mean_claim_spearman"] is not None and s["changed_tensors"] == [2, 2, 2]
    assert np.nanmean(res.spearman) < 0.5
    assert np.nanmean(res.spearman) < np.nanmean([spearman(m, m) for m in res.original])
    after = _state(model)
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    np.testing.assert_allclose(cam(x, targets).raw, res.original, atol=1e-6)   # same maps again

    def boom(step, name, maps):
        if step == 1:
            raise RuntimeError("callback failed")
    with pytest.raises(RuntimeError, match="callback failed"):
        cascading_randomization(model, lambda: cam(x, targets), ["fc", "bn", "conv"], callback=boom)
    for k, v in _state(model).items():
        np.testing.assert_array_equal(before[k], v, err_msg=k)

    def explain_fails():
        if model.fc.weight.numpy()[0, 0] != before["fc.weight"][0, 0]:
            raise ValueError("explanation failed on random weights")
        return cam(x, targets)
    with pytest.raises(ValueError):
        cascading_randomization(model, explain_fails, ["fc"])
    for k, v in _state(model).items():
        np.testing.assert_array_equal(before[k], v, err_msg=k)


# --- input attributions ---------------------------------------------------------------------

class TinyReLU(nn.Layer):
    """conv3x3 -> ReLU -> linear: piecewise linear, so IG's path integral is nearly exact."""

    def __init__(self, seed=0):
        super().__init__()
        paddle.seed(seed)
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 2)

    def forward(self, x):
        return self.fc(paddle.flatten(nn.functional.relu(self.conv(x)), start_axis=1))


class Linear(nn.Layer):
    def __init__(self, seed=0, c=3, h=6, w=6, k=2):
        super().__init__()
        paddle.seed(seed)
        self.fc = nn.Linear(c * h * w, k)
        self.shape = (c, h, w)

    def forward(self, x):
        return self.fc(paddle.flatten(x, start_axis=1))


def test_integrated_gradients_completeness():
    model = TinyReLU()
    model.eval()
    x = np.random.RandomState(2).rand(2, 3, 6, 6).astype(np.float32)
    base = np.zeros(3, np.float32)
    ig = IntegratedGradients(model, n_steps=64, internal_batch_size=16, baseline=base, reduce="positive")
    res = ig(x, [ClassifierOutputTarget(0), ClassifierOutputTarget(1)])
    with paddle.no_grad():
        fx = model(paddle.to_tensor(x)).numpy()
        fb = model(paddle.zeros([1, 3, 6, 6])).numpy()[0]
    gl = IntegratedGradients(model, n_steps=64, baseline=base, method="gausslegendre")(
        x, [ClassifierOutputTarget(0), ClassifierOutputTarget(1)])
    for i, k in enumerate((0, 1)):
        gap = fx[i, k] - fb[k]
        for r in (res, gl):
            assert abs(r.attributions[i].sum() - gap) < 0.01 * abs(gap)
            assert abs(r.delta[i]) < 0.01 * abs(gap)
    assert res.raw.shape == (2, 6, 6) and res.normalized.max() == pytest.approx(1.0)
    np.testing.assert_allclose(res.raw, np.maximum(res.attributions.sum(axis=1), 0), rtol=1e-6)
    # linear model: IG is exactly w * (x - b); one image, two targets share the forwards
    lin = Linear()
    lin.eval()
    w = lin.fc.weight.numpy()
    paper = IntegratedGradients(lin, n_steps=4, method="gausslegendre")   # default baseline: median colour
    r0, r1 = paper.explain_targets(x[:1], [ClassifierOutputTarget(0), ClassifierOutputTarget(1)])
    b = np.median(x[0].reshape(3, -1), axis=1)[:, None, None]
    for r, k in ((r0, 0), (r1, 1)):
        np.testing.assert_allclose(r.attributions[0], w[:, k].reshape(3, 6, 6) * (x[0] - b), atol=1e-5)
        np.testing.assert_allclose(r.raw[0], np.abs(r.attributions[0]).sum(axis=0), rtol=1e-6)   # default: abs


def test_smoothgrad_of_a_linear_model_is_its_weights():
    lin = Linear(seed=1)
    lin.eval()
    x = np.random.RandomState(3).rand(1, 3, 6, 6).astype(np.float32)
    res = SmoothGrad(lin, n_samples=5, internal_batch_size=2)(x, [ClassifierOutputTarget(1)])
    w = lin.fc.weight.numpy()[:, 1].reshape(3, 6, 6)
    np.testing.assert_allclose(res.attributions[0], w, atol=1e-6)
    np.testing.assert_allclose(res.raw[0], np.abs(w).sum(axis=0), atol=1e-5)


# --- black-box methods on an exported model ----------------------------------------------------

@pytest.fixture(scope="module")
def exported_linear(tmp_path_factory):
    from paddle_cam.models.static import StaticPredictor

    lin = Linear(seed=4, c=3, h=8, w=8, k=2)
    lin.eval()
    folder = str(tmp_path_factory.mktemp("lin") / "infer")
    paddle.jit.save(lin, os.path.join(folder, "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, 8, 8], "float32", "x")])
    return lin, StaticPredictor(folder)


def test_occlusion_on_a_static_predictor(exported_linear):
    lin, static = exported_linear
    x = np.random.RandomState(5).rand(1, 3, 8, 8).astype(np.float32)
    w = lin.fc.weight.numpy()[:, 1].reshape(3, 8, 8).astype(np.float64)
    t = ClassifierOutputTarget(1)
    res = Occlusion(static, window=2, stride=2, baseline="paper", batch_size=5)(x, [t])
    paper = np.median(x[0].reshape(3, -1), axis=1)[:, None, None]
    contrib = (w * (x[0] - paper)).sum(axis=0)          # score drop per pixel when painted paper
    expect = np.zeros((8, 8))
    for i in range(0, 8, 2):
        for j in range(0, 8, 2):
            expect[i:i + 2, j:j + 2] = contrib[i:i + 2, j:j + 2].sum()
    np.testing.assert_allclose(res.attributions[0, 0], expect, atol=1e-4)
    np.testing.assert_allclose(res.raw[0], np.maximum(expect, 0), atol=1e-4)
    dyn = Occlusion(lin, window=3, stride=1).explain_targets(x, [t, ClassifierOutputTarget(0)])
    st = Occlusion(static, window=3, stride=1).explain_targets(x, [t, ClassifierOutputTarget(0)])
    for a, b in zip(dyn, st):
        np.testing.assert_allclose(a.raw, b.raw, atol=1e-4)
    region = Occlusion(static, window=2, stride=2, region=(2, 2, 6, 6))(x, [t])
    assert np.all(region.attributions[0, 0, :2] == 0) and np.allclose(region.attributions[0, 0, 2:6, 2:6],
                                                                      expect[2:6, 2:6], atol=1e-4)


def test_rise_on_a_static_predictor(exported_linear):
    lin, static = exported_linear
    x = np.random.RandomState(6).rand(1, 3, 8, 8).astype(np.float32)
    t = ClassifierOutputTarget(0)
    rise = RISE(static, n_masks=40, grid=3, batch_size=16, seed=7, center=False)
    res = rise(x, [t])
    # independent re-computation with the same masks and numpy scores
    masks = RISE(static, grid=3).masks(40, (8, 8), np.random.RandomState(7))
    paper = np.median(x[0].reshape(3, -1), axis=1)[:, None, None]
    w = lin.fc.weight.numpy()[:, 0].reshape(3, 8, 8)
    b = lin.fc.bias.numpy()[0]
    scores = np.array([(w * (m * x[0] + (1 - m) * paper)).sum() + b for m in masks])
    expect = np.einsum("k,khw->hw", scores, masks) / (40 * 0.5)
    np.testing.assert_allclose(res.attributions[0, 0], expect, rtol=1e-4, atol=1e-4)
    centred = RISE(static, n_masks=40, grid=3, batch_size=16, seed=7)(x, [t])
    coverage = masks.sum(axis=0) / (40 * 0.5)
    np.testing.assert_allclose(centred.attributions[0, 0], expect - scores.mean() * coverage, rtol=1e-4, atol=1e-4)
    dyn = RISE(lin, n_masks=40, grid=3, batch_size=16, seed=7, center=False)(x, [t])
    np.testing.assert_allclose(dyn.attributions, res.attributions, rtol=1e-4, atol=1e-4)


def test_drise_box_similarity_on_a_db_map():
    from paddle_cam.ocr.db_postprocess import DBPostProcess

    prob = np.zeros((64, 96), np.float32)
    prob[20:30, 10:70] = 0.9
    post = DBPostProcess()
    box = post(prob, np.array([64, 96]))[0]
    t = DRiseBoxTarget(box["input_polygon"], post)
    assert t(prob[None]) == pytest.approx(box["score"], rel=1e-3)          # IoU 1 x score
    half = prob.copy()
    half[:, 40:] = 0
    assert 0.3 * box["score"] < t(half) < 0.7 * box["score"]               # half the line: IoU about 1/2
    assert t(np.zeros_like(prob)) == 0.0


# --- real detector -----------------------------------------------------------------------------

@pytest.mark.slow
def test_real_detector_gradcam_beats_random(tmp_path, root):
    """One demo invoice, 3 lines, via the evaluation tool: Grad-CAM's deletion AUC below and its
    insertion AUC above the random map's on every line; the cascade runs head, neck, 1x1 convs,
    backbone stages 5..1, stem, re-draws something at every step and drops the claim-region rank
    correlation below 0.3; weights intact afterwards."""
    from paddle_cam.apps.evaluate_explanations import main
    from paddle_cam.evaluation import REQUIRED
    from paddle_cam.models.det_families import randomization_cascade
    from paddle_cam.models.det import load_detector

    det = load_detector()
    cascade = randomization_cascade(det.model, det.arch)
    assert cascade[:3] == ["head", "model.neck", "model.layer"] and cascade[-1] == "model.backbone.encoder.convolution"
    assert cascade[3:8] == [f"model.backbone.encoder.blocks.{i}" for i in range(4, -1, -1)]
    before = {k: v.numpy().copy() for k, v in det.model.state_dict().items()}

    out = tmp_path / "eval"
    code = main(["--input", os.path.join(root, "demo_docs"), "--output", str(out), "--pages", "1", "--boxes", "3",
                 "--methods", "gradcam", "--n_steps", "4", "--margin", "64", "--sanity_boxes", "1", "--tasks", "det"])
    assert code == 0
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    recs = data["records"]
    by = {(r["box_id"], r["method"]): r for r in recs}
    boxes = sorted({r["box_id"] for r in recs})
    assert len(boxes) == 3
    for b in boxes:
        g, r = by[(b, "gradcam")], by[(b, "random")]
        assert g["deletion_auc"] < r["deletion_auc"], (b, g["deletion_auc"], r["deletion_auc"])
        assert g["insertion_auc"] > r["insertion_auc"], (b, g["insertion_auc"], r["insertion_auc"])
        assert g["energy_in_box"] > r["energy_in_box"]
    summary = data["summary"]["det"]
    for method in ("gradcam", "random"):
        assert all(summary[method][k] is not None for k in REQUIRED), summary[method]
    assert summary["random"]["randomization_spearman"] == pytest.approx(1.0)
    assert summary["gradcam"]["randomization_spearman"] < 0.3
    curve = next(r for r in recs if r["method"] == "gradcam" and r.get("randomization_curve"))["randomization_curve"]
    assert curve["layers"] == cascade and curve["layers"][:2] == ["head", "model.neck"]
    assert len(curve["spearman"]) == len(curve["spearman_whole"]) == len(cascade)
    assert min(curve["changed_tensors"]) > 0 and curve["randomized_fraction"][-1] > 0.99
    after = {k: v.numpy() for k, v in load_detector().model.state_dict().items()}
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


@pytest.mark.slow
def test_field_rows_on_held_out_invoices(tmp_path, root):
    """The field task on one held-out generated invoice: every required key per method, the
    pointing game is pointing.py's rule (peak_at own_line / own_label), the random map is 1 in
    the randomisation check; the model is whatever demo_docs/field_cls holds."""
    from paddle_cam.apps.evaluate_explanations import main
    from paddle_cam.evaluation import REQUIRED

    out = tmp_path / "eval"
    code = main(["--input", os.path.join(root, "demo_docs"), "--output", str(out), "--tasks", "field",
                 "--field_pages", "1", "--field_boxes", "2", "--methods", "gradcam", "--n_steps", "4",
                 "--sanity_boxes", "1"])
    assert code == 0
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    recs = [r for r in data["records"] if r["task"] == "field"]
    assert len(recs) == 4 and {r["seed"] for r in recs} == {90000}
    for r in recs:
        assert r["gt_field"] != "other"
        assert r["pointing_game"] == float(r["peak_at"] in ("own_line", "own_label"))
        assert 0.0 <= r["energy_in_box"] <= 1.0
    summary = data["summary"]["field"]
    for method in ("gradcam", "random"):
        assert all(summary[method][k] is not None for k in REQUIRED), summary[method]
    assert summary["random"]["randomization_spearman"] == pytest.approx(1.0)
    assert data["tasks"]["field"]["cascade"][0] == "head"


def test_input_attribution_methods_share_one_call_convention():
    """IG, SmoothGrad, occlusion and RISE take the same calls from InputAttribution: no targets
    = the top class, tensors or arrays, one result per image; explain_targets = one call per
    target; explain_targets refuses a batch."""
    from paddle_cam.methods.input_attribution import AttributionResult, InputAttribution

    model = TinyReLU(seed=5)
    model.eval()
    x = np.random.RandomState(9).rand(2, 3, 6, 6).astype(np.float32)
    with paddle.no_grad():
        top = model(paddle.to_tensor(x)).numpy().argmax(axis=1)
    methods = [IntegratedGradients(model, n_steps=4), SmoothGrad(model, n_samples=3),
               Occlusion(model, window=2, stride=2), RISE(model, n_masks=8, grid=2)]
    for m in methods:
        assert isinstance(m, InputAttribution) and m.crop_paths is False
        res = m(paddle.to_tensor(x))
        assert isinstance(res, AttributionResult) and res.raw.shape == (2, 6, 6)
        assert [t.category for t in res.targets] == list(top), m.name
        t = [ClassifierOutputTarget(0), ClassifierOutputTarget(1)]
        both = m.explain_targets(x[:1], t)
        for r, ti in zip(both, t):
            np.testing.assert_allclose(r.raw, m(x[:1], [ti]).raw, rtol=1e-4, atol=1e-6)
        assert [r.raw for r in m.iter_targets(x[:1], t)][1].shape == (1, 6, 6)
        with pytest.raises(ValueError):
            m.explain_targets(x, t)
