"""The early networks do what their papers say: threshold logic, the T-C problem."""
import itertools

import numpy as np
import pytest
import torch

import specc
from specc.backends.ort import open_session

from conftest import SPECS

TRUTH = {"mp_and": lambda a, b: a and b, "mp_or": lambda a, b: a or b,
         "mp_nand": lambda a, b: not (a and b), "mp_xor": lambda a, b: a != b}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_threshold_logic_truth_tables(name, tmp_path):
    net = specc.load(SPECS / "mcculloch_pitts.net", name)
    rows = np.array(list(itertools.product([0.0, 1.0], repeat=2)), dtype=np.float32)
    expected = [float(TRUTH[name](bool(a), bool(b))) for a, b in rows]
    y = net.to_torch()(torch.from_numpy(rows)).squeeze(1).tolist()
    assert y == expected
    net.to_onnx(tmp_path / "m.onnx")
    sess, _, _ = open_session(str(tmp_path / "m.onnx"), "cpu")
    assert sess.run(None, {"x": rows})[0].squeeze(1).tolist() == expected


def test_not_gate():
    net = specc.load(SPECS / "mcculloch_pitts.net", "mp_not")
    assert net.to_torch()(torch.tensor([[0.0], [1.0]])).squeeze(1).tolist() == [1.0, 0.0]


def test_tc_network_shares_one_detector():
    net = specc.load(SPECS / "rumelhart_tc.net")
    conv = net.graph.params["hidden.weight"]
    assert conv.shape == (1, 1, 3, 3) and net.params == 75


@pytest.mark.slow
def test_tc_problem_is_learned(tmp_path, monkeypatch):
    """The recipe as written: 1,000 epochs of Adam on every placement of T and C. In-process,
    and without writing the per-epoch checkpoint and metrics (they leave the weights as they
    are): those files, not the 5 steps an epoch, made this test take minutes."""
    from specc.train import loop
    from specc.train.config import resolve
    net = specc.load(SPECS / "rumelhart_tc.net")
    cfg = resolve(str(SPECS / "rumelhart_tc.net"), net.name, net.recipe, {"device": "cpu"})
    trainer = loop.Trainer(net, cfg, tmp_path, show_progress=False)
    monkeypatch.setattr(trainer, "_save", lambda *progress, **where: None)
    monkeypatch.setattr(loop, "append_metrics", lambda run, row, plot=True: None)
    result = trainer.fit()
    assert result["epochs"] == 1000 and result["test_accuracy"] >= 0.95


def test_unrolled_recurrence_shares_its_weights(tmp_path):
    net = specc.load(SPECS / "elman.net")
    assert net.params == 8 * 32 + 32 * 32 + 32 * 10 + 10  # independent of the 8 steps
    users = [n.name for n in net.graph.nodes if n.op == "matmul"]
    assert len(users) == 15  # 8 input products, 7 recurrent ones, all on w and u
    from conftest import run_main
    import json
    r = run_main("train", "specs/elman.net", "--out", tmp_path / "e", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["test_accuracy"] >= 0.9


def test_perceptron_loss_step_is_rosenblatts_rule():
    from specc.train.optim import loss_fn
    torch.manual_seed(0)
    a = (torch.rand(1, 12) < 0.5).float()  # A-unit responses
    w = torch.randn(3, 12, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    target = torch.tensor([1])
    scores = a @ w.t() + b
    loss_fn("perceptron", 3)(scores, target).backward()
    t = torch.nn.functional.one_hot(target, 3).float()
    y = (scores.detach() >= 0).float()
    lr = 0.1
    assert torch.allclose(w.detach() - lr * w.grad, w.detach() + lr * (t - y).t() @ a)
    assert torch.allclose(b.detach() - lr * b.grad, b.detach() + lr * (t - y)[0])


def test_perceptron_wiring_is_fixed_sparse_and_signed():
    net = specc.load(SPECS / "perceptron.net", "mark1")
    wiring = net.to_torch().wiring
    assert not net.graph.params["wiring"].trainable
    assert set(wiring.unique().tolist()) == {-1.0, 0.0, 1.0}
    assert 0.07 < float((wiring != 0).float().mean()) < 0.13


@pytest.mark.slow
def test_perceptron_learns_the_digits(tmp_path):
    from conftest import run_main
    import json
    r = run_main("train", "specs/perceptron.net:perceptron", "--out", tmp_path / "p", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["test_accuracy"] >= 0.9
