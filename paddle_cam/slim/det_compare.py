"""Pruning comparison for a DB text detector: cost, detection quality and explanation drift.

Every variant is explained on the base model's boxes (and its text mask for the all-text
target). Quality is ICDAR 2015 precision/recall/hmean and ICDAR 2013 DetEval against the
pages' ground truth (:mod:`paddle_cam.slim.metrics`). Per variant and page it writes
``OUT/<variant>/<page>/``: raw.npz (raw maps on the layer grid), metrics.json, detections.png,
side_by_side.png (base | variant) and diff.png; pruned and fine-tuned models are exported to
``OUT/models/<variant>/`` and evaluated as reloaded from there.
"""
from __future__ import annotations

import io
import os
import sys
import time
from typing import List, Optional, Sequence

import numpy as np

from .compare import Comparison, CompareSettings, Page, Variant, after_name, measure_latency, model_kind, saved_dir


def prepare_targets(pipeline, pages: Sequence[Page]):
    """Base detections -> the fixed targets every variant is explained on, one per page, with
    the page's detection result."""
    from .drift import PageTargets

    out = []
    for pg in pages:
        det = pipeline.detect(pg.image, recognize=False)
        polys = [[[float(x), float(y)] for x, y in b.polygon] for b in det.boxes]
        out.append((PageTargets(pg.name, pg.image, det.batch, list(range(len(polys))), polys,
                                [det.info.points_to_input(np.asarray(p)) for p in polys],
                                (det.prob > pipeline.post.thresh).astype(np.float32)), det))
    return out


def evaluate_variant(v: Variant, base: Optional[Variant], pages: Sequence[Page], targets, postprocess,
                     base_maps: dict, settings: CompareSettings, method: str, out_root: str, bar=None) -> None:
    """Detection quality and drift of one variant (``base`` None: this is the base); writes its
    per-page outputs and VisualDL records."""
    import cv2

    from ..io import atomic_write_bytes, save_json, save_png
    from ..ocr.explain import resolve_layers
    from ..sinks.det_report import draw_polygons
    from .drift import FixedTargetExplainer, compare_maps, page_energy
    from .metrics import evaluate_page, gt_polygons, mean_or_none, prf
    from .plots import page_images

    det = v.model
    layers = resolve_layers(det, settings.layers)
    explainer = FixedTargetExplainer(det, method, layers)
    counts, drifts, all_text = [], [], []
    is_base = base is None
    for pg, (pt, base_det) in zip(pages, targets):
        prob = det.prob_map(pt.batch)[0, 0]
        det_polys = [b["polygon"] for b in postprocess(prob, base_det.info)]
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
            roi = pt.box_roi(int(tm.key[4:]), tm.grid.shape) if is_box else None
            d = compare_maps(ref, tm, roi, settings.topk)
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
            "raw_map_grid": [grid[1], grid[0]] if grid else None, "method": method, "layers": layers,
            "detections": len(det_polys),
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


def det_variant_record(v: Variant) -> dict:
    """One ``variants`` entry of ``compare.json`` for a detector variant."""
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


def export_variant(v: Variant, out_root: str, base_cfg: Optional[dict], base_source: str, batch: np.ndarray) -> None:
    """Save as an inference folder, reload it through ``load_detector`` and check its parity with
    its own Paddle Inference export; the reloaded model is what gets evaluated."""
    from ..models.static import StaticPredictor
    from ..models.export import save_inference
    from .prune import detector_config, reload_detector

    d = save_inference(v.model.model, os.path.join(out_root, "models", v.name),
                       config=detector_config(base_cfg, base_model=os.path.abspath(base_source), pruner=v.pruner,
                                              ratio=v.ratio, finetune_steps=v.finetune_steps or None))
    v.model = reload_detector(d)
    v.model_dir = d
    v.parity = float(np.abs(v.model.prob_map(batch) - StaticPredictor(d)(batch)).max())


