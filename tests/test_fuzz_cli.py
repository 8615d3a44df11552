"""The command line, fuzzed: any command, any flags, any values, any files (specs, models,
arrays, images, checkpoints, run folders, folders, a FIFO, garbage) end in exit 0, 1 or 2 -
never in an internal error (3) or a traceback - and never change a file they only read.

In-process (main(argv)) so that a case costs milliseconds; CI runs SPECC_FUZZ_EXAMPLES (150)
cases, `pytest --fuzz-long -m fuzz_long` runs 10,000."""
import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.cli.main import main

from conftest import SPECS
from test_fuzz_inputs import BOMB

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150"))
TINY = "specc 1\nnetwork tiny {\n    input x: f32[N, 2]\n    output y = linear(x, 2)\n" \
       "    train {\n        data = \"logic:xor\"\n        epochs = 1\n    }\n}\n"


def _files(root: Path) -> dict[str, Path]:
    """Every kind of file a user might hand to specc, good and bad."""
    from safetensors.torch import save_file
    from PIL import Image
    f = {}

    def put(name, data):
        f[name] = root / name
        (f[name].write_bytes if isinstance(data, bytes) else f[name].write_text)(data)
    put("tiny.net", TINY)
    put("tc.net", (SPECS / "rumelhart_tc.net").read_text())
    put("syntax.net", "specc 1\nnetwork n {\n input x: f32[N, 2\n}\n")
    put("binary.net", bytes(range(256)) * 4)
    put("empty.net", "")
    put("notes.txt", "not a spec\n\x1b[2J")
    put("garbage.onnx", os.urandom(2048))
    put("garbage.npy", b"\x93NUMPY" + os.urandom(200))
    put("absurd.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
        b"'shape': (100000000000, 4), }" + b" " * 52 + b"\n" + b"\0" * 64)
    put("notzip.npz", b"PK\x03\x04" + os.urandom(100))
    put("ckpt_garbage.safetensors", os.urandom(300))
    np.save(root / "x.npy", np.ones((3, 2), np.float32))
    np.save(root / "ints.npy", np.ones((3, 2), np.int64))
    np.save(root / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(root / "x.npz", x=np.ones((3, 2), np.float32))
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(root / "img.png")
    (root / "bomb.png").write_bytes(BOMB)  # declares 100,000 x 100,000 pixels
    for name in ("x.npy", "ints.npy", "objects.npy", "x.npz", "img.png", "bomb.png"):
        f[name] = root / name
    (root / "folder").mkdir()
    f["folder"] = root / "folder"
    os.mkfifo(root / "fifo.net")
    f["fifo.net"] = root / "fifo.net"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["export", str(f["tiny.net"]), "-o", str(root / "tiny.onnx")]) == 0
        assert main(["train", str(f["tiny.net"]), "--out", str(root / "run")]) == 0
    f["tiny.onnx"], f["run"] = root / "tiny.onnx", root / "run"
    save_file({"y.weight": torch.zeros(2, 2)}, str(root / "partial.safetensors"))
    f["partial.safetensors"] = root / "partial.safetensors"
    edited = root / "edited_run"
    edited.mkdir()
    for item in ("checkpoint.safetensors", "spec"):
        os.system(f"cp -r '{root / 'run' / item}' '{edited}'")
    cfg = json.loads((root / "run" / "config.json").read_text())
    cfg["epochs"], cfg["optimizer"] = "many", {"name": "sgd", "lr": float("nan")}
    (edited / "config.json").write_text(json.dumps(cfg))
    f["edited_run"] = edited
    return f


@pytest.fixture(autouse=True)
def _zoo(zoo_rows_once):
    """`zoo` takes no input a fuzzer can vary but its flags; its rows (every bundled network
    elaborated, ~10 s a case on a busy machine, 85% of this fuzzer's time) are computed once
    (test_cli checks them); each case still parses, formats and prints them."""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzzcli")
    f = _files(root)
    (root / ".pristine").mkdir()
    for name, path in f.items():
        if path.is_file() and not name.startswith("fifo"):
            (root / ".pristine" / name).write_bytes(path.read_bytes())
    return root, f


def _digests(files):
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()
            if p.is_file() and not k.startswith("fifo")}


