#!/usr/bin/env python
"""Train the invoice-field classifier (PP-LCNet) on generated invoices, reproducibly, on CPU.

    python tools/train_field_cls.py                                  # -> demo_docs/field_cls, ~15 min on 2 cores
    python tools/train_field_cls.py --vdl_dir runs                   # loss / accuracy curves in VisualDL
    python tools/train_field_cls.py --shortcut                       # cue model -> demo_docs/field_cls_shortcut
    python tools/train_field_cls.py -o Data.train_pages=100 Train.epochs=2 --output /tmp/fc

Data: invoices rendered with seeds Data.train_seed .. +train_pages and detected by PP-OCRv4;
every ground-truth line, in the detector's own box where one matches it (Data.detector_boxes),
else in its polygon grown and jittered like a DB box (``detector_like_polygon``), labelled with
its schema field (label lines are ``other``). Class imbalance: ``other`` lines that look
like a field (field labels, the stamp's copy of the seller, 机器编号, price/quantity columns) are
all kept, the remaining ``other`` lines are subsampled (Data.other_keep), and the loss is weighted
by inverse square-root class frequency. Seeds: fixed ``paddle.seed``/numpy seeds, jitter drawn
from each page's own seed, data order from Global.seed; two runs give bit-identical weights. Evaluation: invoices of another seed range,
detected by the PP-OCRv4 detector, boxes matched to ground-truth lines grown like DB boxes by
IoU >= 0.5 (``match_detections``; what the QA tool feeds the classifier). The model of the last epoch is saved; the evaluation pages are
never used to choose anything (their per-epoch accuracy is logged for the curves only).

Writes OUT/model.pdparams, OUT/inference.{json,pdiparams,yml} and OUT/metrics.json.
"""
import argparse
import os
import sys
import time

from ..cli import quiet_paddle, run_main

quiet_paddle()

DEFAULTS = {
    "Global": {"output": None, "seed": 2024, "device": "cpu", "workers": 2, "vdl_dir": None, "vdl_run": None,
               "export_inference": True},
    "Data": {"train_seed": 10000, "train_pages": 260, "eval_seed": 90000, "eval_pages": 20, "other_keep": 0.25,
             "hard_other_keep": 1.0, "field_copies": 1, "shortcut": False,
             "context_drop": 0.5, "evidence_drop": 0.5, "context_swap": 0.5, "detector_boxes": 1.0},
    "Model": {"scale": 0.25},
    "Train": {"epochs": 4, "batch_size": 64, "lr": 0.004, "warmup_steps": 100, "weight_decay": 0.0001,
              "label_smoothing": 0.05, "class_weight_power": 0.5, "log_every": 10},
    # The model's default explanation method (inference.yml Explain.default_method): the candidate
    # whose peaks land on the decided line or its label most often on pages of their own seed
    # range, neither trained on nor evaluated on.
    "Explain": {"candidates": ["layercam", "integrated_gradients"], "select_seed": 80000, "select_pages": 8},
    "Report": {"pointing_pages": 20, "grow_px": 4.0, "compare_methods": False},
}
# what page_samples reads of the Data section
DATA_KEYS = ("other_keep", "hard_other_keep", "field_copies", "shortcut", "context_drop", "evidence_drop",
             "context_swap", "detector_boxes")
# The demonstration model: a short run, kept small (training weights + inference.yml only).
SHORTCUT = {"Global": {"export_inference": False},
            "Data": {"train_seed": 30000, "train_pages": 100, "eval_pages": 4, "context_drop": 0.0, "evidence_drop": 0.0},
            "Train": {"epochs": 3}, "Explain": {"select_pages": 0}, "Report": {"pointing_pages": 0}}


