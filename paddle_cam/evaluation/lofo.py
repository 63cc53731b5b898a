"""Leave-one-family-out: how the field classifier and the page reader do on a document family the
classifier never saw.

For every held-out family (``Lofo.families``, default every family of ``Data.families``) a fresh
classifier is trained on the pages of the other families with the config's recipe
(:func:`paddle_cam.invoice.training.train`), its explanation method chosen on pages of its own
training families (``Explain``), and the held-out family's evaluation pages are scored as
:func:`paddle_cam.evaluation.field.family_report` does: line-level accuracy per field, pointing
game and occlusion drop, and page-level key-field accuracy of the page reader given the
classifier's probabilities.

Training pages follow :func:`paddle_cam.invoice.training.page_plan` (families in turn by seed,
the held-out one skipped), so a page of a given family is the same page in every training it is
part of: each page is rendered and detected once for all the models. Everything is seeded (pages
by their seeds, training by ``Global.seed``): two runs give the same models and numbers.

Writes ``OUT/lofo.json`` (last), ``OUT/lofo.md`` and ``OUT/models/<family>/`` (``model.pdparams``
and ``inference.yml`` of the model that held ``<family>`` out).

Example:
    >>> from paddle_cam.config import load_config                                  # doctest: +SKIP
    >>> cfg = load_config("field/train_field_cls", "configs/field/lofo.yml")     # doctest: +SKIP
    >>> report = run_lofo(cfg, "/tmp/lofo")                                        # doctest: +SKIP
    >>> report["summary"]["key_field_accuracy"]["taxi"]                           # doctest: +SKIP
    0.95
"""
from __future__ import annotations

import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .field import KEY_FIELDS, family_field_table, family_line, family_report, qa_min_classifier_prob

Log = Callable[[str], None]
Pages = List[Tuple[int, str]]   # (seed, family)

# the bar for every held-out family
TARGETS = {"key_field_accuracy": 0.90, "pointing_game": 0.90}