def compare_det(pages: Sequence[Page], settings: CompareSettings, out_root: str) -> Comparison:
    """Build the detector variants (prune + export, optionally fine-tune; or load ``before`` and
    ``after``), measure cost and latency, and evaluate each on the base model's targets."""
    from tqdm import tqdm

    from ..models.det import load_detector
    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..ocr.pipeline import TextPipeline
    from ..sinks.visualdl import VisualDLRun
    from .prune import count_flops, count_params, detector_calibration, prune_detector

    method = settings.method or "gradcam"
    t0 = time.time()
    timings = {}
    if settings.before is not None:
        base = Variant("base", model_kind(settings.before, "--before")[1], os.path.abspath(settings.before))
        variants = [base, Variant(after_name(settings.after), model_kind(settings.after, "--after")[1],
                                  os.path.abspath(settings.after))]
    else:
        base = Variant("base", load_detector(settings.model_dir), None)
        variants = [base]
    base_source = base.model.source
    pipeline = TextPipeline(base.model, DetPreprocess(limit_side_len=settings.limit_side_len), DBPostProcess())
    targets = prepare_targets(pipeline, pages)
    batch0 = targets[0][0].batch
    flops_shape = list(batch0.shape)

    def open_vdl(v):
        if settings.vdl_dir:
            v.vdl = VisualDLRun(settings.vdl_dir, v.name)

    base_cfg = (base.model.inference.config if base.model.inference is not None else None)
    try:
        if settings.before is None:
            open_vdl(base)
            export_variant(base, out_root, base_cfg, base_source, batch0)
            calib = detector_calibration(limit_side_len=settings.limit_side_len) if settings.compensate else None
            for ratio in settings.ratios:
                name = f"{settings.pruner}_{ratio:g}"
                t = time.time()
                det, res = prune_detector(base_source, settings.pruner, ratio, flops_hw=flops_shape[2:],
                                          calibration=calib)
                v = Variant(name, det, None, settings.pruner, ratio, prune={
                    "layers_pruned": len(res.layers), "protected": res.skipped,
                    "bias_compensation": calib is not None, "compensated": len(res.compensated),
                    "uncompensated": res.uncompensated,
                    "params_before": res.params_before, "params_after": res.params_after,
                    "flops_before": res.flops_before, "flops_after": res.flops_after, "seconds": round(time.time() - t, 1)})
                open_vdl(v)
                export_variant(v, out_root, base_cfg, base_source, batch0)
                variants.append(v)
                print(f"{name}: pruned {len(res.layers)} conv outputs, params {res.params_before:,} -> "
                      f"{res.params_after:,}, FLOPs {res.flops_before / 1e9:.2f}G -> {res.flops_after / 1e9:.2f}G",
                      file=sys.stderr)
            if settings.finetune_steps:
                variants += finetune_variants(settings, [v for v in variants if v.ratio is not None], out_root,
                                              base_cfg, base_source, batch0, open_vdl)
        else:
            for v in variants:
                open_vdl(v)
        timings["build_s"] = round(time.time() - t0, 1)
        for v in variants:
            v.params = count_params(v.model.model)
            v.flops = count_flops(v.model.model, flops_shape)
        t = time.time()
        measure_latency(variants, batch0, settings.repeats, lambda v: v.model.prob_map, saved_dir)
        timings["latency_s"] = round(time.time() - t, 1)
        t = time.time()
        base_maps: dict = {}
        bar = tqdm(total=len(variants) * len(pages), desc="explain", unit="page", disable=None, file=sys.stderr)
        try:
            for v in variants:
                evaluate_variant(v, None if v is base else base, pages, targets, pipeline.post, base_maps,
                                 settings, method, out_root, bar)
                log_summary(v)
        finally:
            bar.close()
        timings["evaluate_s"] = round(time.time() - t, 1)
        for v in variants:
            v.metrics["record"] = det_variant_record(v)
    finally:
        for v in variants:
            if v.vdl is not None:
                v.vdl.close()
    return Comparison("det", variants, method, timings, flops_shape)


def finetune_variants(settings: CompareSettings, pruned: List[Variant], out_root: str, base_cfg: Optional[dict],
                      base_source: str, batch0: np.ndarray, open_vdl) -> List[Variant]:
    """``<name>_ft`` variants: each pruned detector fine-tuned on the same generated crops."""
    from tqdm import tqdm

    from .finetune import FinetuneConfig, InvoiceCrops, finetune_detector
    from .prune import reload_detector

    cfg = FinetuneConfig(steps=settings.finetune_steps, batch_size=settings.finetune_batch or 2,
                         pages=settings.finetune_pages)
    cfg.lr = settings.finetune_lr
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
        export_variant(v, out_root, base_cfg, base_source, batch0)
        out.append(v)
    print(f"fine-tuned {len(out)} variants in {time.time() - t:.0f} s", file=sys.stderr)
    return out


def log_summary(v: Variant) -> None:
    """The variant's summary scalars (and the same as one text record) in its VisualDL run."""
    import json

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
