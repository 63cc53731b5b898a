"""Evaluate explanation methods on invoices: localisation, faithfulness and a sanity check.

examples:
  paddle-cam evaluate -i demo_docs --save_path output/eval
  python tools/evaluate_explanations.py -i demo_docs --save_path output/eval --quick
  python tools/evaluate_explanations.py -i demo_docs --methods gradcam,occlusion --context page
  python tools/evaluate_explanations.py --tasks rec --save_path output/eval_rec

Defaults: configs/eval/evaluate_explanations.yml (change them with -c FILE or -o Section.key=value;
--quick takes its Quick section). For the DB detector (``det``: the bundled PP-OCRv4 mobile det,
or any family with --det_model_dir / --model_name, e.g. PP-OCRv6_small_det) and the invoice field
classifier (``field``), each method and a ``random`` baseline map (uniform noise on the stride-4
grid of a neck CAM for ``det``, stride 8 = the field classifier's CAM layer for ``field``) is
scored on a seeded sample of lines:

``det``: the invoices under ``--input``; detected boxes matched one-to-one to a ground-truth line
(grown like a DB box) at IoU >= 0.5 (``paddle_cam.invoice.matching.match_detections``).
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

``rec`` (``--tasks rec``, section ``Rec``): per-character maps of each recogniser of ``Rec.models``
(bundled PP-OCRv4 rec by default; e.g. ``-o "Rec.models=[null,PATH/PP-OCRv6_rec_small.onnx]"``)
on rendered invoice lines whose glyph boxes the renderer knows, the output force-aligned to the true
text; ``Rec.chars`` sampled characters per line (``paddle_cam.evaluation.rec``): pointing game and
energy in the character's own glyph box, deletion / insertion scored by the character's
probability, cascading randomisation of the recogniser (CTC head, SVTR neck, backbone stages,
stem). Records are summarised per recogniser as task ``rec:<model name>``.

``--context window`` (default) runs the detector on the page input cropped to each line plus
``--margin`` input pixels (see ``paddle_cam.evaluation.det``); ``--context page`` evaluates on
full pages (slow).

Writes OUT/metrics.json (config, per-line records with curves, per-method means, runtime) and
prints a table. Exit codes: 0 done, 2 bad input, 1 bug.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List

from ..cli import quiet_paddle, run_main

quiet_paddle()

DEFAULTS = "eval/evaluate_explanations"
# argparse dest -> config key
FLAGS = {"det_model_dir": "Global.det_model_dir", "det_model_name": "Global.det_model_name",
         "output": "Global.output", "tasks": "Global.tasks", "quick": "Global.quick", "seed": "Global.seed",
         "device": "Global.device", "methods": "Eval.methods", "pages": "Eval.pages", "boxes": "Eval.boxes",
         "n_steps": "Eval.n_steps", "sanity_boxes": "Eval.sanity_boxes", "sanity_methods": "Eval.sanity_methods",
         "context": "Eval.context", "margin": "Eval.margin", "baseline": "Eval.baseline", "score": "Eval.score",
         "layers": "Eval.layers", "gradient_support": "Eval.gradient_support", "field_pages": "Field.pages",
         "field_boxes": "Field.boxes", "field_seed": "Field.seed", "grow_px": "Field.grow_px"}
# Eval/Field keys under their flat settings names; the Quick section uses the flat names
QUICK_KEYS = {"methods": ("Eval", "methods"), "pages": ("Eval", "pages"), "boxes": ("Eval", "boxes"),
              "n_steps": ("Eval", "n_steps"), "sanity_boxes": ("Eval", "sanity_boxes"),
              "ig_steps": ("Eval", "ig_steps"), "rise_masks": ("Eval", "rise_masks"),
              "field_pages": ("Field", "pages"), "field_boxes": ("Field", "boxes"),
              "rec_chars": ("Rec", "chars"), "rec_methods": ("Rec", "methods"),
              "rec_sanity_lines": ("Rec", "sanity_lines")}
CHOICES = {"context": ("window", "page"), "baseline": ("paper", "white", "blur", "road"),
           "score": ("mean_prob", "box_similarity")}
TASKS = ("det", "field", "rec")


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args
    from .common import add_det_model_args, add_device_arg, add_input_arg, add_save_path_arg, parser

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:7]) + "\n\nThe methods, targets and scores: see the module docstring of "
               "paddle_cam/apps/evaluate_explanations.py and docs/")
    add_input_arg(p, "folder with invoices/*.jpg + .json (e.g. demo_docs); needed by the det task")
    add_save_path_arg(p, "folder for metrics.json")
    p.add_argument("--methods", default=None, help="comma-separated (default gradcam,layercam,integrated_gradients,"
                   "occlusion,rise); any registered method; 'random' is always added")
    p.add_argument("--tasks", default=None, help="det, field and/or rec (default det,field)")
    p.add_argument("--quick", action="store_const", const=True, default=None,
                   help="2 invoices, 2 lines each, Grad-CAM + LayerCAM, 6 steps (the config's Quick section)")
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
    p.add_argument("--field_seed", type=int, default=None, help="first seed of the held-out invoices (default 90000)")
    p.add_argument("--grow_px", type=float, default=None,
                   help="field: own line and labels grown by this many page pixels (pointing.own_regions, default 4)")
    p.add_argument("--context", choices=CHOICES["context"], default=None,
                   help="window (default): detector on each line's neighbourhood (fast); page: full pages")
    p.add_argument("--margin", type=int, default=None, help="window margin around a line, in model-input pixels")
    p.add_argument("--baseline", choices=CHOICES["baseline"], default=None,
                   help="what removed pixels become (never black; default paper)")
    p.add_argument("--score", choices=CHOICES["score"], default=None,
                   help="detector score for the curves: mean shrink probability in the box (default), or D-RISE "
                        "IoU x score")
    p.add_argument("--layers", default=None, help="CAM layers of the detector (names or aliases; default neck)")
    p.add_argument("--gradient_support", choices=("on", "off"), default=None,
                   help="CAMs zeroed where the target's gradient is exactly zero (explain_ocr's default: on)")
    p.add_argument("--seed", type=int, default=None)
    add_device_arg(p)
    add_det_model_args(p)
    add_config_args(p)
    from .common import parse

    return parse(p, argv, DEFAULTS, FLAGS, need_input=False)


def canonical_methods(value) -> List[str]:
    """Registry names of a method list; ``random`` (the baseline map) passes as it is."""
    from ..config import as_list
    from ..evaluation import RANDOM
    from ..methods import get_method

    return [m if m == RANDOM else get_method(m).name for m in as_list(value)]


def build_config(args: argparse.Namespace) -> dict:
    """The tool's config, checked before any model loads: defaults, -c, -o, then with
    ``Global.quick`` the Quick section over its Eval/Field keys, then the command-line flags."""
    from ..config import load_config, set_from_args

    cfg = load_config(DEFAULTS, args.config, args.opt)
    if args.quick or cfg["Global"]["quick"]:
        for key, (sec, k) in QUICK_KEYS.items():
            cfg[sec][k] = cfg["Quick"][key]
    if args.gradient_support is not None:
        args.gradient_support = args.gradient_support == "on"
    return set_from_args(cfg, args, FLAGS)


def settings(cfg: dict) -> dict:
    """The run's flat settings (recorded as ``config`` in metrics.json) from the Eval and Field
    sections; bad values raise ``InputError``."""
    from ..config import as_list
    from ..errors import InputError
    from ..evaluation import RANDOM

    g, e, f = cfg["Global"], cfg["Eval"], cfg["Field"]
    base = {key: cfg[sec][k] for key, (sec, k) in QUICK_KEYS.items()}
    names = canonical_methods(base["methods"])
    if RANDOM not in names:
        names.append(RANDOM)
    base["methods"] = list(dict.fromkeys(names))
    if e["sanity_methods"]:
        base["sanity_methods"] = canonical_methods(e["sanity_methods"])
    else:
        base["sanity_methods"] = [m for m in base["methods"] if m not in ("occlusion", "rise")]
    if base["n_steps"] < 2 or base["boxes"] < 1 or base["field_boxes"] < 1:
        raise InputError("--n_steps must be >= 2, --boxes and --field_boxes >= 1")
    for key, allowed in CHOICES.items():
        if e[key] not in allowed:
            raise InputError(f"Eval.{key} must be one of {', '.join(allowed)}, not {e[key]!r}")
    tasks = as_list(g["tasks"])
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise InputError(f"unknown task '{unknown[0]}'; use {', '.join(TASKS)}")
    r = cfg["Rec"]
    base["rec_methods"] = list(dict.fromkeys(canonical_methods(base["rec_methods"]) + [RANDOM]))
    base["rec_sanity_methods"] = canonical_methods(r["sanity_methods"] or [])
    if int(base["rec_chars"]) < 1:
        raise InputError("Rec.chars must be >= 1")
    if r["texts"] is not None and (not as_list(r["texts"]) or not all(str(t) for t in as_list(r["texts"]))):
        raise InputError("Rec.texts must list non-empty lines (or be null for the built-in invoice lines)")
    base.update(rec_models=as_list(r["models"]) or [None], rec_layers=as_list(r["layers"]) if r["layers"] else None,
                rec_texts=[str(t) for t in as_list(r["texts"])] if r["texts"] is not None else None,
                rec_font_size=int(r["font_size"]))
    base.update(gradient_support=bool(e["gradient_support"]), context=e["context"], margin=int(e["margin"]),
                baseline=e["baseline"], score=e["score"], layers=as_list(e["layers"]), seed=int(g["seed"]),
                field_seed=int(f["seed"]), grow_px=float(f["grow_px"]), tasks=tasks)
    return base


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg_all = build_config(args)
    cfg = settings(cfg_all)
    from ..baselines import normalized_value
    from ..cli import set_device
    from ..datasets.ground_truth import find_labelled_pages
    from ..errors import InputError
    from ..evaluation import format_table, summarize
    from ..io import ensure_writable_dir, save_json

    out_dir = ensure_writable_dir(cfg_all["Global"]["output"])
    if "det" in cfg["tasks"] and not args.input:
        raise InputError("the det task needs --input FOLDER (labelled invoices, e.g. demo_docs); or run --tasks field,rec")
    pages = find_labelled_pages(args.input) if "det" in cfg["tasks"] else []
    if cfg["pages"]:
        pages = pages[:cfg["pages"]]
    set_device(cfg_all["Global"]["device"])
    # a (C,) fill is the same for every window; paper/blur/road depend on the input itself
    cfg["baseline_fill"] = normalized_value(255.0) if cfg["baseline"] == "white" else cfg["baseline"]
    t0 = time.time()
    result = {"config": {k: v for k, v in cfg.items() if k != "baseline_fill"},
              "command": " ".join([os.path.basename(sys.argv[0])] + (list(argv) if argv is not None else sys.argv[1:])),
              "images": [os.path.basename(p) for p, _ in pages], "tasks": {}}
    records: List[dict] = []
    if "det" in cfg["tasks"]:
        from ..evaluation.det import evaluate_det

        from ..ocr.pipeline import TextPipeline

        det = evaluate_det(pages, cfg, TextPipeline.from_config(cfg_all, use_rec=False))
        records += det.pop("records")
        result["tasks"]["det"] = det
    if "field" in cfg["tasks"]:
        from ..evaluation.field import evaluate_field
        from ..invoice.classifier import FieldClassifier

        field = evaluate_field(cfg, FieldClassifier.load())
        records += field.pop("records")
        result["tasks"]["field"] = field
    if "rec" in cfg["tasks"]:
        from ..evaluation.rec import evaluate_rec
        from ..models.rec import load_recognizer

        result["tasks"]["rec"] = {}
        rec_cfg = dict(cfg, methods=cfg["rec_methods"], sanity_methods=cfg["rec_sanity_methods"])
        for source in cfg["rec_models"]:
            rec = evaluate_rec(rec_cfg, load_recognizer(source))
            records += rec.pop("records")
            result["tasks"]["rec"][rec["model"]] = rec
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
