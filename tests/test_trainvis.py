"""Training visible where people look: TensorBoard event files that match metrics.csv and
survive resume, best.safetensors, early stopping, the learning rate in curves.png, and a
MultiStepLR run that decays after a resume exactly as it would have without one.
(In-process through the CLI's own main, tiny networks on the digits set, to stay cheap.)"""
import json
import shutil
import struct
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file

from specc.cli.main import main
from specc.core.weights import read_checkpoint

# 1,438 training digits in batches of 64: 23 steps per epoch (the last batch of 30)
PER_EPOCH = 23
TINY = """network tiny {{
    input x: f32[N, 1, 8, 8]
    h = relu(linear(flatten(x), 16))
    output y = linear(h, 10)
    train {{
        epochs = 3
        batch_size = 64
        optimizer = sgd(lr=0.1, momentum=0.9)
        {schedule}
    }}
}}"""
THREADS = ("--threads", "1")


@pytest.fixture
def tiny(write_spec):
    def make(schedule: str = ""):
        return write_spec(TINY.format(schedule=schedule), "tiny.net")
    return make


@pytest.fixture
def cli(capsys):
    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


def weights(path):
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("model/")}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def rows(run):
    import csv
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def info(path):
    return json.loads(read_checkpoint(path)[1]["info"])


# ------------------------------------------------------------------ MultiStepLR resume
def test_multistep_decays_after_a_resume_bit_for_bit(tiny, cli, tmp_path):
    """The milestone (epoch 2) lies after the resume point (step 30, inside epoch 2). Before
    the fix the checkpoint's JSON turned the milestone Counter's int keys into strings, so
    the resumed run never decayed: its epoch-3 lr stayed 0.1."""
    spec = tiny("schedule = multistep(milestones=[2], gamma=0.1)")
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert cli("train", spec, "--out", full, *THREADS)[0] == 0
    assert cli("train", spec, "--out", cut, "--steps", "30", *THREADS)[0] == 0
    assert info(cut / "checkpoint.safetensors")["global_step"] == 30
    assert cli("train", "--resume", cut, "--epochs", "3", *THREADS)[0] == 0
    lrs = [float(r["lr"]) for r in rows(full)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01], rel=1e-12)  # the uninterrupted decay
    assert [float(r["lr"]) for r in rows(cut) if r["epoch"] == "3"] == [lrs[2]]
    assert_identical(weights(full / "checkpoint.safetensors"),
                     weights(cut / "checkpoint.safetensors"))


def test_multistep_in_steps_decays_after_a_resume_bit_for_bit(tiny, cli, tmp_path):
    """The same with the milestone counted in optimizer steps (step 40, resumed at step 30)."""
    spec = tiny('schedule = multistep(milestones=[40], gamma=0.1, unit="steps")')
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert cli("train", spec, "--out", full, "--epochs", "2", *THREADS)[0] == 0
    assert cli("train", spec, "--out", cut, "--steps", "30", *THREADS)[0] == 0
    assert cli("train", "--resume", cut, "--epochs", "2", *THREADS)[0] == 0
    lrs = [float(r["lr"]) for r in rows(full)]
    assert lrs == pytest.approx([0.1, 0.01], rel=1e-12)  # read at the evaluations: 23 and 46
    assert [float(r["lr"]) for r in rows(cut)][-1] == lrs[-1]
    assert_identical(weights(full / "checkpoint.safetensors"),
                     weights(cut / "checkpoint.safetensors"))


def test_old_checkpoints_with_string_milestones_are_repaired():
    """Checkpoints written before the fix hold milestones as {"2": 1} (here inside a warm-up's
    SequentialLR); one restored after the first epoch decays where a fresh run does."""
    from specc.train.checkpoint import _int_milestones
    from specc.train.optim import make_schedule

    def schedule():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, make_schedule({"name": "multistep", "milestones": [2]}, opt, 5, 1)

    def run(opt, sched, epochs):
        lrs = []
        for _ in range(epochs):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs

    expected = run(*schedule(), 5)
    assert expected == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01])  # the main schedule's
    # epochs count from the end of the warm-up: its milestone 2 is epoch 3 of the run
    opt, sched = schedule()
    run(opt, sched, 1)
    state = json.loads(json.dumps(sched.state_dict()))  # what an old checkpoint stored
    assert "2" in state["_schedulers"][1]["milestones"]
    opt2, sched2 = schedule()
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    _int_milestones(sched2)
    assert sched2._schedulers[1].milestones == Counter({2: 1})
    assert run(opt2, sched2, 4) == expected[1:]


