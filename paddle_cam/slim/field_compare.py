"""Pruning comparison for the invoice field classifier (``--model field``).

Inputs are the ground-truth lines of every page, grown to the boxes a DB detector gives for them
(``detector_like_polygon``: the classifier is trained and deployed on detector boxes); quality
is accuracy against each line's field (lines whose field is not one of the classifier's labels
are skipped); drift compares each input's map for the *base* model's predicted class on every
variant, over the whole input.
"""
from __future__ import annotations

import io
import os
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np
import paddle

from ..errors import InputError
from .compare import Comparison, CompareSettings, Variant, after_name, measure_latency, saved_dir
from .metrics import mean_or_none, spearman, ssim, topk_iou

CAM_CHUNK = 16  # crops per CAM call: bounds memory, one forward each


def class_ids(scores) -> List[int]:
    """Class ids of ``FieldClassifier.predict``'s (N, classes) scores."""
    return [int(i) for i in np.asarray(scores).argmax(axis=1)]


def _load(path: Optional[str], flag: str):
    """``FieldClassifier.load(path)`` (the committed one for None); a one-line error otherwise."""
    from ..errors import PaddleCamError
    from ..invoice.classifier import FieldClassifier

    try:
        return FieldClassifier.load(path) if path else FieldClassifier.load()
    except PaddleCamError as e:
        raise InputError(f"{flag}: {e}" if flag else str(e)) from None
    except Exception as e:
        where = f"{flag} {path}" if path else "the default field classifier"
        raise InputError(f"{where} does not load as a field classifier ({type(e).__name__}: {e})") from None


def compare_field(pages: Sequence, settings: CompareSettings, out_root: str) -> Comparison:
    """Build the field classifier variants (prune + export, optionally fine-tune; or load
    ``settings.before``/``after``), measure them and return them (records in
    ``v.metrics['record']``)."""
    from ..invoice.classifier import FieldClassifier
    from ..invoice.matching import detector_like_polygon
    from ..invoice.schema import field_of_line
    from ..io import atomic_write_bytes, save_json, save_png
    from ..methods import make_method
    from ..models.export import save_inference
    from ..sinks.visualdl import VisualDLRun
    from ..targets import ClassifierOutputTarget
    from .plots import crop_mosaic
    from .prune import count_flops, count_params, prune_model

    if not any(p.gt for p in pages):
        raise InputError("--model field needs ground-truth JSON (lines with polygon and field) next to the images")
    source = settings.before or settings.model_dir
    base_fc = _load(source, "--before" if settings.before else ("--model_dir" if source else ""))
    labels = list(base_fc.labels)
    method = settings.method or base_fc.default_method
    crops = []  # (page, batch, gt class ids or None per input)
    for pg in pages:
        if not pg.gt or not pg.gt.get("lines"):
            continue
        lines = pg.gt["lines"]
        # the ground-truth texts stand for the reading (label planes of a model that has them)
        batch = np.asarray(base_fc.prepare(pg.image, [detector_like_polygon(ln["polygon"]) for ln in lines],
                                           [(ln["polygon"], ln.get("text", "")) for ln in lines]), np.float32)
        gt = [labels.index(c) if (c := field_of_line(ln)) in labels else None for ln in lines]
        crops.append((pg, batch, gt))
    shape = [1] + list(crops[0][1].shape[1:])
    variants = [Variant("base", base_fc, os.path.abspath(source) if source else base_fc.source)]
    if settings.before:
        after = _load(settings.after, "--after")
        variants.append(Variant(after_name(settings.after), after, os.path.abspath(settings.after)))
    else:
        calib = None
        if settings.compensate:
            from ..datasets.invoices import render_invoice
            from .prune import CALIB_SEED0

            page, gt = render_invoice(CALIB_SEED0)  # generated, never one of the evaluated pages
            calib = [np.asarray(base_fc.prepare(page, [ln["polygon"] for ln in gt["lines"]],
                                                [(ln["polygon"], ln.get("text", "")) for ln in gt["lines"]]), np.float32)]
        for ratio in settings.ratios:
            fc = _load(source, "")
            res = prune_model(fc.model, shape, settings.pruner, ratio, calibration=calib)
            v = Variant(f"{settings.pruner}_{ratio:g}", fc, None, settings.pruner, ratio,
                        prune={"layers_pruned": len(res.layers), "bias_compensation": calib is not None,
                               "compensated": len(res.compensated), "params_before": res.params_before,
                               "params_after": res.params_after, "flops_before": res.flops_before,
                               "flops_after": res.flops_after})
            slim = {"Slim": {"base_model": variants[0].model_dir, "pruner": settings.pruner, "ratio": ratio}}
            v.model_dir = save_inference(fc.model, os.path.join(out_root, "models", v.name), [None] + shape[1:],
                                         fc.inference_yml(slim))
            v.model = FieldClassifier.load(v.model_dir)  # evaluate what was saved
            variants.append(v)
        if settings.finetune_steps:
            variants += _finetune_field(settings, [v for v in variants if v.ratio is not None],
                                        out_root, shape)
    b0 = crops[0][1]
    for v in variants:
        v.model.model.eval()
        v.params = count_params(v.model.model)
        v.flops = count_flops(v.model.model, shape)
        if saved_dir(v):
            from ..models.static import StaticPredictor

            with paddle.no_grad():
                dyn = v.model.model(paddle.to_tensor(b0)).numpy()
            v.parity = float(np.abs(dyn - StaticPredictor(v.model_dir)(b0)).max())

    def fwd(v):
        def run(b):
            with paddle.no_grad():
                return v.model.model(paddle.to_tensor(b))
        return run

    measure_latency(variants, b0, settings.repeats, fwd, saved_dir)
    layers = list(settings.layers) if settings.layers else [base_fc.default_layer]
    base_maps, base_pred = {}, {}
    for v in variants:
        vdl = VisualDLRun(settings.vdl_dir, v.name) if settings.vdl_dir else None
        try:
            if vdl is not None:  # training curves, written into the variant's own run
                for step, r in enumerate(v.train_log or []):
                    for k in ("loss", "acc", "lr"):
                        vdl.scalar(f"train/{k}", r[k], step=step)
            cam = make_method(method, v.model.model, layers)
            correct = total = fields_correct = fields_total = 0
            other = labels.index("other") if "other" in labels else None
            rows_all = []
            for pg, batch, gt in crops:
                pred = class_ids(v.model.predict(batch))
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
                                 "topk_iou": topk_iou(a, g, settings.topk), "pred": pred[i], "gt": gt[i]})
                rows_all += rows
                vdir = os.path.join(out_root, v.name, pg.name)
                buf = io.BytesIO()
                np.savez_compressed(buf, **{f"crop_{i}": g for i, g in enumerate(grids)})
                atomic_write_bytes(os.path.join(vdir, "raw.npz"), buf.getvalue())
                save_json(os.path.join(vdir, "metrics.json"), {"variant": v.name, "layers": layers, "crops": rows})
                if grids:
                    mosaic = crop_mosaic([base_maps[(pg.name, i)] for i in range(len(grids[:12]))], grids[:12])
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
    return Comparison("field", variants, method, flops_shape=None)


