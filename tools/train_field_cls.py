#!/usr/bin/env python
"""Train the invoice-field classifier; see ``python tools/train_field_cls.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.train_field_cls import cli  # noqa: E402

if __name__ == "__main__":
    cli()
