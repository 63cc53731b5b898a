"""Train the invoice-field classifier (PP-LCNet) on generated documents of every family, reproducibly, on CPU.

examples:
  paddle-cam train-field                                           # -> demo_docs/field_cls
  python tools/train_field_cls.py --vdl_dir runs                   # loss / accuracy curves in VisualDL
  python tools/train_field_cls.py --shortcut                       # cue model -> demo_docs/field_cls_shortcut
  python tools/train_field_cls.py -o Data.holdout=taxi --save_path /tmp/fc   # never trains on taxi receipts
  python tools/train_field_cls.py --lofo                           # leave-one-family-out -> output/field_lofo

Defaults: configs/field/train_field_cls.yml; ``--shortcut`` is ``-c configs/field/shortcut.yml``,
``--lofo`` is ``-c configs/field/lofo.yml`` (:mod:`paddle_cam.evaluation.lofo`: one model per
held-out family, lofo.json + lofo.md). Data, trainer and the choice of the default explanation
method: :mod:`paddle_cam.invoice.training`. The model of the last epoch is saved; the evaluation
pages (``Data.eval_pages`` per family, the held-out family's included) are never used to choose
anything (their per-epoch accuracy is logged for the curves only); they are scored per family
(:func:`paddle_cam.evaluation.field.family_report`: line accuracy, pointing game, occlusion drop,
page-level key-field accuracy of the page reader).

Writes OUT/model.pdparams, OUT/inference.{json,pdiparams,yml} and OUT/metrics.json (last).
"""
import argparse
import os
import sys
import time

from ..cli import quiet_paddle, run_main

quiet_paddle()

DEFAULTS_NAME = "field/train_field_cls"
SHORTCUT_CONFIG = "field/shortcut"
LOFO_CONFIG = "field/lofo"
FLAGS = {"output": "Global.output", "vdl_dir": "Global.vdl_dir", "vdl_run": "Global.vdl_run",
         "workers": "Global.workers", "device": "Global.device"}


def parse_args(argv=None):
    from paddle_cam.config import add_config_args

    from .common import add_device_arg, add_save_path_arg, parse, parser

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_save_path_arg(p, "output folder (demo_docs/field_cls_shortcut with --shortcut)")
    p.add_argument("--vdl_dir", default=None, help="VisualDL log folder (loss / accuracy curves)")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name (default: field_cls or field_cls_shortcut)")
    p.add_argument("--shortcut", action="store_true", help="train the demonstration model whose training pages "
                                                           "carry a field-coloured cue next to every value "
                                                           "(= -c configs/field/shortcut.yml)")
    p.add_argument("--lofo", action="store_true", help="leave-one-family-out: one model per held-out family, "
                                                       "lofo.json + lofo.md (= -c configs/field/lofo.yml)")
    p.add_argument("--workers", type=int, default=None, help="processes rendering pages (default 2)")
    add_device_arg(p)
    add_config_args(p)
    return parse(p, argv, DEFAULTS_NAME, FLAGS, need_input=False)


