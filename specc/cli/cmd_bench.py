"""`specc bench MODEL.onnx | FILE[:NET]`: latency percentiles and throughput over batch sizes,
onnxruntime and torch eager side by side, interleaved in one process."""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..compile.pipeline import split_target
from ..network import load
from .common import count, int_list, positive_int, threads


EXAMPLES = """\
examples:
  specc bench specs/resnet.net:resnet18 --batch-sizes 1,8
  specc bench r50.onnx --iters 50 --threads 2      torch runs too: the model carries its spec

Each row: latency percentiles of single runs and the throughput they imply (batch / p50);
onnxruntime and torch eager are interleaved in one process, so compare within a table.
"""


def add_arguments(p) -> None:
    p.add_argument("target", metavar="MODEL.onnx|FILE[:NET]",
                   help="an exported model, or a spec (exported to a temporary file first)")
    p.add_argument("--batch-sizes", type=int_list, default=[1, 8],
                   help="comma-separated (default 1,8)")
    p.add_argument("--iters", type=positive_int, default=30,
                   help="timed runs per batch size (default 30)")
    p.add_argument("--warmup", type=count, default=3,
                   help="untimed runs first, per batch size (default 3)")
    p.add_argument("--provider", default="auto", help="auto (default), cuda, tensorrt or cpu")
    p.add_argument("--threads", type=threads, default=None,
                   help="threads for both engines (default: as `specc train` chooses, from "
                   "the CPUs this process may use less those other processes keep busy; "
                   "0: each engine's own default, one per core)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    import torch

    from ..backends.ort import open_session
    from ..runtime.model import metadata, read_model
    sizes = args.batch_sizes
    if args.threads is None:  # both engines get the same, load-aware count
        from ..train.threads import plan
        args.threads = plan().threads
    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = None
    if args.target.endswith(".onnx"):
        model_path = args.target
        from ..runtime.embedded import load_embedded
        net = load_embedded(metadata(read_model(model_path)))  # the spec travels in the model
    else:
        path, name = split_target(args.target)
        net = load(path, name)
        tmp = tempfile.TemporaryDirectory()
        model_path = str(Path(tmp.name) / f"{net.name}.onnx")
        net.to_onnx(model_path, verify=False)
    sess, provider, note = open_session(model_path, args.provider, args.threads)
    module = net.to_torch(seed=0).eval() if net is not None else None
    inp = sess.get_inputs()[0]
    fixed = metadata(read_model(model_path)).get("specc.sizes", {})  # H, W of symbolic sizes
    rows = []
    from tqdm import tqdm
    engines = 2 if module is not None else 1
    with tqdm(total=len(sizes) * (args.warmup + args.iters) * engines, unit="run",
              desc="benchmarking", file=sys.stderr, disable=None, leave=False) as bar:
        for batch in sizes:
            shape = [d if isinstance(d, int) else fixed.get(d, batch) for d in inp.shape]
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            bar.set_postfix_str(f"batch {batch}")
            rows += measure(sess, module, inp.name, x, batch, args.iters, args.warmup, provider,
                            tick=lambda: bar.update(1))
    if tmp is not None:
        tmp.cleanup()
    if args.json:
        print(json.dumps({"model": model_path if tmp is None else net.name,
                          "threads": args.threads, "sizes": fixed, "rows": rows}))
        return 0
    if note:
        print(f"note: {note}")
    if fixed:  # a model of symbolic sizes runs at the ones its spec states (or verified at)
        print("at " + ", ".join(f"{k}={v}" for k, v in fixed.items()))
    print(f"{'engine':<26} {'batch':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} "
          f"{'samples/s':>11}  (batch / p50)")
    for r in rows:
        print(f"{r['engine']:<26} {r['batch']:>5} {r['p50_ms']:>9.3f} {r['p90_ms']:>9.3f} "
              f"{r['p99_ms']:>9.3f} {r['throughput']:>11.1f}")
    if module is None:
        print("(torch rows skipped: the model carries no spec; export it with specc)")
    return 0


def measure(sess, module, name, x, batch, iters, warmup, provider, tick=lambda: None) -> list:
    """Latency percentiles of single runs; throughput is batch / p50, the typical run (a mean
    would let a few slow runs contradict the percentiles beside it)."""
    import torch
    times = {"ort": [], "torch": []}
    tx = torch.from_numpy(x)
    with torch.no_grad():
        for i in range(warmup + iters):
            t = time.perf_counter()
            sess.run(None, {name: x})
            if i >= warmup:
                times["ort"].append(time.perf_counter() - t)
            tick()
            if module is not None:
                t = time.perf_counter()
                module(tx)
                if i >= warmup:
                    times["torch"].append(time.perf_counter() - t)
                tick()
    rows = []
    for engine, ts in times.items():
        if not ts:
            continue
        ms = np.array(ts) * 1000
        label = f"onnxruntime ({provider.replace('ExecutionProvider', '')})" \
            if engine == "ort" else "torch eager (cpu)"
        p50 = float(np.percentile(ms, 50))
        rows.append({"engine": label, "batch": batch, "p50_ms": p50,
                     "p90_ms": float(np.percentile(ms, 90)), "p99_ms": float(np.percentile(ms, 99)),
                     "mean_ms": float(ms.mean()), "throughput": batch * 1000 / p50})
    return rows
