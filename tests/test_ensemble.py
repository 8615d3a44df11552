"""Ensembles (the seed's Table 5): members trained as usual, one exported model that averages
their softmax, verified like any export and evaluated by `specc run --data`; members that
disagree on inputs or classes are refused at their own declarations, all at once."""
import json

import numpy as np
import onnx
import pytest
import torch

import specc
from specc.backends.ort import open_session
from specc.backends.torch_module import load_model_weights
from specc.cli.main import main

from conftest import run_cli

SMALL = """specc 1
network small(classes: int = 10, side: int = 8) {{
    input image: f32[N, 1, side, side]
    hidden = image |> flatten |> linear(32) |> relu
    output logits = linear(hidden, classes)
    train {{
        data = "digits"
        batch_size = 64
        optimizer = adam(lr=0.01)
        seed = {seed}
    }}
}}
"""


def _train(tmp_path, name: str, spec_text: str, steps: int, *flags: str):
    """`specc train` as a user runs it (in this process: it is the same command)."""
    spec = tmp_path / f"{name}.net"
    spec.write_text(spec_text)
    out = tmp_path / "runs" / name
    assert main(["train", str(spec), "--steps", str(steps), "--out", str(out), "--threads",
                 "1", *flags]) == 0
    return out


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """Two members trained as usual (60 steps of a small MLP on the digits, seeds 0 and 1),
    and their ensemble exported by the command line."""
    tmp = tmp_path_factory.mktemp("ensemble")
    runs = [_train(tmp, f"m{k}", SMALL.format(seed=k), 60) for k in range(2)]
    r = run_cli("export", "--ensemble", *runs, "-o", tmp / "ens.onnx", "--json",
                env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    return tmp, runs, json.loads(r.stdout.splitlines()[-1])


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_an_ensemble_exports_verified_and_averages_the_softmax(members):
    tmp, runs, summary = members
    assert summary["max_rel_error"] <= 1e-4
    model = onnx.load(tmp / "ens.onnx")
    assert [o.name for o in model.graph.output] == ["probabilities"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["specc.output_kind"] == "probabilities"
    assert {i.name for i in model.graph.initializer} >= {"members.0.hidden.1.weight",
                                                         "members.1.logits.bias"}
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    probabilities = []
    for k, run in enumerate(runs):  # each member alone, from its own spec and checkpoint
        module = specc.load(tmp / f"m{k}.net").to_torch().eval()
        load_model_weights(module, run / "checkpoint.safetensors")
        with torch.no_grad():
            probabilities.append(_softmax(module(torch.from_numpy(x)).numpy()))
    sess, _, _ = open_session(str(tmp / "ens.onnx"), "cpu")
    got = sess.run(None, {"image": x})[0]
    assert np.abs(got - np.mean(probabilities, axis=0)).max() < 1e-5
    assert np.abs(probabilities[0] - probabilities[1]).max() > 1e-3  # two different members


def test_the_ensemble_is_evaluated_on_the_data(members, capsys):
    tmp, runs, _ = members
    assert main(["run", str(tmp / "ens.onnx"), "--data", "digits", "--json"]) == 0
    ensemble = json.loads(capsys.readouterr().out)["accuracy"]
    alone = []
    for k, run in enumerate(runs):
        assert main(["export", str(tmp / f"m{k}.net"), "--weights", str(run), "-o",
                     str(tmp / f"m{k}.onnx")]) == 0
        assert main(["run", str(tmp / f"m{k}.onnx"), "--data", "digits", "--json"]) == 0
        alone.append(json.loads(capsys.readouterr().out.splitlines()[-1])["accuracy"])
    assert ensemble > 0.5 and ensemble >= np.mean(alone) - 0.02


def test_members_that_disagree_are_refused_at_their_declarations(members, tmp_path, capsys):
    tmp, runs, _ = members
    other = SMALL.format(seed=0).replace("classes: int = 10, side: int = 8",
                                         "classes: int = 12, side: int = 16")
    run = _train(tmp_path, "other", other, 1, "--allow-fewer-classes")
    code = main(["export", "--ensemble", str(runs[0]), str(run), "-o", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "other.net:3:5: error: member 2 ('small') takes input 'image' as " \
           "f32[N, 1, 16, 16]; member 1 ('small') takes f32[N, 1, 8, 8]" in err
    assert "other.net:5:21: error: member 2 ('small') has 12 classes; member 1 ('small') " \
           "has 10 classes" in err
    assert "2 errors" in err and not (tmp_path / "x.onnx").exists()


def test_ensemble_usage_errors(members, tmp_path, capsys):
    tmp, runs, _ = members
    out = str(tmp_path / "x.onnx")
    assert main(["export", "--ensemble", str(runs[0]), "-o", out]) == 1
    assert "at least two members" in capsys.readouterr().err
    assert main(["export", "specs/lenet5.net", "--ensemble", *map(str, runs), "-o", out]) == 2
    assert "--ensemble takes run folders only" in capsys.readouterr().err
    assert main(["export", "--ensemble", str(runs[0]), str(tmp_path / "nowhere"), "-o",
                 out]) == 1
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["export", "-o", out]) == 2
    assert "export needs FILE[:NET], or --ensemble" in capsys.readouterr().err