def field_training_windows(pages: int, label_planes: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """(uint8 windows, labels) of the first ``pages`` training invoices, made exactly as
    ``tools/train_field_cls.py`` makes them with its defaults (``configs/field/train_field_cls.yml``:
    detector boxes, jitter, counterfactual windows), in the input of the model being fine-tuned
    (``label_planes``: with the read labels' planes): recovery fine-tuning uses the distribution
    the model was trained on."""
    from ..config import load_config
    from ..invoice.training import DATA_KEYS, page_samples

    cfg = load_config("field/train_field_cls")["Data"]
    data = {k: cfg[k] for k in DATA_KEYS}
    data["label_planes"] = bool(label_planes)
    res = [page_samples((cfg["train_seed"] + i, "train", data)) for i in range(pages)]
    return np.concatenate([r["x"] for r in res]), np.concatenate([r["y"] for r in res])


def _finetune_field(settings: CompareSettings, pruned: List[Variant], out_root: str,
                    shape: List[int]) -> List[Variant]:
    """``<name>_ft`` variants: each pruned classifier fine-tuned for ``settings.finetune_steps`` steps."""
    from tqdm import tqdm

    from ..invoice.classifier import FieldClassifier
    from ..invoice.windows import normalize_u8
    from .finetune import ClassifierFinetuneConfig, finetune_classifier
    from ..models.export import save_inference

    cfg = ClassifierFinetuneConfig(steps=settings.finetune_steps, pages=settings.finetune_pages)
    if settings.finetune_batch:
        cfg.batch_size = settings.finetune_batch
    if settings.finetune_lr:
        cfg.lr = settings.finetune_lr
    reads_labels = bool(pruned) and FieldClassifier.load(pruned[0].model_dir).reads_labels
    with tqdm(total=cfg.pages, desc="render training invoices", unit="page", disable=None, file=sys.stderr) as bar:
        x_u8, y = field_training_windows(cfg.pages, reads_labels)
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
        v.model_dir = save_inference(fc.model, os.path.join(out_root, "models", v.name), [None] + shape[1:],
                                     fc.inference_yml(slim))
        v.model = FieldClassifier.load(v.model_dir)
        out.append(v)
    return out