def settings(args: argparse.Namespace) -> dict:
    """The run's config: defaults, ``-c`` (or the shortcut preset), ``-o``, then the flags."""
    from paddle_cam.config import config_path, load_config, set_from_args
    from paddle_cam.errors import InputError

    presets = [n for n, on in (("--shortcut", args.shortcut), ("--lofo", args.lofo), ("-c", bool(args.config))) if on]
    if len(presets) > 1:
        raise InputError(f"--shortcut is -c configs/field/shortcut.yml and --lofo is -c configs/field/lofo.yml; give "
                         f"one of {', '.join(presets)} (copy the preset into your file)")
    path = config_path(SHORTCUT_CONFIG) if args.shortcut else config_path(LOFO_CONFIG) if args.lofo else args.config
    cfg = set_from_args(load_config(DEFAULTS_NAME, path, args.opt), args, FLAGS)
    from paddle_cam.invoice.classifier import REPO_ROOT, default_model_dir
    from paddle_cam.invoice.training import check_families

    g, d = cfg["Global"], cfg["Data"]
    shortcut = bool(d["shortcut"])
    if int(d["train_pages"]) < 1 or int(d["eval_pages"]) < 1:
        raise InputError("Data.train_pages and Data.eval_pages must be at least 1")
    fams, holdout = check_families(d["families"], d["holdout"])
    d["families"], d["holdout"] = list(fams), holdout
    if cfg["Lofo"]["run"]:
        from paddle_cam.evaluation.lofo import held_out_families

        held_out_families(cfg)  # a misspelt family fails here, before any page is rendered
        if shortcut:
            raise InputError("Data.shortcut trains the cue demonstration model; leave-one-family-out is for the "
                             "honest classifier")
        g["output"] = os.path.abspath(g["output"] or cfg["Lofo"]["output"])
        if g["output"] == os.path.abspath(default_model_dir()):
            raise InputError(f"the leave-one-family-out output {g['output']} is the committed model's folder; "
                             "pass another --output")
        return cfg
    g["output"] = g["output"] or os.path.join(REPO_ROOT, "demo_docs", "field_cls_shortcut" if shortcut else "field_cls")
    g["vdl_run"] = g["vdl_run"] or ("field_cls_shortcut" if shortcut else "field_cls")
    return cfg


def page_plans(cfg: dict):
    """(training, evaluation, method-selection) pages as (seed, family): training and selection
    pages by :func:`paddle_cam.invoice.training.page_plan` (never of ``Data.holdout``), evaluation
    pages ``Data.eval_pages`` per family of ``Data.families``; the seed ranges must not overlap."""
    from paddle_cam.errors import InputError
    from paddle_cam.invoice.training import page_plan

    d = cfg["Data"]
    fams, holdout = d["families"], d["holdout"]
    ev0 = int(d["eval_seed"])
    tr = page_plan(int(d["train_seed"]), int(d["train_pages"]), fams, holdout)
    ev = [(s, f) for f in fams for s in range(ev0, ev0 + int(d["eval_pages"]))]
    n_sel = int(cfg["Explain"]["select_pages"])
    sel = page_plan(int(cfg["Explain"]["select_seed"]), n_sel, fams, holdout) if n_sel > 0 else []
    tr_s, ev_s, sel_s = ({s for s, _ in p} for p in (tr, ev, sel))
    if tr_s & ev_s:
        raise InputError(f"training seeds {min(tr_s)}..{max(tr_s)} overlap evaluation seeds {min(ev_s)}..{max(ev_s)}")
    if sel_s & (tr_s | ev_s):
        raise InputError(f"Explain.select_seed pages {min(sel_s)}.. overlap the training or evaluation seeds; "
                         "move them")
    return tr, ev, sel


def output_folder(cfg: dict) -> str:
    """The model folder, checked before any work: it is replaced as a whole when the model is saved."""
    from paddle_cam.errors import InputError
    from paddle_cam.io import ensure_writable_dir
    from paddle_cam.models.export import check_model_folder

    g = cfg["Global"]
    out_dir = check_model_folder(g["output"])
    if g["vdl_dir"] and os.path.abspath(g["vdl_dir"]).startswith(out_dir + os.sep):
        raise InputError(f"--vdl_dir {g['vdl_dir']} lies inside the model folder {out_dir}, which is replaced when "
                         "the model is saved; log elsewhere")
    return ensure_writable_dir(out_dir)


