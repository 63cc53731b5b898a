"""PaddleOCR model names -> PaddleX's model cache: resolution, the one-line errors, and that a name
never runs other weights (tools exit 2 before any image is processed)."""
import json
import os
import subprocess
import sys

import pytest

from paddle_cam.errors import InputError, ModelLoadError
from paddle_cam.models import names

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEMO = os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100.jpg")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty PaddleX cache root for this test."""
    monkeypatch.setenv("PADDLE_PDX_CACHE_HOME", str(tmp_path / "pdx"))
    return tmp_path / "pdx" / "official_models"


def make_folder(path, model_name=None):
    path.mkdir(parents=True)
    if model_name:
        (path / "inference.yml").write_text(f"Global:\n  model_name: {model_name}\n", encoding="utf-8")
    return str(path)


def test_kinds_of_the_paddleocr_names():
    det = ["PP-OCRv4_mobile_det", "PP-OCRv5_mobile_det", "PP-OCRv5_server_det", "PP-OCRv6_tiny_det",
           "PP-OCRv6_small_det", "PP-OCRv6_medium_det"]
    assert names.known_names("det") == det
    assert set(names.known_names("rec")) == {"PP-OCRv4_mobile_rec", "PP-OCRv5_mobile_rec", "PP-OCRv5_server_rec",
                                             "PP-OCRv6_tiny_rec", "PP-OCRv6_small_rec", "PP-OCRv6_medium_rec"}
    assert names.model_kind("PP-OCRv6_small_det_safetensors") == "det"
    assert names.model_kind("PP-OCRv5_mobile_rec_onnx") == "rec"
    assert names.check_kind("PP-OCRv6_medium_rec_safetensors", "rec") == "PP-OCRv6_medium_rec"


def test_resolves_to_the_cache_folder_paddlex_uses(cache):
    with pytest.raises(ModelLoadError):
        names.resolve_model_name("PP-OCRv6_small_det", "det")
    st = make_folder(cache / "PP-OCRv6_small_det_safetensors")
    assert names.resolve_model_name("PP-OCRv6_small_det", "det") == st  # the only format present
    paddle = make_folder(cache / "PP-OCRv6_small_det")
    assert names.resolve_model_name("PP-OCRv6_small_det", "det") == paddle  # paddleocr's default download first
    assert names.resolve_model_name("PP-OCRv6_small_det_safetensors", "det") == st  # a suffix names one folder
    with pytest.raises(ModelLoadError, match="PP-OCRv6_small_det_onnx"):
        names.resolve_model_name("PP-OCRv6_small_det_onnx", "det")
    # PP-OCRv4 has no safetensors package: its _safetensors folder is never taken for it
    make_folder(cache / "PP-OCRv4_mobile_rec_safetensors")
    with pytest.raises(ModelLoadError):
        names.resolve_model_name("PP-OCRv4_mobile_rec", "rec")
    assert names.pdx_cache_home() == str(cache.parent)


def test_missing_folder_is_one_line_with_where_and_how(cache):
    with pytest.raises(ModelLoadError) as e:
        names.resolve_model_name("PP-OCRv6_small_rec", "rec")
    msg = str(e.value)
    assert "\n" not in msg
    assert f"looked for {cache / 'PP-OCRv6_small_rec'} (or PP-OCRv6_small_rec_safetensors, PP-OCRv6_small_rec_onnx)" \
        in msg
    assert "`paddleocr text_recognition --model_name PP-OCRv6_small_rec -i <image>`" in msg
    assert "PADDLE_PDX_CACHE_HOME" in msg and "--rec_model_dir" in msg
    with pytest.raises(ModelLoadError) as e:
        names.resolve_model_name("PP-OCRv5_server_det_safetensors", "det")
    assert "`paddleocr text_detection --model_name PP-OCRv5_server_det --engine paddle_dynamic -i <image>`" in str(e.value)


def test_unknown_name_lists_known_names_closest_first():
    with pytest.raises(InputError) as e:
        names.resolve_model_name("PP-OCRv6_smal_det", "det")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("unknown model name 'PP-OCRv6_smal_det'")
    listed = msg.split("(closest first): ")[1].split(", ")
    assert sorted(listed) == sorted(names.known_names()) and listed[0] == "PP-OCRv6_small_det"
    with pytest.raises(InputError, match="PaddleX has no safetensors package of PP-OCRv4_mobile_det"):
        names.model_kind("PP-OCRv4_mobile_det_safetensors")


