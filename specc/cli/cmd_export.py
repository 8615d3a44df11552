"""`specc export FILE[:NET] -o OUT.onnx`: direct ONNX emission, verified at every export."""
from __future__ import annotations

import json
import sys
import os
from pathlib import Path

from ..core.defaults import ONNX_OPSET
from .common import (add_budgets, add_set, count, ensure_parent, int_at_least, int_list,
                     load_target, output_file, positive_int, seed)


EXAMPLES = """\
examples:
  specc export specs/lenet5.net -o lenet5.onnx                    fresh seeded weights
  specc export specs/lenet5.net --weights runs/lenet5 -o lenet5.onnx
  specc export specs/lenet5.net --weights runs/lenet5 --checkpoint best -o lenet5.onnx
  specc export specs/resnet.net:resnet50 -o r50.onnx --opset 13 --fp16
  specc export specs/lenet5.net --weights runs/lenet5 -o l8.onnx --int8 --calibrate digits
  specc export specs/lenet5.net --weights runs/lenet5 --triton models --max-batch-size 64 \
      --preferred-batch-sizes 16,32 --instances 2
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
    p.add_argument("-o", "--output", metavar="OUT.onnx", type=output_file,
                   help="the ONNX file to write (its folder must exist); optional with --triton")
    p.add_argument("--weights", metavar="CHECKPOINT", help="a checkpoint (safetensors) or run "
                   "folder; without it a seeded fresh initialisation is exported")
    p.add_argument("--checkpoint", choices=("last", "best"), help="with --weights RUN_DIR: "
                   "the run's last checkpoint (the default) or best.safetensors, the weights "
                   "of its best evaluation")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default {ONNX_OPSET})")
    p.add_argument("--fp16", action="store_true", help="store weights in half precision "
                   "(computed in float32)")
    p.add_argument("--fp16-compute", action="store_true", help="a half-precision graph: ops "
                   "compute in fp16, except those their registry entry keeps in float32 "
                   "(softmax, norms' statistics, exp, log); inputs and outputs stay float32; "
                   "checked op by op against float32")
    p.add_argument("--fp16-io", action="store_true", help="with --fp16-compute: fp16 inputs "
                   "and outputs too")
    p.add_argument("--external-data", action="store_true",
                   help="weights in OUT.onnx.data (automatic above 2 GB)")
    p.add_argument("--no-verify", action="store_true", help="skip the checker/parity checks")
    p.add_argument("--seed", type=seed, default=0, help="seed of the fresh initialisation")
    p.add_argument("--json", action="store_true", help="last line: a JSON summary")
    q = p.add_argument_group("int8 (post-training static quantization by onnxruntime)")
    q.add_argument("--int8", action="store_true", help="quantize: QDQ, per-channel int8 "
                   "weights, 8-bit activations calibrated on --calibrate; checked against fp32")
    q.add_argument("--calibrate", metavar="DATA", help="the data set to calibrate on (its "
                   "training split through the recipe's evaluation transform; its test split "
                   "checks the result), e.g. digits or imagefolder:PATH")
    q.add_argument("--calibration-samples", type=positive_int, default=256, metavar="N",
                   help="samples to calibrate on (default 256)")
    q.add_argument("--calibration-method", choices=("minmax", "entropy", "percentile"),
                   default="minmax", help="how activation ranges are chosen (default minmax)")
    q.add_argument("--int8-target", choices=("auto", "avx2", "vnni", "arm"), default="auto",
                   help="the CPU the model will run on, which decides the integer types as "
                   "onnxruntime advises: avx2 (x86 without VNNI: 7-bit weights against "
                   "saturation), vnni, arm; default auto: this machine's")
    t = p.add_argument_group("Triton model repository (onnxruntime backend)")
    t.add_argument("--triton", metavar="REPO", help="write REPO/NAME/config.pbtxt, "
                   "REPO/NAME/1/model.onnx and labels; REPO must be new or empty (or --force)")
    t.add_argument("--triton-name", metavar="NAME", help="the model's name in the repository "
                   "(default: the network's)")
    t.add_argument("--max-batch-size", type=count, default=32, metavar="B",
                   help="Triton batches requests up to B (default 32; 0: no batching)")
    t.add_argument("--preferred-batch-sizes", type=int_list, default=[], metavar="B1,B2",
                   help="dynamic batching's preferred sizes, each at most --max-batch-size")
    t.add_argument("--instances", type=int_at_least(1, 1024), default=1, metavar="K",
                   help="model instances Triton runs (default 1)")
    t.add_argument("--instance-kind", choices=("auto", "cpu", "gpu"), default="auto",
                   help="where the instances run (default auto: Triton's choice)")
    t.add_argument("--force", action="store_true", help="write into a non-empty repository, "
                   "replacing REPO/NAME")


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
    if not weights or not os.path.isdir(weights):
        raise UsageError("--checkpoint picks a file of a run folder: it needs --weights "
                         "RUN_DIR" + (f" ({weights} is not a folder)" if weights else ""))
    from ..train.runs import CHECKPOINT
    from ..train.watch import BEST
    path = Path(weights) / (BEST if which == "best" else CHECKPOINT)
    if not os.path.lexists(path):
        from ..core.diagnostics import SpeccError
        raise SpeccError(f"run {weights} has no {path.name}"
                         + (" (it has not evaluated yet, or predates best checkpoints)"
                            if which == "best" else ""))
    return str(path)


def check_flags(args) -> None:
    """Combinations that cannot mean anything are usage errors, before any work."""
    from .main import UsageError
    if not args.output and not args.triton:
        raise UsageError("name what to write: -o OUT.onnx, --triton REPO, or both")
    if args.int8 and not args.calibrate:
        raise UsageError("--int8 needs --calibrate DATA (samples to choose the int8 ranges on)")
    if args.calibrate and not args.int8:
        raise UsageError("--calibrate is for --int8")
    if args.int8_target != "auto" and not args.int8:
        raise UsageError("--int8-target is for --int8")
    if args.fp16_io and not args.fp16_compute:
        raise UsageError("--fp16-io is for --fp16-compute")
    if args.fp16_compute and (args.fp16 or args.int8):
        raise UsageError("--fp16-compute writes fp16 weights already; it takes neither --fp16 "
                         "nor --int8")
    if args.int8 and (args.fp16 or args.no_verify):
        raise UsageError("--int8 quantizes the verified fp32 export: it takes neither --fp16 "
                         "nor --no-verify")
    triton_only = ("triton_name", "preferred_batch_sizes", "force")
    if not args.triton and any(getattr(args, k) for k in triton_only):
        raise UsageError("--triton-name, --preferred-batch-sizes and --force are for --triton")
    if args.ensemble and (args.target is not None or args.weights or args.set):
        raise UsageError("--ensemble takes run folders only: their specs, --set values and "
                         "weights come from the runs (drop FILE, --weights and --set)")
    if args.ensemble and (args.int8 or args.fp16_compute):
        raise UsageError("--ensemble writes a float32 model (--fp16 stores its weights in "
                         "half precision); --int8 and --fp16-compute take one network")
    if not args.ensemble and args.target is None:
        raise UsageError("export needs FILE[:NET], or --ensemble RUN_DIR ...")


def run(args) -> int:
    check_flags(args)
    if args.ensemble:
        net, args.weights, inputs = _ensemble(args)
    else:
        args.weights = pick_weights(args.weights, args.checkpoint)
        net = load_target(args)
        inputs = list(net.graph.meta.get("sources", [])) + weight_files(args.weights)
    out = None
    if args.output:
        out = ensure_parent(args.output, inputs)
        ensure_parent(f"{args.output}.data", inputs, "-o (its external data file)")
    if args.triton:
        return _triton(args, net, out)
    print_result(args, write_model(args, net, out))
    return 0


def write_model(args, net, path):
    """One model at `path`: fp32 (or fp16 weights), or int8."""
    if args.int8:
        from ..deploy.quantize import export_int8
        return export_int8(net, path, args.calibrate, args.calibration_samples,
                           args.calibration_method, say=_stages() or (lambda stage: None),
                           target=args.int8_target, weights=args.weights, opset=args.opset,
                           seed=args.seed)
    from ..backends.onnx_export import export
    half = ("io" if args.fp16_io else "compute") if args.fp16_compute else None
    return export(net, path, weights=args.weights, opset=args.opset, fp16=args.fp16,
                  external_data=True if args.external_data else None,
                  verify=not args.no_verify, seed=args.seed, progress=_stages(), half=half)


def print_result(args, result) -> None:
    if args.int8:
        from ..deploy import quantize
        for line in result.adaptations:
            print(f"adapted {args.calibrate} to the model: {line}", file=sys.stderr)
        note = quantize.fallback_note(result)
        if note:
            print(note, file=sys.stderr)
        print(quantize.describe(result))
        if args.json:
            print(json.dumps(quantize.as_json(result)))
        return
    from ..backends.onnx_export import as_json, describe
    print(describe(result))
    if args.json:
        print(as_json(result))


def _triton(args, net, out) -> int:
    from ..deploy.triton import VERSION, TritonOptions, copy_model, write_repository
    opts = TritonOptions(args.max_batch_size, args.instances, args.preferred_batch_sizes,
                         args.instance_kind, args.force)
    results = []

    def produce(path):
        results.append(write_model(args, net, path))
    if out is not None:
        print_result(args, write_model(args, net, out))
        produce = copy_model(out)
    name = args.triton_name or net.name
    repo = write_repository(Path(args.triton), name, opts, produce)
    if results:  # written in the staging folder; it lies in the repository now
        results[0].path = str(Path(repo.folder) / VERSION / "model.onnx")
        print_result(args, results[0])
    print(f"wrote Triton model repository {repo.folder} (config.pbtxt, {VERSION}/model.onnx"
          f"; onnxruntime ran it at batch {', '.join(map(str, repo.batches))}; Triton itself "
          "was not run)")
    return 0



def _ensemble(args):
    """(the ensemble network, its weights, the files read) from run folders: each run's own
    spec copy and its last (or, with --checkpoint best, best) weights."""
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
