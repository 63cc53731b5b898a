"""Explanation quality on the invoice field classifier: per-line records on held-out invoices.

Pages are generated from held-out seeds (never trained on), detected and matched exactly as
:mod:`paddle_cam.invoice.pointing` does (``make_case``); the lines are a seeded sample of matched
boxes whose true field is not ``other``, and the predicted class is explained on the
classifier's own input window. Localisation is measured on the page, as
``pointing.pointing_game`` does it.
"""
from __future__ import annotations

import time
from typing import List, Sequence, Tuple

import numpy as np

from .scoring import score_method


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
    """Per-line records for the field classifier ``clf`` on held-out generated invoices (seeds
    ``cfg['field_seed']`` on). The input map is pasted onto the line's window
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
