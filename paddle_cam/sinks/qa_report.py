"""Files of an invoice QA run: per page an overlay, a panel per explained decision, raw maps and
report.json (written last: its presence marks the page as finished) with the page reading and its
cross-checks; per corpus summary.json (with per-field reading accuracy and cross-check counts),
the aggregate decision heatmap and a self-contained index.html."""
from __future__ import annotations

import html
import os
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from ..invoice.crosscheck import CHECKS
from ..invoice.qa import InvoiceQA, PageQA, redact, score_against_gt
from ..invoice.reading import READ_FIELDS, span_polygon
from ..invoice.schema import FIELD_ZH
from ..io import read_image, save_json, save_npy, save_png
from .det_report import draw_polygons, model_record
from .html_report import img_data_uri, write_index
from .overlay import caption, colorize, colour_bar, heat_overlay, side_by_side
from .rec_panel import write_rec_box
from .visualdl import safe_tag


class Aggregate:
    """Sum of normalised decision maps on a fixed page-coordinate canvas (where decisions looked,
    over a corpus).

    Args:
        size: (w, h) of the canvas every page map is resized to.
    """

    def __init__(self, size: Sequence[int]):
        self.w, self.h = int(size[0]), int(size[1])
        self.sum = np.zeros((self.h, self.w), np.float64)
        self.count = 0

    def _add_map(self, m: np.ndarray) -> None:
        if m.max() > 0:
            self.sum += cv2.resize((m / m.max()).astype(np.float32), (self.w, self.h), interpolation=cv2.INTER_AREA)
            self.count += 1

    def add(self, res: PageQA) -> None:
        """The explained decisions of a page QA'd in this run."""
        for e in res.explained.values():
            self._add_map(e["page_raw"])

    def add_saved(self, report: dict) -> None:
        """The decisions of a page finished in an earlier run (read from its raw maps)."""
        for d in report.get("decisions", []):
            if d.get("raw_map") and os.path.isfile(d["raw_map"]):
                self._add_map(np.load(d["raw_map"]))

    def result(self) -> Optional[np.ndarray]:
        """The mean map (float32), or None when no decision was explained."""
        return (self.sum / self.count).astype("float32") if self.count else None


