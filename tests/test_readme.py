"""README's tour runs verbatim, after the main command (which leaves runs/lenet5 behind)."""
import shlex
import shutil

import pytest

from conftest import ROOT, SPECS, run_cli


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    return [line[2:] for line in block.splitlines() if line.startswith("$ specc ")]


def test_the_tour_lists_the_commands_a_user_meets():
    words = {shlex.split(c)[1] for c in tour_commands()}
    assert {"check", "train", "export", "run", "bench", "graph", "fmt", "zoo"} <= words


@pytest.mark.slow
def test_the_tour_runs_verbatim_after_the_main_command(tmp_path):
    shutil.copytree(SPECS, tmp_path / "specs")
    main_run = tmp_path / "runs" / "lenet5"  # what `specc train specs/lenet5.net` leaves
    main_run.mkdir(parents=True)
    (main_run / "config.json").write_text("{}")
    for command in tour_commands():
        r = run_cli(*shlex.split(command)[1:], cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
        assert r.returncode == 0, (command, r.stderr[-2000:])


def test_the_tour_shows_what_fmt_check_prints_today():
    """The tour's `specc fmt --check specs/` line names how many specs ship; it went stale
    (11 of 24) as the zoo grew."""
    r = run_cli("fmt", "--check", "specs/", env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    shown = (r.stdout + r.stderr).strip().splitlines()[-1]
    assert shown.startswith("0 files would be reformatted, ")
    assert f"$ specc fmt --check specs/\n{shown}\n" in (ROOT / "README.md").read_text()
