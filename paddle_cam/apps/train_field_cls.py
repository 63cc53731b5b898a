#!/usr/bin/env python
"""Train the invoice-field classifier (PP-LCNet) on generated invoices, reproducibly, on CPU.

    python tools/train_field_cls.py                                  # -> demo_docs/field_cls, ~15 min on 2 cores
    python tools/train_field_cls.py --vdl_dir runs                   # loss / accuracy curves in VisualDL
    python tools/train_field_cls.py --shortcut                       # cue model -> demo_docs/field_cls_shortcut
    python tools/train_field_cls.py -o Data.train_pages=100 Train.epochs=2 --output /tmp/fc

Defaults: configs/field/train_field_cls.yml; ``--shortcut`` is ``-c configs/field/shortcut.yml``.
Data, trainer and the choice of the default explanation method: :mod:`paddle_cam.invoice.training`.
The model of the last epoch is saved; the evaluation pages are never used to choose anything
(their per-epoch accuracy is logged for the curves only).

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
FLAGS = {"output": "Global.output", "vdl_dir": "Global.vdl_dir", "vdl_run": "Global.vdl_run",
         "workers": "Global.workers", "device": "Global.device"}


def parse_args(argv=None):
    from paddle_cam.config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", default=None, help="output folder (default demo_docs/field_cls, "
                                                   "demo_docs/field_cls_shortcut with --shortcut)")
    p.add_argument("--vdl_dir", default=None, help="VisualDL log folder (loss / accuracy curves)")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name (default: field_cls or field_cls_shortcut)")
    p.add_argument("--shortcut", action="store_true", help="train the demonstration model whose training pages "
                                                           "carry a field-coloured cue next to every value "
                                                           "(= -c configs/field/shortcut.yml)")
    p.add_argument("--workers", type=int, default=None, help="processes rendering pages (default 2)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    add_config_args(p)
    return p.parse_args(argv)


def settings(args: argparse.Namespace) -> dict:
    """The run's config: defaults, ``-c`` (or the shortcut preset), ``-o``, then the flags."""
    from paddle_cam.config import config_path, load_config, set_from_args
    from paddle_cam.errors import InputError

    if args.shortcut and args.config:
        raise InputError("--shortcut is -c configs/field/shortcut.yml; give one of --shortcut and -c "
                         "(copy the preset into your file)")
    path = config_path(SHORTCUT_CONFIG) if args.shortcut else args.config
    cfg = set_from_args(load_config(DEFAULTS_NAME, path, args.opt), args, FLAGS)
    from paddle_cam.invoice.classifier import REPO_ROOT

    g, d = cfg["Global"], cfg["Data"]
    shortcut = bool(d["shortcut"])
    g["output"] = g["output"] or os.path.join(REPO_ROOT, "demo_docs", "field_cls_shortcut" if shortcut else "field_cls")
    g["vdl_run"] = g["vdl_run"] or ("field_cls_shortcut" if shortcut else "field_cls")
    if int(d["train_pages"]) < 1 or int(d["eval_pages"]) < 1:
        raise InputError("Data.train_pages and Data.eval_pages must be at least 1")
    return cfg


