"""Speed and memory of the explainers, as ratios measured side by side in one process.

    python tools/benchmark.py [--quick] --json benchmark.json      # writes BENCHMARKS.md too

Every ratio compares two ways of computing the same thing on the real PP-OCRv4 detector at 960 px
(medians of repeated runs, same process, same input), so machine speed cancels out.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

from ..cli import quiet_paddle, run_main

quiet_paddle()

GOALS = {"gradcam_over_fwd_bwd": ("<=", 0.8), "allbox_speedup_vs_loop": (">=", 20.0),
         "allbox_speedup_vs_loop_stage5": (">=", 2.5), "scorecam_speedup_vs_per_channel": (">=", 4.0),
         "scorecam_spearman": (">=", 0.95), "peak_rss_a4_mb": ("<=", 3072.0)}


def median_time(fn, repeats: int) -> float:
    import numpy as np

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="benchmark the explainers (ratios in one process)")
    p.add_argument("--quick", action="store_true", help="fewer repeats and boxes (a few minutes)")
    p.add_argument("--json", default="benchmark.json", help="where to write the numbers")
    p.add_argument("--md", default="BENCHMARKS.md", help="where to write the table")
    p.add_argument("--img", default=None, help="invoice to use (default: demo_docs/invoices/invoice_0100.jpg)")
    args = p.parse_args(argv)

    import numpy as np
    import paddle

    from .. import GradCAM, ScoreCAM
    from ..io import read_image
    from ..metrics.similarity import spearman
    from ..models.det import load_detector
    from ..ocr import neck_crop
    from ..ocr.box_scorecam import box_score_cam
    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..ocr.explain import OCRExplainer
    from ..ocr.targets import DBBoxTarget

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    img_path = args.img or os.path.join(root, "demo_docs", "invoices", "invoice_0100.jpg")
    reps = 3 if args.quick else 5
    n_boxes = 32
    det = load_detector()
    ex = OCRExplainer(det, DetPreprocess(), DBPostProcess(), None)
    img = read_image(img_path)
    batch, info, prob, boxes = ex.detect(img)
    hw = batch.shape[2:]
    targets = [DBBoxTarget(ex.to_input(b.polygon, img.shape[:2], hw), hw, b.id) for b in boxes]
    if len(targets) < n_boxes:
        raise SystemExit(f"the page has {len(targets)} boxes; the benchmark needs >= {n_boxes}")
    rng = np.random.RandomState(0)
    sel = [targets[i] for i in sorted(rng.choice(len(targets), n_boxes, replace=False))]
    x = paddle.to_tensor(batch)
    res = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, paddle {paddle.__version__}",
           "input": list(batch.shape), "boxes_on_page": len(targets), "boxes_timed": n_boxes, "repeats": reps,
           "quick": bool(args.quick)}
    model = det.model
    t = sel[0]

    def fwd_bwd_input():
        xi = x.detach()
        xi.stop_gradient = False
        out = model(xi)
        paddle.grad([t(out[0])], [xi])

    layers = {"neck": "model.neck", "stage4": "model.backbone.encoder.blocks.3",
              "stage5": "model.backbone.encoder.blocks.4"}
    fwd_bwd_input()
    base = median_time(fwd_bwd_input, reps)
    res["fwd_bwd_input_s"] = base
    cam_neck = GradCAM(model, [layers["neck"]], gradient_support=True)
    one_neck = median_time(lambda: neck_crop.explain_at_neck(det, cam_neck, batch, [t]), reps)
    res["gradcam_one_target_s"] = {"neck": one_neck}
    for name in ("stage4", "stage5"):
        cam = GradCAM(model, [layers[name]], gradient_support=True)
        res["gradcam_one_target_s"][name] = median_time(lambda: cam(batch, [t]), reps)
    res["gradcam_over_fwd_bwd"] = one_neck / base
    res["gradcam_over_fwd_bwd_by_layer"] = {k: v / base for k, v in res["gradcam_one_target_s"].items()}

    # all boxes: a loop of Grad-CAM calls (forward + backward each) vs the best exact way
    loop = {}
    for name in ("neck", "stage5"):
        cam = GradCAM(model, [layers[name]], gradient_support=True)
        t0 = time.perf_counter()
        loop_maps = [cam(batch, [tt]).layer_maps[layers[name]] for tt in sel]
        loop[name] = (time.perf_counter() - t0, loop_maps)
    best = {}
    t0 = time.perf_counter()
    fast = neck_crop.explain_at_neck(det, cam_neck, batch, sel)
    best["neck"] = (time.perf_counter() - t0, [r.layer_maps[layers["neck"]] for r in fast])
    cam5 = GradCAM(model, [layers["stage5"]], gradient_support=True)
    t0 = time.perf_counter()
    many = list(neck_crop.iter_fast(det, cam5, batch, sel, layers["stage5"]))
    best["stage5"] = (time.perf_counter() - t0, [r.layer_maps[layers["stage5"]] for r in many])
    for name in ("neck", "stage5"):
        err = max(float(np.abs(a - b).max() / max(float(a.max()), 1e-12)) for a, b in zip(loop[name][1], best[name][1]))
        res[f"allbox_{name}"] = {"loop_s": loop[name][0], "best_s": best[name][0], "max_rel_error": err,
                                 "best_way": "neck crop (exact)" if name == "neck" else
                                 "stages once, head on a crop, neck-to-stage backward per box (exact)"}
    res["allbox_speedup_vs_loop"] = loop["neck"][0] / best["neck"][0]
    res["allbox_speedup_vs_loop_stage5"] = loop["stage5"][0] / best["stage5"][0]

    # Score-CAM for one box: one full-page forward per channel vs windowed + deduplicated
    t0 = time.perf_counter()
    straight = ScoreCAM(model, [layers["neck"]], batch_size=1)(batch, [t])
    slow = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = box_score_cam(model, batch, t, layers["neck"])
    quick = time.perf_counter() - t0
    res["scorecam"] = {"per_channel_s": slow, "ours_s": quick}
    res["scorecam_speedup_vs_per_channel"] = slow / quick
    res["scorecam_spearman"] = float(spearman(straight.raw[0], ours.raw[0]))

    res["peak_rss_a4_mb"] = a4_peak_rss(root)
    res["goals"] = {k: {"goal": f"{op} {v}", "met": (res[k] <= v) if op == "<=" else (res[k] >= v)}
                    for k, (op, v) in GOALS.items() if k in res}
    from ..io import atomic_write_bytes

    atomic_write_bytes(args.json, json.dumps(res, indent=2).encode("utf-8"))
    atomic_write_bytes(args.md, markdown(res).encode("utf-8"))
    print(markdown(res))
    return 0


def a4_peak_rss(root: str) -> float:
    """Peak RSS (MB) of ``explain_ocr.py`` on an A4 page at 300 dpi (two invoices stacked)."""
    import tempfile

    import cv2
    import numpy as np

    from ..demo.invoice import render_invoice

    with tempfile.TemporaryDirectory() as tmp:
        page = np.full((3508, 2480, 3), 250, np.uint8)
        y = 120
        for seed in (7, 8):
            inv, _ = render_invoice(seed)
            s = 2300.0 / inv.shape[1]
            inv = cv2.resize(inv, (2300, int(inv.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
            page[y:y + inv.shape[0], 90:90 + inv.shape[1]] = inv
            y += inv.shape[0] + 200
        path = os.path.join(tmp, "a4_300dpi.png")
        cv2.imwrite(path, page)
        cmd = [sys.executable, os.path.join(root, "tools", "explain_ocr.py"), "--img", path, "--output",
               os.path.join(tmp, "out")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"explain_ocr failed on the A4 page: {p.stderr.strip().splitlines()[-1:]}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return max(peak, before) / 1024.0


def markdown(r: dict) -> str:
    g = r["goals"]

    def row(key, value, note=""):
        goal = g.get(key, {})
        met = "" if not goal else ("met" if goal["met"] else "**missed**")
        return f"| `{key}` | {value} | {goal.get('goal', '')} | {met} | {note} |"

    lines = [
        "# Benchmarks", "",
        f"Machine: {r['machine']}. Input {r['input']} (a demo invoice at 960 px), {r['boxes_on_page']} boxes on the page,",
        f"{r['boxes_timed']} timed; medians of {r['repeats']} runs; every ratio measured side by side in one process.",
        "Reproduce: `python tools/benchmark.py" + (" --quick" if r["quick"] else "") + " --json benchmark.json`.", "",
        "| key | value | goal | | how |", "|---|---|---|---|---|",
        row("gradcam_over_fwd_bwd", f"{r['gradcam_over_fwd_bwd']:.3f}",
            f"one Grad-CAM box target at the neck {r['gradcam_one_target_s']['neck']:.2f} s ÷ forward + backward "
            f"to the input {r['fwd_bwd_input_s']:.2f} s; other layers: " +
            ", ".join(f"{k} {v:.2f}" for k, v in r["gradcam_over_fwd_bwd_by_layer"].items())),
        row("allbox_speedup_vs_loop", f"{r['allbox_speedup_vs_loop']:.1f}",
            f"neck: loop {r['allbox_neck']['loop_s']:.1f} s vs neck crop {r['allbox_neck']['best_s']:.2f} s, "
            f"max relative error {r['allbox_neck']['max_rel_error']:.1e}"),
        row("allbox_speedup_vs_loop_stage5", f"{r['allbox_speedup_vs_loop_stage5']:.1f}",
            f"last backbone stage: loop {r['allbox_stage5']['loop_s']:.1f} s vs stages once + head on a crop + "
            f"neck-to-stage backward per box {r['allbox_stage5']['best_s']:.1f} s, max relative error "
            f"{r['allbox_stage5']['max_rel_error']:.1e}"),
        row("scorecam_speedup_vs_per_channel", f"{r['scorecam_speedup_vs_per_channel']:.1f}",
            f"one box at the neck: {r['scorecam']['per_channel_s']:.1f} s per-channel full page vs "
            f"{r['scorecam']['ours_s']:.1f} s windowed + deduplicated"),
        row("scorecam_spearman", f"{r['scorecam_spearman']:.4f}", "rank correlation of the two Score-CAM maps"),
        row("peak_rss_a4_mb", f"{r['peak_rss_a4_mb']:.0f}", "explain_ocr.py on an A4 page at 300 dpi (2480x3508), all boxes"),
        "",
    ]
    return "\n".join(lines)


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
