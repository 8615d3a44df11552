"""Export -> import -> export for bundled networks: the same node count and equal outputs.

    python tools/roundtrip.py                      every network of every bundled spec
    python tools/roundtrip.py specs/resnet.net:resnet50 specs/vgg.net

Each network is exported in memory with seeded weights, imported back into a spec, exported
again, and both models run in onnxruntime on the same seeded input; it prints the node counts
and the largest relative difference of the outputs."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.importer.roundtrip import roundtrip  # noqa: E402


def targets(args) -> list:
    if not args:
        args = sorted(str(p) for p in (ROOT / "specs").glob("*.net"))
    out = []
    for a in args:
        path, _, name = a.partition(":")
        nets = specc.load_all(path) if not name else [(name, specc.load(path, name), "")]
        out += [(Path(path).name, n, net) for n, net, why in nets if net is not None]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("targets", nargs="*", help="FILE or FILE:NET (default: every bundled spec)")
    p.add_argument("--max-params", type=int, default=30_000_000,
                   help="skip networks with more parameters (default 3e7)")
    args = p.parse_args()
    failed = 0
    for spec, name, net in targets(args.targets):
        if net.params > args.max_params:
            print(f"{spec:20s} {name:22s} skipped ({net.params:,} parameters)")
            continue
        t = time.perf_counter()
        try:
            r = roundtrip(net)
        except Exception as e:  # noqa: BLE001 - report and go on
            failed += 1
            lines = str(e).splitlines()
            print(f"{spec:20s} {name:22s} FAILED {type(e).__name__}: {lines[0][:200]}"
                  + "".join(f"\n{' ' * 44}{line.strip()[:150]}" for line in lines[1:4]))
            continue
        failed += not r.ok
        print(f"{spec:20s} {name:22s} nodes {r.nodes[0]:5d} -> {r.nodes[1]:5d}  "
              f"rel {r.rel:.1e}  {'ok' if r.ok else 'DIFFERS'}  "
              f"{len(r.text.splitlines())} lines  {time.perf_counter() - t:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
