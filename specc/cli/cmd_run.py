"""`specc run MODEL.onnx`: top-k or raw outputs for given inputs, or accuracy on a data set."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.files import staging
from .common import batch_size, ensure_parent, output_file, positive_int
from ..core.images import is_image
from ..runtime.boxes import box_lines, detections, is_detections
from ..runtime.model import foreign_note, input_specs, load_inputs, metadata, read_model


EXAMPLES = """\
examples:
  specc run lenet5.onnx digit.png other.png     top classes with probabilities, per file
  specc run lenet5.onnx batch.npy --top-k 3
  specc run lenet5.onnx --data digits           accuracy on a data set's test split
  specc run r50.onnx x.npz --save out.npy       raw outputs to a file
  specc run retinanet.onnx street.jpg           a detector's boxes: label, score, corners
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="an ONNX model (one written by specc "
                   "export carries its labels and preprocessing)")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help=".npy, .npz or image files")
    p.add_argument("--top-k", type=positive_int, default=5,
                   help="classes (a detector: boxes) shown per sample (default 5)")
    p.add_argument("--save", metavar="OUT.npy", type=output_file,
                   help="write the raw outputs (.npy, or .npz "
                   "for several outputs)")
    p.add_argument("--data", metavar="NAME", help="evaluate accuracy on a data set")
    p.add_argument("--allow-pipe", action="store_true",
                   help="let a `pipe:` source given with --data run its shell command")
    p.add_argument("--provider", default="auto", help="auto (default), cuda, tensorrt or cpu")
    p.add_argument("--batch-size", type=batch_size, default=256,
                   help="samples per run with --data (default 256, at most 65536)")
    p.add_argument("--ten-crop", action="store_true", help="with --data: average the softmax "
                   "of ten crops per image (corners, centre, mirrored)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..backends.ort import open_session
    _refuse_spec(args.model)
    trust = _source_trust(args)
    if args.save:  # checked before any work: never onto the model or an input
        ensure_parent(args.save, [args.model, f"{args.model}.data", *args.inputs], "--save")
    model = read_model(args.model)
    sess, provider, note = open_session(args.model, args.provider)
    if note:
        print(f"note: {note}", file=sys.stderr)
    foreign = foreign_note(model, args.model)
    if foreign:
        print(f"note: {foreign}", file=sys.stderr)
    if args.data:
        return _evaluate(args, model, sess, provider, trust)
    feeds = load_inputs(args.inputs, model)
    try:
        outputs = sess.run(None, feeds)
    except Exception as e:  # onnxruntime raises its own types for bad feeds
        raise SpeccError(f"onnxruntime failed: {str(e).splitlines()[0][:300]}") from None
    names = [o.name for o in sess.get_outputs()]
    if args.save:
        _save(args.save, dict(zip(names, outputs)))
    meta = metadata(model)
    labels = meta.get("specc.labels") or []
    if meta.get("specc.output_kind") == "detections" and is_detections(outputs[0]):
        return _print_boxes(args, outputs[0], labels, provider, names[0])
    logits = meta.get("specc.output_kind") == "logits"
    scores = softmax(outputs[0]) if logits else outputs[0]
    probabilities = logits or meta.get("specc.output_kind") == "probabilities"
    result = _topk(scores, labels, args.top_k, "probability" if probabilities else "score")
    samples = sample_names(args.inputs, len(result))
    if args.json:
        print(json.dumps({"provider": provider, "output": names[0], "top_k": [
            {"name": n, "top": row} for n, row in zip(samples, result)]}))
        return 0
    width = max(len(n) for n in samples)
    for sample, row in zip(samples, result):
        shown = [f"{r['label']} {r['probability']:6.1%}" if probabilities else
                 f"{r['label']} ({r['score']:.4g})" for r in row]
        print(f"{sample:<{width}}  " + "  ".join(shown))
    if args.save:
        print(f"wrote {args.save}")
    return 0


def _print_boxes(args, rows, labels, provider: str, output: str) -> int:
    """A detector's output: per input file (or array row) its boxes, best first."""
    found = detections(rows, labels)
    samples = sample_names(args.inputs, len(found))
    if args.json:
        print(json.dumps({"provider": provider, "output": output, "detections": [
            {"name": n, "boxes": boxes} for n, boxes in zip(samples, found)]}))
        return 0
    for sample, boxes in zip(samples, found):
        print("\n".join(box_lines(sample, boxes, args.top_k)))
    if args.save:
        print(f"wrote {args.save}")
    return 0


def softmax(x: np.ndarray) -> np.ndarray:
    """Probabilities from logits over the last axis (computed in float64, stable)."""
    z = x.astype(np.float64) - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sample_names(files: list[str], n: int) -> list[str]:
    """One name per sample: the image file, or FILE[i] for the rows of an array file."""
    if len(files) == n and all(is_image(f) for f in files):
        return list(files)
    first = files[0] if files else "sample"
    return [first] if n == 1 else [f"{first}[{i}]" for i in range(n)]


def _topk(scores: np.ndarray, labels: list, k: int, key: str = "score") -> list[list[dict]]:
    flat = scores.reshape(scores.shape[0], -1)
    out = []
    for row in flat:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([{"index": int(i), "label": labels[i] if i < len(labels) else str(int(i)),
                     key: float(row[i])} for i in order])
    return out


def _save(path: str, outputs: dict) -> None:
    """Through a staging folder: the target is the whole new file or untouched."""
    target = Path(path)
    with staging(target) as tmp:
        staged = tmp / "out"
        try:
            with open(staged, "wb") as f:
                if len(outputs) == 1 and target.suffix != ".npz":
                    np.save(f, next(iter(outputs.values())))
                else:
                    np.savez(f, **outputs)
            os.replace(staged, target)
        except OSError as e:
            raise SpeccError(f"cannot write {path}: {e.strerror or e}") from None


def _refuse_spec(target: str) -> None:
    """A spec where the model goes: say what `run` takes and how to get it, rather than
    report a .net file as a corrupt ONNX model."""
    from ..compile.pipeline import split_target
    path, _ = split_target(target)
    if path.endswith(".net"):
        raise SpeccError(f"{target} is a spec; specc run takes a model written by specc export",
                         notes=(f"export it first: specc export {target} -o model.onnx "
                                "(specc bench takes a spec as it is)",))


def _source_trust(args):
    """--data is typed by the user: an http(s) URL may be read, a `pipe:` command run only
    with --allow-pipe (checked before the model is opened: a usage error)."""
    from ..recipes.sources import Trust, source_problem
    from .main import UsageError
    if args.allow_pipe and not args.data:
        raise UsageError("--allow-pipe goes with --data (it lets the `pipe:` command given "
                         "there run)")
    trust = Trust(command_line=True, allow_pipe=args.allow_pipe)
    problem = source_problem(args.data, trust) if args.data else None
    if problem:
        raise UsageError(f"--data {args.data[:200]!r}: {problem}")
    return trust


def _evaluate(args, model, sess, provider, trust) -> int:
    from .. import tasks  # noqa: F401  (the demonstrations' data sets register themselves)
    from ..data.registry import load_dataset, test_batches
    from ..runtime.model import input_spec_of
    name, dims, _ = input_specs(model)[0]
    out_dims = sess.get_outputs()[0].shape
    if len(dims) < 2 or len(out_dims) != 2 or not all(isinstance(d, int) and d > 0
                                                      for d in dims[1:]):
        raise SpeccError(f"--data needs a model with input [N, ...known dims] and output "
                         f"[N, classes]; this one has {list(dims)} -> {list(out_dims)}")
    views = ({"name": "ten_crop", "resize": None, "crop": None},) if args.ten_crop else ()
    data = load_dataset(args.data, input_spec_of(model, views, trust))
    correct = count = 0
    for x, y in test_batches(data, args.batch_size):
        x, y = x.numpy(), y.numpy()
        try:
            if x.ndim == len(dims) + 1:  # several views per sample: average their softmax
                out = sess.run(None, {name: x.reshape(-1, *x.shape[2:])})[0]
                z = np.exp(out - out.max(1, keepdims=True))
                out = (z / z.sum(1, keepdims=True)).reshape(len(y), x.shape[1], -1).mean(1)
            else:
                out = sess.run(None, {name: x})[0]
        except Exception as e:  # onnxruntime raises its own types for bad feeds
            raise SpeccError(f"onnxruntime failed: {str(e).splitlines()[0][:300]}") from None
        pred = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(1)
        correct += int((pred == y).sum())
        count += len(y)
    acc = correct / max(count, 1)
    if args.json:
        print(json.dumps({"accuracy": acc, "provider": provider, "samples": count}))
    else:
        print(f"accuracy {acc:.4f} on {count} test samples of {data.name} ({provider})")
    return 0
