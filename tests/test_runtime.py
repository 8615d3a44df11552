"""`specc run` and `specc bench` on exported models: inputs, outputs, providers, bad input.

Most run in-process (the `cli` fixture: the CLI's own main, its argument parsing and its one
error boundary, no interpreter start); what depends on the process (the environment's
OMP_NUM_THREADS, the working folder) runs as a real `python -m specc`."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import specc

from conftest import ROOT, SPECS, run_cli


@pytest.fixture(scope="module")
def lenet_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "lenet5.onnx"
    specc.load(SPECS / "lenet5.net").to_onnx(path)
    return path


def test_topk_from_npy_with_labels_and_raw_outputs(lenet_onnx, tmp_path, cli):
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", lenet_onnx, tmp_path / "x.npy", "--top-k", "3", "--save", tmp_path / "y.npy",
                "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["provider"] == "CPUExecutionProvider" and len(obj["top_k"]) == 2
    assert [len(row["top"]) for row in obj["top_k"]] == [3, 3]
    assert [row["name"] for row in obj["top_k"]] == [f"{tmp_path / 'x.npy'}[{i}]" for i in (0, 1)]
    raw = np.load(tmp_path / "y.npy")
    assert raw.shape == (2, 10)
    best = int(raw[0].argmax())
    # LeNet-5's scores are logits of its loss: the top entry is the softmax probability
    expected = np.exp(raw[0] - raw[0].max()) / np.exp(raw[0] - raw[0].max()).sum()
    top = obj["top_k"][0]["top"][0]
    assert (top["index"], top["label"]) == (best, str(best))
    assert abs(top["probability"] - float(expected[best])) < 1e-6


def test_run_prints_names_labels_and_probabilities(lenet_onnx, tmp_path, cli):
    x = np.random.default_rng(1).standard_normal((1, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    r = cli("run", lenet_onnx, tmp_path / "a.npy", "--top-k", "10", "--json")
    probs = [e["probability"] for e in json.loads(r.stdout)["top_k"][0]["top"]]
    assert abs(sum(probs) - 1) < 1e-6 and probs == sorted(probs, reverse=True)
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(tmp_path / "one.png")
    Image.fromarray(np.full((40, 30, 3), 10, np.uint8)).save(tmp_path / "two.png")
    r = cli("run", lenet_onnx, tmp_path / "one.png", tmp_path / "two.png", "--top-k", "2")
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [str(tmp_path / "one.png"),
                                                   str(tmp_path / "two.png")]
    assert all(line.count("%") == 2 for line in lines)


def test_options_and_inputs_in_any_order(lenet_onnx, tmp_path, cli):
    """`specc run m.onnx --provider cpu x.npy` (an input after an option) means what
    `specc run m.onnx x.npy --provider cpu` means: argparse's intermixed parsing."""
    x, y = tmp_path / "x.png", tmp_path / "y.png"
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(x)
    Image.fromarray(np.full((40, 30, 3), 10, np.uint8)).save(y)
    outputs = set()
    for argv in ([lenet_onnx, x, y, "--provider", "cpu", "--json"],
                 [lenet_onnx, "--provider", "cpu", x, "--json", y],
                 ["--json", "--provider", "cpu", lenet_onnx, x, y]):
        r = cli("run", *argv)
        assert r.returncode == 0, r.stderr
        outputs.add(r.stdout)
    assert len(outputs) == 1 and len(json.loads(outputs.pop())["top_k"]) == 2
    r = cli("run", lenet_onnx, "--provider", "cpu", x, "--nonsense")
    assert r.returncode == 2 and "unrecognized arguments: --nonsense" in r.stderr


def test_single_sample_and_npz_and_images(lenet_onnx, tmp_path, cli):
    np.save(tmp_path / "one.npy", np.zeros((1, 32, 32), np.float32))
    assert cli("run", lenet_onnx, tmp_path / "one.npy").returncode == 0
    np.savez(tmp_path / "in.npz", image=np.zeros((3, 1, 32, 32), np.float32))
    r = cli("run", lenet_onnx, tmp_path / "in.npz", "--top-k", "1")
    assert r.returncode == 0 and [line.split()[0] for line in r.stdout.splitlines()] == [
        f"{tmp_path / 'in.npz'}[{i}]" for i in range(3)]
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(tmp_path / "digit.png")
    r = cli("run", lenet_onnx, tmp_path / "digit.png", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["top_k"]) == 1


def test_bad_runtime_input_names_the_expected(lenet_onnx, tmp_path, cli):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 1, 28, 28), np.float32))
    r = cli("run", lenet_onnx, tmp_path / "wrong.npy")
    assert r.returncode == 1
    assert "input 'image' expects f32[N, 1, 32, 32], got an array of shape [2, 1, 28, 28]" in r.stderr
    np.save(tmp_path / "ints.npy", np.zeros((2, 1, 32, 32), np.int64))
    r = cli("run", lenet_onnx, tmp_path / "ints.npy")
    assert r.returncode == 1 and "input 'image' is f32 in the spec (floating point), but " \
        f"{tmp_path / 'ints.npy'} holds int64 (integer)" in r.stderr
    r = cli("run", lenet_onnx, tmp_path / "ints.npy", "--provider", "tpu")
    assert r.returncode == 1 and "unknown provider 'tpu'" in r.stderr
    for r in (cli("run", lenet_onnx), cli("run", lenet_onnx, tmp_path / "none.npy")):
        assert r.returncode == 1 and "Traceback" not in r.stderr


