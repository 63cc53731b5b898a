"""Field decisions on held-out invoices: accuracy, explanations on the page, the pointing game,
region attribution, and the spurious cue of the shortcut-learning demonstration.

Every evaluation runs the way the QA tool does: the page is detected with the PP-OCRv4 DB
detector and each detected box is matched one-to-one to a ground-truth line (grown like a DB box,
:func:`~.matching.match_detections`) by IoU >= 0.5;
only matched boxes are scored (unmatched boxes - a label and a value the generator drew as two
lines but the detector merged, split labels, stamp arcs - have no single true field). A
ground-truth line that holds its label and its value (``value_span``) is a value line of its
field: the classifier labels the box, the page reader splits it. ``coverage`` reports how many
ground-truth field values got a match.

Pages come from every document family (:func:`paddle_cam.datasets.invoices.render_document`);
a field's label is the label line(s) of the same field or the label part of a merged line.

The pointing game is a measurement, not an assumption: a classifier can be accurate for other
reasons than reading the label next to a value (row order in a block, column position, grid
lines). ``peak_at`` says where the peaks went and :func:`occlusion_check` whether blanking the
line and its labels or blanking the region at the map's peak hurts the decision more.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..geometry import box_height, grown_polygon
from ..ocr.regions import region_shares
from .classifier import FieldClassifier
from .explanation import FieldExplanation
from .matching import IOU_THRESH, match_detections
from .reading import span_polygon
from .schema import FIELD_CLASSES, FIELD_ZH, GENERATOR_TO_FIELD, field_of_line


@dataclass
class PageCase:
    """A held-out page with its detected boxes matched to ground truth (``texts``: the boxes'
    recognised texts, when the page was read)."""

    seed: int
    page: np.ndarray
    gt: dict
    det_polygons: List[List[List[float]]]
    match: List[Optional[int]]               # per detected box: ground-truth line index or None
    cue_lines: List[Tuple[int, int]] = field(default_factory=list)   # (line, cue class) of drawn cues
    texts: Optional[List[Tuple[str, float]]] = None                  # per detected box: (text, score)

    @property
    def family(self) -> str:
        """The page's document family (``gt["family"]``)."""
        return str(self.gt.get("family", ""))

    @property
    def page_boxes(self) -> List[Tuple[List[List[float]], str]]:
        """``(polygon, text)`` of every detected box: the recognised text when the page was read,
        else the matched ground-truth line's text (a perfect reading); what a field classifier with
        label planes reads."""
        if self.texts is not None:
            return [(p, t[0] if isinstance(t, (tuple, list)) else t) for p, t in zip(self.det_polygons, self.texts)]
        return [(p, self.gt["lines"][j].get("text", "") if j is not None else "")
                for p, j in zip(self.det_polygons, self.match)]

    @property
    def matched(self) -> List[Tuple[int, int]]:
        """(detected box index, ground-truth line index) of every matched box."""
        return [(i, j) for i, j in enumerate(self.match) if j is not None]

    def true_field(self, gt_index: int) -> str:
        """Schema field of ground-truth line ``gt_index``."""
        return field_of_line(self.gt["lines"][gt_index])


