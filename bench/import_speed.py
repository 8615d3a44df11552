"""`specc import` of ResNet-152 (a 240 MB ONNX file written by `specc export`) as a whole
process, against `onnx.load` + `onnx.checker.check_model` of the same file as a whole process,
interleaved in one run; and the import's peak memory against the file's size.

Each process's peak resident memory comes from the kernel's accounting of that child
(os.wait4's rusage): the import reads the protobuf field by field and streams each weight
from the file into the safetensors it writes, so its peak stays below 2x the file.
Last line: ratio=X, the worse of (import time / 2 x baseline time) and (import peak RSS /
2 x file size). Target <= 1.0.

    python bench/import_speed.py [--repeat 5] [--keep DIR]
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
BASELINE = ("import sys, onnx\n"
            "m = onnx.load(sys.argv[1])\n"
            "onnx.checker.check_model(m)\n")


def child(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in bytes) of one process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr.read().decode()[-2000:]}")
    p.stderr.close()
    return seconds, usage.ru_maxrss * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", help="a folder to keep the ONNX file in (made once)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="specc-import-bench-")
    folder = Path(args.keep or tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "resnet152.onnx"
    if not model.exists():
        subprocess.run([sys.executable, "-m", "specc", "export", "specs/resnet.net:resnet152",
                        "-o", str(model), "--no-verify"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    size = model.stat().st_size
    base_cmd = [sys.executable, "-c", BASELINE, str(model)]
    import_cmd = [sys.executable, "-m", "specc", "import", str(model), "-o",
                  str(folder / "resnet152_imported.net")]
    times = {"baseline": [], "import": []}
    peaks = {"baseline": [], "import": []}
    for i in range(args.repeat):  # interleaved, the order alternating
        order = [("baseline", base_cmd), ("import", import_cmd)]
        for name, cmd in order if i % 2 else order[::-1]:
            seconds, peak = child(cmd, ROOT)
            times[name].append(seconds)
            peaks[name].append(peak)
    base, imp = statistics.median(times["baseline"]), statistics.median(times["import"])
    peak = max(peaks["import"])
    print(f"file: {model.name}, {size / 1e6:.0f} MB")
    print(f"onnx.load + check_model (process): median {base:.2f} s of {args.repeat}, "
          f"peak RSS {max(peaks['baseline']) / 1e6:.0f} MB")
    print(f"specc import (process):             median {imp:.2f} s of {args.repeat}, "
          f"peak RSS {peak / 1e6:.0f} MB ({peak / size:.2f}x the file)")
    print(f"import / baseline: {imp / base:.2f}")
    ratio = max(imp / (2 * base), peak / (2 * size))
    print(f"ratio={ratio:.2f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