# ------------------------------------------------------------------------- TensorBoard
def scalars(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def f32(text: str) -> float:
    """A metrics.csv value as TensorBoard stores it (a 32-bit float)."""
    return struct.unpack("f", struct.pack("f", float(text)))[0]


def assert_board_matches_metrics(run):
    from specc.train.board import TAGS
    board, table = scalars(run), rows(run)
    logged = {k: t for k, t in TAGS.items() if any(r.get(k) not in (None, "") for r in table)}
    assert sorted(board) == sorted(logged.values())  # test_miou: segmentation runs only
    assert set(TAGS) - set(logged) <= {"test_miou"}
    for key, tag in logged.items():
        assert board[tag] == [(int(r["step"]), f32(r[key])) for r in table], tag


def test_tensorboard_matches_metrics_and_survives_an_interrupted_run(tiny, cli, tmp_path):
    """A process that logged past its last checkpoint (here: the checkpoint of step 23 put
    back after the run reached step 69) is continued without duplicated or stale steps."""
    spec = tiny("schedule = multistep(milestones=[2], gamma=0.1)")
    run = tmp_path / "run"
    assert cli("train", spec, "--out", run, "--epochs", "1", "--tensorboard", *THREADS)[0] == 0
    shutil.copy(run / "checkpoint.safetensors", tmp_path / "step23.safetensors")
    assert cli("train", "--resume", run, "--epochs", "3", *THREADS)[0] == 0  # keeps logging
    assert [s for s, _ in scalars(run)["test/accuracy"]] == [23, 46, 69]
    shutil.copy(tmp_path / "step23.safetensors", run / "checkpoint.safetensors")
    code, _, err = cli("train", "--resume", run, "--epochs", "3", "--eval-every", "10",
                       *THREADS)
    assert code == 0, err
    assert [int(r["step"]) for r in rows(run)] == [23, 30, 40, 46, 50, 60, 69]
    assert_board_matches_metrics(run)  # steps 46 and 69 of the lost process are gone
    assert len(list((run / "tensorboard").iterdir())) == 3  # one event file per process


def test_tensorboard_on_resume_of_a_run_without_it(tiny, cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", tiny(), "--out", run, "--epochs", "1", *THREADS)[0] == 0
    assert not (run / "tensorboard").exists()
    assert cli("train", "--resume", run, "--epochs", "2", "--tensorboard", *THREADS)[0] == 0
    assert json.loads((run / "config.json").read_text())["tensorboard"] is True
    assert [s for s, _ in scalars(run)["test/accuracy"]] == [23, 46]  # epoch 1 filled in
    assert_board_matches_metrics(run)


# ------------------------------------------------------------ best and early stopping
def test_patience_used_up_on_the_last_evaluation_is_no_early_stop(tiny, cli, tmp_path):
    """A run that trains all its steps is finished, not stopped early, even when its patience
    runs out at the same evaluation; a longer run then says the patience is used up."""
    run = tmp_path / "run"
    code, out, err = cli("train", tiny(), "--out", run, "--eval-every", "5", "--steps", "15",
                         "--early-stop", "2", "--min-delta", "1", "--json", *THREADS)
    assert code == 0, err
    assert "stopped early" not in err and json.loads(out.splitlines()[-1])["stopped_early"] is False
    code, out, _ = cli("train", "--resume", run, *THREADS)
    assert code == 0 and "is already finished (15 steps" in out
    assert "a larger --steps and a larger --early-stop" in out
    code, out, _ = cli("train", "--resume", run, "--steps", "30", *THREADS)
    assert code == 0 and "has used up its patience: test accuracy did not improve by more " \
        "than 1 in 2 evaluations (--early-stop 2)" in out
    assert info(run / "checkpoint.safetensors")["global_step"] == 15


def test_min_delta_needs_early_stop(tiny, cli, tmp_path):
    code, _, err = cli("train", tiny(), "--out", tmp_path / "r", "--min-delta", "0.1", *THREADS)
    assert code == 2 and "--min-delta goes with --early-stop" in err
    assert not (tmp_path / "r").exists()


def test_best_checkpoint_early_stop_and_its_resume(tiny, cli, tmp_path):
    """--min-delta 1 makes every evaluation after the first one "no improvement" (accuracy
    cannot gain more than 1), so the run stops after exactly 1 + PATIENCE evaluations,
    whatever the accuracies are; best.safetensors still follows every strict improvement."""
    run = tmp_path / "run"
    code, out, err = cli("train", tiny(), "--out", run, "--eval-every", "5", "--early-stop",
                         "2", "--min-delta", "1", "--json", *THREADS)
    assert code == 0, err
    assert "stopped early: test accuracy did not improve by more than 1 in 2 evaluations" \
        in err
    summary = json.loads(out.splitlines()[-1])
    table = rows(run)
    assert [int(r["step"]) for r in table] == [5, 10, 15]  # mid-epoch: 23 steps per epoch
    accs, best = _best_row(table)
    assert summary["stopped_early"] is True and summary["steps"] == 15
    assert summary["best"] == {"metric": "test_accuracy", "value": accs[best],
                               "step": 5 * (best + 1), "checkpoint": str(run /
                                                                          "best.safetensors")}
    assert info(run / "best.safetensors")["best_step"] == 5 * (best + 1)
    assert _accuracy_of(run, run / "best.safetensors") == accs[best]
    assert "rng/torch" not in load_file(str(run / "best.safetensors"))  # weights, not a resume

    code, out, _ = cli("train", "--resume", run, *THREADS)  # nothing to do, said so, exit 0
    assert code == 0 and "used up its patience" in out and "larger --early-stop" in out
    assert info(run / "checkpoint.safetensors")["global_step"] == 15
    code, out, err = cli("train", "--resume", run, "--early-stop", "3", *THREADS)
    assert code == 0, err
    assert [int(r["step"]) for r in rows(run)] == [5, 10, 15, 20]  # one more evaluation
    assert "in 3 evaluations (--early-stop 3)" in out
    accs, best = _best_row(rows(run))
    assert info(run / "best.safetensors")["best_step"] == 5 * (best + 1)

    onnx = tmp_path / "best.onnx"
    code, out, err = cli("export", run / "spec" / "tiny.net", "--weights", run,
                         "--checkpoint", "best", "-o", onnx)
    assert code == 0, err
    code, out, _ = cli("run", onnx, "--data", "digits", "--json", "--provider", "cpu")
    assert json.loads(out)["accuracy"] == pytest.approx(accs[best], abs=1e-9)


def _best_row(table):
    """The test accuracies of a run's rows and the index of the first of the highest."""
    accs = [float(r["test_accuracy"]) for r in table]
    return accs, max(range(len(accs)), key=lambda i: (accs[i], -i))


def _accuracy_of(run, checkpoint) -> float:
    """The test accuracy of a checkpoint's weights, through the trainer's own evaluation."""
    import specc
    from specc.backends.torch_module import load_model_weights
    from specc.train.config import TrainConfig
    from specc.train.loop import Trainer
    config = json.loads((run / "config.json").read_text())
    config.pop("spec_copy")
    trainer = Trainer(specc.load(run / "spec" / "tiny.net"), TrainConfig(**config), run,
                      show_progress=False)
    load_model_weights(trainer.model, checkpoint)
    try:
        return trainer.evaluate()[1]
    finally:
        trainer.feed.close()


def test_judging_evaluations():
    """Directions, min_delta, and NaN (a diverged run) that is never best and counts as stale."""
    from specc.train.progress import Progress
    from specc.train.watch import judge, stopped_early, why_stopped

    class Cfg:
        monitor, min_delta, early_stop = "test_loss", 0.1, 2
    p = Progress()
    verdicts = [judge(p, Cfg, {"test_loss": v, "step": s})
                for s, v in ((1, 1.0), (2, 0.95), (3, 1.2), (4, 0.8))]
    assert verdicts == [True, True, False, True]  # 0.95 is a new best, not a 0.1 improvement
    assert (p.best, p.best_step, p.mark, p.stale) == (0.8, 4, 0.8, 0)
    q = Progress()
    for s in (1, 2):
        assert not judge(q, Cfg, {"test_loss": float("nan"), "step": s})
    assert stopped_early(q, Cfg) and "no evaluation gave a number" in why_stopped(q, Cfg)
    Cfg.monitor = "test_accuracy"
    r = Progress()
    assert [judge(r, Cfg, {"test_accuracy": v, "step": 1}) for v in (0.5, 0.4, 0.55)] == \
        [True, False, True]
    assert r.stale == 2 and stopped_early(r, Cfg)  # 0.55 is within min_delta of 0.5


def test_best_by_test_loss_goes_lower(tiny, cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", tiny(), "--out", run, "--monitor", "test_loss", *THREADS)[0] == 0
    losses = [float(r["test_loss"]) for r in rows(run)]
    assert info(run / "best.safetensors")["best"] == min(losses)
    code, _, err = cli("train", "--resume", run, "--monitor", "test_accuracy")
    assert code == 2 and "picks its best by test_loss" in err


def test_a_crafted_early_stop_record_is_a_user_error(tiny, cli, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    run = tmp_path / "run"
    assert cli("train", tiny(), "--out", run, "--epochs", "1", *THREADS)[0] == 0
    path = run / "checkpoint.safetensors"
    with safe_open(str(path), "pt") as f:
        packed = json.loads(f.metadata()["specc"])
    record = json.loads(packed["info"])
    assert record["stale"] == 0 and record["best_step"] == PER_EPOCH
    packed["info"] = json.dumps({**record, "stale": "many"})
    save_file(load_file(str(path)), str(path), metadata={"specc": json.dumps(packed)})
    code, _, err = cli("train", "--resume", run, "--epochs", "2", "--early-stop", "1")
    assert code == 1 and "cannot be resumed" in err and "info.stale must be int" in err, err


@pytest.mark.parametrize("flags,message", [
    (("--early-stop", "0"), "argument --early-stop: must be at least 1, got 0"),
    (("--early-stop", "-3"), "argument --early-stop: must be at least 1, got -3"),
    (("--min-delta", "-1"), "argument --min-delta: must be a finite number of 0 or more"),
    (("--min-delta", "nan"), "argument --min-delta: must be a finite number of 0 or more"),
    (("--monitor", "accuracy"), "argument --monitor: invalid choice: 'accuracy'"),
])
def test_bad_flags_are_usage_errors(tiny, cli, tmp_path, flags, message):
    code, _, err = cli("train", tiny(), "--out", tmp_path / "run", *flags)
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_unwritable_tensorboard_folder_is_refused_up_front(tiny, cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "tensorboard").write_text("not a folder")
    code, _, err = cli("train", tiny(), "--out", run, "--tensorboard", *THREADS)
    assert code == 1 and "Traceback" not in err
    assert f"cannot write TensorBoard logs: {run / 'tensorboard'} exists and is not a folder" \
        in err
    assert sorted(p.name for p in run.iterdir()) == ["tensorboard"]  # nothing written


def test_export_checkpoint_flag_needs_a_run_folder(tiny, cli, tmp_path):
    code, _, err = cli("export", tiny(), "--checkpoint", "best", "-o", tmp_path / "m.onnx")
    assert code == 2 and "--checkpoint picks a file of a run folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli("export", tiny(), "--weights", tmp_path / "empty", "--checkpoint",
                       "best", "-o", tmp_path / "m.onnx")
    assert code == 1 and "has no best.safetensors" in err


# ------------------------------------------------------------------------- curves.png
def test_curves_show_the_learning_rate(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    from specc.train.curves import plot_curves
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    table = [{"epoch": e, "step": 10 * e, "train_loss": 1, "train_accuracy": 0.5,
              "test_loss": 1, "test_accuracy": 0.5, "lr": lr}
             for e, lr in ((1, 0.1), (2, 0.1), (3, 0.001))]
    plot_curves(tmp_path, table)
    assert (tmp_path / "curves.png").stat().st_size > 0
    lr_axes = [ax for ax in figures[0].axes if ax.get_ylabel() == "learning rate"]
    assert len(lr_axes) == 1 and lr_axes[0].get_yscale() == "log"
    (line,) = lr_axes[0].get_lines()
    assert set(line.get_ydata()) == {0.1, 0.001}
