"""Speed and memory of the explainers, as ratios measured side by side in one process.

    python benchmarks/benchmark.py [--quick] --json benchmark.json      # writes BENCHMARKS.md too
    python benchmarks/benchmark.py --quick --only interpretdl --json idl.json   # one group, no BENCHMARKS.md

``make bench`` runs it (with InterpretDL, see the Makefile). This harness lives beside the
package, not in it: it needs the checkout (demo_docs/, tools/explain_ocr.py) and is not a tool a
user installs. Defaults: configs/benchmark.yml (change them with -c FILE or -o Section.key=value).

Every ratio compares two ways of computing the same thing on the real PP-OCRv4 detector at 960 px
(medians of repeated runs, same process, same input), so machine speed cancels out.

Groups (``--only``): ``gradcam`` (one box vs forward + backward), ``allbox`` (all boxes vs a loop),
``scorecam`` (windowed vs per-channel), ``paddleocr`` (a page explained vs PaddleOCR reading it: whole
processes, wall time and peak memory), ``v6`` (``gradcam`` and ``allbox`` on the PP-OCRv6 small
det, ``Bench.v6_det``: default the ONNX file rapidocr==3.10.0 ships, mapped into PaddleX's
``PPOCRV6SmallDet``), ``rss`` (A4 page peak memory), ``interpretdl``
(InterpretDL 0.8's ``GradCAMInterpreter`` beside ours on the bundled text-line orientation
classifier: time ratio and map agreement). InterpretDL is optional: its row is skipped, with the
reason, when it does not import. It does not install cleanly next to this project (it pins
scikit-learn<=0.24, which does not build on Python 3.11, and needs scikit-image and IPython<9 to
import), so keep it out of the project's environment, e.g.
``pip install --target DIR --no-deps interpretdl==0.8.0 scikit-image "ipython<9"`` plus their missing
dependencies, and pass ``--interpretdl DIR`` (appended to ``sys.path``: the project's own packages
keep precedence).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Optional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:  # run as a script from a checkout: the package beside this folder
    sys.path.insert(0, ROOT)

from paddle_cam.cli import quiet_paddle, run_main  # noqa: E402

quiet_paddle()

DET_GOALS = {"gradcam_over_fwd_bwd": ("<=", 0.8), "allbox_speedup_vs_loop": (">=", 20.0),
             "allbox_speedup_vs_loop_stage5": (">=", 2.5)}
V6 = "v6_small_"   # key prefix of the PP-OCRv6 small det rows
GOALS = dict(DET_GOALS, **{V6 + k: v for k, v in DET_GOALS.items()},
             scorecam_speedup_vs_per_channel=(">=", 4.0), scorecam_spearman=(">=", 0.95), peak_rss_a4_mb=("<=", 3072.0),
             # every character of a 20-character line for at most 3 forward + backward passes (issue 15)
             rec_explain_over_fwd_bwd=("<=", 3.0),
             # the same algorithm on the same model and input must give the same maps
             interpretdl_gradcam_spearman=(">=", 0.99),
             # issue 17: a page explained costs no more than PaddleOCR reading it (whole processes)
             page_explain_over_paddleocr=("<=", 1.0), peak_rss_over_paddleocr=("<=", 1.5))
GROUPS = ("gradcam", "allbox", "scorecam", "v6", "rec", "rss", "paddleocr", "interpretdl")
REC_TEXT = "纳税人识别号91110108MA01C3"   # 20 characters


def median_time(fn, repeats: int) -> float:
    import numpy as np

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def parse_args(argv=None) -> argparse.Namespace:
    from paddle_cam.config import add_config_args

    p = argparse.ArgumentParser(description="benchmark the explainers (ratios in one process)")
    p.add_argument("--quick", action="store_const", const=True, default=None,
                   help="fewer repeats (a few minutes)")
    p.add_argument("--json", default=None, help="where to write the numbers (default benchmark.json)")
    p.add_argument("--md", default=None, help="where to write the table (default BENCHMARKS.md; none with --only)")
    p.add_argument("--img", default=None, help="invoice to use (default: demo_docs/invoices/invoice_0100.jpg)")
    p.add_argument("--only", default=None,
                   help=f"comma-separated groups to run ({', '.join(GROUPS)}); then BENCHMARKS.md is written "
                        "only when --md is given")
    p.add_argument("--interpretdl", default=None,
                   help="a folder holding interpretdl 0.8 (pip install --target), appended to sys.path "
                        "(default: $PADDLE_CAM_INTERPRETDL, else wherever it is installed)")
    add_config_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from paddle_cam.config import as_list, load_config, set_from_args
    from paddle_cam.errors import InputError

    args = parse_args(argv)
    cfg = set_from_args(load_config("benchmark", args.config, args.opt), args,
                        {k: f"Global.{k}" for k in ("quick", "json", "md", "img", "only", "interpretdl")})
    g, b = cfg["Global"], cfg["Bench"]
    groups = tuple(as_list(g["only"])) or GROUPS
    unknown = [x for x in groups if x not in GROUPS]
    if unknown:
        raise InputError(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    md_path = g["md"] or (None if g["only"] else "BENCHMARKS.md")
    idl_path = g["interpretdl"] or os.environ.get("PADDLE_CAM_INTERPRETDL")

    import paddle

    reps = int(b["quick_repeats"] if g["quick"] else b["repeats"])
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, paddle {paddle.__version__}",
           "repeats": reps, "quick": bool(g["quick"]), "groups": list(groups)}
    img = g["img"] or os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100.jpg")
    if any(x in groups for x in ("gradcam", "allbox", "scorecam")):
        detector_groups(res, groups, img, reps, int(b["boxes_timed"]))
    if "v6" in groups:
        v6_group(res, b["v6_det"], img, reps, int(b["boxes_timed"]))
    if "rec" in groups:
        res["rec"] = rec_group(reps)
        res["rec_explain_over_fwd_bwd"] = res["rec"]["ratio"]
    if "rss" in groups:
        res["peak_rss_a4_mb"] = a4_peak_rss(ROOT)
    if "paddleocr" in groups:
        res["paddleocr"] = paddleocr_page(ROOT, img, reps)
        res["page_explain_over_paddleocr"] = res["paddleocr"]["wall_ratio"]
        res["peak_rss_over_paddleocr"] = res["paddleocr"]["rss_ratio"]
    if "interpretdl" in groups:
        res["interpretdl"] = interpretdl_gradcam(ROOT, reps, idl_path, int(b["interpretdl_images"]))
        for key in ("time_ratio", "spearman"):
            if key in res["interpretdl"]:
                res[f"interpretdl_gradcam_{key}"] = res["interpretdl"][key]
    res["goals"] = {k: {"goal": f"{op} {v}", "met": (res[k] <= v) if op == "<=" else (res[k] >= v)}
                    for k, (op, v) in GOALS.items() if k in res}
    from paddle_cam.io import atomic_write_bytes

    atomic_write_bytes(g["json"], json.dumps(res, indent=2).encode("utf-8"))
    if md_path:
        atomic_write_bytes(md_path, markdown(res).encode("utf-8"))
    print(markdown(res))
    return 0


def rec_group(reps: int, text: str = REC_TEXT) -> dict:
    """Every character of a rendered line of ``text`` explained with the recogniser's default
    method (bundled PP-OCRv4 rec), divided by one plain forward + full backward (to the input and
    every parameter) on that line; medians after one warm-up each."""
    import paddle

    from paddle_cam.models.rec import load_recognizer
    from paddle_cam.modes import eval_mode
    from paddle_cam.ocr.rec_explain import RecExplainer, render_glyph_line

    explainer = RecExplainer(load_recognizer())
    img, _ = render_glyph_line(text)
    x, _ = explainer.prepare(img)
    model = explainer.logits_model
    params = [p for p in model.parameters() if not p.stop_gradient]

    def forward_backward() -> None:
        with eval_mode(model):
            xt = paddle.to_tensor(x, stop_gradient=False)
            # a scalar of every frame's scores, back-propagated to the input and all weights (no
            # log_softmax: Paddle's CPU kernel of it alone costs ~0.2 s and would flatter the ratio)
            paddle.grad([model(xt).sum()], [xt] + params)

    n = len(explainer.explain_crop(img).chars)   # also the explanation's warm-up
    forward_backward()
    t_fb = median_time(forward_backward, reps)
    t_ex = median_time(lambda: explainer.explain_crop(img), reps)
    return {"text": text, "chars": n, "method": explainer.method.name, "explain_s": t_ex,
            "forward_backward_s": t_fb, "ratio": t_ex / t_fb}


def v6_group(res: dict, source: Optional[str], img_path: str, reps: int, n_boxes: int) -> None:
    """``gradcam`` and ``allbox`` on the PP-OCRv6 small det into ``res`` (keys prefixed ``v6_small_``);
    ``source`` None: rapidocr's ONNX file; skipped, with the reason, when there is none."""
    import importlib.util

    from paddle_cam.models.det import load_detector

    if source is None:
        spec = importlib.util.find_spec("rapidocr")
        path = os.path.join(os.path.dirname(spec.origin), "models", "PP-OCRv6_det_small.onnx") if spec else ""
        if not os.path.isfile(path):
            res[V6 + "skipped"] = "no PP-OCRv6 small det: pip install --no-deps rapidocr==3.10.0, or -o Bench.v6_det=PATH"
            return
        source = path
    det = load_detector(source, model_name="PP-OCRv6_small_det")
    res[V6 + "model"] = f"{det.name} ({det.format}, {os.path.basename(source)})"
    detector_groups(res, ("gradcam", "allbox"), img_path, reps, n_boxes, det, V6)


