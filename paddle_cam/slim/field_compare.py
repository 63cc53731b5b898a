"""Pruning comparison for an invoice field classifier (``--model field``).

The classifier is pluggable: any class with ``load(path=None)`` returning an object that has
``.model`` (a dynamic-graph ``nn.Layer`` taking the prepared batch), ``.prepare(page_bgr,
polygons)`` (one input per polygon, a batch), ``.predict(batch)`` (class ids, labels, ``(label,
score)`` pairs, dicts with ``class_id``/``label``, or a score matrix) and ``.labels``; optional:
``.default_layer`` (what to explain), ``.inference_yml(extra)`` (so an export reloads through
``load``), and a module-level ``field_of_line(gt_line)`` giving a ground-truth line's class
(otherwise its ``field``). ``paddle_cam.invoice.fields.FieldClassifier`` is the one the tool imports.

Inputs are the ground-truth lines of every page (grown to detector boxes by the backend module's
``detector_like_polygon`` when it has one); quality is accuracy against each line's class
(lines whose class is not one of ``.labels`` are skipped); drift compares each input's map for the
*base* model's predicted class on every variant, over the whole input.
"""
from __future__ import annotations

import io
import os
import sys
from typing import List, Optional, Sequence

import numpy as np
import paddle

from ..errors import InputError
from .metrics import mean_or_none, spearman, ssim, topk_iou

CAM_CHUNK = 16  # crops per CAM call: bounds memory, one forward each


def class_ids(pred, labels: Sequence[str]) -> List[int]:
    """Class ids from whatever ``predict`` returns (see the module docstring)."""
    if isinstance(pred, paddle.Tensor):
        pred = pred.numpy()
    if isinstance(pred, np.ndarray):
        return [int(i) for i in (pred.argmax(axis=1) if pred.ndim == 2 else pred.reshape(-1))]
    out = []
    for p in pred:
        if isinstance(p, dict):
            p = p["class_id"] if "class_id" in p else p["label"]
        elif isinstance(p, (tuple, list)):
            p = p[0]
        out.append(int(p) if isinstance(p, (int, np.integer)) else list(labels).index(str(p)))
    return out


def last_conv(model: paddle.nn.Layer, example: paddle.Tensor) -> str:
    """Name of the last regular conv to run: the usual Grad-CAM layer of a CNN classifier."""
    from ..models.weights import leaf_layers_in_execution_order

    convs = [n for n, l in leaf_layers_in_execution_order(model, example)
             if isinstance(l, paddle.nn.Conv2D) and l._groups == 1]
    if not convs:
        raise InputError("the field classifier has no conv layer to explain; pass --layers")
    return convs[-1]


def _load(FieldClassifier, path: Optional[str], flag: str):
    from ..errors import PaddleCamError

    try:
        return FieldClassifier.load(path) if path else FieldClassifier.load()
    except PaddleCamError as e:
        raise InputError(f"{flag}: {e}" if flag else str(e)) from None
    except Exception as e:
        where = f"{flag} {path}" if path else "the default field classifier"
        raise InputError(f"{where} does not load as a field classifier ({type(e).__name__}: {e})") from None


def _gt_class(FieldClassifier):
    mod = sys.modules.get(FieldClassifier.__module__)
    fn = getattr(mod, "field_of_line", None)
    return fn if callable(fn) else (lambda line: line.get("field"))


def _input_polygon(FieldClassifier):
    """The backend's ``detector_like_polygon`` (ground-truth glyph box -> the box a DB detector
    gives for it) when its module has one: the classifier is trained and deployed on detector
    boxes. Identity otherwise."""
    mod = sys.modules.get(FieldClassifier.__module__)
    fn = getattr(mod, "detector_like_polygon", None)
    return fn if callable(fn) else (lambda poly: poly)


def _as_batch(x) -> np.ndarray:
    return (x.numpy() if isinstance(x, paddle.Tensor) else np.asarray(x)).astype(np.float32)


