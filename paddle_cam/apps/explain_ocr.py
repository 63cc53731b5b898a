"""Explain PaddleOCR text detection: which pixels made each DB box (or missed line).

    python tools/explain_ocr.py --img demo_docs/invoices/invoice_0100.jpg --vdl_dir runs
    python tools/explain_ocr.py --img invoices/ --boxes top-5 --method layercam --layers scales
    python tools/explain_ocr.py --img page.png --missed 120,340,560,372 -o PostProcess.box_thresh=0.5
    python tools/explain_ocr.py --img invoice.jpg --rec --boxes 3,7        # every character of boxes 3 and 7
    python tools/explain_ocr.py --img invoice.jpg --chars 3:5 -o Rec.contrast=runner-up

Per image, OUT/<name>/: page.png (all-text heatmap + boxes and their text), panels/<target>.png,
raw/<target>.npy (un-normalised maps) and report.json (written last). With --rec or --chars also
rec/box_<id>.png (crop, text with per-character confidence, per-character maps), rec/raw/*.npy
(maps on the crop) and report.json "rec".
"""
import argparse
import os

from ..cli import quiet_paddle, run_main
from .common import MODEL_ARGS, add_model_args, explain_each, method_kwargs

quiet_paddle()

RAW_MAPS = ("grid", "page", "none")


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--img", "--image_dir", dest="img", required=True, help="image file or folder of images")
    add_model_args(p)
    p.add_argument("--model_dir", dest="det_model_dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--output", default=None, help="output folder (default output/ocr)")
    p.add_argument("--boxes", default=None, help="all | top-K | box ids N,M,... | none")
    p.add_argument("--method", default=None, help="gradcam gradcampp xgradcam layercam hirescam eigencam scorecam")
    p.add_argument("--layers", default=None, help="comma-separated layer names or aliases (neck, stage5, scales)")
    p.add_argument("--region", action="append", default=None, help="explain a region x1,y1,x2,y2[,...] (repeatable)")
    p.add_argument("--missed", action="append", default=None, help="a line that was not detected x1,y1,x2,y2[,...]")
    p.add_argument("--rec", action="store_const", const=True, default=None,
                   help="also explain every character the recogniser read in the selected boxes")
    p.add_argument("--chars", action="append", default=None,
                   help="explain box BOX's characters K,..: BOX:K[,K..] | BOX:least | BOX:string | BOX:all (repeatable)")
    p.add_argument("--vdl_dir", default=None, help="log images/scalars/text to VisualDL here")
    p.add_argument("--vdl_run", default=None, help="VisualDL run name = model variant (default base)")
    p.add_argument("--device", default=None, help="cpu or gpu")
    add_config_args(p)
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> dict:
    """configs/det/explain_ocr.yml, then -c, -o and the flags; checked before any model loads."""
    from ..config import as_list, load_config, set_from_args
    from ..errors import InputError

    cfg = load_config("det/explain_ocr", args.config, args.opt)
    set_from_args(cfg, args, {
        **MODEL_ARGS, "output": "Global.output", "vdl_dir": "Global.vdl_dir", "vdl_run": "Global.vdl_run",
        "device": "Global.device", "boxes": "Explain.boxes", "method": "Explain.method",
        "layers": "Explain.layers", "region": "Explain.regions", "missed": "Explain.missed",
        "rec": "Rec.explain", "chars": "Rec.chars"})
    cfg["Explain"]["layers"] = as_list(cfg["Explain"]["layers"])
    r = cfg["Rec"]
    r["layers"] = as_list(r["layers"])
    # one spec "3:0,2" holds commas itself: a string is one spec, not a comma list
    r["chars"] = [r["chars"]] if isinstance(r["chars"], str) else [str(c) for c in r["chars"] or []]
    if (r["explain"] or r["chars"]) and not cfg["Global"].get("use_rec", True):
        raise InputError("--rec / --chars explain the recogniser: Global.use_rec must be true")
    if r["explain"] or r["chars"]:
        from ..methods import get_method
        from ..ocr.explain import parse_char_spec

        for spec in r["chars"]:
            parse_char_spec(spec)
        get_method(r["method"])
    if cfg["Output"]["raw_maps"] not in RAW_MAPS:
        raise InputError(f"Output.raw_maps must be grid, page or none, not {cfg['Output']['raw_maps']}")
    return cfg


def build_explainer(cfg: dict):
    """The configured text pipeline and an explainer of its detector."""
    from ..ocr.explain import OCRExplainer
    from ..ocr.pipeline import TextPipeline

    e = cfg["Explain"]
    pipeline = TextPipeline.from_config(cfg)
    r = cfg["Rec"]
    rec_explainer = None
    if (r["explain"] or r["chars"]) and pipeline.rec is not None:
        from ..ocr.rec_explain import RecExplainer

        rec_explainer = RecExplainer(pipeline.rec.recognizer, r["method"], r["layers"] or None)
    return OCRExplainer(pipeline, e["method"], e["layers"], method_kwargs(e), bool(e["gradient_support"]),
                        rec_explainer)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    g, e = cfg["Global"], cfg["Explain"]

    from ..cli import set_device
    from ..fonts import find_cjk_font_path
    from ..hooks import resolve_layer
    from ..io import ensure_writable_dir, list_images
    from ..methods import get_method
    from ..ocr.explain import parse_polygon

    out_root = ensure_writable_dir(g["output"])
    images = list_images(args.img)
    get_method(e["method"])
    regions = [parse_polygon(r) if isinstance(r, str) else r for r in e["regions"] or []]
    missed = [parse_polygon(r) if isinstance(r, str) else r for r in e["missed"] or []]
    find_cjk_font_path()
    set_device(g["device"])
    explainer = build_explainer(cfg)
    for layer in explainer.layers:
        resolve_layer(explainer.detector.model, layer)

    vdl = None
    if g["vdl_dir"]:
        from ..sinks.visualdl import VisualDLRun

        vdl = VisualDLRun(g["vdl_dir"], g["vdl_run"])
    def one(path: str) -> str:
        report = explain_one(explainer, path, out_root, cfg, regions, missed, vdl)
        n = len(report["explanations"])
        return f"{len(report['boxes'])} boxes, {n} explanations -> {os.path.dirname(report['page_overlay'])}"

    try:
        failed = explain_each(images, "explain_ocr", one)
    finally:
        if vdl is not None:
            vdl.close()
    if len(images) > 1:
        print(f"explained {len(images) - failed}/{len(images)} images -> {out_root}")
    if vdl is not None:
        print(f"VisualDL: visualdl --logdir {g['vdl_dir']}  (run '{g['vdl_run']}')")
    return 2 if failed else 0


def explain_one(explainer, path: str, out_root: str, cfg: dict, regions, missed, vdl) -> dict:
    """Explain one image and write its outputs; returns its report."""
    from ..io import read_image
    from ..sinks.det_report import model_record, write_page
    from ..sinks.visualdl import safe_tag

    e, o = cfg["Explain"], cfg["Output"]
    img = read_image(path, max_pixels=int(o["max_pixels"]))
    result = explainer.explain_page(img, e["boxes"], bool(e["all_text"]), regions, missed)
    r = cfg["Rec"]
    if explainer.rec_explainer is not None:
        from ..ocr.explain import explain_rec

        result.rec = explain_rec(explainer, result.page, e["boxes"], r["chars"], r["contrast"])
    stem = os.path.splitext(os.path.basename(path))[0]
    return write_page(os.path.join(out_root, stem), path, result, model_record(explainer.pipeline),
                      explainer.method.name, explainer.layers, float(o["alpha"]), o["raw_maps"], vdl, safe_tag(stem))


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
