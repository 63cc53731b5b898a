import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def demo_lines(root):
    import json

    d = os.path.join(root, "demo_docs", "lines")
    with open(os.path.join(d, "ground_truth.json"), encoding="utf-8") as f:
        gt = json.load(f)
    return [(os.path.join(d, x["file"]), x["orientation"]) for x in gt["lines"]]