def parse_args(argv=None):
    from paddle_cam.config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default=None, help="output folder (default demo_docs/field_cls, "
                                                   "demo_docs/field_cls_shortcut with --shortcut)")
    p.add_argument("--vdl_dir", default=None, help="VisualDL log folder (loss / accuracy curves)")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name (default: field_cls or field_cls_shortcut)")
    p.add_argument("--shortcut", action="store_true", help="train the demonstration model whose training pages "
                                                           "carry a field-coloured cue next to every value")
    p.add_argument("--workers", type=int, default=None, help="processes rendering pages (default 2)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    add_config_args(p)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- data (worker processes)

_DETECT = None


def _detector():
    global _DETECT
    if _DETECT is None:
        from paddle_cam.invoice.pointing import PageDetector

        _DETECT = PageDetector()
    return _DETECT


# 'other' lines that look like a field: the field labels themselves (发票代码：, 金额 ...), the stamp's
# copy of the seller's name and tax id, the 机器编号 digits, and the price / quantity columns
# next to the amounts. Plain 'other' lines (addresses, item names, 密码区 ...) are easy and many.
_CONFUSABLE = {"stamp", "item_price", "item_qty", "other"}


def hard_negative(line: dict) -> bool:
    """An ``other`` line that shares its look or its neighbourhood with a field value."""
    from paddle_cam.invoice.fields import GENERATOR_TO_FIELD

    if line["role"] == "label":
        return line["field"] in GENERATOR_TO_FIELD
    return line["field"] in _CONFUSABLE and line["role"] in ("value", "other") and line["field"] != "title"


def median_glyph_px(gt: dict) -> float:
    """Median glyph height of a page's ground-truth lines (px)."""
    import numpy as np

    from paddle_cam.ocr.regions import box_height

    return float(np.median([box_height(ln["polygon"]) for ln in gt["lines"]])) if gt["lines"] else 24.0


def page_samples(job):
    """Windows (uint8) and labels of one page; a pure function of (seed, kind, data config)."""
    import numpy as np

    from paddle_cam.demo.invoice import render_invoice
    from paddle_cam.invoice.fields import (FIELD_CLASSES, WindowSpec, detector_like_polygon, field_of_line,
                                           match_detections, page_planes, paper_background, window_u8, window_u8_mixed)
    from paddle_cam.invoice.pointing import draw_cues, own_regions
    from paddle_cam.ocr.regions import box_height, grown_polygon

    seed, kind, data = job
    spec = WindowSpec()
    page, gt = render_invoice(seed)
    if data["shortcut"] and kind == "train":
        draw_cues(page, gt)
    planes = page_planes(page)
    xs, ys = [], []
    out = {"seed": seed, "kind": kind}
    if kind == "train":
        rng = np.random.RandomState(seed)  # jitter depends on the page only: same data in every run
        # The boxes the classifier will see are PP-OCRv4's: digits-only lines 2x as tall as their
        # glyphs, a label merged into its value's box. With probability Data.detector_boxes a line
        # is shown in the detector's box that matches it, else (and when none does) in a jittered
        # box grown like one. All-detector boxes read best (98.7% of field lines) but point worst
        # (LayerCAM peaks on the line or its label for 60% of decisions, 79% at one half).
        det_box = {}
        p_det = float(data["detector_boxes"])
        if p_det > 0:
            polys = _detector()(page)
            det_box = {j: np.asarray(polys[i], np.float64) for i, j in enumerate(match_detections(polys, gt["lines"]))
                       if j is not None}
        p_ctx, p_ink = float(data["context_drop"]), float(data["evidence_drop"])
        p_swap = float(data["context_swap"])
        bg = page_planes(paper_background(page, median_glyph_px(gt))) if max(p_ctx, p_ink, p_swap) > 0 else None
        for j, ln in enumerate(gt["lines"]):
            f = field_of_line(ln)
            keep = float(data["hard_other_keep"]) if hard_negative(ln) else float(data["other_keep"])
            copies = int(data["field_copies"]) if f != "other" else int(rng.rand() < keep)
            for c in range(copies):
                use_det = c == 0 and j in det_box and (p_det >= 1 or rng.rand() < p_det)
                poly = det_box[j] if use_det else detector_like_polygon(ln["polygon"], rng)
                xs.append(window_u8(planes, poly, spec))
                ys.append(FIELD_CLASSES.index(f))
                if bg is None:
                    continue
                if f == "other":
                    # the same counterfactual for 'other' lines that look like a field: the line and
                    # its own column header / label in another line's surroundings is still 'other'
                    if p_swap > 0 and hard_negative(ln) and rng.rand() < p_swap:
                        mine = [grown_polygon(l["polygon"], 0.3 * box_height(ln["polygon"])) for l in gt["lines"]
                                if l is ln or (l["role"] == "label" and l["field"] == ln["field"])]
                        k = int(rng.randint(len(gt["lines"])))
                        other = window_u8(planes, detector_like_polygon(gt["lines"][k]["polygon"]), spec)
                        xs.append(window_u8_mixed(planes, bg, poly, spec, mine, keep=True, fill=other))
                        ys.append(FIELD_CLASSES.index(f))
                    continue
                # Counterfactuals, so that the evidence is the value and its label and not the
                # layout around them: the line with its labels alone still is the field; a box
                # with no ink in the same layout is no field at all.
                own = own_regions(gt, j, 0.3 * box_height(ln["polygon"]))
                if rng.rand() < p_ctx:
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own, keep=True))
                    ys.append(FIELD_CLASSES.index(f))
                if rng.rand() < p_ink:
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own[:1], keep=False))
                    ys.append(FIELD_CLASSES.index("other"))
                if p_swap > 0 and rng.rand() < p_swap:
                    k = int(rng.randint(len(gt["lines"])))
                    other = window_u8(planes, detector_like_polygon(gt["lines"][k]["polygon"]), spec)
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own, keep=True, fill=other))
                    ys.append(FIELD_CLASSES.index(f))
    else:
        polys = _detector()(page)
        match = match_detections(polys, gt["lines"])
        for poly, j in zip(polys, match):
            if j is not None:
                xs.append(window_u8(planes, poly, spec))
                ys.append(FIELD_CLASSES.index(field_of_line(gt["lines"][j])))
        out.update(polygons=polys, match=match, page=page, gt=gt)  # the report needs the page again
    h, w = spec.input_hw
    out["x"] = np.stack(xs) if xs else np.zeros((0, 3, h, w), np.uint8)
    out["y"] = np.asarray(ys, np.int64)
    return out


