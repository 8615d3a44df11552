"""Resume is exact however a run is stopped: SIGINT and SIGKILL at random moments, faults
injected inside checkpoint writes, finished runs, step limits, longer runs."""
import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, run_cli
from specc.cli.main import main

SMALL = """network small {
    input x: f32[N, 1, 8, 8]
    c = relu(conv(x, 8, 3, padding=1))
    h = dropout(relu(linear(flatten(c), 48)), 0.3)
    output y = linear(h, 10)
    train {
        epochs = 8
        batch_size = 32
        optimizer = sgd(lr=0.05, momentum=0.9)
    }
}"""
# the digits set has 1,438 training samples: 45 batches of 32 per epoch (the last one of 30)
BATCHES = 45
ARGS = ("--save-every", "7", "--threads", "1")

# a wrapper around the real safetensors writer that injects a fault at its n-th call
INJECT = """
import os, signal, sys
import specc.train.checkpoint as ck
mode, nth = sys.argv[1], int(sys.argv[2])
real, calls = ck.save_file, [0]
def save_file(tensors, path, metadata=None):
    calls[0] += 1
    if calls[0] == nth and mode == "int-inside-write":
        os.kill(os.getpid(), signal.SIGINT)   # arrives while the file is being written
    real(tensors, path, metadata=metadata)
    if calls[0] == nth and mode == "kill-half-written":
        with open(path, "r+b") as f:          # the temporary file, half of it on disk
            f.truncate(os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
ck.save_file = save_file
from specc.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


def weights(run):
    return {k: v for k, v in load_file(str(run / "checkpoint.safetensors")).items()
            if k.startswith("model/")}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def write_small(tmp_path_factory):
    """The small network in a folder of its own (module-scoped fixtures here and in
    test_distributed)."""
    path = tmp_path_factory.mktemp("spec") / "small.net"
    path.write_text("specc 1\n" + SMALL)
    return path


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return write_small(tmp_path_factory)


@pytest.fixture(scope="module")
def uninterrupted(spec, tmp_path_factory):
    run = tmp_path_factory.mktemp("full") / "run"
    r = run_cli("train", spec, "--out", run, *ARGS)
    assert r.returncode == 0, r.stderr
    return run


def _start(args, inject=None):
    cmd = [sys.executable, "-m", "specc", *map(str, args)]
    if inject:
        cmd = [sys.executable, "-c", INJECT, *inject, *map(str, args)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _continue(spec, run):
    """The command that carries a run on from wherever it stands."""
    if (run / "checkpoint.safetensors").exists():
        return ["train", "--resume", run, "--threads", "1"]
    return ["train", spec, "--out", run, *ARGS]


def test_random_sigint_and_sigkill_then_resume_is_bit_identical(spec, uninterrupted, tmp_path):
    seed = random.randrange(10 ** 6)
    rng = random.Random(seed)
    run = tmp_path / "run"
    outcomes = []
    for sig in (signal.SIGINT, signal.SIGKILL, signal.SIGINT):
        proc = _start(_continue(spec, run))
        for line in proc.stdout:  # wait until training has begun, then a random moment
            if line.startswith("threads:"):
                break
        time.sleep(rng.uniform(0.0, 1.0))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        outcomes.append((sig.name, proc.returncode))
        assert "Traceback" not in err, (seed, err)
        if sig == signal.SIGINT and proc.returncode == 130:
            assert "the checkpoint is saved" in err, (seed, err)
    assert main([str(a) for a in _continue(spec, run)]) == 0, (seed, outcomes)
    assert_identical(weights(uninterrupted), weights(run))


@pytest.mark.parametrize("mode,nth", [("kill-half-written", 5), ("int-inside-write", 10)])
def test_faults_inside_a_checkpoint_write(spec, uninterrupted, tmp_path, mode, nth):
    run = tmp_path / "run"
    proc = _start(["train", spec, "--out", run, *ARGS], inject=(mode, str(nth)))
    _, err = proc.communicate(timeout=300)
    stale = [p for p in run.iterdir() if p.name.endswith(".tmp")]
    if mode == "kill-half-written":  # killed inside the 5th write (step 35): step 28 stands
        assert proc.returncode == -signal.SIGKILL and len(stale) == 1
        assert _info(run)["global_step"] == 28
    else:  # the 10th write (saves at 7, 14, ..., 42, the end of epoch 1 at 45 with
        # best.safetensors before it, 49, 56) finishes,
        assert proc.returncode == 130 and "the checkpoint is saved" in err, err  # then it stops
        assert not stale and _info(run)["global_step"] == 56
    assert main(["train", "--resume", str(run), "--threads", "1"]) == 0
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert_identical(weights(uninterrupted), weights(run))


def _info(run):
    from specc.core.weights import read_checkpoint
    return json.loads(read_checkpoint(run)[1]["info"])


def test_finished_runs_step_limits_and_longer_runs(spec, uninterrupted, tmp_path, capsys):
    """One run carried through every way of ending and extending it; it still ends on the
    uninterrupted run's weights. (In-process through the CLI's own main, to save starts.)"""
    def cli(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    run = tmp_path / "run"
    code, _, err = cli("train", spec, "--out", tmp_path / "x", "--steps", "0")
    assert code == 2 and "argument --steps: must be at least 1, got 0" in err
    assert not (tmp_path / "x").exists()
    assert cli("train", spec, "--out", run, "--epochs", "2", *ARGS)[0] == 0
    code, out, err = cli("train", "--resume", run)  # the command "already holds a run" suggests
    assert code == 0, err
    assert f"{run} is already finished (2 epochs, test accuracy" in out
    before = (run / "checkpoint.safetensors").read_bytes()
    code, _, err = cli("train", "--resume", run, "--steps", "0")
    assert code == 2 and "argument --steps: must be at least 1" in err
    assert (run / "checkpoint.safetensors").read_bytes() == before

    # 90 steps done (45 per epoch); 10 more, evaluating every 4 steps on 2 test batches
    code, out, err = cli("train", "--resume", run, "--epochs", "8", "--steps", "100",
                         "--eval-every", "4", "--eval-steps", "2", "--json")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert (summary["steps"], summary["epochs"]) == (100, 2)
    assert (_info(run)["epoch"], _info(run)["step"]) == (2, 10)
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [row.split(",")[:2] for row in rows[1:]] == [["1", "45"], ["2", "90"], ["3", "92"],
                                                         ["3", "96"], ["3", "100"]]
    code, out, _ = cli("train", "--resume", run)
    assert code == 0 and "already finished (100 steps" in out, out
    assert cli("train", "--resume", run, "--epochs", "8")[0] == 0  # lifts the step limit
    assert_identical(weights(uninterrupted), weights(run))
