"""The invoice field classifier on held-out pages: per-family scores, and per-line explanation records.

:func:`family_report` scores one document family's held-out pages the way the QA tool meets them
(PP-OCRv4 det boxes matched one-to-one to ground truth, read by the bundled PP-OCRv4 rec):

- ``lines``: line-level accuracy per field (:func:`paddle_cam.invoice.pointing.evaluate`);
- ``pointing_game`` on the field's own value / label and ``occlusion_check`` (one set of
  explanations of the model's default method and layer);
- ``reading``: page-level key-field accuracy of :func:`paddle_cam.invoice.reading.read_fields`,
  given the classifier's probabilities, against :func:`~paddle_cam.invoice.reading.page_truth`
  (:func:`reading_scores`): a field the page does not carry is not scored, but a value read
  where the truth has none (a tax id off a taxi receipt) is a ``false_reading``; the same without
  the classifier (``reading_without_classifier``) says what the classifier adds, and with the
  ground-truth text in every matched box (``reading_true_text``) what recognition costs.

:func:`evaluate_field` (``tools/evaluate_explanations.py --task field``): pages are generated
from held-out seeds (never trained on), detected and matched exactly as
:mod:`paddle_cam.invoice.pointing` does (``make_case``); the lines are a seeded sample of matched
boxes whose true field is not ``other``, and the predicted class is explained on the
classifier's own input window. Localisation is measured on the page, as
``pointing.pointing_game`` does it.
"""
from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .scoring import score_method

# the fields a page is read for: the schema's, without 'other'
KEY_FIELDS: Tuple[str, ...] = ("invoice_code", "invoice_number", "date", "check_code", "buyer_name", "buyer_tax_id",
                               "seller_name", "seller_tax_id", "amount", "tax_rate", "tax", "total")


def qa_min_classifier_prob() -> float:
    """The page reader's ``min_classifier_prob`` as the QA tool uses it (``configs/qa.yml``
    ``QA.min_classifier_prob``): the evaluation reads pages as ``qa_invoices.py`` does."""
    from ..config import load_config

    return float(load_config("qa")["QA"]["min_classifier_prob"])


def read_case(clf, case, min_classifier_prob: float = 0.5, use_classifier: bool = True, true_text: bool = False):
    """:func:`paddle_cam.invoice.reading.read_fields` of a read :class:`~paddle_cam.invoice.pointing.PageCase`
    (its detected boxes and recognised texts), given the classifier's probabilities of every box
    (``use_classifier``) as the QA tool gives them. ``true_text``: a box matched to a ground-truth
    line that holds no part of another line (the detector merged no label into it) carries that
    line's text instead of the recognised one (what the reader does with perfect recognition)."""
    from ..invoice.reading import read_fields
    from ..ocr.pipeline import Box

    if case.texts is None:
        raise ValueError(f"page {case.seed} was not read (make_case(..., read=True) or eval page_samples)")
    texts = list(case.texts)
    if true_text:
        texts = [(case.gt["lines"][j]["text"], 1.0) if j is not None and _holds_one_line(poly, case.gt["lines"], j)
                 else t for t, j, poly in zip(texts, case.match, case.det_polygons)]
    boxes = [Box(i, [list(map(float, pt)) for pt in poly], 1.0, text, score)
             for i, (poly, (text, score)) in enumerate(zip(case.det_polygons, texts))]
    probs = None
    if use_classifier and boxes:
        probs = clf.predict(clf.prepare(case.page, case.det_polygons, case.page_boxes))
    return read_fields(boxes, probs, list(clf.labels) if probs is not None else None, case.page.shape[:2],
                       min_classifier_prob=min_classifier_prob)


