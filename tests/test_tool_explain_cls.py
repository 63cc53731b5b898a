"""tools/explain_cls.py end to end: outputs, and one-line exit-2 errors on bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "explain_cls.py")


def run(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_explains_flipped_line(tmp_path, demo_lines):
    path = next(p for p, deg in demo_lines if deg == 180)
    code, out, err = run("--img", path, "--output", str(tmp_path))
    assert code == 0, err
    d = tmp_path / os.path.splitext(os.path.basename(path))[0]
    rep = json.loads((d / "report.json").read_text(encoding="utf-8"))
    assert rep["prediction"]["label"] == "180"
    ex = rep["explanations"][0]
    assert ex["method"] == "gradcam" and ex["layers"] == ["backbone.conv2"] and ex["target"]["class_id"] == 1
    raw = np.load(ex["raw_map"])
    assert raw.dtype == np.float32 and list(raw.shape[::-1]) == rep["size"] and raw.max() > 0
    assert os.path.getsize(ex["overlay"]) > 1000


def test_class_id_layers_method_and_config(tmp_path, demo_lines, root):
    path = demo_lines[0][0]
    code, _, err = run("--img", path, "--output", str(tmp_path), "-c", os.path.join(root, "configs/cls/orientation.yml"),
                       "-o", "Explain.method=layercam", "--layers", "backbone.blocks.9,backbone.conv2", "--class_id", "1")
    assert code == 0, err
    rep = json.loads(next(tmp_path.glob("*/report.json")).read_text(encoding="utf-8"))
    ex = rep["explanations"][0]
    assert ex["method"] == "layercam" and ex["layers"] == ["backbone.blocks.9", "backbone.conv2"]
    assert ex["target"]["class_id"] == 1


@pytest.mark.parametrize("case", ["missing", "not_image", "bad_layer", "bad_class", "unwritable", "bad_method",
                                  "bad_key", "bad_type"])
def test_bad_input_one_line_exit_2(tmp_path, demo_lines, case):
    good = demo_lines[0][0]
    args = ["--img", good, "--output", str(tmp_path / "out")]
    expect = {"missing": "image not found", "not_image": "not an image", "bad_layer": "closest valid names",
              "bad_class": "out of range", "unwritable": "cannot write to output folder", "bad_method": "unknown method",
              "bad_key": "did you mean Explain.method", "bad_type": "Output.alpha must be a number"}[case]
    if case == "missing":
        args[1] = str(tmp_path / "nope.png")
    elif case == "not_image":
        f = tmp_path / "x.jpg"
        f.write_text("hello")
        args[1] = str(f)
    elif case == "bad_layer":
        args += ["--layers", "backbone.conv"]
    elif case == "bad_class":
        args += ["--class_id", "5"]
    elif case == "unwritable":
        f = tmp_path / "afile"
        f.write_text("x")
        args[3] = str(f / "out")
    elif case == "bad_method":
        args += ["--method", "gradcam3"]
    elif case in ("bad_key", "bad_type"):  # refused before the (missing) model would be loaded
        args += ["--model_dir", str(tmp_path / "no_model"),
                 "-o", "Explain.methd=layercam" if case == "bad_key" else "Output.alpha=high"]
    code, out, err = run(*args)
    assert code == 2, (out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], err


def test_folder_run_keeps_going(tmp_path, demo_lines):
    src = tmp_path / "in"
    src.mkdir()
    import shutil

    shutil.copy(demo_lines[0][0], src / "a.png")
    (src / "b.png").write_bytes(b"garbage")
    code, out, err = run("--img", str(src), "--output", str(tmp_path / "out"))
    assert code == 2
    assert (tmp_path / "out" / "a" / "report.json").is_file()
    assert "b.png" in err and "not an image" in err
