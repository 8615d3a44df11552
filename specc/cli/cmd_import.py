"""`specc import MODEL.onnx [-o OUT.net] [--name NET]`: an ONNX model -> a readable spec and
its weights (OUT.safetensors under the spec's own state-dict keys)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import ensure_parent, output_file

EXAMPLES = """\
examples:
  specc import resnet50.onnx                       writes resnet50.net + resnet50.safetensors
  specc import model.onnx -o mynet.net --name mynet
  specc check mynet.net
  specc export mynet.net --weights mynet.safetensors -o again.onnx
  specc train mynet.net --init mynet.safetensors --init-skip 'fc.*'

Every ONNX node is read by a registry op (`specc ops` lists them with the ONNX ops they read);
a model with ops specc cannot map is refused with every such op, its count and first node.
Nothing is written unless the whole import succeeds.
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="an ONNX model (opset 7 or newer)")
    p.add_argument("-o", "--output", metavar="OUT.net", type=output_file,
                   help="the spec to write (default: MODEL's name with .net, here); the "
                   "weights go beside it as OUT.safetensors")
    p.add_argument("--name", metavar="NET", help="the network's name in the spec (default: "
                   "from the output file's name)")
    p.add_argument("--json", action="store_true", help="last line: a JSON summary")


def _stages():
    if not sys.stderr.isatty():
        return None
    return lambda stage: print(f"  {stage} ...", file=sys.stderr, flush=True)


def run(args) -> int:
    from ..importer import import_model
    out = Path(args.output or Path(args.model).stem + ".net")
    if out.suffix != ".net":
        from .main import UsageError
        raise UsageError(f"-o {out}: the spec's file name must end in .net")
    data = f"{args.model}.data"
    ensure_parent(out, [args.model, data])
    ensure_parent(out.with_suffix(".safetensors"), [args.model, data],
                  "-o (its weights file)")
    result = import_model(args.model, out, args.name, progress=_stages())
    print(f"wrote {result.spec} (network {result.network}: {result.nodes} ops, "
          f"{result.params:,} trainable parameters) and {result.weights} ({result.tensors} "
          f"tensors) in {result.seconds:.2f} s")
    for note in result.notes:
        print(f"note: {note}")
    if args.json:
        print(json.dumps({"spec": result.spec, "weights": result.weights,
                          "network": result.network, "nodes": result.nodes,
                          "params": result.params, "seconds": result.seconds}))
    return 0
