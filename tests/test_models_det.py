"""Real PP-OCRv4 mobile det weights in dynamic graph: parity with Paddle Inference, both weight
mappings, training-form fusing, widths from weights."""
import numpy as np
import paddle
import pytest

from paddle_cam import LayerHooks
from paddle_cam.models.det import DEFAULT_LAYERS, build_mobile_det, load_detector
from paddle_cam.models.static import StaticPredictor


def _page(h=320, w=480):
    import cv2

    img = np.full((h, w, 3), 255, np.uint8)
    for i in range(4):
        cv2.putText(img, f"TOTAL 1,234.5{i}", (20 + 9 * i, 50 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2)
    x = (img[:, :, ::-1].astype(np.float32) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    return x.transpose(2, 0, 1)[None].astype(np.float32)


@pytest.fixture(scope="module")
def bundled():
    return load_detector()


def test_bundled_det_parity_both_mappings(bundled):
    # the bundled folder has no inference.yml: PaddleOCR's name and its official processing values
    assert (bundled.name, bundled.arch, bundled.format) == ("PP-OCRv4_mobile_det", "mobile", "paddle")
    assert bundled.processing == {"PreProcess": {"limit_side_len": 960, "limit_type": "max"},
                                  "PostProcess": {"thresh": 0.3, "box_thresh": 0.6, "unclip_ratio": 1.5,
                                                  "max_candidates": 1000}}
    x = _page()
    ref = StaticPredictor(bundled.source)(x)
    by_order = load_detector(by_program_order=True)
    for det in (bundled, by_order):
        out = det.prob_map(x)
        assert out.shape == ref.shape == (1, 1, 320, 480)
        assert float(np.abs(out - ref).max()) <= 1e-5
    assert (ref > 0.3).sum() > 500  # the page really has text


def test_default_layers_resolve_and_fire(bundled):
    x = paddle.to_tensor(_page(160, 224))
    names = list(DEFAULT_LAYERS.values())
    with LayerHooks(bundled.model, names) as h:
        with paddle.no_grad():
            bundled.model(x)
        acts = h.activations
    assert tuple(acts["model.neck"].shape) == (1, 96, 40, 56)
    assert tuple(acts["model.backbone.encoder.blocks.4"].shape)[2:] == (5, 7)


def _random_unfused(seed=0):
    paddle.seed(seed)
    m = build_mobile_det(fused=False)
    rng = np.random.RandomState(seed)
    for k, v in m.state_dict().items():
        if k.endswith("_mean"):
            v.set_value(paddle.to_tensor(rng.randn(*v.shape).astype("float32") * 0.1))
        elif k.endswith("_variance"):
            v.set_value(paddle.to_tensor((rng.rand(*v.shape) + 0.5).astype("float32")))
        elif k.endswith(("lab.scale", "lab.bias")):
            v.set_value(paddle.to_tensor((rng.rand(*v.shape) + 0.5).astype("float32")))
    m.eval()
    return m


def test_training_checkpoint_is_fused_exactly(tmp_path):
    m = _random_unfused()
    path = str(tmp_path / "det.pdparams")
    paddle.save(m.state_dict(), path)
    x = np.random.RandomState(1).randn(1, 3, 96, 128).astype("float32")
    unfused = load_detector(path, fuse=False)
    fused = load_detector(path)
    assert fused.fused and not unfused.fused
    name = "model.neck"
    outs = []
    for mm in (m, unfused.model, fused.model):
        with LayerHooks(mm, [name]) as h:
            with paddle.no_grad():
                mm(paddle.to_tensor(x))
            outs.append(h.activations[name].numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    # re-parameterisation only reorders float32 sums: relative error at float32 level
    rel = np.abs(outs[2] - outs[0]).max() / np.abs(outs[0]).max()
    assert rel < 1e-5, rel


def test_pruned_widths_load_from_weights(tmp_path, bundled):
    """Drop half the channels of one neck SE block and of a head conv: widths come from weights."""
    sd = {k: v.numpy() for k, v in bundled.model.state_dict().items()}
    k1 = "model.neck.insert_conv.3.squeeze_excitation_block.conv1"
    k2 = "model.neck.insert_conv.3.squeeze_excitation_block.conv2"
    sd[k1 + ".weight"] = sd[k1 + ".weight"][:12]
    sd[k1 + ".bias"] = sd[k1 + ".bias"][:12]
    sd[k2 + ".weight"] = sd[k2 + ".weight"][:, :12]
    path = str(tmp_path / "pruned.pdparams")
    paddle.save({k: paddle.to_tensor(v) for k, v in sd.items()}, path)
    det = load_detector(path)
    assert tuple(det.model.state_dict()[k1 + ".weight"].shape)[0] == 12
    assert det.prob_map(_page(64, 96)).shape == (1, 1, 64, 96)


def test_pir_json_folder_of_real_weights(tmp_path, bundled):
    """PaddleX-style folder (PIR inference.json, no .info names): placed by program order and
    checked against Paddle Inference at load time."""
    folder = str(tmp_path / "pir")
    paddle.jit.save(bundled.model, folder + "/inference",
                    input_spec=[paddle.static.InputSpec([None, 3, None, None], "float32", "x")])
    import os

    assert sorted(os.listdir(folder)) == ["inference.json", "inference.pdiparams"]
    det = load_detector(folder)
    x = _page(96, 160)
    assert det.arch == "mobile"
    assert float(np.abs(det.prob_map(x) - bundled.prob_map(x)).max()) <= 1e-5


def test_server_det_round_trip(tmp_path):
    from paddle_cam.models.det import build_server_det

    paddle.seed(3)
    m = build_server_det()
    x = np.random.RandomState(2).randn(1, 3, 64, 96).astype("float32")
    ref = m(paddle.to_tensor(x)).numpy()
    paddle.jit.save(m, str(tmp_path / "srv" / "inference"),
                    input_spec=[paddle.static.InputSpec([None, 3, None, None], "float32", "x")])
    paddle.save(m.state_dict(), str(tmp_path / "srv.pdparams"))
    for src in (str(tmp_path / "srv"), str(tmp_path / "srv.pdparams")):
        det = load_detector(src)
        assert det.arch == "server" and det.default_layer == "model.neck"
        np.testing.assert_allclose(det.prob_map(x), ref, atol=1e-5)


def test_bad_detector_folders(tmp_path, bundled):
    from paddle_cam import ModelLoadError

    with pytest.raises(ModelLoadError, match="detector not found"):
        load_detector(str(tmp_path / "none"))
    bad = tmp_path / "mismatch"
    bad.mkdir()
    import shutil

    shutil.copy(bundled.source + "/inference.pdmodel", bad / "inference.pdmodel")
    cls_dir = bundled.source.replace("ch_PP-OCRv4_det_infer", "ch_ppocr_mobile_v2_cls_infer")
    shutil.copy(cls_dir + "/inference.pdiparams", bad / "inference.pdiparams")
    with pytest.raises(ModelLoadError, match="different exports"):
        load_detector(str(bad))
    rec_dir = bundled.source.replace("ch_PP-OCRv4_det_infer", "ch_PP-OCRv4_rec_infer")
    with pytest.raises(ModelLoadError, match="holds a text recognition model, not a detector; pass it as the recog"):
        load_detector(rec_dir)
    with pytest.raises(ModelLoadError, match="holds a classifier, not a text detector"):
        load_detector(cls_dir)


def test_parity_tool_on_a_demo_invoice(root):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, f"{root}/tools/parity_check.py", "--img",
                        f"{root}/demo_docs/invoices/invoice_0100.jpg"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("max_abs_diff=") and float(last.split("=")[1]) <= 1e-4, p.stdout
