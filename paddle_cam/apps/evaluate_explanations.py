"""Evaluate explanation methods on invoices: localisation, faithfulness and a sanity check.

    python tools/evaluate_explanations.py --input demo_docs --output output/eval
    python tools/evaluate_explanations.py --input demo_docs --output output/eval --quick
    python tools/evaluate_explanations.py --input demo_docs --methods gradcam,occlusion --context page

For the PP-OCRv4 detector (``det``) and the invoice field classifier (``field``), each method
and a ``random`` baseline map (uniform noise on the stride-4 grid of a neck CAM for ``det``,
stride 8 = the field classifier's CAM layer for ``field``) is scored on a seeded sample of lines:

``det``: the invoices under ``--input``; detected boxes matching a ground-truth line at IoU >= 0.5.
``field``: the committed classifier (``FieldClassifier.load()``, demo_docs/field_cls) on *held-out*
generated invoices (seeds ``--field_seed`` ..., never trained on), detected and matched exactly
as ``paddle_cam.invoice.pointing`` does (``make_case``); the lines are matched boxes whose true
field is not ``other``; the predicted class is explained on the classifier's own input window.

- energy_in_box:  share of the positive map inside the line's region. det: the matched
                  ground-truth line polygon grown by half its height (energy-based pointing
                  game). field: the line and the label lines of its field
                  (``pointing.own_regions``, grown by ``--grow_px`` page pixels), on the page.
- pointing_game:  the map's maximum lies in that region. det: inside the box's own ground-truth
                  line grown by half its height; field: ``pointing.where_is`` is ``own_line`` or
                  ``own_label`` (the rule of ``pointing.pointing_game``, which records it too, as
                  ``peak_at``).
- deletion_auc / insertion_auc: deletion / insertion curves (``--n_steps``, pixels replaced by
                  paper, never black) scored by the model's own output: the mean shrink probability
                  inside the detected box (``--score box_similarity``: D-RISE IoU x score), or the
                  predicted class's probability (paper fill of luminance and chroma; the line
                  marker channel is the question, not evidence, and is kept); lower / higher is
                  better. det's ``*_line`` variants rank and replace only pixels of the line's
                  neighbourhood (box + 1.5 x its height), where a small line's evidence is: there
                  the methods differ, while on the whole window any map that ranks the line first
                  removes it within the first step;
- randomization_spearman: cascading model randomisation (Adebayo et al. 2018): layers
                  re-initialised cumulatively from the output down (det: head; neck; the 1x1
                  convs; backbone stages 5..1; stem. field: head; last conv; blocks 5..1; stem),
                  Spearman between each step's map and the original, averaged over the steps
                  (low = the map depends on the learned weights). Computed on the *claim region*
                  (pixels where either map is non-zero; ``paddle_cam.metrics.sanity``): a
                  gradient-supported box CAM is zero outside the box's receptive field, which is
                  fixed by the architecture, and those tied zeros alone keep the whole-map
                  correlation high whatever the weights are. The whole-map number is kept as
                  ``randomization_spearman_whole``; the per-step curves (claim and whole Spearman,
                  SSIM, non-zero IoU, tensors re-drawn, share of weights randomised) are in
                  each record's ``randomization_curve``. First ``--sanity_boxes`` lines per
                  invoice; occlusion and RISE only on request (hundreds of forwards per step).
                  The random map ignores the model, so it scores 1 by design.

``--context window`` (default) runs the detector on the page input cropped to each line plus
``--margin`` input pixels: a forward costs about a tenth of a full page, which is what makes
perturbation metrics and black-box methods affordable on 2 CPU cores. The DB detector is fully
convolutional, so the window is a valid input; the RSE neck's squeeze-excitation pooling sees the
whole input, so box scores on a window differ a little from the page's (``window_score_shift``
in metrics.json records by how much). ``--context page`` evaluates on full pages (slow).

Writes OUT/metrics.json (config, per-line records with curves, per-method means, runtime) and
prints a table. Exit codes: 0 done, 2 bad input, 1 bug.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..cli import quiet_paddle, run_main

quiet_paddle()

# the keys every task reports per method (the headline table), then det-only and detail keys
REQUIRED = ("energy_in_box", "pointing_game", "deletion_auc", "insertion_auc", "randomization_spearman")
METRICS = REQUIRED + ("randomization_spearman_whole", "deletion_auc_line", "insertion_auc_line")
DEFAULT_METHODS = "gradcam,layercam,integrated_gradients,occlusion,rise"
QUICK = {"methods": "gradcam,layercam", "pages": 2, "boxes": 2, "n_steps": 6, "sanity_boxes": 1,
         "ig_steps": 8, "rise_masks": 64, "field_pages": 2, "field_boxes": 3}
FULL = {"methods": DEFAULT_METHODS, "pages": 0, "boxes": 3, "n_steps": 8, "sanity_boxes": 2,
        "ig_steps": 16, "rise_masks": 128, "field_pages": 4, "field_boxes": 6}
# output side first: head, neck, the 1x1 convs feeding the neck, backbone stages 5..1, stem
DET_CASCADE = (["head", "model.neck", "model.layer"]
               + [f"model.backbone.encoder.blocks.{i}" for i in range(4, -1, -1)]
               + ["model.backbone.encoder.convolution"])
FIELD_SEED = 90000  # held-out invoices of the field task (training uses lower seeds)
EXTRA = {"integratedgradients": "integrated_gradients", "ig": "integrated_gradients", "smoothgrad": "smoothgrad",
         "occlusion": "occlusion", "rise": "rise", "random": "random"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="folder with invoices/*.jpg + .json (e.g. demo_docs), or such a folder")
    p.add_argument("--output", default="output/eval", help="folder for metrics.json")
    p.add_argument("--methods", default=None, help=f"comma-separated (default {DEFAULT_METHODS}); "
                   "any CAM, integrated_gradients, smoothgrad, occlusion, rise; 'random' is always added")
    p.add_argument("--tasks", default="det,field", help="det and/or field")
    p.add_argument("--quick", action="store_true", help="2 invoices, 2 lines each, Grad-CAM + LayerCAM, 6 steps")
    p.add_argument("--pages", type=int, default=None, help="at most this many invoices (0 = all)")
    p.add_argument("--boxes", type=int, default=None, help="lines sampled per invoice (seeded)")
    p.add_argument("--sanity_boxes", type=int, default=None, help="lines per invoice for the randomisation check")
    p.add_argument("--sanity_methods", default=None,
                   help="methods given the randomisation check (default: all but the black-box occlusion and "
                        "rise, whose hundreds of forwards per cascade step would dominate the run)")
    p.add_argument("--n_steps", type=int, default=None, help="steps of the deletion/insertion curves")
    p.add_argument("--field_pages", type=int, default=None,
                   help="held-out generated invoices for the field task (default 4, --quick 2)")
    p.add_argument("--field_boxes", type=int, default=None, help="field lines sampled per invoice (default 6)")
    p.add_argument("--field_seed", type=int, default=FIELD_SEED, help="first seed of the held-out invoices")
    p.add_argument("--grow_px", type=float, default=4.0,
                   help="field: own line and labels grown by this many page pixels (pointing.own_regions)")
    p.add_argument("--context", choices=("window", "page"), default="window",
                   help="window: detector on each line's neighbourhood (fast); page: full pages")
    p.add_argument("--margin", type=int, default=128, help="window margin around a line, in model-input pixels")
    p.add_argument("--baseline", choices=("paper", "white", "blur", "road"), default="paper",
                   help="what removed pixels become (never black)")
    p.add_argument("--score", choices=("mean_prob", "box_similarity"), default="mean_prob",
                   help="detector score for the curves: mean shrink probability in the box, or D-RISE IoU x score")
    p.add_argument("--layers", default="neck", help="CAM layers of the detector (names or aliases)")
    p.add_argument("--gradient_support", choices=("on", "off"), default="on",
                   help="CAMs zeroed where the target's gradient is exactly zero (explain_ocr's default: on)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def settings(args) -> dict:
    """Effective run settings: --quick/full defaults overridden by explicit flags."""
    base = dict(QUICK if args.quick else FULL)
    for key in ("methods", "pages", "boxes", "n_steps", "sanity_boxes", "field_pages", "field_boxes"):
        v = getattr(args, key)
        if v is not None:
            base[key] = v
    from ..errors import InputError

    names = []
    for m in str(base["methods"]).split(","):
        m = m.strip()
        if m:
            names.append(canonical_method(m))
    if "random" not in names:
        names.append("random")
    base["methods"] = list(dict.fromkeys(names))
    if args.sanity_methods:
        base["sanity_methods"] = [canonical_method(m.strip()) for m in args.sanity_methods.split(",") if m.strip()]
    else:
        base["sanity_methods"] = [m for m in base["methods"] if m not in ("occlusion", "rise")]
    if base["n_steps"] < 2 or base["boxes"] < 1 or base["field_boxes"] < 1:
        raise InputError("--n_steps must be >= 2, --boxes and --field_boxes >= 1")
    base.update(gradient_support=args.gradient_support == "on", context=args.context, margin=int(args.margin), baseline=args.baseline, score=args.score,
                layers=[s.strip() for s in args.layers.split(",") if s.strip()], seed=int(args.seed),
                field_seed=int(args.field_seed), grow_px=float(args.grow_px),
                tasks=[t.strip() for t in args.tasks.split(",") if t.strip()])
    return base


def canonical_method(name: str) -> str:
    """CLI spelling -> method key (CAM names as ``get_method`` takes them, or an EXTRA one)."""
    key = name.lower().replace("-", "").replace("_", "").replace("++", "pp")
    if key in EXTRA:
        return EXTRA[key]
    from ..methods import get_method

    return get_method(name).name


def find_invoices(root: str) -> List[Tuple[str, str]]:
    """(image, ground-truth json) pairs under ``root/invoices`` or ``root`` itself."""
    from ..errors import InputError

    if os.path.isfile(root) and root.lower().endswith(".jpg"):
        pairs = [root]
    else:
        folder = os.path.join(root, "invoices") if os.path.isdir(os.path.join(root, "invoices")) else root
        if not os.path.isdir(folder):
            raise InputError(f"--input {root}: not a folder; pass e.g. demo_docs (with invoices/*.jpg + .json)")
        pairs = sorted(glob.glob(os.path.join(folder, "*.jpg")) + glob.glob(os.path.join(folder, "*.png")))
    out = [(p, os.path.splitext(p)[0] + ".json") for p in pairs if os.path.isfile(os.path.splitext(p)[0] + ".json")]
    if not out:
        raise InputError(f"--input {root}: no invoice image with a ground-truth .json next to it; "
                         "make some with tools/make_demo_docs.py --out DIR/invoices")
    return out


# --- geometry ------------------------------------------------------------------------------

def match_lines(boxes: Sequence[dict], gt_lines: Sequence[dict], min_iou: float = 0.5) -> List[Tuple[int, dict, float]]:
    """(detected box index, its ground-truth line, IoU) for boxes matching a line at >= min_iou."""
    from ..ocr.regions import polygon_iou

    out = []
    for i, b in enumerate(boxes):
        best, line = 0.0, None
        for g in gt_lines:
            v = polygon_iou(b["polygon"], g["polygon"])
            if v > best:
                best, line = v, g
        if line is not None and best >= min_iou:
            out.append((i, line, best))
    return out


def window_of(polygon: np.ndarray, hw: Tuple[int, int], margin: int, multiple: int = 32) -> Tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the polygon's bounding box plus ``margin``, grown to multiples of 32
    (the detector's stride) and shifted back inside the input."""
    h, w = hw
    lo, hi = np.floor(polygon.min(axis=0)) - margin, np.ceil(polygon.max(axis=0)) + margin
    out = []
    for a, b, size in ((lo[0], hi[0], w), (lo[1], hi[1], h)):
        length = min(size, int(np.ceil((b - a) / multiple) * multiple))
        start = int(min(max(0, (a + b - length) / 2), size - length))
        out.append((start, start + length))
    (x0, x1), (y0, y1) = out
    return x0, y0, x1, y1


