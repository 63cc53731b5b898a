"""paddle_cam as a library: the wheel `python -m build` makes installs into a fresh venv, carries its configs
and runs `paddle-cam ocr -i <demo invoice>` there; the declared requirements are ranges, the exact
versions live in constraints.txt."""
import json
import os
import re
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_requirements_are_ranges_and_constraints_pin_them():
    text = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    reqs = re.findall(r'"([A-Za-z0-9_.\-]+(?:[<>=!~]=?[^"]*)?)"', text[text.index("INSTALL_REQUIRES"):text.index("ONNX =")])
    assert reqs and not [r for r in reqs if "==" in r], reqs
    pins = {ln.split("==")[0].lower() for ln in open(os.path.join(ROOT, "constraints.txt"), encoding="utf-8")
            if "==" in ln and not ln.startswith("#")}
    for r in reqs:
        assert re.split(r"[<>=!~]", r)[0].lower() in pins, f"{r} has no exact version in constraints.txt"


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_explains_the_demo_invoice(tmp_path):
    dist = tmp_path / "dist"
    p = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), ROOT],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    wheel = next(dist.glob("paddle_cam-*.whl"))
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py, exe = venv / "bin" / "python", venv / "bin" / "paddle-cam"
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    # the dependencies come from this environment (a plain path: its editable paddle_cam stays out of sight)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([str(exe), "ocr", "-i", os.path.join(ROOT, "demo_docs", "invoices", "invoice_0100.jpg"),
                        "--save_path", str(out), "--boxes", "top-2", "--device", "cpu"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    rep = json.loads((out / "invoice_0100" / "report.json").read_text(encoding="utf-8"))
    assert len(rep["boxes"]) > 80 and len(rep["explanations"]) == 3
    where = subprocess.run([str(py), "-c", "import paddle_cam.config as c; print(c.__file__, c.CONFIG_DIR)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env).stdout.split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv))   # the wheel's code and configs