def seed_ranges(cfg: dict):
    """(training, evaluation, method-selection) seeds; they must not overlap."""
    from paddle_cam.errors import InputError

    d = cfg["Data"]
    tr0, ev0 = int(d["train_seed"]), int(d["eval_seed"])
    tr_seeds = list(range(tr0, tr0 + int(d["train_pages"])))
    ev_seeds = list(range(ev0, ev0 + int(d["eval_pages"])))
    xs0 = int(cfg["Explain"]["select_seed"])
    sel_seeds = list(range(xs0, xs0 + int(cfg["Explain"]["select_pages"])))
    if set(tr_seeds) & set(ev_seeds):
        raise InputError(f"training seeds {tr0}..{tr_seeds[-1]} overlap evaluation seeds {ev0}..{ev_seeds[-1]}")
    if set(sel_seeds) & (set(tr_seeds) | set(ev_seeds)):
        raise InputError(f"Explain.select_seed pages {xs0}.. overlap the training or evaluation seeds; move them")
    return tr_seeds, ev_seeds, sel_seeds


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
    tr_seeds, ev_seeds, sel_seeds = seed_ranges(cfg)
    out_dir = output_folder(cfg)
    g, d = cfg["Global"], cfg["Data"]
    shortcut = bool(d["shortcut"])

    import numpy as np

    from paddle_cam.cli import set_device
    from paddle_cam.invoice.classifier import FieldClassifier, default_model_dir
    from paddle_cam.invoice.pointing import (PageDetector, evaluate, format_accuracy_table, pointing_report,
                                             shortcut_report)
    from paddle_cam.invoice.schema import FIELD_CLASSES
    from paddle_cam.invoice.training import DATA_KEYS, cases_of, generate, select_method, train
    from paddle_cam.invoice.windows import WindowSpec, normalize_u8
    from paddle_cam.io import save_json
    from paddle_cam.models.export import save_inference

    set_device(g["device"])
    t0 = time.time()
    data = {k: d[k] for k in DATA_KEYS}
    res = generate([(s, "train", data) for s in tr_seeds] + [(s, "eval", data) for s in ev_seeds + sel_seeds],
                   max(1, int(g["workers"])), "pages")
    train_res, eval_res = res[:len(tr_seeds)], res[len(tr_seeds):len(tr_seeds) + len(ev_seeds)]
    sel_res = res[len(tr_seeds) + len(ev_seeds):]
    x = np.concatenate([r["x"] for r in train_res])
    y = np.concatenate([r["y"] for r in train_res])
    ex = np.concatenate([r["x"] for r in eval_res])
    ey = np.concatenate([r["y"] for r in eval_res])
    t_data = time.time() - t0
    stderr(f"data: {len(y)} training windows from {len(tr_seeds)} pages, {len(ey)} held-out detector boxes from "
           f"{len(ev_seeds)} pages ({t_data:.0f} s)")

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
        recipe = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
        recipe["Global"] = {k: v for k, v in cfg["Global"].items() if k in ("seed", "export_inference")}
        extra = {"Training": {"train_seeds": [tr_seeds[0], tr_seeds[-1]], "eval_seeds": [ev_seeds[0], ev_seeds[-1]],
                              "shortcut_cue": shortcut, "config": recipe}}
        selection = select_method(model, sel_res, list(cfg["Explain"]["candidates"]), float(cfg["Report"]["grow_px"]),
                                  log=stderr)
        if selection:
            extra["Explain"] = {"default_layer": selection["layer"], "default_method": selection["method"],
                                "selected_on": {"seeds": [sel_seeds[0], sel_seeds[-1]],
                                                "pointing_game": selection["rates"]}}
        export = bool(g["export_inference"])
        h, w = WindowSpec().input_hw
        save_inference(model, out_dir, (None, 3, h, w), FieldClassifier(model, FIELD_CLASSES).inference_yml(extra),
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
                  "train_seeds": [tr_seeds[0], tr_seeds[-1]], "eval_seeds": [ev_seeds[0], ev_seeds[-1]],
                  "training": dict(stats, curves=curves), "eval": metrics,
                  "inference_vs_pdparams_max_abs_diff": parity}
        if shortcut:
            honest = None
            if os.path.isdir(default_model_dir()) and os.path.abspath(default_model_dir()) != out_dir:
                honest = FieldClassifier.load(default_model_dir())
            report["shortcut"] = shortcut_report(clf, ev_seeds, PageDetector(), honest)
        pcases = cases[:int(cfg["Report"]["pointing_pages"])]
        if pcases:
            t2 = time.time()
            report.update(pointing_report(clf, pcases, float(cfg["Report"]["grow_px"]),
                                          bool(cfg["Report"].get("compare_methods"))))
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
    print_summary(report, table, out_dir, time.time() - t0, t_data, t_train)
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
    print(f"saved -> {out_dir} ({size / 1e6:.2f} MB); total {total_s:.0f} s "
          f"(data {data_s:.0f} s, training {train_s:.0f} s)")


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
