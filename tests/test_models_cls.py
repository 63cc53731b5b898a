"""Real weights: the bundled orientation classifier and PP-LCNet loaders."""
import os

import numpy as np
import paddle
import pytest

from paddle_cam import GradCAM, ModelLoadError
from paddle_cam.io import read_image
from paddle_cam.models import pplcnet
from paddle_cam.models.cls import load_classifier, load_orientation_classifier, load_pplcnet
from paddle_cam.models.static import StaticPredictor


@pytest.fixture(scope="module")
def orient():
    return load_orientation_classifier()


def test_bundled_classifier_parity_with_static_predictor(orient, demo_lines):
    batch = orient.prepare([read_image(p) for p, _ in demo_lines])
    dyn = orient.predict(batch)
    ref = StaticPredictor(orient.source)(batch)
    diff = float(np.abs(dyn - ref).max())
    print(f"orientation classifier parity max_abs_diff={diff:.3g}")
    assert diff <= 1e-5


def test_bundled_classifier_verdicts_on_demo_lines(orient, demo_lines):
    batch = orient.prepare([read_image(p) for p, _ in demo_lines])
    pred = [orient.labels[i] for i in orient.predict(batch).argmax(1)]
    assert pred == [str(deg) for _, deg in demo_lines]


def test_orientation_cam_is_on_the_text(orient, demo_lines):
    """On an upright line the CAM of its class lies inside the resized text, not on the padding."""
    path = demo_lines[0][0]
    img = read_image(path)
    batch = orient.prepare([img])
    res = GradCAM(orient.model, "backbone.conv2")(batch)
    rw = int(np.ceil(48 * img.shape[1] / img.shape[0]))
    if rw < 192:
        assert res.raw[0][:, :rw].sum() > 0.9 * res.raw[0].sum()


def _randomise_bn(m, seed):
    rng = np.random.RandomState(seed)
    for k, v in m.state_dict().items():
        if k.endswith("_mean"):
            v.set_value(paddle.to_tensor(rng.randn(*v.shape).astype("float32") * 0.1))
        elif k.endswith("_variance"):
            v.set_value(paddle.to_tensor(rng.rand(*v.shape).astype("float32") + 0.5))


@pytest.mark.parametrize("name,hw,classes", [("PP-LCNet_x0_25_textline_ori", (80, 160), 2),
                                             ("PP-LCNet_x1_0_doc_ori", (224, 224), 4)])
def test_pplcnet_round_trip(tmp_path, name, hw, classes):
    paddle.seed(5)
    m = pplcnet.build(name, None, classes)
    _randomise_bn(m, 5)
    x = np.random.RandomState(0).randn(2, 3, *hw).astype("float32")
    ref = m(paddle.to_tensor(x)).numpy()
    folder = str(tmp_path / "infer")
    paddle.jit.save(m, os.path.join(folder, "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, *hw], "float32", "x")])
    paddle.save(m.state_dict(), str(tmp_path / "model.pdparams"))
    # PaddleClas training names, as a PaddleX/PaddleClas checkpoint has them
    inverse = [(r"encoder\.convolution\.convolution\.", "conv1.conv."), (r"encoder\.convolution\.normalization\.", "conv1.bn."),
               (r"\.depthwise_convolution\.convolution\.", ".dw_conv.conv."), (r"\.depthwise_convolution\.normalization\.", ".dw_conv.bn."),
               (r"\.pointwise_convolution\.convolution\.", ".pw_conv.conv."), (r"\.pointwise_convolution\.normalization\.", ".pw_conv.bn."),
               (r"\.squeeze_excitation_module\.convolutions\.0\.", ".se.conv1."), (r"\.squeeze_excitation_module\.convolutions\.2\.", ".se.conv2."),
               (r"^head\.", "fc."), (r"^last_convolution\.", "last_conv.")]
    import re

    clas = {}
    for k, v in m.state_dict().items():
        for pat, rep in inverse:
            k = re.sub(pat, rep, k)
        k = re.sub(r"^encoder\.blocks\.(\d)\.layers\.", lambda mm: f"blocks{int(mm.group(1)) + 2}.", k)
        clas[k] = v
    paddle.save(clas, str(tmp_path / "clas.pdparams"))

    for src in (folder, str(tmp_path / "model.pdparams"), str(tmp_path / "clas.pdparams")):
        c = load_pplcnet(src, name)
        assert c.model.head.weight.shape[1] == classes
        np.testing.assert_allclose(c.predict(x), ref, atol=1e-5)
    np.testing.assert_allclose(StaticPredictor(folder)(x), ref, atol=1e-5)
    assert load_classifier(folder, name).default_layer == "encoder.blocks.4"


def test_pplcnet_widths_inferred_from_weights(tmp_path):
    """x0_5 weights load although the name says x1_0: every width comes from the weights."""
    paddle.seed(1)
    m = pplcnet.build("PP-LCNet_x0_5", None, 3)
    x = np.random.RandomState(1).randn(1, 3, 224, 224).astype("float32")
    ref = m(paddle.to_tensor(x)).numpy()
    paddle.save(m.state_dict(), str(tmp_path / "w.pdparams"))
    c = load_pplcnet(str(tmp_path / "w.pdparams"), "PP-LCNet_x1_0")
    np.testing.assert_allclose(c.predict(x), ref, atol=1e-5)


def test_bad_model_folders(tmp_path, orient):
    with pytest.raises(ModelLoadError, match="model not found"):
        load_classifier(str(tmp_path / "nope"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="no .pdiparams"):
        load_classifier(str(empty))
    broken = tmp_path / "broken"
    broken.mkdir()
    src = orient.source
    with open(os.path.join(src, "inference.pdmodel"), "rb") as f:
        (broken / "inference.pdmodel").write_bytes(f.read())
    with open(os.path.join(src, "inference.pdiparams"), "rb") as f:
        (broken / "inference.pdiparams").write_bytes(f.read()[:100000])
    with pytest.raises(ModelLoadError, match="truncated"):
        load_orientation_classifier(str(broken))
