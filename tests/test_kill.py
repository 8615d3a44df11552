"""`specc export` killed at random moments (SIGINT and SIGKILL): the output path always holds
either the file it held before or the complete new export, never a part of one; Ctrl-C leaves
no staging folder behind, and the next export removes those a SIGKILL left.

Each export runs in a forked child of this (already imported) process, so a kill costs a
fraction of a second and the test can kill many times: it is the export, not the imports,
that must be interrupted. One export also runs as a real `python -m specc` process."""
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest

import specc
from specc.cli.main import main
from specc.core.files import STAGING_SUFFIX

from conftest import ROOT, SPECS

KILLS = 40  # half SIGINT, half SIGKILL


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staging_folders(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(STAGING_SUFFIX))


def fork_export(argv) -> int:
    """Start `specc ARGV` in a forked child; its pid."""
    pid = os.fork()
    if pid == 0:  # the child: run the command, exit with its code, never return to pytest
        code = 3
        try:
            # libgomp's thread pool does not survive a fork: a child of a process that ran a
            # parallel region (any earlier test on this worker) hangs in its first one.
            # One thread keeps torch and oneDNN out of OpenMP regions in the child.
            sys.modules["torch"].set_num_threads(1)
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                code = main(argv)
        except KeyboardInterrupt:  # landed in this harness, before main began or after it
            code = 130
        finally:
            os._exit(code)
    return pid


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_export_killed_at_random_moments_is_complete_or_untouched(tmp_path):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # as after the tests a worker ran before: an OpenMP pool exists
    x = torch.ones(8, 16, 64, 64)
    torch.nn.functional.conv2d(x, torch.ones(32, 16, 3, 3))
    torch.set_num_threads(threads)
    spec = tmp_path / "lenet5.net"
    spec.write_text((SPECS / "lenet5.net").read_text())
    net = specc.load(spec)
    out = tmp_path / "model.onnx"
    net.to_onnx(out, seed=1)
    old = digest(out)
    net.to_onnx(tmp_path / "new.onnx", seed=0)  # the bytes every export below writes
    new = digest(tmp_path / "new.onnx")
    argv = ["export", str(spec), "-o", str(out)]
    t = time.perf_counter()
    os.waitpid(fork_export(argv), 0)
    whole = time.perf_counter() - t
    assert digest(out) == new
    rng = random.Random(8)
    seen = {"old": 0, "new": 0}
    for i in range(KILLS):
        out.write_bytes((tmp_path / "old.onnx").read_bytes() if (tmp_path / "old.onnx").exists()
                        else _old(net, tmp_path))
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGKILL
        pid = fork_export(argv)
        time.sleep(rng.uniform(0.0, 1.1) * whole)
        os.kill(pid, sig)
        _, status = os.waitpid(pid, 0)
        now = digest(out)
        assert now in (new, old), (sig, status)
        seen["new" if now == new else "old"] += 1
        if sig == signal.SIGINT and os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) in (0, 130), status
            # the interrupted export removed its own staging folder (a SIGKILLed one's may stay)
            assert not [f for f in staging_folders(tmp_path) if f".{pid}." in f"{f}."]
    print(f"kills: {seen}, export {whole:.2f} s")
    assert seen["old"] and seen["new"], seen  # kills landed both before and after the rename
    r = subprocess.run([sys.executable, "-m", "specc", *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert digest(out) == new and staging_folders(tmp_path) == []  # stale ones removed


def _old(net, tmp_path) -> bytes:
    net.to_onnx(tmp_path / "old.onnx", seed=1)
    return (tmp_path / "old.onnx").read_bytes()


def test_a_ctrl_c_during_staging_cleanup_still_removes_the_folder(tmp_path, monkeypatch):
    """A SIGINT that lands while the staging folder is being removed waits for the removal
    (under load an interrupted export exited 130 and left .model.onnx.PID.specc-tmp behind,
    failing the test above); the interrupt still ends the command."""
    from specc.core import files
    real = files.shutil.rmtree

    def interrupted_rmtree(path, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered in the middle of the cleanup
        return real(path, *args, **kwargs)

    monkeypatch.setattr(files.shutil, "rmtree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        with files.staging(tmp_path / "model.onnx") as tmp:
            (tmp / "model.onnx").write_bytes(b"x" * 1000)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_during_staging_creation_still_removes_the_folder(tmp_path, monkeypatch):
    """A SIGINT that lands while the staging folder is being made waits for the mkdir and is
    raised right after it: the folder it made must still be removed (the full suite saw an
    interrupted export exit 130 and leave .model.onnx.PID.specc-tmp behind)."""
    from specc.core import files
    real = files.Path.mkdir

    def interrupted_mkdir(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered in the middle of the creation
        return real(self, *args, **kwargs)

    monkeypatch.setattr(files.Path, "mkdir", interrupted_mkdir)
    body_ran = []
    with pytest.raises(KeyboardInterrupt):
        with files.staging(tmp_path / "model.onnx"):
            body_ran.append(True)
    monkeypatch.undo()
    assert body_ran == [] and list(tmp_path.iterdir()) == []
