"""Invoice-recognition QA over a folder of invoice images and PDFs (each PDF page is a page).

    python tools/qa_invoices.py --input demo_docs/invoices --output output/qa --vdl_dir runs
    python tools/qa_invoices.py --input scans/ --output qa -c configs/qa.yml -o Explain.mode=sample Output.redact=true

Per page: OUT/<page>/page.png (boxes coloured by decided field), panels/ for explained decisions,
raw/ maps, report.json (written last: re-running skips finished pages). Then OUT/index.html
(self-contained), OUT/summary.json and OUT/aggregate.png (where decisions looked, page coords).
"""
import argparse
import json
import os
import sys

from ..cli import fail, progress, quiet_paddle, run_main

quiet_paddle()

DEFAULTS = {
    "Global": {"det_model_dir": None, "rec_model_dir": None, "field_model_dir": None, "device": "cpu",
               "output": "output/qa", "vdl_dir": None, "vdl_run": "base", "pdf_dpi": 200, "fix_orientation": True},
    "QA": {"expected_fields": ["invoice_code", "invoice_number", "date", "buyer_name", "buyer_tax_id", "seller_name",
                               "seller_tax_id", "amount", "tax", "total"],
           "min_det_score": 0.7, "min_rec_score": 0.8, "min_field_prob": 0.8, "looked_elsewhere_share": 0.5},
    "Explain": {"mode": "low_confidence", "sample_fraction": 0.1, "seed": 0, "method": None, "layers": None},
    "Output": {"redact": False, "thumbnail_width": 360, "aggregate_size": [800, 480]},
}