def _holds_one_line(polygon, lines: Sequence[dict], j: int, max_share: float = 0.1) -> bool:
    """No ground-truth line but ``j`` has more than ``max_share`` of its area inside ``polygon``
    (a label the detector merged into the box, even in part, as "期：" of "日期：")."""
    from shapely.geometry import Polygon

    box = Polygon(np.asarray(polygon, np.float64).reshape(-1, 2)).buffer(0)
    for k, ln in enumerate(lines):
        if k != j:
            other = Polygon(np.asarray(ln["polygon"], np.float64).reshape(-1, 2)).buffer(0)
            if other.area > 0 and box.intersects(other) and box.intersection(other).area > max_share * other.area:
                return False
    return True


def score_readings(read: Sequence[Dict[str, Optional[str]]], truth: Sequence[Dict[str, str]],
                   seeds: Optional[Sequence[int]] = None, keep_errors: int = 20) -> dict:
    """Per key field: ``n`` pages whose truth has it, ``correct``, ``accuracy`` (None without
    pages), ``missed`` (nothing read), ``wrong`` (another value) and ``false_readings`` (read on a
    page whose truth has none); overall ``key_field_accuracy`` (correct / n over all fields) and
    the first ``keep_errors`` errors as ``{seed, field, truth, read}``.

    >>> r = score_readings([{"date": "2024-01-02", "buyer_tax_id": "X"}], [{"date": "2024-01-02"}])
    >>> r["per_field"]["date"]["accuracy"], r["per_field"]["buyer_tax_id"]["false_readings"], r["key_field_accuracy"]
    (1.0, 1, 1.0)
    """
    per = {f: {"n": 0, "correct": 0, "missed": 0, "wrong": 0, "false_readings": 0} for f in KEY_FIELDS}
    errors = []
    for k, (r, t) in enumerate(zip(read, truth)):
        for f in KEY_FIELDS:
            tv, rv = t.get(f), r.get(f)
            if tv is None:
                if rv is not None:
                    per[f]["false_readings"] += 1
            else:
                per[f]["n"] += 1
                if rv == tv:
                    per[f]["correct"] += 1
                else:
                    per[f]["missed" if rv is None else "wrong"] += 1
            if (tv is not None or rv is not None) and rv != tv and len(errors) < keep_errors:
                errors.append({"seed": int(seeds[k]) if seeds is not None else k, "field": f, "truth": tv, "read": rv})
    for v in per.values():
        v["accuracy"] = v["correct"] / v["n"] if v["n"] else None
    n = sum(v["n"] for v in per.values())
    return {"pages": len(truth), "fields_scored": n,
            "key_field_accuracy": sum(v["correct"] for v in per.values()) / n if n else None,
            "false_readings": sum(v["false_readings"] for v in per.values()), "per_field": per, "errors": errors}


def reading_scores(clf, cases: Sequence, min_classifier_prob: float = 0.5, use_classifier: bool = True,
                   keep_errors: int = 20, true_text: bool = False) -> dict:
    """:func:`score_readings` of :func:`read_case` on every case against its page truth."""
    from ..invoice.reading import page_truth

    reads = [read_case(clf, c, min_classifier_prob, use_classifier, true_text).values() for c in cases]
    return score_readings(reads, [page_truth(c.gt) for c in cases], [c.seed for c in cases], keep_errors)


