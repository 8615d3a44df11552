"""`specc check` as a whole process for every bundled network (`--all`; by default the
deepest ones and the largest of each newer family), against `specc check` of an empty network
measured in the same run and interleaved with them (start-up, imports, grammar), and whether
compile time grows linearly: `specc check` of a chain of 8,000 `relu(linear(h, 64))` layers
against one of 1,000, as processes (what a user waits for; the in-process compile time is
printed too). Last line: ratio=X, the worst of (spec check time / 2 x empty check time),
(8,000-layer time / 8 x 1,000-layer time) for the processes and for the in-process compile.
Target <= 1.0.

Every compile stage is linear in the nodes (no per-node scan of the graph): in CPU time the
in-process compile of 8,000 layers takes 7.4-8.3x that of 1,000 (elaboration 7.7x, verify
8.0x, dead-code elimination 7.7x). Wall-clock minima said 10-13x on this shared 2-core machine:
the fastest of a few 60 ms runs lands in a quiet moment far more often than the fastest of a
few 500 ms runs does. So the in-process figure is CPU time (time.process_time: compiling is
one thread), the sizes interleaved, the median taken, and it counts in the ratio too.

    python bench/check_speed.py [--repeat 7] [--all | FILE:NET ...]
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
           "specs/vit.net:vit_l_16", "specs/swin.net:swin_t", "specs/swin.net:swin_v2_b",
           "specs/maxvit.net:maxvit_t", "specs/efficientnet_v2.net:efficientnet_v2_l",
           "specs/regnet.net:regnet_y_128gf", "specs/convnext.net:convnext_large",
           "specs/resnext.net:wide_resnet101_2", "specs/mnasnet.net:mnasnet1_3",
           # dense prediction at open sizes: MACs and shapes are formulas in H, W
           "specs/segmentation.net:deeplabv3_resnet101", "specs/segmentation.net:fcn_resnet101",
           "specs/segmentation.net:deeplabv3_mobilenet_v3_large",
           "specs/segmentation.net:lraspp_mobilenet_v3_large", "specs/unet.net:unet_paper",
           "specs/unet.net:unet_padded"]


def every_network() -> list[str]:
    """FILE:NET for every complete network of every bundled spec."""
    sys.path.insert(0, str(ROOT))
    from specc.compile.pipeline import local_networks
    from specc.elab import Loader, missing_params
    out = []
    for path in sorted((ROOT / "specs").glob("*.net")):
        module = Loader().load_path(path)
        out += [f"specs/{path.name}:{name}" for name, ref in local_networks(module).items()
                if not missing_params(ref)]
    return out
EMPTY = "specc 1\nnetwork empty {\n input x: f32[N, 4]\n output y = x\n}\n"
CHAIN = ("specc 1\nnetwork deep(depth: int = {n}) {{\n input x: f32[N, 64]\n h = x\n"
         " for i in range(depth) {{\n  h = relu(linear(h, 64))\n }}\n output y = h\n}}\n")


def once(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "specc", "check", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def wall(args: list[str], repeat: int) -> float:
    return statistics.median(once(args) for _ in range(repeat))


def against_empty(targets: list[str], empty: str, repeat: int) -> tuple[float, dict]:
    """Median seconds of the empty network and of each target, each round running the empty
    network between the targets, so that a change of the machine's load falls on both."""
    base, times = [], {t: [] for t in targets}
    for _ in range(repeat):
        for i, target in enumerate(targets):
            if i % 4 == 0:
                base.append(once([empty]))
            times[target].append(once([target]))
    return statistics.median(base), {t: statistics.median(v) for t, v in times.items()}


def in_process(paths: dict[int, Path], repeat: int) -> dict[int, float]:
    """The median CPU time of `repeat` in-process loads of each file, interleaved (after one
    warm load of each: grammar, imports, a heap as large as the largest needs)."""
    import specc
    for path in paths.values():
        specc.load(path)
    times: dict[int, list[float]] = {n: [] for n in paths}
    order = list(paths)
    for i in range(repeat):
        for n in order if i % 2 else order[::-1]:
            t = time.process_time()
            specc.load(paths[n])
            times[n].append(time.process_time() - t)
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--all", action="store_true", help="every bundled network (~130)")
    p.add_argument("targets", nargs="*", metavar="FILE:NET", help="these networks instead")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    targets = args.targets or (every_network() if args.all else TARGETS)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.net"
        empty.write_text(EMPTY)
        base, times = against_empty(targets, str(empty), args.repeat)
        print(f"specc check of an empty network (process): {base * 1000:.0f} ms")
        ratios = []
        for target in sorted(targets, key=times.get, reverse=True):
            t = times[target]
            ratios.append(t / (2 * base))
            print(f"specc check {target} (process): {t * 1000:.0f} ms   "
                  f"{t / base:.2f}x the empty network")
        chains, paths = {}, {}
        for n in (1000, 8000):
            paths[n] = Path(tmp) / f"chain{n}.net"
            paths[n].write_text(CHAIN.format(n=n))
            chains[n] = wall([str(paths[n])], args.repeat)
        inside = in_process(paths, max(5, args.repeat))
        growth, scaling = chains[8000] / chains[1000], inside[8000] / inside[1000]
        ratios += [growth / 8, scaling / 8]
        print(f"specc check of a chain of 1,000 layers {chains[1000] * 1000:.0f} ms, of 8,000 "
              f"layers {chains[8000] * 1000:.0f} ms (process): {growth:.2f}x (linear is 8x)")
        print(f"  in-process compile (CPU time): {inside[1000] * 1000:.0f} ms and "
              f"{inside[8000] * 1000:.0f} ms: scaling {scaling:.2f}x (linear is 8x)")
    print(f"ratio={max(ratios):.2f}")


if __name__ == "__main__":
    main()