def write_page_report(out_dir: str, doc: str, res: PageQA, qa: InvoiceQA, cfg: dict, gt: Optional[dict],
                      vdl=None) -> dict:
    """Write every output of one QA'd page and return its report.

    Args:
        doc: the document the page came from.
        cfg: the tool's config (``Output.redact`` blurs text the explanation did not use).
        gt: the page's ground truth (scored into ``report["ground_truth"]``), or None.
        vdl: a ``VisualDLRun`` to log the page overlay, panels and scalars to, or None.
    """
    o = cfg["Output"]
    clf = qa.field_clf
    boxes = res.boxes
    keep = [b.polygon for b in boxes if res.fields[boxes.index(b)] != "other"] if o["redact"] else None
    shown = redact(res.page, keep) if o["redact"] else res.page
    labels = [f"{b.id} {res.fields[i]}" if res.fields[i] != "other" else str(b.id) for i, b in enumerate(boxes)]
    colors_ok = (0, 170, 0)
    page_png = draw_polygons(shown[:, :, ::-1].copy(), [b.polygon for b in boxes], labels, color=colors_ok)
    page_path = save_png(os.path.join(out_dir, "page.png"), page_png)
    by_id = {b.id: b for b in boxes}
    decisions = []
    for box_id, e in res.explained.items():
        b = by_id[box_id]
        i = boxes.index(b)
        x0, y0, x1, y1 = clf.window(b.polygon, res.page.shape[:2])
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(res.page.shape[1], int(x1)), min(res.page.shape[0], int(y1))
        # redacted: only the decided line stays legible (its neighbours, even those the map rests on, are blurred)
        base = redact(res.page, [b.polygon]) if o["redact"] else res.page
        crop = base[y0:y1, x0:x1]
        m = e["page_raw"][y0:y1, x0:x1]
        vmax = float(e["page_raw"].max())
        heat = heat_overlay(crop, m, vmax)
        local = [[p[0] - x0, p[1] - y0] for p in b.polygon]
        table = attribution_table(e["regions"], by_id, keep=b.id if o["redact"] else None)
        h = min(260, max(96, crop.shape[0]))
        panel = side_by_side([draw_polygons(crop[:, :, ::-1].copy(), [local]),
                              draw_polygons(heat, [local], color=(0, 170, 255)), colour_bar(h, vmax)], height=h)
        lines = [f"box {b.id} · {b.text or ''} → {res.fields[i]} ({res.field_probs[i].max():.2f})", "← " + table]
        if e.get("label_evidence"):
            lines.append(label_evidence_line(e["label_evidence"]))
        panel = caption(panel, lines)
        panel_path = save_png(os.path.join(out_dir, "panels", f"box_{b.id}.png"), panel)
        raw_path = save_npy(os.path.join(out_dir, "raw", f"box_{b.id}.npy"), e["page_raw"].astype(np.float32))
        decisions.append({"box_id": b.id, "field": res.fields[i], "prob": float(res.field_probs[i].max()),
                          "method": qa.ex.get("method") or qa.field_clf.default_method, "own_share": e["own_share"], "peak": e["peak"],
                          "regions": e["regions"]["regions"], "background": e["regions"]["background"],
                          "attribution": table, "label_evidence": e.get("label_evidence"),
                          "overlay": os.path.abspath(panel_path), "raw_map": os.path.abspath(raw_path)})
        if vdl is not None:   # one tag per page, the box id as the step: VisualDL's slider walks the decisions
            vdl.image(f"{safe_tag(res.name)}/field/decisions", panel, step=b.id)
    rec_entries = []
    for box_id, r in res.rec_explained.items():
        entry = write_rec_box(out_dir, box_id, r["line"], raw_maps=True, vdl=vdl, vdl_prefix=safe_tag(res.name))
        entry["field"] = r["field"]
        rec_entries.append(entry)
    fields, reading = reading_record(res)
    for entry in rec_entries:
        if entry["field"] in fields:
            fields[entry["field"]]["low_confidence_chars"] = [
                {"index": c["index"], "char": c["char"], "confidence": c["confidence"]} for c in entry["chars"]]
            fields[entry["field"]]["rec_panel"] = entry["panel"]
    report = {
        "document": os.path.abspath(doc), "page": res.name, "size": [int(res.page.shape[1]), int(res.page.shape[0])],
        "rotation": res.rotation, "seconds": round(res.seconds, 3), "page_overlay": os.path.abspath(page_path),
        "model": model_record(qa.pipeline),
        "boxes": [{"id": b.id, "polygon": [[round(x, 2), round(y, 2)] for x, y in b.polygon], "score": b.score,
                   "text": b.text, "text_score": b.text_score, "field": res.fields[i],
                   "field_prob": float(res.field_probs[i].max())} for i, b in enumerate(boxes)],
        "fields": fields, "reading": reading, "crosschecks": [c.to_dict() for c in res.checks],
        "decisions": decisions, "rec": rec_entries, "flags": res.flags,
        "report": os.path.abspath(os.path.join(out_dir, "report.json")),
    }
    if gt is not None:
        report["ground_truth"] = score_against_gt(res, gt)
    if vdl is not None:
        tag = safe_tag(res.name)
        vdl.image(f"{tag}/page", page_png)
        vdl.scalar(f"{tag}/flags", len(res.flags))
        if decisions:   # a distribution per page: box order carries no trend to draw
            vdl.histogram(f"{tag}/field/own_share", np.asarray([d["own_share"] for d in decisions], np.float32))
    save_json(report["report"], report)
    return report


def reading_record(res: PageQA):
    """``fields`` (field -> the value read, its raw text, box, label, evidence, score and the field
    classifier's decision for that box) and the whole reading (kind, extras, flags, notes) of a
    page, as written to report.json; each value gets ``value_polygon``, where it sits in its box."""
    if res.reading is None:
        return {}, None
    reading = res.reading.to_dict()
    by_id = {b.id: (i, b) for i, b in enumerate(res.boxes)}
    for group in ("fields", "extras"):
        for d in reading[group].values():
            i, b = by_id[d["box_id"]]
            d["value_polygon"] = span_polygon(b.polygon, b.text or "", d["span"])
            d["text"] = d["raw"]
            if len(res.field_probs) == len(res.boxes):
                d["classifier_decision"] = res.fields[i]
                d["classifier_prob"] = round(float(res.field_probs[i].max()), 4)
    return dict(reading["fields"]), reading


def label_evidence_line(ev: dict, top: int = 2) -> str:
    """"labels read: '发票号码：' -0.71 · without any label 0.12": the labels whose removal lowers the
    decision most, and the decision's probability on the image alone."""
    parts = [f"'{d['text']}' {-d['drop']:+.2f}" for d in ev.get("labels", [])[:top] if abs(d["drop"]) >= 0.01]
    return "labels read: " + (" · ".join(parts) if parts else "none matter") + \
        f" · without any label {ev['without_labels']:.2f}"


