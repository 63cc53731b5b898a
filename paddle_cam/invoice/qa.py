"""Invoice-recognition QA for one page: detect, read, decide fields, explain, flag."""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from ..geometry import grown_polygon, polygon_mask
from ..ocr.pipeline import Box, TextPipeline
from ..ocr.regions import energy_in_box, region_shares
from .crosscheck import CheckResult, cross_check
from .matching import match_detections
from .reading import PageReading, expected_fields, page_truth, read_fields, score_reading
from .schema import field_of_line


@dataclass
class PageQA:
    """QA result of one upright page."""

    name: str
    page: np.ndarray                    # BGR, upright
    rotation: int                       # degrees the input was turned clockwise to be upright
    boxes: List[Box]
    fields: List[str]                   # decided field per box
    field_probs: np.ndarray             # (n_boxes, classes)
    explained: Dict[int, dict] = field(default_factory=dict)   # box id -> page map, shares, peak
    flags: List[dict] = field(default_factory=list)
    seconds: float = 0.0
    reading: Optional[PageReading] = None    # one value per field (paddle_cam.invoice.reading)
    checks: List[CheckResult] = field(default_factory=list)   # cross-checks of the reading
    rec_explained: Dict[int, dict] = field(default_factory=dict)  # box id -> {"field", "line": LineExplanation}


