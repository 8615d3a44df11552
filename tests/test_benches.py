"""The training benches keep working: each runs at a tiny size on the CPU and ends in ratio=X.
(The figures themselves are measured by running the benches, never asserted here.)"""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT


def bench(*args, timeout=600):
    r = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ratio=\d+\.\d+", last), r.stdout
    assert float(last.split("=")[1]) > 0
    return r.stdout


@pytest.mark.slow
def test_gpu_train_tiny_cpu_mode():
    out = bench("bench/gpu_train.py", "--tiny")
    for line in ("synthetic data", "real pipeline", "pipeline alone"):
        assert line in out, out
    # every figure is the median of the rounds, each side timed once a round, in turn
    medians = re.findall(r"(specc|hand|alone) +\d+\.\d+ images/s \(median of 2: "
                         r"\d+\.\d+, \d+\.\d+\)", out)
    assert sorted(medians) == ["alone", "hand", "hand", "specc", "specc"], out


def test_data_pipeline_tiny(tmp_path):
    out = bench("bench/data_pipeline.py", "--images", 40, "--workers", 1, "--batch", 8,
                "--size", 32, "--rounds", 1, "--folder", tmp_path / "jpegs")
    assert "32 images per epoch" in out  # 40 images, a fifth held out for testing


def test_export_stages_small():
    out = bench("bench/export_stages.py", "--net", "resnet18", "--repeat", 1)
    for stage in ("draw the weights", "torch reference, 2 samples", "onnxruntime session",
                  "ORT_DISABLE_ALL", "the whole verified export"):
        assert stage in out, out


def test_predict_bench_tiny(tmp_path):
    # --warmup 0: the untimed round runs the same two commands as the timed one
    out = bench("bench/predict.py", "--images", 12, "--rounds", 1, "--warmup", 0, "--no-ray",
                "--net", "specs/squeezenet.net:squeezenet1_1", "--folder", tmp_path / "jpegs")
    assert re.search(r"specc +\d+\.\d images/s", out) and re.search(r"hand +\d+\.\d", out), out


def test_symbolic_latency_small():
    out = bench("bench/symbolic_latency.py", "--runs", 2, "--size", 64, "--length", 16)
    assert out.count("ratio ") == 2 and "fcn_resnet18" in out and "gpt" in out