def attribution_table(shares: dict, by_id: Dict[int, object], top: int = 3, keep: Optional[int] = None) -> str:
    """'价税合计（大写） 58% · ¥1,234.56 31% · background 11%' for the top regions. With ``keep`` (a box
    id: redacted outputs) only that box is named by its text, the others by their ids."""
    regs = sorted(shares["regions"], key=lambda r: -r["share"])[:top]

    def name(i):
        return f"'{by_id[i].text or i}'" if keep is None or i == keep else f"box {i}"

    parts = [f"{name(r['box_id'])} {100 * r['share']:.0f}%" for r in regs if r["share"] >= 0.01]
    parts.append(f"background {100 * shares['background']:.0f}%")
    return " · ".join(parts)


def write_corpus_outputs(out_root: str, rows: List[dict], errors: List[dict], agg: Aggregate, docs: Sequence[str],
                         cfg: dict) -> dict:
    """summary.json (counts, flags, field accuracy and pointing game over pages with ground
    truth), aggregate.npy/png and index.html of a QA run; returns the summary."""
    pages = len(rows)
    matched = sum(r.get("ground_truth", {}).get("matched_boxes", 0) for r in rows)
    correct = sum(r.get("ground_truth", {}).get("field_correct", 0) for r in rows)
    pn = sum(r.get("ground_truth", {}).get("pointing_n", 0) for r in rows)
    ph = sum(r.get("ground_truth", {}).get("pointing_hits", 0) for r in rows)
    flag_counts = {}
    for r in rows:
        for f in r.get("flags", []):
            flag_counts[f["kind"]] = flag_counts.get(f["kind"], 0) + 1
    summary = {
        "documents": len(docs), "pages": pages, "failed": len(errors),
        "flagged_pages": sum(1 for r in rows if r.get("flags")), "flags": flag_counts,
        "decisions_explained": sum(len(r.get("decisions", [])) for r in rows),
        "seconds_per_page": float(np.mean([r.get("seconds", 0) for r in rows])) if rows else 0.0,
        "field_accuracy": (correct / matched) if matched else None,
        "pointing_game": (ph / pn) if pn else None,
        "pointing_game_n": pn,
        "errors": errors,
        "explain_mode": cfg["Explain"]["mode"],
        **reading_summary(rows),
    }
    aggregate = agg.result()
    if aggregate is not None:
        save_npy(os.path.join(out_root, "aggregate.npy"), aggregate)
        save_png(os.path.join(out_root, "aggregate.png"), colorize(aggregate / max(aggregate.max(), 1e-12)))
    save_json(os.path.join(out_root, "summary.json"), summary)
    thumbs = {}
    for r in rows:
        if os.path.isfile(r.get("page_overlay", "")):
            thumbs[r["page"]] = img_data_uri(read_image(r["page_overlay"])[:, :, ::-1],
                                             max_width=int(cfg["Output"]["thumbnail_width"]))
    details = {r["page"]: reading_table_html(r) for r in rows}
    write_index(os.path.join(out_root, "index.html"), "paddle_cam · 发票识别 QA", rows, summary, aggregate, thumbs, errors,
                page_details=details, sections=[accuracy_table_html(summary)])
    return summary


def reading_summary(rows: List[dict]) -> dict:
    """The summary.json keys of the page readings: per-field accuracy against page-level truth
    (pages with ground truth; a field counts where the page carries it or something was read),
    the cross-check counts, the values repaired (per field, :mod:`paddle_cam.invoice.repair`), the
    kinds of documents read and each page's values.

    >>> s = reading_summary([{"page": "a", "reading": {"kind": "vat", "fields": {"date": {"value": "2024-01-11"}}},
    ...                       "crosschecks": [{"check": "date", "ok": True}],
    ...                       "ground_truth": {"fields": {"date": {"truth": "2024-01-11", "read": "2024-01-11", "correct": True}}}}])
    >>> s["field_accuracy_per_field"]["date"], s["crosschecks"]["date"]
    ({'correct': 1, 'n': 1, 'accuracy': 1.0}, {'passed': 1, 'failed': 0, 'not_applicable': 0})
    """
    per = {f: [0, 0] for f in READ_FIELDS}
    for r in rows:
        for f, x in r.get("ground_truth", {}).get("fields", {}).items():
            if f in per:
                per[f][0] += int(bool(x.get("correct")))
                per[f][1] += 1
    acc = {f: {"correct": c, "n": n, "accuracy": round(c / n, 4)} for f, (c, n) in per.items() if n}
    tc, tn = sum(c for c, _ in per.values()), sum(n for _, n in per.values())
    checks = {c: {"passed": 0, "failed": 0, "not_applicable": 0} for c in CHECKS}
    failed_pages = 0
    kinds: Dict[str, int] = {}
    repaired: Dict[str, int] = {}
    readings = {}
    for r in rows:
        for f in r.get("flags", []):
            if f["kind"] == "repaired":
                repaired[f["field"]] = repaired.get(f["field"], 0) + 1
        bad = []
        for c in r.get("crosschecks", []):
            k = checks.setdefault(c["check"], {"passed": 0, "failed": 0, "not_applicable": 0})
            k["passed" if c["ok"] is True else "failed" if c["ok"] is False else "not_applicable"] += 1
            if c["ok"] is False:
                bad.append(c["check"])
        failed_pages += bool(bad)
        rd = r.get("reading")
        if rd:
            kinds[rd["kind"]] = kinds.get(rd["kind"], 0) + 1
            readings[r["page"]] = {"kind": rd["kind"], "values": {f: v["value"] for f, v in rd["fields"].items()},
                                   "crosschecks_failed": bad}
    return {"field_accuracy_per_field": acc, "reading_accuracy": round(tc / tn, 4) if tn else None,
            "reading_fields_scored": tn, "crosschecks": checks, "crosscheck_failed_pages": failed_pages,
            "repaired_fields": repaired, "reading_kinds": kinds, "readings": readings}


