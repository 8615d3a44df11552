"""The CLI teaches itself: golden --help texts with examples, every flag described, "did you
mean" for commands, shell completion generated from the parser.
Regenerate the help texts after an intended change with SPECC_UPDATE_GOLDEN=1."""
import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from specc.cli.main import COMMANDS, build_parser

HELP = Path(__file__).parent / "golden" / "help"
WIDTH = {"COLUMNS": "100"}  # argparse wraps to the terminal; goldens are written at 100


@pytest.mark.parametrize("command", ["specc"] + list(COMMANDS))
def test_golden_help(command):
    args = ["--help"] if command == "specc" else [command, "--help"]
    r = run_cli(*args, env=WIDTH)
    assert r.returncode == 0, r.stderr
    golden = HELP / f"{command}.txt"
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(r.stdout)
    assert r.stdout == golden.read_text()
    assert "examples:" in r.stdout


def _actions(parser, name="specc"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _actions(child, child_name)
        else:
            yield name, action


def test_every_flag_and_argument_is_described():
    undocumented = [(name, a.option_strings or a.dest) for name, a in _actions(build_parser())
                    if not a.help]
    assert undocumented == []


def test_did_you_mean_a_command():
    r = run_cli("trian", "specs/lenet5.net")
    assert r.returncode == 2
    assert "invalid choice: 'trian' (did you mean 'train'?)" in r.stderr
    r = run_cli("completion", "bsh")
    assert r.returncode == 2 and "(did you mean 'bash'?)" in r.stderr


def test_did_you_mean_a_data_set():
    r = run_cli("train", "specs/lenet5.net", "--data", "digit", "--out", "/nonexistent/run")
    assert r.returncode == 1 and "unknown data set 'digit' (did you mean 'digits'?)" in r.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell, tmp_path):
    r = run_cli("completion", shell)
    assert r.returncode == 0, r.stderr
    script = r.stdout
    for word in ("check", "train", "fmt", "graph", "--batch-size", "--top-k", "--set"):
        assert word in script, word
    exe = shutil.which(shell)
    if exe is None:
        return  # bash is everywhere; zsh and fish are checked where installed
    path = tmp_path / f"specc.{shell}"
    path.write_text(script)
    check = {"bash": [exe, "-n", path], "zsh": [exe, "-n", path], "fish": [exe, "-n", path]}
    assert subprocess.run(check[shell], capture_output=True).returncode == 0


def test_bash_completion_completes_commands_and_flags(tmp_path):
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    path = tmp_path / "specc.bash"
    path.write_text(run_cli("completion", "bash").stdout)
    probe = (f"source {path}; "
             "COMP_WORDS=(specc tr); COMP_CWORD=1; COMP_LINE='specc tr'; COMP_POINT=8; "
             "_shtab_specc; echo \"${COMPREPLY[@]}\"; "
             "COMP_WORDS=(specc run model.onnx --to); COMP_CWORD=3; "
             "COMP_LINE='specc run model.onnx --to'; COMP_POINT=25; "
             "_shtab_specc; echo \"${COMPREPLY[@]}\"")
    r = subprocess.run([bash, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    first, second = r.stdout.splitlines()[:2]
    assert first.split() == ["train"] and "--top-k" in second.split(), r.stderr


def test_train_help_names_every_data_set():
    """The --data help is written out by hand (building the parser must not import torch);
    it must not fall behind the registry."""
    from specc import tasks  # noqa: F401  (the demonstrations' data sets)
    from specc.data.registry import dataset_names
    text = " ".join(next(a.help for name, a in _actions(build_parser())
                         if name == "train" and "--data" in a.option_strings).split())
    missing = [d for d in dataset_names() if d not in re.findall(r"[a-z0-9_]+", text)]
    assert missing == []