VALUES = ["0", "1", "2", "-1", "3", "x", "", " ", "nan", "inf", "-inf", "1e999", "0.1", "1e-3",
          str(2 ** 64), str(2 ** 31), "9" * 40, "1,2", "0,1", "a,b", "cpu", "cuda", "auto",
          "tpu", "sgd", "adamw", "nope", "digits", "tc", "logic:xor", "mnist:/nonexistent",
          "imagefolder:.", "synthetic", "\x1b[31m", "ü", "../x", "/dev/null", "17", "13", "9"]
FLAGS = {
    "check": ["--json", "--print-ir", "--max-params", "--max-activations"],
    "export": ["-o", "--weights", "--opset", "--fp16", "--external-data", "--no-verify", "--seed",
               "--json", "--max-params", "--checkpoint"],
    "run": ["--top-k", "--save", "--data", "--provider", "--batch-size", "--json"],
    "bench": ["--batch-sizes", "--iters", "--warmup", "--provider", "--threads", "--json"],
    "graph": ["-o", "--max-params"],
    "train": ["--data", "--epochs", "--batch-size", "--lr", "--optimizer", "--device", "--amp",
              "--channels-last", "--seed", "--out", "--resume", "--nproc", "--workers", "--json",
              "--allow-spec-change", "--tensorboard", "--early-stop", "--min-delta", "--monitor"],
    "zoo": ["--json"],
}
SWITCHES = {"--json", "--print-ir", "--fp16", "--external-data", "--no-verify", "--amp",
            "--channels-last", "--allow-spec-change", "--tensorboard"}
OUTPUTS = ["out/a.onnx", "out/a.npy", "out/a.npz", "out/a.dot", "out/a.svg", "out/", "",
           "nowhere/a.onnx", "out/run"]
# flags whose values could make a case run for minutes (epochs, batch counts) stay small
BOUNDED = {"--epochs": ["0", "1", "1", "-1", "x", ""], "--nproc": ["0", "1", "1", "-1", "x"],
           "--iters": ["0", "1", "1", "-1", "x"], "--warmup": ["0", "1", "-1"],
           "--batch-sizes": ["1", "1", "0", "x", "1,2", ""]}


# values a flag accepts: most cases use these, so that a case gets past argparse and into the
# command (a fuzzer that only meets usage errors tests argparse)
VALID = {
    "--max-params": ["10", "1000", "2000000000"], "--max-activations": ["3", "100", "1000000000"],
    "--weights": ["run", "run/checkpoint.safetensors", "partial.safetensors"],
    "--opset": ["13", "17", "21"], "--seed": ["0", "7", str(2 ** 64 - 1)],
    "--top-k": ["1", "3", "100"], "--data": ["logic:xor", "digits", "tc", "synthetic"],
    "--provider": ["cpu", "auto", "cuda"], "--batch-size": ["1", "2", "64"],
    "--batch-sizes": ["1", "1,2"], "--iters": ["1"], "--warmup": ["0", "1"],
    "--threads": ["0", "1"], "--epochs": ["1"], "--lr": ["0.1", "0.001"],
    "--optimizer": ["sgd", "adam", "adamw", "rmsprop"], "--device": ["cpu", "auto"],
    "--resume": ["run", "edited_run"], "--nproc": ["1"], "--workers": ["0", "1"],
    "-o": ["out/a.onnx", "out/b.onnx", "out/a.dot"], "--save": ["out/a.npy", "out/a.npz"],
    "--checkpoint": ["last", "best"], "--early-stop": ["1", "3"], "--min-delta": ["0", "0.01"],
    "--monitor": ["test_accuracy", "test_loss"],
}
TARGETS = {"run": ["tiny.onnx"], "bench": ["tiny.onnx", "tiny.net"], "zoo": []}