def reading_table_html(report: dict) -> str:
    """A page's reading as an HTML table: field | value | raw | evidence | flags."""
    e = html.escape
    rd = report.get("reading")
    if not rd:
        return ""
    flags: Dict[str, List[str]] = {}
    for f in report.get("flags", []):
        if f["kind"] == "missing_field":
            flags.setdefault(f["field"], []).append("missing")
        elif f["kind"] == "crosscheck":
            for fld in f.get("fields", [f.get("field")]):
                flags.setdefault(fld, []).append(f"{f['check']}: {f.get('message', '')}")
        elif f["kind"] == "repaired":
            flags.setdefault(f["field"], []).append(f"repaired: read {f['read']}, {f['by']}")
    truth = report.get("ground_truth", {}).get("fields", {})
    head = f"<div class='kind'>{e(rd['kind'])}" + "".join(f" · <span class='flag'>{e(x['kind'])}</span>"
                                                         for x in rd.get("flags", [])) + "</div>"
    rows = []
    for f in READ_FIELDS:
        v = rd["fields"].get(f)
        if v is None and f not in flags and f not in truth:
            continue
        t = truth.get(f)
        mark = "" if t is None else (" <span class='ok'>✓</span>" if t["correct"] else
                                     f" <span class='err'>✗ truth {e(str(t['truth']))}</span>")
        ev = "" if v is None else e(", ".join(v["evidence"])) + (f" ({e(v['label'])})" if v.get("label") else "")
        low = (v or {}).get("low_confidence_chars") or []
        if low:   # why was this character read: its panel, linked from the value
            rel = os.path.relpath(v["rec_panel"], os.path.dirname(report["report"]))
            ev += "<br><a href='" + e(rel) + "'>low confidence: " + " ".join(
                f"{e(c['char'])} {c['confidence']:.2f}" for c in low) + "</a>"
        rows.append(f"<tr><td>{e(FIELD_ZH.get(f, f))}</td><td>{e(str(v['value'])) if v else '—'}{mark}</td>"
                    f"<td>{e(v['raw']) if v else ''}</td><td>{ev}</td>"
                    f"<td>{''.join(f'<span class=flag>{e(x)}</span>' for x in flags.get(f, []))}</td></tr>")
    return (head + "<table class='reading'><tr><td><b>field</b></td><td><b>value</b></td><td><b>raw</b></td>"
            "<td><b>evidence</b> (characters read with low confidence)</td><td><b>flags</b></td></tr>"
            + "".join(rows) + "</table>")


def accuracy_table_html(summary: dict) -> str:
    """The per-field reading accuracy and the cross-check counts as HTML tables."""
    e = html.escape
    acc = summary.get("field_accuracy_per_field") or {}
    out = []
    if acc:
        out.append("<h2>page reading: accuracy per field</h2><table class='acc'><tr><th>field</th><th>correct</th>"
                   "<th>pages</th><th>accuracy</th></tr>" +
                   "".join(f"<tr><td>{e(FIELD_ZH.get(f, f))} ({e(f)})</td><td>{a['correct']}</td><td>{a['n']}</td>"
                           f"<td>{a['accuracy']:.3f}</td></tr>" for f, a in acc.items()) + "</table>")
    checks = summary.get("crosschecks") or {}
    if checks:
        out.append("<h2>cross-checks</h2><table class='acc'><tr><th>check</th><th>passed</th><th>failed</th>"
                   "<th>not applicable</th></tr>" +
                   "".join(f"<tr><td>{e(c)}</td><td>{k['passed']}</td><td class='{'err' if k['failed'] else ''}'>"
                           f"{k['failed']}</td><td>{k['not_applicable']}</td></tr>" for c, k in checks.items()) +
                   "</table>")
    return "".join(out)
