"""Each machine that learns without (only) backprop reproduces its paper's demonstration on
data that ships or is generated: the qualitative result and a number. Trained in-process with
the trainer `specc train` uses (one CLI run checks the JSON field naming the metric)."""
import contextlib
import io
import json
import pathlib

import pytest
import torch

import specc
from specc.train.config import resolve
from specc.train.loop import Trainer

from conftest import SPECS, run_main


def train(spec: str, name: str | None, run: pathlib.Path, resume: bool = False, **flags):
    """Train a bundled network as `specc train` would; returns its result dict."""
    net = specc.load(SPECS / spec, name)
    cfg = resolve(str(SPECS / spec), net.name, net.recipe, {"device": "cpu", **flags})
    with contextlib.redirect_stdout(io.StringIO()):
        return Trainer(net, cfg, run, show_progress=False).fit(resume=resume)


# ------------------------------------------------------------------------------ Hebb
def test_hebbian_memory_recalls_its_pairs_from_corrupted_cues(tmp_path):
    r = run_main("train", "specs/hebb.net", "--out", tmp_path / "h", "--json", "--tensorboard")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.splitlines()[-1])
    assert result["metric"] == "recall_rate"
    # 8 pairs of 256-bit cues, 20 % of bits flipped: every cue recalls its 64-bit pattern
    assert result["recall_rate"] == 1.0 and result["clean_recall_rate"] == 1.0
    # the demonstration's own figures reach TensorBoard too, at the evaluation's step
    from test_trainvis import scalars
    board = scalars(tmp_path / "h")
    assert board["demo/recall_rate"] == [(result["steps"], 1.0)]
    assert board["demo/clean_recall_rate"] == [(result["steps"], 1.0)]


def test_hebbian_memory_fails_beyond_its_capacity(tmp_path):
    # 48 pairs: crosstalk sqrt(47 * 256) against a signal of 0.6 * 256 - bits go wrong
    r = train("hebb.net", None, tmp_path, data="associative:48")
    assert r["recall_rate"] < 0.2 and 0.85 < r["bit_accuracy"] < 1.0


# ----------------------------------------------------------------- the perceptron
def a_units(name: str, data: str):
    from specc.data.registry import InputSpec, load_dataset
    net = specc.load(SPECS / "perceptron.net", name)
    model = net.to_torch(seed=0)
    d = load_dataset(data, InputSpec((1, 20, 20), pixel_range=[-0.5, 0.5]))
    return model, (d.train_x.flatten(1) @ model.wiring >= 0).float()


def test_mark1_converges_on_separable_figures(tmp_path):
    model, a = a_units("mark1_shapes", "retina:shapes")
    rows = torch.cat([a, torch.ones(len(a), 1)], 1)
    # the A-unit responses of the 200 figures are linearly independent: any labelling is
    # separable, so the convergence theorem applies (Rosenblatt 1962; Novikoff 1962)
    assert torch.linalg.matrix_rank(rows) == len(a) == 200
    r = train("perceptron.net", "mark1_shapes", tmp_path)
    assert r["train_errors"] == 0 and r["converged_epoch"] <= 30
    assert r["test_accuracy"] == 1.0


def test_mark1_cannot_learn_parity(tmp_path):
    model, _ = a_units("mark1_parity", "retina:parity")
    from specc.tasks.retina import PATCH
    top, left, side = PATCH
    patch = torch.zeros(20, 20, dtype=torch.bool)
    patch[top:top + side, left:left + side] = True
    seen = (model.wiring[patch.flatten()] != 0).sum(0)
    # Minsky & Papert: parity of 9 cells needs a predicate that sees all 9; no A-unit does
    assert int(seen.max()) < side * side
    r = train("perceptron.net", "mark1_parity", tmp_path, epochs=6)
    assert "converged_epoch" not in r and r["train_errors"] > 0.2 * 512


# --------------------------------------------------------------------------- SNARC
def test_snarc_learns_the_maze_over_seeds(tmp_path):
    runs = [train("snarc.net", None, tmp_path / str(s), seed=s) for s in range(4)]
    trained = sum(r["steps_to_goal"] for r in runs) / len(runs)
    untrained = sum(r["untrained_steps_to_goal"] for r in runs) / len(runs)
    walk = runs[0]["random_walk_steps"]
    # measured: 92.4 untrained, 72.3 for a random walk, 30.1 after 1,024 episodes (seeds 0-3)
    assert trained < 0.5 * untrained and trained < 0.7 * walk
    assert runs[0]["shortest_path"] == 6