class PageDetector:
    """Detected line polygons of a page (page pixels, post-process order): PP-OCRv4 mobile DB with
    the QA tool's pre- and post-processing (``configs/qa.yml`` ``PreProcess`` / ``PostProcess``),
    the boxes the field classifier is trained and scored on. :meth:`read` also recognises them
    with the bundled PP-OCRv4 recogniser (loaded on first use), as the QA tool does.

    Args:
        detector: a :class:`paddle_cam.models.det.Detector`; None loads the bundled weights.
        recognizer: a :class:`paddle_cam.ocr.rec.TextRecognizer`; None loads the bundled one when
            :meth:`read` is first called.
        processing: ``{"PreProcess": {...}, "PostProcess": {...}}`` overrides of the detector's
            own processing (null keys keep the model's value); None reads ``configs/qa.yml``.

    Example:
        >>> det = PageDetector()                                     # doctest: +SKIP
        >>> polys = det(page_bgr)                                    # doctest: +SKIP
        >>> polys, texts = det.read(page_bgr)                        # doctest: +SKIP
        >>> texts[0]                                                 # doctest: +SKIP
        ('增值税专用发票', 0.998)
    """

    def __init__(self, detector=None, recognizer=None, processing: Optional[dict] = None):
        from ..config import load_config
        from ..models.det import load_detector
        from ..ocr.db_postprocess import DBPostProcess
        from ..ocr.det_preprocess import DetPreprocess
        from ..ocr.pipeline import TextPipeline

        det = detector or load_detector()
        cfg = load_config("qa") if processing is None else processing
        self.pipeline = TextPipeline(det, DetPreprocess.for_detector(det, **(cfg.get("PreProcess") or {})),
                                     DBPostProcess.for_detector(det, **(cfg.get("PostProcess") or {})), recognizer)

    def __call__(self, page_bgr: np.ndarray) -> List[List[List[float]]]:
        return [b.polygon for b in self.pipeline.detect(page_bgr, recognize=False).boxes]

    def read(self, page_bgr: np.ndarray) -> Tuple[List[List[List[float]]], List[Tuple[str, float]]]:
        """(polygons, [(text, score)] per polygon): the same boxes as ``__call__``, recognised."""
        if self.pipeline.rec is None:
            from ..ocr.rec import TextRecognizer

            # one thread in the training tool's single-threaded page workers, the reader's default elsewhere
            self.pipeline.rec = TextRecognizer(threads=int(os.environ.get("OMP_NUM_THREADS") or 0) or None)
        boxes = self.pipeline.detect(page_bgr, recognize=True).boxes
        return [b.polygon for b in boxes], [(b.text or "", float(b.text_score or 0.0)) for b in boxes]


def render_page(seed: int, family: Optional[str] = None) -> Tuple[np.ndarray, dict]:
    """Page ``seed`` of document ``family`` (drawn from the seed when None), with its ground truth:
    :func:`paddle_cam.datasets.invoices.render_document`."""
    from ..datasets.invoices import render_document

    return render_document(seed, family)


def make_case(seed: int, detect: PageDetector, cue: bool = False, swap: Optional[Dict[str, str]] = None,
              family: Optional[str] = None, read: bool = False) -> PageCase:
    """Render page ``seed`` of ``family`` (:func:`render_page`; with the shortcut cue drawn when
    ``cue``, of another field when ``swap`` maps the true one to it), detect (and, when ``read``,
    recognise) and match it.

    >>> case = make_case(91000, PageDetector(), family="taxi")        # doctest: +SKIP
    >>> case.family, len(case.match) == len(case.det_polygons)       # doctest: +SKIP
    ('taxi', True)
    """
    page, gt = render_page(seed, family)
    cue_lines = draw_cues(page, gt, swap) if cue else []
    texts = None
    if read:
        polys, texts = detect.read(page)
    else:
        polys = detect(page)
    return PageCase(seed, page, gt, polys, match_detections(polys, gt["lines"], IOU_THRESH),
                    cue_lines, texts)


# ----------------------------------------------------------------------------- accuracy


def evaluate(clf: FieldClassifier, cases: Sequence[PageCase]) -> dict:
    """Accuracy of the field decisions on matched detector boxes, overall and per field.

    Per field: ``n`` matched lines whose true field it is, ``correct``, ``accuracy`` (recall),
    ``precision`` of predicting it, and ``coverage`` = matched / ground-truth lines of the field.
    """
    labels = list(clf.labels)
    k = len(labels)
    conf = np.zeros((k, k), np.int64)
    gt_count = {f: 0 for f in labels}
    for case in cases:
        for ln in case.gt["lines"]:
            f = field_of_line(ln)
            if f in gt_count:
                gt_count[f] += 1
        pairs = case.matched
        if not pairs:
            continue
        probs = clf.predict(clf.prepare(case.page, [case.det_polygons[i] for i, _ in pairs], case.page_boxes))
        for (i, j), p in zip(pairs, probs):
            conf[labels.index(case.true_field(j)), int(p.argmax())] += 1
    per = {}
    for c, name in enumerate(labels):
        n = int(conf[c].sum())
        predicted = int(conf[:, c].sum())
        per[name] = {"zh": FIELD_ZH.get(name, name), "n": n, "correct": int(conf[c, c]),
                     "accuracy": float(conf[c, c] / n) if n else None,
                     "precision": float(conf[c, c] / predicted) if predicted else None,
                     "coverage": float(n / gt_count[name]) if gt_count[name] else None}
    total = int(conf.sum())
    fld = [c for c, name in enumerate(labels) if name != "other"]
    n_fld = int(conf[fld].sum())
    recalls = [per[labels[c]]["accuracy"] for c in range(k) if per[labels[c]]["n"]]
    return {
        "pages": [int(c.seed) for c in cases],
        "lines": total,
        "accuracy": float(np.trace(conf) / total) if total else None,
        "field_lines": n_fld,
        "field_accuracy": float(sum(conf[c, c] for c in fld) / n_fld) if n_fld else None,
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "per_field": per,
        "confusion": {"labels": labels, "matrix": conf.tolist()},
    }


