"""Before/after comparisons of model variants: settings, pages, variants, latency and the report.

A comparison explains every variant (``base``, ``l1_0.3``, ``l1_0.3_ft`` ...) on the SAME
targets, chosen on the base model, so maps are compared on one raw scale. The detector route is
:func:`paddle_cam.slim.det_compare.compare_det`, the field classifier route
:func:`paddle_cam.slim.field_compare.compare_field`; both take a :class:`CompareSettings` and
return a :class:`Comparison`, which :func:`write_report` turns into ``compare.json`` and
``compare.png``.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError

MODELS = ("det", "field")


@dataclass
class CompareSettings:
    """What to build and how to compare it (the ``Prune``/``Finetune``/``Compare`` sections of
    ``configs/slim/prune_compare.yml``; values there are the defaults)."""

    pruner: str
    ratios: List[float]
    compensate: bool                       # fold removed channels' means into the next biases
    finetune_steps: int
    finetune_pages: int
    limit_side_len: int
    topk: float
    repeats: int
    finetune_batch: Optional[int] = None   # None: the route's own batch (det 2 crops, field 64 windows)
    finetune_lr: Optional[float] = None    # None: the route's own learning rate
    model_dir: Optional[str] = None        # None: the bundled detector / the committed field classifier
    before: Optional[str] = None           # compare two folders instead of pruning
    after: Optional[str] = None
    method: Optional[str] = None           # None: gradcam (det), the classifier's default (field)
    layers: Optional[List[str]] = None     # None: neck (det), the classifier's default layer (field)
    vdl_dir: Optional[str] = None          # one VisualDL run per variant when set


@dataclass
class Page:
    """One evaluated image and its ground truth (``{"lines": [...]}``, or None)."""

    name: str
    path: str
    image: np.ndarray
    gt: Optional[dict]


@dataclass
class Variant:
    """One model of a comparison and everything measured on it."""

    name: str
    model: object                          # Detector (det) or the field classifier (field)
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


@dataclass
class Comparison:
    """The measured variants of one run, and what the report needs to describe it."""

    kind: str                              # det or field
    variants: List[Variant]
    method: str                            # the method actually used
    timings: Dict[str, float] = field(default_factory=dict)
    flops_shape: Optional[List[int]] = None


# ----------------------------------------------------------------------------- pages

def page_files(path: str) -> List[str]:
    """The images of ``path`` (one image, or a folder's own images); for a folder with no image
    directly in it (``demo_docs``), the labelled images below it
    (:func:`paddle_cam.datasets.ground_truth.find_labelled_pages`)."""
    from ..datasets.ground_truth import find_labelled_pages
    from ..io import IMAGE_EXTS, list_images

    if os.path.isdir(path) and not any(os.path.splitext(f)[1].lower() in IMAGE_EXTS and
                                       os.path.isfile(os.path.join(path, f)) for f in os.listdir(path)):
        return [image for image, _ in find_labelled_pages(path)]
    return list_images(path)


def load_pages(path: str) -> List[Page]:
    """Every image of :func:`page_files` with its ground truth (None without one): detection
    quality needs it, drift does not."""
    from ..datasets.ground_truth import load_ground_truth
    from ..io import read_image
    from ..sinks.visualdl import safe_tag

    return [Page(safe_tag(os.path.splitext(os.path.basename(f))[0]), f, read_image(f), load_ground_truth(f))
            for f in page_files(path)]


# ----------------------------------------------------------------------------- models

def after_name(path: str) -> str:
    """Variant name of an ``--after`` folder: its folder name (``after`` when that says nothing)."""
    from ..sinks.visualdl import safe_tag

    name = safe_tag(os.path.basename(os.path.normpath(path)))
    return "after" if name in ("base", "") else name


def model_kind(path: str, flag: str) -> Tuple[str, object]:
    """``("det", Detector)`` or ``("cls", classifier)`` for a model folder, else a one-line error."""
    from ..models.cls import load_classifier
    from ..models.det import load_detector

    if not os.path.exists(path):
        raise InputError(f"{flag} {path} does not exist; pass an inference folder")
    try:
        return "det", load_detector(path)
    except Exception as e:  # a folder that breaks the loader is still the user's folder that does not load
        det_err = e
    try:
        return "cls", load_classifier(path)
    except Exception:  # not a classifier either: the detector's reason is the likelier one to help
        raise InputError(f"{flag} {path} does not load as a detector or classifier: {det_err}") from None


def pair_kind(before: str, after: str) -> str:
    """``det`` or ``field`` for two model folders of one kind; a one-line error otherwise."""
    kb, _ = model_kind(before, "--before")
    ka, _ = model_kind(after, "--after")
    if kb != ka:
        what = {"det": "a text detector", "cls": "a classifier"}
        raise InputError(f"--before is {what[kb]} but --after is {what[ka]}: compare two models of the same kind")
    return "det" if kb == "det" else "field"


def measure_latency(variants: Sequence[Variant], batch: np.ndarray, repeats: int,
                    forward_of: Callable[[Variant], Callable], static_dir_of: Callable[[Variant], Optional[str]]) -> None:
    """Median CPU latency per variant, in one process on one input; runs are interleaved
    (round r times every variant once) so load from anything else on the machine is shared."""
    from ..models.static import StaticPredictor

    preds = {}
    for v in variants:
        d = static_dir_of(v)
        if d:
            preds[v.name] = StaticPredictor(d, ir_optim=True)
    dyn: Dict[str, List[float]] = {v.name: [] for v in variants}
    sta: Dict[str, List[float]] = {v.name: [] for v in variants}
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


def saved_dir(v: Variant) -> Optional[str]:
    """The variant's inference folder when it has one on disk (Paddle Inference timing, parity)."""
    return v.model_dir if v.model_dir and os.path.isdir(v.model_dir) else None


# ----------------------------------------------------------------------------- report

def build_report(settings: CompareSettings, result: Comparison, input_path: str, seconds: float) -> dict:
    """``compare.json``'s content without the plot path (each variant's ``metrics['record']``
    is its entry)."""
    kind = result.kind
    recs = [v.metrics["record"] for v in result.variants]
    return {
        "model": kind, "input": os.path.abspath(input_path), "method": result.method,
        "layers": ",".join(settings.layers) if settings.layers else ("neck" if kind == "det" else "auto"),
        "topk": settings.topk,
        "quality_protocol": ("hmean: ICDAR 2015 (one-to-one, IoU > 0.5, as PaddleOCR's DetMetric); hmean_deteval: "
                             "ICDAR 2013 DetEval (area recall 0.8 / precision 0.4, splits and merges counted); "
                             "see paddle_cam.slim.metrics") if kind == "det"
        else "field accuracy on ground-truth lines (grown to detector boxes)",
        "limit_side_len": settings.limit_side_len, "flops_input": result.flops_shape,
        "latency": {"repeats": settings.repeats, "note": "median ms, Paddle Inference (ir_optim on, 1 thread) and "
                    "dygraph forward, interleaved across variants in one process, same input"},
        "before": os.path.abspath(settings.before) if settings.before else None,
        "after": os.path.abspath(settings.after) if settings.after else None,
        "timings_s": dict(result.timings, total=round(seconds, 1)),
        "variants": recs,
    }


def write_report(settings: CompareSettings, result: Comparison, input_path: str, out_root: str,
                 seconds: float) -> dict:
    """Write ``compare.png`` then ``compare.json`` (last) under ``out_root``; returns the report."""
    from ..io import save_json
    from .plots import plot_comparison

    report = build_report(settings, result, input_path, seconds)
    report["plot"] = plot_comparison(report["variants"], os.path.join(out_root, "compare.png"), result.kind)
    save_json(os.path.join(out_root, "compare.json"), report)
    return report