def detector_groups(res: dict, groups, img_path: str, reps: int, n_boxes: int = 32, det=None,
                    prefix: str = "") -> None:
    """The detector ratios (``gradcam``, ``allbox``, ``scorecam``) into ``res``, keys prefixed
    by ``prefix``; ``det`` None: the bundled PP-OCRv4 mobile det. Layers by the family's aliases."""
    import numpy as np
    import paddle

    from paddle_cam.errors import InputError
    from paddle_cam.io import read_image
    from paddle_cam.methods import make_method
    from paddle_cam.metrics.similarity import spearman
    from paddle_cam.models.det import load_detector
    from paddle_cam.models.det_families import layer_table
    from paddle_cam.ocr import neck_crop
    from paddle_cam.ocr.box_scorecam import box_score_cam
    from paddle_cam.ocr.db_postprocess import DBPostProcess
    from paddle_cam.ocr.det_preprocess import DetPreprocess
    from paddle_cam.ocr.pipeline import TextPipeline
    from paddle_cam.ocr.targets import DBBoxTarget

    det = det or load_detector()
    out: dict = {}
    page = TextPipeline(det, DetPreprocess.for_detector(det), DBPostProcess.for_detector(det)).detect(read_image(img_path), recognize=False)
    batch, hw = page.batch, page.input_hw
    targets = [DBBoxTarget(page.to_input(b.polygon), hw, b.id) for b in page.boxes]
    if len(targets) < n_boxes:
        raise InputError(f"{img_path} has {len(targets)} boxes; the benchmark needs >= {n_boxes} (Bench.boxes_timed)")
    rng = np.random.RandomState(0)
    sel = [targets[i] for i in sorted(rng.choice(len(targets), n_boxes, replace=False))]
    x = paddle.to_tensor(batch)
    out.update({"input": list(batch.shape), "boxes_on_page": len(targets), "boxes_timed": n_boxes})
    model = det.model
    t = sel[0]
    layers = {k: v for k, v in layer_table(det.arch).items() if k in ("neck", "stage4", "stage5")}
    cam_neck = make_method("gradcam", model, [layers["neck"]], gradient_support=True)

    if "gradcam" in groups:
        def fwd_bwd_input():
            xi = x.detach()
            xi.stop_gradient = False
            out = model(xi)
            paddle.grad([t(out[0])], [xi])

        fwd_bwd_input()
        base = median_time(fwd_bwd_input, reps)
        out["fwd_bwd_input_s"] = base
        one_neck = median_time(lambda: neck_crop.explain_at_neck(det, cam_neck, batch, [t]), reps)
        out["gradcam_one_target_s"] = {"neck": one_neck}
        for name in ("stage4", "stage5"):
            cam = make_method("gradcam", model, [layers[name]], gradient_support=True)
            out["gradcam_one_target_s"][name] = median_time(lambda: cam(batch, [t]), reps)
        out["gradcam_over_fwd_bwd"] = one_neck / base
        out["gradcam_over_fwd_bwd_by_layer"] = {k: v / base for k, v in out["gradcam_one_target_s"].items()}

    if "allbox" in groups:
        # all boxes: a loop of Grad-CAM calls (forward + backward each) vs the best exact way
        loop = {}
        for name in ("neck", "stage5"):
            cam = make_method("gradcam", model, [layers[name]], gradient_support=True)
            t0 = time.perf_counter()
            loop_maps = [cam(batch, [tt]).layer_maps[layers[name]] for tt in sel]
            loop[name] = (time.perf_counter() - t0, loop_maps)
        best = {}
        t0 = time.perf_counter()
        fast = neck_crop.explain_at_neck(det, cam_neck, batch, sel)
        best["neck"] = (time.perf_counter() - t0, [r.layer_maps[layers["neck"]] for r in fast])
        cam5 = make_method("gradcam", model, [layers["stage5"]], gradient_support=True)
        t0 = time.perf_counter()
        many = list(neck_crop.iter_fast(det, cam5, batch, sel, layers["stage5"]))
        best["stage5"] = (time.perf_counter() - t0, [r.layer_maps[layers["stage5"]] for r in many])
        for name in ("neck", "stage5"):
            err = max(float(np.abs(a - b).max() / max(float(a.max()), 1e-12))
                      for a, b in zip(loop[name][1], best[name][1]))
            out[f"allbox_{name}"] = {"loop_s": loop[name][0], "best_s": best[name][0], "max_rel_error": err,
                                     "best_way": "neck crop (exact)" if name == "neck" else
                                     "stages once, head on a crop, neck-to-stage backward per box (exact)"}
        out["allbox_speedup_vs_loop"] = loop["neck"][0] / best["neck"][0]
        out["allbox_speedup_vs_loop_stage5"] = loop["stage5"][0] / best["stage5"][0]

    if "scorecam" in groups:
        # Score-CAM for one box: one full-page forward per channel vs windowed + deduplicated
        t0 = time.perf_counter()
        straight = make_method("scorecam", model, [layers["neck"]], batch_size=1)(batch, [t])
        slow = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = box_score_cam(model, batch, t, layers["neck"])
        quick = time.perf_counter() - t0
        out["scorecam"] = {"per_channel_s": slow, "ours_s": quick}
        out["scorecam_speedup_vs_per_channel"] = slow / quick
        out["scorecam_spearman"] = float(spearman(straight.raw[0], ours.raw[0]))
    res.update({prefix + k: v for k, v in out.items()})