# -------------------------------------------------------------------- Neocognitron
def test_neocognitron_names_each_pattern_by_its_own_cell_at_any_shift(tmp_path):
    runs = [train("neocognitron.net", None, tmp_path / str(s), seed=s) for s in range(4)]
    for r in runs:
        assert r["metric"] == "shift_invariance" and r["distinct_cells"] == 5
        # at every one of the 36 positions the five patterns drive five different UC3 cells
        assert r["shifts_all_distinct"] == 1.0
    shifted = [r["shift_invariance"] for r in runs]
    distorted = [r["distorted_invariance"] for r in runs]
    # measured (seeds 0-3): 1.0 / 0.928 / 1.0 / 1.0 of 180 shifted presentations on their
    # pattern's own cell, 0.872 / 0.883 / 0.950 / 0.889 of distorted ones (3 cells moved)
    assert min(shifted) >= 0.92 and sum(shifted) / 4 >= 0.98
    assert min(distorted) >= 0.85


def test_neocognitron_layers_learn_in_turn():
    """competitive(epoch=k): US1 learns in the first pass, US2 in the second, US3 in the
    third; outside its pass a layer's a and b stay as they are."""
    net = specc.load(SPECS / "neocognitron.net")
    from specc.train.rules import Learner
    from specc.tasks.glyphs import load
    from specc.data.registry import InputSpec
    d = load("", InputSpec((1, 16, 16)))
    model = net.to_torch(seed=0)
    learner = Learner(net.graph, model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(5):
        _, seen = learner.forward(d.train_x[i:i + 1])
        learner.apply_local(seen, epoch=1)  # the second pass: US2's
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"us2.a", "us2.b"}


def test_neocognitron_learns_without_a_teacher():
    """The labels never reach the rule: shuffling them changes nothing."""
    net = specc.load(SPECS / "neocognitron.net")
    from specc.train.rules import Learner
    from specc.tasks.glyphs import load
    from specc.data.registry import InputSpec
    d = load("", InputSpec((1, 16, 16)))
    finals = []
    for labels in (d.train_y, d.train_y.flip(0)):
        model = net.to_torch(seed=0)
        learner = Learner(net.graph, model)
        for i in range(20):
            _, seen = learner.forward(d.train_x[i:i + 1])
            learner.apply_local(seen, target=labels[i:i + 1])
        finals.append(model.state_dict())
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
    assert not torch.equal(finals[0]["us1.a"], net.to_torch(seed=0).state_dict()["us1.a"])


# ---------------------------------------------------------------- the glimpse agent
def test_glimpse_agent_trains_by_backprop_and_reinforce(tmp_path):
    net = specc.load(SPECS / "glimpse.net", "glimpse_small")
    before = net.to_torch(seed=0).state_dict()
    r = train("glimpse.net", "glimpse_small", tmp_path, epochs=2, data="thumos_synth:300")
    assert r["metric"] == "detection_ap"
    assert r["glimpsed_frames"] == 6 / 50
    from specc.backends.torch_module import load_model_weights
    model = net.to_torch(seed=0)
    load_model_weights(model, tmp_path)
    after = model.state_dict()
    # the reported AP is the saved agent's, on the task's test chunks (a fresh evaluation)
    assert evaluate_agent(net, model)["detection_ap"] == r["detection_ap"]
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    # the location head learns by REINFORCE alone, the detector by backprop, the per-step
    # baseline towards the reward: all move
    assert {"where_w", "where_b", "emission.weight", "detect.weight", "obs_w", "base_w"} <= moved


def evaluate_agent(net, model, chunks: str = "300") -> dict:
    """The thumos task's evaluation of `model` (deterministic: eval mode)."""
    from types import SimpleNamespace

    from specc.data.registry import InputSpec
    from specc.tasks.thumos import load
    from specc.train.rules import Learner
    shape = net.graph.values[net.graph.inputs[0]].type.shape[1:]
    task = load(chunks, InputSpec(tuple(shape))).task
    learner = Learner(net.graph, model)
    learner.module.eval()
    with torch.no_grad():
        return task.evaluate(SimpleNamespace(learner=learner,
                                             trainer=SimpleNamespace(device=torch.device("cpu"))))


def test_detection_ap_by_hand():
    """Average precision at tIoU 0.5 as the THUMOS evaluation counts it: detections ranked by
    confidence, each matched once, the precision at each hit averaged over all instances
    (a missed instance adds 0); duplicates of one detection suppressed first."""
    from specc.tasks.thumos import average_precision, matches, suppressed
    # hits at ranks 1 and 3 of 3, four instances: (1/1 + 2/3) / 4
    assert average_precision([(0.9, True), (0.2, True), (0.5, False)], 4) == \
        pytest.approx((1 + 2 / 3) / 4)
    assert average_precision([(0.9, False)], 0) == 0.0
    truth = torch.tensor([[0.10, 0.20], [-1.0, -1.0]])
    det = torch.tensor([[0.11, 0.21], [0.10, 0.14], [0.12, 0.20]])  # tIoU 0.82, 0.4, 0.8
    conf = torch.tensor([0.3, 0.9, 0.6])
    # by confidence: the 0.4-overlap one misses, the 0.8 one takes the instance, the third
    # finds it taken
    assert matches(det, conf, truth) == [False, True, False]
    assert suppressed(det, conf).tolist() == [1, 2]  # 0.11-0.21 overlaps 0.12-0.20 by 0.8


