"""`specc check` as a whole process for the deepest bundled specs, against `specc check` of an
empty network measured in the same run (start-up, imports, grammar), and whether compile time
grows linearly: `specc check` of a chain of 8,000 `relu(linear(h, 64))` layers against one of
1,000, as processes (what a user waits for; the in-process compile time is printed too).
Last line: ratio=X, the worst of (spec check time / 2 x empty check time) and
(8,000-layer time / 8 x 1,000-layer time). Target <= 1.0.

Every compile stage is linear in the nodes (no per-node scan of the graph). The in-process
time still grows 10-12x for 8x the layers on a 2-core machine: a loop over 16,000 nodes that
were allocated among everything else elaboration makes misses the CPU caches (dead-code
elimination, one pass over the nodes, grows like that too).

    python bench/check_speed.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ["specs/resnet.net:resnet152", "specs/vit.net:vit_b_16", "specs/densenet.net:densenet201",
           "specs/vit.net:vit_l_16"]
EMPTY = "specc 1\nnetwork empty {\n input x: f32[N, 4]\n output y = x\n}\n"
CHAIN = ("specc 1\nnetwork deep(depth: int = {n}) {{\n input x: f32[N, 64]\n h = x\n"
         " for i in range(depth) {{\n  h = relu(linear(h, 64))\n }}\n output y = h\n}}\n")


def wall(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "specc", "check", *args], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def in_process(path: Path, repeat: int) -> float:
    """The fastest of `repeat` loads: on a shared machine the minimum is the least noisy."""
    import specc
    specc.load(path)  # warm: grammar, imports
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        specc.load(path)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.net"
        empty.write_text(EMPTY)
        base = wall([str(empty)], args.repeat)
        print(f"specc check of an empty network (process): {base * 1000:.0f} ms")
        ratios = []
        for target in TARGETS:
            t = wall([target], args.repeat)
            ratios.append(t / (2 * base))
            print(f"specc check {target} (process): {t * 1000:.0f} ms   "
                  f"{t / base:.2f}x the empty network")
        chains, inside = {}, {}
        for n in (1000, 8000):
            path = Path(tmp) / f"chain{n}.net"
            path.write_text(CHAIN.format(n=n))
            chains[n] = wall([str(path)], args.repeat)
            inside[n] = in_process(path, max(3, args.repeat // 2))
        growth = chains[8000] / chains[1000]
        ratios.append(growth / 8)
        print(f"specc check of a chain of 1,000 layers {chains[1000] * 1000:.0f} ms, of 8,000 "
              f"layers {chains[8000] * 1000:.0f} ms (process): {growth:.2f}x (linear is 8x)")
        print(f"  in-process compile: {inside[1000] * 1000:.0f} ms and {inside[8000] * 1000:.0f} "
              f"ms, {inside[8000] / inside[1000]:.2f}x")
    print(f"ratio={max(ratios):.2f}")


if __name__ == "__main__":
    main()
