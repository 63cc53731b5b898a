"""The short Python API (paddle_cam.OCRExplainer): the README's example runs as written, results
save / serialise / draw themselves, the CLI's defaults hold, PaddleOCR objects hand over their models."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEMO = os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100.jpg")


def readme_example() -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- quickstart -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README.md must hold the quickstart example after <!-- quickstart -->"
    return m.group(1)


def test_readme_example_runs_and_writes_its_picture(tmp_path):
    code = readme_example()
    lines = [ln for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(lines) <= 5, code   # "a 5-line example"
    os.symlink(os.path.join(ROOT, "demo_docs"), tmp_path / "demo_docs")
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    out = tmp_path / "output" / "quickstart"
    rep = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(rep["boxes"]) > 80 and all((out / "panels" / f"box_{b['id']}.png").is_file() for b in rep["boxes"])
    # the README's picture is this example's output
    shown = Image.open(os.path.join(ROOT, "docs", "images", "quickstart_page.png"))
    assert Image.open(out / "page.png").size == shown.size
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert size < 3e6, f"{size / 1e6:.2f} MB"   # a full demo invoice, every box explained
    # a panel, read back by the recogniser: its caption leads with the own-box share, and it has a colour bar
    from paddle_cam.config import load_config
    from paddle_cam.io import read_image
    from paddle_cam.ocr.pipeline import TextPipeline

    panel = read_image(str(out / "panels" / "box_0.png"))
    texts = [b.text.replace(" ", "") for b in TextPipeline.from_config(load_config("qa")).detect(panel).boxes]
    own = round(100 * rep["explanations"][0]["own_share"])
    assert any(t.startswith(f"ownbox{own}%") for t in texts), texts
    scale = rep["colour_scale"]["page_max"]
    assert any(t == f"{scale:.3g}" for t in texts), (texts, scale)   # the colour bar's top tick: the page's scale
    assert "'box_id': 0" in p.stdout and "'own_share': " in p.stdout and "'top_regions': " in p.stdout


@pytest.fixture(scope="module")
def explainer():
    import paddle_cam as pc

    return pc.OCRExplainer.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def page(explainer):
    return explainer.explain(DEMO, boxes="top-3")


def test_results_save_serialise_and_draw(page, tmp_path):
    from paddle_cam.sinks.det_report import load_raw_map

    d = page.to_dict()
    assert [e["target"]["kind"] for e in d["explanations"]] == ["box"] * 3 + ["all_text"]
    assert json.loads(page.to_json()) == json.loads(json.dumps(d))
    rep = page.save(tmp_path / "p")
    assert rep["explanations"][0]["own_share"] == d["explanations"][0]["own_share"]
    raw = load_raw_map(rep, rep["explanations"][0])
    ex = page.explanations[0]
    np.testing.assert_allclose(raw, ex.layer_maps[ex.layers[0]], rtol=2e-3, atol=2e-3 * raw.max())
    img = page.overlay()
    assert img.dtype == np.uint8 and img.shape[0] == page.result.page.page_hw[0]
    assert img.shape[1] > page.result.page.page_hw[1]   # the colour bar beside the page


def test_python_defaults_are_the_clis(explainer):
    """One config, one behaviour: the Python default is box-local (gradient support on), as the CLI's."""
    from paddle_cam.config import load_config

    cfg = load_config("det/explain_ocr")
    assert explainer.method.name == cfg["Explain"]["method"]
    assert explainer.method_kwargs.get("gradient_support") is cfg["Explain"]["gradient_support"] is True
    assert explainer.config["Output"] == cfg["Output"]


def test_every_method_family_on_a_real_page_including_integrated_gradients(explainer):
    """Integrated gradients used to fail with 'no pixel is above the DB threshold': the all-text target was
    recomputed on its near-black inputs. The target now comes from the real page."""
    res = explainer.explain(DEMO, boxes=[0], method="integrated_gradients")
    kinds = {e.target["kind"]: e for e in res.explanations}
    assert set(kinds) == {"box", "all_text"} and res.method == "integrated_gradients"
    assert max(m.max() for m in kinds["all_text"].layer_maps.values()) > 0


def test_a_page_on_its_side_is_turned_upright(explainer):
    from paddle_cam.io import read_image

    img = read_image(DEMO)
    upright = explainer.explain(img, boxes="none", all_text=False)
    for k in (1, 3):   # on its left side, on its right side
        res = explainer.explain(np.ascontiguousarray(np.rot90(img, k)), boxes="none", all_text=False)
        assert res.rotation in (90, 270) and np.array_equal(res.result.page.image, img)
        assert [b.text for b in res.boxes] == [b.text for b in upright.boxes]