def generate(jobs, workers: int, desc: str):
    """Run ``page_samples`` over jobs in worker processes; results in job order (deterministic)."""
    from tqdm import tqdm

    if workers <= 1:
        return [page_samples(j) for j in tqdm(jobs, desc=desc, unit="page", file=sys.stderr)]
    import multiprocessing as mp

    # Paddle's CPU kernels here run on one thread per process; page rendering is pure Python/OpenCV.
    # Spawned workers (not forked from a process holding Paddle's thread pools) with one thread each.
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        ctx = mp.get_context("spawn")
        pool = ctx.Pool(workers)
        try:
            out = list(tqdm(pool.imap(page_samples, jobs, chunksize=1), total=len(jobs), desc=desc, unit="page",
                            file=sys.stderr, mininterval=1.0))
            pool.close()  # let workers exit normally: terminate() makes Paddle print a fatal-signal report
            return out
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


# ----------------------------------------------------------------------------- training


def logits(model, x, training: bool):
    """PPLCNetClassifier.forward without the softmax, with train-mode dropout
    (``downscale_in_infer``, so eval matches the classifier's ``* (1 - p)``)."""
    import paddle.nn.functional as F

    h = model.encoder(x)
    h = model.act_fn(model.last_convolution(model.avg_pool(h)))
    h = F.dropout(h, p=model.hidden_dropout_prob, training=training, mode="downscale_in_infer")
    return model.head(model.flatten(h))


def accuracy_on(model, x_u8, y, batch_size: int = 256) -> float:
    import numpy as np
    import paddle

    from paddle_cam.invoice.fields import normalize_u8

    if len(y) == 0:
        return float("nan")
    model.eval()
    correct = 0
    with paddle.no_grad():
        for i in range(0, len(y), batch_size):
            out = logits(model, paddle.to_tensor(normalize_u8(x_u8[i:i + batch_size])), False).numpy()
            correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(y)


