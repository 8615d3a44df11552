"""`specc predict MODEL.onnx --data SOURCE --out PREDICTIONS`: one row per sample of a data
source, streamed, resumable, on this machine or a Ray cluster."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import batch_size, ensure_parent, int_at_least, output_file, positive_float, \
    positive_int, threads

EXAMPLES = """\
examples:
  specc predict lenet5.onnx --data photos/ --out preds.parquet
  specc predict r50.onnx --data imagefolder:/data/val --out val.csv --top-k 5 --logits
  specc predict r50.onnx --data webdataset:/shards --out p.jsonl --resume    after a kill
  specc predict r50.onnx --data /shared/images --out p.parquet --ray HEAD:6379 \\
      --ray-workers 16 --gpus-per-worker 1

Sources: a folder of images (fitted as `specc run IMAGE` fits them), a .npy array,
imagefolder:PATH or webdataset:PATH (through the model's evaluation transform, as
`specc run --data`). Rows go out in checkpointed chunks; --resume continues a killed job
with no row written twice.
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="a model written by specc export")
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="a folder of images, FILE.npy, imagefolder:PATH or webdataset:PATH")
    p.add_argument("--out", required=True, type=output_file, metavar="PREDICTIONS",
                   help="the rows: .parquet, .csv or .jsonl")
    p.add_argument("--format", choices=("parquet", "csv", "jsonl"),
                   help="the output's format (default: from its suffix)")
    p.add_argument("--top-k", type=positive_int, default=None,
                   help="classes per row (default 5); a detector's boxes per image (default all)")
    p.add_argument("--logits", action="store_true", help="also write the raw outputs")
    p.add_argument("--batch-size", type=batch_size, default=64, help="samples per run "
                   "(default 64)")
    p.add_argument("--chunk", type=positive_int, default=4096, metavar="ROWS",
                   help="rows per checkpoint (default 4096): a killed job loses at most these")
    p.add_argument("--workers", type=int_at_least(0, 256), help="DataLoader workers (default: "
                   "from the CPUs free here)")
    p.add_argument("--sessions", type=int_at_least(1, 64), default=1,
                   help="onnxruntime sessions run in parallel threads (default 1)")
    p.add_argument("--threads", type=threads, help="onnxruntime threads in all (default: as "
                   "`specc train` chooses)")
    p.add_argument("--provider", default="auto", help="auto (default), cuda, tensorrt or cpu")
    p.add_argument("--resume", action="store_true", help="continue an interrupted job")
    p.add_argument("--force", action="store_true", help="overwrite the output, or start an "
                   "interrupted job over")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray Data: no ADDRESS (or 'local') starts Ray here, 'auto' "
                   "finds a running cluster, HOST:PORT connects to one")
    p.add_argument("--ray-workers", type=int_at_least(1, 100000), default=2, metavar="K",
                   help="actors, one onnxruntime session each (default 2)")
    p.add_argument("--gpus-per-worker", type=positive_float, metavar="G",
                   help="GPUs each Ray actor holds (with --ray)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..deploy.predict import PredictJob, predict
    from .main import UsageError
    if args.gpus_per_worker and args.ray is None:
        raise UsageError("--gpus-per-worker is for --ray")
    if args.resume and args.force:
        raise UsageError("--resume continues a job, --force starts it over: pick one")
    inputs = [args.model, f"{args.model}.data"]
    if Path(args.data).is_file():
        inputs.append(args.data)
    ensure_parent(args.out, inputs, "--out")
    if args.ray not in (None, "local", "auto"):  # within seconds, before anything is loaded
        from ..deploy.ray_runner import reachable
        reachable(args.ray)
    job = PredictJob(args.model, args.data, args.out, args.format, args.top_k, args.logits,
                     args.batch_size, args.chunk, args.workers, args.sessions, args.threads,
                     args.provider, args.resume, args.force, args.ray, args.ray_workers,
                     args.gpus_per_worker or 0.0)
    s = predict(job, show_progress=sys.stderr.isatty() and not args.json)
    if s.already_done:
        print(f"{s.out} is already complete (a finished job); --force predicts again")
    elif args.json:
        print(json.dumps({"out": s.out, "rows": s.rows, "skipped": s.skipped,
                          "seconds": s.seconds, "resumed_at": s.resumed_at,
                          "engine": s.engine}))
    else:
        rate = s.rows / s.seconds if s.seconds else 0.0
        print(f"wrote {s.out}: {s.rows} rows in {s.seconds:.1f} s ({rate:.0f} samples/s, "
              f"{s.engine})" + (f", resumed after {s.resumed_at} items" if s.resumed_at else "")
              + (f"; {s.skipped} unreadable file{'s' * (s.skipped != 1)} skipped"
                 if s.skipped else ""))
    if s.skipped and not s.rows and not s.resumed_at and not s.already_done:
        from ..core.diagnostics import SpeccError
        raise SpeccError(f"no sample of {args.data} could be read ({s.skipped} skipped): "
                         f"{s.out} holds only the list of skipped items")
    return 0