def family_report(clf, cases: Sequence, grow_px: float = 4.0, pointing_pages: Optional[int] = None,
                  min_classifier_prob: float = 0.5) -> dict:
    """Scores of ``clf`` on the read held-out pages ``cases`` of one family (see the module doc):
    ``lines``, ``pointing_game`` and ``occlusion_check`` (on the first ``pointing_pages`` pages;
    None = all, 0 = none), ``reading``, ``reading_without_classifier``, ``reading_true_text`` and
    ``seconds``."""
    from ..invoice.pointing import evaluate, explain_cases, occlusion_check, pointing_game

    t0 = time.time()
    out = {"pages": [int(c.seed) for c in cases], "lines": evaluate(clf, cases)}
    pcases = list(cases if pointing_pages is None else cases[:int(pointing_pages)])
    if pcases:
        explained = explain_cases(clf, pcases)
        out["pointing_game"] = pointing_game(clf, pcases, grow_px=grow_px, explained=explained)
        out["occlusion_check"] = occlusion_check(clf, pcases, explained=explained)
        if clf.reads_labels:
            out["label_check"] = label_check(clf, pcases)
    out["reading"] = reading_scores(clf, cases, min_classifier_prob)
    out["reading_without_classifier"] = _accuracies(
        reading_scores(clf, cases, min_classifier_prob, use_classifier=False, keep_errors=0))
    out["reading_true_text"] = _accuracies(reading_scores(clf, cases, min_classifier_prob, keep_errors=0, true_text=True))
    out["seconds"] = round(time.time() - t0, 1)
    return out


def _accuracies(scores: dict) -> dict:
    """The accuracies of :func:`score_readings` output, without the counts and errors."""
    return {"key_field_accuracy": scores["key_field_accuracy"], "false_readings": scores["false_readings"],
            "per_field": {f: v["accuracy"] for f, v in scores["per_field"].items()}}


def label_check(clf, cases: Sequence, min_drop: float = 0.05) -> dict:
    """Which text drove the decisions of a classifier with label planes, on matched field lines
    decided right: ``reliance``, the mean fall of the decided probability when no label is read
    (the image alone); ``rests_on_label``, the share of decisions that some single label moves by
    ``min_drop`` or more; ``label_hit``, among those, the share whose most important label names
    the decided field (its kind or its party: 发票号码 for an invoice number, 销售方 for a seller's
    tax id). A model reading the wrong label (号码 for a date) fails the last one."""
    from ..invoice.label_context import field_kinds

    n = rests = hits = 0
    reliance = []
    for case in cases:
        pairs = [(i, j) for i, j in case.matched if case.true_field(j) != "other"]
        if not pairs:
            continue
        polys = [case.det_polygons[i] for i, _ in pairs]
        for (i, j), ev in zip(pairs, clf.label_evidence(case.page, polys, case.page_boxes)):
            if ev.get("field") != case.true_field(j):
                continue
            n += 1
            reliance.append(ev["prob"] - ev["without_labels"])
            top = ev["labels"][0] if ev["labels"] else None
            if top is not None and top["drop"] >= min_drop:
                rests += 1
                hits += bool(set(top["kinds"]) & set(field_kinds(ev["field"])))
    return {"lines": n, "reliance": float(np.mean(reliance)) if reliance else None,
            "rests_on_label": rests / n if n else None, "label_hit": hits / rests if rests else None,
            "min_drop": min_drop}


def families_report(clf, cases: Sequence, grow_px: float = 4.0, pointing_pages: Optional[int] = None,
                    min_classifier_prob: float = 0.5, log=None) -> Dict[str, dict]:
    """:func:`family_report` of every family among ``cases`` (in order of first appearance)."""
    groups: Dict[str, list] = {}
    for c in cases:
        groups.setdefault(c.family, []).append(c)
    out = {}
    for fam, cs in groups.items():
        out[fam] = family_report(clf, cs, grow_px, pointing_pages, min_classifier_prob)
        if log is not None:
            log(family_line(fam, out[fam]))
    return out


