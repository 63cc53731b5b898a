"""Render synthetic demo documents with ground truth.

examples:
  paddle-cam demo-docs --kind invoice --num 4 --seed 100 --save_path demo_docs/invoices
  python tools/make_demo_docs.py --kind invoice --families vat_special,digital --per_family 4 --save_path pages
  python tools/make_demo_docs.py --kind samples --save_path docs/families
  python tools/make_demo_docs.py --kind lines --seed 7 --save_path demo_docs/lines

Defaults: configs/make_demo_docs.yml. Invoices: OUT/invoice_<seed>.jpg with OUT/invoice_<seed>.json
(:func:`paddle_cam.datasets.invoices.render_invoice`, the paper VAT families); with ``--families``
(or ``all``): OUT/<family>_<seed>.jpg/.json, ``--per_family`` pages of each family
(:func:`paddle_cam.datasets.invoices.render_document`). Samples: OUT/<family>.jpg, one small page
per family (seed SEED) for the README. Lines: OUT/line_*.png and OUT/ground_truth.json
(:func:`paddle_cam.datasets.lines.make_lines`).
"""
import argparse
import os

from ..cli import run_main

KINDS = ("invoice", "samples", "lines")
FLAGS = {"kind": "Global.kind", "num": "Global.num", "seed": "Global.seed", "out": "Global.output",
         "families": "Global.families", "per_family": "Global.per_family"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    from .common import parse, parser

    doc = __doc__.split("\n")
    p = parser(doc[0], "\n".join(doc[2:]))
    p.add_argument("--kind", choices=list(KINDS), default=None,
                   help="invoice: document pages with line polygons; samples: one small JPEG per family; "
                        "lines: text lines for the orientation classifier (default invoice)")
    p.add_argument("--num", type=int, default=None, help="invoices to render; invoice i uses seed SEED+i (default 1)")
    p.add_argument("--seed", type=int, default=None, help="first seed (default 7)")
    p.add_argument("--families", default=None,
                   help="comma-separated families (vat_special, vat_normal, vat_e_normal, digital, taxi, train) "
                        "or all; pages are <family>_<seed>.jpg (default: paper invoices invoice_<seed>.jpg)")
    p.add_argument("--per_family", type=int, default=None, help="pages per family with --families (default 1)")
    p.add_argument("--save_path", dest="out", default=None, help="output folder (required, here or as -o Global.output=DIR)")
    p.add_argument("--out", "--output", dest="out", default=None, help=argparse.SUPPRESS)
    add_config_args(p)
    return parse(p, argv, "make_demo_docs", FLAGS, need_input=False)


def settings(args: argparse.Namespace) -> dict:
    """Defaults, ``-c``, ``-o``, then the flags; the output folder and the kind are required to be valid."""
    from ..config import load_config, set_from_args
    from ..errors import InputError

    cfg = set_from_args(load_config("make_demo_docs", args.config, args.opt), args, FLAGS)
    g = cfg["Global"]
    if not g["output"]:
        raise InputError("no output folder; pass --out DIR (or -o Global.output=DIR)")
    if g["kind"] not in KINDS:
        raise InputError(f"Global.kind must be one of {', '.join(KINDS)}, not {g['kind']!r}")
    return cfg


def chosen_families(cfg: dict) -> list:
    """The families of ``Global.families`` (``all`` or a comma list; each checked), or [] when unset."""
    from ..config import as_list
    from ..datasets.invoices import FAMILIES, check_family

    names = as_list(cfg["Global"]["families"])
    if names == ["all"]:
        return list(FAMILIES)
    return [check_family(n) for n in dict.fromkeys(names)]


def write_lines(cfg: dict) -> int:
    from ..datasets.lines import make_lines
    from ..io import ensure_writable_dir, save_json, save_png

    g = cfg["Global"]
    out = ensure_writable_dir(g["output"])
    gt = []
    for name, img, deg, text in make_lines(int(g["seed"])):
        save_png(os.path.join(out, name + ".png"), img[:, :, ::-1])
        gt.append({"file": name + ".png", "orientation": deg, "text": text})
    save_json(os.path.join(out, "ground_truth.json"), {"kind": g["kind"], "seed": g["seed"], "lines": gt})
    print(f"wrote {len(gt)} lines -> {out}")
    return 0


def _jpeg(img, quality: int) -> bytes:
    import cv2

    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding of a generated page failed")
    return enc.tobytes()


def _check_seeds(seed0: int, num: int, flag: str) -> None:
    from ..errors import InputError

    if num < 1:
        raise InputError(f"{flag} must be at least 1, got {num}")
    if seed0 < 0 or seed0 + num > 2 ** 32:
        raise InputError(f"seeds must lie in [0, 2**32); got --seed {seed0} with {flag} {num}")


def write_invoices(cfg: dict) -> int:
    from tqdm import tqdm

    from ..datasets.invoices import render_document, render_invoice
    from ..io import atomic_write_bytes, ensure_writable_dir, save_json

    g = cfg["Global"]
    families = chosen_families(cfg)
    seed0 = int(g["seed"])
    num = int(g["per_family"] if families else g["num"])
    _check_seeds(seed0, num, "--per_family" if families else "--num")
    jobs = [(f, s) for f in families for s in range(seed0, seed0 + num)] if families else \
        [(None, s) for s in range(seed0, seed0 + num)]
    out = ensure_writable_dir(g["output"])
    quality = int(cfg["Output"]["jpeg_quality"])
    for family, seed in tqdm(jobs, desc="pages", unit="page", disable=len(jobs) <= 1):
        img, gt = render_invoice(seed) if family is None else render_document(seed, family)
        stem = os.path.join(out, f"{family or 'invoice'}_{seed:04d}")
        atomic_write_bytes(stem + ".jpg", _jpeg(img, quality))
        save_json(stem + ".json", gt)
    last = seed0 + num - 1
    what = f"{len(families)} famil{'ies' if len(families) > 1 else 'y'} x {num}" if families else \
        f"{num} invoice{'s' if num > 1 else ''}"
    print(f"wrote {what} (seeds {seed0}..{last}) -> {out}")
    return 0


def write_samples(cfg: dict) -> int:
    """OUT/<family>.jpg: one page per family at ``Output.sample_width`` px, for the README."""
    import cv2

    from ..datasets.invoices import FAMILIES, render_document
    from ..io import atomic_write_bytes, ensure_writable_dir

    g, o = cfg["Global"], cfg["Output"]
    _check_seeds(int(g["seed"]), 1, "--seed")
    out = ensure_writable_dir(g["output"])
    families = chosen_families(cfg) or list(FAMILIES)
    for family in families:
        img, _ = render_document(int(g["seed"]), family)
        f = min(1.0, int(o["sample_width"]) / img.shape[1])
        small = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
        atomic_write_bytes(os.path.join(out, f"{family}.jpg"), _jpeg(small, int(o["sample_quality"])))
    print(f"wrote {len(families)} sample pages ({', '.join(families)}) -> {out}")
    return 0


def main(argv=None) -> int:
    cfg = settings(parse_args(argv))
    return {"invoice": write_invoices, "samples": write_samples, "lines": write_lines}[cfg["Global"]["kind"]](cfg)


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
