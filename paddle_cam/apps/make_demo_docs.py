#!/usr/bin/env python
"""Render synthetic demo documents with ground truth.

    python tools/make_demo_docs.py --kind invoice --num 4 --seed 100 --out demo_docs/invoices
    python tools/make_demo_docs.py --kind lines --seed 7 --out demo_docs/lines

Defaults: configs/make_demo_docs.yml. Invoices: OUT/invoice_<seed>.jpg with OUT/invoice_<seed>.json
(:func:`paddle_cam.datasets.invoices.render_invoice`); lines: OUT/line_*.png and
OUT/ground_truth.json (:func:`paddle_cam.datasets.lines.make_lines`).
"""
import argparse
import os

from ..cli import run_main

KINDS = ("invoice", "lines")
FLAGS = {"kind": "Global.kind", "num": "Global.num", "seed": "Global.seed", "out": "Global.output"}


def parse_args(argv=None) -> argparse.Namespace:
    from ..config import add_config_args

    p = argparse.ArgumentParser(description=__doc__.split("\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=list(KINDS), default=None,
                   help="invoice: VAT invoice pages with line polygons; "
                        "lines: text lines for the orientation classifier (default invoice)")
    p.add_argument("--num", type=int, default=None, help="invoices to render; invoice i uses seed SEED+i (default 1)")
    p.add_argument("--seed", type=int, default=None, help="first seed (default 7)")
    p.add_argument("--out", default=None, help="output folder (required, here or as -o Global.output=DIR)")
    add_config_args(p)
    return p.parse_args(argv)


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


def write_invoices(cfg: dict) -> int:
    import cv2
    from tqdm import tqdm

    from ..datasets.invoices import render_invoice
    from ..errors import InputError
    from ..io import atomic_write_bytes, ensure_writable_dir, save_json

    g = cfg["Global"]
    num, seed0 = int(g["num"]), int(g["seed"])
    if num < 1:
        raise InputError(f"--num must be at least 1, got {num}")
    if seed0 < 0 or seed0 + num > 2 ** 32:
        raise InputError(f"seeds must lie in [0, 2**32); got --seed {seed0} with --num {num}")
    out = ensure_writable_dir(g["output"])
    quality = int(cfg["Output"]["jpeg_quality"])
    for seed in tqdm(range(seed0, seed0 + num), desc="invoices", unit="page", disable=num <= 1):
        img, gt = render_invoice(seed)
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for invoice seed {seed}")
        stem = os.path.join(out, f"invoice_{seed:04d}")
        atomic_write_bytes(stem + ".jpg", enc.tobytes())
        save_json(stem + ".json", gt)
    last = seed0 + num - 1
    print(f"wrote {num} invoice{'s' if num > 1 else ''} (seeds {seed0}..{last}) -> {out}")
    return 0


def main(argv=None) -> int:
    cfg = settings(parse_args(argv))
    return write_invoices(cfg) if cfg["Global"]["kind"] == "invoice" else write_lines(cfg)


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
