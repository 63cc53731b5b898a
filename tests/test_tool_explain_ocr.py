"""tools/explain_ocr.py end to end on real weights: report contract, VisualDL over HTTP, bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vdl_server import VisualDLServer

TOOL = os.path.join(os.path.dirname(__file__), "..", "tools", "explain_ocr.py")
LINES = ["增值税专用发票", "发票号码：04521368", "价税合计（大写）壹仟贰佰元整", "开票日期：2024年05月01日"]


def run(*args, timeout=600):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def render_page(path, size=(900, 480), mode="RGB"):
    from paddle_cam.fonts import cjk_font

    im = Image.new("RGB", size, (250, 248, 240))
    d = ImageDraw.Draw(im)
    f = cjk_font(30)
    for i, t in enumerate(LINES):
        d.text((40 + 12 * i, 40 + 105 * i), t, font=f, fill=(30, 30, 30))
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path)
    return str(path)


@pytest.fixture(scope="module")
def page_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ocr")
    img = render_page(d / "页面.png")  # non-ASCII path on purpose
    out, runs = d / "out", d / "runs"
    code, so, se = run("--img", img, "--output", str(out), "--vdl_dir", str(runs))
    assert code == 0, se
    rep = json.loads((out / "页面" / "report.json").read_text(encoding="utf-8"))
    return rep, out / "页面", runs


def test_report_contract(page_run):
    rep, out, _ = page_run
    assert rep["size"] == [900, 480]
    assert {"name", "source", "weights"} <= set(rep["model"])
    assert len(rep["boxes"]) == len(LINES)
    texts = {b["text"] for b in rep["boxes"]}
    assert "发票号码：04521368" in texts and "增值税专用发票" in texts
    for b in rep["boxes"]:
        assert len(b["polygon"]) == 4 and 0.6 <= b["score"] <= 1 and 0 <= b["text_score"] <= 1
    kinds = [e["target"]["kind"] for e in rep["explanations"]]
    assert kinds.count("box") == len(LINES) and kinds.count("all_text") == 1
    for e in rep["explanations"]:
        assert e["method"] == "gradcam" and e["layers"] == ["model.neck"]
        shares = sum(r["share"] for r in e["regions"]) + e["background"]
        assert abs(shares - 1) < 1e-6
        raw = np.load(e["raw_map"])
        assert raw.dtype == np.float32 and raw.min() >= 0 and list(raw.shape[::-1]) == e["raw_map_grid"]
        assert os.path.isfile(e["overlay"])
        if e["target"]["kind"] == "box":
            own = next(r["share"] for r in e["regions"] if r["box_id"] == e["target"]["box_id"])
            assert own == max(r["share"] for r in e["regions"])  # the heat is on its own line
            assert e["energy_in_box"] > 0.9
    assert (out / "page.png").is_file()


def test_visualdl_serves_logged_images_and_scalars(page_run):
    rep, _, runs = page_run
    with VisualDLServer(str(runs)) as s:
        run_name = s.json("runs")[0]
        assert run_name.endswith("base")
        tags = s.json("image/tags")["tags"][0]
        assert "页面/det/gradcam/page" in tags and "页面/det/gradcam/box_0" in tags
        png = s.get("image/image", run=run_name, tag="页面/det/gradcam/box_0", index=0)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        vals = s.json("scalar/list", run=run_name, tag="页面/det/gradcam/energy_in_box")
        logged = {int(step): v for _, step, v in vals}
        expect = {e["target"]["box_id"]: e["energy_in_box"] for e in rep["explanations"] if e["target"]["kind"] == "box"}
        assert set(logged) == set(expect)
        for k, v in expect.items():
            assert abs(logged[k] - v) < 1e-5
        scores = s.json("scalar/list", run=run_name, tag="页面/det/score")
        assert len(scores) == len(rep["boxes"])


def test_odd_images_in_a_folder_run(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    render_page(src / "gray.png", mode="L")
    render_page(src / "rgba.png", mode="RGBA")
    arr = np.asarray(Image.open(render_page(tmp_path / "base.png")).convert("L")).astype(np.uint16) * 257
    Image.fromarray(arr).save(src / "deep16.png")
    im = Image.open(tmp_path / "base.png").rotate(90, expand=True)  # stored sideways, EXIF says turn it back
    exif = im.getexif()
    exif[0x0112] = 8
    im.save(src / "exif.jpg", exif=exif, quality=92)
    Image.new("RGB", (1, 1), "white").save(src / "tiny.png")
    (src / "empty.png").write_bytes(b"")
    (src / "notes.jpg").write_text("not an image")
    good = (tmp_path / "base.png").read_bytes()
    (src / "truncated.png").write_bytes(good[: len(good) // 3])
    Image.new("1", (20000, 20000), 1).save(src / "huge.png")
    out = tmp_path / "out"
    code, so, se = run("--img", str(src), "--output", str(out), "--boxes", "top-1", "-o", "Explain.all_text=false")
    assert code == 2, se
    for name in ("gray", "rgba", "deep16", "exif"):
        rep = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
        assert len(rep["boxes"]) == len(LINES), name
        assert len(rep["explanations"]) == 1
    assert json.loads((out / "exif" / "report.json").read_text())["size"] == [900, 480]
    tiny = json.loads((out / "tiny" / "report.json").read_text())
    assert tiny["boxes"] == [] and tiny["explanations"] == []
    errs = [l for l in se.splitlines() if l.startswith("error: ")]
    assert len(errs) == 4, se
    for name, why in (("empty.png", "empty"), ("notes.jpg", "not an image"), ("truncated.png", "truncated"),
                      ("huge.png", "too large")):
        assert any(name in l and why in l for l in errs), (name, se)
    for name in ("empty", "notes", "truncated", "huge"):
        assert not (out / name / "report.json").exists()


@pytest.mark.parametrize("case", ["missing", "layer", "model", "unwritable", "boxes", "key"])
def test_bad_input_one_line_exit_2(tmp_path, case):
    img = render_page(tmp_path / "p.png", size=(300, 120))
    args = ["--img", img, "--output", str(tmp_path / "out")]
    expect = {"missing": "image not found", "layer": "closest valid names", "model": "model folder",
              "unwritable": "cannot write to output folder", "boxes": "no box with id",
              "key": "did you mean PostProcess.box_thresh"}[case]
    if case == "missing":
        args[1] = str(tmp_path / "nope.jpg")
    elif case == "layer":
        args += ["--layers", "model.nek"]
    elif case == "model":
        bad = tmp_path / "model"
        bad.mkdir()
        (bad / "inference.pdmodel").write_bytes(b"x")
        args += ["--det_model_dir", str(bad)]
        expect = "no .pdiparams"
    elif case == "unwritable":
        f = tmp_path / "f"
        f.write_text("x")
        args[3] = str(f / "o")
    elif case == "boxes":
        args += ["--boxes", "99"]
    elif case == "key":  # refused before the (missing) model would be loaded
        args += ["--det_model_dir", str(tmp_path / "no_model"), "-o", "PostProcess.box_tresh=0.5"]
    code, so, se = run(*args)
    lines = [l for l in se.splitlines() if l.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], se
