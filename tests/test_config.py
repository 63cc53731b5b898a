"""configs/*.yml as the one source of defaults; -c/-o validated against them."""
import os

import pytest
import yaml

from paddle_cam.config import load_config, set_from_args, valid_keys
from paddle_cam.errors import InputError


def test_defaults_come_from_the_yml(root):
    with open(os.path.join(root, "configs", "det", "explain_ocr.yml"), encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    assert load_config("det/explain_ocr") == raw


def test_override_is_typed_and_applied():
    cfg = load_config("det/explain_ocr", overrides=["PostProcess.box_thresh=0.5", "Explain.layers=[scales]",
                                                    "PostProcess.max_candidates=20"])
    assert cfg["PostProcess"]["box_thresh"] == 0.5
    assert cfg["Explain"]["layers"] == ["scales"]
    assert cfg["PostProcess"]["max_candidates"] == 20


def test_misspelt_override_names_the_closest_key():
    with pytest.raises(InputError) as e:
        load_config("det/explain_ocr", overrides=["PostProcess.box_tresh=0.5"])
    msg = str(e.value)
    assert "unknown key 'PostProcess.box_tresh'" in msg and "PostProcess.box_thresh" in msg


def test_misspelt_section_names_the_closest_key():
    with pytest.raises(InputError, match="Explain"):
        load_config("det/explain_ocr", overrides=["Explian.method=layercam"])


def test_wrong_value_type_names_the_key():
    with pytest.raises(InputError, match="PostProcess.box_thresh must be a number"):
        load_config("det/explain_ocr", overrides=["PostProcess.box_thresh=high"])
    with pytest.raises(InputError, match="Explain.all_text must be true/false"):
        load_config("det/explain_ocr", overrides=["Explain.all_text=3"])


def test_user_file_is_checked_like_overrides(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("PostProcess:\n  unclip_ratio: 2.0\n", encoding="utf-8")
    assert load_config("det/explain_ocr", str(good))["PostProcess"]["unclip_ratio"] == 2.0
    bad = tmp_path / "bad.yml"
    bad.write_text("PostProcess:\n  unclip_ration: 2.0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown key 'PostProcess.unclip_ration'.*PostProcess.unclip_ratio"):
        load_config("det/explain_ocr", str(bad))
    broken = tmp_path / "broken.yml"
    broken.write_text("PostProcess: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config("det/explain_ocr", str(broken))
    with pytest.raises(InputError, match="config not found"):
        load_config("det/explain_ocr", str(tmp_path / "missing.yml"))


def test_set_from_args_copies_only_given_flags():
    import argparse

    cfg = load_config("det/explain_ocr")
    args = argparse.Namespace(device=None, output="out")
    set_from_args(cfg, args, {"device": "Global.device", "output": "Global.output"})
    assert cfg["Global"]["output"] == "out" and cfg["Global"]["device"] == "auto"


def test_every_config_file_parses(root):
    names = []
    for d, _, files in os.walk(os.path.join(root, "configs")):
        names += [os.path.join(d, f) for f in files if f.endswith(".yml")]
    assert len(names) >= 6
    for path in names:
        assert valid_keys(load_config(path)), path


# Every tool: a misspelt -o key is refused with exit 2 and the closest key, before anything is loaded
# (the model folder given does not exist: loading it would fail with another message).
IMG = "demo_docs/invoices/invoice_0100.jpg"
TOOLS = [
    ("tools/explain_ocr.py", ["--img", IMG, "--det_model_dir", "/nonexistent/det"], "Global.devcie=cpu", "Global.device"),
    ("tools/explain_cls.py", ["--img", IMG, "--model_dir", "/nonexistent/cls"], "Explain.methd=gradcam", "Explain.method"),
    ("tools/qa_invoices.py", ["--input", IMG, "--det_model_dir", "/nonexistent/det"], "QA.min_rec_scor=0.5",
     "QA.min_rec_score"),
    ("tools/train_field_cls.py", ["--output", "/nonexistent/out"], "Train.epoch=1", "Train.epochs"),
    ("tools/make_demo_docs.py", ["--out", "/nonexistent/out"], "Global.nmu=1", "Global.num"),
    ("tools/evaluate_explanations.py", ["--input", "demo_docs"], "Eval.boxs=3", "Eval.boxes"),
    ("tools/prune_compare.py", ["--input", "demo_docs", "--model_dir", "/nonexistent/det"], "Prune.ratioz=0.3", "Prune.ratios"),
    ("tools/parity_check.py", ["--img", IMG, "--model_dir", "/nonexistent/det"], "Global.kidn=det", "Global.kind"),
    ("benchmarks/benchmark.py", [], "Bench.repeatz=1", "Bench.repeats"),
]


@pytest.mark.parametrize("tool,args,bad,closest", TOOLS, ids=[t[0].split("/")[-1] for t in TOOLS])
def test_every_tool_rejects_a_misspelt_key_before_loading(root, tool, args, bad, closest):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, tool, *args, "-o", bad], cwd=root, capture_output=True, text=True,
                         timeout=120)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-2000:]
    assert f"unknown key '{bad.split('=')[0]}'" in lines[0]
    if closest:
        assert closest in lines[0]


def test_values_yaml_cannot_build_reach_the_key_check(tmp_path):
    """An -o value YAML recognises but cannot build (an impossible date) stays text for the key's own
    check; in a -c file it is one line naming the file."""
    from paddle_cam.config import load_config

    cfg = load_config("qa", overrides=["QA.reference_date=2024-13-01"])
    assert cfg["QA"]["reference_date"] == "2024-13-01"
    bad = tmp_path / "bad.yml"
    bad.write_text("QA:\n  reference_date: 2024-13-01\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yml has a value YAML cannot read"):
        load_config("qa", str(bad))