def test_corrupt_or_foreign_model_files(lenet_onnx, tmp_path, cli):
    (tmp_path / "cut.onnx").write_bytes(lenet_onnx.read_bytes()[:300])
    (tmp_path / "text.onnx").write_text("hello, I am not a model\n")
    for bad in ("cut.onnx", "text.onnx"):
        r = cli("run", tmp_path / bad, "--data", "digits")
        assert r.returncode == 1 and "not" in r.stderr and "Traceback" not in r.stderr


def test_cuda_request_runs_or_falls_back_and_says_so(lenet_onnx, tmp_path, cli):
    """Asked for CUDA, `specc run` runs there where CUDA works (and says nothing of a fallback)
    or on the CPU, saying so; either way its outputs are the CPU's (to float32 rounding of a
    different engine)."""
    x = np.random.default_rng(1).standard_normal((3, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    outs = {}
    for provider in ("cpu", "cuda"):
        r = cli("run", lenet_onnx, tmp_path / "x.npy", "--provider", provider, "--json",
                    "--save", tmp_path / f"{provider}.npy")
        assert r.returncode == 0, r.stderr
        outs[provider] = (json.loads(r.stdout)["provider"], r.stderr,
                          np.load(tmp_path / f"{provider}.npy"))
    assert outs["cpu"][0] == "CPUExecutionProvider"
    ran, said, y = outs["cuda"]
    assert ran in ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert ("fell back to the CPU" in said) == (ran == "CPUExecutionProvider"), said
    np.testing.assert_allclose(y, outs["cpu"][2], rtol=1e-3, atol=1e-4)
    assert np.abs(y).max() > 0 and y.shape == (3, 10)


def test_bench_side_by_side(lenet_onnx, cli):
    r = cli("bench", lenet_onnx, "--batch-sizes", "1,4", "--iters", "3", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert {(row["engine"].split()[0], row["batch"]) for row in rows} == {
        ("onnxruntime", 1), ("torch", 1), ("onnxruntime", 4), ("torch", 4)}
    assert all(row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] for row in rows)
    # throughput is the typical run's: batch / p50, never above what p50 allows
    assert all(abs(row["throughput"] - row["batch"] * 1000 / row["p50_ms"]) < 1e-6 for row in rows)
    r = cli("bench", SPECS / "lenet5.net", "--iters", "2")
    assert r.returncode == 0 and "p50 ms" in r.stdout
    assert cli("bench", SPECS / "lenet5.net", "--batch-sizes", "x").returncode == 2


def test_bench_threads_are_chosen_like_trains(lenet_onnx, cli):
    """Both engines get one count: by default the thread plan `specc train` uses (which an
    explicit OMP_NUM_THREADS overrides), 0 leaves each engine its own default. (The flag
    in-process, the environment in real processes.)"""
    import os

    from specc.train.threads import available_cpus

    def threads(*flags, env=None):
        args = ("bench", lenet_onnx, "--batch-sizes", "1", "--iters", "1", "--warmup", "0",
                "--json", *flags)
        r = run_cli(*args, env=env) if env else cli(*args)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["threads"]
    assert threads("--threads", "0") == 0 and threads("--threads", "3") == 3
    assert threads(env={"OMP_NUM_THREADS": "2"}) == 2
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-m", "specc", "bench", str(lenet_onnx), "--batch-sizes",
                        "1", "--iters", "1", "--warmup", "0", "--json"], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert 1 <= json.loads(r.stdout)["threads"] <= available_cpus()


def test_the_model_carries_its_spec_so_bench_works_from_anywhere(tmp_path):
    """Exported from one folder, benchmarked from another: torch rows need the spec, which
    the model embeds (text and imports by relative name, never a local path)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "lib.net").write_text("specc 1\nblock head(x, n: int) {\n"
                                            "    return linear(flatten(x), n)\n}\n")
    (tmp_path / "a" / "net.net").write_text(
        'specc 1\nimport "lib.net"\nimport "blocks.net"\nnetwork tiny(classes: int = 3) {\n'
        "    input x: f32[N, 2, 4, 4]\n    y = conv_relu(x, 4, 3)\n"
        "    output logits = head(y, classes)\n}\n")
    r = run_cli("export", "net.net", "--set", "classes=5", "-o", tmp_path / "b" / "t.onnx",
                cwd=tmp_path / "a")
    assert r.returncode == 0, r.stderr
    import onnx
    meta = {p.key: p.value for p in onnx.load(tmp_path / "b" / "t.onnx").metadata_props}
    assert meta["specc.spec"] == "net.net" and json.loads(meta["specc.overrides"]) == \
        {"classes": "5"}
    assert set(json.loads(meta["specc.spec_files"])) == {"net.net", "lib.net", "blocks.net"}
    assert str(tmp_path) not in "".join(meta.values())  # no local path anywhere
    (tmp_path / "a" / "net.net").unlink()  # the original is gone: only the model remains
    r = run_cli("bench", "t.onnx", "--batch-sizes", "2", "--iters", "2", "--json",
                cwd=tmp_path / "b")
    assert r.returncode == 0, r.stderr
    engines = {row["engine"].split()[0] for row in json.loads(r.stdout)["rows"]}
    assert engines == {"onnxruntime", "torch"}


def test_export_bytes_do_not_depend_on_the_folder(tmp_path):
    (tmp_path / "x").mkdir()
    a = run_cli("export", SPECS / "lenet5.net", "-o", tmp_path / "a.onnx", "--no-verify")
    b = run_cli("export", "../../lenet5.net", "-o", "b.onnx", "--no-verify",
                cwd=_copy_spec(tmp_path))
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "x" / "y" / "b.onnx").read_bytes()


def _copy_spec(tmp_path):
    (tmp_path / "lenet5.net").write_text((SPECS / "lenet5.net").read_text())
    (tmp_path / "x" / "y").mkdir(parents=True)
    return tmp_path / "x" / "y"