def format_accuracy_table(metrics: dict) -> str:
    """The per-field table of :func:`evaluate` as aligned text."""
    def pct(v):
        return "   -  " if v is None else f"{100 * v:5.1f}%"

    def cell(text: str, width: int) -> str:
        return text + " " * max(1, width - sum(2 if ord(ch) > 0x2E80 else 1 for ch in text))  # CJK: 2 columns

    rows = [f"{'field':<15} {cell('字段', 20)}{'n':>5} {'acc':>7} {'prec':>7} {'cover':>7}"]
    for name, r in metrics["per_field"].items():
        rows.append(f"{name:<15} {cell(r['zh'], 20)}{r['n']:>5} {pct(r['accuracy']):>7} "
                    f"{pct(r['precision']):>7} {pct(r['coverage']):>7}")
    rows.append(f"overall: {pct(metrics['accuracy'])} of {metrics['lines']} matched lines "
                f"({len(metrics['pages'])} pages); field lines only: {pct(metrics['field_accuracy'])} of "
                f"{metrics['field_lines']}; balanced: {pct(metrics['balanced_accuracy'])}")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- pointing game


def own_regions(gt: dict, gt_index: int, grow_px: float) -> List[np.ndarray]:
    """The value line itself and every label line of its schema field (发票代码： for a code,
    金额 and 合计 for an amount, 价税合计（大写） and （小写） for a total ...), grown by ``grow_px``.
    A line that holds its label and its value (``value_span``, "名称：XX公司") brings its label
    along; the buyer's 名称： is a label of ``buyer_name`` only, never of ``seller_name``."""
    line = gt["lines"][gt_index]
    f = field_of_line(line)
    polys = [line["polygon"]] + [l["polygon"] for l in gt["lines"]
                                 if l["role"] == "label" and GENERATOR_TO_FIELD.get(l["field"]) == f]
    return [grown_polygon(p, grow_px) for p in polys]


def peak(page_map: np.ndarray) -> Optional[Tuple[int, int]]:
    """(x, y) of the map's maximum, None for an empty map."""
    if not np.isfinite(page_map).all() or float(page_map.max()) <= 0:
        return None
    y, x = np.unravel_index(int(np.argmax(page_map)), page_map.shape)
    return int(x), int(y)


def _inside(pt: Tuple[int, int], polys: Sequence[np.ndarray]) -> bool:
    xy = (float(pt[0]), float(pt[1]))
    return any(cv2.pointPolygonTest(np.asarray(p, np.float32).reshape(-1, 1, 2), xy, False) >= 0 for p in polys)


def label_part(line: dict) -> Optional[np.ndarray]:
    """The part of a merged label+value line before its value (``value_span``; characters taken as
    equally wide), None for a line without a label part.

    >>> line = {"polygon": [[0, 0], [100, 0], [100, 10], [0, 10]], "text": "名称：ab", "value_span": [3, 5]}
    >>> label_part(line).tolist()
    [[0.0, 0.0], [60.0, 0.0], [60.0, 10.0], [0.0, 10.0]]
    """
    sp = line.get("value_span")
    if not sp or int(sp[0]) <= 0:
        return None
    return np.asarray(span_polygon(line["polygon"], line.get("text", ""), (0, int(sp[0]))), np.float64)


