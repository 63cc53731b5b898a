#!/usr/bin/env python
"""Dynamic graph vs Paddle Inference parity; see ``python tools/parity_check.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.parity_check import cli  # noqa: E402

if __name__ == "__main__":
    cli()
