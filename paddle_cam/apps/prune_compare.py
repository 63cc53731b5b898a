"""Before/after PaddleSlim pruning: cost, detection quality and explanation drift, in VisualDL.

    python tools/prune_compare.py --model det --pruner l1 --ratios 0.1,0.3,0.5 \\
           --input demo_docs/invoices --output OUT --vdl_dir runs
    python tools/prune_compare.py --pruner fpgm --ratios 0.3 --finetune_steps 60 --input demo_docs/invoices --output OUT
    python tools/prune_compare.py --model field --pruner l1 --ratios 0.1,0.3 --finetune_steps 100 \\
           --input demo_docs/invoices --output OUT
    python tools/prune_compare.py --before base_infer/ --after pruned_infer/ --input demo_docs/invoices --output OUT

Pruning is PaddleSlim's (L1-norm or FPGM filters, one ratio for every prunable conv, the DB head
kept), followed by bias compensation on generated calibration invoices (--no_compensate: plain
PaddleSlim). Every variant (``base``, ``l1_0.3``, ``l1_0.3_ft`` ...) is explained on the SAME
targets: the base model's boxes (and its text mask for the all-text target), so maps are
compared on one raw scale.
Writes OUT/compare.json (``variants``: name, params, flops, latency_ms, precision/recall/hmean
(ICDAR 2015) and hmean_deteval (ICDAR 2013 DetEval) with the reasons of the misses, or accuracy
for --model field, spearman, ssim, topk_iou, energy_in_box ...), OUT/compare.png, OUT/models/<variant>/ (inference
folders), and per variant and page OUT/<variant>/<page>/: raw.npz (raw maps on the layer grid),
metrics.json, detections.png, side_by_side.png (base | variant) and diff.png. With --vdl_dir, one
VisualDL run per variant with identical tags.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..cli import quiet_paddle, run_main

quiet_paddle()

MODELS = ("det", "field")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="det (DB text detector, default) or field (invoice field classifier)")
    p.add_argument("--pruner", default="l1", help="l1 (L1NormFilterPruner) or fpgm (FPGMFilterPruner)")
    p.add_argument("--ratios", default="0.1,0.3,0.5", help="comma-separated pruning ratios in (0, 1)")
    p.add_argument("--no_compensate", action="store_true",
                   help="plain PaddleSlim pruning: do not fold removed channels' means into the next biases")
    p.add_argument("--finetune_steps", type=int, default=0,
                   help="also fine-tune each pruned model for N steps on generated invoices (variants <name>_ft)")
    p.add_argument("--input", required=True,
                   help="image or folder (or a folder of such folders, e.g. demo_docs); <stem>.json ground truth "
                        "next to the images is used")
    p.add_argument("--output", default="output/prune_compare", help="output folder")
    p.add_argument("--vdl_dir", default=None, help="VisualDL log dir (one run per variant)")
    p.add_argument("--before", default=None, help="compare two model folders you bring: the reference ...")
    p.add_argument("--after", default=None, help="... and the model to compare with it")
    p.add_argument("--model_dir", "--det_model_dir", dest="model_dir", default=None,
                   help="base model to prune (default: bundled PP-OCRv4 mobile det / the committed field classifier)")
    p.add_argument("--method", default=None,
                   help="CAM method (det: gradcam, whose gradient path is fast and exact; field: the model's default)")
    p.add_argument("--layers", default=None, help="layers to explain (default: neck for det, last conv for field)")
    p.add_argument("--limit_side_len", type=int, default=960, help="DetResizeForTest limit (max side)")
    p.add_argument("--topk", type=float, default=0.1, help="share of pixels for top-k IoU (default 0.1)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per model for the latency median")
    p.add_argument("--finetune_batch", type=int, default=None,
                   help="fine-tuning batch size (det: 2 crops of 640 x 640; field: 64 windows)")
    p.add_argument("--finetune_pages", type=int, default=16, help="generated invoices rendered for fine-tuning")
    p.add_argument("--finetune_lr", type=float, default=None,
                   help="fine-tuning peak learning rate (det default: PaddleOCR's 1e-3 scaled to the batch, "
                        "1e-3 * batch / 64; field: 1e-3)")
    p.add_argument("--device", default="cpu", help="cpu or gpu")
    return p.parse_args(argv)


def parse_ratios(text: str) -> List[float]:
    from ..errors import InputError
    from ..slim.prune import check_ratio

    parts = [t.strip() for t in str(text).split(",") if t.strip()]
    if not parts:
        raise InputError("--ratios is empty; pass pruning ratios in (0, 1) like 0.1,0.3,0.5")
    ratios = [check_ratio(t) for t in parts]
    if len(set(ratios)) != len(ratios):
        raise InputError(f"--ratios {text} repeats a ratio; list each once")
    return ratios


def check_args(args) -> None:
    """Bad input is found before any model work starts."""
    from ..errors import InputError
    from ..slim.prune import PRUNERS

    if args.model is not None and args.model not in MODELS:
        raise InputError(f"unknown --model '{args.model}'; use det or field")
    if (args.before is None) != (args.after is None):
        raise InputError("--before and --after go together: pass both model folders")
    if args.before is None:
        if args.pruner not in PRUNERS:
            raise InputError(f"unknown pruner '{args.pruner}'; use one of: {', '.join(PRUNERS)}")
        args.ratio_list = parse_ratios(args.ratios)
    if args.finetune_steps < 0:
        raise InputError("--finetune_steps must be 0 or more")
    if args.finetune_steps and args.before is not None:
        raise InputError("--finetune_steps fine-tunes pruned variants; it does not apply to --before/--after")
    if args.finetune_batch is not None and args.finetune_batch < 1:
        raise InputError("--finetune_batch must be at least 1")
    if args.finetune_pages < 1:
        raise InputError("--finetune_pages must be at least 1")
    if args.finetune_lr is not None and not args.finetune_lr > 0:
        raise InputError("--finetune_lr must be positive")
    if not 0 < args.topk <= 1:
        raise InputError(f"--topk {args.topk} must be in (0, 1]")
    if args.repeats < 1:
        raise InputError("--repeats must be at least 1")
    if args.limit_side_len < 32:
        raise InputError("--limit_side_len must be at least 32")


# ----------------------------------------------------------------------------- pages

@dataclass
class Page:
    name: str
    path: str
    image: object
    gt: Optional[dict]


def _page_files(path: str) -> List[str]:
    """Images of ``path``; for a folder with none directly (``demo_docs``), the images of its
    subfolders that carry ``<stem>.json`` ground truth next to each image (``demo_docs/invoices``)."""
    from ..errors import InputError
    from ..io import IMAGE_EXTS, list_images

    if os.path.isdir(path) and not any(os.path.splitext(f)[1].lower() in IMAGE_EXTS and
                                       os.path.isfile(os.path.join(path, f)) for f in os.listdir(path)):
        found = []
        for sub in sorted(os.listdir(path)):
            d = os.path.join(path, sub)
            if not os.path.isdir(d):
                continue
            imgs = [f for f in sorted(os.listdir(d)) if os.path.splitext(f)[1].lower() in IMAGE_EXTS]
            if imgs and all(os.path.isfile(os.path.join(d, os.path.splitext(f)[0] + ".json")) for f in imgs):
                found += [os.path.join(d, f) for f in imgs]
        if found:
            return found
        raise InputError(f"no images in {path}, nor in a subfolder with <image>.json ground truth beside them")
    return list_images(path)


def load_pages(path: str) -> List[Page]:
    from ..errors import InputError
    from ..io import read_image
    from ..sinks.visualdl import safe_tag

    pages = []
    for f in _page_files(path):
        gt = None
        js = os.path.splitext(f)[0] + ".json"
        if os.path.isfile(js):
            try:
                with open(js, encoding="utf-8") as fh:
                    gt = json.load(fh)
            except (OSError, ValueError) as e:
                raise InputError(f"ground truth {js} is not readable JSON ({e}); fix or remove it") from None
            if not isinstance(gt, dict) or not isinstance(gt.get("lines"), list):
                gt = None  # some other JSON next to the image: not ground truth
        pages.append(Page(safe_tag(os.path.splitext(os.path.basename(f))[0]), f, read_image(f), gt))
    return pages


# ----------------------------------------------------------------------------- variants

@dataclass
class Variant:
    name: str
    model: object                          # Detector (det) or the backend's classifier (field)
    model_dir: Optional[str]
    pruner: Optional[str] = None
    ratio: Optional[float] = None
    finetune_steps: int = 0
    prune: Optional[dict] = None
    finetune: Optional[dict] = None
    train_log: Optional[list] = None         # per-step fine-tuning records (VisualDL curves)
    params: Optional[int] = None
    flops: Optional[int] = None
    latency_ms: Optional[float] = None
    latency_dygraph_ms: Optional[float] = None
    parity: Optional[float] = None
    metrics: Dict[str, object] = field(default_factory=dict)
    vdl: object = None


def measure_latency(variants: List[Variant], batch, repeats: int, forward_of, static_dir_of) -> None:
    """Median CPU latency per variant, in one process on one input; runs are interleaved
    (round r times every variant once) so load from anything else on the machine is shared."""
    import numpy as np

    from ..models.static import StaticPredictor

    preds = {}
    for v in variants:
        d = static_dir_of(v)
        if d:
            preds[v.name] = StaticPredictor(d, ir_optim=True)
    dyn = {v.name: [] for v in variants}
    sta = {v.name: [] for v in variants}
    for r in range(repeats + 1):  # round 0 warms up
        for v in variants:
            t = time.perf_counter()
            forward_of(v)(batch)
            if r:
                dyn[v.name].append(1000 * (time.perf_counter() - t))
            if v.name in preds:
                t = time.perf_counter()
                preds[v.name](np.asarray(batch))
                if r:
                    sta[v.name].append(1000 * (time.perf_counter() - t))
    for v in variants:
        v.latency_dygraph_ms = statistics.median(dyn[v.name])
        v.latency_ms = statistics.median(sta[v.name]) if sta[v.name] else v.latency_dygraph_ms
        v.metrics["latency_runs_ms"] = [round(x, 2) for x in sta[v.name] or dyn[v.name]]


# ----------------------------------------------------------------------------- images

def _diverging(d):
    """[-1, 1] -> RGB: blue (weaker in the variant), white (same), red (stronger)."""
    import numpy as np

    d = np.clip(d, -1, 1)[..., None]
    white = np.array([255, 255, 255], np.float32)
    red, blue = np.array([200, 30, 30], np.float32), np.array([30, 60, 200], np.float32)
    out = np.where(d >= 0, white + (red - white) * d, white + (blue - white) * (-d))
    return out.astype(np.uint8)


def page_images(image_bgr, base_comp, var_comp, diff_comp, polys, name: str, vis_side: int = 1024):
    """(side_by_side, diff) RGB images of composite box maps. Each box's map is divided by the
    *base* map's maximum for that box (one raw scale per target, shared by base and variant, so a
    weaker variant map looks weaker), and the composites keep, per pixel, the strongest box."""
    import cv2
    import numpy as np

    from ..sinks.det_report import draw_polygons
    from ..sinks.overlay import caption, overlay, side_by_side

    H, W = image_bgr.shape[:2]
    s = min(1.0, vis_side / float(max(H, W)))
    size = (max(1, int(round(W * s))), max(1, int(round(H * s))))
    img = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA) if s < 1 else image_bgr
    spolys = [[[x * s, y * s] for x, y in p] for p in polys]
    panels = []
    for comp in (base_comp, var_comp):
        m = cv2.resize(comp.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        panels.append(draw_polygons(overlay(img, np.clip(m, 0, 1), 0.5), spolys, color=(255, 255, 255), width=1))
    sbs = side_by_side(panels, ["base", name], height=panels[0].shape[0])
    d = cv2.resize(diff_comp.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    diff = np.uint8(0.35 * gray + 0.65 * _diverging(d))
    diff = caption(draw_polygons(diff, spolys, color=(90, 90, 90), width=1),
                   [f"{name} - base, per box in units of the base map's maximum: red stronger, blue weaker"],
                   font_size=14)
    return sbs, diff


# ----------------------------------------------------------------------------- detector comparison

def _det_prepare(det_base, pages: List[Page], limit: int):
    """Base detections -> the fixed targets every variant is explained on."""
    import numpy as np

    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..slim.drift import PageTargets

    pre, post = DetPreprocess(limit_side_len=limit), DBPostProcess()
    targets = []
    for pg in pages:
        chw, info = pre(pg.image)
        batch = chw[None].astype(np.float32)
        prob = det_base.prob_map(batch)[0, 0]
        boxes = post(prob, info)
        polys = [[[float(x), float(y)] for x, y in b["polygon"]] for b in boxes]
        targets.append((PageTargets(pg.name, pg.image, batch, list(range(len(boxes))), polys,
                                    [info.points_to_input(np.asarray(p)) for p in polys],
                                    (prob > post.thresh).astype(np.float32)), info))
    return pre, post, targets


def _evaluate_det(v: Variant, base: Optional[Variant], pages: List[Page], targets, post, base_maps: dict,
                  args, out_root: str, bar) -> None:
    """Detection quality and drift of one variant; writes its per-page outputs and VisualDL."""
    import io

    import cv2
    import numpy as np

    from ..io import atomic_write_bytes, save_json, save_png
    from ..ocr.explain import resolve_layers
    from ..sinks.det_report import draw_polygons
    from ..slim.drift import FixedTargetExplainer, compare_maps, page_energy, roi_on_grid
    from ..slim.metrics import evaluate_page, gt_polygons, mean_or_none, prf

    det = v.model
    layers = resolve_layers(det, [s.strip() for s in args.layers.split(",")] if args.layers else None)
    explainer = FixedTargetExplainer(det, args.method, layers)
    counts, drifts, all_text = [], [], []
    is_base = base is None
    for pg, (pt, info) in zip(pages, targets):
        prob = det.prob_map(pt.batch)[0, 0]
        boxes = post(prob, info)
        det_polys = [b["polygon"] for b in boxes]
        if pg.gt is not None:
            g, ign = gt_polygons(pg.gt)
            counts.append(evaluate_page(g, det_polys, ign))
        H, W = pg.image.shape[:2]
        page_rows = []
        comp_b = comp_v = comp_d = None
        buf = {}
        for tm in explainer.explain(pt):
            is_box = tm.key.startswith("box_")
            if is_box:
                tm.energy_in_box = page_energy(tm.raw, pt.page_polys[int(tm.key[4:])], (H, W))
                tm.raw = None  # input-size maps of every box would not fit in memory; the grid is kept
            buf[tm.key] = tm.grid
            ref = base_maps.setdefault((pg.name, tm.key), tm) if is_base else base_maps[(pg.name, tm.key)]
            if is_box:
                if comp_b is None:
                    comp_b, comp_v, comp_d = (np.zeros(ref.grid.shape, np.float32) for _ in range(3))
                bm = float(ref.grid.max()) or 1.0
                np.maximum(comp_b, ref.grid / bm, out=comp_b)
                np.maximum(comp_v, tm.grid / bm, out=comp_v)
                d = (tm.grid - ref.grid) / bm
                np.copyto(comp_d, d, where=np.abs(d) > np.abs(comp_d))
            roi = roi_on_grid(pt.input_polys[int(tm.key[4:])], pt.input_hw, tm.grid.shape) if is_box else None
            d = compare_maps(ref, tm, roi, args.topk)
            row = {"target": tm.key, "score": d.score, "score_base": d.score_base, "spearman": d.spearman,
                   "ssim": d.ssim, "topk_iou": d.topk_iou, "energy_in_box": d.energy_in_box,
                   "energy_in_box_base": d.energy_in_box_base,
                   "energy_in_box_delta": (d.energy_in_box - d.energy_in_box_base)
                   if d.energy_in_box is not None and d.energy_in_box_base is not None else None}
            page_rows.append(row)
            (drifts if is_box else all_text).append(row)
        if comp_b is None:
            comp_b = comp_v = comp_d = np.zeros((8, 8), np.float32)
        vdir = os.path.join(out_root, v.name, pg.name)
        npz = io.BytesIO()
        np.savez_compressed(npz, **buf)
        atomic_write_bytes(os.path.join(vdir, "raw.npz"), npz.getvalue())
        sbs, diff = page_images(pg.image, comp_b, comp_v, comp_d, pt.page_polys, v.name)
        dets_png = draw_polygons(pg.image[:, :, ::-1].copy(), det_polys, color=(0, 170, 0), width=2)
        save_png(os.path.join(vdir, "side_by_side.png"), sbs)
        save_png(os.path.join(vdir, "diff.png"), diff)
        save_png(os.path.join(vdir, "detections.png"), dets_png)
        grid = next(iter(buf.values())).shape if buf else None
        save_json(os.path.join(vdir, "metrics.json"), {
            "page": pg.path, "variant": v.name, "input_size": [pt.input_hw[1], pt.input_hw[0]],
            "raw_map_grid": [grid[1], grid[0]] if grid else None, "method": args.method, "layers": layers,
            "detections": len(boxes),
            "match": {k: val for k, val in counts[-1].items() if k != "best_iou"} if pg.gt is not None else None,
            "targets": page_rows})
        if v.vdl is not None:
            vd = v.vdl
            vd.image(f"{pg.name}/cam/side_by_side", sbs)
            vd.image(f"{pg.name}/cam/diff", diff)
            small = cv2.resize(dets_png, (sbs.shape[1] // 2, int(dets_png.shape[0] * (sbs.shape[1] // 2) / dets_png.shape[1])),
                               interpolation=cv2.INTER_AREA)
            vd.image(f"{pg.name}/det/detections", small)
            for row in page_rows:
                if not row["target"].startswith("box_"):
                    continue
                step = int(row["target"][4:])
                for k in ("spearman", "ssim", "topk_iou", "energy_in_box"):
                    if row[k] is not None:
                        vd.scalar(f"{pg.name}/drift/{k}", row[k], step=step)
        if bar is not None:
            bar.update(1)
    if explainer.verified is not None:
        v.metrics["crop_path_max_rel_diff"] = explainer.verified
    q = prf(counts) if counts else {}
    v.metrics.update({
        "precision": q.get("precision"), "recall": q.get("recall"), "hmean": q.get("hmean"),
        "gt_lines": q.get("gt"), "detections": q.get("det"), "matched": q.get("matched"),
        "deteval": q.get("deteval"), "unmatched": q.get("unmatched"), "best_iou_median": q.get("best_iou_median"),
        "spearman": mean_or_none(r["spearman"] for r in drifts),
        "ssim": mean_or_none(r["ssim"] for r in drifts),
        "topk_iou": mean_or_none(r["topk_iou"] for r in drifts),
        "energy_in_box": mean_or_none(r["energy_in_box"] for r in drifts),
        "energy_in_box_delta": mean_or_none(r["energy_in_box_delta"] for r in drifts),
        "targets": len(drifts),
        "all_text": {k: mean_or_none(r[k] for r in all_text) for k in ("spearman", "ssim", "topk_iou")},
    })


def _det_variant_record(v: Variant) -> dict:
    m = v.metrics
    return {
        "name": v.name, "kind": "det", "pruner": v.pruner, "ratio": v.ratio, "finetune_steps": v.finetune_steps,
        "model_dir": v.model_dir, "params": v.params, "flops": v.flops,
        "latency_ms": None if v.latency_ms is None else round(v.latency_ms, 2),
        "latency_dygraph_ms": None if v.latency_dygraph_ms is None else round(v.latency_dygraph_ms, 2),
        "precision": m.get("precision"), "recall": m.get("recall"), "hmean": m.get("hmean"),
        "hmean_deteval": (m.get("deteval") or {}).get("hmean"), "deteval": m.get("deteval"),
        "unmatched": m.get("unmatched"), "best_iou_median": m.get("best_iou_median"),
        "spearman": m.get("spearman"), "ssim": m.get("ssim"), "topk_iou": m.get("topk_iou"),
        "energy_in_box": m.get("energy_in_box"), "energy_in_box_delta": m.get("energy_in_box_delta"),
        "all_text": m.get("all_text"), "targets": m.get("targets"),
        "detections": m.get("detections"), "matched": m.get("matched"), "gt_lines": m.get("gt_lines"),
        "parity_max_abs_diff": v.parity, "crop_path_max_rel_diff": m.get("crop_path_max_rel_diff"),
        "latency_runs_ms": m.get("latency_runs_ms"), "prune": v.prune, "finetune": v.finetune,
    }


def _export_det(v: Variant, out_root: str, base_cfg: Optional[dict], base_source: str, batch) -> None:
    """Save as an inference folder, reload it through ``load_detector`` and check its parity with
    its own Paddle Inference export; the reloaded model is what gets evaluated."""
    import numpy as np

    from ..models.static import StaticPredictor
    from ..slim.prune import detector_config, reload_detector, save_inference

    d = save_inference(v.model.model, os.path.join(out_root, "models", v.name),
                       config=detector_config(base_cfg, base_model=os.path.abspath(base_source), pruner=v.pruner,
                                              ratio=v.ratio, finetune_steps=v.finetune_steps or None))
    v.model = reload_detector(d)
    v.model_dir = d
    v.parity = float(np.abs(v.model.prob_map(batch) - StaticPredictor(d)(batch)).max())


def run_det(args, pages: List[Page], out_root: str) -> List[Variant]:
    from tqdm import tqdm

    args.method = args.method or "gradcam"

    from ..models.det import load_detector
    from ..slim.prune import count_flops, count_params, detector_calibration, prune_detector
    from ..sinks.visualdl import VisualDLRun

    t0 = time.time()
    timings = {}
    if args.before is not None:
        base_det, after_det = load_pair_det(args.before, args.after)
        base = Variant("base", base_det, os.path.abspath(args.before))
        after_name = _after_name(args.after)
        variants = [base, Variant(after_name, after_det, os.path.abspath(args.after))]
    else:
        base_det = load_detector(args.model_dir)
        base = Variant("base", base_det, None)
        variants = [base]
    base_source = base.model.source
    pre, post, targets = _det_prepare(base.model, pages, args.limit_side_len)
    batch0 = targets[0][0].batch
    flops_shape = list(batch0.shape)

    def open_vdl(v):
        if args.vdl_dir:
            v.vdl = VisualDLRun(args.vdl_dir, v.name)

    base_cfg = (base.model.inference.config if base.model.inference is not None else None)
    try:
        if args.before is None:
            open_vdl(base)
            _export_det(base, out_root, base_cfg, base_source, batch0)
            calib = None if args.no_compensate else detector_calibration(limit_side_len=args.limit_side_len)
            for ratio in args.ratio_list:
                name = f"{args.pruner}_{ratio:g}"
                t = time.time()
                det, res = prune_detector(base_source, args.pruner, ratio, flops_hw=flops_shape[2:], calibration=calib)
                v = Variant(name, det, None, args.pruner, ratio, prune={
                    "layers_pruned": len(res.layers), "protected": res.skipped,
                    "bias_compensation": calib is not None, "compensated": len(res.compensated),
                    "uncompensated": res.uncompensated,
                    "params_before": res.params_before, "params_after": res.params_after,
                    "flops_before": res.flops_before, "flops_after": res.flops_after, "seconds": round(time.time() - t, 1)})
                open_vdl(v)
                _export_det(v, out_root, base_cfg, base_source, batch0)
                variants.append(v)
                print(f"{name}: pruned {len(res.layers)} conv outputs, params {res.params_before:,} -> "
                      f"{res.params_after:,}, FLOPs {res.flops_before / 1e9:.2f}G -> {res.flops_after / 1e9:.2f}G",
                      file=sys.stderr)
            if args.finetune_steps:
                variants += _finetune_variants(args, [v for v in variants if v.ratio is not None], out_root,
                                               base_cfg, base_source, batch0, open_vdl)
        else:
            for v in variants:
                open_vdl(v)
        timings["build_s"] = round(time.time() - t0, 1)
        for v in variants:
            v.params = count_params(v.model.model)
            v.flops = count_flops(v.model.model, flops_shape)
        t = time.time()
        measure_latency(variants, batch0, args.repeats, lambda v: v.model.prob_map,
                        lambda v: v.model_dir if v.model_dir and os.path.isdir(v.model_dir) else None)
        timings["latency_s"] = round(time.time() - t, 1)
        t = time.time()
        base_maps: dict = {}
        bar = tqdm(total=len(variants) * len(pages), desc="explain", unit="page", disable=None, file=sys.stderr)
        try:
            for v in variants:
                _evaluate_det(v, None if v is base else base, pages, targets, post, base_maps, args, out_root, bar)
                _log_summary(v)
        finally:
            bar.close()
        timings["evaluate_s"] = round(time.time() - t, 1)
    finally:
        for v in variants:
            if v.vdl is not None:
                v.vdl.close()
    args.timings = timings
    args.flops_shape = flops_shape
    return variants


def _finetune_variants(args, pruned: List[Variant], out_root, base_cfg, base_source, batch0, open_vdl) -> List[Variant]:
    from tqdm import tqdm

    from ..slim.finetune import FinetuneConfig, InvoiceCrops, finetune_detector
    from ..slim.prune import reload_detector

    cfg = FinetuneConfig(steps=args.finetune_steps, batch_size=args.finetune_batch or 2, pages=args.finetune_pages)
    cfg.lr = args.finetune_lr
    t = time.time()
    with tqdm(total=cfg.pages, desc="render training invoices", unit="page", disable=None, file=sys.stderr) as bar:
        data = InvoiceCrops(cfg, progress=lambda i, n: bar.update(1))
    pool = data.pages
    out = []
    for pv in pruned:
        v = Variant(pv.name + "_ft", reload_detector(pv.model_dir), None, pv.pruner, pv.ratio,
                    finetune_steps=cfg.steps, prune=pv.prune)
        open_vdl(v)
        crops = InvoiceCrops(cfg, pages=pool)  # same crops, in the same order, for every variant
        t1 = time.time()
        with tqdm(total=cfg.steps, desc=f"fine-tune {pv.name}", unit="step", disable=None, file=sys.stderr) as bar:
            def on_step(step, rec, v=v, bar=bar):
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.3f}")
                if v.vdl is not None:
                    for k in ("loss", "shrink", "thresh_l1", "binary_dice", "lr"):
                        v.vdl.scalar(f"train/{k}", rec[k], step=step)

            logs = finetune_detector(v.model.model, cfg, crops, on_step)
        v.finetune = {"steps": cfg.steps, "batch_size": cfg.batch_size, "crop": cfg.crop, "lr": cfg.peak_lr,
                      "pages": cfg.pages, "labels": cfg.labels, "shrink_loss": cfg.shrink_loss,
                      "loss": "alpha*shrink + beta*L1(threshold) + dice(binary), alpha 5, beta 10, k 50",
                      "loss_first": logs[0]["loss"] if logs else None,
                      "loss_last10": sum(r["loss"] for r in logs[-10:]) / max(1, len(logs[-10:])),
                      "seconds": round(time.time() - t1, 1)}
        _export_det(v, out_root, base_cfg, base_source, batch0)
        out.append(v)
    print(f"fine-tuned {len(out)} variants in {time.time() - t:.0f} s", file=sys.stderr)
    return out


def _log_summary(v: Variant) -> None:
    if v.vdl is None:
        return
    m = v.metrics
    vals = {"summary/params": v.params, "summary/flops": v.flops, "summary/latency_ms": v.latency_ms,
            "summary/precision": m.get("precision"), "summary/recall": m.get("recall"), "summary/hmean": m.get("hmean"),
            "summary/hmean_deteval": (m.get("deteval") or {}).get("hmean"),
            "drift/spearman": m.get("spearman"), "drift/ssim": m.get("ssim"), "drift/topk_iou": m.get("topk_iou"),
            "drift/energy_in_box": m.get("energy_in_box"), "drift/energy_in_box_delta": m.get("energy_in_box_delta")}
    for k, val in vals.items():
        v.vdl.scalar(k, float("nan") if val is None else val, step=0)
    v.vdl.text("summary", json.dumps({k: val for k, val in vals.items()}, ensure_ascii=False))


def _after_name(path: str) -> str:
    from ..sinks.visualdl import safe_tag

    name = safe_tag(os.path.basename(os.path.normpath(path)))
    return "after" if name in ("base", "") else name


def _kind_of(path: str, flag: str):
    """('det', Detector) or ('cls', classifier) for a model folder, else a one-line error."""
    from ..errors import InputError, PaddleCamError
    from ..models.det import load_detector

    if not os.path.exists(path):
        raise InputError(f"{flag} {path} does not exist; pass an inference folder")
    try:
        return "det", load_detector(path)
    except PaddleCamError as e:
        det_err = e
    except Exception as e:  # a folder that breaks the loader is still the user's folder that does not load
        det_err = e
    try:
        from ..models.cls import load_classifier

        return "cls", load_classifier(path)
    except Exception:
        pass
    raise InputError(f"{flag} {path} does not load as a detector or classifier: {det_err}")


def pair_kind(before: str, after: str) -> str:
    """``det`` or ``field`` for two model folders of one kind; a one-line error otherwise."""
    from ..errors import InputError

    kb, _ = _kind_of(before, "--before")
    ka, _ = _kind_of(after, "--after")
    if kb != ka:
        what = {"det": "a text detector", "cls": "a classifier"}
        raise InputError(f"--before is {what[kb]} but --after is {what[ka]}: compare two models of the same kind")
    return "det" if kb == "det" else "field"


def load_pair_det(before: str, after: str):
    """The two detectors of ``--before``/``--after`` (main has checked they are both detectors)."""
    return _kind_of(before, "--before")[1], _kind_of(after, "--after")[1]


# ----------------------------------------------------------------------------- field classifier (pluggable)

def field_backend():
    """The invoice field classifier class, or a clear exit-2 error while it does not exist."""
    from ..errors import InputError

    try:
        from ..invoice.fields import FieldClassifier  # noqa: F401
    except ImportError as e:
        raise InputError("--model field needs paddle_cam.invoice.fields.FieldClassifier, which this installation "
                         f"does not provide yet ({e}); use --model det") from None
    return FieldClassifier


def run_field(args, pages: List[Page], out_root: str) -> List[Variant]:
    """Pruning comparison for the invoice field classifier (``FieldClassifier.load()`` with
    ``.model``, ``.prepare(page_bgr, polygons)``, ``.predict(batch)``, ``.labels``).

    Crops are the ground-truth lines of every page; quality is accuracy against their ``field``;
    drift compares each crop's map for the base model's predicted class.
    """
    from ..errors import InputError
    from ..slim.field_compare import compare_field

    FieldClassifier = field_backend()
    if not any(p.gt for p in pages):
        raise InputError("--model field needs ground-truth JSON (lines with polygon and field) next to the images")
    return compare_field(FieldClassifier, args, pages, out_root)


# ----------------------------------------------------------------------------- report

def write_report(args, variants: List[Variant], out_root: str, kind: str, seconds: float) -> dict:
    from ..io import save_json

    recs = [_det_variant_record(v) if kind == "det" else v.metrics["record"] for v in variants]
    report = {
        "model": kind, "input": os.path.abspath(args.input), "method": args.method,
        "layers": args.layers or ("neck" if kind == "det" else "auto"), "topk": args.topk,
        "quality_protocol": ("hmean: ICDAR 2015 (one-to-one, IoU > 0.5, as PaddleOCR's DetMetric); hmean_deteval: "
                             "ICDAR 2013 DetEval (area recall 0.8 / precision 0.4, splits and merges counted); "
                             "see paddle_cam.slim.metrics") if kind == "det"
        else "field accuracy on ground-truth lines (grown to detector boxes)",
        "limit_side_len": args.limit_side_len, "flops_input": getattr(args, "flops_shape", None),
        "latency": {"repeats": args.repeats, "note": "median ms, Paddle Inference (ir_optim on, 1 thread) and "
                    "dygraph forward, interleaved across variants in one process, same input"},
        "before": os.path.abspath(args.before) if args.before else None,
        "after": os.path.abspath(args.after) if args.after else None,
        "timings_s": dict(getattr(args, "timings", {}), total=round(seconds, 1)),
        "variants": recs,
    }
    report["plot"] = plot(recs, os.path.join(out_root, "compare.png"), kind)
    save_json(os.path.join(out_root, "compare.json"), report)
    return report


def plot(recs: List[dict], path: str, kind: str) -> str:
    """Quality and drift against pruning ratio (base at 0; fine-tuned variants dashed)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_write_bytes

    quality = "hmean" if kind == "det" else "accuracy"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    by_ratio = all(r.get("ratio") is not None or r["name"] == "base" for r in recs)

    def xs(rows):
        return [(r.get("ratio") or 0.0) if by_ratio else i for i, r in enumerate(rows)]

    groups = {"pruned": [r for r in recs if not r.get("finetune_steps")],
              "fine-tuned": [r for r in recs if r.get("finetune_steps")]}
    base = next((r for r in recs if r["name"] == "base"), None)
    if base is not None and groups["fine-tuned"]:
        groups["fine-tuned"] = [base] + groups["fine-tuned"]
    for gname, rows in groups.items():
        if not rows:
            continue
        ls = "-" if gname == "pruned" else "--"
        x = xs(rows)
        ax = axes[0]
        qual = [(quality, quality, "C0")] + ([("hmean_deteval", "hmean DetEval", "C7")] if kind == "det" else [])
        for key, label, c in qual + [("flops", "FLOPs / base", "C1"), ("params", "params / base", "C2"),
                                     ("latency_ms", "latency / base", "C3")]:
            ref = base.get(key) if base else None
            vals = [r.get(key) for r in rows]
            if key not in (quality, "hmean_deteval"):
                vals = [v / ref if v is not None and ref else None for v in vals]
            ax.plot(x, [float("nan") if v is None else v for v in vals], ls, marker="o", color=c,
                    label=f"{label} ({gname})")
        ax = axes[1]
        for key, c in (("spearman", "C4"), ("ssim", "C5"), ("topk_iou", "C6")):
            ax.plot(x, [float("nan") if r.get(key) is None else r[key] for r in rows], ls, marker="o", color=c,
                    label=f"{key} ({gname})")
    for ax, title in zip(axes, (f"quality and cost ({quality})", "explanation drift vs base (same targets)")):
        ax.set_xlabel("pruning ratio" if by_ratio else "variant")
        ax.set_title(title)
        ax.set_ylim(-0.05, 1.25 if ax is axes[0] else 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best", ncol=2, framealpha=0.6)
    if not by_ratio:
        for ax in axes:
            ax.set_xticks(range(len(recs)))
            ax.set_xticklabels([r["name"] for r in recs])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return os.path.abspath(path)


def print_table(report: dict) -> None:
    kind = report["model"]
    q = "hmean" if kind == "det" else "accuracy"

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    extra = "deteval" if kind == "det" else ""
    print(f"{'variant':<12}{'params':>10}{'GFLOPs':>8}{'lat ms':>9}{q:>9}{extra:>8}{'spearman':>10}{'ssim':>7}"
          f"{'topk_iou':>9}{'energy':>8}")
    for r in report["variants"]:
        de = f(r.get("hmean_deteval"), ".3f") if kind == "det" else ""
        print(f"{r['name']:<12}{f(r['params'], ','):>10}{f(r['flops'] / 1e9 if r['flops'] else None, '.3f'):>8}"
              f"{f(r['latency_ms'], '.1f'):>9}{f(r.get(q), '.3f'):>9}{de:>8}{f(r['spearman'], '.3f'):>10}"
              f"{f(r['ssim'], '.3f'):>7}{f(r['topk_iou'], '.3f'):>9}{f(r['energy_in_box'], '.3f'):>8}")


def main(argv=None) -> int:
    args = parse_args(argv)
    check_args(args)
    from ..cli import set_device
    from ..io import ensure_writable_dir

    kind = args.model or "det"
    if args.before is not None:
        from ..errors import InputError

        pk = pair_kind(args.before, args.after)  # one line, exit 2, when they differ or do not load
        if args.model is not None and pk != args.model:
            held = {"det": "text detectors", "field": "classifiers"}[pk]
            raise InputError(f"--model {args.model} but --before/--after hold {held}; drop --model or pass "
                             f"{args.model} models")
        kind = pk
    if kind == "field":
        field_backend()  # fail fast, before reading pages
    out_root = ensure_writable_dir(args.output)
    if args.vdl_dir:
        ensure_writable_dir(args.vdl_dir)
    pages = load_pages(args.input)
    set_device(args.device)
    t0 = time.time()
    variants = run_field(args, pages, out_root) if kind == "field" else run_det(args, pages, out_root)
    report = write_report(args, variants, out_root, kind, time.time() - t0)
    print_table(report)
    print(f"-> {os.path.join(os.path.abspath(out_root), 'compare.json')}")
    if args.vdl_dir:
        print(f"VisualDL: visualdl --logdir {args.vdl_dir} --host 127.0.0.1  (runs: "
              f"{', '.join(v.name for v in variants)})")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
