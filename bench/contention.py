"""A new user's first run on a busy machine: wall time of `specc train specs/lenet5.net` (the
whole process, as typed) with one busy process per available core beside it, against the same
run with nothing added. Interleaved rounds, medians.
Last line: ratio=X (busy / quiet). Target <= 3.

    python bench/contention.py [--rounds 2] [--epochs N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPIN = "while True: pass"


def first_run(out: Path, epochs: int | None) -> float:
    cmd = [sys.executable, "-m", "specc", "train", "specs/lenet5.net", "--out", str(out)]
    cmd += ["--epochs", str(epochs)] if epochs else []
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # as a user types it
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"specc train failed:\n{r.stderr[-2000:]}")
    threads = next((ln for ln in r.stdout.splitlines() if ln.startswith("threads:")), "")
    print(f"    {elapsed:6.1f} s   {threads}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, help="shorter runs (default: the recipe's, 15)")
    args = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    times: dict[str, list[float]] = {"quiet": [], "busy": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for side in (("quiet", "busy") if r % 2 == 0 else ("busy", "quiet")):
                print(f"round {r + 1}, {side}" + (f" ({cores} busy processes)"
                                                  if side == "busy" else ""))
                spinners = [subprocess.Popen([sys.executable, "-c", SPIN])
                            for _ in range(cores if side == "busy" else 0)]
                try:
                    time.sleep(0.5 if spinners else 0)
                    times[side].append(first_run(Path(tmp) / f"{side}{r}", args.epochs))
                finally:
                    for s in spinners:
                        s.kill()
                        s.wait()
    quiet, busy = statistics.median(times["quiet"]), statistics.median(times["busy"])
    print(f"first run: quiet {quiet:.1f} s, with {cores} busy processes {busy:.1f} s "
          f"(load average now {os.getloadavg()[0]:.1f})")
    print(f"ratio={busy / quiet:.2f}")


if __name__ == "__main__":
    main()
