"""Explanation quality on the DB text detector: per-line records on labelled invoices.

Lines are detected boxes matched one-to-one to ground-truth lines (grown like DB boxes,
:func:`paddle_cam.invoice.matching.match_detections`), a seeded sample per page. With
``context: window`` the detector runs on the page input cropped to each line plus ``margin``
input pixels (stride-aligned): a forward then costs about a tenth of a full page, which is what
makes perturbation metrics and black-box methods affordable on a CPU. The DB detector is fully
convolutional, so the window is a valid input; the RSE neck's squeeze-excitation pooling sees the
whole input, so box scores on a window differ a little from the page's (``window_score_shift``
records by how much).
"""
from __future__ import annotations

import os
import time
import zlib
from typing import List, Sequence, Tuple

import numpy as np

from .scoring import rise_grid, score_method

DET_STRIDE = 32        # the detector's input stride: windows are multiples of it
NEIGHBOURHOOD = 1.5    # a line's neighbourhood: its box grown by this many text heights (+ 2 px)


def matched_lines(boxes: Sequence, gt_lines: Sequence[dict]) -> List[Tuple[int, dict, float]]:
    """(detected box index, its ground-truth line, IoU with the grown line) of every box the one
    matching protocol pairs with a line."""
    from ..geometry import polygon_iou
    from ..invoice.matching import detector_like_polygon, match_detections

    polys = [b.polygon for b in boxes]
    out = []
    for i, j in enumerate(match_detections(polys, gt_lines)):
        if j is not None:
            out.append((i, gt_lines[j], polygon_iou(polys[i], detector_like_polygon(gt_lines[j]["polygon"]))))
    return out


def evaluate_det(pages: Sequence[Tuple[str, str]], cfg: dict, pipeline=None, log=print) -> dict:
    """Per-line records and timing for a DB detector on ``pages`` ((image, ground-truth JSON)
    pairs); ``cfg`` is the run's flat settings; ``pipeline`` a :class:`~paddle_cam.ocr.pipeline.TextPipeline`
    (None: the bundled PP-OCRv4 mobile det with its default processing). The randomisation cascade
    is the detector family's (:func:`~paddle_cam.models.det_families.randomization_cascade`)."""
    from ..datasets.ground_truth import load_ground_truth
    from ..geometry import box_height, box_window
    from ..io import read_image
    from ..metrics.faithfulness import deletion_insertion, endpoint_scores, target_score_fn
    from ..metrics.localization import energy_pointing_game, pointing_game
    from ..models.det_families import randomization_cascade
    from ..ocr.explain import resolve_layers
    from ..ocr.targets import DBBoxTarget, DRiseBoxTarget

    if pipeline is None:
        from ..models.det import load_detector
        from ..ocr.db_postprocess import DBPostProcess
        from ..ocr.det_preprocess import DetPreprocess
        from ..ocr.pipeline import TextPipeline

        pipeline = TextPipeline(load_detector(), DetPreprocess(), DBPostProcess())
    det = pipeline.detector
    cascade = randomization_cascade(det.model, det.arch)
    layers = resolve_layers(det, cfg["layers"])
    records, shifts, timing = [], [], {}
    for path, _ in pages:
        name = os.path.splitext(os.path.basename(path))[0]
        t_page = time.time()
        page = pipeline.detect(read_image(path), recognize=False)
        gt = load_ground_truth(path)
        matches = matched_lines(page.boxes, gt["lines"])
        rng = np.random.RandomState(cfg["seed"] + zlib.crc32(name.encode()) % 10000)
        if not matches:
            log(f"{name}: no detected box matches a ground-truth line; skipped")
            continue
        pick = rng.choice(len(matches), min(cfg["boxes"], len(matches)), replace=False)
        chw, prob, hw = page.batch[0], page.prob, page.input_hw
        for rank, mi in enumerate(sorted(pick)):
            bi, line, iou = matches[mi]
            poly = page.to_input(page.boxes[bi].polygon)
            gt_poly = page.info.points_to_input(np.asarray(line["polygon"], np.float64))
            if cfg["context"] == "window":
                x0, y0, x1, y1 = box_window(poly, hw, min_pad=cfg["margin"], whole_pad=True, multiple=DET_STRIDE)
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
            scorer = DRiseBoxTarget(poly_w, pipeline.post, box_id=bi) if cfg["score"] == "box_similarity" else target
            score_fn = target_score_fn(det.model, scorer)
            fill = cfg["baseline_fill"]
            ends = endpoint_scores(x[0], score_fn, fill)
            region = box_window(poly_w, whw, grow=NEIGHBOURHOOD, extra=2)
            line_domain = np.zeros(whw, bool)
            line_domain[region[1]:region[3], region[0]:region[2]] = True
            ends_line = endpoint_scores(x[0], score_fn, fill, line_domain)
            local = dict(cfg, rise_grid=rise_grid(region, max(4, int(round(box_height(poly_w) / 2)))))
            sanity = rank < cfg["sanity_boxes"]
            for method in cfg["methods"]:
                raw, common = score_method(method, det.model, layers, local, x, target, score_fn, fill, ends, rng,
                                           cascade, sanity, region)
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
           "model": det.name, "layers": layers, "cascade": cascade,
           "pointing_game": "peak of the box's map inside its own ground-truth line grown by half its height"}
    if shifts:
        out["window_score_shift"] = {"mean_abs": float(np.mean(np.abs(shifts))), "max_abs": float(np.max(np.abs(shifts))),
                                     "note": "box score on the window minus on the full page"}
    return out
