"""`specc export FILE[:NET] -o OUT.onnx`: direct ONNX emission, verified at every export."""
from __future__ import annotations

import sys

from .common import add_target, ensure_parent, int_at_least, load_target, seed


EXAMPLES = """\
examples:
  specc export specs/lenet5.net -o lenet5.onnx                    fresh seeded weights
  specc export specs/lenet5.net --weights runs/lenet5 -o lenet5.onnx
  specc export specs/resnet.net:resnet50 -o r50.onnx --opset 13 --fp16

Every export is checked (onnx.checker, shape inference, onnxruntime against torch) before it
is moved into place; the model carries its spec, so `specc bench`/`run` work from anywhere.
"""


def add_arguments(p) -> None:
    add_target(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx",
                   help="the ONNX file to write (its folder must exist)")
    p.add_argument("--weights", metavar="CHECKPOINT", help="a checkpoint (safetensors) or run "
                   "folder; without it a seeded fresh initialisation is exported")
    p.add_argument("--opset", type=int_at_least(13, 21), default=17,
                   help="ONNX opset, 13 to 21 (default 17)")
    p.add_argument("--fp16", action="store_true", help="store weights in half precision")
    p.add_argument("--external-data", action="store_true",
                   help="weights in OUT.onnx.data (automatic above 2 GB)")
    p.add_argument("--no-verify", action="store_true", help="skip the checker/parity checks")
    p.add_argument("--seed", type=seed, default=0, help="seed of the fresh initialisation")
    p.add_argument("--json", action="store_true", help="last line: a JSON summary")


def _stages():
    """Stage lines on a terminal (an export of a large network takes seconds)."""
    if not sys.stderr.isatty():
        return None
    return lambda stage: print(f"  {stage} ...", file=sys.stderr, flush=True)


def run(args) -> int:
    from ..backends.onnx_export import as_json, describe, export
    net = load_target(args)
    out = ensure_parent(args.output)
    result = export(net, out, weights=args.weights, opset=args.opset, fp16=args.fp16,
                    external_data=True if args.external_data else None,
                    verify=not args.no_verify, seed=args.seed, progress=_stages())
    print(describe(result))
    if args.json:
        print(as_json(result))
    return 0
