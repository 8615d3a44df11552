"""Nothing the user owns is overwritten or mixed: golden messages for every data-loss guard.

Outputs that are (or resolve to) an input are refused; a run folder is locked while a training
writes to it; the run keeps its own copy of the spec under spec/ (no name collides with a run
file) and --resume trains that copy; stale staging folders of killed exports are removed.
In-process (main(...)) and on the tiny T-C network, so the whole file costs seconds."""
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from specc.cli.main import main
from specc.core.files import STAGING_SUFFIX, clean_stale, staging
from specc.train.runs import RunLock

from conftest import SPECS

TC = (SPECS / "rumelhart_tc.net").read_text()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tc.net").write_text(TC)
    return tmp_path / "tc.net"


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("target", ["tc.net", "./tc.net", "sub/../tc.net", "link.net",
                                    "hard.net"])
def test_export_and_graph_never_overwrite_the_spec(spec, capsys, target):
    (spec.parent / "sub").mkdir()
    (spec.parent / "link.net").symlink_to("tc.net")
    os.link(spec, spec.parent / "hard.net")
    before = digest(spec)
    for argv in (["export", "tc.net", "-o", target, "--no-verify"],
                 ["graph", "tc.net", "-o", target]):
        code, err = run(capsys, *argv)
        assert code == 1 and "is an input of this command (tc.net); refusing to overwrite it" \
            in err, (argv, err)
    assert digest(spec) == before


def test_output_paths_that_cannot_be_written(spec, capsys):
    assert run(capsys, "export", "tc.net", "-o", ".", "--no-verify") == (
        1, "error: -o . is a folder; name the file to write\n")
    assert run(capsys, "export", "tc.net", "-o", "nowhere/x.onnx", "--no-verify") == (
        1, "error: output folder nowhere does not exist\n")
    code, err = run(capsys, "export", "tc.net", "-o", "", "--no-verify")
    assert code == 2 and "the output path is empty" in err
    code, err = run(capsys, "graph", "tc.net", "-o", " ")
    assert code == 2 and "the output path is empty" in err


def without_root_override():
    """For a child process: drop the capabilities that let root write into a folder whose
    permissions forbid it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the bounding set, so
    that the program it runs, still uid 0, meets permissions as any user does (CI runs as
    root). A user other than root needs nothing dropped."""
    if os.geteuid() != 0:
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def test_unwritable_output_folder(spec):
    import subprocess
    ro = spec.parent / "ro"
    ro.mkdir(mode=0o500)
    r = subprocess.run([sys.executable, "-m", "specc", "export", "tc.net", "-o", "ro/x.onnx",
                        "--no-verify"], cwd=spec.parent, capture_output=True, text=True,
                       preexec_fn=without_root_override, timeout=300)
    assert (r.returncode, r.stderr) == (
        1, "error: cannot write to the output folder ro (permission denied)\n")
    assert list(ro.iterdir()) == []


def test_run_save_never_overwrites_the_model_or_an_input(spec, capsys):
    import numpy as np
    assert run(capsys, "export", "tc.net", "-o", "tc.onnx", "--no-verify")[0] == 0
    np.save("x.npy", np.zeros((1, 1, 8, 8), np.float32))
    model, data = digest(Path("tc.onnx")), digest(Path("x.npy"))
    for target in ("tc.onnx", "x.npy", "./x.npy"):
        code, err = run(capsys, "run", "tc.onnx", "x.npy", "--save", target)
        assert code == 1 and f"--save {target} is an input of this command" in err
    assert (digest(Path("tc.onnx")), digest(Path("x.npy"))) == (model, data)
    assert run(capsys, "run", "tc.onnx", "x.npy", "--save", "y.npy")[0] == 0
    assert np.load("y.npy").shape == (1, 1)


