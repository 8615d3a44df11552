"""ONNX's conformance tests against specc's import, written to docs/conformance.md.

    python tools/conformance.py                 both variants, in two processes
    python tools/conformance.py --jobs 1        one after the other
    python tools/conformance.py --variant torch --pattern '^test_relu'   a look at some tests

Drives onnx.backend.test.BackendTest over every node test the installed onnx generates and
its nine `light` models, with specc as the backend: the torch variant (import -> torch
module) and the onnxruntime variant (import -> specc's ONNX export -> onnxruntime). The
onnx version is pinned in pyproject.toml's test extra, so the counts are reproducible."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.importer import conformance  # noqa: E402


def _one(variant: str, pattern: str | None, out: Path) -> None:
    report = conformance.run(variant, pattern)
    out.write_text(json.dumps(conformance.to_json(report)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=("both",) + conformance.VARIANTS, default="both")
    ap.add_argument("--pattern", help="only the tests whose names match this regex (then the "
                    "document is not written)")
    ap.add_argument("--jobs", type=int, default=2, help="variants run at once (default 2)")
    ap.add_argument("--worker", nargs=2, metavar=("VARIANT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _one(args.worker[0], args.pattern, Path(args.worker[1]))
        return 0
    variants = conformance.VARIANTS if args.variant == "both" else (args.variant,)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outs = {v: Path(tmp) / f"{v}.json" for v in variants}
        procs = []
        for v in variants:
            cmd = [sys.executable, __file__, "--worker", v, str(outs[v])]
            if args.pattern:
                cmd += ["--pattern", args.pattern]
            procs.append(subprocess.Popen(cmd))
            if args.jobs < 2:
                procs[-1].wait()
        if any(p.wait() for p in procs):
            return 1
        reports = [conformance.from_json(json.loads(outs[v].read_text())) for v in variants]
    seconds = time.perf_counter() - start
    for r in reports:
        s = conformance.summary(r)
        print(f"{r.variant}: {s['ops']} mapped ops, {s['tests']} node tests: {s['passed']} "
              f"passed, {s['failed']} failed, {s['refused']} refused, {s['skipped']} skipped; "
              f"{100 * s['rate']:.1f} % of those run, {100 * s['rate_all']:.1f} % with the "
              f"refused ({r.seconds:.0f} s)")
    print(f"all in {seconds:.0f} s")
    if args.pattern or args.variant != "both":
        return 0
    doc = ROOT / "docs" / "conformance.md"
    doc.write_text(conformance.markdown(reports, seconds))
    print(f"wrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