def stderr(line: str) -> None:
    print(line, file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = settings(args)
    g, d = cfg["Global"], cfg["Data"]
    if cfg["Lofo"]["run"]:
        return run_lofo(cfg)
    tr_plan, ev_plan, sel_plan = page_plans(cfg)
    out_dir = output_folder(cfg)
    shortcut = bool(d["shortcut"])

    import numpy as np

    from paddle_cam.cli import set_device
    from paddle_cam.evaluation.field import families_report, family_line, qa_min_classifier_prob
    from paddle_cam.invoice.classifier import FieldClassifier, default_model_dir
    from paddle_cam.invoice.pointing import (PageDetector, attribution_table, compare_pointing, evaluate,
                                             format_accuracy_table, shortcut_report)
    from paddle_cam.invoice.schema import FIELD_CLASSES
    from paddle_cam.invoice.training import DATA_KEYS, cases_of, generate, select_method, train, window_spec
    from paddle_cam.invoice.windows import normalize_u8
    from paddle_cam.io import save_json
    from paddle_cam.models.export import save_inference

    set_device(g["device"])
    t0 = time.time()
    data = {k: d[k] for k in DATA_KEYS}
    res = generate([(s, "train", data, f) for s, f in tr_plan] + [(s, "eval", data, f) for s, f in ev_plan + sel_plan],
                   max(1, int(g["workers"])), "pages")
    train_res, eval_res = res[:len(tr_plan)], res[len(tr_plan):len(tr_plan) + len(ev_plan)]
    sel_res = res[len(tr_plan) + len(ev_plan):]
    x = np.concatenate([r["x"] for r in train_res])
    y = np.concatenate([r["y"] for r in train_res])
    ex = np.concatenate([r["x"] for r in eval_res])
    ey = np.concatenate([r["y"] for r in eval_res])
    t_data = time.time() - t0
    trained_on = [f for f in d["families"] if f != d["holdout"]]
    stderr(f"data: {len(y)} training windows from {len(tr_plan)} pages of {', '.join(trained_on)}; {len(ey)} "
           f"held-out detector boxes from {len(ev_plan)} pages ({t_data:.0f} s)")

    vdl = None
    if g["vdl_dir"]:
        from paddle_cam.sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    try:
        t1 = time.time()
        model, curves, stats = train(cfg, x, y, ex, ey, vdl, log=stderr)
        t_train = time.time() - t1
        del x
        # where this machine wrote things is no property of the model
        recipe = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items() if k != "Lofo"}
        recipe["Global"] = {k: v for k, v in cfg["Global"].items() if k in ("seed", "export_inference")}
        seeds = {"train_seeds": [tr_plan[0][0], tr_plan[-1][0]],
                 "eval_seeds": [ev_plan[0][0], ev_plan[-1][0]]}
        extra = {"Training": dict(seeds, families=trained_on, held_out_family=d["holdout"], shortcut_cue=shortcut,
                                  config=recipe)}
        spec = window_spec(data)
        selection = select_method(model, sel_res, list(cfg["Explain"]["candidates"]), float(cfg["Report"]["grow_px"]),
                                  spec, log=stderr)
        if selection:
            extra["Explain"] = {"default_layer": selection["layer"], "default_method": selection["method"],
                                "selected_on": {"seeds": [sel_plan[0][0], sel_plan[-1][0]],
                                                "pointing_game": selection["rates"]}}
        export = bool(g["export_inference"])
        h, w = spec.input_hw
        save_inference(model, out_dir, (None, spec.channels, h, w),
                       FieldClassifier(model, FIELD_CLASSES, spec).inference_yml(extra),
                       program=export, params=True)

        # --- report on held-out pages, through the saved folder (what users load) ---
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
                  **seeds, "families": list(d["families"]), "held_out_family": d["holdout"],
                  "training": dict(stats, curves=curves), "eval": metrics,
                  "inference_vs_pdparams_max_abs_diff": parity}
        if shortcut:
            honest = None
            if os.path.isdir(default_model_dir()) and os.path.abspath(default_model_dir()) != out_dir:
                honest = FieldClassifier.load(default_model_dir())
            report["shortcut"] = shortcut_report(clf, sorted({s for s, _ in ev_plan}), PageDetector(), honest)
        t2 = time.time()
        per_family = families_report(clf, cases, float(cfg["Report"]["grow_px"]), int(cfg["Report"]["pointing_pages"]),
                                     qa_min_classifier_prob())
        for fam, rep in per_family.items():
            rep["held_out"] = fam == d["holdout"]
        report["per_family"] = per_family
        if int(cfg["Report"]["pointing_pages"]) > 0:
            report.update(pooled_explanations(per_family))
            report["attribution_example"] = {"seed": cases[0].seed, "family": cases[0].family,
                                             "lines": attribution_table(clf, cases[0])}
            if cfg["Report"]["compare_methods"]:
                n = int(cfg["Report"]["pointing_pages"])
                first = [c for f in per_family for c in [k for k in cases if k.family == f][:n]]
                report.update(compare_pointing(clf, first, float(cfg["Report"]["grow_px"])))
        report["timing_s"] = {"families_report": round(time.time() - t2, 1)}
        report["timing_s"].update({"data": round(t_data, 1), "train": round(t_train, 1),
                                   "total": round(time.time() - t0, 1)})
        report["timing_s"]["machine"] = {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)}
        if vdl is not None:
            vdl.text("eval/table", "```\n" + table + "\n```", 0)
            if report.get("pointing_game", {}).get("rate") is not None:
                vdl.scalar("eval/pointing_game", report["pointing_game"]["rate"], 0)
        save_json(os.path.join(out_dir, "metrics.json"), report)
    finally:
        if vdl is not None:
            vdl.close()
    print_summary(report, table, out_dir, time.time() - t0, t_data, t_train)
    for fam, rep in report["per_family"].items():
        print(family_line(fam + (" (held out)" if rep["held_out"] else ""), rep))
    return 0


