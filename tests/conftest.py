"""Shared fixtures, and the suite's time budget.

The whole suite (`python -m pytest`: one xdist worker per CPU, worksteal) must stay under
~9 minutes on 2 shared cores; README.md states what it measured. To keep a new test lean:
- Run a command in-process (`run_main(...)` or the `cli` fixture) unless the test is about
  the process itself (environment variables, signals, start-up imports, a real exit status):
  each `python -m specc` costs 2-5 s of interpreter start and imports here.
- Small networks, few steps, small data made in the test; a large network only where its size
  is what is checked (and then one representative, not every preset).
- Work two tests need (a trained run, an export, every bundled network elaborated) is made
  once: a module- or session-scoped fixture (e.g. `zoo_rows_once`), not again in each test.
- Hypothesis: a fuzzer's case count is stated in README.md (150); keep each case cheap rather
  than cutting cases. A figure to measure belongs under bench/, never a timed assertion.
- Check with `pytest --durations=20 tests/test_yours.py`: a test over ~10 s here needs a reason.
"""
import copy
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc
import specc.tools.zoo


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker per CPU this process may run on (its affinity mask), not the
    host's core count that psutil reports inside a container."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true",
                     help="also run the 10,000-case fuzzers (marked fuzz_long; not in CI)")
    parser.addoption("--parity-long", action="store_true",
                     help="also run torchvision parity for every preset of the newer families "
                          "(marked parity_long; not in CI: 15 minutes, 6 GB)")
    parser.addoption("--seeds-long", action="store_true",
                     help="also run the demonstrations' claims over every seed (marked "
                          "seeds_long; not in CI: CI checks seed 0)")


LONG = {"fuzz_long": ("--fuzz-long", "10,000 cases"),
        "parity_long": ("--parity-long", "every preset's torchvision parity"),
        "seeds_long": ("--seeds-long", "a demonstration's claim over every seed")}


def pytest_collection_modifyitems(config, items):
    for marker, (option, what) in LONG.items():
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"{what}: run with  pytest {option} -m {marker}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@pytest.fixture
def write_spec(tmp_path):
    """Write a .net file (a version header is added) and return its path."""
    def write(text: str, name: str = "t.net") -> Path:
        path = tmp_path / name
        path.write_text(text if text.startswith("specc") else "specc 1\n" + text)
        return path
    return write


@pytest.fixture
def load_spec(write_spec):
    def load(text: str, network: str | None = None):
        return specc.load(write_spec(text), network)
    return load


@pytest.fixture
def spec_error(write_spec, monkeypatch, tmp_path):
    """The rendered error of a spec, with paths shown relative to its folder."""
    def error(text: str, network: str | None = None) -> str:
        path = write_spec(text)
        monkeypatch.chdir(tmp_path)
        with pytest.raises(specc.SpeccError) as info:
            specc.load(path.name, network)
        return info.value.render()
    return error


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run `python -m specc ARGS` as a user would; returns CompletedProcess (text)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "specc", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def run_main(*args, cwd=None):
    """`specc ARGS` inside this process, as `run_cli` runs it (in ROOT unless told): the CLI's
    own main and its one error boundary, without an interpreter start (~2-5 s here, most of a
    small command). Use it wherever the test is not about the process (its environment,
    signals, start-up imports, the real exit status). A CompletedProcess with the exit code
    and what went to stdout and stderr."""
    import contextlib
    import io
    from specc.cli.main import main
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:  # the folder, and a command's thread plan (train, bench), stay with the command
        os.chdir(here)
        if threads is not None:
            torch.set_num_threads(threads)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(capsys):
    """`specc ARGS` inside the test's process (no interpreter start, no imports again):
    a CompletedProcess with the exit code and what went to stdout and stderr."""
    def run(*args):
        from specc.cli.main import main
        torch = sys.modules.get("torch")
        threads = torch.get_num_threads() if torch else None
        try:
            code = main([str(a) for a in args])
        finally:  # a command's thread plan (train, bench) stays with the command
            if threads is not None:
                torch.set_num_threads(threads)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)
    return run


@functools.cache
def _zoo_rows(real=specc.tools.zoo.zoo_rows):
    return real()


@pytest.fixture
def zoo_rows_once(monkeypatch):
    """`specc zoo` elaborates every bundled network (~6 s of CPU); its rows depend on the
    bundled specs alone, so a worker computes them once (for real) and each `zoo` in this test
    (its argument parsing, table and JSON) prints a copy."""
    monkeypatch.setattr(specc.tools.zoo, "zoo_rows", lambda: copy.deepcopy(_zoo_rows()))