@pytest.mark.parametrize("name,kind,hint", [("PP-OCRv6_small_rec", "det", "--rec_model_name"),
                                            ("PP-OCRv5_mobile_det", "rec", "--model_name")])
def test_det_rec_mix_up_is_one_line(cache, name, kind, hint):
    make_folder(cache / name)  # even when its folder exists
    with pytest.raises(InputError) as e:
        names.resolve_model_name(name, kind)
    assert "\n" not in str(e.value) and str(e.value).startswith(f"{name} is a ") and hint in str(e.value)


def test_explicit_folder_wins_but_must_declare_the_same_model(cache, tmp_path):
    own = make_folder(tmp_path / "mine", "PP-OCRv6_small_det")
    assert names.resolve_weights(own, "PP-OCRv6_small_det", "det") == (own, "PP-OCRv6_small_det")  # cache empty
    assert names.resolve_weights(own, None, "det") == (own, None)
    assert names.resolve_weights(None, None, "det") == (None, None)  # the bundled default
    with pytest.raises(InputError, match="holds PP-OCRv6_small_det .*not PP-OCRv5_mobile_det"):
        names.resolve_weights(own, "PP-OCRv5_mobile_det", "det")
    with pytest.raises(InputError, match="a text detection model, given as the text recognition model"):
        names.resolve_weights(own, None, "rec")


def test_pipeline_fails_on_a_missing_name_before_loading(cache):
    from paddle_cam.config import load_config
    from paddle_cam.ocr.pipeline import TextPipeline

    # the recogniser's name is checked too before the detector loads
    cfg = load_config("det/explain_ocr", overrides=["Global.rec_model_name=PP-OCRv6_small_det"])
    with pytest.raises(InputError, match="pass it with --model_name"):
        TextPipeline.from_config(cfg)
    cfg = load_config("det/explain_ocr", overrides=["Global.det_model_name=PP-OCRv5_mobile_det"])
    with pytest.raises(ModelLoadError, match="PP-OCRv5_mobile_det is not in PaddleX's model cache"):
        TextPipeline.from_config(cfg, use_rec=False)


@pytest.mark.slow
def test_report_record_describes_the_loaded_weights(cache):
    """The bundled folders have no inference.yml: the record still names them as PaddleOCR does, and a
    name given with an explicit folder is checked against it, not merely copied."""
    from paddle_cam.config import load_config
    from paddle_cam.models.cls import bundled_model_dir
    from paddle_cam.ocr.pipeline import TextPipeline
    from paddle_cam.sinks.det_report import model_record

    det_dir = bundled_model_dir("ch_PP-OCRv4_det_infer")
    pipe = TextPipeline.from_config(load_config("det/explain_ocr", overrides=[
        f"Global.det_model_dir={det_dir}", "Global.det_model_name=PP-OCRv4_mobile_det"]))
    rec = model_record(pipe)
    assert (rec["name"], rec["kind"], rec["path"], rec["format"]) == ("PP-OCRv4_mobile_det", "det", det_dir, "paddle")
    assert rec["source"] == det_dir and rec["arch"] == "mobile"
    assert rec["rec"]["name"] == "PP-OCRv4_mobile_rec" and rec["rec"]["format"] == "paddle"
    assert rec["rec"]["path"] == bundled_model_dir("ch_PP-OCRv4_rec_infer")
    json.dumps(rec)


def _run(tool, *args, cache_home):
    env = dict(os.environ, PADDLE_PDX_CACHE_HOME=str(cache_home))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", tool), *args], capture_output=True, text=True,
                       timeout=300, env=env)
    return p.returncode, p.stdout, [ln for ln in p.stderr.splitlines() if ln.strip()]


