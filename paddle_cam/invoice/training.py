"""Training the invoice-field classifier: its data, its optimiser, its trainer, and the choice of
its default explanation method.

Data (:func:`page_samples`): pages of the document families (``Data.families``,
:func:`paddle_cam.datasets.invoices.render_document`) rendered by seed and detected by PP-OCRv4.
A page's family follows from its seed (:func:`page_family`: the families in turn); pages of the
held-out family ``Data.holdout`` are skipped (:func:`page_plan`), never trained on. Every
ground-truth line, in the detector's own box where one matches it (``Data.detector_boxes``), else
in its polygon grown and jittered like a DB box (:func:`~.matching.detector_like_polygon`),
labelled with its schema field (label lines are ``other``; a line holding its label and its value,
``value_span``, is a value line of its field: the classifier labels the box, the page reader
splits it). Class imbalance: ``other`` lines that
look like a field (:func:`hard_negative`) are all kept, the remaining ``other`` lines are
subsampled (``Data.other_keep``), and the loss is weighted by inverse square-root class frequency
(:func:`class_weights`). Counterfactual windows (:mod:`.counterfactuals`) make the value and its
label the evidence, not the layout around them. Every page's jitter comes from its own seed and
the data order from ``Global.seed``: two runs give bit-identical weights.

Evaluation pages go through the same detector, boxes matched to ground-truth lines grown like DB
boxes (:func:`~.matching.match_detections`), and are read by the bundled PP-OCRv4 recogniser:
what the QA tool feeds the classifier and the page reader.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn.functional as F

from ..datasets.invoices import FAMILIES, check_family, render_document
from ..errors import InputError
from ..geometry import box_height, grown_polygon
from .classifier import MODEL_NAME, FieldClassifier
from .counterfactuals import paper_background, window_u8_mixed
from .label_context import TEXT_CHANNELS, label_regions
from .matching import detector_like_polygon, match_detections
from .pointing import PageCase, PageDetector, draw_cues, own_regions, pointing_game
from .schema import FIELD_CLASSES, GENERATOR_TO_FIELD, field_of_line
from .windows import WindowSpec, normalize_u8, page_planes, window_u8

Log = Callable[[str], None]

# the keys of the config's Data section that page_samples reads
DATA_KEYS = ("families", "holdout", "other_keep", "hard_other_keep", "field_copies", "shortcut", "context_drop",
             "evidence_drop", "context_swap", "detector_boxes", "label_planes", "label_drop")

# 'other' lines that look like a field: the field labels themselves (发票代码：, 金额 ...), the stamp's
# copy of the seller's name and tax id, the 机器编号 digits, and the price / quantity columns
# next to the amounts. Plain 'other' lines (addresses, item names, 密码区 ...) are easy and many.
_CONFUSABLE = {"stamp", "item_price", "item_qty", "other"}

_DETECT: Optional[PageDetector] = None


def _detector() -> PageDetector:
    """One detector per (worker) process, loaded on first use."""
    global _DETECT
    if _DETECT is None:
        _DETECT = PageDetector()
    return _DETECT


# ----------------------------------------------------------------------------- families and pages


def check_families(families, holdout: Optional[str] = None) -> Tuple[Tuple[str, ...], Optional[str]]:
    """``(families, holdout)`` of a config, checked: known family keys without repeats (a list or
    ``"a,b"``; empty or None = all), the held-out one among them, at least one left to train on.

    >>> check_families("taxi,train", "taxi")
    (('taxi', 'train'), 'taxi')
    """
    if isinstance(families, str):
        families = [f.strip() for f in families.split(",") if f.strip()]
    fams = tuple(check_family(str(f)) for f in (families or FAMILIES))
    if len(set(fams)) != len(fams):
        raise InputError(f"Data.families lists a family twice: {', '.join(fams)}")
    if holdout in (None, "", "null", "none"):
        holdout = None
    elif check_family(str(holdout)) not in fams:
        raise InputError(f"Data.holdout {holdout} is not one of Data.families ({', '.join(fams)})")
    if holdout is not None and len(fams) < 2:
        raise InputError(f"Data.holdout {holdout} leaves no family to train on; give Data.families more than one")
    return fams, holdout


def page_family(seed: int, families: Sequence[str]) -> str:
    """The family of page ``seed``: the families in turn (``families[seed % len(families)]``), so
    that a seed's family does not depend on which family is held out.

    >>> page_family(12, ("vat_special", "vat_normal", "taxi"))
    'vat_special'
    """
    return str(families[int(seed) % len(families)])


def page_plan(seed0: int, pages: int, families: Sequence[str], holdout: Optional[str] = None) -> List[Tuple[int, str]]:
    """``pages`` (seed, family) pairs from seed ``seed0`` on, families by :func:`page_family`,
    the pages of ``holdout`` skipped: the held-out family is never among them, and every other
    family's pages are the same whichever family is held out (leave-one-family-out shares them).

    >>> page_plan(10, 3, ("vat_special", "taxi", "train"), holdout="taxi")
    [(11, 'train'), (12, 'vat_special'), (14, 'train')]
    """
    fams = tuple(families)
    if not fams or (holdout is not None and set(fams) <= {holdout}):
        raise ValueError(f"no family left to draw pages from: families {fams}, holdout {holdout}")
    out: List[Tuple[int, str]] = []
    seed = int(seed0)
    while len(out) < int(pages):
        f = page_family(seed, fams)
        if f != holdout:
            out.append((seed, f))
        seed += 1
    return out


# ----------------------------------------------------------------------------- data


def hard_negative(line: dict) -> bool:
    """An ``other`` line that shares its look or its neighbourhood with a field value."""
    if line["role"] == "label":
        return line["field"] in GENERATOR_TO_FIELD
    return line["field"] in _CONFUSABLE and line["role"] in ("value", "other") and line["field"] != "title"


def window_spec(data: dict) -> WindowSpec:
    """The classifier input of a config's ``Data`` section: with the label planes
    (:mod:`.label_context`) when ``Data.label_planes`` is on."""
    return WindowSpec(text_channels=TEXT_CHANNELS if data.get("label_planes") else ())


def median_glyph_px(gt: dict) -> float:
    """Median glyph height of a page's ground-truth lines (px)."""
    return float(np.median([box_height(ln["polygon"]) for ln in gt["lines"]])) if gt["lines"] else 24.0


