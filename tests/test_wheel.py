"""A user installs a wheel, not the checkout: build it, install it without -e into a fresh
virtual environment, and run the commands a first session runs from there."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from conftest import ROOT, SPECS


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the wheel (no -e). Its dependencies (torch, onnx, ...) come from
    this environment through a path entry, not from PyPI: a .pth line adds the folder to
    sys.path after the venv's own site-packages, and the editable install of the checkout
    that sits there is not activated (.pth files inside an added folder are not run)."""
    tmp = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q",
                        "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next((tmp / "dist").glob("specc-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp / "venv" / site.split(str(venv) + "/", 1)[1] / "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                        "--no-deps", "-q", str(wheel)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return wheel, venv


ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(venv, *args, cwd):
    return subprocess.run([str(venv / "bin" / "specc"), *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=ENV)


def test_the_wheel_carries_every_package_and_data_file(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "specc/_grammar/specc.lark" in names
    assert {"specc/_specs/lenet5.net", "specc/_specs/resnet.net"} <= names
    assert "specc/tools/viewer/viewer.html" in names
    assert "specc/tools/viewer/vendor/dagre.min.js" in names
    source = {str(p.relative_to(ROOT)) for p in (ROOT / "specc").rglob("*.py")}
    assert sorted(source - names) == []


def test_the_installed_wheel_runs(installed, tmp_path):
    _, venv = installed
    where = subprocess.run([venv / "bin" / "python", "-c", "import specc; print(specc.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # not the checkout
    spec = tmp_path / "lenet5.net"
    spec.write_text((SPECS / "lenet5.net").read_text())
    r = _run(venv, "check", spec, cwd=tmp_path)
    assert r.returncode == 0 and "60,000 trainable parameters" in r.stdout, r.stderr
    lib = tmp_path / "r18.net"  # the bundled library, from inside the installed package
    lib.write_text('specc 1\nimport "resnet.net"\nnetwork r18 = resnet(depths=[2, 2, 2, 2])\n')
    r = _run(venv, "check", lib, cwd=tmp_path)
    assert r.returncode == 0 and "11,689,512" in r.stdout, r.stderr
    r = _run(venv, "train", spec, "--steps", "1", "--out", tmp_path / "run", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "run" / "checkpoint.safetensors").is_file(), r.stderr
    r = _run(venv, "export", spec, "--weights", tmp_path / "run", "-o", tmp_path / "m.onnx",
             cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "m.onnx").is_file(), r.stderr
    r = _run(venv, "graph", spec, "-o", tmp_path / "g.html", cwd=tmp_path)
    assert r.returncode == 0 and "dagre" in (tmp_path / "g.html").read_text(), r.stderr
    r = _run(venv, "lsp", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "language server" in r.stdout, r.stderr