def _glimpse_runs(tmp_path, seeds):
    """(the stride's share of test actions glimpsed, {network: [train summaries by seed]})."""
    from specc.tasks import thumos
    from specc.data.registry import InputSpec
    data = "thumos_synth:4000"
    d = thumos.load("4000", InputSpec((50, 32)))
    stride = torch.tensor([(n + 0.5) / 4 for n in range(4)]).expand(len(d.test_y), 4)
    fixed = thumos.glimpsed(stride, d.test_y)
    runs = {name: [train("glimpse.net", name, tmp_path / f"{name}{s}", seed=s, epochs=30,
                         data=data) for s in seeds]
            for name in ("glimpse_demo", "glimpse_demo_stride")}
    assert abs(fixed - 0.347) < 0.001
    assert all(abs(r["instances_glimpsed"] - fixed) < 1e-6 for r in runs["glimpse_demo_stride"])
    return fixed, runs


@pytest.mark.slow
def test_glimpse_agent_beats_a_fixed_stride(tmp_path):
    """Where to look: on thumos_synth every frame before an action shows its lead-in and every
    frame after it its aftermath, so an agent can home in on it; a fixed stride cannot. After
    1,200 steps the learned policy (4 glimpses, the first at frame 0) lands inside more
    actions than the same network glimpsing at the stride (n + 1/2) / 4, and its detection
    AP at tIoU 0.5 is higher. Both read where their glimpse fell from the 50-unit location
    code (glimpse.net's `code`); with the official one unit it does not beat the stride
    (README). Seed 0 here; every seed with --seeds-long (below)."""
    fixed, runs = _glimpse_runs(tmp_path, [0])
    learned, stride = runs["glimpse_demo"][0], runs["glimpse_demo_stride"][0]
    # measured, seed 0: the agent glimpses 0.532 of the test actions (the stride 0.347);
    # detection AP 0.462 against the stride's 0.407
    assert learned["instances_glimpsed"] > fixed + 0.1
    assert learned["detection_ap"] > stride["detection_ap"] + 0.03


@pytest.mark.seeds_long
def test_glimpse_agent_beats_a_fixed_stride_on_every_seed(tmp_path):
    """The issue's claim: on every seed and on average over seeds 0-2."""
    fixed, runs = _glimpse_runs(tmp_path, range(3))
    found = [r["instances_glimpsed"] for r in runs["glimpse_demo"]]
    ap = {name: [r["detection_ap"] for r in rs] for name, rs in runs.items()}
    # measured (seeds 0-2): the stride glimpses 0.347 of the test actions, the learned agent
    # 0.532 / 0.495 / 0.553; detection AP: learned 0.462 / 0.447 / 0.430 (mean 0.446), the
    # stride 0.407 / 0.389 / 0.378 (mean 0.391)
    assert min(found) > fixed and sum(found) / 3 > fixed + 0.1
    assert all(a > b for a, b in zip(ap["glimpse_demo"], ap["glimpse_demo_stride"]))
    assert sum(ap["glimpse_demo"]) / 3 > sum(ap["glimpse_demo_stride"]) / 3 + 0.03


# ------------------------------------------------------------- resume stays exact
def test_rules_resume_exactly(tmp_path):
    """Two epochs at once, or one and then a resumed one: the same weights, rule state and all
    (sampling is seeded per step, so the snarc's episodes replay exactly)."""
    from safetensors.torch import load_file
    for spec in ("snarc.net", "hebb.net"):
        train(spec, None, tmp_path / f"{spec}.a", epochs=2)
        train(spec, None, tmp_path / f"{spec}.b", epochs=1)
        train(spec, None, tmp_path / f"{spec}.b", resume=True, epochs=2)
        a = load_file(str(tmp_path / f"{spec}.a" / "checkpoint.safetensors"))
        b = load_file(str(tmp_path / f"{spec}.b" / "checkpoint.safetensors"))
        assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model/"))


# ------------------------------------------------------------------------- export
@pytest.mark.parametrize("spec,name", [("hebb.net", None), ("perceptron.net", "mark1"),
                                       ("neocognitron.net", None),
                                       ("glimpse.net", "glimpse_small")])
def test_inference_graphs_export_and_verify(spec, name, tmp_path):
    net = specc.load(SPECS / spec, name)
    result = net.to_onnx(tmp_path / "m.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4


def test_the_snarc_says_why_it_cannot_be_exported(tmp_path):
    r = run_main("export", "specs/snarc.net", "-o", tmp_path / "s.onnx")
    assert r.returncode == 1 and not (tmp_path / "s.onnx").exists()
    assert r.stderr.startswith("specs/snarc.net:24:13: error: cannot express transmit 'fired' "
                               "in ONNX opset 17: transmit samples at inference")