def page_samples(job: Tuple) -> dict:
    """Windows (uint8) and labels of one page; a pure function of (seed, kind, data config, family).

    ``job`` is ``(seed, "train" | "eval", {key: Data[key] for key in DATA_KEYS}[, family])``; the
    family defaults to :func:`page_family` of the seed over ``Data.families``, and a ``train`` page
    of ``Data.holdout`` is refused. Label planes come from the ground-truth texts on training pages
    (a box's labels left out with ``Data.label_drop``, as misread) and from the recognised texts on
    evaluation pages. Returns ``{"seed", "family", "kind", "x": (N, C, H, W) uint8,
    "y": (N,) int64}``; ``eval`` pages also carry ``polygons``, ``match``, ``texts`` (recognised),
    ``page`` and ``gt`` (the report explains and reads them again).
    """
    seed, kind, data = job[:3]
    family = job[3] if len(job) > 3 and job[3] is not None else page_family(seed, check_families(data["families"])[0])
    if kind == "train" and family == data.get("holdout"):
        raise ValueError(f"page {seed} is of the held-out family {family}: it must not be trained on")
    spec = window_spec(data)
    page, gt = render_document(seed, family)
    if data["shortcut"] and kind == "train":
        draw_cues(page, gt)
    planes = page_planes(page)
    xs, ys = [], []
    out = {"seed": seed, "family": family, "kind": kind}
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
        regs = label_regions([(ln["polygon"], ln.get("text", "")) for ln in gt["lines"]],
                             float(data.get("label_drop") or 0.0), np.random.RandomState(seed + 1)) \
            if spec.text_channels else None
        bg = page_planes(paper_background(page, median_glyph_px(gt))) if max(p_ctx, p_ink, p_swap) > 0 else None
        for j, ln in enumerate(gt["lines"]):
            f = field_of_line(ln)
            keep = float(data["hard_other_keep"]) if hard_negative(ln) else float(data["other_keep"])
            copies = int(data["field_copies"]) if f != "other" else int(rng.rand() < keep)
            for c in range(copies):
                use_det = c == 0 and j in det_box and (p_det >= 1 or rng.rand() < p_det)
                poly = det_box[j] if use_det else detector_like_polygon(ln["polygon"], rng)
                xs.append(window_u8(planes, poly, spec, regions=regs))
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
                        other = window_u8(planes, detector_like_polygon(gt["lines"][k]["polygon"]), spec, regions=regs)
                        xs.append(window_u8_mixed(planes, bg, poly, spec, mine, keep=True, fill=other, labels=regs))
                        ys.append(FIELD_CLASSES.index(f))
                    continue
                # Counterfactuals, so that the evidence is the value and its label and not the
                # layout around them: the line with its labels alone still is the field; a box
                # with no ink in the same layout is no field at all.
                own = own_regions(gt, j, 0.3 * box_height(ln["polygon"]))
                if rng.rand() < p_ctx:
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own, keep=True, labels=regs))
                    ys.append(FIELD_CLASSES.index(f))
                if rng.rand() < p_ink:
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own[:1], keep=False, labels=regs))
                    ys.append(FIELD_CLASSES.index("other"))
                if p_swap > 0 and rng.rand() < p_swap:
                    k = int(rng.randint(len(gt["lines"])))
                    other = window_u8(planes, detector_like_polygon(gt["lines"][k]["polygon"]), spec, regions=regs)
                    xs.append(window_u8_mixed(planes, bg, poly, spec, own, keep=True, fill=other, labels=regs))
                    ys.append(FIELD_CLASSES.index(f))
    else:
        polys, texts = _detector().read(page)
        regs = label_regions(list(zip(polys, texts))) if spec.text_channels else None
        match = match_detections(polys, gt["lines"])
        for poly, j in zip(polys, match):
            if j is not None:
                xs.append(window_u8(planes, poly, spec, regions=regs))
                ys.append(FIELD_CLASSES.index(field_of_line(gt["lines"][j])))
        out.update(polygons=polys, match=match, texts=texts, page=page, gt=gt)  # the report needs the page again
    h, w = spec.input_hw
    out["x"] = np.stack(xs) if xs else np.zeros((0, spec.channels, h, w), np.uint8)
    out["y"] = np.asarray(ys, np.int64)
    return out