def reading_report(seeds: Sequence[int], families: Sequence[str], detect=None, log=None) -> Dict[str, dict]:
    """The page reader alone (no field classifier) on freshly generated pages of each family:
    ``{family: {"reading": ..., "reading_true_text": ...}}`` (:func:`reading_scores` with OCR, and
    with the true text in every matched box). Pages are detected and read as the QA tool does
    (:class:`~paddle_cam.invoice.pointing.PageDetector`); :func:`family_field_table` prints it.

    Example:
        >>> reps = reading_report(range(90000, 90006), ["vat_special", "digital"])   # doctest: +SKIP
        >>> print(family_field_table(reps))                                            # doctest: +SKIP
    """
    from ..invoice.pointing import PageDetector, make_case

    detect = detect or PageDetector()
    out = {}
    for fam in families:
        cases = [make_case(int(s), detect, family=fam, read=True) for s in seeds]
        out[fam] = {"reading": reading_scores(None, cases, use_classifier=False),
                    "reading_true_text": reading_scores(None, cases, use_classifier=False, true_text=True)}
        if log is not None:
            log(f"{fam}: key fields {_pct(out[fam]['reading']['key_field_accuracy'])} "
                f"(true text {_pct(out[fam]['reading_true_text']['key_field_accuracy'])})")
    return out


def _pct(v: Optional[float]) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def family_line(family: str, rep: dict) -> str:
    """One line of a family's scores: key fields read right, line accuracy, pointing game, occlusion."""
    pg, oc = rep.get("pointing_game"), rep.get("occlusion_check")
    rd = rep["reading"]
    s = (f"{family}: key fields {_pct(rd['key_field_accuracy'])} of {rd['fields_scored']} "
         f"(without classifier {_pct(rep['reading_without_classifier']['key_field_accuracy'])}, with true text "
         f"{_pct(rep['reading_true_text']['key_field_accuracy'])}), "
         f"{rd['false_readings']} false readings; field lines {_pct(rep['lines']['field_accuracy'])} of "
         f"{rep['lines']['field_lines']}")
    if pg:
        s += f"; pointing game {_pct(pg['rate'])} of {pg['total']}"
    if oc and oc["mean_drop_own_regions"] is not None:
        s += f"; occlusion drop {oc['mean_drop_own_regions']:.3f}"
    lc = rep.get("label_check")
    if lc and lc["lines"]:
        s += (f"; labels: reliance {lc['reliance']:.2f}, rests on a label {_pct(lc['rests_on_label'])}, "
              f"the right label {_pct(lc['label_hit'])}")
    return s


def family_field_table(reports: Dict[str, dict], what: str = "reading") -> str:
    """A markdown table, a row per family and a column per key field: the page-level accuracy
    (``what="reading"``) or the line-level accuracy (``what="lines"``) with its count, ``-`` where
    the family's pages do not carry the field; the last columns: all key fields, and false readings
    (reading) or the recall of ``other`` (lines: boxes that carry no field and must not get one)."""
    cols = list(KEY_FIELDS)
    head = "| family | " + " | ".join(cols) + (" | all | false readings |" if what == "reading" else " | all | other |")
    rows = [head, "|" + "---|" * (len(cols) + 3)]
    for fam, rep in reports.items():
        cells = []
        if what == "reading":
            per = rep["reading"]["per_field"]
            for f in cols:
                cells.append("-" if not per[f]["n"] else f"{_pct(per[f]['accuracy'])} ({per[f]['n']})")
            cells += [_pct(rep["reading"]["key_field_accuracy"]), str(rep["reading"]["false_readings"])]
        else:
            per = rep["lines"]["per_field"]
            for f in cols:
                cells.append("-" if not per[f]["n"] else f"{_pct(per[f]['accuracy'])} ({per[f]['n']})")
            oth = per.get("other", {})
            cells += [_pct(rep["lines"]["field_accuracy"]),
                      f"{_pct(oth['accuracy'])} ({oth['n']})" if oth.get("n") else "-"]
        rows.append(f"| {fam} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


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
    """Per-line records for the field classifier ``clf`` on held-out generated pages (seeds
    ``cfg['field_seed']`` on, each of the family its seed draws). The input map is pasted onto the line's window
    (``clf.map_to_page``), its peak classified with ``pointing.where_is`` and its positive mass
    shared out over ``pointing.own_regions``."""
    from ..invoice.baselines import field_baseline
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
        batch = np.asarray(clf.prepare(case.page, polys, case.page_boxes), np.float32)
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
