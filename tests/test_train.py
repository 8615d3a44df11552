"""`specc train`: the first run, exact resume, distributed equivalence, bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import specc
from specc.train.config import resolve
from specc.train.loop import Trainer
from specc.train.signals import Interrupted

from conftest import ROOT, SPECS, run_cli, run_main


def model_weights(run_dir):
    return {k: v for k, v in load_file(str(run_dir / "checkpoint.safetensors")).items()
            if k.startswith("model/")}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_first_run_reaches_97_percent_on_digits(tmp_path):
    run = tmp_path / "first"
    r = run_cli("train", "specs/lenet5.net", "--out", run, "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(summary) == {"test_accuracy", "epochs", "steps", "seconds", "run_dir", "checkpoint",
                            "best", "stopped_early"}
    assert summary["best"]["value"] >= summary["test_accuracy"] and not summary["stopped_early"]
    assert summary["test_accuracy"] >= 0.97 and summary["epochs"] == 15
    assert summary["steps"] == 15 * 45  # 1,438 training digits in the recipe's batches of 32
    for f in ("checkpoint.safetensors", "best.safetensors", "metrics.csv", "curves.png",
              "config.json", "spec/lenet5.net"):
        assert (run / f).is_file(), f
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 16
    assert json.loads((run / "config.json").read_text())["optimizer"]["lr"] == 0.002

    # round trip: the exported model scores what the torch evaluation scored
    onnx_path = tmp_path / "lenet5.onnx"
    r = run_main("export", "specs/lenet5.net", "--weights", run, "-o", onnx_path)
    assert r.returncode == 0, r.stderr
    r = run_main("run", onnx_path, "--data", "digits", "--json", "--provider", "cpu")
    evaluated = json.loads(r.stdout)
    assert evaluated["accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-9)
    assert evaluated["samples"] == 359 and evaluated["provider"] == "CPUExecutionProvider"


def _quick(out, epochs, extra=()):
    return run_cli("train", "specs/lenet5.net", "--out", out, "--epochs", epochs,
                   "--batch-size", "64", *extra)


def test_resume_after_a_hard_kill_gives_identical_weights(tmp_path):
    """Killed once its first checkpoint is written, in the second epoch of three
    (test_resume.py kills at random moments, many times, on a smaller network)."""
    full = tmp_path / "full"
    assert _quick(full, 3).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "specc", "train", "specs/lenet5.net", "--out",
                             str(killed), "--epochs", "3", "--batch-size", "64"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (killed / "checkpoint.safetensors").exists():  # epoch 1's, written after its row
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len((killed / "metrics.csv").read_text().splitlines()) < 4  # it did not finish
    r = run_cli("train", "--resume", killed, "--epochs", "3")
    assert r.returncode == 0, r.stderr
    assert_identical(model_weights(full), model_weights(killed))


def test_ctrl_c_right_after_optimizer_step_is_not_applied_twice(tmp_path, monkeypatch):
    """The fault found by trying it: a Ctrl-C landing after optimizer.step() of batch i saved
    step i as not done, so the resumed run applied that batch twice."""
    net = specc.load(SPECS / "lenet5.net")
    cfg = resolve(str(SPECS / "lenet5.net"), "lenet5", net.recipe, {"epochs": 2, "batch_size": 64})
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    Trainer(net, cfg, tmp_path / "a", show_progress=False).fit()

    trainer = Trainer(net, cfg, tmp_path / "b", show_progress=False)
    real_step, calls = trainer._step, {"n": 0}

    def step_then_ctrl_c(*args):
        out = real_step(*args)  # optimizer.step() has run
        calls["n"] += 1
        if calls["n"] == 23 + 8:  # epoch 1 (23 batches of 64 per epoch), its 8th batch
            os.kill(os.getpid(), signal.SIGINT)
        return out
    monkeypatch.setattr(trainer, "_step", step_then_ctrl_c)
    with pytest.raises(Interrupted):
        trainer.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert json.loads(_info(tmp_path / "b")) == {"epoch": 1, "step": 8}
    Trainer(net, cfg, tmp_path / "b", show_progress=False).fit(resume=True)
    assert_identical(model_weights(tmp_path / "a"), model_weights(tmp_path / "b"))


def _info(run):
    from specc.core.weights import read_checkpoint
    _, meta = read_checkpoint(run / "checkpoint.safetensors")
    info = json.loads(meta["info"])
    return json.dumps({"epoch": info["epoch"], "step": info["step"]})


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    args = ("--epochs", "1", "--batch-size", "32", "--device", "cpu")
    r1 = run_cli("train", "specs/lenet5.net", "--out", one, *args)
    r2 = run_cli("train", "specs/lenet5.net", "--out", two, "--nproc", "2", *args)
    assert r1.returncode == 0 and r2.returncode == 0, r2.stderr[-2000:]
    a, b = model_weights(one), model_weights(two)
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-5


def test_bad_inputs_are_clear(tmp_path, write_spec, cli):
    """In-process (the CLI's own main and its one error boundary): what is checked is the
    message and the exit code, not the interpreter (test_cli and test_exit_codes check those
    through real processes)."""
    lenet5 = SPECS / "lenet5.net"
    r = cli("train", lenet5, "--data", "imagenet", "--out", tmp_path / "x")
    assert r.returncode == 1 and "unknown data set 'imagenet'" in r.stderr
    assert not (tmp_path / "x").exists()  # nothing is written for a run that cannot start
    small = write_spec("network three {\n input x: f32[N, 1, 8, 8]\n"
                       " output y = linear(flatten(x), 3)\n}")
    r = cli("train", small, "--out", tmp_path / "y", "--epochs", "1")
    assert r.returncode == 1
    assert "data set 'digits' has 10 classes but network 'three' output 'y' has only 3 units" in r.stderr
    r = cli("train", lenet5, "--out", ROOT / "pyproject.toml" / "run")
    assert r.returncode == 1 and "cannot create run folder" in r.stderr
    r = cli("train", lenet5, "--data", "mnist:/no/such/dir", "--out", tmp_path / "z")
    assert r.returncode == 1 and "no such folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_corrupt_and_foreign_checkpoints(tmp_path, write_spec, cli):
    run = tmp_path / "run"
    r = cli("train", SPECS / "lenet5.net", "--out", run, "--epochs", 1, "--batch-size", 64,
            "--threads", 1)
    assert r.returncode == 0, r.stderr
    other = write_spec("network other {\n input x: f32[N, 1, 32, 32]\n"
                       " output y = linear(flatten(x), 10)\n}")
    r = cli("export", other, "--weights", run, "-o", tmp_path / "o.onnx")
    assert r.returncode == 1
    assert "does not fit this network" in r.stderr and "missing (2): y.weight, y.bias" in r.stderr
    ckpt = run / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    r = cli("train", "--resume", run, "--epochs", "2")
    assert r.returncode == 1 and "not a readable checkpoint" in r.stderr
    assert "Traceback" not in r.stderr


def test_training_only_outputs_add_weighted_losses(tmp_path, write_spec):
    path = write_spec("""network aux {
    input x: f32[N, 1, 8, 8]
    h = relu(linear(flatten(x), 32))
    output logits = linear(h, 10)
    train output side = linear(x |> flatten, 10)
    train {
        epochs = 2
        optimizer = adam(lr=0.01)
        output_weights = [1.0, 0.5]
    }
}""")
    net = specc.load(path)
    cfg = resolve(str(path), "aux", net.recipe, {})
    assert cfg.output_weights == [1.0, 0.5]
    trainer = Trainer(net, cfg, tmp_path, show_progress=False)
    side_before = trainer.model.side.weight.detach().clone()
    result = trainer.fit()
    assert result["test_accuracy"] > 0.5
    assert not torch.equal(side_before, trainer.model.side.weight)  # the side head learned too


def test_a_smaller_batch_than_the_recipes_names_the_scaled_lr(tmp_path):
    """The recipe's lr was set for its batch; --batch-size alone keeps it (mobilenet_v3_small
    at batch 8 with the lr for 4096 diverged), so train says what linear scaling gives."""
    from specc.train.config import batch_lr_note
    net = specc.load(SPECS / "mobilenet.net", "mobilenet_v3_small")
    flags = {"batch_size": 8}
    cfg = resolve("m.net", net.name, net.recipe, dict(flags))
    note = batch_lr_note(net.recipe, cfg, flags)
    assert note == ("note: batch 8 with the recipe's lr 0.1, set for its batch 4096; the linear "
                    "scaling rule (Goyal et al. 2017) gives --lr 0.000195")
    for given in ({"batch_size": 8, "lr": 0.01}, {"batch_size": 4096}, {}):
        cfg = resolve("m.net", net.name, net.recipe, dict(given))
        assert batch_lr_note(net.recipe, cfg, given) is None
    r = run_main("train", SPECS / "lenet5.net", "--batch-size", "64", "--steps", "1",
                 "--out", tmp_path / "r")
    assert r.returncode == 0 and "--lr" in r.stderr and "linear scaling" in r.stderr


def test_a_demonstration_reports_its_own_metric_by_name(tmp_path):
    """A data set that brings a task fills the test-accuracy column with its own score;
    the epoch lines and the done line call it by its name (no 'train acc 0.0000')."""
    r = run_main("train", SPECS / "hebb.net", "--epochs", "1", "--out", tmp_path / "h",
                 "--threads", "1")
    assert r.returncode == 0, r.stderr
    epoch = next(line for line in r.stdout.splitlines() if line.startswith("epoch"))
    assert "recall_rate 1.0000" in epoch and "acc" not in epoch
    assert "done: recall rate 1.0000 after 1 epoch " in r.stdout
    assert "best recall rate 1.0000" in r.stdout