def test_bad_calls_say_what_to_do(explainer, tmp_path):
    import paddle_cam as pc

    with pytest.raises(pc.InputError, match="input not found|not found"):
        explainer.explain(str(tmp_path / "nope.jpg"))
    with pytest.raises(pc.InputError, match="no box with id 999"):
        explainer.explain(DEMO, boxes=[999])
    with pytest.raises(pc.InputError, match="BGR uint8"):
        explainer.explain(np.zeros((10, 10), np.float32))
    with pytest.raises(pc.InputError, match="did you mean"):
        pc.OCRExplainer.from_pretrained(overrides=["Explain.methd=layercam"])
    with pytest.raises(pc.InputError, match="PaddleOCR, TextDetection or TextRecognition"):
        pc.OCRExplainer.from_paddleocr(object())


PADDLEOCR_RUN = r"""
import json, sys
import paddle_cam as pc
from paddle_cam.models.paddlex_folders import bundled_paddlex_folders

tmp, img = sys.argv[1], sys.argv[2]
det_dir, rec_dir = bundled_paddlex_folders(tmp)

from paddleocr import PaddleOCR, TextDetection, TextRecognition

det = TextDetection(model_name="PP-OCRv4_mobile_det", model_dir=det_dir, device="cpu", enable_mkldnn=False,
                    box_thresh=0.5, limit_side_len=1280, limit_type="max")
rec = TextRecognition(model_name="PP-OCRv4_mobile_rec", model_dir=rec_dir, device="cpu", enable_mkldnn=False)
ex = pc.OCRExplainer.from_paddleocr(det, rec=rec, device="cpu")
res = ex.explain(img, boxes="none", all_text=False)
pipe = PaddleOCR(text_detection_model_name="PP-OCRv4_mobile_det", text_detection_model_dir=det_dir,
                 text_recognition_model_name="PP-OCRv4_mobile_rec", text_recognition_model_dir=rec_dir,
                 use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
                 device="cpu", enable_mkldnn=False)
ex2 = pc.OCRExplainer.from_paddleocr(pipe, device="cpu")
res2 = ex2.explain(img, boxes="none", all_text=False)
print("RESULT " + json.dumps({
    "det": {"box_thresh": ex.pipeline.post.box_thresh, "limit": [ex.pipeline.pre.limit_side_len, ex.pipeline.pre.limit_type],
            "model": res.to_dict()["model"]["path"], "texts": [b.text for b in res.boxes]},
    "pipe": {"box_thresh": ex2.pipeline.post.box_thresh, "limit": [ex2.pipeline.pre.limit_side_len, ex2.pipeline.pre.limit_type],
             "model": res2.to_dict()["model"]["path"], "rec": res2.to_dict()["model"]["rec"]["path"],
             "texts": [b.text for b in res2.boxes]}}, ensure_ascii=False))
"""


@pytest.mark.slow
def test_from_paddleocr_takes_the_models_and_settings_of_paddleocr_objects(tmp_path, page):
    """Real paddleocr.TextDetection / TextRecognition / PaddleOCR objects (PaddleOCR 3.7, offline, on the bundled
    PP-OCRv4 weights given PaddleX's inference.yml): the explainer loads their folders and detection settings."""
    script = tmp_path / "run.py"
    script.write_text(PADDLEOCR_RUN, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=ROOT, PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True",
               PADDLE_PDX_CACHE_HOME=str(tmp_path / "pdx"))
    p = subprocess.run([sys.executable, str(script), str(tmp_path), DEMO], capture_output=True, text=True,
                       timeout=900, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    got = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    assert got["det"]["box_thresh"] == 0.5 and got["det"]["limit"] == [1280, "max"]
    det, rec = str(tmp_path / "PP-OCRv4_mobile_det"), str(tmp_path / "PP-OCRv4_mobile_rec")
    assert got["det"]["model"] == det
    # the pipeline's own settings (PaddleX OCR.yaml): 64 / min, box_thresh 0.6
    assert got["pipe"]["box_thresh"] == 0.6 and got["pipe"]["limit"] == [64, "min"]
    assert got["pipe"]["model"] == det and got["pipe"]["rec"] == rec
    assert len(got["pipe"]["texts"]) > 80 and "发票代码：" in got["pipe"]["texts"]