def test_export_onto_its_checkpoint_is_refused(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    before = digest(Path("r/checkpoint.safetensors"))
    for weights in ("r", "r/checkpoint.safetensors"):
        code, err = run(capsys, "export", "tc.net", "--weights", weights, "-o",
                        "r/checkpoint.safetensors", "--no-verify")
        assert code == 1 and "is an input of this command" in err
    assert digest(Path("r/checkpoint.safetensors")) == before


@pytest.mark.parametrize("name", ["config.json", "checkpoint.safetensors", "metrics.csv",
                                  "curves.png", "spec"])
def test_a_spec_named_like_a_run_file_cannot_collide(spec, capsys, name):
    Path(name).write_text(TC)
    code, err = run(capsys, "train", name, "--epochs", "1", "--out", "r")
    assert code == 0, err
    assert (Path("r/spec") / name).read_text() == TC
    assert json.loads(Path("r/config.json").read_text())["epochs"] == 1
    assert Path("r/checkpoint.safetensors").stat().st_size > 1000


def test_resume_trains_the_runs_own_copy(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    spec.write_text("this file is no longer a spec\n")  # the original may change or vanish
    code, err = run(capsys, "train", "--resume", "r", "--epochs", "2")
    assert code == 0, err
    assert [row.split(",")[0] for row in Path("r/metrics.csv").read_text().split()[1:]] == \
        ["1", "2"]


def test_resume_with_a_different_spec_is_refused_in_one_line(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    spec.write_text(TC.replace("adam(lr=0.02)", "adam(lr=0.05)"))
    code, err = run(capsys, "train", "tc.net", "--resume", "r", "--epochs", "2")
    assert code == 1
    line = next(n for n, t in enumerate(TC.splitlines(), 1) if "adam(lr=0.02)" in t)
    assert err.splitlines()[0] == (
        f"error: the given spec differs from the one run r trains: line {line}: the run has "
        "`optimizer = adam(lr=0.02)`, the given spec has `optimizer = adam(lr=0.05)`")
    code, err = run(capsys, "train", "tc.net", "--resume", "r", "--epochs", "2",
                    "--allow-spec-change")
    assert code == 0, err
    assert "adam(lr=0.05)" in Path("r/spec/tc.net").read_text()  # the run follows the change


def test_a_changed_spec_copy_is_noticed(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    Path("r/spec/tc.net").write_text(TC + "\n# edited\n")
    code, err = run(capsys, "train", "--resume", "r", "--epochs", "2")
    assert code == 1 and "was changed after the run started" in err


def test_run_folder_lock_names_the_holder(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    holder = RunLock(Path("r"))
    try:
        for argv in (["train", "--resume", "r", "--epochs", "2"],
                     ["train", "tc.net", "--out", "r"]):
            code, err = run(capsys, *argv)
            assert code == 1 and err == (f"error: run folder r is in use by process "
                                         f"{os.getpid()} (a training writes to it); wait for "
                                         "it to finish or stop it\n"), err
    finally:
        holder.release()
    Path("r/.lock").write_text("999999999\n")  # a stale lock of a process that is gone
    assert run(capsys, "train", "--resume", "r", "--epochs", "2")[0] == 0


def test_a_folder_of_other_files_is_not_made_a_run(spec, capsys):
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("mine")
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "mine")
    assert code == 1 and "mine holds files that are not a run's (notes.txt)" in err
    assert sorted(p.name for p in Path("mine").iterdir()) == ["notes.txt"]


def test_hand_edited_config_is_checked(spec, capsys):
    code, err = run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")
    assert code == 0, err
    cfg = json.loads(Path("r/config.json").read_text())
    for key, value, message in [
            ("epochs", "3", "r/config.json: 'epochs' must be an int >= 1, got str \"3\""),
            ("optimizer", {"name": "sgd", "lr": "fast"}, "'sgd.lr' must be a finite number"),
            ("schedule", {"name": "step", "every": 0}, "'step.every' must be an int >= 1"),
            ("seed", -4, "'seed' must be an int from 0 to 2**64 - 1"),
            ("frobnicate", 1, "r/config.json: unknown key 'frobnicate'")]:
        Path("r/config.json").write_text(json.dumps({**cfg, key: value}))
        code, err = run(capsys, "train", "--resume", "r")
        assert code == 1 and message in err, (key, err)
    Path("r/config.json").write_text("{not json")
    code, err = run(capsys, "train", "--resume", "r")
    assert code == 1 and "r/config.json is not valid JSON" in err


def test_stale_staging_folders_are_cleaned(tmp_path):
    dead = tmp_path / f".m.onnx.999999999{STAGING_SUFFIX}"
    live = tmp_path / f".m.onnx.{os.getpid()}{STAGING_SUFFIX}"
    other = tmp_path / f".other.onnx.999999999{STAGING_SUFFIX}"
    for d in (dead, live, other):
        d.mkdir()
        (d / "m.onnx").write_bytes(b"half")
    assert clean_stale(tmp_path, "m.onnx") == [dead]
    assert live.is_dir() and other.is_dir()
    with staging(tmp_path / "m.onnx") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(STAGING_SUFFIX)
    assert not tmp.exists()


def test_same_spec_and_weights_give_the_same_bytes_from_any_folder(tmp_path, monkeypatch):
    """No local path in the model: the spec copied to two folders, exported from two working
    directories, gives byte-identical files that name the spec by its file name only."""
    import onnx

    import specc
    files = []
    for where in ("a", "b/c"):
        folder = tmp_path / where
        folder.mkdir(parents=True)
        (folder / "tc.net").write_text(TC)
        monkeypatch.chdir(folder)
        specc.load("tc.net").to_onnx("m.onnx", verify=False)
        files.append((folder / "m.onnx").read_bytes())
    assert files[0] == files[1]
    meta = {p.key: p.value for p in onnx.load_from_string(files[0]).metadata_props}
    assert meta["specc.spec"] == "tc.net" and str(tmp_path) not in files[0].decode("latin-1")


def test_checkpoint_bytes_do_not_depend_on_the_process(tmp_path):
    """safetensors keeps its metadata map in a per-process random order; specc stores one
    sorted key, so the same state gives the same bytes in two interpreters."""
    import subprocess
    code = ("import torch, sys; from specc.train.checkpoint import save_checkpoint; "
            "from pathlib import Path; torch.manual_seed(0); m = torch.nn.Linear(3, 2); "
            "o = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9); "
            "m(torch.ones(1, 3)).sum().backward(); o.step(); "
            "save_checkpoint(Path(sys.argv[1]), m, o, None, {'epoch': 1, 'step': 0, 'b': 2})")
    for name, seed in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_networks_train_cannot_feed_are_refused_up_front(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("two.net").write_text("specc 1\nnetwork two {\n input a: f32[N, 4]\n input b: f32[N, 4]\n"
                               " output y = linear(a + b, 2)\n}\n")
    Path("ints.net").write_text("specc 1\nnetwork ints {\n input a: i64[N, 4]\n"
                                " output y = linear(a, 2)\n}\n")
    Path("fixed.net").write_text((SPECS / "mcculloch_pitts.net").read_text())
    for argv, message in [
            (["train", "two.net"], "specc train feeds one input from a data set; network 'two' "
                                   "has 2 (a, b)"),
            (["train", "fixed.net:mp_and"], "network 'mp_and' has no trainable parameters"),
            (["train", "two.net", "--nproc", "2"], "network 'two' has 2 (a, b)")]:
        code, err = run(capsys, *argv)
        assert code == 1 and message in err, (argv, err)
    assert not Path("runs").exists()  # refused before any run folder was made


def test_crafted_checkpoint_metadata_is_a_user_error(spec, capsys):
    from safetensors.torch import load_file, save_file
    assert run(capsys, "train", "tc.net", "--epochs", "1", "--out", "r")[0] == 0
    tensors = load_file("r/checkpoint.safetensors")
    for meta in ({"specc": "{not json"}, {"specc": json.dumps({"info": '{"epoch": -3}'})},
                 {"specc": json.dumps({"info": "{}", "optim_groups": "[{\"lr\": \"x\"}]"})},
                 {"specc": json.dumps({"info": "{}", "scheduler": "[1, 2]"})}):
        save_file(tensors, "r/checkpoint.safetensors", metadata=meta)
        code, err = run(capsys, "train", "--resume", "r", "--epochs", "2")
        assert code == 1 and "r/checkpoint.safetensors" in err and "Traceback" not in err, \
            (meta, err)


def test_devices_and_pipes_are_refused_without_blocking(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.net")
    for path in ("/dev/zero", str(tmp_path / "pipe.net")):
        code, err = run(capsys, "check", path)
        assert code == 1 and "is not a regular file" in err


def test_control_characters_in_a_spec_are_shown_escaped(tmp_path, capsys):
    bad = tmp_path / "esc.net"
    bad.write_text('specc 1\nnetwork n {\n input x: f32[N, 2]\n a = "\x1b[2J" + 1\n'
                   ' output y = x |> relu\n}\n')
    code, err = run(capsys, "check", str(bad))
    assert code == 1 and "\x1b" not in err and '\\x1b[2J' in err