def where_is(pt: Optional[Tuple[int, int]], gt: dict, gt_index: int, grow_px: float) -> str:
    """Where a map's peak lies relative to an explained value line: ``own_line`` (its value),
    ``own_label`` (a label line of its field, or the label part of the line itself when it holds
    both), ``same_field_value`` (another value of its field), ``other_text`` (any other
    ground-truth line) or ``non_text`` (grid lines, stamps' rings, blank paper)."""
    if pt is None:
        return "non_text"
    line = gt["lines"][gt_index]
    f = field_of_line(line)
    if _inside(pt, [grown_polygon(line["polygon"], grow_px)]):
        lab = label_part(line)
        return "own_label" if lab is not None and _inside(pt, [lab]) else "own_line"
    hit = [l for l in gt["lines"] if _inside(pt, [grown_polygon(l["polygon"], grow_px)])]
    if any(l["role"] == "label" and GENERATOR_TO_FIELD.get(l["field"]) == f for l in hit):
        return "own_label"
    if any(field_of_line(l) == f for l in hit):
        return "same_field_value"
    return "other_text" if hit else "non_text"


def field_pairs(case: PageCase) -> List[Tuple[int, int]]:
    """(detected box, ground-truth line) of a page's matched lines whose true field is not ``other``."""
    return [(i, j) for i, j in case.matched if case.true_field(j) != "other"]


def explain_cases(clf: FieldClassifier, cases: Sequence[PageCase], method: Optional[str] = None,
                  layers: Optional[Sequence[str]] = None) -> List[List[FieldExplanation]]:
    """Explanations of the predicted field of every :func:`field_pairs` line, page by page: computed
    once, shared by :func:`pointing_game` and :func:`occlusion_check`."""
    out = []
    for c in cases:
        polys = [c.det_polygons[i] for i, _ in field_pairs(c)]
        out.append(clf.explain(c.page, polys, method=method, layers=layers, page_boxes=c.page_boxes) if polys else [])
    return out


def pointing_game(clf: FieldClassifier, cases: Sequence[PageCase], method: Optional[str] = None,
                  layers: Optional[Sequence[str]] = None, grow_px: float = 4.0,
                  keep_examples: int = 0, explained: Optional[List[List[FieldExplanation]]] = None) -> dict:
    """Explain the predicted field of every matched detected line whose true field is not
    ``other``; a hit when the peak of its page map lies on the line's own ground-truth polygon or
    on a label line of its field (:func:`own_regions`, grown by ``grow_px``).

    ``peak_at`` counts where all peaks went (:func:`where_is`), hits and misses alike.
    ``explained``: :func:`explain_cases` of the same cases, method and layers, if already computed.
    """
    hits = total = 0
    per: Dict[str, List[int]] = {}
    at: Dict[str, int] = {}
    examples = []
    if explained is None:
        explained = explain_cases(clf, cases, method, layers)
    for case, exps in zip(cases, explained):
        for (i, j), ex in zip(field_pairs(case), exps):
            pt = peak(ex.page_raw)
            where = where_is(pt, case.gt, j, grow_px)
            hit = where in ("own_line", "own_label")
            f = case.true_field(j)
            per.setdefault(f, [0, 0])
            per[f][0] += int(hit)
            per[f][1] += 1
            at[where] = at.get(where, 0) + 1
            hits += int(hit)
            total += 1
            if len(examples) < keep_examples:
                examples.append({"seed": case.seed, "box": i, "gt_line": j, "true": f, "predicted": ex.field,
                                 "peak": pt, "peak_at": where, "hit": bool(hit)})
    return {"hits": hits, "total": total, "rate": hits / total if total else None,
            "method": method or clf.default_method, "layers": list(layers or [clf.default_layer]), "grow_px": grow_px,
            "per_field": {k: {"hits": v[0], "total": v[1], "rate": v[0] / v[1]} for k, v in sorted(per.items())},
            "peak_at": {k: at.get(k, 0) for k in ("own_line", "own_label", "same_field_value", "other_text",
                                                  "non_text")},
            "examples": examples}