def held_out_families(cfg: dict) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(families, the ones held out in turn) of a config, checked; ``Data.holdout`` must be null
    (every held-out family is chosen by ``Lofo.families``)."""
    from ..config import as_list
    from ..errors import InputError
    from ..invoice.training import check_families

    d = cfg["Data"]
    if d.get("holdout") not in (None, "", "null", "none"):
        raise InputError(f"leave-one-family-out holds every family out in turn; leave Data.holdout null (it is "
                         f"{d['holdout']}) and name the held-out families in Lofo.families")
    fams, _ = check_families(d["families"], None)
    held = tuple(as_list(cfg["Lofo"].get("families"))) or fams
    for h in held:
        check_families(fams, h)  # known, one of Data.families, leaves one to train on
    if len(set(held)) != len(held):
        raise InputError(f"Lofo.families lists a family twice: {', '.join(held)}")
    return fams, held


def lofo_jobs(cfg: dict) -> Tuple[Dict[str, Pages], Pages, Dict[str, Pages]]:
    """(training pages per held-out family, the union of them in first-use order, evaluation pages
    per held-out family); pages are (seed, family)."""
    from ..errors import InputError
    from ..invoice.training import page_plan

    d = cfg["Data"]
    fams, held = held_out_families(cfg)
    train = {h: page_plan(int(d["train_seed"]), int(d["train_pages"]), fams, h) for h in held}
    union: List[Tuple[int, str]] = []
    seen = set()
    for h in held:
        for p in train[h]:
            if p not in seen:
                seen.add(p)
                union.append(p)
    ev0 = int(d["eval_seed"])
    ev = {h: [(s, h) for s in range(ev0, ev0 + int(d["eval_pages"]))] for h in held}
    tr_seeds = {s for s, _ in union}
    if tr_seeds & set(range(ev0, ev0 + int(d["eval_pages"]))):
        raise InputError(f"training seeds {min(tr_seeds)}..{max(tr_seeds)} overlap evaluation seeds {ev0}.."
                         f"{ev0 + int(d['eval_pages']) - 1}; move Data.eval_seed")
    return train, union, ev


def selection_jobs(cfg: dict, families: Sequence[str], holdout: str) -> List[Tuple[int, str]]:
    """Pages the explanation method of the model that held ``holdout`` out is chosen on: of its
    training families, from ``Explain.select_seed`` on."""
    from ..invoice.training import page_plan

    n = int(cfg["Explain"]["select_pages"])
    return page_plan(int(cfg["Explain"]["select_seed"]), n, families, holdout) if n > 0 else []


def run_lofo(cfg: dict, out_dir: str, log: Optional[Log] = None) -> dict:
    """Train one model per held-out family and score that family (see the module doc); returns
    the report also written to ``out_dir/lofo.json``."""
    from ..invoice.classifier import FieldClassifier
    from ..invoice.schema import FIELD_CLASSES
    from ..invoice.training import DATA_KEYS, cases_of, generate, select_method, train, window_spec
    from ..io import ensure_writable_dir, save_json
    from ..models.export import save_inference

    log = log or (lambda s: None)
    t0 = time.time()
    d, g = cfg["Data"], cfg["Global"]
    fams, held = held_out_families(cfg)
    train_plan, union, ev_plan = lofo_jobs(cfg)
    sel_plan = {h: selection_jobs(cfg, fams, h) for h in held}
    for h, plan in sel_plan.items():
        sel_seeds = {s for s, _ in plan}
        if sel_seeds & ({s for s, _ in union} | {s for s, _ in ev_plan[h]}):
            from ..errors import InputError

            raise InputError("Explain.select_seed pages overlap the training or evaluation seeds; move them")
    data = {k: d[k] for k in DATA_KEYS}
    data["holdout"] = None  # each training below takes only the pages of its own families
    sel_union = sorted({p for plan in sel_plan.values() for p in plan})
    jobs = ([(s, "train", data, f) for s, f in union] + [(s, "eval", data, f) for h in held for s, f in ev_plan[h]]
            + [(s, "eval", data, f) for s, f in sel_union])
    out_dir = ensure_writable_dir(out_dir)
    res = generate(jobs, max(1, int(g["workers"])), "pages")
    by_key = {(r["seed"], r["family"], r["kind"]): r for r in res}
    for (s, f), r in zip(sel_union, res[len(res) - len(sel_union):]):
        by_key[(s, f, "select")] = r  # selection pages are generated like evaluation pages
    t_data = time.time() - t0
    log(f"data: {len(union)} training pages, {sum(len(v) for v in ev_plan.values())} evaluation pages, "
        f"{len(sel_union)} selection pages ({t_data:.0f} s)")

    spec = window_spec(data)
    h_in, w_in = spec.input_hw
    results: Dict[str, dict] = {}
    for h in held:
        tr = [by_key[(s, f, "train")] for s, f in train_plan[h]]
        ev = [by_key[(s, f, "eval")] for s, f in ev_plan[h]]
        x = np.concatenate([r["x"] for r in tr])
        y = np.concatenate([r["y"] for r in tr])
        ex = np.concatenate([r["x"] for r in ev])
        ey = np.concatenate([r["y"] for r in ev])
        log(f"hold out {h}: {len(y)} training windows from {len(tr)} pages of "
            f"{', '.join(f for f in fams if f != h)}")
        t1 = time.time()
        model, curves, stats = train(cfg, x, y, ex, ey, None, log=log)
        t_train = time.time() - t1
        del x, y
        sel = select_method(model, [by_key[(s, f, "select")] for s, f in sel_plan[h]],
                            list(cfg["Explain"]["candidates"]), float(cfg["Report"]["grow_px"]), spec, log=log)
        clf = FieldClassifier(model, FIELD_CLASSES, spec)
        if sel:
            clf.default_method = sel["method"]
        extra = {"Training": {"held_out_family": h, "train_families": [f for f in fams if f != h],
                              "train_seeds": [train_plan[h][0][0], train_plan[h][-1][0]]}}
        if sel:
            extra["Explain"] = {"default_layer": sel["layer"], "default_method": sel["method"],
                                "selected_on": {"pages": [list(p) for p in sel_plan[h]],
                                                "pointing_game": sel["rates"]}}
        save_inference(model, os.path.join(out_dir, "models", h), (None, spec.channels, h_in, w_in), clf.inference_yml(extra),
                       program=False, params=True)
        t2 = time.time()
        rep = family_report(clf, cases_of(ev), float(cfg["Report"]["grow_px"]), int(cfg["Report"]["pointing_pages"]),
                            qa_min_classifier_prob())
        rep.update({"train_families": [f for f in fams if f != h], "train_pages": len(tr),
                    "train_windows": int(stats["samples"]), "steps": int(stats["steps"]),
                    "train_seconds": round(t_train, 1), "eval_seconds": round(time.time() - t2, 1),
                    "explain_method": clf.default_method, "explain_layer": clf.default_layer,
                    "selection": sel.get("rates", {}) if sel else {}, "curves": curves})
        results[h] = rep
        log(family_line(h, rep) + f"; trained in {t_train:.0f} s")
    report = {
        "protocol": "leave-one-family-out: per family, a model trained on the other families' pages, scored on "
                    "the held-out family's pages (PP-OCRv4 det + rec, the page reader given the classifier's "
                    "probabilities)",
        "families": list(fams), "held_out": list(held),
        "recipe": dict({k: dict(cfg[k]) for k in ("Data", "Model", "Train", "Explain", "Report", "Lofo")},
                       Global={"seed": g["seed"]}),
        "eval_seeds": [int(d["eval_seed"]), int(d["eval_seed"]) + int(d["eval_pages"]) - 1],
        "key_fields": list(KEY_FIELDS),
        "results": results,
        "summary": summary(results),
        "timing_s": {"data": round(t_data, 1), "train": round(sum(r["train_seconds"] for r in results.values()), 1),
                     "eval": round(sum(r["eval_seconds"] for r in results.values()), 1),
                     "total": round(time.time() - t0, 1),
                     "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_end": round(os.getloadavg()[0], 2)}},
    }
    from ..io import atomic_write_bytes

    atomic_write_bytes(os.path.join(out_dir, "lofo.md"), format_lofo_md(report).encode("utf-8"))
    save_json(os.path.join(out_dir, "lofo.json"), report)
    return report


def summary(results: Dict[str, dict]) -> dict:
    """Per held-out family: key-field accuracy, pointing game, false readings; the worst of each
    and whether the issue's targets (:data:`TARGETS`) are met on every family."""
    kfa = {h: r["reading"]["key_field_accuracy"] for h, r in results.items()}
    pg = {h: (r.get("pointing_game") or {}).get("rate") for h, r in results.items()}
    worst_k = min((v for v in kfa.values() if v is not None), default=None)
    worst_p = min((v for v in pg.values() if v is not None), default=None)
    return {"key_field_accuracy": kfa, "pointing_game": pg,
            "false_readings": {h: r["reading"]["false_readings"] for h, r in results.items()},
            "field_line_accuracy": {h: r["lines"]["field_accuracy"] for h, r in results.items()},
            "min_key_field_accuracy": worst_k, "min_pointing_game": worst_p, "targets": dict(TARGETS),
            "targets_met": bool(worst_k is not None and worst_p is not None
                                and worst_k >= TARGETS["key_field_accuracy"] and worst_p >= TARGETS["pointing_game"]
                                and all(v is not None for v in list(kfa.values()) + list(pg.values())))}


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def format_lofo_md(report: dict) -> str:
    """lofo.md: the recipe, the per-family x per-field tables (page-level reading, line-level
    decisions), pointing game / occlusion / training time per held-out model, and the first
    reading errors of every family."""
    res = report["results"]
    rc = report["recipe"]
    t = report["timing_s"]
    lines = [
        "# Leave-one-family-out: field classifier and page reading",
        "",
        report["protocol"] + ".",
        "",
        f"Recipe: {rc['Data']['train_pages']} training pages per model (families in turn by seed, the held-out "
        f"one skipped), {rc['Train']['epochs']} epochs of batch {rc['Train']['batch_size']}, lr {rc['Train']['lr']}; "
        f"{rc['Data']['eval_pages']} evaluation pages per held-out family (seeds {report['eval_seeds'][0]}.."
        f"{report['eval_seeds'][1]}), pointing game on the first {rc['Report']['pointing_pages']}. "
        f"Time: data {t['data']:.0f} s, training {t['train']:.0f} s, evaluation {t['eval']:.0f} s, total "
        f"{t['total']:.0f} s on {t['machine']['cpus']} CPUs.",
        "",
        "## Page-level key-field accuracy of the held-out family (reader + classifier)",
        "",
        "Cell: share of pages whose value of the field was read right (pages that carry it); `-`: the family "
        "does not carry the field. False readings: a value read where the page has none.",
        "",
        family_field_table(res, "reading"),
        "",
        "## Line-level accuracy of the field decisions (matched detector boxes)",
        "",
        family_field_table(res, "lines"),
        "",
        "## Explanations and training per held-out model",
        "",
        "Key fields: the reader given the classifier; without classifier: the reader alone; true text: the "
        "reader given the classifier and the ground-truth text of every matched box (recognition errors removed).",
        "",
        "| held out | key fields | without classifier | true text | pointing game | occlusion drop (own / at peak) "
        "| method | training pages | windows | training time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for h, r in res.items():
        pg, oc = r.get("pointing_game"), r.get("occlusion_check") or {}
        pgs = f"{_pct(pg['rate'])} ({pg['hits']}/{pg['total']})" if pg else "-"
        ocs = (f"{oc['mean_drop_own_regions']:.3f} / {oc['mean_drop_at_peak']:.3f}"
               if oc.get("mean_drop_own_regions") is not None else "-")
        lines.append(f"| {h} | {_pct(r['reading']['key_field_accuracy'])} | "
                     f"{_pct(r['reading_without_classifier']['key_field_accuracy'])} | "
                     f"{_pct(r['reading_true_text']['key_field_accuracy'])} | {pgs} | {ocs} | "
                     f"{r['explain_method']} | {r['train_pages']} | {r['train_windows']} | "
                     f"{r['train_seconds']:.0f} s |")
    s = report["summary"]
    lines += ["", f"Targets (every held-out family): key-field accuracy >= {_pct(s['targets']['key_field_accuracy'])}, "
                  f"pointing game >= {_pct(s['targets']['pointing_game'])}; worst: key fields "
                  f"{_pct(s['min_key_field_accuracy'])}, pointing game {_pct(s['min_pointing_game'])} -> "
                  f"{'met' if s['targets_met'] else 'not met'}.", "", "## Reading errors (first of each family)", ""]
    for h, r in res.items():
        errs = r["reading"]["errors"][:8]
        lines.append(f"- {h}: " + ("none" if not errs else "; ".join(
            f"{e['seed']} {e['field']}: read {e['read']!r}, true {e['truth']!r}" for e in errs)))
    return "\n".join(lines) + "\n"
