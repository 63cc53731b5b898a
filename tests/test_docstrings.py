"""Every example in the package's docstrings runs as written (those that need weights or files not in
the test environment are marked ``# doctest: +SKIP``); the tools' --help answers without loading Paddle."""
import doctest
import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import paddle_cam

MODULES = sorted(m.name for m in pkgutil.walk_packages(paddle_cam.__path__, "paddle_cam."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples of {name} failed (python -m doctest -v)"


def test_help_and_version_of_every_task_without_paddle():
    from paddle_cam.apps.main import TASKS

    code = ("import sys, io, contextlib\n"
            "from paddle_cam.apps.main import main\n"
            "for t in sys.argv[1:]:\n"
            "    buf = io.StringIO()\n"
            "    with contextlib.redirect_stdout(buf):\n"
            "        try:\n"
            "            main([t, '-h'])\n"
            "        except SystemExit as e:\n"
            "            assert e.code == 0, (t, e.code)\n"
            "    text = buf.getvalue()\n"
            "    assert '--version' in text and '(default: ' in text and '-c CONFIG' in text, t\n"
            "    if t not in ('train-field', 'demo-docs'):\n"
            "        assert '--device' in text, t\n"
            "    assert ('-i PATH' in text) == (t not in ('train-field', 'demo-docs')), t\n"
            "    assert '--save_path' in text or t == 'parity', t\n"
            "assert 'paddle' not in sys.modules, 'help imported Paddle'\n"
            "print('ok')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, "-c", code, *TASKS], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=root))
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stdout[-2000:] + p.stderr[-2000:]
    v = subprocess.run([sys.executable, "-m", "paddle_cam.apps.main", "--version"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=root))
    assert v.stdout.strip() == f"paddle_cam {paddle_cam.__version__}"