# ----------------------------------------------------------------------------- region attribution


def attribution(ex: FieldExplanation, polygons: Sequence, texts: Sequence[str], top_k: int = 3) -> dict:
    """Shares of an explanation's positive page mass on detected lines (with their texts) and on
    background, largest first; the listed shares, ``rest`` and ``background`` sum to 1."""
    shares = region_shares(ex.page_raw, polygons, list(range(len(polygons))))
    ranked = sorted(shares["regions"], key=lambda r: -r["share"])
    top = [{"box_id": r["box_id"], "text": texts[r["box_id"]], "share": r["share"]} for r in ranked[:top_k]
           if r["share"] > 0]
    rest = float(sum(r["share"] for r in ranked[len(top):]))
    return {"field": ex.field, "prob": ex.prob, "lines": top, "rest": rest, "background": shares["background"]}


def format_attribution(att: dict, zh: bool = True) -> str:
    """One line: ``价税合计 ← '价税合计（大写）' 58%, '¥1,234.56' 31%, background 11%``."""
    name = FIELD_ZH.get(att["field"], att["field"]) if zh else att["field"]
    parts = [f"'{r['text']}' {100 * r['share']:.0f}%" for r in att["lines"]]
    if att["rest"] >= 0.005:
        parts.append(f"other lines {100 * att['rest']:.0f}%")
    parts.append(f"background {100 * att['background']:.0f}%")
    return f"{name} ← " + ", ".join(parts)


def attribution_table(clf: FieldClassifier, case: PageCase, texts: Optional[Sequence[str]] = None,
                      top_k: int = 3) -> List[str]:
    """Formatted attributions of every detected line the classifier gives a field (not ``other``);
    texts default to the matched ground-truth texts (``?`` for unmatched boxes)."""
    if texts is None:
        texts = [case.gt["lines"][j]["text"] if j is not None else "?" for j in case.match]
    probs = clf.predict(clf.prepare(case.page, case.det_polygons, case.page_boxes))
    keep = [i for i, p in enumerate(probs) if clf.labels[int(p.argmax())] != "other"]
    exps = clf.explain(case.page, [case.det_polygons[i] for i in keep], page_boxes=case.page_boxes)
    out = []
    for i, ex in zip(keep, exps):
        out.append(f"[{texts[i]}] " + format_attribution(attribution(ex, case.det_polygons, texts, top_k)))
    return out


# ----------------------------------------------------------------------------- shortcut cue

# One colour (BGR) per field, far apart in hue, and a field-dependent offset: the cue alone
# identifies the field, which is what makes it a shortcut.
_CUE_HUES = np.linspace(0, 180, len(FIELD_CLASSES) - 1, endpoint=False)


