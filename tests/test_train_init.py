"""`specc train --init WEIGHTS [--init-skip PATTERN]`: a new run from given weights, strict,
checked before anything is written, recorded in the run."""
import json

import pytest
from safetensors.numpy import load_file

from conftest import run_main

SPEC = """specc 1
network small(classes: int = 10) {
    input image: f32[N, 1, 8, 8]
    conv1 = conv(image, 4, 3, padding=1)
    fc = linear(flatten(relu(conv1)), classes)
    output logits = fc
    train {
        data = "digits"
        batch_size = 16
        epochs = 1
    }
}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of the 12-class network (digits has 10: --allow-fewer-classes)."""
    folder = tmp_path_factory.mktemp("init")
    spec = folder / "small.net"
    spec.write_text(SPEC)
    run = folder / "twelve"
    r = run_main("train", spec, "--set", "classes=12", "--allow-fewer-classes", "--steps", "2",
                 "--out", run, "--threads", "1", "--workers", "0")
    assert r.returncode == 0, r.stderr
    return spec, run


def test_fine_tune_skips_the_head_and_loads_the_rest(trained, tmp_path):
    spec, source = trained
    out = tmp_path / "ten"
    r = run_main("train", spec, "--init", source, "--init-skip", "fc.*", "--steps", "1",
                 "--lr", "1e-30", "--out", out, "--threads", "1", "--workers", "0")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("init:"))
    assert line.startswith(f"init: loaded 2 tensors from {source}; skipped 2 (")
    assert "fc.weight" in line and "fc.bias" in line
    record = json.loads((out / "config.json").read_text())["init"]
    assert record["loaded"] == 2 and record["skip"] == ["fc.*"] and len(record["sha256"]) == 64
    before = load_file(str(source / "checkpoint.safetensors"))
    after = load_file(str(out / "checkpoint.safetensors"))
    for key in ("model/conv1.weight", "model/conv1.bias"):  # lr 1e-30: unchanged by the step
        assert abs(after[key] - before[key]).max() < 1e-20
    assert after["model/fc.weight"].shape == (10, 256)
    r = run_main("train", "--resume", out, "--steps", "2", "--threads", "1", "--workers", "0")
    assert r.returncode == 0, r.stderr


def test_a_mismatch_names_the_key_and_both_shapes(trained, tmp_path):
    spec, source = trained
    out = tmp_path / "ten"
    r = run_main("train", spec, "--init", source, "--steps", "1", "--out", out)
    assert r.returncode == 1
    assert f"--init {source} does not fit small" in r.stderr
    assert "fc.weight: " in r.stderr and "[12, 256]" in r.stderr and "[10, 256]" in r.stderr
    assert not out.exists()


def test_weights_of_the_wrong_kind_are_refused_before_training(trained, tmp_path):
    spec, _ = trained
    bad = tmp_path / "weights.safetensors"
    bad.write_text("not weights")
    r = run_main("train", spec, "--init", bad, "--out", tmp_path / "run")
    assert r.returncode == 1 and "not a readable checkpoint" in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_run_of_another_network_is_named(trained, tmp_path):
    spec, source = trained
    other = tmp_path / "other.net"
    other.write_text(SPEC.replace("network small", "network other"))
    r = run_main("train", other, "--init", source, "--out", tmp_path / "run")
    assert r.returncode == 1 and "is a run of network 'small', not 'other'" in r.stderr


def test_init_flags_that_cannot_mean_anything(trained, tmp_path):
    spec, source = trained
    assert run_main("train", spec, "--init-skip", "fc.*").returncode == 2
    assert run_main("train", "--resume", source, "--init", source).returncode == 2
    r = run_main("train", spec, "--init", source, "--init-skip", "head.*", "--out", tmp_path / "r")
    assert r.returncode == 1 and "matches no tensor" in r.stderr