class InvoiceQA:
    """The text pipeline (with its line orientation classifier) and the field classifier, run
    page by page.

    Args:
        pipeline: detects and reads; its ``line_clf`` decides 180-degree turns.
        field_clf: the field classifier (``paddle_cam.invoice.classifier.FieldClassifier``).
        qa_cfg: the ``QA`` section of ``configs/qa.yml`` (flag thresholds, expected fields, the
            reader's ``min_classifier_prob`` and the cross-checks' ``reference_date``).
        explain_cfg: the ``Explain`` section (which decisions to explain, method, layers, and the
            recognition of field values: ``rec_chars``, ``rec_min_confidence``, ``rec_max_chars``).
        rec_explainer: a :class:`paddle_cam.ocr.rec_explain.RecExplainer` on the pipeline's
            recogniser; with it the low-confidence characters of every value read are explained.
    """

    def __init__(self, pipeline: TextPipeline, field_clf, qa_cfg: Optional[dict] = None,
                 explain_cfg: Optional[dict] = None, rec_explainer=None):
        self.pipeline = pipeline
        self.field_clf = field_clf
        self.qa = dict(qa_cfg or {})
        self.ex = dict(explain_cfg or {})
        self.rec_explainer = rec_explainer

    def run_page(self, name: str, page: np.ndarray, fix_orientation: bool = True) -> PageQA:
        """Detect, read, decide, explain (per the explain mode) and flag one page."""
        t0 = time.perf_counter()
        ocr = self.pipeline.upright(page) if fix_orientation else self.pipeline.detect(page)
        page, boxes = ocr.image, ocr.boxes
        labels = list(self.field_clf.labels)
        if boxes:
            probs = self.field_clf.predict(self.field_clf.prepare(page, [b.polygon for b in boxes], boxes))
        else:
            probs = np.zeros((0, len(labels)), np.float32)
        fields = [labels[int(i)] for i in probs.argmax(axis=1)] if len(boxes) else []
        res = PageQA(name, page, ocr.rotation, boxes, fields, probs)
        res.reading = read_fields(boxes, probs, labels, page.shape[:2],
                                  min_classifier_prob=float(self.qa.get("min_classifier_prob", 0.5)))
        cap = res.reading.extras.get("total_capital")
        res.checks = cross_check(res.reading.values(), cap.raw if cap else None, today=self.reference_date())
        self._explain(res)
        self._explain_characters(res)
        self._flag(res)
        res.seconds = time.perf_counter() - t0
        return res

    def reference_date(self) -> _dt.date:
        """The date an invoice date must not come after: ``QA.reference_date`` (YYYY-MM-DD), else today."""
        ref = self.qa.get("reference_date")
        return _dt.date.fromisoformat(str(ref)) if ref else _dt.date.today()

    def _to_explain(self, res: PageQA) -> List[int]:
        mode = str(self.ex.get("mode", "low_confidence"))
        cand = [i for i, f in enumerate(res.fields) if f != "other"]
        if mode == "none" or not cand:
            return []
        if mode == "all":
            return cand
        if mode == "sample":
            # seeded per page name: the same pages get the same sample on every run
            rng = np.random.RandomState((int(self.ex.get("seed", 0)) + sum(map(ord, res.name))) % 2 ** 32)
            k = int(np.ceil(float(self.ex.get("sample_fraction", 0.1)) * len(cand)))
            return sorted(rng.choice(cand, size=min(k, len(cand)), replace=False).tolist())
        thr = float(self.qa.get("min_field_prob", 0.8))
        return [i for i in cand if res.field_probs[i].max() < thr]

    def _explain_characters(self, res: PageQA) -> None:
        """Why was this character read? The low-confidence characters of each value read."""
        from ..ocr.rec_explain import explain_low_confidence

        if self.rec_explainer is None or res.reading is None or self.ex.get("rec_chars", "low") == "none":
            return
        by_id = {b.id: b for b in res.boxes}
        for f, v in res.reading.fields.items():
            b = by_id.get(v.box_id)
            if b is None or b.id in res.rec_explained:
                continue
            line = explain_low_confidence(self.rec_explainer, res.page, b.polygon, b.text or "", tuple(v.span),
                                          float(self.ex.get("rec_min_confidence", 0.9)),
                                          int(self.ex.get("rec_max_chars", 4)))
            if line is not None:
                res.rec_explained[b.id] = {"field": f, "line": line}

    def _explain(self, res: PageQA) -> None:
        idx = self._to_explain(res)
        if not idx:
            return
        polys = [res.boxes[i].polygon for i in idx]
        class_ids = [int(res.field_probs[i].argmax()) for i in idx]
        out = self.field_clf.explain(res.page, polys, method=self.ex.get("method"),
                                     layers=self.ex.get("layers"), class_ids=class_ids, page_boxes=res.boxes)
        all_polys = [b.polygon for b in res.boxes]
        ids = [b.id for b in res.boxes]
        # which read labels each decision rests on (a model with label planes): box index -> box id
        evidence = self.field_clf.label_evidence(res.page, polys, res.boxes, class_ids)
        for ev in evidence:
            for d in ev.get("labels", []):
                d["box_id"] = ids[d.pop("box")]
        for i, r, ev in zip(idx, out, evidence):
            raw = np.maximum(np.asarray(r.page_raw, np.float32), 0)
            res.explained[res.boxes[i].id] = {
                "page_raw": raw, "class_id": int(r.class_id),
                "regions": region_shares(raw, all_polys, ids),
                "own_share": energy_in_box(raw, res.boxes[i].polygon),
                "peak": [int(v) for v in np.unravel_index(int(np.argmax(raw)), raw.shape)[::-1]],
                "label_evidence": ev or None,
            }

    def _flag(self, res: PageQA) -> None:
        q = self.qa
        reading = res.reading if res.reading is not None else PageReading("empty")
        res.flags.extend(reading.flags)   # no_text / not_invoice
        for f in expected_fields(reading, q.get("expected_fields", [])):
            if f not in reading.fields:
                res.flags.append({"kind": "missing_field", "field": f})
            elif reading.fields[f].value is None:   # a label was read, its value does not parse
                res.flags.append({"kind": "missing_field", "field": f, "raw": reading.fields[f].raw})
        for c in res.checks:
            if c.ok is False:
                res.flags.append({"kind": "crosscheck", "check": c.check, "field": c.fields[0], "fields": c.fields,
                                  "readings": c.readings, "message": c.message})
        for i, b in enumerate(res.boxes):
            if b.score < float(q.get("min_det_score", 0.7)):
                res.flags.append({"kind": "low_det", "box_id": b.id, "score": round(b.score, 4)})
            if b.text_score is not None and b.text_score < float(q.get("min_rec_score", 0.8)):
                res.flags.append({"kind": "low_rec", "box_id": b.id, "score": round(b.text_score, 4), "text": b.text})
            p = float(res.field_probs[i].max())
            if res.fields[i] != "other" and p < float(q.get("min_field_prob", 0.8)):
                res.flags.append({"kind": "low_field", "box_id": b.id, "field": res.fields[i], "prob": round(p, 4)})
        for box_id, e in res.explained.items():
            if e["own_share"] < float(q.get("looked_elsewhere_share", 0.5)):
                regs = e["regions"]
                top = max(regs["regions"], key=lambda r: r["share"], default=None)
                looked = top["box_id"] if top and top["share"] > regs["background"] else "background"
                res.flags.append({"kind": "looked_elsewhere", "box_id": box_id, "field": res.fields[box_id],
                                  "own_share": round(e["own_share"], 4), "looked_at": looked})