INTERPRETDL_INSTALL = ('pip install --target DIR --no-deps interpretdl==0.8.0 scikit-image "ipython<9" imageio '
                       'tifffile lazy_loader jedi parso matplotlib-inline pexpect ptyprocess prompt_toolkit '
                       'stack_data executing asttokens pure_eval traitlets; then --interpretdl DIR')


def import_interpretdl(path: Optional[str]):
    """``(module, None)`` or ``(None, reason)``; ``path`` is appended to ``sys.path`` first."""
    if path:
        if not os.path.isdir(path):
            return None, f"--interpretdl {path} is not a folder"
        if path not in sys.path:
            sys.path.append(path)
    import contextlib
    import io
    import warnings

    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            import interpretdl
    except Exception as e:  # ImportError, or one of its own imports failing
        return None, f"interpretdl does not import ({type(e).__name__}: {e}); to compare: {INTERPRETDL_INSTALL}"
    return interpretdl, None


def interpretdl_gradcam(root: str, reps: int, path: Optional[str] = None, n_images: int = 8) -> dict:
    """InterpretDL's ``GradCAMInterpreter`` beside paddle_cam's ``GradCAM`` on the bundled text-line
    orientation classifier (MobileNetV3, layer ``backbone.conv2``), same input batch, same
    targets: time per call (median) and per-image Spearman of the layer-resolution maps.

    Same target: InterpretDL puts a softmax on the model's output and explains the label's
    probability; the classifier already outputs probabilities, so InterpretDL gets it through a
    wrapper returning their log (softmax(log p) = p) and ours explains p directly. InterpretDL
    switches the model to train mode (BatchNorm set to global statistics, dropout 0) and keeps
    its hooks, so it gets its own copy of the model. On Paddle 3 the layer's output must be told
    to keep its gradient (``retain_grads``), otherwise its ``.grad`` is None (environment notes §6).
    InterpretDL's time includes what its call always does besides the map (an overlay per image).
    """
    import glob

    import numpy as np
    import paddle

    from paddle_cam.io import read_image
    from paddle_cam.methods import make_method
    from paddle_cam.metrics.similarity import spearman
    from paddle_cam.models.cls import load_orientation_classifier
    from paddle_cam.targets import ClassifierOutputTarget

    idl, why = import_interpretdl(path)
    if idl is None:
        return {"skipped": why}
    ours_clf = load_orientation_classifier()
    theirs_clf = load_orientation_classifier()
    layer = ours_clf.default_layer
    files = sorted(glob.glob(os.path.join(root, "demo_docs", "lines", "*.png")))[:n_images]
    batch = ours_clf.prepare([read_image(f) for f in files])
    labels = ours_clf.predict(batch).argmax(axis=1)

    class Logits(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return paddle.log(paddle.clip(self.inner(x), min=1e-30))

    wrapped = Logits(theirs_clf.model)
    their_layer = f"inner.{layer}"

    def keep_grad(_layer, _inputs, output):
        output.retain_grads()

    dict(wrapped.named_sublayers())[their_layer].register_forward_post_hook(keep_grad)
    interp = idl.GradCAMInterpreter(wrapped, device="cpu")
    cam = make_method("gradcam", ours_clf.model, [layer])
    targets = [ClassifierOutputTarget(int(k)) for k in labels]

    def theirs():
        return np.asarray(interp.interpret(batch.copy(), target_layer_name=their_layer, label=labels, visual=False))

    def ours():
        return cam(batch, targets).layer_maps[layer]

    a, b = theirs(), ours()  # warm-up, and the maps
    t_theirs = median_time(theirs, max(reps, 5))
    t_ours = median_time(ours, max(reps, 5))
    rho = [float(spearman(x, y)) for x, y in zip(a, b)]
    seen = {}

    def count_channels(_layer, _inputs, output):  # a post hook's return value would replace the output
        seen["channels"] = int(output.shape[1])

    hook = dict(ours_clf.model.named_sublayers())[layer].register_forward_post_hook(count_channels)
    ours_clf.predict(batch[:1])
    hook.remove()
    channels = seen["channels"]
    scale_err = float(np.abs(a * channels - b).max() / max(float(b.max()), 1e-12))
    return {"version": getattr(idl, "__version__", "?"), "model": ours_clf.name, "layer": layer,
            "images": len(files), "input": list(batch.shape), "interpretdl_s": t_theirs, "ours_s": t_ours,
            "time_ratio": t_theirs / t_ours, "spearman": float(np.mean(rho)), "spearman_min": float(np.min(rho)),
            "max_rel_diff": scale_err,
            "note": "InterpretDL averages the weighted channels, paddle_cam sums them: maps compared after x C"}


def a4_peak_rss(root: str) -> float:
    """Peak RSS (MB) of ``explain_ocr.py`` on an A4 page at 300 dpi (two invoices stacked)."""
    import tempfile

    import cv2
    import numpy as np

    from paddle_cam.datasets.invoices.families import render_document

    with tempfile.TemporaryDirectory() as tmp:
        page = np.full((3508, 2480, 3), 250, np.uint8)
        y = 120
        for seed in (7, 8):
            inv, _ = render_document(seed, "vat_special", style="scan")
            s = min(2300.0 / inv.shape[1], 1500.0 / inv.shape[0])   # two fit one above the other
            inv = cv2.resize(inv, (int(inv.shape[1] * s), int(inv.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
            page[y:y + inv.shape[0], 90:90 + inv.shape[1]] = inv
            y += inv.shape[0] + 200
        path = os.path.join(tmp, "a4_300dpi.png")
        cv2.imwrite(path, page)
        cmd = [sys.executable, os.path.join(root, "tools", "explain_ocr.py"), "-i", path, "--save_path",
               os.path.join(tmp, "out")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"explain_ocr failed on the A4 page: {p.stderr.strip().splitlines()[-1:]}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return max(peak, before) / 1024.0


PADDLEOCR_PAGE = r"""
import json, sys
from paddleocr import PaddleOCR

det_dir, rec_dir, img = sys.argv[1:4]
ocr = PaddleOCR(text_detection_model_name="PP-OCRv4_mobile_det", text_detection_model_dir=det_dir,
                text_recognition_model_name="PP-OCRv4_mobile_rec", text_recognition_model_dir=rec_dir,
                use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
                text_det_limit_side_len=960, text_det_limit_type="max", device="cpu", enable_mkldnn=False)
r = ocr.predict(img)[0]
print("BOXES", len(r["rec_texts"]))
"""


def _peak_rss_mb(p: subprocess.Popen, every: float = 0.05) -> float:
    """The child's own peak RSS (``VmHWM`` of its process, polled until it exits). Not the rusage of
    ``wait4``: Linux carries the parent's size at fork into the child's ``ru_maxrss`` across exec, so
    after this benchmark's other groups every child would read as large as this process."""
    peak = 0.0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                peak = max(peak, int(f.read().split("VmHWM:")[1].split()[0]) / 1024.0)
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(every)
    return peak


def paddleocr_page(root: str, img: str, reps: int) -> dict:
    """Whole-process wall time and peak RSS of ``explain_ocr.py`` explaining every box of ``img``
    (its defaults: upright, read, Grad-CAM at the neck, all outputs written) against PaddleOCR 3.x's
    own pipeline (``PaddleOCR``: TextDetection + TextRecognition, orientation models off, the same
    960 / max detection input) on the same bundled PP-OCRv4 weights, runs alternating; medians.
    Each run is a fresh process measured alone (its own peak RSS: :func:`_peak_rss_mb`)."""
    import statistics
    import tempfile

    from paddle_cam.models.paddlex_folders import bundled_paddlex_folders

    with tempfile.TemporaryDirectory() as tmp:
        det_dir, rec_dir = bundled_paddlex_folders(os.path.join(tmp, "models"))
        script = os.path.join(tmp, "paddleocr_page.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(PADDLEOCR_PAGE)
        env = dict(os.environ, PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True", PADDLE_PDX_CACHE_HOME=os.path.join(tmp, "pdx"))
        ref_cmd = [sys.executable, script, det_dir, rec_dir, img]
        ours_cmd = [sys.executable, os.path.join(root, "tools", "explain_ocr.py"), "-i", img, "--save_path",
                    os.path.join(tmp, "out"), "--device", "cpu"]
        walls = {"paddleocr": [], "explain": []}
        rss = {"paddleocr": [], "explain": []}
        boxes = {}
        for _ in range(max(reps, 3)):
            for name, cmd, e in (("paddleocr", ref_cmd, env), ("explain", ours_cmd, None)):
                # files, not pipes: a child filling a pipe nobody reads yet would never exit
                with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
                    t = time.perf_counter()
                    p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=e)
                    hwm = _peak_rss_mb(p)
                    walls[name].append(time.perf_counter() - t)
                    fo.seek(0), fe.seek(0)
                    out, err = fo.read().decode("utf-8", "replace"), fe.read().decode("utf-8", "replace")
                if p.returncode != 0:
                    raise RuntimeError(f"{name} run failed: {err.strip().splitlines()[-1:]}")
                rss[name].append(hwm)
                if name == "paddleocr":
                    boxes[name] = int(out.split("BOXES")[-1].split()[0])
                else:
                    boxes[name] = int(out.split(":")[-1].split("boxes")[0].strip().split()[-1])
        med = {k: {"wall_s": statistics.median(walls[k]), "rss_mb": statistics.median(rss[k])} for k in walls}
    return {"wall_ratio": med["explain"]["wall_s"] / med["paddleocr"]["wall_s"],
            "rss_ratio": med["explain"]["rss_mb"] / med["paddleocr"]["rss_mb"], "medians": med, "boxes": boxes,
            "runs": max(reps, 3)}


def det_rows(r: dict, row, prefix: str, what: str = "") -> list:
    """Rows of the ``gradcam`` and ``allbox`` groups of one detector (keys prefixed ``prefix``)."""
    def get(key):
        return r.get(prefix + key)

    lines = []
    if get("gradcam_over_fwd_bwd") is not None:
        lines.append(row(prefix + "gradcam_over_fwd_bwd", f"{get('gradcam_over_fwd_bwd'):.3f}",
                         what + f"one Grad-CAM box target at the neck {get('gradcam_one_target_s')['neck']:.2f} s ÷ "
                         f"forward + backward to the input {get('fwd_bwd_input_s'):.2f} s; other layers: " +
                         ", ".join(f"{k} {v:.2f}" for k, v in get("gradcam_over_fwd_bwd_by_layer").items())))
    if get("allbox_speedup_vs_loop") is not None:
        neck, stage5 = get("allbox_neck"), get("allbox_stage5")
        lines += [
            row(prefix + "allbox_speedup_vs_loop", f"{get('allbox_speedup_vs_loop'):.1f}",
                what + f"neck: loop {neck['loop_s']:.1f} s vs neck crop {neck['best_s']:.2f} s, "
                f"max relative error {neck['max_rel_error']:.1e}"),
            row(prefix + "allbox_speedup_vs_loop_stage5", f"{get('allbox_speedup_vs_loop_stage5'):.1f}",
                what + f"last backbone stage: loop {stage5['loop_s']:.1f} s vs stages once + head on a crop + "
                f"neck-to-stage backward per box {stage5['best_s']:.1f} s, max relative error "
                f"{stage5['max_rel_error']:.1e}")]
    return lines


def markdown(r: dict) -> str:
    """BENCHMARKS.md: one row per measured key (groups not run are left out)."""
    g = r["goals"]

    def row(key, value, note=""):
        goal = g.get(key, {})
        met = "" if not goal else ("met" if goal["met"] else "**missed**")
        return f"| `{key}` | {value} | {goal.get('goal', '')} | {met} | {note} |"

    head = f"Machine: {r['machine']}."
    if "input" in r:
        head += (f" Input {r['input']} (a demo invoice at 960 px), {r['boxes_on_page']} boxes on the page, "
                 f"{r['boxes_timed']} timed;")
    only = "" if list(r.get("groups", GROUPS)) == list(GROUPS) else " --only " + ",".join(r["groups"])
    lines = [
        "# Benchmarks", "",
        head + f" medians of {r['repeats']} runs; every ratio measured side by side in one process.",
        "Reproduce: `python benchmarks/benchmark.py" + (" --quick" if r["quick"] else "") + only
        + " --json benchmark.json`.", "",
        "| key | value | goal | | how |", "|---|---|---|---|---|",
    ]
    lines += det_rows(r, row, "")
    if V6 + "skipped" in r:
        lines.append(row(V6 + "gradcam_over_fwd_bwd", "skipped", r[V6 + "skipped"]))
    elif V6 + "model" in r:
        lines += det_rows(r, row, V6, f"{r[V6 + 'model']}, input {r[V6 + 'input']}, {r[V6 + 'boxes_on_page']} boxes: ")
    if "scorecam_speedup_vs_per_channel" in r:
        lines += [
            row("scorecam_speedup_vs_per_channel", f"{r['scorecam_speedup_vs_per_channel']:.1f}",
                f"one box at the neck: {r['scorecam']['per_channel_s']:.1f} s per-channel full page vs "
                f"{r['scorecam']['ours_s']:.1f} s windowed + deduplicated"),
            row("scorecam_spearman", f"{r['scorecam_spearman']:.4f}", "rank correlation of the two Score-CAM maps")]
    if "rec_explain_over_fwd_bwd" in r:
        rec = r["rec"]
        lines.append(row("rec_explain_over_fwd_bwd", f"{rec['ratio']:.1f}",
                         f"every character of a {rec['chars']}-character rendered line explained with {rec['method']} "
                         f"(bundled PP-OCRv4 rec) {rec['explain_s']:.2f} s ÷ forward + backward {rec['forward_backward_s']:.2f} s"))
    if "peak_rss_a4_mb" in r:
        lines.append(row("peak_rss_a4_mb", f"{r['peak_rss_a4_mb']:.0f}",
                         "explain_ocr.py on an A4 page at 300 dpi (2480x3508), all boxes"))
    if "paddleocr" in r:
        po = r["paddleocr"]
        m = po["medians"]
        what = (f"whole processes, medians of {po['runs']} alternating runs on the demo invoice, bundled PP-OCRv4 "
                f"det + rec: explain_ocr.py (upright, read, every box explained, outputs written; "
                f"{po['boxes']['explain']} boxes)")
        lines += [
            row("page_explain_over_paddleocr", f"{r['page_explain_over_paddleocr']:.2f}",
                f"{what} {m['explain']['wall_s']:.1f} s ÷ PaddleOCR 3.7's PaddleOCR pipeline (TextDetection + "
                f"TextRecognition, oneDNN off as it fails here, {po['boxes']['paddleocr']} boxes) {m['paddleocr']['wall_s']:.1f} s"),
            row("peak_rss_over_paddleocr", f"{r['peak_rss_over_paddleocr']:.2f}",
                f"peak RSS of the same runs: {m['explain']['rss_mb']:.0f} MB ÷ {m['paddleocr']['rss_mb']:.0f} MB")]
    idl = r.get("interpretdl")
    if idl is not None and "skipped" in idl:
        lines.append(row("interpretdl_gradcam_time_ratio", "skipped", idl["skipped"]))
    elif idl is not None:
        lines += [
            row("interpretdl_gradcam_time_ratio", f"{idl['time_ratio']:.2f}",
                f"InterpretDL {idl['version']} GradCAMInterpreter {idl['interpretdl_s'] * 1000:.0f} ms ÷ paddle_cam "
                f"GradCAM {idl['ours_s'] * 1000:.0f} ms, {idl['images']} text lines {idl['input'][2:]} in one call, "
                f"{idl['model']} at {idl['layer']}, same target (class probability); its call also draws an "
                f"overlay per image"),
            row("interpretdl_gradcam_spearman", f"{idl['spearman']:.4f}",
                f"per-image rank correlation of the two maps (min {idl['spearman_min']:.4f}); max relative "
                f"difference {idl['max_rel_diff']:.1e} after InterpretDL's channel mean x C")]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    run_main(main)