def parse_args(argv=None):
    from ..config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="folder of invoice images/PDFs, or one file")
    p.add_argument("--output", default=None, help="output folder (default output/qa)")
    p.add_argument("--vdl_dir", default=None, help="log page overlays and decision scalars to VisualDL")
    p.add_argument("--field_model_dir", default=None, help="field classifier (default: demo_docs/field_cls)")
    p.add_argument("--det_model_dir", default=None, help="detector (default: bundled PP-OCRv4 mobile det)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    p.add_argument("--force", action="store_true", help="redo pages that already have a report.json")
    add_config_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from ..config import load_config

    cfg = load_config(args.config, args.opt, DEFAULTS)
    g = cfg["Global"]
    for key in ("output", "vdl_dir", "field_model_dir", "det_model_dir", "device"):
        if getattr(args, key) is not None:
            g[key] = getattr(args, key)
    if cfg["Explain"]["mode"] not in ("low_confidence", "sample", "all", "none"):
        from ..errors import InputError

        raise InputError(f"Explain.mode must be low_confidence, sample, all or none, not {cfg['Explain']['mode']}")

    from ..cli import set_device
    from ..errors import PaddleCamError
    from ..io import ensure_writable_dir, list_documents, read_document
    from ..sinks.fonts import find_cjk_font_path

    out_root = ensure_writable_dir(g["output"])
    docs = list_documents(args.input)
    find_cjk_font_path()
    set_device(g["device"])
    qa = build_qa(cfg)
    vdl = None
    if g["vdl_dir"]:
        from ..sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    rows, errors, agg = [], [], Aggregate(cfg["Output"]["aggregate_size"])
    try:
        for doc in progress(docs, "qa_invoices"):
            try:
                pages = read_document(doc, int(g["pdf_dpi"]))
            except PaddleCamError as err:
                fail(f"{doc}: {err}")
                errors.append({"file": os.path.abspath(doc), "error": str(err)})
                continue
            gt = load_ground_truth(doc)
            sub = os.path.relpath(os.path.dirname(os.path.abspath(doc)), os.path.abspath(args.input))
            for name, page in pages:
                if os.path.isdir(args.input) and sub != ".":
                    name = f"{sub}/{name}"  # same file names in two sub-folders must not collide
                report_path = os.path.join(out_root, name, "report.json")
                if os.path.isfile(report_path) and not args.force:
                    with open(report_path, encoding="utf-8") as f:
                        rows.append(json.load(f))  # finished in an earlier run
                    agg.add_saved(rows[-1])
                    continue
                res = qa.run_page(name, page, bool(g["fix_orientation"]))
                if res.rotation:
                    fail(f"{doc}: page {name} was turned by {res.rotation} degrees; read it upright (fixed here)", "warning")
                if not res.boxes:
                    fail(f"{doc}: page {name} has no detectable text; check the scan", "warning")
                report = write_page_report(os.path.join(out_root, name), doc, res, qa, cfg, gt if len(pages) == 1 else None,
                                           vdl)
                agg.add(res, report)
                rows.append(report)
    finally:
        if vdl is not None:
            vdl.close()
    summary = write_corpus_outputs(out_root, rows, errors, agg, docs, cfg)
    print(f"QA of {summary['pages']} pages ({summary['failed']} files failed, {summary['flagged_pages']} pages flagged) "
          f"-> {os.path.join(out_root, 'index.html')}")
    return 2 if errors else 0


def build_qa(cfg):
    from ..invoice.fields import FieldClassifier
    from ..invoice.qa import InvoiceQA
    from ..models.cls import load_orientation_classifier
    from ..models.det import load_detector
    from ..ocr.db_postprocess import DBPostProcess
    from ..ocr.det_preprocess import DetPreprocess
    from ..ocr.explain import OCRExplainer
    from ..ocr.rec import TextRecognizer

    g = cfg["Global"]
    ocr = OCRExplainer(load_detector(g["det_model_dir"]), DetPreprocess(), DBPostProcess(), TextRecognizer(g["rec_model_dir"]))
    field_clf = FieldClassifier.load(g["field_model_dir"])
    return InvoiceQA(ocr, field_clf, load_orientation_classifier(), cfg["QA"], cfg["Explain"])


def load_ground_truth(doc: str):
    """The generator's ground truth beside an image (``<stem>.json`` with ``lines``), if any."""
    path = os.path.splitext(doc)[0] + ".json"
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            gt = json.load(f)
    except (OSError, ValueError):
        return None
    return gt if isinstance(gt, dict) and isinstance(gt.get("lines"), list) else None


class Aggregate:
    """Sum of normalised decision maps on a fixed page-coordinate canvas."""

    def __init__(self, size):
        import numpy as np

        self.w, self.h = int(size[0]), int(size[1])
        self.sum = np.zeros((self.h, self.w), np.float64)
        self.count = 0

    def _add_map(self, m):
        import cv2
        import numpy as np

        if m.max() > 0:
            self.sum += cv2.resize((m / m.max()).astype(np.float32), (self.w, self.h), interpolation=cv2.INTER_AREA)
            self.count += 1

    def add(self, res, report):
        for e in res.explained.values():
            self._add_map(e["page_raw"])

    def add_saved(self, report):
        import numpy as np

        for d in report.get("decisions", []):
            if d.get("raw_map") and os.path.isfile(d["raw_map"]):
                self._add_map(np.load(d["raw_map"]))

    def result(self):
        return (self.sum / self.count).astype("float32") if self.count else None


def write_page_report(out_dir, doc, res, qa, cfg, gt, vdl):
    import numpy as np

    from ..invoice.qa import match_boxes_to_gt, redact
    from ..io import save_json, save_npy, save_png
    from ..sinks.det_report import draw_polygons
    from ..sinks.overlay import caption, overlay, side_by_side
    from ..sinks.visualdl import safe_tag

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
        base = redact(res.page, [by_id[r["box_id"]].polygon for r in e["regions"]["regions"] if r["share"] >= 0.05]
                      + [b.polygon]) if o["redact"] else res.page
        crop = base[y0:y1, x0:x1]
        m = e["page_raw"][y0:y1, x0:x1]
        heat = overlay(crop, m / m.max() if m.max() > 0 else m)
        local = [[p[0] - x0, p[1] - y0] for p in b.polygon]
        table = attribution_table(e["regions"], by_id)
        panel = side_by_side([draw_polygons(crop[:, :, ::-1].copy(), [local]), draw_polygons(heat, [local], color=(255, 255, 255))],
                             height=min(260, max(96, crop.shape[0])))
        panel = caption(panel, [f"box {b.id} · {b.text or ''} → {res.fields[i]} ({res.field_probs[i].max():.2f})",
                                "← " + table])
        panel_path = save_png(os.path.join(out_dir, "panels", f"box_{b.id}.png"), panel)
        raw_path = save_npy(os.path.join(out_dir, "raw", f"box_{b.id}.npy"), e["page_raw"].astype(np.float32))
        decisions.append({"box_id": b.id, "field": res.fields[i], "prob": float(res.field_probs[i].max()),
                          "method": qa.ex.get("method") or qa.field_clf.default_method, "own_share": e["own_share"], "peak": e["peak"],
                          "regions": e["regions"]["regions"], "background": e["regions"]["background"],
                          "attribution": table, "overlay": os.path.abspath(panel_path), "raw_map": os.path.abspath(raw_path)})
        if vdl is not None:
            vdl.image(f"{safe_tag(res.name)}/field/{res.fields[i]}/box_{b.id}", panel)
    fields = {}
    for i, b in enumerate(boxes):
        f = res.fields[i]
        if f != "other" and (f not in fields or res.field_probs[i].max() > fields[f]["prob"]):
            fields[f] = {"box_id": b.id, "text": b.text, "prob": float(res.field_probs[i].max())}
    report = {
        "document": os.path.abspath(doc), "page": res.name, "size": [int(res.page.shape[1]), int(res.page.shape[0])],
        "rotation": res.rotation, "seconds": round(res.seconds, 3), "page_overlay": os.path.abspath(page_path),
        "boxes": [{"id": b.id, "polygon": [[round(x, 2), round(y, 2)] for x, y in b.polygon], "score": b.score,
                   "text": b.text, "text_score": b.text_score, "field": res.fields[i],
                   "field_prob": float(res.field_probs[i].max())} for i, b in enumerate(boxes)],
        "fields": fields, "decisions": decisions, "flags": res.flags,
        "report": os.path.abspath(os.path.join(out_dir, "report.json")),
    }
    if gt is not None:
        report["ground_truth"] = score_against_gt(res, gt, clf, match_boxes_to_gt)
    if vdl is not None:
        tag = safe_tag(res.name)
        vdl.image(f"{tag}/page", page_png)
        vdl.scalar(f"{tag}/flags", len(res.flags))
        for d in decisions:
            vdl.scalar(f"{tag}/field/own_share", d["own_share"], step=d["box_id"])
    save_json(report["report"], report)
    return report


def attribution_table(shares, by_id, top: int = 3) -> str:
    """'价税合计（大写） 58% · ¥1,234.56 31% · background 11%' for the top regions."""
    regs = sorted(shares["regions"], key=lambda r: -r["share"])[:top]
    parts = [f"'{by_id[r['box_id']].text or r['box_id']}' {100 * r['share']:.0f}%" for r in regs if r["share"] >= 0.01]
    parts.append(f"background {100 * shares['background']:.0f}%")
    return " · ".join(parts)


def score_against_gt(res, gt, clf, matcher):
    """Field accuracy on matched boxes and the pointing game of explained decisions."""
    import numpy as np

    from ..invoice.fields import gt_class
    from ..ocr.regions import grown_polygon
    from ..ocr.targets import polygon_mask

    lines = gt["lines"]
    match = matcher([b.polygon for b in res.boxes], lines)
    correct = sum(1 for i, j in match.items() if res.fields[i] == gt_class(lines[j]))
    hits = n_point = 0
    for box_id, e in res.explained.items():
        i = next(k for k, b in enumerate(res.boxes) if b.id == box_id)
        if i not in match or gt_class(lines[match[i]]) == "other":
            continue
        want = res.fields[i]
        x, y = e["peak"]
        n_point += 1
        for line in lines:
            if gt_class(line) == want:
                m = polygon_mask(grown_polygon(line["polygon"], 4), res.page.shape[:2])
                if m[min(y, m.shape[0] - 1), min(x, m.shape[1] - 1)] > 0:
                    hits += 1
                    break
    return {"matched_boxes": len(match), "field_correct": correct, "pointing_hits": hits, "pointing_n": n_point}


def write_corpus_outputs(out_root, rows, errors, agg, docs, cfg):
    import numpy as np

    from ..io import save_json, save_npy, save_png
    from ..sinks.html_report import img_data_uri, write_index
    from ..sinks.overlay import colorize

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
    }
    aggregate = agg.result()
    if aggregate is not None:
        save_npy(os.path.join(out_root, "aggregate.npy"), aggregate)
        save_png(os.path.join(out_root, "aggregate.png"), colorize(aggregate / max(aggregate.max(), 1e-12)))
    save_json(os.path.join(out_root, "summary.json"), summary)
    thumbs = {}
    for r in rows:
        if os.path.isfile(r.get("page_overlay", "")):
            from ..io import read_image

            thumbs[r["page"]] = img_data_uri(read_image(r["page_overlay"])[:, :, ::-1],
                                             max_width=int(cfg["Output"]["thumbnail_width"]))
    write_index(os.path.join(out_root, "index.html"), "paddle_cam · 发票识别 QA", rows, summary, aggregate, thumbs, errors)
    return summary


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