def train(cfg, x_u8, y, eval_x, eval_y, vdl):
    import numpy as np
    import paddle
    import paddle.nn.functional as F
    from tqdm import tqdm

    from paddle_cam.invoice.fields import FIELD_CLASSES, MODEL_NAME, normalize_u8
    from paddle_cam.models import pplcnet

    t = cfg["Train"]
    seed = int(cfg["Global"]["seed"])
    paddle.seed(seed)
    np.random.seed(seed)
    model = pplcnet.build(MODEL_NAME, float(cfg["Model"]["scale"]), len(FIELD_CLASSES))
    counts = np.bincount(y, minlength=len(FIELD_CLASSES)).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1)) ** float(t["class_weight_power"])
    w = w / (w * counts).sum() * counts.sum()  # mean weight per sample = 1: the lr means the same for any mix
    weight = paddle.to_tensor(w.astype(np.float32))
    bs = int(t["batch_size"])
    steps_per_epoch = len(y) // bs  # drop the last partial batch: BN statistics of tiny batches are noise
    total = steps_per_epoch * int(t["epochs"])
    sched = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(float(t["lr"]), max(1, total - int(t["warmup_steps"]))),
        int(t["warmup_steps"]), 0.0, float(t["lr"]))
    opt = paddle.optimizer.AdamW(sched, parameters=model.parameters(), weight_decay=float(t["weight_decay"]))
    order_rng = np.random.RandomState(seed)
    curves = []
    step = 0
    for epoch in range(int(t["epochs"])):
        model.train()
        order = order_rng.permutation(len(y))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{t['epochs']}", unit="step", file=sys.stderr,
                   mininterval=1.0)
        run_loss = run_acc = 0.0
        for b in bar:
            idx = order[b * bs:(b + 1) * bs]
            xb = paddle.to_tensor(normalize_u8(x_u8[idx]))
            yb = paddle.to_tensor(y[idx])
            out = logits(model, xb, True)
            loss = F.cross_entropy(out, yb, weight=weight, label_smoothing=float(t["label_smoothing"]))
            loss.backward()
            opt.step()
            opt.clear_grad()
            sched.step()
            step += 1
            acc = float((out.argmax(1) == yb).astype("float32").mean())
            run_loss = 0.9 * run_loss + 0.1 * float(loss) if b else float(loss)
            run_acc = 0.9 * run_acc + 0.1 * acc if b else acc
            bar.set_postfix(loss=f"{run_loss:.3f}", acc=f"{run_acc:.3f}")
            if vdl is not None and step % int(t["log_every"]) == 0:
                vdl.scalar("train/loss", run_loss, step)
                vdl.scalar("train/acc", run_acc, step)
                vdl.scalar("train/lr", sched.get_lr(), step)
        ev = accuracy_on(model, eval_x, eval_y)
        curves.append({"epoch": epoch + 1, "step": step, "train_loss": run_loss, "train_acc": run_acc, "eval_acc": ev})
        if vdl is not None:
            vdl.scalar("eval/acc", ev, step)
        print(f"epoch {epoch + 1}: train loss {run_loss:.4f} acc {run_acc:.4f} | held-out detector boxes acc {ev:.4f}",
              file=sys.stderr)
    model.eval()
    return model, curves, {"counts": counts.astype(int).tolist(), "weights": w.round(4).tolist(),
                           "steps": step, "samples": int(len(y))}


# ----------------------------------------------------------------------------- saving


def cases_of(results) -> list:
    """``PageCase`` of pages generated as ``eval``."""
    from paddle_cam.invoice.pointing import PageCase

    return [PageCase(r["seed"], r["page"], r["gt"], r["polygons"], r["match"]) for r in results]


