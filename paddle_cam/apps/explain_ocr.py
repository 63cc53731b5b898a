"""Explain PaddleOCR text detection and recognition: which pixels made each box, each character.

examples:
  paddle-cam ocr -i demo_docs/invoices/invoice_0100.jpg --vdl_dir runs
  python tools/explain_ocr.py -i invoices/ --boxes top-5 --method layercam --layers scales
  python tools/explain_ocr.py -i scans.pdf -o Global.pdf_pages=1-2 --method integrated_gradients
  python tools/explain_ocr.py -i page.png --missed 120,340,560,372 --box_thresh 0.5
  python tools/explain_ocr.py -i invoice.jpg --rec --boxes 3,7        # every character of boxes 3 and 7
  python tools/explain_ocr.py -i invoice.jpg --chars 3:5 -o Rec.contrast=runner-up

Input: an image, a PDF (every page, or -o Global.pdf_pages=1-3,5) or a folder (searched recursively).
Pages are turned upright first (Global.fix_orientation). Per page, SAVE_PATH/<name>/: page.png
(all-text map with its colour bar, boxes and ids), panels/<target>.png (crop, map on the page's
shared scale, colour bar; caption: text and scores, the box's own share of the map and the top
other regions), raw.npz (raw maps), report.json (written last). With --rec or --chars also
rec/box_<id>.png and report.json "rec". Defaults: configs/det/explain_ocr.yml (-c, -o).
"""
import argparse
import os

from ..cli import quiet_paddle, run_main
from .common import (DET_PARAMS, MODEL_ARGS, add_det_params, add_device_arg, add_input_arg, add_model_args,
                     add_save_path_arg, parse, parser)

quiet_paddle()

