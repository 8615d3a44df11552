"""Several processes and several machines: two "nodes" on 127.0.0.1 reach the weights of
`--nproc 2` bit for bit; a killed worker with --max-restarts resumes from the checkpoint and the
run still ends on the uninterrupted weights; launcher flags are checked before anything starts."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_cli
from test_resume import assert_identical, weights, write_small

ARGS = ("--epochs", "4", "--batch-size", "32", "--device", "cpu", "--save-every", "10",
        "--threads", "1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return write_small(tmp_path_factory)


@pytest.fixture(scope="module")
def two_procs(spec, tmp_path_factory):
    run = tmp_path_factory.mktemp("nproc") / "run"
    r = run_cli("train", spec, "--out", run, "--nproc", "2", *ARGS)
    assert r.returncode == 0, r.stderr[-3000:]
    return run


def _specc(*args):
    return subprocess.Popen([sys.executable, "-m", "specc", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_nodes_on_localhost_match_nproc_2(spec, two_procs, tmp_path):
    run, port = tmp_path / "run", free_port()
    nodes = [_specc("train", spec, "--out", run, "--nnodes", "2", "--node-rank", rank,
                    "--rdzv-endpoint", f"127.0.0.1:{port}", *ARGS) for rank in (0, 1)]
    for node in nodes:
        _, err = node.communicate(timeout=600)
        assert node.returncode == 0, err[-3000:]
    assert_identical(weights(two_procs), weights(run))


@pytest.mark.slow
def test_a_killed_worker_restarts_from_the_checkpoint(spec, two_procs, tmp_path):
    run = tmp_path / "run"
    launcher = _specc("train", spec, "--out", run, "--nproc", "2", "--max-restarts", "1", *ARGS)
    deadline = time.time() + 300
    while not (run / "checkpoint.safetensors").exists() and time.time() < deadline:
        time.sleep(0.05)
    workers = _workers_of(launcher.pid)
    assert len(workers) == 2, workers
    os.kill(workers[-1], signal.SIGKILL)
    out, err = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, err[-3000:]
    assert "lost a peer process" in err and "resuming at epoch" in out, (out, err[-3000:])
    assert_identical(weights(two_procs), weights(run))


def _workers_of(pid: int) -> list[int]:
    """The training processes under a `specc train --nproc` launcher (its torchrun's children)."""
    def children(p):
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []
    deadline = time.time() + 60
    while time.time() < deadline:
        found = [c for t in children(pid) for c in children(t)]
        if len(found) == 2:
            return sorted(found)
        time.sleep(0.05)
    return []


@pytest.mark.parametrize("args,message", [
    (("--nnodes", "2"), "--nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (("--nnodes", "2", "--rdzv-endpoint", "nohost", "--out", "x"), "is not HOST:PORT"),
    (("--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "h:1", "--out", "x"),
     "--node-rank 2 is outside 0..1"),
    (("--nnodes", "2", "--rdzv-endpoint", "h:1"), "needs --out RUN_DIR on a file system"),
    (("--nproc", "0"), "argument --nproc: must be between 1 and 256"),
])
def test_launcher_flags_are_checked_first(tmp_path, args, message):
    r = run_cli("train", "specs/lenet5.net", *args)
    assert r.returncode in (1, 2) and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