def compare_field(FieldClassifier, args, pages, out_root: str):
    """Build the variants, measure them and return them (records in ``v.metrics['record']``)."""
    from ..apps.prune_compare import Variant, measure_latency
    from ..io import atomic_write_bytes, save_json, save_png
    from ..methods import get_method
    from ..sinks.overlay import colorize
    from ..sinks.visualdl import VisualDLRun
    from ..targets import ClassifierOutputTarget
    from .prune import count_flops, count_params, prune_model, save_inference

    source = args.before or args.model_dir
    base_fc = _load(FieldClassifier, source, "--before" if args.before else ("--model_dir" if source else ""))
    labels = list(base_fc.labels)
    gt_class = _gt_class(FieldClassifier)
    as_input = _input_polygon(FieldClassifier)
    method = args.method or getattr(base_fc, "default_method", None) or "gradcam"
    args.method = method
    crops = []  # (page, batch, gt class ids or None per input)
    for pg in pages:
        if not pg.gt or not pg.gt.get("lines"):
            continue
        lines = pg.gt["lines"]
        batch = _as_batch(base_fc.prepare(pg.image, [as_input(ln["polygon"]) for ln in lines]))
        gt = [labels.index(c) if (c := gt_class(ln)) in labels else None for ln in lines]
        crops.append((pg, batch, gt))
    shape = [1] + list(crops[0][1].shape[1:])
    variants = [Variant("base", base_fc, os.path.abspath(source) if source else getattr(base_fc, "source", None))]
    if args.before:
        after = _load(FieldClassifier, args.after, "--after")
        from ..apps.prune_compare import _after_name

        variants.append(Variant(_after_name(args.after), after, os.path.abspath(args.after)))
    else:
        calib = None
        if not getattr(args, "no_compensate", False):
            from ..demo.invoice import render_invoice
            from .prune import CALIB_SEED0

            page, gt = render_invoice(CALIB_SEED0)  # generated, never one of the evaluated pages
            calib = [_as_batch(base_fc.prepare(page, [ln["polygon"] for ln in gt["lines"]]))]
        for ratio in args.ratio_list:
            fc = _load(FieldClassifier, source, "")
            res = prune_model(fc.model, shape, args.pruner, ratio, calibration=calib)
            v = Variant(f"{args.pruner}_{ratio:g}", fc, None, args.pruner, ratio,
                        prune={"layers_pruned": len(res.layers), "bias_compensation": calib is not None,
                               "compensated": len(res.compensated), "params_before": res.params_before,
                               "params_after": res.params_after, "flops_before": res.flops_before,
                               "flops_after": res.flops_after})
            slim = {"Slim": {"base_model": variants[0].model_dir, "pruner": args.pruner, "ratio": ratio}}
            cfg = fc.inference_yml(slim) if hasattr(fc, "inference_yml") else slim
            v.model_dir = save_inference(fc.model, os.path.join(out_root, "models", v.name), [None] + shape[1:], cfg)
            try:  # evaluate what was saved, when the backend can read its own exports back
                v.model = FieldClassifier.load(v.model_dir)
            except Exception:
                pass
            variants.append(v)
        if getattr(args, "finetune_steps", 0):
            variants += _finetune_field(FieldClassifier, args, [v for v in variants if v.ratio is not None], out_root,
                                        shape)
    b0 = crops[0][1]
    for v in variants:
        v.model.model.eval()
        v.params = count_params(v.model.model)
        v.flops = count_flops(v.model.model, shape)
        if v.model_dir and os.path.isdir(v.model_dir):
            from ..models.static import StaticPredictor

            with paddle.no_grad():
                dyn = v.model.model(paddle.to_tensor(b0)).numpy()
            v.parity = float(np.abs(dyn - StaticPredictor(v.model_dir)(b0)).max())

    def fwd(v):
        def run(b):
            with paddle.no_grad():
                return v.model.model(paddle.to_tensor(b))
        return run

    measure_latency(variants, b0, args.repeats, fwd,
                    lambda v: v.model_dir if v.model_dir and os.path.isdir(v.model_dir) else None)
    example = paddle.to_tensor(b0[:1])
    default = getattr(base_fc, "default_layer", None)
    layers = ([s.strip() for s in args.layers.split(",")] if args.layers else
              [default] if default else [last_conv(base_fc.model, example)])
    base_maps, base_pred = {}, {}
    for v in variants:
        vdl = VisualDLRun(args.vdl_dir, v.name) if args.vdl_dir else None
        try:
            if vdl is not None:  # training curves, written into the variant's own run
                for step, r in enumerate(getattr(v, "train_log", None) or []):
                    for k in ("loss", "acc", "lr"):
                        vdl.scalar(f"train/{k}", r[k], step=step)
            cam = get_method(method)(v.model.model, layers)
            correct = total = fields_correct = fields_total = 0
            other = labels.index("other") if "other" in labels else None
            rows_all = []
            for pg, batch, gt in crops:
                pred = class_ids(v.model.predict(batch), labels)
                if v.name == "base":
                    base_pred[pg.name] = pred
                for p, g in zip(pred, gt):
                    if g is not None:
                        total += 1
                        correct += int(p == g)
                        if g != other:
                            fields_total += 1
                            fields_correct += int(p == g)
                grids = []
                targets = [ClassifierOutputTarget(c) for c in base_pred[pg.name]]
                for i in range(0, len(batch), CAM_CHUNK):
                    res = cam(batch[i:i + CAM_CHUNK], targets[i:i + CAM_CHUNK])
                    grids.extend(list(next(iter(res.layer_maps.values()))))
                rows = []
                for i, g in enumerate(grids):
                    key = (pg.name, i)
                    if v.name == "base":
                        base_maps[key] = g
                    a = base_maps[key]
                    rng = float(max(a.max(), g.max()))
                    rows.append({"crop": i, "spearman": spearman(a, g), "ssim": ssim(a, g, rng) if rng > 0 else None,
                                 "topk_iou": topk_iou(a, g, args.topk), "pred": pred[i], "gt": gt[i]})
                rows_all += rows
                vdir = os.path.join(out_root, v.name, pg.name)
                buf = io.BytesIO()
                np.savez_compressed(buf, **{f"crop_{i}": g for i, g in enumerate(grids)})
                atomic_write_bytes(os.path.join(vdir, "raw.npz"), buf.getvalue())
                save_json(os.path.join(vdir, "metrics.json"), {"variant": v.name, "layers": layers, "crops": rows})
                tiles = []
                for i, g in enumerate(grids[:12]):
                    a = base_maps[(pg.name, i)]
                    sm = float(a.max()) or 1.0
                    tiles.append(np.concatenate([colorize(np.clip(a / sm, 0, 1)), colorize(np.clip(g / sm, 0, 1))], 1))
                if tiles:
                    import cv2

                    w = max(t.shape[1] for t in tiles)
                    mosaic = np.concatenate([cv2.resize(t, (w, max(8, int(t.shape[0] * w / t.shape[1])))) for t in tiles], 0)
                    save_png(os.path.join(vdir, "side_by_side.png"), mosaic)
                    if vdl is not None:
                        vdl.image(f"{pg.name}/cam/side_by_side", mosaic)
                if vdl is not None:
                    for r in rows:
                        for k in ("spearman", "ssim", "topk_iou"):
                            if r[k] is not None:
                                vdl.scalar(f"{pg.name}/drift/{k}", r[k], step=r["crop"])
            acc = correct / total if total else None
            acc_fields = fields_correct / fields_total if fields_total else None
            rec = {"name": v.name, "kind": "field", "pruner": v.pruner, "ratio": v.ratio,
                   "finetune_steps": v.finetune_steps,
                   "model_dir": v.model_dir, "params": v.params, "flops": v.flops,
                   "latency_ms": round(v.latency_ms, 2), "latency_dygraph_ms": round(v.latency_dygraph_ms, 2),
                   "accuracy": acc, "hmean": None,
                   "spearman": mean_or_none(r["spearman"] for r in rows_all),
                   "ssim": mean_or_none(r["ssim"] for r in rows_all),
                   "topk_iou": mean_or_none(r["topk_iou"] for r in rows_all),
                   "energy_in_box": None, "targets": len(rows_all), "parity_max_abs_diff": v.parity,
                   "prune": v.prune, "finetune": v.finetune, "accuracy_fields": acc_fields,
                   "field_lines": fields_total}
            v.metrics["record"] = rec
            if vdl is not None:
                for k in ("accuracy", "spearman", "ssim", "topk_iou"):
                    if rec[k] is not None:
                        vdl.scalar(f"summary/{k}" if k == "accuracy" else f"drift/{k}", rec[k], step=0)
                for k in ("params", "flops", "latency_ms"):
                    vdl.scalar(f"summary/{k}", rec[k], step=0)
        finally:
            if vdl is not None:
                vdl.close()
    return variants



