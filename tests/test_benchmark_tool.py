"""benchmarks/benchmark.py without the heavy groups: group selection, the optional InterpretDL row
(skipped with a reason when it does not import) and the table of whatever was measured."""
import json

import pytest

from benchmarks.benchmark import GROUPS, import_interpretdl, main, markdown
from paddle_cam.errors import InputError


def test_interpretdl_row_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # a stray default BENCHMARKS.md would land here
    out = tmp_path / "b.json"
    md = tmp_path / "BENCHMARKS.md"
    missing = tmp_path / "no_such_folder"
    assert main(["--quick", "--only", "interpretdl", "--interpretdl", str(missing), "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["groups"] == ["interpretdl"] and "not a folder" in data["interpretdl"]["skipped"]
    assert "interpretdl_gradcam_spearman" not in data["goals"]
    assert not md.exists()                          # --only writes no table unless --md is given
    mod, why = import_interpretdl(str(missing))
    assert mod is None and "not a folder" in why
    with pytest.raises(InputError, match="unknown group"):
        main(["--only", "nonsense", "--json", str(out)])
    with pytest.raises(InputError, match="Bench.repeats"):  # a misspelt key, before any model loads
        main(["-o", "Bench.repats=2", "--json", str(out)])


def test_markdown_lists_only_the_measured_rows():
    r = {"machine": "m", "repeats": 3, "quick": True, "groups": ["rss", "interpretdl"], "peak_rss_a4_mb": 2000.0,
         "interpretdl": {"version": "0.8.0", "interpretdl_s": 0.3, "ours_s": 0.1, "time_ratio": 3.0,
                         "spearman": 0.999, "spearman_min": 0.99, "max_rel_diff": 1e-5, "images": 8,
                         "input": [8, 3, 48, 192], "model": "cls", "layer": "backbone.conv2"},
         "goals": {"peak_rss_a4_mb": {"goal": "<= 3072.0", "met": True},
                   "interpretdl_gradcam_spearman": {"goal": ">= 0.99", "met": True}}}
    text = markdown(r)
    assert "`peak_rss_a4_mb` | 2000" in text and "`interpretdl_gradcam_time_ratio` | 3.00" in text
    assert "gradcam_over_fwd_bwd" not in text and "--only rss,interpretdl" in text
    assert set(GROUPS) >= {"gradcam", "allbox", "scorecam", "rss", "interpretdl"}


def test_v6_rows_say_why_they_are_missing(tmp_path, monkeypatch):
    """Without rapidocr's PP-OCRv6 ONNX the v6 group is a skipped row with the install command; a
    v6 folder that does not exist is the loader's one-line error, not a skipped row."""
    import importlib.util

    from paddle_cam.errors import PaddleCamError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rapidocr" else real(name, *a))
    out = tmp_path / "b.json"
    assert main(["--quick", "--only", "v6", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "rapidocr==3.10.0" in data["v6_small_skipped"]
    assert "`v6_small_gradcam_over_fwd_bwd` | skipped" in markdown(data)
    with pytest.raises(PaddleCamError, match="no_such.onnx"):
        main(["--quick", "--only", "v6", "-o", f"Bench.v6_det={tmp_path / 'no_such.onnx'}", "--json", str(out)])
