#!/usr/bin/env python
"""Render synthetic demo documents with ground truth; see ``python tools/make_demo_docs.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.make_demo_docs import cli  # noqa: E402

if __name__ == "__main__":
    cli()