FT_SEED0 = 10_000  # the committed classifier's own training pages (tools/train_field_cls.py Data.train_seed)


def field_training_windows(pages: int, seed0: int = FT_SEED0):
    """(uint8 windows, labels) of ``pages`` generated invoices, made exactly as
    ``tools/train_field_cls.py`` makes its training data (detector boxes, jitter, counterfactual
    windows): recovery fine-tuning uses the distribution the model was trained on."""
    from ..apps.train_field_cls import DATA_KEYS, DEFAULTS, page_samples

    data = {k: DEFAULTS["Data"][k] for k in DATA_KEYS}
    res = [page_samples((seed0 + i, "train", data)) for i in range(pages)]
    return np.concatenate([r["x"] for r in res]), np.concatenate([r["y"] for r in res])


def _finetune_field(FieldClassifier, args, pruned, out_root: str, shape):
    """``<name>_ft`` variants: each pruned classifier fine-tuned for ``args.finetune_steps`` steps."""
    from tqdm import tqdm

    from ..apps.prune_compare import Variant
    from .finetune import ClassifierFinetuneConfig, finetune_classifier
    from .prune import save_inference

    try:
        from ..invoice.fields import normalize_u8
    except ImportError as e:  # pragma: no cover - the backend is the project's own
        raise InputError(f"--finetune_steps for --model field needs paddle_cam.invoice.fields ({e})") from None
    cfg = ClassifierFinetuneConfig(steps=args.finetune_steps, pages=getattr(args, "finetune_pages", 16))
    if getattr(args, "finetune_batch", None):
        cfg.batch_size = args.finetune_batch
    if getattr(args, "finetune_lr", None):
        cfg.lr = args.finetune_lr
    with tqdm(total=cfg.pages, desc="render training invoices", unit="page", disable=None, file=sys.stderr) as bar:
        x_u8, y = field_training_windows(cfg.pages)
        bar.update(cfg.pages)
    out = []
    for pv in pruned:
        fc = FieldClassifier.load(pv.model_dir)
        v = Variant(pv.name + "_ft", fc, None, pv.pruner, pv.ratio, finetune_steps=cfg.steps, prune=pv.prune)
        with tqdm(total=cfg.steps, desc=f"fine-tune {pv.name}", unit="step", disable=None, file=sys.stderr) as bar:
            def on_step(step, rec, bar=bar):
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.3f}")

            logs = finetune_classifier(fc.model, cfg, x_u8, y, normalize_u8, len(fc.labels), on_step)
        v.train_log = logs
        v.finetune = {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr, "pages": cfg.pages,
                      "samples": int(len(y)), "loss_first": logs[0]["loss"],
                      "loss_last10": float(np.mean([r["loss"] for r in logs[-10:]]))}
        slim = {"Slim": {"base_model": pv.model_dir, "pruner": pv.pruner, "ratio": pv.ratio,
                         "finetune_steps": cfg.steps}}
        ycfg = fc.inference_yml(slim) if hasattr(fc, "inference_yml") else slim
        v.model_dir = save_inference(fc.model, os.path.join(out_root, "models", v.name), [None] + shape[1:], ycfg)
        v.model = FieldClassifier.load(v.model_dir)
        out.append(v)
    return out
