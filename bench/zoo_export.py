"""A verified `specc export` with fresh weights costs what the network's size says, for every
bundled network: each `specc export FILE:NET -o X.onnx` (compile, draw the weights, emit,
verify against onnxruntime) as a whole process, against the same for ResNet-50 run between
them in one run (interleaved, so that a change of load falls on both). Verification must not
fall back to checking node by node: the fresh initialisations are the source's own (He's
fan-out, N(0, 0.02), ...), so deep networks with batch norm and stochastic depth keep their
activations in range. Each line shows the ratio, the MACs and weights against ResNet-50's,
and what verification compared. Last line: ratio=X, the worst of ratio / 3 over every
network, where a network with more MACs or weights than ResNet-50 has its ratio divided by
that factor (regnet_y_128gf has 31x its MACs: verification runs the network in torch and in
onnxruntime, and no exporter can do that in 3x ResNet-50's time; what must hold is that
nothing costs more than its arithmetic and its bytes). Target <= 1.0.

    python bench/zoo_export.py [--only NAME ...] [--families] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "specs/resnet.net:resnet50"
FAMILIES = ("resnext.net", "mnasnet.net", "regnet.net", "convnext.net", "efficientnet_v2.net",
            "swin.net", "maxvit.net")


def networks(families: bool) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from specc.compile.pipeline import local_networks
    from specc.elab import Loader, missing_params
    out = []
    for path in sorted((ROOT / "specs").glob("*.net")):
        if families and path.name not in FAMILIES:
            continue
        module = Loader().load_path(path)
        out += [f"specs/{path.name}:{name}" for name, ref in local_networks(module).items()
                if not missing_params(ref)]
    return out


def size(target: str) -> tuple[int, int]:
    import specc
    path, name = target.split(":")
    net = specc.load(ROOT / path, name)
    return net.macs, sum(p.numel for p in net.graph.params.values())


def export(target: str, out: Path) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "specc", "export", target, "-o", str(out),
                        "--json"], cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t
    out.unlink(missing_ok=True)
    if r.returncode:
        return took, "FAILED: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return took, json.loads(r.stdout.strip().splitlines()[-1])["compared"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", nargs="*", help="FILE:NET targets (default: every network)")
    p.add_argument("--families", action="store_true", help="only the newer families' specs")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    targets = args.only or networks(args.families)
    base_macs, base_weights = size(BASE)
    rows, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.onnx"
        for target in targets:
            took = []
            for _ in range(args.repeat):
                base.append(export(BASE, out)[0])
                seconds, compared = export(target, out)
                took.append(seconds)
            macs, weights = size(target)
            rows.append((target, statistics.median(took), macs / base_macs,
                         weights / base_weights, compared))
    b = statistics.median(base)
    print(f"specc export {BASE} (verified, process, fresh weights): {b:.2f} s (median of "
          f"{len(base)})")
    worst, within = 0.0, []
    for target, t, m, w, compared in sorted(rows, key=lambda r: r[1], reverse=True):
        fallback = "ill-conditioned" in compared or compared.startswith("FAILED")
        print(f"{target}: {t:.2f} s = {t / b:.2f}x resnet50 (MACs {m:.2f}x, weights {w:.2f}x)"
              f"{'  NODE BY NODE' if fallback else ''}  [{compared}]")
        worst = max(worst, float("inf") if fallback else t / b / max(1.0, m, w) / 3)
        if t / b <= 3:
            within.append(target)
    print(f"{len(within)} of {len(rows)} within 3x ResNet-50's time outright")
    print(f"ratio={worst:.2f}")


if __name__ == "__main__":
    main()
