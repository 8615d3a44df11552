"""`specc check specs/resnet.net:resnet152` as a whole process, against the bare start-up of
the same Python (`python -c pass`) measured in the same run; and the in-process parse +
elaborate time of the largest bundled spec. Last line: ratio=X (check process time / the
0.5 s budget). Target <= 1.0.

    python bench/check_speed.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 0.5


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    check = wall([sys.executable, "-m", "specc", "check", "specs/resnet.net:resnet152"], args.repeat)
    bare = wall([sys.executable, "-c", "pass"], args.repeat)
    sys.path.insert(0, str(ROOT))
    import specc
    timings = {}
    for spec in sorted((ROOT / "specs").glob("*.net")):
        specc.load_all(spec)  # warm: grammar and imports
        t = time.perf_counter()
        for _ in range(args.repeat):
            specc.load_all(spec)
        timings[spec.name] = (time.perf_counter() - t) / args.repeat
    largest = max(timings, key=timings.get)
    inproc = timings[largest]
    print(f"specc check resnet152 (process): {check * 1000:.0f} ms   python start-up: "
          f"{bare * 1000:.0f} ms   (check - start-up: {(check - bare) * 1000:.0f} ms)")
    print(f"parse + elaborate every network of {largest} in-process (the slowest spec): {inproc * 1000:.0f} ms")
    print(f"ratio={check / BUDGET_S:.2f}")


if __name__ == "__main__":
    main()