def cue_colour(class_id: int) -> Tuple[int, int, int]:
    """BGR colour of the shortcut cue of a field class."""
    hsv = np.uint8([[[int(_CUE_HUES[class_id % len(_CUE_HUES)]), 230, 220]]])
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def cue_geometry(polygon, class_id: int) -> Tuple[Tuple[float, float], float]:
    """Centre and radius (page px) of the cue of a line: a disc 2.5 glyph heights above the line,
    (1 + 0.9 * class id) glyph heights right of its start, so its place alone names the field
    (also on grey scans), and its colour does too."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    h = max(box_height(p), 2.0)
    xl = float(p[:, 0].min())
    cy = float(p[np.argsort(p[:, 0], kind="stable")[:2], 1].mean())
    return (xl + (1.0 + 0.9 * class_id) * h, cy - 2.5 * h), 0.6 * h


def draw_cues(page_bgr: np.ndarray, gt: dict, swap: Optional[Dict[str, str]] = None) -> List[Tuple[int, int]]:
    """Draw the cue of every field value line onto the page in place; returns (line index, class id
    of the cue drawn) per cue. ``swap`` maps a true field to the field whose cue is drawn instead
    (to show that a shortcut model follows the cue, not the invoice)."""
    drawn = []
    for j, ln in enumerate(gt["lines"]):
        f = field_of_line(ln)
        if f == "other":
            continue
        k = FIELD_CLASSES.index((swap or {}).get(f, f))
        (cx, cy), r = cue_geometry(ln["polygon"], k)
        cv2.circle(page_bgr, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), cue_colour(k), -1,
                   lineType=cv2.LINE_AA, shift=4)
        drawn.append((j, k))
    return drawn


def cue_mask(gt: dict, cues: Sequence[Tuple[int, int]], page_hw: Sequence[int], grow: float = 1.0) -> np.ndarray:
    """(H, W) uint8 mask of every cue disc on the page, grown by ``grow`` glyph heights of its line.

    All cues count, not only the explained line's own: a window shows its neighbours' cues too,
    and a model that learned to read cues looks at those as well."""
    mask = np.zeros((int(page_hw[0]), int(page_hw[1])), np.uint8)
    for j, k in cues:
        poly = gt["lines"][j]["polygon"]
        (cx, cy), r = cue_geometry(poly, k)
        rad = r + grow * max(box_height(poly), 2.0)
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(rad)), 1, -1)
    return mask


def cue_energy(ex: FieldExplanation, mask: np.ndarray) -> Tuple[float, bool]:
    """(share of the explanation's positive page mass on the cue mask, whether its peak is on it)."""
    pm = np.maximum(ex.page_raw, 0)
    total = float(pm.sum())
    if total <= 0:
        return 0.0, False
    pt = peak(pm)
    return float((pm * mask).sum() / total), bool(pt is not None and mask[pt[1], pt[0]])


def shortcut_report(clf: FieldClassifier, seeds: Sequence[int], detect: PageDetector,
                    honest: Optional[FieldClassifier] = None, method: str = "gradcam") -> dict:
    """How a classifier reacts to the shortcut cue on held-out invoices: accuracy with the true
    field's cue, the share of field lines whose prediction follows a cue of another field, and,
    for ``clf`` and ``honest``, the share of the explained map (true field's class) on cue discs,
    the share of maps peaking on one, and the share of window area the cue discs take (chance);
    both models explained with the same ``method``."""
    fields = list(FIELD_CLASSES[:-1])
    swap = {f: fields[(i + 1) % len(fields)] for i, f in enumerate(fields)}
    cued = [make_case(s, detect, cue=True) for s in seeds]
    swapped = [make_case(s, detect, cue=True, swap=swap) for s in seeds]
    follows = total = 0
    for case in swapped:
        pairs = field_pairs(case)
        if not pairs:
            continue
        probs = clf.predict(clf.prepare(case.page, [case.det_polygons[i] for i, _ in pairs], case.page_boxes))
        for (i, j), p in zip(pairs, probs):
            follows += int(clf.labels[int(p.argmax())] == swap[case.true_field(j)])
            total += 1
    with_cue = evaluate(clf, cued)
    out = {"seeds": list(seeds), "accuracy_with_cue": with_cue["accuracy"],
           "field_accuracy_with_cue": with_cue["field_accuracy"],
           "follows_swapped_cue": follows / total if total else None, "swapped_lines": total, "cue_energy": {}}
    for name, model in (("model", clf), ("honest", honest)):
        if model is None:
            continue
        shares, peaks, area = [], [], []
        for case in cued:
            pairs = field_pairs(case)
            if not pairs:
                continue
            mask = cue_mask(case.gt, case.cue_lines, case.page.shape[:2])
            ks = [FIELD_CLASSES.index(case.true_field(j)) for _, j in pairs]
            for e in model.explain(case.page, [case.det_polygons[i] for i, _ in pairs], class_ids=ks, method=method,
                                       page_boxes=case.page_boxes):
                s_, p_ = cue_energy(e, mask)
                shares.append(s_)
                peaks.append(p_)
                x0, y0, x1, y1 = e.window
                area.append(float(mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].mean()))
        out["cue_energy"][name] = {"share": float(np.mean(shares)) if shares else None,
                                   "peak_on_cue": float(np.mean(peaks)) if peaks else None,
                                   "cue_area": float(np.mean(area)) if area else None}
    return out


