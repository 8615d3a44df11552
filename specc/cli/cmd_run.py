"""`specc run MODEL.onnx`: each output shown by its kind (classes, a map, a sequence, boxes,
values) or saved, or scores on a data set."""
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
from ..runtime.model import foreign_note, input_specs, load_inputs, metadata, read_model


EXAMPLES = """\
examples:
  specc run lenet5.onnx digit.png other.png     top classes with probabilities, per file
  specc run lenet5.onnx batch.npy --top-k 3
  specc run lenet5.onnx --data digits           accuracy on a data set's test split
  specc run r50.onnx x.npz --save out.npy       raw outputs to a file
  specc run unet.onnx x.npy                     a segmentation map: each class's share of pixels
  specc run unet.onnx --data shapes             pixel accuracy and mean IoU
  specc run retinanet_detect.onnx street.jpg    a detector's boxes: label, score, corners
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.onnx", help="an ONNX model (one written by specc "
                   "export carries its labels and preprocessing)")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help=".npy, .npz or image files")
    p.add_argument("--top-k", type=positive_int, default=5,
                   help="classes (a map: its classes; a detector: boxes) shown per sample "
                   "(default 5)")
    p.add_argument("--save", metavar="OUT.npy", type=output_file,
                   help="write the raw outputs (.npy, or .npz "
                   "for several outputs)")
    p.add_argument("--data", metavar="NAME", help="evaluate on a data set: accuracy, or pixel "
                   "accuracy and mean IoU for a segmentation model")
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
    adapted = []
    feeds = load_inputs(args.inputs, model, adapted)
    for line in adapted:  # as training says what it changed to fit the data
        print(f"adapted the images to the model: {line}", file=sys.stderr)
    try:
        outputs = sess.run(None, feeds)
    except Exception as e:  # onnxruntime raises its own types for bad feeds
        raise SpeccError(f"onnxruntime failed: {str(e).splitlines()[0][:300]}") from None
    names = [o.name for o in sess.get_outputs()]
    if args.save:
        _save(args.save, dict(zip(names, outputs)))
    _show(args, model, provider, dict(zip(names, outputs)))
    if args.save and not args.json:
        print(f"wrote {args.save}")
    return 0


def _show(args, model, provider: str, arrays: dict) -> None:
    """Each output by the printer of its kind (class rows, class maps, token sequences,
    plain values): text lines, or one JSON object."""
    from ..runtime import printers
    from ..runtime.outputs import outputs_of
    n = len(next(iter(arrays.values())))
    outs, note = outputs_of(model, args.model, metadata(model), arrays,
                            sample_names(args.inputs, n), args.top_k)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        shown = printers.as_json(outs)
        obj = {"provider": provider, "outputs": shown}
        if outs[0].read.kind == "classes":  # the first output's rows, as before
            obj.update(output=shown[0]["name"], top_k=shown[0]["samples"])
        elif outs[0].read.kind == "detections":  # its boxes, as before
            obj.update(output=shown[0]["name"], detections=shown[0]["samples"])
        print(json.dumps(obj))
        return
    for line in printers.lines(outs):
        print(line)


def sample_names(files: list[str], n: int) -> list[str]:
    """One name per sample: the image file, or FILE[i] for the rows of an array file."""
    if len(files) == n and all(is_image(f) for f in files):
        return list(files)
    first = files[0] if files else "sample"
    return [first] if n == 1 else [f"{first}[{i}]" for i in range(n)]


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
    from ..data.registry import load_dataset
    from ..runtime.model import input_spec_of
    name, dims, _ = input_specs(model)[0]
    out_dims = sess.get_outputs()[0].shape
    views = ({"name": "ten_crop", "resize": None, "crop": None},) if args.ten_crop else ()
    want = input_spec_of(model, views, trust)
    if len(dims) < 2 or len(out_dims) < 2 or not all(isinstance(d, int) and d > 0
                                                     for d in want.shape):
        raise SpeccError(f"--data needs a model with input [N, ...known dims] (or sizes it "
                         f"states) and output [N, classes] or [N, classes, H, W]; this one has "
                         f"{list(dims)} -> {list(out_dims)}")
    data = load_dataset(args.data, want)
    if getattr(data, "dense", False):
        return _evaluate_dense(args, sess, name, data, provider, out_dims)
    if len(out_dims) != 2:
        raise SpeccError(f"--data {data.name} has one label per sample, but the model's output "
                         f"is {list(out_dims)}", notes=("a classifier's output is [N, classes]",))
    correct = count = 0
    for x, y in _batches(args, data):
        out = _scores(sess, name, x, len(dims))
        pred = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(1)
        correct += int((pred == y).sum())
        count += len(y)
    acc = correct / max(count, 1)
    if args.json:
        print(json.dumps({"accuracy": acc, "provider": provider, "samples": count}))
    else:
        print(f"accuracy {acc:.4f} on {count} test samples of {data.name} ({provider})")
    return 0


def _batches(args, data):
    from ..data.registry import test_batches
    for x, y in test_batches(data, args.batch_size):
        yield x.numpy(), y.numpy()


def _scores(sess, name: str, x: np.ndarray, rank: int) -> np.ndarray:
    """The first output for a batch; several views per sample: the mean of their softmax."""
    try:
        if x.ndim == rank + 1:
            out = sess.run(None, {name: x.reshape(-1, *x.shape[2:])})[0]
            z = np.exp(out - out.max(1, keepdims=True))
            return (z / z.sum(1, keepdims=True)).reshape(len(x), x.shape[1], -1).mean(1)
        return sess.run(None, {name: x})[0]
    except Exception as e:  # onnxruntime raises its own types for bad feeds
        raise SpeccError(f"onnxruntime failed: {str(e).splitlines()[0][:300]}") from None


def _evaluate_dense(args, sess, name: str, data, provider: str, out_dims: list) -> int:
    """A label per pixel: pixel accuracy and mean IoU over the test split (one confusion
    matrix, the data set's ignore index counted nowhere)."""
    import torch

    from ..data.metrics import ConfusionMatrix
    if args.ten_crop:
        raise SpeccError("--ten-crop averages a classifier's views; a segmentation map has "
                         "none to average")
    labels_rank = data.test_y.dim() - 1
    if len(out_dims) != labels_rank + 2:
        raise SpeccError(f"data set '{data.name}' has a label per position "
                         f"{list(data.test_y.shape[1:])}, but the model's output is "
                         f"{list(out_dims)}", notes=("per-pixel classification needs an "
                                                     "output [N, classes, H, W]",))
    matrix = None
    count = 0
    for x, y in _batches(args, data):
        out = _scores(sess, name, x, x.ndim)
        if out.shape[2:] != y.shape[1:]:
            raise SpeccError(f"the model's map is {list(out.shape[2:])} but the labels of "
                             f"'{data.name}' are {list(y.shape[1:])} per sample")
        if matrix is None:
            matrix = ConfusionMatrix(max(out.shape[1], data.classes),
                                     getattr(data, "ignore_index", None))
        matrix.update(torch.from_numpy(out.argmax(1)), torch.from_numpy(y))
        count += len(y)
    names = list(data.labels) if getattr(data, "labels", None) else []
    iou = [{"index": i, "label": names[i] if i < len(names) else str(i), "iou": v}
           for i, v in enumerate(matrix.iou()) if v is not None]
    acc, miou = matrix.pixel_accuracy(), matrix.mean_iou()
    if args.json:
        print(json.dumps({"pixel_accuracy": acc, "mean_iou": miou, "iou": iou,
                          "provider": provider, "samples": count}))
        return 0
    print(f"pixel accuracy {acc:.4f}, mean IoU {miou:.4f} on {count} test samples of "
          f"{data.name} ({provider})")
    print("IoU  " + "  ".join(f"{c['label']} {c['iou']:.4f}" for c in iou))
    return 0
