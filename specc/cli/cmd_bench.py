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
    p.add_argument("--dim", action="append", default=[], metavar="SYMBOL=SIZE",
                   help="the size of a symbolic dim other than the batch (a model's "
                   "sequence length, say; repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _dims(args) -> dict[str, int]:
    from .main import UsageError
    out = {}
    for text in args.dim:
        name, sep, size = text.partition("=")
        if not sep or not name.strip() or not size.strip().isdigit() or int(size) < 1:
            raise UsageError(f"--dim expects SYMBOL=SIZE such as seq=128, got {text!r}")
        out[name.strip()] = int(size)
    return out


def feeds_for(sess, batch: int, dims: dict[str, int]) -> dict:
    """Seeded inputs for every input of a session: the first symbolic dim is the batch, the
    others come from --dim; floats are normal, integers 0 (a valid index), bools random."""
    from ..core.diagnostics import SpeccError
    rng = np.random.default_rng(0)
    out = {}
    for inp in sess.get_inputs():
        shape, batched = [], False
        for d in inp.shape:
            if isinstance(d, int) and d > 0:
                shape.append(d)
            elif not batched and not shape:
                shape.append(batch)
                batched = True
            elif isinstance(d, str) and d in dims:
                shape.append(dims[d])
            else:
                raise SpeccError(f"input '{inp.name}' has the symbolic dim '{d}' besides the "
                                 f"batch; give its size with --dim {d}=SIZE")
        kind = inp.type  # 'tensor(float)'
        if "float" in kind or "double" in kind:
            dtype = {"tensor(float16)": np.float16, "tensor(double)": np.float64}.get(
                kind, np.float32)
            out[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif kind == "tensor(bool)":
            out[inp.name] = rng.random(shape) < 0.5
        else:
            out[inp.name] = np.zeros(shape, dtype=np.dtype(kind[len("tensor("):-1]))
    return out


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
    tmp, note_foreign, weights = None, None, None
    if args.target.endswith(".onnx"):
        model_path = args.target
        from ..runtime.embedded import load_embedded
        model = read_model(model_path)  # the spec travels in the model, checked against it
        net = load_embedded(metadata(model), model, model_path)
        if net is None:  # a model from elsewhere: imported, so torch runs it too
            net, weights, note_foreign = _imported(model_path)
    else:
        path, name = split_target(args.target)
        net = load(path, name)
        tmp = tempfile.TemporaryDirectory()
        model_path = str(Path(tmp.name) / f"{net.name}.onnx")
        net.to_onnx(model_path, verify=False)
    sess, provider, note = open_session(model_path, args.provider, args.threads)
    module = net.to_torch(seed=0).eval() if net is not None else None
    if module is not None and weights is not None:
        from ..backends.torch_module import load_state
        load_state(module, weights, model_path)
    fixed = metadata(read_model(model_path)).get("specc.sizes", {})  # H, W of symbolic sizes
    dims = {**fixed, **_dims(args)}
    rows = []
    from tqdm import tqdm
    engines = 2 if module is not None else 1
    with tqdm(total=len(sizes) * (args.warmup + args.iters) * engines, unit="run",
              desc="benchmarking", file=sys.stderr, disable=None, leave=False) as bar:
        for batch in sizes:
            feeds = feeds_for(sess, batch, dims)
            bar.set_postfix_str(f"batch {batch}")
            rows += measure(sess, module, feeds, batch, args.iters, args.warmup, provider,
                            tick=lambda: bar.update(1))
    if tmp is not None:
        tmp.cleanup()
    if args.json:
        print(json.dumps({"model": model_path if tmp is None else net.name,
                          "threads": args.threads, "sizes": fixed, "rows": rows,
                          "foreign": note_foreign}))
        return 0
    if note:
        print(f"note: {note}")
    if note_foreign:
        print(f"note: {note_foreign}")
    if fixed:  # a model of symbolic sizes runs at the ones its spec states (or verified at)
        print("at " + ", ".join(f"{k}={v}" for k, v in fixed.items()))
    print(f"{'engine':<26} {'batch':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} "
          f"{'samples/s':>11}  (batch / p50)")
    for r in rows:
        print(f"{r['engine']:<26} {r['batch']:>5} {r['p50_ms']:>9.3f} {r['p90_ms']:>9.3f} "
              f"{r['p99_ms']:>9.3f} {r['throughput']:>11.1f}")
    if module is None:
        print("(torch rows skipped: the model carries no spec and specc cannot import it)")
    return 0


def _imported(model_path: str):
    """(network, weights, note) for a model specc did not write: imported in memory, or
    (None, None, why not)."""
    from ..core.diagnostics import SpeccError
    from ..importer import import_graph, load_imported, open_model
    try:
        imported = import_graph(open_model(model_path), "model")
        net, weights = load_imported(imported)
    except SpeccError as e:
        first = e.message.splitlines()[0]
        return None, None, (f"{model_path} was not written by specc and does not import "
                            f"({first}); onnxruntime only")
    return net, weights, (f"{model_path} was not written by specc: torch runs the network "
                          "`specc import` reads from it")


def measure(sess, module, feeds, batch, iters, warmup, provider, tick=lambda: None) -> list:
    """Latency percentiles of single runs; throughput is batch / p50, the typical run (a mean
    would let a few slow runs contradict the percentiles beside it)."""
    import torch
    times = {"ort": [], "torch": []}
    names = [i.name for i in sess.get_inputs()]
    args = [torch.from_numpy(feeds[n]) for n in names]
    with torch.no_grad():
        for i in range(warmup + iters):
            t = time.perf_counter()
            sess.run(None, feeds)
            if i >= warmup:
                times["ort"].append(time.perf_counter() - t)
            tick()
            if module is not None:
                t = time.perf_counter()
                module(*args)
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
