"""Invoice-recognition QA over a folder of invoice images and PDFs (each PDF page is a page).

examples:
  paddle-cam qa -i demo_docs/invoices --save_path output/qa --vdl_dir runs
  python tools/qa_invoices.py -i scans/ --save_path qa -c configs/qa.yml -o Explain.mode=sample Output.redact=true

Per page: OUT/<page>/page.png (boxes coloured by decided field), panels/ for explained decisions,
raw/ maps, report.json (written last: re-running skips finished pages) with the page reading (one
value per field, what it rests on) and its cross-checks. Then OUT/index.html (self-contained),
OUT/summary.json (per-field accuracy where <page>.json ground truth sits beside a page, cross-check
counts) and OUT/aggregate.png (where decisions looked, page coords).
"""
import argparse
import json
import os

from ..cli import fail, progress, quiet_paddle, run_main
from .common import (DET_PARAMS, MODEL_ARGS, add_det_params, add_device_arg, add_input_arg, add_model_args,
                     add_save_path_arg, parse, parser)

quiet_paddle()

EXPLAIN_MODES = ("low_confidence", "sample", "all", "none")


FLAGS = {**MODEL_ARGS, **DET_PARAMS, "output": "Global.output", "vdl_dir": "Global.vdl_dir",
         "vdl_run": "Global.vdl_run", "field_model_dir": "Global.field_model_dir", "device": "Global.device"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_input_arg(p, "folder of invoice images/PDFs (searched recursively), or one file")
    add_save_path_arg(p)
    p.add_argument("--vdl_dir", default=None, help="log page overlays and decision scalars to VisualDL")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name")
    p.add_argument("--field_model_dir", default=None, help="field classifier folder (default: the committed one, "
                   "demo_docs/field_cls)")
    add_model_args(p)
    add_det_params(p)
    add_device_arg(p)
    p.add_argument("--force", action="store_true", help="redo pages that already have a report.json")
    add_config_args(p)
    return parse(p, argv, "qa", FLAGS)


def build_config(args: argparse.Namespace) -> dict:
    """configs/qa.yml, then -c, -o and the flags; checked before any model loads."""
    from ..config import load_config, set_from_args
    from ..errors import InputError

    cfg = load_config("qa", args.config, args.opt)
    set_from_args(cfg, args, FLAGS)
    ref = cfg["QA"]["reference_date"]
    if ref is not None:
        import datetime

        try:
            datetime.date.fromisoformat(str(ref))
        except ValueError:
            raise InputError(f"QA.reference_date must be a date YYYY-MM-DD or null, not {ref}") from None
    if cfg["Explain"]["rec_chars"] not in ("low", "none"):
        raise InputError(f"Explain.rec_chars must be low or none, not {cfg['Explain']['rec_chars']}")
    if cfg["Explain"]["rec_chars"] != "none":
        from ..methods import get_method

        get_method(cfg["Explain"]["rec_method"])   # an unknown name fails here, before the models load
    if cfg["Explain"]["mode"] not in EXPLAIN_MODES:
        raise InputError(f"Explain.mode must be {', '.join(EXPLAIN_MODES[:-1])} or {EXPLAIN_MODES[-1]}, "
                         f"not {cfg['Explain']['mode']}")
    return cfg


def build_qa(cfg: dict):
    """The text pipeline (with the bundled line orientation classifier) and the field classifier."""
    from ..invoice.classifier import FieldClassifier
    from ..invoice.qa import InvoiceQA
    from ..models.cls import load_orientation_classifier
    from ..ocr.pipeline import TextPipeline

    pipeline = TextPipeline.from_config(cfg, use_rec=True, line_classifier=load_orientation_classifier())
    field_clf = FieldClassifier.load(cfg["Global"]["field_model_dir"])
    rec_explainer = None
    if cfg["Explain"]["rec_chars"] != "none":
        from ..ocr.rec_explain import RecExplainer

        rec_explainer = RecExplainer(pipeline.rec.recognizer, cfg["Explain"]["rec_method"],
                                     cfg["Explain"]["rec_layers"] or None)
    return InvoiceQA(pipeline, field_clf, cfg["QA"], cfg["Explain"], rec_explainer)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    g = cfg["Global"]

    from ..cli import set_device
    from ..datasets.ground_truth import load_ground_truth
    from ..errors import PaddleCamError
    from ..fonts import find_cjk_font_path
    from ..io import ensure_writable_dir, list_documents, page_name, read_document
    from ..sinks.qa_report import Aggregate, write_corpus_outputs, write_page_report

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
            # a stray .json beside a user's scan is not ours to judge: unreadable means no ground truth
            gt = load_ground_truth(doc, strict=False)
            for name, page in pages:
                name = page_name(doc, args.input, name)
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
                report = write_page_report(os.path.join(out_root, name), doc, res, qa, cfg,
                                           gt if len(pages) == 1 else None, vdl)
                agg.add(res)
                rows.append(report)
    finally:
        if vdl is not None:
            vdl.close()
    summary = write_corpus_outputs(out_root, rows, errors, agg, docs, cfg)
    print(f"QA of {summary['pages']} pages ({summary['failed']} files failed, {summary['flagged_pages']} pages flagged) "
          f"-> {os.path.join(out_root, 'index.html')}")
    return 2 if errors else 0


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
