"""The layering of ARCHITECTURE.md, enforced with import-linter (contracts in .importlinter)."""
import os
import shutil
import subprocess
import sys

import pytest


def _lint(root, config):
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: `pip install -e .[test]` installs import-linter")
    return subprocess.run([exe, "--no-cache", config], cwd=root, capture_output=True, text=True, timeout=300)


def test_layering_contracts_hold(root):
    res = _lint(root, os.path.join(root, ".importlinter"))
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_a_library_import_of_apps_breaks_the_contract(root, tmp_path):
    """The contract can fail: a copy of the package where ``ocr`` imports ``apps`` is refused."""
    pkg = tmp_path / "paddle_cam"
    shutil.copytree(os.path.join(root, "paddle_cam"), pkg, ignore=shutil.ignore_patterns("__pycache__"))
    with open(pkg / "ocr" / "__init__.py", "a", encoding="utf-8") as f:
        f.write("\nfrom ..apps import explain_ocr  # noqa: F401\n")
    shutil.copy(os.path.join(root, ".importlinter"), tmp_path / ".importlinter")
    res = _lint(str(tmp_path), str(tmp_path / ".importlinter"))
    assert res.returncode != 0
    assert "paddle_cam.ocr -> paddle_cam.apps" in res.stdout or "paddle_cam.ocr is not allowed to import paddle_cam.apps" in res.stdout
