"""CAM maps of a toy model against independent numpy computations (tolerance 1e-5)."""
import numpy as np
import paddle
import pytest

from paddle_cam import (ClassifierOutputTarget, EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, ScoreCAM,
                        XGradCAM)
from toy_models import ConvReadout, np_bilinear, np_forward

H, W = 6, 5
CLASSES = [2, 0]


@pytest.fixture(scope="module")
def setup():
    model = ConvReadout(h=H, w=W)
    model.eval()
    x = np.random.RandomState(1).randn(2, 3, H, W).astype(np.float32)
    act, logits = np_forward(model, x)
    fc = model.fc.weight.numpy().astype(np.float64)
    grads = np.stack([fc[:, c].reshape(act.shape[1:]) for c in CLASSES])
    return model, x, act, grads, logits


def _np_maps(name, a, g):
    if name == "gradcam":
        return np.einsum("nc,nchw->nhw", g.mean(axis=(2, 3)), a)
    if name == "layercam":
        return (np.maximum(g, 0) * a).sum(1)
    if name == "hirescam":
        return (g * a).sum(1)
    if name == "xgradcam":
        w = (g * a / (a.sum(axis=(2, 3), keepdims=True) + 1e-7)).sum(axis=(2, 3))
        return np.einsum("nc,nchw->nhw", w, a)
    if name == "gradcampp":
        g2, g3 = g ** 2, g ** 3
        alpha = g2 / (2 * g2 + a.sum(axis=(2, 3), keepdims=True) * g3 + 1e-7)
        alpha = np.where(g != 0, alpha, 0)
        w = (np.maximum(g, 0) * alpha).sum(axis=(2, 3))
        return np.einsum("nc,nchw->nhw", w, a)
    raise KeyError(name)


