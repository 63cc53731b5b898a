#!/usr/bin/env python
"""Compare explanations before/after PaddleSlim pruning; see ``python tools/prune_compare.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.prune_compare import cli  # noqa: E402

if __name__ == "__main__":
    cli()
