"""``paddle-cam <task> [options]``: one command for every tool (the same as ``python tools/<tool>.py``).

``paddle-cam -h`` lists the tasks, ``paddle-cam <task> -h`` a task's options (with their defaults),
``paddle-cam --version`` the version. Nothing here imports Paddle: help and argument errors are instant.
"""
from __future__ import annotations

import importlib
import sys
from typing import List, Optional

# task -> (module under paddle_cam.apps, tools/ script, what it does)
TASKS = {
    "ocr": ("explain_ocr", "explain_ocr.py", "explain text detection and recognition on images, PDFs, folders"),
    "qa": ("qa_invoices", "qa_invoices.py", "invoice QA over a folder: fields read, checked and explained"),
    "cls": ("explain_cls", "explain_cls.py", "explain a classifier (text-line orientation, PP-LCNet)"),
    "evaluate": ("evaluate_explanations", "evaluate_explanations.py",
                 "score explanation methods: pointing game, deletion/insertion, randomisation"),
    "prune-compare": ("prune_compare", "prune_compare.py", "before/after PaddleSlim pruning: cost and drift"),
    "train-field": ("train_field_cls", "train_field_cls.py", "train the invoice field classifier"),
    "parity": ("parity_check", "parity_check.py", "dynamic graph vs Paddle Inference / ONNX Runtime"),
    "demo-docs": ("make_demo_docs", "make_demo_docs.py", "render synthetic invoices with ground truth"),
}


def usage() -> str:
    from .. import __version__

    width = max(map(len, TASKS))
    rows = "\n".join(f"  {t:<{width}}  {d}  (tools/{s})" for t, (_, s, d) in TASKS.items())
    return (f"paddle_cam {__version__}: explainability for PaddleOCR models\n\n"
            f"usage: paddle-cam <task> [options]     paddle-cam <task> -h\n\ntasks:\n{rows}\n\n"
            f"example: paddle-cam ocr -i demo_docs/invoices/invoice_0100.jpg --save_path output/ocr\n")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from .. import __version__

        print(f"paddle_cam {__version__}")
        return 0
    task = argv[0]
    if task not in TASKS:
        import difflib

        near = difflib.get_close_matches(task, list(TASKS), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        sys.stderr.write(f"error: unknown task '{task}'{hint} Tasks: {', '.join(TASKS)} (paddle-cam -h)\n")
        return 2
    module = importlib.import_module(f".{TASKS[task][0]}", __package__)
    sys.argv[0] = f"paddle-cam {task}"   # argparse's prog in usage lines
    from ..cli import run_main

    run_main(lambda: module.main(argv[1:]))
    return 0


def cli() -> None:
    """Console-script entry point: ``paddle-cam``."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