@pytest.mark.parametrize("cls", [GradCAM, LayerCAM, HiResCAM, XGradCAM, GradCAMPlusPlus])
def test_gradient_methods_match_numpy(setup, cls):
    model, x, act, grads, logits = setup
    res = cls(model, ["act"])(x, targets=[ClassifierOutputTarget(c) for c in CLASSES])
    expect = np.maximum(_np_maps(cls.name, act, grads), 0)
    assert expect.max() > 0
    np.testing.assert_allclose(res.layer_maps["act"], expect, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(res.scores, logits[np.arange(2), CLASSES], atol=1e-4)
    # same input size here: the raw map is the layer map, the normalised map its min-max
    np.testing.assert_allclose(res.raw, expect, atol=1e-5, rtol=1e-5)
    for i in range(2):
        e = expect[i]
        np.testing.assert_allclose(res.normalized[i], (e - e.min()) / (e.max() - e.min()), atol=1e-5)


def test_methods_give_different_maps(setup):
    model, x, *_ = setup
    t = [ClassifierOutputTarget(c) for c in CLASSES]
    maps = {cls.name: cls(model, "act")(x, t).raw for cls in (GradCAM, LayerCAM, HiResCAM)}
    assert not np.allclose(maps["gradcam"], maps["layercam"], atol=1e-4)
    assert not np.allclose(maps["layercam"], maps["hirescam"], atol=1e-4)


def test_eigencam_matches_numpy_svd(setup):
    model, x, act, *_ = setup
    res = EigenCAM(model, "act")(x, targets=[ClassifierOutputTarget(0)] * 2)
    for i in range(2):
        flat = act[i].reshape(act.shape[1], -1).T
        flat = flat - flat.mean(0)
        v = np.linalg.svd(flat, full_matrices=False)[2][0]
        proj = flat @ v
        ref = act[i].sum(0).ravel()
        if np.dot(proj, ref - ref.mean()) < 0:
            proj = -proj
        np.testing.assert_allclose(res.layer_maps["act"][i], np.maximum(proj.reshape(H, W), 0), atol=1e-5)


def test_scorecam_matches_numpy(setup):
    model, x, act, _, _ = setup
    res = ScoreCAM(model, "act", batch_size=3)(x, targets=[ClassifierOutputTarget(c) for c in CLASSES])
    for i, c in enumerate(CLASSES):
        scores = []
        for k in range(act.shape[1]):
            m = act[i, k]  # layer size == input size, so upsampling is the identity
            m = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
            _, logits = np_forward(model, (x[i:i + 1] * m[None, None]).astype(np.float32))
            scores.append(logits[0, c])
        s = np.array(scores)
        w = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        expect = np.maximum(np.einsum("c,chw->hw", w, act[i]), 0)
        np.testing.assert_allclose(res.layer_maps["act"][i], expect, atol=1e-5, rtol=1e-4)


def test_upsampling_to_input_size_is_bilinear():
    """Layer smaller than the input: raw map = numpy bilinear of the layer map."""
    import paddle
    import paddle.nn as nn

    class Pooled(nn.Layer):
        def __init__(self):
            super().__init__()
            paddle.seed(2)
            self.conv = nn.Conv2D(3, 4, 3, padding=1)
            self.pool = nn.AvgPool2D(2)
            self.fc = nn.Linear(4 * 4 * 3, 2)

        def forward(self, x):
            return self.fc(paddle.flatten(self.pool(paddle.nn.functional.relu(self.conv(x))), 1))

    m = Pooled()
    x = np.random.RandomState(3).randn(1, 3, 8, 6).astype(np.float32)
    res = GradCAM(m, "pool")(x, [ClassifierOutputTarget(1)])
    assert res.layer_maps["pool"].shape == (1, 4, 3)
    np.testing.assert_allclose(res.raw[0], np_bilinear(res.layer_maps["pool"][0].astype(np.float64), 8, 6), atol=1e-5)


def test_multi_layer_fusion(setup):
    model, x, *_ = setup
    t = [ClassifierOutputTarget(c) for c in CLASSES]
    both = GradCAM(model, ["conv", "act"])(x, t)
    one = {n: GradCAM(model, n)(x, t) for n in ("conv", "act")}
    np.testing.assert_allclose(both.raw, (one["conv"].raw + one["act"].raw) / 2, atol=1e-6)
    from paddle_cam import normalize_maps

    np.testing.assert_allclose(both.normalized,
                               normalize_maps((one["conv"].normalized + one["act"].normalized) / 2), atol=1e-6)
    assert both.layers == ["conv", "act"]


def test_explain_targets_equals_one_call_per_target(setup):
    model, x, *_ = setup
    targets = [ClassifierOutputTarget(c) for c in (0, 1, 2)]
    many = LayerCAM(model, "act").explain_targets(x[:1], targets)
    for t, r in zip(targets, many):
        one = LayerCAM(model, "act")(x[:1], [t])
        np.testing.assert_allclose(r.raw, one.raw, atol=1e-6)
        np.testing.assert_allclose(r.scores, one.scores, atol=1e-6)
    ev = EigenCAM(model, "act").explain_targets(x[:1], targets[:2])  # gradient-free: falls back to a loop
    assert len(ev) == 2


@pytest.mark.parametrize("cls", [GradCAM, LayerCAM, HiResCAM, XGradCAM, GradCAMPlusPlus, EigenCAM])
@pytest.mark.parametrize("gradient_support", [False, True])
def test_maps_from_captures_equals_a_full_call(setup, cls, gradient_support):
    """Activations and gradients computed in numpy, turned into maps by the public method, give
    the full call's maps: what the detector's crop paths rely on."""
    model, x, act, grads, logits = setup
    cam = cls(model, ["act"], gradient_support=gradient_support)
    targets = [ClassifierOutputTarget(c) for c in CLASSES]
    full = cam(x, targets)
    scores = logits[np.arange(2), CLASSES].astype(np.float32)
    captured = {} if cls is EigenCAM else {"act": grads.astype(np.float32)}
    res = cam.maps_from_captures(["act"], {"act": act.astype(np.float32)}, captured, paddle.to_tensor(x),
                                 targets, scores)
    assert res.method == cls.name and res.layers == ["act"] and res.targets == targets
    np.testing.assert_allclose(res.layer_maps["act"], full.layer_maps["act"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(res.raw, full.raw, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(res.normalized, full.normalized, atol=1e-5)
    np.testing.assert_allclose(res.scores, full.scores, atol=1e-4)


class ToySplit(paddle.nn.Layer):
    """features(x) = x as a 1 x T column grid; from_features mixes columns linearly into (T, 2) logits."""

    def __init__(self, w):
        super().__init__()
        self.w = paddle.to_tensor(np.asarray(w, np.float32))

    def features(self, x):
        return x

    def from_features(self, f):
        cols = f.reshape([f.shape[0], -1])                              # (N, T)
        logit1 = paddle.matmul(cols, self.w, transpose_y=True)          # (N, T): frame t = sum_s W[t, s] f[s]
        return paddle.stack([paddle.zeros_like(logit1), logit1], axis=-1)

    def forward(self, x):
        return self.from_features(self.features(x))


def test_feature_occlusion_is_the_exact_column_drop():
    """Column s replaced by the baseline's (0) drops frame k's class-1 score by W[k, s] * x[s];
    the map is that drop (ReLU) over the input columns of feature column s, for every target
    from the same forwards; a model without features/from_features is refused."""
    from paddle_cam.errors import InputError
    from paddle_cam.methods import FeatureOcclusion, make_method

    rng = np.random.RandomState(0)
    w = rng.randn(4, 4)
    x = rng.rand(1, 1, 1, 4).astype(np.float32) + 0.5
    m = make_method("feature_occlusion", ToySplit(w), baseline=0.0, batch_size=3)
    targets = [lambda o, k=k: float(o[k, 1]) for k in range(4)]
    res = m.explain_targets(x, targets)
    for k, r in enumerate(res):
        np.testing.assert_allclose(r.raw[0, 0], np.maximum(w[k] * x[0, 0, 0], 0), rtol=1e-5, atol=1e-6)
    # a region keeps the columns it covers only
    part = FeatureOcclusion(ToySplit(w), baseline=0.0, region=(0, 0, 2, 1)).explain_targets(x, targets[:1])[0]
    np.testing.assert_allclose(part.raw[0, 0, 2:], 0)
    with pytest.raises(InputError, match="features"):
        make_method("feature_occlusion", paddle.nn.Linear(2, 2))