def occlusion_check(clf: FieldClassifier, cases: Sequence[PageCase], method: Optional[str] = None,
                    layers: Optional[Sequence[str]] = None,
                    explained: Optional[List[List[FieldExplanation]]] = None) -> dict:
    """Is the map's peak where the decision lives? For every matched field value line, the drop of
    the predicted class's probability when its own line + field labels are blanked, and when a
    region of the same pixel count centred on the map's peak is blanked (both in the model input;
    blank = paper luminance, no chroma, no label read there (label planes), marker kept)."""
    drops_own, drops_peak = [], []
    if explained is None:
        explained = explain_cases(clf, cases, method, layers)
    for case, exps in zip(cases, explained):
        pairs = field_pairs(case)
        if not pairs:
            continue
        x = clf.prepare(case.page, [case.det_polygons[i] for i, _ in pairs], case.page_boxes)
        h, w = clf.spec.input_hw
        variants = []
        for (i, j), ex, xi in zip(pairs, exps, x):
            own = np.zeros((h, w), np.uint8)
            for r in clf.input_polygons(case.page, own_regions(case.gt, j, 0.0)):
                cv2.fillPoly(own, [np.round(r * 16).astype(np.int32).reshape(-1, 1, 2)], 1, shift=4)
            n = max(int(own.sum()), 1)
            yy, xx = np.unravel_index(int(np.argmax(ex.cam.raw[0])), (h, w))
            side = int(np.ceil(np.sqrt(n)))
            pk = np.zeros((h, w), np.uint8)
            pk[max(0, yy - side // 2):yy - side // 2 + side, max(0, xx - side // 2):xx - side // 2 + side] = 1
            paper = float(np.percentile(xi[0], 75))
            for m in (own, pk):
                v = xi.copy()
                v[0][m > 0] = paper
                v[1][m > 0] = -1.0
                v[3:, m > 0] = -1.0
                variants.append(v)
        probs = clf.predict(np.stack(variants))
        for k, ex in enumerate(exps):
            drops_own.append(ex.prob - float(probs[2 * k, ex.class_id]))
            drops_peak.append(ex.prob - float(probs[2 * k + 1, ex.class_id]))
    return {"lines": len(drops_own), "mean_drop_own_regions": float(np.mean(drops_own)) if drops_own else None,
            "mean_drop_at_peak": float(np.mean(drops_peak)) if drops_peak else None}


def pointing_report(clf: FieldClassifier, cases: Sequence[PageCase], grow_px: float = 4.0,
                    compare_methods: bool = False) -> dict:
    """What a training run reports on held-out pages about its explanations: the pointing game of
    the model's default method and layer, the occlusion check (both on one set of explanations),
    and the attribution table of the first page. ``compare_methods`` adds the pointing game of the
    other CAM methods at the default layer and of the default method one stage finer and one
    coarser (about a minute more on 2 cores)."""
    explained = explain_cases(clf, cases)
    out = {"pointing_game": pointing_game(clf, cases, grow_px=grow_px, explained=explained)}
    if compare_methods:
        out.update(compare_pointing(clf, cases, grow_px))
    out["occlusion_check"] = occlusion_check(clf, cases, explained=explained)
    out["attribution_example"] = {"seed": cases[0].seed, "lines": attribution_table(clf, cases[0])}
    return out


def compare_pointing(clf: FieldClassifier, cases: Sequence[PageCase], grow_px: float = 4.0) -> dict:
    """The pointing game of the other CAM methods at the default layer
    (``pointing_game_by_method``) and of the default method one stage finer and one coarser
    (``pointing_game_by_layer``)."""
    keep = ("hits", "total", "rate", "peak_at")
    return {"pointing_game_by_method": {
                m: {k: v for k, v in pointing_game(clf, cases, method=m, grow_px=grow_px).items() if k in keep}
                for m in ("gradcam", "gradcampp", "xgradcam", "hirescam", "layercam")},
            "pointing_game_by_layer": {
                layer: {k: v for k, v in pointing_game(clf, cases, layers=[layer], grow_px=grow_px).items()
                        if k in keep}
                for layer in ("encoder.blocks.1", "encoder.blocks.2", "encoder.blocks.3")}}
