"""Before/after PaddleSlim pruning: cost, detection quality and explanation drift, in VisualDL.

examples:
  paddle-cam prune-compare --model det --pruner l1 --ratios 0.1,0.3,0.5 -i demo_docs/invoices --save_path OUT \\
         --vdl_dir runs
  python tools/prune_compare.py --pruner fpgm --ratios 0.3 --finetune_steps 60 -i demo_docs/invoices --save_path OUT
  python tools/prune_compare.py --model field --pruner l1 --ratios 0.1,0.3 --finetune_steps 100 \\
         -i demo_docs/invoices --save_path OUT
  python tools/prune_compare.py --before base_infer/ --after pruned_infer/ -i demo_docs/invoices --save_path OUT

Defaults: configs/slim/prune_compare.yml (change them with -c FILE or -o Section.key=value).
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
import os
import time
from typing import List

from ..cli import quiet_paddle, run_main

quiet_paddle()

DEFAULTS = "slim/prune_compare"
# argparse dest -> config key
FLAGS = {"model": "Global.model", "model_dir": "Global.model_dir", "model_name": "Global.model_name", "before": "Global.before", "after": "Global.after",
         "output": "Global.output", "vdl_dir": "Global.vdl_dir", "device": "Global.device",
         "pruner": "Prune.pruner", "ratios": "Prune.ratios", "compensate": "Prune.compensate",
         "finetune_steps": "Finetune.steps", "finetune_batch": "Finetune.batch_size",
         "finetune_pages": "Finetune.pages", "finetune_lr": "Finetune.lr",
         "method": "Explain.method", "layers": "Explain.layers",
         "limit_side_len": "Compare.limit_side_len", "topk": "Compare.topk", "repeats": "Compare.repeats"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    from .common import add_device_arg, add_input_arg, add_save_path_arg, parse, parser

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_input_arg(p, "image or folder (or a folder of such folders, e.g. demo_docs); <stem>.json ground truth "
                     "next to the images is used")
    add_save_path_arg(p)
    p.add_argument("--model", default=None, help="det (DB text detector, default) or field (invoice field classifier)")
    p.add_argument("--pruner", default=None, help="l1 (L1NormFilterPruner, default) or fpgm (FPGMFilterPruner)")
    p.add_argument("--ratios", default=None, help="comma-separated pruning ratios in (0, 1) (default 0.1,0.3,0.5)")
    p.add_argument("--no_compensate", dest="compensate", action="store_const", const=False, default=None,
                   help="plain PaddleSlim pruning: do not fold removed channels' means into the next biases")
    p.add_argument("--finetune_steps", type=int, default=None,
                   help="also fine-tune each pruned model for N steps on generated invoices (variants <name>_ft)")
    p.add_argument("--vdl_dir", default=None, help="VisualDL log dir (one run per variant)")
    p.add_argument("--before", default=None, help="compare two model folders you bring: the reference ...")
    p.add_argument("--after", default=None, help="... and the model to compare with it")
    p.add_argument("--model_dir", "--det_model_dir", dest="model_dir", default=None,
                   help="base model to prune (default: bundled PP-OCRv4 mobile det / the committed field classifier)")
    p.add_argument("--model_name", "--det_model_name", dest="model_name", default=None,
                   help="det: a PaddleOCR name (e.g. PP-OCRv6_small_det) loaded from PaddleX's model cache, "
                        "when --model_dir is not given")
    p.add_argument("--method", default=None,
                   help="explanation method (det: gradcam, whose gradient path is fast and exact; field: the "
                        "model's default)")
    p.add_argument("--layers", default=None, help="layers to explain (default: neck for det, the classifier's layer "
                                                  "for field)")
    p.add_argument("--limit_side_len", type=int, default=None, help="DetResizeForTest limit (max side, default 960)")
    p.add_argument("--topk", type=float, default=None, help="share of pixels for top-k IoU (default 0.1)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per model for the latency median (default 5)")
    p.add_argument("--finetune_batch", type=int, default=None,
                   help="fine-tuning batch size (det: 2 crops of 640 x 640; field: 64 windows)")
    p.add_argument("--finetune_pages", type=int, default=None,
                   help="generated invoices rendered for fine-tuning (default 16)")
    p.add_argument("--finetune_lr", type=float, default=None,
                   help="fine-tuning peak learning rate (det default: PaddleOCR's 1e-3 scaled to the batch, "
                        "1e-3 * batch / 64; field: 1e-3)")
    add_device_arg(p)
    add_config_args(p)
    return parse(p, argv, DEFAULTS, FLAGS)


def parse_ratios(value) -> List[float]:
    """``"0.1,0.3"`` or ``[0.1, 0.3]`` -> distinct ratios in (0, 1), else ``InputError``."""
    from ..config import as_list
    from ..errors import InputError
    from ..slim.prune import check_ratio

    parts = [t for t in as_list(value) if str(t).strip()]
    if not parts:
        raise InputError("--ratios is empty; pass pruning ratios in (0, 1) like 0.1,0.3,0.5")
    ratios = [check_ratio(t) for t in parts]
    if len(set(ratios)) != len(ratios):
        raise InputError(f"--ratios {value} repeats a ratio; list each once")
    return ratios


def build_settings(cfg: dict):
    """``CompareSettings`` from the config; bad values are found before any model work starts."""
    from ..config import as_list
    from ..errors import InputError
    from ..slim.compare import MODELS, CompareSettings
    from ..slim.prune import PRUNERS

    g, pr, ft, ex, c = cfg["Global"], cfg["Prune"], cfg["Finetune"], cfg["Explain"], cfg["Compare"]
    if g["model"] is not None and g["model"] not in MODELS:
        raise InputError(f"unknown --model '{g['model']}'; use det or field")
    if (g["before"] is None) != (g["after"] is None):
        raise InputError("--before and --after go together: pass both model folders")
    ratios: List[float] = []
    if g["before"] is None:
        if pr["pruner"] not in PRUNERS:
            raise InputError(f"unknown pruner '{pr['pruner']}'; use one of: {', '.join(PRUNERS)}")
        ratios = parse_ratios(pr["ratios"])
    if ft["steps"] < 0:
        raise InputError("--finetune_steps must be 0 or more")
    if ft["steps"] and g["before"] is not None:
        raise InputError("--finetune_steps fine-tunes pruned variants; it does not apply to --before/--after")
    if ft["batch_size"] is not None and ft["batch_size"] < 1:
        raise InputError("--finetune_batch must be at least 1")
    if ft["pages"] < 1:
        raise InputError("--finetune_pages must be at least 1")
    if ft["lr"] is not None and not ft["lr"] > 0:
        raise InputError("--finetune_lr must be positive")
    if not 0 < c["topk"] <= 1:
        raise InputError(f"--topk {c['topk']} must be in (0, 1]")
    if c["repeats"] < 1:
        raise InputError("--repeats must be at least 1")
    if c["limit_side_len"] < 32:
        raise InputError("--limit_side_len must be at least 32")
    model_dir = g["model_dir"]
    if g["model_name"]:
        from ..models.names import resolve_weights

        if g["model"] == "field" or g["before"] is not None:
            raise InputError("--model_name names a detector to prune; drop it with --model field or --before/--after")
        model_dir = resolve_weights(model_dir, g["model_name"], "det")[0]
    method = ex["method"]
    if method is not None:
        from ..methods import get_method

        method = get_method(method).name
    return CompareSettings(
        pruner=pr["pruner"], ratios=ratios, compensate=bool(pr["compensate"]), finetune_steps=int(ft["steps"]),
        finetune_pages=int(ft["pages"]), limit_side_len=int(c["limit_side_len"]), topk=float(c["topk"]),
        repeats=int(c["repeats"]), finetune_batch=ft["batch_size"], finetune_lr=ft["lr"], model_dir=model_dir,
        before=g["before"], after=g["after"], method=method, layers=as_list(ex["layers"]) or None,
        vdl_dir=g["vdl_dir"])


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
    from ..cli import set_device
    from ..config import load_config, set_from_args
    from ..errors import InputError
    from ..io import ensure_writable_dir
    from ..slim.compare import load_pages, pair_kind

    cfg = set_from_args(load_config(DEFAULTS, args.config, args.opt), args, FLAGS)
    settings = build_settings(cfg)
    g = cfg["Global"]
    kind = g["model"] or "det"
    if settings.before is not None:
        pk = pair_kind(settings.before, settings.after)  # one line, exit 2, when they differ or do not load
        if g["model"] is not None and pk != g["model"]:
            held = {"det": "text detectors", "field": "classifiers"}[pk]
            raise InputError(f"--model {g['model']} but --before/--after hold {held}; drop --model or pass "
                             f"{g['model']} models")
        kind = pk
    out_root = ensure_writable_dir(g["output"])
    if settings.vdl_dir:
        ensure_writable_dir(settings.vdl_dir)
    pages = load_pages(args.input)
    set_device(g["device"])
    t0 = time.time()
    if kind == "field":
        from ..slim.field_compare import compare_field

        result = compare_field(pages, settings, out_root)
    else:
        from ..slim.det_compare import compare_det

        result = compare_det(pages, settings, out_root)
    from ..slim.compare import write_report

    report = write_report(settings, result, args.input, out_root, time.time() - t0)
    print_table(report)
    print(f"-> {os.path.join(os.path.abspath(out_root), 'compare.json')}")
    if settings.vdl_dir:
        print(f"VisualDL: visualdl --logdir {settings.vdl_dir} --host 127.0.0.1  (runs: "
              f"{', '.join(v.name for v in result.variants)})")
    return 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