@st.composite
def command_lines(draw, names):
    cmd = draw(st.sampled_from(sorted(FLAGS)))
    argv = [cmd]
    valid = TARGETS.get(cmd, ["tiny.net", "tc.net", "tiny.net:tiny"])
    if cmd != "zoo" and draw(st.integers(0, 9)) > 0:
        argv.append(draw(st.sampled_from(valid) if draw(st.booleans()) else
                         st.sampled_from(names + ["missing.net", "tc.net:nope", "tiny.net:"])))
    if cmd == "run" and draw(st.booleans()):
        argv += draw(st.lists(st.sampled_from(["x.npy", "x.npz", "img.png"] + names), max_size=2))
    for flag in draw(st.lists(st.sampled_from(FLAGS[cmd]), max_size=4)):
        argv.append(flag)
        if flag in SWITCHES:
            continue
        if flag == "--out":
            argv.append(draw(st.sampled_from([f"out/r{i}" for i in range(4)] + OUTPUTS + names)))
        elif flag in BOUNDED:
            argv.append(draw(st.sampled_from(BOUNDED[flag])))
        elif flag in VALID and draw(st.integers(0, 3)) > 0:
            argv.append(draw(st.sampled_from(VALID[flag])))
        elif flag in ("-o", "--save"):
            argv.append(draw(st.sampled_from(OUTPUTS + names)))
        elif flag in ("--weights", "--resume"):
            argv.append(draw(st.sampled_from(names + ["missing"])))
        else:
            argv.append(draw(st.sampled_from(VALUES + names)))
    if cmd == "train" and "--epochs" not in argv:
        argv += ["--epochs", "1"]
    if cmd == "export" and "-o" not in argv and draw(st.integers(0, 4)) > 0:
        argv += ["-o", "out/c.onnx"]  # -o is required: without it every case is a usage error
    return argv


def _check(argv, root, files, before, want=(0, 1, 2)):
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(cwd)
        torch.set_num_threads(1)
    assert code in want, (argv, code, err.getvalue()[-2000:])
    assert "Traceback" not in err.getvalue(), (argv, err.getvalue()[-2000:])
    changed = {k for k, d in _digests(files).items() if before.get(k) != d}
    inputs = _inputs(argv)
    assert not changed & inputs, f"{argv} changed its input {sorted(changed & inputs)}"
    for name in changed:  # an output the command was asked to write: restore the fixture
        files[name].write_bytes((root / ".pristine" / name).read_bytes())


def _inputs(argv) -> set[str]:
    """The fixture files a command line reads: its target and run inputs, --weights and
    --resume (and what a --resume run folder holds is not a plain fixture file)."""
    names = set()
    skip = False
    for i, a in enumerate(argv[1:], 1):
        if skip:
            skip = False
            continue
        if a.startswith("-"):
            skip = a not in SWITCHES
            if a in ("--weights", "--resume") and i + 1 < len(argv):
                names.add(argv[i + 1].split(":")[0])
            continue
        names.add(a.split(":")[0])
    return names


def _fuzz(examples):
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def run(files, data):
        root, f = files
        (root / "out").mkdir(exist_ok=True)
        names = sorted(f)
        argv = data.draw(command_lines(names))
        _check(argv, root, f, _digests(f))
    return run


test_cli_fuzz = _fuzz(EXAMPLES)
test_cli_fuzz_long = pytest.mark.fuzz_long(_fuzz(10_000))


@pytest.mark.parametrize("argv", [
    ["check", "fifo.net"], ["check", "binary.net"], ["check", "notes.txt"],
    ["run", "tiny.onnx", "absurd.npy"], ["run", "tiny.onnx", "objects.npy"],
    ["run", "tiny.onnx", "notzip.npz"], ["run", "tiny.onnx", "garbage.npy"],
    ["run", "tiny.onnx", "bomb.png"], ["run", "tiny.onnx", "fifo.net"],
    ["run", "garbage.onnx", "x.npy"], ["run", "fifo.net", "x.npy"],
    ["export", "tiny.net", "--weights", "ckpt_garbage.safetensors", "-o", "out/a.onnx"],
    ["export", "tiny.net", "--weights", "partial.safetensors", "-o", "out/a.onnx"],
    ["export", "tiny.net", "--weights", "fifo.net", "-o", "out/a.onnx"],
    ["train", "--resume", "edited_run"], ["train", "--resume", "folder"],
    ["train", "tc.net", "--data", "digits", "--epochs", "1", "--out", "out/r"],
    ["bench", "garbage.onnx"], ["graph", "tiny.net", "-o", "out/a.bmp"],
])
def test_known_bad_inputs_are_user_errors(files, argv):
    root, f = files
    (root / "out").mkdir(exist_ok=True)
    _check(argv, root, f, _digests(f), want=(1,))