def neighbourhood(polygon: np.ndarray, hw: Tuple[int, int], grow: float = 1.5) -> Tuple[int, int, int, int]:
    """The line's bounding box grown by ``grow`` x its height: where black-box masks go."""
    from ..ocr.regions import box_height

    m = grow * box_height(polygon) + 2
    lo, hi = polygon.min(axis=0) - m, polygon.max(axis=0) + m
    return (int(max(0, np.floor(lo[0]))), int(max(0, np.floor(lo[1]))),
            int(min(hw[1], np.ceil(hi[0]))), int(min(hw[0], np.ceil(hi[1]))))


def random_map(hw: Tuple[int, int], rng: np.random.RandomState, stride: int = 4) -> np.ndarray:
    """Uniform noise on a stride-4 grid, bilinearly upsampled: as smooth as a neck-level CAM,
    so the baseline differs from the methods in *where* it puts mass, not in resolution."""
    import cv2

    h, w = hw
    g = rng.rand(max(1, h // stride), max(1, w // stride)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)


# --- methods -------------------------------------------------------------------------------

def make_explainer(name: str, model, layers, cfg: dict, region=None, predict=None):
    """``explain(x (1, C, H, W), targets) -> [CAMResult]`` for one method (None for ``random``).

    ``predict`` (a numpy predictor, e.g. a StaticPredictor) replaces the model for black-box methods.
    """
    if name == "random":
        return None
    # ROAD is a way of removing pixels in the curves; the methods' own baseline is paper then
    fill = cfg.get("method_baseline", cfg["baseline_fill"])
    if isinstance(fill, str) and fill == "road":
        fill = "paper"
    if name == "integrated_gradients":
        from ..methods.integrated_gradients import IntegratedGradients
        m = IntegratedGradients(model, n_steps=cfg["ig_steps"], internal_batch_size=8, baseline=fill)
    elif name == "smoothgrad":
        from ..methods.smooth_grad import SmoothGrad
        m = SmoothGrad(model, n_samples=cfg["ig_steps"], internal_batch_size=8, baseline=fill)
    elif name == "occlusion":
        from ..methods.occlusion import Occlusion
        size = cfg.get("occlusion_window", 12)
        m = Occlusion(predict or model, window=size, stride=size, baseline=fill, batch_size=8, region=region)
    elif name == "rise":
        from ..methods.rise import RISE
        m = RISE(predict or model, n_masks=cfg["rise_masks"], grid=cfg.get("rise_grid", (4, 16)), baseline=fill,
                 batch_size=8, region=region, seed=cfg["seed"])
    else:
        from ..methods import get_method
        m = get_method(name)(model, layers, gradient_support=cfg.get("gradient_support", True))
    return m.explain_targets


def sanity_check(model, explain, raw: np.ndarray, x: np.ndarray, target, cascade: Sequence[str], seed: int) -> dict:
    """Cascading randomisation summary of one line's map; the random map (``explain`` None)
    does not depend on the model, so it is returned unchanged at every step."""
    from ..metrics.sanity import cascading_randomization

    if explain is None:
        fn = lambda: raw  # noqa: E731
    else:
        fn = lambda: np.stack([r.raw[0] for r in explain(x, [target])])  # noqa: E731
    return cascading_randomization(model, fn, cascade, seed=seed).summary()


def completeness_gap(res) -> Optional[float]:
    """IG's sum(attr) - (f(x) - f(b)) relative to f(x) - f(b); None for other methods."""
    delta = getattr(res, "delta", None)
    if delta is None:
        return None
    attr_sum = float(np.asarray(res.attributions).sum())
    gap = attr_sum - float(delta[0])  # = f(x) - f(b)
    return float(delta[0] / gap) if gap != 0 else None


def randomization_record(s: dict) -> dict:
    """Record fields of a cascade. The headline ``randomization_spearman`` is the mean over the
    steps of the Spearman correlation on the claim region (pixels where either map is non-zero,
    see ``paddle_cam.metrics.sanity``); ``*_whole`` is the same over the whole map, ``*_final``
    after the last step. Every step weighs the same; steps whose map became constant (Spearman
    undefined) are left out of the means and counted in ``randomization_degenerate_steps``."""
    return {"randomization_spearman": s["mean_claim_spearman"],
            "randomization_spearman_final": s["final_claim_spearman"],
            "randomization_spearman_whole": s["mean_spearman"],
            "randomization_spearman_whole_final": s["final_spearman"],
            "randomization_ssim": s["mean_claim_ssim"], "randomization_ssim_whole": s["mean_ssim"],
            "randomization_degenerate_steps": int(sum(s["degenerate"])),
            "randomization_curve": {"layers": s["layers"], "spearman": s["claim_spearman"],
                                    "spearman_whole": s["spearman"], "ssim": s["claim_ssim"],
                                    "ssim_whole": s["ssim"], "nonzero_iou": s["nonzero_iou"],
                                    "degenerate": s["degenerate"], "changed_tensors": s["changed_tensors"],
                                    "randomized_fraction": s["randomized_fraction"]}}


def score_method(method: str, model, layers, cfg: dict, x: np.ndarray, target, score_fn, fill, ends,
                 rng: np.random.RandomState, cascade: Sequence[str], sanity: bool, region=None,
                 random_stride: int = 4) -> Tuple[np.ndarray, dict]:
    """One method on one line: its (H, W) map and the record fields every task shares
    (deletion/insertion AUCs and curves, timing, IG's completeness gap, the randomisation
    check when ``sanity`` and the method is among ``cfg['sanity_methods']``)."""
    from ..metrics.faithfulness import deletion_insertion

    t0 = time.time()
    explain = make_explainer(method, model, layers, cfg, region)
    gap = None
    if explain is None:
        raw = random_map(x.shape[2:], np.random.RandomState(rng.randint(1 << 30)), random_stride)
    else:
        res = explain(x, [target])[0]
        raw, gap = res.raw[0], completeness_gap(res)
    t_explain = time.time() - t0
    curves = deletion_insertion(x[0], raw, score_fn, fill, cfg["n_steps"], batch_size=8, seed=cfg["seed"],
                                endpoint_scores=ends)
    rec = {"method": method, "score": ends[0], "blank_score": ends[1],
           "deletion_auc": curves["deletion"].auc, "insertion_auc": curves["insertion"].auc,
           "deletion_curve": [round(float(v), 5) for v in curves["deletion"].scores],
           "insertion_curve": [round(float(v), 5) for v in curves["insertion"].scores],
           "randomization_spearman": None, "explain_seconds": round(t_explain, 3)}
    if gap is not None:
        rec["completeness_gap"] = gap
    if sanity and method in cfg["sanity_methods"]:
        rec.update(randomization_record(sanity_check(model, explain, raw, x, target, cascade, cfg["seed"])))
    rec["seconds"] = round(time.time() - t0, 3)
    return raw, rec


def rise_grid(region, cell: int) -> Tuple[int, int]:
    """Grid of RISE cells about ``cell`` pixels square over a region."""
    x0, y0, x1, y1 = region
    return max(2, int(round((y1 - y0) / cell))), max(2, int(round((x1 - x0) / cell)))


# --- detector ------------------------------------------------------------------------------

def evaluate_det(pages: List[Tuple[str, str]], cfg: dict, log=print) -> dict:
    """Per-line records and timing for the PP-OCRv4 detector."""
    from ..io import read_image
    from ..metrics.faithfulness import deletion_insertion, endpoint_scores, target_score_fn
    from ..metrics.localization import energy_pointing_game, pointing_game
    from ..models.det import load_detector
    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..ocr.explain import resolve_layers
    from ..ocr.regions import box_height
    from ..ocr.targets import DBBoxTarget
    from ..methods.rise import DRiseBoxTarget

    det = load_detector()
    pre, post = DetPreprocess(), DBPostProcess()
    layers = resolve_layers(det, cfg["layers"])
    records, shifts, timing = [], [], {}
    for path, gt_path in pages:
        name = os.path.splitext(os.path.basename(path))[0]
        t_page = time.time()
        page = read_image(path)
        with open(gt_path, encoding="utf-8") as f:
            gt = json.load(f)
        chw, info = pre(page)
        prob = det.prob_map(chw[None])[0, 0]
        boxes = post(prob, info)
        matches = match_lines(boxes, gt.get("lines", []))
        rng = np.random.RandomState(cfg["seed"] + zlib.crc32(name.encode()) % 10000)
        if not matches:
            log(f"{name}: no detected box matches a ground-truth line; skipped")
            continue
        pick = rng.choice(len(matches), min(cfg["boxes"], len(matches)), replace=False)
        hw = chw.shape[1:]
        for rank, mi in enumerate(sorted(pick)):
            bi, line, iou = matches[mi]
            poly = np.asarray(boxes[bi]["input_polygon"], np.float64)
            gt_poly = info.points_to_input(np.asarray(line["polygon"], np.float64))
            if cfg["context"] == "window":
                x0, y0, x1, y1 = window_of(poly, hw, cfg["margin"])
            else:
                x0, y0, x1, y1 = 0, 0, hw[1], hw[0]
            x = chw[None, :, y0:y1, x0:x1].copy()
            off = np.array([x0, y0], np.float64)
            poly_w, gt_w = poly - off, gt_poly - off
            whw = x.shape[2:]
            target = DBBoxTarget(poly_w, whw, bi)
            if cfg["context"] == "window":
                m = target.mask
                shifts.append(float((det.prob_map(x)[0, 0] * m).sum() / m.sum()
                                    - (prob[y0:y1, x0:x1] * m).sum() / m.sum()))
            scorer = DRiseBoxTarget(poly_w, post, box_id=bi) if cfg["score"] == "box_similarity" else target
            score_fn = target_score_fn(det.model, scorer)
            fill = cfg["baseline_fill"]
            ends = endpoint_scores(x[0], score_fn, fill)
            region = neighbourhood(poly_w, whw)
            line_domain = np.zeros(whw, bool)
            line_domain[region[1]:region[3], region[0]:region[2]] = True
            ends_line = endpoint_scores(x[0], score_fn, fill, line_domain)
            local = dict(cfg, rise_grid=rise_grid(region, max(4, int(round(box_height(poly_w) / 2)))))
            sanity = rank < cfg["sanity_boxes"]
            for method in cfg["methods"]:
                raw, common = score_method(method, det.model, layers, local, x, target, score_fn, fill, ends, rng,
                                           DET_CASCADE, sanity, region)
                line_curves = deletion_insertion(x[0], raw, score_fn, fill, cfg["n_steps"], batch_size=8,
                                                 seed=cfg["seed"], endpoint_scores=ends_line, domain=line_domain)
                rec = {"task": "det", "image": name, "box_id": int(bi), "gt_line": int(line["id"]),
                       "field": line.get("field"), "text": line.get("text"), "match_iou": round(iou, 4),
                       "window": [int(x0), int(y0), int(x1), int(y1)],
                       # own line: the ground-truth line the box matches, grown by half its height
                       "energy_in_box": energy_pointing_game(raw, gt_w, 0.5),
                       "pointing_game": float(pointing_game(raw, gt_w, 0.5)),
                       "deletion_auc_line": line_curves["deletion"].auc,
                       "insertion_auc_line": line_curves["insertion"].auc}
                rec.update(common)
                records.append(rec)
                timing[method] = timing.get(method, 0.0) + rec["seconds"]
        log(f"det {name}: {len(pick)} lines, {time.time() - t_page:.1f} s")
    out = {"records": records, "seconds_per_method": {k: round(v, 2) for k, v in timing.items()},
           "model": det.name, "layers": layers, "cascade": list(DET_CASCADE),
           "pointing_game": "peak of the box's map inside its own ground-truth line grown by half its height"}
    if shifts:
        out["window_score_shift"] = {"mean_abs": float(np.mean(np.abs(shifts))), "max_abs": float(np.max(np.abs(shifts))),
                                     "note": "box score on the window minus on the full page"}
    return out


# --- field classifier ----------------------------------------------------------------------

def load_field_classifier():
    """``(FieldClassifier.load(), None)``, or ``(None, reason)`` when it is not available."""
    try:
        from ..invoice.fields import FieldClassifier  # another work item builds it
    except Exception as e:  # ImportError, or a half-built module
        return None, f"{type(e).__name__}: {e}"
    try:
        return FieldClassifier.load(), None
    except Exception as e:
        return None, f"FieldClassifier.load() failed: {type(e).__name__}: {e}"


def field_cascade(model) -> List[str]:
    """Output side first: the head layers, then the encoder's blocks last to first, then its stem."""
    from ..metrics.sanity import default_cascade

    names = dict(model.named_sublayers())
    if "encoder.blocks" not in names:
        return default_cascade(model)
    blocks = [f"encoder.blocks.{i}" for i in range(len(names["encoder.blocks"]))][::-1]
    stem = [n for n in ("encoder.convolution",) if n in names]
    return [n for n in default_cascade(model) if n != "encoder"] + blocks + stem


def page_region_mask(polygons: Sequence, hw: Tuple[int, int]) -> np.ndarray:
    """(H, W) bool union of page polygons."""
    import cv2

    m = np.zeros(hw, np.uint8)
    for p in polygons:
        pts = np.round(np.asarray(p, np.float64).reshape(-1, 2) * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(m, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return m > 0


def evaluate_field(cfg: dict, clf, log=print, detect=None) -> dict:
    """Per-line records for the field classifier on held-out generated invoices.

    Pages are made and matched by ``pointing.make_case`` (seeds ``cfg['field_seed']`` on); lines are
    a seeded sample of matched boxes whose true field is not ``other``; the predicted class is
    explained. Localisation is measured on the page, as ``pointing.pointing_game`` does: the
    input map is pasted onto the line's window (``clf.map_to_page``), its peak classified with
    ``pointing.where_is`` and its positive mass shared out over ``pointing.own_regions``."""
    from ..invoice.fields import field_baseline
    from ..invoice.pointing import PageDetector, field_pairs, make_case, own_regions, peak, where_is
    from ..metrics.faithfulness import class_score_fn, endpoint_scores
    from ..targets import ClassifierOutputTarget

    labels = list(clf.labels)
    layers = [clf.default_layer]
    query = tuple(clf.query_channels)
    cascade = field_cascade(clf.model)
    detect = detect or PageDetector()
    kind = "paper" if cfg["baseline"] == "road" else cfg["baseline"]
    records, timing, pages = [], {}, []
    for seed in range(cfg["field_seed"], cfg["field_seed"] + cfg["field_pages"]):
        t_page = time.time()
        case = make_case(seed, detect)
        pairs = field_pairs(case)
        pages.append({"seed": seed, "matched_field_lines": len(pairs)})
        if not pairs:
            log(f"field seed {seed}: no matched field line; skipped")
            continue
        rng = np.random.RandomState(cfg["seed"] + seed)
        pick = sorted(rng.choice(len(pairs), min(cfg["field_boxes"], len(pairs)), replace=False))
        polys = [case.det_polygons[pairs[p][0]] for p in pick]
        batch = np.asarray(clf.prepare(case.page, polys), np.float32)
        probs = np.asarray(clf.predict(batch))
        page_hw = case.page.shape[:2]
        for rank, (p, poly) in enumerate(zip(pick, polys)):
            i, j = pairs[p]
            k = int(np.argmax(probs[rank]))
            x = batch[rank:rank + 1]
            fill = field_baseline(x[0], query, kind)
            local = dict(cfg, baseline_fill=fill, method_baseline=lambda xi, q=query: field_baseline(xi, q, kind),
                         rise_grid=(10, 20), occlusion_window=8)
            score_fn = class_score_fn(clf.model, k)
            ends = endpoint_scores(x[0], score_fn, fill)
            own = page_region_mask(own_regions(case.gt, j, cfg["grow_px"]), page_hw)
            true_field = case.true_field(j)
            for method in cfg["methods"]:
                raw, common = score_method(method, clf.model, layers, local, x, ClassifierOutputTarget(k), score_fn,
                                           fill, ends, rng, cascade, rank < cfg["sanity_boxes"], random_stride=8)
                page_map = np.maximum(clf.map_to_page(raw, poly, page_hw), 0)
                mass = float(page_map.sum())
                where = where_is(peak(page_map), case.gt, j, cfg["grow_px"])
                rec = {"task": "field", "seed": seed, "box_id": int(i), "gt_line": int(j),
                       "text": case.gt["lines"][j].get("text"), "gt_field": true_field, "class_id": k,
                       "label": labels[k], "prob": float(probs[rank, k]), "correct": labels[k] == true_field,
                       "energy_in_box": float((page_map * own).sum() / mass) if mass > 0 else 0.0,
                       "pointing_game": float(where in ("own_line", "own_label")), "peak_at": where}
                rec.update(common)
                records.append(rec)
                timing[method] = timing.get(method, 0.0) + rec["seconds"]
        log(f"field seed {seed}: {len(pick)} lines, {time.time() - t_page:.1f} s")
    lines = [r for r in records if r["method"] == cfg["methods"][0]]
    return {"records": records, "seconds_per_method": {k: round(v, 2) for k, v in timing.items()},
            "model": getattr(clf, "name", "field classifier"), "source": getattr(clf, "source", ""),
            "layers": layers, "cascade": cascade, "pages": pages, "grow_px": cfg["grow_px"], "baseline": kind,
            "accuracy_on_lines": float(np.mean([r["correct"] for r in lines])) if lines else None,
            "localisation": "on the page: the line and the label lines of its field (pointing.own_regions, grown "
                            "by grow_px); pointing_game = pointing.where_is in (own_line, own_label)"}


# --- summary -------------------------------------------------------------------------------

SUMMARY_EXTRA = ("randomization_spearman_final", "randomization_spearman_whole_final", "randomization_ssim",
                 "randomization_ssim_whole")


def mean_curve(rows: List[dict]) -> Optional[dict]:
    """Per-step means of the randomisation curves of some records (None without any)."""
    curves = [r["randomization_curve"] for r in rows if r.get("randomization_curve")]
    if not curves:
        return None
    out = {"layers": curves[0]["layers"], "lines": len(curves)}
    for key in ("spearman", "spearman_whole", "ssim", "nonzero_iou", "randomized_fraction"):
        steps = np.array([[np.nan if v is None else v for v in c[key]] for c in curves], np.float64)
        out[key] = [None if not np.isfinite(col).any() else round(float(np.nanmean(col)), 4) for col in steps.T]
    return out


def summarize(records: List[dict]) -> Dict[str, Dict[str, Dict[str, Optional[float]]]]:
    """{task: {method: {metric: mean over lines (None if never computed), n: lines,
    randomization_curve: per-step means}}}."""
    out: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {}
    for r in records:
        out.setdefault(r["task"], {}).setdefault(r["method"], {})
    for task, methods in out.items():
        for method in methods:
            rows = [r for r in records if r["task"] == task and r["method"] == method]
            stats: Dict[str, Optional[float]] = {"n": len(rows)}
            for m in METRICS + SUMMARY_EXTRA:
                vals = [r[m] for r in rows if r.get(m) is not None]
                stats[m] = float(np.mean(vals)) if vals else None
            stats["randomization_curve"] = mean_curve(rows)
            methods[method] = stats
    return out


def format_table(summary: dict) -> str:
    """Fixed-width table: one row per task and method."""
    head = ["task", "method", "n"] + list(METRICS)
    rows = [head]
    for task, methods in summary.items():
        for method, s in methods.items():
            rows.append([task, method, str(s["n"])] + ["-" if s[m] is None else f"{s[m]:.3f}" for m in METRICS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = settings(args)
    from ..cli import set_device
    from ..io import ensure_writable_dir, save_json
    from ..metrics.faithfulness import normalized_value

    out_dir = ensure_writable_dir(args.output)
    pages = find_invoices(args.input)
    if cfg["pages"]:
        pages = pages[:cfg["pages"]]
    set_device(args.device)
    # a (C,) fill is the same for every window; paper/blur/road depend on the input itself
    cfg["baseline_fill"] = normalized_value(255.0) if cfg["baseline"] == "white" else cfg["baseline"]
    t0 = time.time()
    result = {"config": {k: v for k, v in cfg.items() if k != "baseline_fill"},
              "command": " ".join([os.path.basename(sys.argv[0])] + (list(argv) if argv is not None else sys.argv[1:])),
              "images": [os.path.basename(p) for p, _ in pages], "tasks": {}}
    records: List[dict] = []
    if "det" in cfg["tasks"]:
        det = evaluate_det(pages, cfg)
        records += det.pop("records")
        result["tasks"]["det"] = det
    if "field" in cfg["tasks"]:
        clf, why = load_field_classifier()
        if clf is None:
            print(f"note: field classifier skipped: paddle_cam.invoice.fields.FieldClassifier is not available ({why})")
            result["tasks"]["field"] = {"skipped": why}
        else:
            field = evaluate_field(cfg, clf)
            records += field.pop("records")
            result["tasks"]["field"] = field
    summary = summarize(records)
    result.update(summary=summary, records=records, runtime_seconds=round(time.time() - t0, 1))
    path = save_json(os.path.join(out_dir, "metrics.json"), result)
    print(format_table(summary))
    print("deletion: lower is better; insertion, energy_in_box, pointing_game: higher; randomization_spearman "
          "(claim region; _whole: whole map): lower (the random map ignores the model, so 1 by design)")
    print(f"{len(records)} records in {result['runtime_seconds']} s -> {path}")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