@pytest.mark.parametrize("tool,args,line", [
    ("explain_ocr.py", ["--img", DEMO, "--det_model_name", "PP-OCRv5_mobile_det"],
     "error: PP-OCRv5_mobile_det is not in PaddleX's model cache: looked for {cache}/PP-OCRv5_mobile_det (or "
     "PP-OCRv5_mobile_det_safetensors, PP-OCRv5_mobile_det_onnx); download it once with network access: "
     "`paddleocr text_detection --model_name PP-OCRv5_mobile_det -i <image>` (PADDLE_PDX_CACHE_HOME moves the cache), "
     "or pass the folder with --det_model_dir"),
    ("explain_ocr.py", ["--img", DEMO, "--model_name", "PP-OCRv6_small_det", "--rec_model_name", "PP-OCRv6_small_det"],
     "error: PP-OCRv6_small_det is a text detection (det) model but was given as the text recognition model; "
     "pass it with --model_name (Global.det_model_name)"),
    ("qa_invoices.py", ["--input", DEMO, "--text_recognition_model_name", "PP-OCRv6_small_rec"],
     "error: PP-OCRv6_small_rec is not in PaddleX's model cache: looked for {cache}/PP-OCRv6_small_rec (or "
     "PP-OCRv6_small_rec_safetensors, PP-OCRv6_small_rec_onnx); download it once with network access: "
     "`paddleocr text_recognition --model_name PP-OCRv6_small_rec -i <image>` (PADDLE_PDX_CACHE_HOME moves the "
     "cache), or pass the folder with --rec_model_dir"),
])
def test_tools_exit_2_with_one_line_before_any_image(tmp_path, tool, args, line):
    out = tmp_path / "out"
    code, stdout, err = _run(tool, *args, "--output", str(out), cache_home=tmp_path / "pdx")
    assert code == 2 and err == [line.format(cache=tmp_path / "pdx" / "official_models")], err
    assert not any(out.rglob("*")), "no image may be processed"  # no page folder, no report.json


PADDLEX_PROBE = r"""
import json, os, shlex, sys
from paddlex.inference import models as pm
from paddlex.inference.utils import official_models as om
from paddlex.modules.text_detection.model_list import MODELS as DET
from paddlex.modules.text_recognition.model_list import MODELS as REC
from paddleocr._cli import _get_parser
from paddle_cam.models import names

parser = _get_parser()
out = {"det": DET, "rec": REC, "folders": {}}
for base, (kind, fmts) in names.MODELS.items():
    for fmt in fmts:
        name = base + names.FORMAT_SUFFIX[fmt]
        args = parser.parse_args(shlex.split(names.download_command(name))[1:])
        engine = args.engine or pm._resolve_default_paddle_engine(args.model_name)
        formats = pm._get_inference_engine(engine).get_supported_model_formats()
        folder = os.path.join(str(om.official_models._save_dir),
                              om._resolve_download_model_names(args.model_name, formats)[0])
        out["folders"][name] = [args.subcommand, args.input, folder, names.official_model_dirs(name)[0]]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_names_folders_and_commands_are_paddlex_and_paddleocr_own(tmp_path):
    """PaddleX's own resolution (engine -> formats -> official folder) of the command each error prints
    lands on the folder paddle_cam looks in; the command parses with the installed paddleocr CLI."""
    env = dict(os.environ, PADDLE_PDX_CACHE_HOME=str(tmp_path / "pdx"), PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-c", PADDLEX_PROBE], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(names.known_names("det")) <= set(got["det"]) and set(names.known_names("rec")) <= set(got["rec"])
    assert len(got["folders"]) == 32  # v4: paddle only; v5/v6: paddle, safetensors, onnx
    for name, (sub, img, pdx_folder, ours) in got["folders"].items():
        assert sub == {"det": "text_detection", "rec": "text_recognition"}[names.model_kind(name)] and img == "<image>"
        assert pdx_folder == ours == str(tmp_path / "pdx" / "official_models" / name), name


def test_names_are_the_loaders_families():
    """The names resolved here are exactly those the detector and recogniser families serve."""
    from paddle_cam.models.det_families import FAMILIES as DET
    from paddle_cam.models.rec_arch import FAMILIES as REC

    assert sorted(names.known_names("det")) == sorted(n for f in DET.values() for n in f.model_names)
    assert sorted(names.known_names("rec")) == sorted(REC)
