#!/usr/bin/env python
"""Speed and memory ratios of the explainers; see ``python tools/benchmark.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.benchmark import cli  # noqa: E402

if __name__ == "__main__":
    cli()