RAW_MAPS = ("grid", "page", "none")
COLOUR_SCALES = ("page", "panel")
DEFAULTS = "det/explain_ocr"
FLAGS = {**MODEL_ARGS, **DET_PARAMS, "output": "Global.output", "vdl_dir": "Global.vdl_dir",
         "vdl_run": "Global.vdl_run", "device": "Global.device", "boxes": "Explain.boxes", "method": "Explain.method",
         "layers": "Explain.layers", "region": "Explain.regions", "missed": "Explain.missed", "rec": "Rec.explain",
         "chars": "Rec.chars", "pdf_pages": "Global.pdf_pages"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    add_input_arg(p, "image, PDF or folder (searched recursively)")
    add_save_path_arg(p)
    add_model_args(p)
    p.add_argument("--model_dir", dest="det_model_dir", default=None, help=argparse.SUPPRESS)
    add_det_params(p)
    p.add_argument("--boxes", default=None, help="all | top-K | box ids N,M,... | none")
    p.add_argument("--method", default=None, help="gradcam gradcampp xgradcam layercam hirescam eigencam scorecam "
                   "integrated_gradients smoothgrad occlusion rise")
    p.add_argument("--layers", default=None, help="comma-separated layer names or aliases (neck, stage5, scales)")
    p.add_argument("--region", action="append", default=None, help="explain a region x1,y1,x2,y2[,...] (repeatable)")
    p.add_argument("--missed", action="append", default=None, help="a line that was not detected x1,y1,x2,y2[,...]")
    p.add_argument("--rec", action="store_const", const=True, default=None,
                   help="also explain every character the recogniser read in the selected boxes")
    p.add_argument("--chars", action="append", default=None,
                   help="explain box BOX's characters K,..: BOX:K[,K..] | BOX:least | BOX:string | BOX:all (repeatable)")
    p.add_argument("--pdf_pages", default=None, help="PDF pages to explain, e.g. 1-3,5")
    p.add_argument("--vdl_dir", default=None, help="log images/scalars/text to VisualDL here")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name, e.g. the model variant")
    add_device_arg(p)
    add_config_args(p)
    return parse(p, argv, DEFAULTS, FLAGS)


def build_config(args: argparse.Namespace) -> dict:
    """configs/det/explain_ocr.yml, then -c, -o and the flags; checked before any model loads."""
    from ..config import as_list, load_config, set_from_args
    from ..errors import InputError

    cfg = load_config(DEFAULTS, args.config, args.opt)
    set_from_args(cfg, args, FLAGS)
    cfg["Explain"]["layers"] = as_list(cfg["Explain"]["layers"])
    r = cfg["Rec"]
    r["layers"] = as_list(r["layers"])
    # one spec "3:0,2" holds commas itself: a string is one spec, not a comma list
    r["chars"] = [r["chars"]] if isinstance(r["chars"], str) else [str(c) for c in r["chars"] or []]
    if (r["explain"] or r["chars"]) and not cfg["Global"].get("use_rec", True):
        raise InputError("--rec / --chars explain the recogniser: Global.use_rec must be true")
    from ..methods import check_method_for

    check_method_for(cfg["Explain"]["method"], "det")
    if r["explain"] or r["chars"]:
        from ..ocr.explain import parse_char_spec

        for spec in r["chars"]:
            parse_char_spec(spec)
        check_method_for(r["method"], "rec")
    o = cfg["Output"]
    if o["raw_maps"] not in RAW_MAPS:
        raise InputError(f"Output.raw_maps must be grid, page or none, not {o['raw_maps']}")
    if o["colour_scale"] not in COLOUR_SCALES:
        raise InputError(f"Output.colour_scale must be page or panel, not {o['colour_scale']}")
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    g, e = cfg["Global"], cfg["Explain"]

    from ..api import OCRExplainer
    from ..cli import set_device
    from ..fonts import find_cjk_font_path
    from ..hooks import resolve_layer
    from ..io import check_document, ensure_writable_dir, list_documents
    from ..ocr.explain import parse_polygon

    out_root = ensure_writable_dir(g["output"])
    docs = list_documents(args.input)
    if len(docs) == 1:
        check_document(docs[0], g["pdf_pages"])   # a bad page range fails before the models load
    regions = [parse_polygon(r) if isinstance(r, str) else r for r in e["regions"] or []]
    missed = [parse_polygon(r) if isinstance(r, str) else r for r in e["missed"] or []]
    find_cjk_font_path()
    set_device(g["device"])
    explainer = OCRExplainer.from_config(cfg)
    for layer in explainer.layers:
        resolve_layer(explainer.detector.model, layer)

    vdl = None
    if g["vdl_dir"]:
        from ..sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    try:
        pages, failed = explain_stream(explainer, docs, args.input, out_root, cfg, regions, missed, vdl)
    finally:
        if vdl is not None:
            vdl.close()
    if len(docs) > 1:
        print(f"explained {pages} pages of {len(docs) - failed}/{len(docs)} files -> {out_root}")
    if vdl is not None:
        print(f"VisualDL: visualdl --logdir {g['vdl_dir']}  (run '{g['vdl_run']}')")
    return 2 if failed else 0


def explain_stream(explainer, docs, root: str, out_root: str, cfg: dict, regions, missed, vdl):
    """Explain every page of ``docs`` and write each under ``out_root/<sub-folder>/<page name>``:
    the next page is read on a background thread while one is explained, and a page's outputs are
    written on another while the next is explained (both queues bounded: memory stays flat).
    Returns ``(pages written, files failed)``.

    One file: its first error propagates (one line, exit 2). Several: a failed file is one
    ``error:`` line and the others still run; pages already written stay complete."""
    import sys

    from tqdm import tqdm

    from ..cli import fail
    from ..errors import PaddleCamError
    from ..io import page_name, read_document
    from ..streaming import BackgroundWriter, prefetch

    g, e, r = cfg["Global"], cfg["Explain"], cfg["Rec"]
    single = len(docs) == 1
    failed, pages = set(), 0

    def pages_of():   # on the prefetch thread: reading and decoding only
        for path in docs:
            try:
                for name, img in read_document(path, int(g["pdf_dpi"]), int(cfg["Output"]["max_pixels"]),
                                               g["pdf_pages"]):
                    yield path, name, img, None
            except PaddleCamError as err:
                yield path, None, None, err

    def failure(path, err):
        if single or not isinstance(err, PaddleCamError):
            raise err
        if path not in failed:
            fail(f"{path}: {err}")
        failed.add(path)

    def finished(items):
        nonlocal pages
        for (path, name), report, err in items:
            if err is not None:
                failure(path, err)
                continue
            pages += 1
            if report["rotation"]:
                fail(f"{path}: page {name} was turned by {report['rotation']} degrees to read it upright", "warning")
            if single:
                print(f"{name}: {len(report['boxes'])} boxes, {len(report['explanations'])} explanations -> "
                      f"{os.path.dirname(report['page_overlay'])}")

    bar = tqdm(total=len(docs), desc="explain_ocr", unit="file", disable=None if not single else True, file=sys.stderr)
    current = None
    with BackgroundWriter(depth=2) as writer:
        for path, name, img, err in prefetch(pages_of(), depth=2):
            if path != current:
                bar.update(0 if current is None else 1)
                current = path
            if err is not None:
                failure(path, err)
                continue
            try:
                res = explainer.explain(img, e["boxes"], regions=regions, missed=missed, rec=bool(r["explain"]),
                                        chars=r["chars"])
            except PaddleCamError as err:
                failure(path, err)
                continue
            res.source = path
            name = page_name(path, root, name)
            writer.submit((path, name), res.save, os.path.join(out_root, name), vdl, name)
            finished(writer.done())
        finished(writer.drain())
    bar.update(1 if current is not None else 0)
    bar.close()
    return pages, len(failed)


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