def select_method(model, results, candidates, grow_px: float) -> dict:
    """Pointing game of each candidate method on the selection pages; the best one (ties: the
    first listed) becomes the model's default. Empty without pages or candidates."""
    from paddle_cam.invoice.fields import FIELD_CLASSES, FieldClassifier
    from paddle_cam.invoice.pointing import pointing_game

    if not results or not candidates:
        return {}
    clf, cases = FieldClassifier(model, FIELD_CLASSES), cases_of(results)
    rates = {m: pointing_game(clf, cases, method=m, grow_px=grow_px)["rate"] or 0.0 for m in candidates}
    best = max(candidates, key=lambda m: rates[m])  # max() keeps the first of equal rates
    print("explanation method on selection pages: " + ", ".join(f"{m} {100 * r:.1f}%" for m, r in rates.items())
          + f" -> {best}", file=sys.stderr)
    return {"method": best, "layer": clf.default_layer, "rates": {m: round(r, 4) for m, r in rates.items()}}


def save_model(model, out_dir: str, extra_yml: dict, export_inference: bool = True) -> str:
    """model.pdparams, inference.yml and (``export_inference``) the inference program
    (paddle.jit.save: inference.json + inference.pdiparams); returns out_dir."""
    import paddle
    import yaml

    from paddle_cam.invoice.fields import FIELD_CLASSES, FieldClassifier, WindowSpec
    from paddle_cam.io import atomic_write_bytes

    os.makedirs(out_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(out_dir, "model.pdparams"))
    if export_inference:
        h, w = WindowSpec().input_hw
        paddle.jit.save(model, os.path.join(out_dir, "inference"),
                        input_spec=[paddle.static.InputSpec([None, 3, h, w], "float32", "x")])
    clf = FieldClassifier(model, FIELD_CLASSES)
    text = yaml.safe_dump(clf.inference_yml(extra_yml), allow_unicode=True, sort_keys=False)
    atomic_write_bytes(os.path.join(out_dir, "inference.yml"), text.encode("utf-8"))
    return out_dir