def redact(page_bgr: np.ndarray, keep_polygons: Sequence, margin: int = 4) -> np.ndarray:
    """Make everything but ``keep_polygons`` (grown by ``margin`` px) unreadable, so exported images
    show no text the explanation did not use: the page is averaged over blocks of about a text
    line's height (a 60th of the short side, at least 12 px) and smoothed; a Gaussian blur of
    that size left large print legible to the recogniser (``tests/test_qa_invoices.py``)."""
    h, w = page_bgr.shape[:2]
    keep = np.zeros((h, w), np.uint8)
    for p in keep_polygons:
        keep = np.maximum(keep, polygon_mask(p, (h, w)).astype(np.uint8))
    if margin:
        keep = cv2.dilate(keep, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    f = max(12, min(h, w) // 60)
    small = cv2.resize(page_bgr, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), (0, 0), f / 2)
    return np.where(keep[:, :, None] > 0, page_bgr, blurred)


def match_boxes_to_gt(box_polys: Sequence, gt_lines: Sequence[dict], iou: float = 0.5) -> Dict[int, int]:
    """Greedy one-to-one match of detected boxes to ground-truth lines by polygon IoU:
    {box index: line index} (see :func:`paddle_cam.invoice.matching.match_detections`)."""
    m = match_detections(box_polys, gt_lines, iou)
    return {i: j for i, j in enumerate(m) if j is not None}


def score_against_gt(res: PageQA, gt: dict) -> Dict[str, int]:
    """Field accuracy on matched boxes (one-to-one, grown ground-truth polygons), the pointing
    game of explained decisions (the map's peak inside a ground-truth line of the decided field,
    grown by 4 px): counts, so a corpus sums them; and ``fields``, the page reading against the
    page-level truth (:func:`paddle_cam.invoice.reading.page_truth`), per field."""
    lines = gt["lines"]
    match = match_boxes_to_gt([b.polygon for b in res.boxes], lines)
    correct = sum(1 for i, j in match.items() if res.fields[i] == field_of_line(lines[j]))
    hits = n_point = 0
    for box_id, e in res.explained.items():
        i = next(k for k, b in enumerate(res.boxes) if b.id == box_id)
        if i not in match or field_of_line(lines[match[i]]) == "other":
            continue
        want = res.fields[i]
        x, y = e["peak"]
        n_point += 1
        for line in lines:
            if field_of_line(line) == want:
                m = polygon_mask(grown_polygon(line["polygon"], 4), res.page.shape[:2])
                if m[min(y, m.shape[0] - 1), min(x, m.shape[1] - 1)] > 0:
                    hits += 1
                    break
    out = {"matched_boxes": len(match), "field_correct": correct, "pointing_hits": hits, "pointing_n": n_point}
    if res.reading is not None:
        out["fields"] = score_reading(res.reading, page_truth(gt))
    return out