def pooled_explanations(per_family: dict) -> dict:
    """The pointing game and occlusion check over all families' pages (hits and lines summed,
    drops averaged per line): ``{"pointing_game", "occlusion_check"}``."""
    pgs = [r["pointing_game"] for r in per_family.values() if r.get("pointing_game")]
    ocs = [r["occlusion_check"] for r in per_family.values() if r.get("occlusion_check")]
    hits, total = sum(p["hits"] for p in pgs), sum(p["total"] for p in pgs)
    peak_at = {}
    for p in pgs:
        for k, v in p["peak_at"].items():
            peak_at[k] = peak_at.get(k, 0) + v
    n = sum(o["lines"] for o in ocs)

    def mean(key):
        vals = [(o[key], o["lines"]) for o in ocs if o[key] is not None]
        return sum(v * k for v, k in vals) / sum(k for _, k in vals) if vals else None

    first = pgs[0] if pgs else {"method": None, "layers": [], "grow_px": None}
    return {"pointing_game": {"hits": hits, "total": total, "rate": hits / total if total else None,
                              "method": first["method"], "layers": first["layers"], "grow_px": first["grow_px"],
                              "peak_at": peak_at},
            "occlusion_check": {"lines": n, "mean_drop_own_regions": mean("mean_drop_own_regions"),
                                "mean_drop_at_peak": mean("mean_drop_at_peak")}}


def run_lofo(cfg: dict) -> int:
    """Leave-one-family-out (:func:`paddle_cam.evaluation.lofo.run_lofo`); prints lofo.md."""
    from paddle_cam.cli import set_device
    from paddle_cam.evaluation.lofo import format_lofo_md, run_lofo as lofo

    set_device(cfg["Global"]["device"])
    out = cfg["Global"]["output"]
    report = lofo(cfg, out, log=stderr)
    print(format_lofo_md(report))
    print(f"saved -> {os.path.join(out, 'lofo.json')}, lofo.md and models/<family>; total "
          f"{report['timing_s']['total']:.0f} s")
    return 0


def print_summary(report: dict, table: str, out_dir: str, total_s: float, data_s: float, train_s: float) -> None:
    """The accuracy table, the shortcut and pointing-game results, and where the model went."""
    metrics = report["eval"]
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
    if report.get("pointing_game", {}).get("total"):
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
    print(f"saved -> {out_dir} ({size / 1e6:.2f} MB); total {total_s:.0f} s "
          f"(data {data_s:.0f} s, training {train_s:.0f} s)")


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
