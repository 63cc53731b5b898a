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
    code, so, se = run("-i", img, "--save_path", str(out), "--vdl_dir", str(runs), "--vdl_run", "v4")
    assert code == 0, se
    rep = json.loads((out / "页面" / "report.json").read_text(encoding="utf-8"))
    return rep, out / "页面", runs


def test_report_contract(page_run):
    from paddle_cam.sinks.det_report import load_raw_map

    rep, out, _ = page_run
    assert rep["size"] == [900, 480] and rep["rotation"] == 0
    assert {"name", "source", "weights"} <= set(rep["model"])
    assert len(rep["boxes"]) == len(LINES)
    texts = [b["text"] for b in rep["boxes"]]
    assert texts == LINES   # ids in reading order
    for b in rep["boxes"]:
        assert len(b["polygon"]) == 4 and 0.6 <= b["score"] <= 1 and 0 <= b["text_score"] <= 1
    kinds = [e["target"]["kind"] for e in rep["explanations"]]
    assert kinds.count("box") == len(LINES) and kinds.count("all_text") == 1
    for e in rep["explanations"]:
        assert e["method"] == "gradcam" and e["layers"] == ["model.neck"]
        shares = (e["own_share"] or 0) + sum(r["share"] for r in e["top_regions"]) + e["other_regions"] + e["background"]
        assert abs(shares - 1) < 1e-6 and len(e["top_regions"]) <= 3
        raw = load_raw_map(rep, e)
        assert raw.dtype == np.float32 and raw.min() >= 0 and list(raw.shape[::-1]) == e["raw_map_grid"]
        assert abs(raw.max() - e["raw_scale"]) <= 1e-3 * e["raw_scale"]
        assert os.path.isfile(e["overlay"])
        if e["target"]["kind"] == "box":
            # the heat is on its own line: its own share beats every other region's
            assert all(e["own_share"] > r["share"] for r in e["top_regions"])
            assert e["energy_in_box"] > 0.9   # by construction at the neck: kept, never the headline
            assert Image.open(e["overlay"]).size[0] > 100
    assert rep["colour_scale"]["panels"] == "page"
    assert rep["colour_scale"]["page_max"] == max(e["raw_max"] for e in rep["explanations"]
                                                  if e["target"]["kind"] == "box")
    assert (out / "page.png").is_file() and (out / "raw.npz").is_file()


def test_visualdl_one_image_tag_per_page_with_a_box_slider(page_run):
    rep, _, runs = page_run
    with VisualDLServer(str(runs)) as s:
        run_name = s.json("runs")[0]
        assert run_name == "v4"   # the name the user gave, not a path
        tags = s.json("image/tags")["tags"][0]
        assert "页面/det/gradcam/page" in tags and "页面/det/gradcam/boxes" in tags
        assert not [t for t in tags if "box_" in t]   # one tag for all boxes, not one per box
        steps = s.json("image/list", run=run_name, tag="页面/det/gradcam/boxes")
        assert sorted(int(x["step"]) for x in steps) == [b["id"] for b in rep["boxes"]]
        png = s.get("image/image", run=run_name, tag="页面/det/gradcam/boxes", index=0)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        hist = s.json("histogram/list", run=run_name, tag="页面/det/gradcam/own_share")
        assert len(hist) == 1


def test_visualdl_image_view_renders_in_headless_chromium(page_run, tmp_path):
    """VisualDL's own front end (not only its API) shows the page's image cards, for the run named by the user."""
    import shutil

    _, _, runs = page_run
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed; `make test` installs Debian's chromium package")
    with VisualDLServer(str(runs)) as s:
        p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", "--no-first-run",
                            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
                            s.base + "/app/image"], capture_output=True, text=True, timeout=180)
    dom = p.stdout
    assert "页面/det/gradcam/page" in dom and "页面/det/gradcam/boxes" in dom, dom[-2000:]
    assert "v4" in dom and dom.count("<img") >= 2


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
    expect = {"missing": "input not found", "layer": "closest valid names", "model": "model folder",
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


def test_a_pdf_page_range_with_integrated_gradients(tmp_path):
    """explain_ocr.py -i <a PDF> --method integrated_gradients: the chosen pages, named <stem>_p<N>, every target
    (the all-text one included: it is fixed from the real page, not recomputed on IG's near-black inputs)."""
    pages = [Image.open(render_page(tmp_path / f"p{i}.png", size=(700, 420))) for i in range(3)]
    pdf = tmp_path / "scan.pdf"
    pages[0].save(pdf, "PDF", resolution=100, save_all=True, append_images=pages[1:])
    out = tmp_path / "out"
    code, so, se = run("-i", str(pdf), "--save_path", str(out), "--method", "integrated_gradients", "--boxes", "0",
                       "--pdf_pages", "2-3", "-o", "Explain.layers=[neck]")
    assert code == 0, se
    assert sorted(p.name for p in out.iterdir()) == ["scan_p2", "scan_p3"]
    rep = json.loads((out / "scan_p2" / "report.json").read_text(encoding="utf-8"))
    kinds = {e["target"]["kind"]: e for e in rep["explanations"]}
    assert set(kinds) == {"box", "all_text"} and kinds["box"]["method"] == "integrated_gradients"
    assert kinds["all_text"]["raw_max"] > 0 and rep["boxes"][0]["text"] == LINES[0]


@pytest.mark.parametrize("case", ["page_range", "method_kind", "bad_key"])
def test_bad_choices_fail_before_the_models_load(tmp_path, case):
    pdf = tmp_path / "one.pdf"
    Image.open(render_page(tmp_path / "p.png", size=(300, 120))).save(pdf, "PDF", resolution=100)
    args = ["-i", str(pdf), "--save_path", str(tmp_path / "out"), "--det_model_dir", str(tmp_path / "no_model")]
    args += {"page_range": ["--pdf_pages", "2"], "method_kind": ["--method", "feature_occlusion"],
             "bad_key": ["-o", "Output.colour_scal=panel"]}[case]
    expect = {"page_range": "page 2 is out of range", "method_kind": "methods that can: gradcam",
              "bad_key": "did you mean Output.colour_scale"}[case]
    code, so, se = run(*args)
    lines = [ln for ln in se.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and expect in lines[0], se
    assert not (tmp_path / "out" / "one").exists()


def test_a_long_folder_streams_with_flat_memory(tmp_path):
    """A folder run reads ahead and writes behind on bounded queues: resident memory after 40 pages is within a
    few tens of MB of what it was after 10 (sampled from /proc while the run goes)."""
    import time

    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        render_page(src / f"p{i:02d}.png", size=(420, 240))
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, TOOL, "-i", str(src), "--save_path", str(out), "--boxes", "top-1",
                          "-o", "Explain.all_text=false", "Global.fix_orientation=false"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []   # (pages written, RSS MB)
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                rss = int(f.read().split("VmRSS:")[1].split()[0]) / 1024
        except (OSError, IndexError):
            break
        samples.append((len(list(out.glob("*/report.json"))) if out.exists() else 0, rss))
        time.sleep(0.2)
    so, se = p.communicate(timeout=600)
    assert p.returncode == 0, se
    assert len(list(out.glob("*/report.json"))) == 40
    at = lambda n: max(r for k, r in samples if k <= n)   # noqa: E731  peak RSS up to page n
    assert at(39) - at(10) < 60, [(k, round(r)) for k, r in samples[::10]]
    print(f"RSS after 10 pages {at(10):.0f} MB, after 39 {at(39):.0f} MB")
