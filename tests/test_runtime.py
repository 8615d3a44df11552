"""`specc run` and `specc bench` on exported models: inputs, outputs, providers, bad input."""
import json

import numpy as np
import pytest
from PIL import Image

import specc

from conftest import SPECS, run_cli


@pytest.fixture(scope="module")
def lenet_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "lenet5.onnx"
    specc.load(SPECS / "lenet5.net").to_onnx(path)
    return path


def test_topk_from_npy_with_labels_and_raw_outputs(lenet_onnx, tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run_cli("run", lenet_onnx, tmp_path / "x.npy", "--top-k", "3", "--save", tmp_path / "y.npy",
                "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["provider"] == "CPUExecutionProvider" and len(obj["top_k"]) == 2
    assert [len(row) for row in obj["top_k"]] == [3, 3]
    raw = np.load(tmp_path / "y.npy")
    assert raw.shape == (2, 10)
    best = int(raw[0].argmax())
    assert obj["top_k"][0][0] == {"index": best, "label": str(best), "score": float(raw[0, best])}


def test_single_sample_and_npz_and_images(lenet_onnx, tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((1, 32, 32), np.float32))
    assert run_cli("run", lenet_onnx, tmp_path / "one.npy").returncode == 0
    np.savez(tmp_path / "in.npz", image=np.zeros((3, 1, 32, 32), np.float32))
    r = run_cli("run", lenet_onnx, tmp_path / "in.npz", "--top-k", "1")
    assert r.returncode == 0 and r.stdout.count("sample") == 3
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(tmp_path / "digit.png")
    r = run_cli("run", lenet_onnx, tmp_path / "digit.png", "--json")
    assert r.returncode == 0, r.stderr and len(json.loads(r.stdout)["top_k"]) == 1


def test_bad_runtime_input_names_the_expected(lenet_onnx, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 1, 28, 28), np.float32))
    r = run_cli("run", lenet_onnx, tmp_path / "wrong.npy")
    assert r.returncode == 1
    assert "input 'image' expects f32[N, 1, 32, 32], got an array of shape [2, 1, 28, 28]" in r.stderr
    np.save(tmp_path / "ints.npy", np.zeros((2, 1, 32, 32), np.int64))
    r = run_cli("run", lenet_onnx, tmp_path / "ints.npy")
    assert r.returncode == 1 and "(floating point), got int64" in r.stderr
    r = run_cli("run", lenet_onnx, tmp_path / "ints.npy", "--provider", "tpu")
    assert r.returncode == 1 and "unknown provider 'tpu'" in r.stderr
    for r in (run_cli("run", lenet_onnx), run_cli("run", lenet_onnx, tmp_path / "none.npy")):
        assert r.returncode == 1 and "Traceback" not in r.stderr


def test_corrupt_or_foreign_model_files(lenet_onnx, tmp_path):
    (tmp_path / "cut.onnx").write_bytes(lenet_onnx.read_bytes()[:300])
    (tmp_path / "text.onnx").write_text("hello, I am not a model\n")
    for bad in ("cut.onnx", "text.onnx"):
        r = run_cli("run", tmp_path / bad, "--data", "digits")
        assert r.returncode == 1 and "not" in r.stderr and "Traceback" not in r.stderr


def test_cuda_request_falls_back_and_says_so(lenet_onnx):
    r = run_cli("run", lenet_onnx, "--data", "digits", "--provider", "cuda", "--json")
    assert r.returncode == 0
    ran = json.loads(r.stdout)["provider"]
    if ran == "CPUExecutionProvider":
        assert "fell back to the CPU" in r.stderr


def test_bench_side_by_side(lenet_onnx):
    r = run_cli("bench", lenet_onnx, "--batch-sizes", "1,4", "--iters", "3", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert {(row["engine"].split()[0], row["batch"]) for row in rows} == {
        ("onnxruntime", 1), ("torch", 1), ("onnxruntime", 4), ("torch", 4)}
    assert all(row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"] for row in rows)
    r = run_cli("bench", "specs/lenet5.net", "--iters", "2")
    assert r.returncode == 0 and "p50 ms" in r.stdout
    assert run_cli("bench", "specs/lenet5.net", "--batch-sizes", "x").returncode == 2
