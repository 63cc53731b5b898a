#!/usr/bin/env python
"""Invoice-recognition QA over folders of invoices; see ``python tools/qa_invoices.py -h``."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from paddle_cam.apps.qa_invoices import cli  # noqa: E402

if __name__ == "__main__":
    cli()
