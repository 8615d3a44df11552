"""Schedules counted in optimizer steps against their formulas: torchvision's segmentation
`poly` (lr (1 - t/T)^power per step) and nanoGPT's cosine after a linear warm-up (lr (k+1)/(W+1)
for k < W, then a half cosine to min_lr at the last step), alone and in the trainer, which
resumes them exactly."""
import math
import signal

import pytest
import torch
from safetensors.torch import load_file

import specc
from specc.train.config import resolve
from specc.train.loop import Trainer
from specc.train.optim import make_optimizer, make_schedule
from specc.train.runs import read_metrics
from specc.train.signals import Interrupted

BASE = 0.5


def nanogpt_lr(it: int, warmup: int, total: int, lr: float = BASE, min_lr: float = 0.05):
    """nanoGPT train.py's get_lr, with lr_decay_iters = the run's steps."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    ratio = (it - warmup) / (total - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def poly_lr(it: int, total: int, power: float, warmup: int = 0) -> float:
    if it < warmup:
        return BASE * (it + 1) / (warmup + 1)
    return BASE * (1 - (it - warmup) / (total - warmup)) ** power


def lrs(schedule: dict, warmup, steps: int) -> list[float]:
    """The lr each of `steps` optimizer steps uses."""
    opt = make_optimizer({"name": "sgd", "lr": BASE}, [torch.nn.Parameter(torch.zeros(1))])
    sched = make_schedule(schedule, opt, 1, warmup, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()  # an epoch's end: a schedule in steps ignores it
    return out


@pytest.mark.parametrize("power", [0.9, 2.0])
def test_poly_follows_its_formula_per_step(power):
    got = lrs({"name": "poly", "power": power}, 0, 100)
    for k in (0, 1, 37, 50, 99):
        assert got[k] == pytest.approx(poly_lr(k, 100, power), rel=1e-9, abs=1e-12), k
    assert got[50] == pytest.approx(BASE * 0.5 ** power)


def test_poly_after_a_linear_warmup_spans_the_rest():
    got = lrs({"name": "poly"}, {"name": "linear", "steps": 10}, 60)
    for k in (0, 4, 9, 10, 11, 35, 59):
        assert got[k] == pytest.approx(poly_lr(k, 60, 0.9, warmup=10), rel=1e-9), k


def test_cosine_with_a_warmup_in_steps_is_nanogpts():
    got = lrs({"name": "cosine", "min_lr": 0.05, "unit": "steps"},
              {"name": "linear", "steps": 8}, 50)
    for k in (0, 3, 7, 8, 9, 20, 29, 49):
        assert got[k] == pytest.approx(nanogpt_lr(k, 8, 50), rel=1e-7), k
    assert max(got) == pytest.approx(BASE) and got.index(max(got)) == 8


def test_a_linear_warmup_in_epochs_is_the_old_integer_warmup():
    epochs = {"name": "cosine", "min_lr": 0.0}
    assert lrs(epochs, {"name": "linear", "epochs": 3}, 10) == lrs(epochs, 3, 10)


SPEC = """network mlp {
    input x: f32[N, 64]
    output y = linear(relu(linear(x, 16)), 10)
    train {
        data = "digits"
        batch_size = 64
        epochs = 3
        optimizer = sgd(lr=0.5, momentum=0.9)
        SCHEDULE
    }
}
"""
RECIPES = {"poly": "schedule = poly(power=0.9)\n        warmup = linear(steps=5)",
           "cosine": 'schedule = cosine(min_lr=0.05, unit="steps")\n'
                     "        warmup = linear(steps=8)"}


class StopAt(Trainer):
    """Stopped as a signal stops it (the checkpoint saved between steps) after `stop` steps."""

    stop = None

    def _stop_if_asked(self, p, signals):
        if p.global_step == self.stop:
            self._save(p)
            raise Interrupted(signal.SIGTERM)
        super()._stop_if_asked(p, signals)


def _train(spec, run, stop=None, resume=False):
    net = specc.load(spec)
    cfg = resolve(str(spec), "mlp", net.recipe, {"steps": 30, "eval_every": 1,
                                                 "eval_steps": 1, "device": "cpu",
                                                 "threads": 1, "workers": 0})
    trainer = StopAt(net, cfg, run, show_progress=False)
    trainer.stop = stop
    return trainer.fit(resume=resume)


@pytest.mark.parametrize("name", list(RECIPES))
def test_the_trainer_follows_the_schedule_and_resumes_it_exactly(name, tmp_path):
    spec = tmp_path / "mlp.net"
    spec.write_text(SPEC.replace("SCHEDULE", RECIPES[name]))
    _train(spec, tmp_path / "a")
    with pytest.raises(Interrupted):
        _train(spec, tmp_path / "b", stop=13)
    _train(spec, tmp_path / "b", resume=True)
    # a row after step k shows the lr of step k + 1 (0-based: of step index k)
    a = {int(r["step"]): float(r["lr"]) for r in read_metrics(tmp_path / "a")}
    b = {int(r["step"]): float(r["lr"]) for r in read_metrics(tmp_path / "b")}
    want = {k: poly_lr(k, 30, 0.9, warmup=5) if name == "poly" else nanogpt_lr(k, 8, 30)
            for k in range(1, 30)}
    assert {k: a[k] for k in want} == pytest.approx(want, rel=1e-7)
    assert b == a
    wa = load_file(str(tmp_path / "a" / "checkpoint.safetensors"))
    wb = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
