"""`specc predict`: rows that agree with `specc run`, every format, unreadable files skipped,
resume after a kill with no row twice, refusals; the Ray path on a local Ray instance."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import specc

from conftest import ROOT, SPECS, run_cli


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "lenet5.onnx"
    specc.load(SPECS / "lenet5.net").to_onnx(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Eight small PNGs in a folder tree, and one file that is not an image at all."""
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(8):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(exist_ok=True)
        size = (12 + i, 9 + 2 * i)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def read_rows(path):
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_rows_agree_with_specc_run_on_arrays(lenet, tmp_path, cli):
    x = np.random.default_rng(1).standard_normal((50, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", lenet, tmp_path / "x.npy", "--save", tmp_path / "ref.npy")
    assert r.returncode == 0, r.stderr
    ref = np.load(tmp_path / "ref.npy")
    for fmt in ("parquet", "jsonl", "csv"):
        out = tmp_path / f"p.{fmt}"
        r = cli("predict", lenet, "--data", tmp_path / "x.npy", "--out", out, "--logits",
                    "--top-k", "3", "--batch-size", "7", "--chunk", "16", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["rows"] == 50
        rows = read_rows(out)
        assert [row["key"] for row in rows] == [f"x.npy[{i}]" for i in range(50)]
        logits = np.array([row["logits"] if fmt != "csv" else
                           [float(v) for v in row["logits"].split()] for row in rows])
        assert np.abs(logits - ref).max() <= 1e-5
        assert [int(row["top1"]) for row in rows] == ref.argmax(1).tolist()
        p = np.exp(ref - ref.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)  # lenet5's outputs are logits: scores are probabilities
        assert np.allclose([float(row["top1_score"]) for row in rows], p.max(1), atol=1e-6)
        assert {row["top1_label"] for row in rows} <= {str(i) for i in range(10)}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folders


def test_image_folder_agrees_with_run_and_skips_unreadable(lenet, images, tmp_path, cli):
    files = sorted(images.rglob("[0-9].png"))
    r = cli("run", lenet, *files, "--save", tmp_path / "ref.npy")
    assert r.returncode == 0, r.stderr
    ref = dict(zip([str(f.relative_to(images)) for f in files], np.load(tmp_path / "ref.npy")))
    out = tmp_path / "p.parquet"
    r = cli("predict", lenet, "--data", images, "--out", out, "--logits", "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert "skipping unreadable a/broken.png" in r.stderr
    assert "8 rows" in r.stdout and "1 unreadable file skipped" in r.stdout
    rows = read_rows(out)
    assert sorted(row["key"] for row in rows) == sorted(ref)
    for row in rows:
        assert np.abs(np.array(row["logits"]) - ref[row["key"]]).max() <= 1e-5
        assert row["top1"] == int(ref[row["key"]].argmax())


def test_imagefolder_source_has_labels(lenet, images, tmp_path, cli):
    out = tmp_path / "p.csv"
    r = cli("predict", lenet, "--data", f"imagefolder:{images}", "--out", out,
                "--top-k", "1", "--workers", "0")
    assert r.returncode == 0, r.stderr
    rows = read_rows(out)
    assert list(rows[0]) == ["key", "label", "top1", "top1_label", "top1_score"]
    assert {(row["key"][0], row["label"]) for row in rows} == {("a", "0"), ("b", "1")}
    assert len(rows) == 8


def test_killed_job_resumes_with_no_row_twice(lenet, tmp_path, cli):
    x = np.random.default_rng(2).standard_normal((3000, 1, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    full = tmp_path / "full.jsonl"
    r = cli("predict", lenet, "--data", tmp_path / "x.npy", "--out", full, "--chunk", "64",
                "--batch-size", "16", "--workers", "0")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "p.jsonl"
    work = tmp_path / ".p.jsonl.specc-predict"
    proc = subprocess.Popen([sys.executable, "-m", "specc", "predict", str(lenet), "--data",
                             str(tmp_path / "x.npy"), "--out", str(out), "--chunk", "64",
                             "--batch-size", "16", "--workers", "0"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    done = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            done = json.loads((work / "progress.json").read_text())["done"]
        except (OSError, ValueError):
            done = 0
        if done >= 128:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < done < 3000 and not out.exists(), done
    (work / "part-999999.jsonl.tmp").write_text('{"key": "in flight"}\n')  # a chunk cut short
    r = cli("predict", lenet, "--data", tmp_path / "x.npy", "--out", out)
    assert r.returncode == 1 and "--resume continues it" in r.stderr
    r = cli("predict", lenet, "--data", tmp_path / "x.npy", "--out", out, "--resume",
                "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["resumed_at"] >= done
    assert out.read_text() == full.read_text()  # every row once, in order, the same values
    r = cli("predict", lenet, "--data", tmp_path / "x.npy", "--out", out, "--resume")
    assert r.returncode == 0 and "already complete" in r.stdout


def test_refusals(lenet, tmp_path, cli):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 1, 32, 32), np.float32))
    for out in (x, lenet):
        r = cli("predict", lenet, "--data", x, "--out", out, "--format", "csv")
        assert r.returncode == 1 and "is an input of this command" in r.stderr, r.stderr
    (tmp_path / "old.csv").write_text("mine\n")
    r = cli("predict", lenet, "--data", x, "--out", tmp_path / "old.csv")
    assert r.returncode == 1 and "refusing to overwrite" in r.stderr
    assert (tmp_path / "old.csv").read_text() == "mine\n"
    r = cli("predict", lenet, "--data", x, "--out", tmp_path / "p.txt")
    assert r.returncode == 1 and "cannot tell the format" in r.stderr
    r = cli("predict", lenet, "--data", tmp_path / "nothing", "--out", tmp_path / "p.csv")
    assert r.returncode == 1 and "no such file or folder" in r.stderr
    start = time.perf_counter()
    r = run_cli("predict", lenet, "--data", x, "--out", tmp_path / "p.csv", "--ray",
                "127.0.0.1:1")
    assert r.returncode == 1 and "no Ray cluster answers there" in r.stderr, r.stderr
    assert time.perf_counter() - start < 30  # the whole process, imports included
    r = cli("predict", lenet, "--data", x, "--out", tmp_path / "p.csv", "--gpus-per-worker",
                "1")
    assert r.returncode == 2 and "is for --ray" in r.stderr


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray instance for the module (started once: a few seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_path_agrees_with_the_local_one(lenet, images, tmp_path, ray_cluster, cli):
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    r = cli("predict", lenet, "--data", images, "--out", local, "--logits")
    assert r.returncode == 0, r.stderr
    r = cli("predict", lenet, "--data", images, "--out", remote, "--logits", "--ray", "auto",
                "--ray-workers", "1", "--batch-size", "3")
    assert r.returncode == 0, r.stderr
    assert "Ray Data" in r.stdout and "1 unreadable file skipped" in r.stdout
    a, b = read_rows(local), read_rows(remote)
    assert [row["key"] for row in a] == [row["key"] for row in b]
    assert np.abs(np.array([row["logits"] for row in a]) -
                  np.array([row["logits"] for row in b])).max() <= 1e-5
