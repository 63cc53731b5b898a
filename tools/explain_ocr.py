#!/usr/bin/env python
"""Explain PaddleOCR text detection; see ``python tools/explain_ocr.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.explain_ocr import cli  # noqa: E402

if __name__ == "__main__":
    cli()
