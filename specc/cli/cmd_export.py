"""`specc export FILE[:NET] -o OUT.onnx`: direct ONNX emission, verified at every export."""
from __future__ import annotations

import sys
from pathlib import Path

from ..core.defaults import ONNX_OPSET
from .common import add_budgets, add_set, ensure_parent, load_target, output_file, seed


EXAMPLES = """\
examples:
  specc export specs/lenet5.net -o lenet5.onnx                    fresh seeded weights
  specc export specs/lenet5.net --weights runs/lenet5 -o lenet5.onnx
  specc export specs/lenet5.net --weights runs/lenet5 --checkpoint best -o lenet5.onnx
  specc export specs/resnet.net:resnet50 -o r50.onnx --opset 13 --fp16
  specc export --ensemble runs/a runs/b runs/c -o ens.onnx       the mean of their softmax

Every export is checked (onnx.checker, shape inference, onnxruntime against torch) before it
is moved into place; the model carries its spec, so `specc bench`/`run` work from anywhere.
"""


def add_arguments(p) -> None:
    p.add_argument("target", metavar="FILE[:NET]", nargs="?",
                   help="a .net file, optionally FILE:NETWORK (not with --ensemble)")
    add_budgets(p)
    add_set(p)
    p.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                   help="export one model that averages the softmax of these trained runs "
                        "(each trained as usual with specc train; their specs and weights "
                        "come from the run folders)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", type=output_file,
                   help="the ONNX file to write (its folder must exist)")
    p.add_argument("--weights", metavar="CHECKPOINT", help="a checkpoint (safetensors) or run "
                   "folder; without it a seeded fresh initialisation is exported")
    p.add_argument("--checkpoint", choices=("last", "best"), help="with --weights RUN_DIR: "
                   "the run's last checkpoint (the default) or best.safetensors, the weights "
                   "of its best evaluation")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default {ONNX_OPSET})")
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


def weight_files(weights: str | None) -> list[str]:
    """The files --weights reads: a checkpoint, or the one inside a run folder."""
    if not weights:
        return []
    from ..train.runs import CHECKPOINT
    return [weights, str(Path(weights) / CHECKPOINT)]


def pick_weights(weights: str | None, which: str | None) -> str | None:
    """--weights with --checkpoint: a run folder's last or best checkpoint file."""
    if which is None:
        return weights
    from .main import UsageError
    if not weights or not Path(weights).is_dir():
        raise UsageError("--checkpoint picks a file of a run folder: it needs --weights "
                         "RUN_DIR" + (f" ({weights} is not a folder)" if weights else ""))
    from ..train.runs import CHECKPOINT
    from ..train.watch import BEST
    path = Path(weights) / (BEST if which == "best" else CHECKPOINT)
    if not path.is_file():
        from ..core.diagnostics import SpeccError
        raise SpeccError(f"run {weights} has no {path.name}"
                         + (" (it has not evaluated yet, or predates best checkpoints)"
                            if which == "best" else ""))
    return str(path)


def run(args) -> int:
    from ..backends.onnx_export import as_json, describe, export
    if args.ensemble:
        net, weights, inputs = _ensemble(args)
        args.weights = weights
    else:
        if args.target is None:
            from .main import UsageError
            raise UsageError("export needs FILE[:NET], or --ensemble RUN_DIR ...")
        args.weights = pick_weights(args.weights, args.checkpoint)
        net = load_target(args)
        inputs = list(net.graph.meta.get("sources", [])) + weight_files(args.weights)
    out = ensure_parent(args.output, inputs)
    ensure_parent(f"{args.output}.data", inputs, "-o (its external data file)")
    result = export(net, out, weights=args.weights, opset=args.opset, fp16=args.fp16,
                    external_data=True if args.external_data else None,
                    verify=not args.no_verify, seed=args.seed, progress=_stages())
    print(describe(result))
    if args.json:
        print(as_json(result))
    return 0


def _ensemble(args):
    """(the ensemble network, its weights, the files read) from run folders: each run's own
    spec copy and its last (or, with --checkpoint best, best) weights."""
    from .main import UsageError
    if args.target is not None or args.weights or args.set:
        raise UsageError("--ensemble takes run folders only: their specs, --set values and "
                         "weights come from the runs (drop FILE, --weights and --set)")
    from ..compile.ensemble import combine, prefixed_state
    from ..core.weights import model_state, read_checkpoint
    from ..network import Network
    from ..train.runs import open_resume
    limits = {"max_params": args.max_params, "max_activations": args.max_activations}
    members, weights, inputs = [], {}, []
    for k, run in enumerate(args.ensemble):
        net, _, _, _ = open_resume(Path(run), None, False, limits, main=False)
        path = pick_weights(run, args.checkpoint or "last")
        tensors, _ = read_checkpoint(path)
        members.append(net.graph)
        weights.update(prefixed_state(k, model_state(tensors)))
        inputs += list(net.graph.meta.get("sources", [])) + [path]
    return Network(combine(members)), weights, inputs
