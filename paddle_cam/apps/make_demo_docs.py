#!/usr/bin/env python
"""Render synthetic demo documents with ground truth.

    python tools/make_demo_docs.py --kind invoice --num 4 --seed 100 --out demo_docs/invoices
    python tools/make_demo_docs.py --kind lines --seed 7 --out demo_docs/lines
"""
import argparse
import os

from ..cli import run_main

JPEG_QUALITY = 90


def _lines(args: argparse.Namespace) -> int:
    from paddle_cam.demo.lines import make_lines
    from paddle_cam.io import ensure_writable_dir, save_json, save_png

    out = ensure_writable_dir(args.out)
    gt = []
    for name, img, deg, text in make_lines(args.seed):
        save_png(os.path.join(out, name + ".png"), img[:, :, ::-1])
        gt.append({"file": name + ".png", "orientation": deg, "text": text})
    save_json(os.path.join(out, "ground_truth.json"), {"kind": args.kind, "seed": args.seed, "lines": gt})
    print(f"wrote {len(gt)} lines -> {out}")
    return 0


def _invoices(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from paddle_cam.demo.invoice import render_invoice
    from paddle_cam.errors import InputError
    from paddle_cam.io import atomic_write_bytes, ensure_writable_dir, save_json

    if args.num < 1:
        raise InputError(f"--num must be at least 1, got {args.num}")
    if args.seed < 0 or args.seed + args.num > 2 ** 32:
        raise InputError(f"seeds must lie in [0, 2**32); got --seed {args.seed} with --num {args.num}")
    out = ensure_writable_dir(args.out)
    for seed in tqdm(range(args.seed, args.seed + args.num), desc="invoices", unit="page", disable=args.num <= 1):
        img, gt = render_invoice(seed)
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for invoice seed {seed}")
        stem = os.path.join(out, f"invoice_{seed:04d}")
        atomic_write_bytes(stem + ".jpg", enc.tobytes())
        save_json(stem + ".json", gt)
    last = args.seed + args.num - 1
    print(f"wrote {args.num} invoice{'s' if args.num > 1 else ''} (seeds {args.seed}..{last}) -> {out}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description="render synthetic demo documents with ground truth")
    p.add_argument("--kind", choices=["invoice", "lines"], default="invoice",
                   help="invoice: VAT invoice pages with line polygons; "
                        "lines: text lines for the orientation classifier")
    p.add_argument("--num", type=int, default=1, help="invoices to render; invoice i uses seed SEED+i")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args()
    return _invoices(args) if args.kind == "invoice" else _lines(args)


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