def main(argv=None) -> int:
    args = parse_args(argv)
    from paddle_cam.config import _merge, load_config

    defaults = DEFAULTS
    if args.shortcut:
        import copy

        defaults = copy.deepcopy(DEFAULTS)
        _merge(defaults, SHORTCUT)
        defaults["Data"]["shortcut"] = True
    cfg = load_config(args.config, args.opt, defaults)
    g, d = cfg["Global"], cfg["Data"]
    for key in ("output", "vdl_dir", "vdl_run", "workers", "device"):
        if getattr(args, key) is not None:
            g[key] = getattr(args, key)
    from paddle_cam.invoice.fields import _ROOT

    shortcut = bool(d["shortcut"])
    g["output"] = g["output"] or os.path.join(_ROOT, "demo_docs", "field_cls_shortcut" if shortcut else "field_cls")
    g["vdl_run"] = g["vdl_run"] or ("field_cls_shortcut" if shortcut else "field_cls")

    import numpy as np

    from paddle_cam.cli import set_device
    from paddle_cam.errors import InputError
    from paddle_cam.io import ensure_writable_dir, save_json

    if int(d["train_pages"]) < 1 or int(d["eval_pages"]) < 1:
        raise InputError("Data.train_pages and Data.eval_pages must be at least 1")
    tr0, ev0 = int(d["train_seed"]), int(d["eval_seed"])
    tr_seeds = list(range(tr0, tr0 + int(d["train_pages"])))
    ev_seeds = list(range(ev0, ev0 + int(d["eval_pages"])))
    xs0 = int(cfg["Explain"]["select_seed"])
    sel_seeds = list(range(xs0, xs0 + int(cfg["Explain"]["select_pages"])))
    if set(tr_seeds) & set(ev_seeds):
        raise InputError(f"training seeds {tr0}..{tr_seeds[-1]} overlap evaluation seeds {ev0}..{ev_seeds[-1]}")
    if set(sel_seeds) & (set(tr_seeds) | set(ev_seeds)):
        raise InputError(f"Explain.select_seed pages {xs0}.. overlap the training or evaluation seeds; move them")
    out_dir = ensure_writable_dir(g["output"])
    set_device(g["device"])
    t0 = time.time()

    data = {k: d[k] for k in DATA_KEYS}
    workers = max(1, int(g["workers"]))
    res = generate([(s, "train", data) for s in tr_seeds] + [(s, "eval", data) for s in ev_seeds + sel_seeds],
                   workers, "pages")
    train_res, eval_res = res[:len(tr_seeds)], res[len(tr_seeds):len(tr_seeds) + len(ev_seeds)]
    sel_res = res[len(tr_seeds) + len(ev_seeds):]
    x = np.concatenate([r["x"] for r in train_res])
    y = np.concatenate([r["y"] for r in train_res])
    ex = np.concatenate([r["x"] for r in eval_res])
    ey = np.concatenate([r["y"] for r in eval_res])
    t_data = time.time() - t0
    print(f"data: {len(y)} training windows from {len(tr_seeds)} pages, {len(ey)} held-out detector boxes from "
          f"{len(ev_seeds)} pages ({t_data:.0f} s)", file=sys.stderr)

    vdl = None
    if g["vdl_dir"]:
        from paddle_cam.sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    try:
        t1 = time.time()
        model, curves, stats = train(cfg, x, y, ex, ey, vdl)
        t_train = time.time() - t1
        del x
        # where this machine wrote things is no property of the model
        recipe = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
        recipe["Global"] = {k: v for k, v in cfg["Global"].items() if k in ("seed", "export_inference")}
        extra = {"Training": {"train_seeds": [tr0, tr_seeds[-1]], "eval_seeds": [ev0, ev_seeds[-1]],
                              "shortcut_cue": shortcut, "config": recipe}}
        selection = select_method(model, sel_res, list(cfg["Explain"]["candidates"]), float(cfg["Report"]["grow_px"]))
        if selection:
            extra["Explain"] = {"default_layer": selection["layer"], "default_method": selection["method"],
                                "selected_on": {"seeds": [sel_seeds[0], sel_seeds[-1]],
                                                "pointing_game": selection["rates"]}}
        export = bool(g["export_inference"])
        save_model(model, out_dir, extra, export)

        # --- report on held-out pages, through the saved inference folder (what users load) ---
        from paddle_cam.invoice.fields import FieldClassifier
        from paddle_cam.invoice.fields import normalize_u8
        from paddle_cam.invoice.pointing import (attribution_table, evaluate, explain_cases, format_accuracy_table,
                                                 occlusion_check, pointing_game)

        ref = FieldClassifier.load(os.path.join(out_dir, "model.pdparams"))
        clf = FieldClassifier.load(out_dir) if export else ref
        probe = normalize_u8(ex[:32])
        parity = float(np.abs(clf.predict(probe) - ref.predict(probe)).max()) if export else None
        cases = cases_of(eval_res)
        metrics = evaluate(clf, cases)
        table = format_accuracy_table(metrics)
        report = {"model": {"name": clf.name, "scale": float(cfg["Model"]["scale"]), "labels": clf.labels,
                            "input": clf.spec.to_yml(),
                            "params": int(sum(int(np.prod(p.shape)) for p in model.parameters()))},
                  "train_seeds": [tr0, tr_seeds[-1]], "eval_seeds": [ev0, ev_seeds[-1]],
                  "training": dict(stats, curves=curves), "eval": metrics,
                  "inference_vs_pdparams_max_abs_diff": parity}
        if shortcut:
            from paddle_cam.invoice.fields import default_model_dir
            from paddle_cam.invoice.pointing import PageDetector, shortcut_report

            honest = None
            if os.path.isdir(default_model_dir()) and os.path.abspath(default_model_dir()) != os.path.abspath(out_dir):
                honest = FieldClassifier.load(default_model_dir())
            report["shortcut"] = shortcut_report(clf, ev_seeds, PageDetector(), honest)
        pcases = cases[:int(cfg["Report"]["pointing_pages"])]
        if pcases:
            t2 = time.time()
            grow = float(cfg["Report"]["grow_px"])
            explained = explain_cases(clf, pcases)
            pg = pointing_game(clf, pcases, grow_px=grow, explained=explained)
            report["pointing_game"] = pg
            if cfg["Report"].get("compare_methods"):
                keep = ("hits", "total", "rate", "peak_at")
                # the other methods at the default layer, and the default method one stage finer
                # and one coarser (a minute more on 2 cores, hence off by default)
                report["pointing_game_by_method"] = {
                    m: {k: v for k, v in pointing_game(clf, pcases, method=m, grow_px=grow).items() if k in keep}
                    for m in ("gradcam", "gradcampp", "xgradcam", "hirescam", "layercam")}
                report["pointing_game_by_layer"] = {
                    layer: {k: v for k, v in pointing_game(clf, pcases, layers=[layer], grow_px=grow).items()
                            if k in keep}
                    for layer in ("encoder.blocks.1", "encoder.blocks.2", "encoder.blocks.3")}
            report["occlusion_check"] = occlusion_check(clf, pcases, explained=explained)
            report["attribution_example"] = {"seed": pcases[0].seed, "lines": attribution_table(clf, pcases[0])}
            report["timing_s"] = {"pointing": round(time.time() - t2, 1)}
        report.setdefault("timing_s", {}).update({"data": round(t_data, 1), "train": round(t_train, 1),
                                                  "total": round(time.time() - t0, 1)})
        report["timing_s"]["machine"] = {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)}
        if vdl is not None:
            vdl.text("eval/table", "```\n" + table + "\n```", 0)
            if "pointing_game" in report:
                vdl.scalar("eval/pointing_game", report["pointing_game"]["rate"], 0)
        save_json(os.path.join(out_dir, "metrics.json"), report)
    finally:
        if vdl is not None:
            vdl.close()
    print(table)
    if "shortcut" in report:
        sc = report["shortcut"]
        print(f"shortcut model: accuracy {100 * metrics['accuracy']:.1f}% without the cue (field lines "
              f"{100 * metrics['field_accuracy']:.1f}%), {100 * sc['accuracy_with_cue']:.1f}% with it; follows a "
              f"swapped cue on {100 * (sc['follows_swapped_cue'] or 0):.1f}% of {sc['swapped_lines']} field lines")
        for name, ce in sc["cue_energy"].items():
            print(f"  {'this model' if name == 'model' else 'honest model'}: {100 * ce['share']:.1f}% of the map on "
                  f"cue discs that cover {100 * ce['cue_area']:.1f}% of the window; peak on a cue for "
                  f"{100 * ce['peak_on_cue']:.1f}% of lines")
    if "pointing_game" in report:
        pg = report["pointing_game"]
        print(f"pointing game: {pg['hits']}/{pg['total']} = {100 * pg['rate']:.1f}% "
              f"({pg['method']} @ {', '.join(pg['layers'])}, grow {pg['grow_px']} px); peaks on "
              + ", ".join(f"{k} {v}" for k, v in pg["peak_at"].items()))
        for what in ("pointing_game_by_method", "pointing_game_by_layer"):
            for key, r in report.get(what, {}).items():
                print(f"  {key}: {r['hits']}/{r['total']} = {100 * (r['rate'] or 0):.1f}%")
        oc = report["occlusion_check"]
        print(f"occlusion ({oc['lines']} lines): blanking the line + its labels lowers the decided class's "
              f"probability by {oc['mean_drop_own_regions']:.4f} on average, blanking as many pixels at the "
              f"map's peak by {oc['mean_drop_at_peak']:.4f}")
        for line in report["attribution_example"]["lines"][:6]:
            print("  " + line)
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"saved -> {out_dir} ({size / 1e6:.2f} MB); total {time.time() - t0:.0f} s "
          f"(data {t_data:.0f} s, training {t_train:.0f} s)")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