def generate(jobs: Sequence[Tuple[int, str, dict]], workers: int, desc: str) -> List[dict]:
    """:func:`page_samples` over ``jobs`` in worker processes; results in job order (deterministic)."""
    from tqdm import tqdm

    if workers <= 1:
        return [page_samples(j) for j in tqdm(jobs, desc=desc, unit="page", file=sys.stderr)]
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


# ----------------------------------------------------------------------------- optimisation


def class_weights(y: np.ndarray, num_classes: int, power: float) -> Tuple[np.ndarray, np.ndarray]:
    """(counts, weights) of labels ``y``: weights ``(N / n_c) ** power``, scaled so that the mean
    weight per sample is 1 (the learning rate means the same for any class mix)."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    w = (counts.sum() / np.maximum(counts, 1)) ** power
    w = w / (w * counts).sum() * counts.sum()
    return counts, w


def warmup_cosine_adamw(parameters, lr: float, total_steps: int, warmup_steps: int, weight_decay: float):
    """(schedule, optimiser): AdamW, a linear warm-up from 0 over ``warmup_steps`` steps (none when
    0), then cosine decay to 0 over the remaining steps. Call ``schedule.step()`` after every step."""
    sched = paddle.optimizer.lr.CosineAnnealingDecay(lr, max(1, total_steps - warmup_steps))
    if warmup_steps > 0:
        sched = paddle.optimizer.lr.LinearWarmup(sched, warmup_steps, 0.0, lr)
    opt = paddle.optimizer.AdamW(sched, parameters=parameters, weight_decay=weight_decay)
    return sched, opt


def logits(model: paddle.nn.Layer, x: paddle.Tensor, training: bool) -> paddle.Tensor:
    """PPLCNetClassifier.forward without the softmax, with train-mode dropout
    (``downscale_in_infer``, so eval matches the classifier's ``* (1 - p)``)."""
    h = model.encoder(x)
    h = model.act_fn(model.last_convolution(model.avg_pool(h)))
    h = F.dropout(h, p=model.hidden_dropout_prob, training=training, mode="downscale_in_infer")
    return model.head(model.flatten(h))


def accuracy_on(model: paddle.nn.Layer, x_u8: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` (left in eval mode) on uint8 windows; NaN without samples."""
    if len(y) == 0:
        return float("nan")
    model.eval()
    correct = 0
    with paddle.no_grad():
        for i in range(0, len(y), batch_size):
            out = logits(model, paddle.to_tensor(normalize_u8(x_u8[i:i + batch_size])), False).numpy()
            correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(y)


def train(cfg: dict, x_u8: np.ndarray, y: np.ndarray, eval_x: np.ndarray, eval_y: np.ndarray, vdl=None,
          log: Optional[Log] = None) -> Tuple[paddle.nn.Layer, List[dict], dict]:
    """A fresh PP-LCNet field classifier trained on uint8 windows with the config's ``Global.seed``,
    ``Model`` and ``Train`` sections; returns (model in eval mode, per-epoch curves, data stats).

    ``vdl``: a :class:`paddle_cam.sinks.visualdl.VisualDLRun` for the curves, or None. ``log``
    receives one line per epoch. The held-out accuracy is logged for the curves only.
    """
    from tqdm import tqdm

    from ..models import pplcnet

    t = cfg["Train"]
    seed = int(cfg["Global"]["seed"])
    paddle.seed(seed)
    np.random.seed(seed)
    model = pplcnet.build(MODEL_NAME, float(cfg["Model"]["scale"]), len(FIELD_CLASSES), int(x_u8.shape[1]))
    counts, w = class_weights(y, len(FIELD_CLASSES), float(t["class_weight_power"]))
    weight = paddle.to_tensor(w.astype(np.float32))
    bs = int(t["batch_size"])
    steps_per_epoch = len(y) // bs  # drop the last partial batch: BN statistics of tiny batches are noise
    total = steps_per_epoch * int(t["epochs"])
    sched, opt = warmup_cosine_adamw(model.parameters(), float(t["lr"]), total, int(t["warmup_steps"]),
                                     float(t["weight_decay"]))
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
        if log is not None:
            log(f"epoch {epoch + 1}: train loss {run_loss:.4f} acc {run_acc:.4f} | held-out detector boxes acc "
                f"{ev:.4f}")
    model.eval()
    return model, curves, {"counts": counts.astype(int).tolist(), "weights": w.round(4).tolist(),
                           "steps": step, "samples": int(len(y))}


# ----------------------------------------------------------------------------- the explanation method


def cases_of(results: Sequence[dict]) -> List[PageCase]:
    """``PageCase`` (with recognised texts) of pages generated as ``eval`` by :func:`page_samples`."""
    return [PageCase(r["seed"], r["page"], r["gt"], r["polygons"], r["match"], texts=r.get("texts")) for r in results]


def select_method(model: paddle.nn.Layer, results: Sequence[dict], candidates: Sequence[str], grow_px: float,
                  spec: WindowSpec, log: Optional[Log] = None) -> Dict[str, object]:
    """Pointing game of each candidate method on the selection pages; the best one (ties: the
    first listed) becomes the model's default. Empty without pages or candidates.

    Returns ``{"method", "layer", "rates": {method: rate}}``.
    """
    if not results or not candidates:
        return {}
    clf, cases = FieldClassifier(model, FIELD_CLASSES, spec), cases_of(results)
    rates = {m: pointing_game(clf, cases, method=m, grow_px=grow_px)["rate"] or 0.0 for m in candidates}
    best = max(candidates, key=lambda m: rates[m])  # max() keeps the first of equal rates
    if log is not None:
        log("explanation method on selection pages: " + ", ".join(f"{m} {100 * r:.1f}%" for m, r in rates.items())
            + f" -> {best}")
    return {"method": best, "layer": clf.default_layer, "rates": {m: round(r, 4) for m, r in rates.items()}}
