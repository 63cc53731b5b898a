#!/usr/bin/env python
"""Render synthetic demo documents with ground truth.

    python tools/make_demo_docs.py --kind lines --seed 7 --out demo_docs/lines
"""
import argparse
import os

from ..cli import run_main


def main() -> int:
    p = argparse.ArgumentParser(description="render synthetic demo documents with ground truth")
    p.add_argument("--kind", choices=["lines"], default="lines", help="what to render")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args()

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


def cli() -> None:
    """Console-script entry point."""
    run_main(main)
