#!/usr/bin/env python
"""Evaluate explanation methods (localisation, faithfulness, sanity); see ``python tools/evaluate_explanations.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.evaluate_explanations import cli  # noqa: E402

if __name__ == "__main__":
    cli()
