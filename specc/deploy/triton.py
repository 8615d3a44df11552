"""`specc export --triton REPO`: a Triton model repository for the onnxruntime backend.

    REPO/NAME/config.pbtxt      Triton's ModelConfig, in protobuf text format
    REPO/NAME/1/model.onnx      the verified export (version 1)
    REPO/NAME/labels.txt        the recipe's class labels, when it has them

The configuration is built as a message of Triton's own ModelConfig schema (the
`model_config_pb2` module that the `tritonclient` wheel ships), so a field Triton does not know
cannot be written. With `max_batch_size > 0` the dims leave out the batch dim, which every input
and output must lead with as a symbolic dim (the mismatch Triton users hit most: onnxruntime
backend issues 111 and 165). The repository is assembled in a staging folder, parsed back,
run by onnxruntime at batch 1, at each preferred batch size and at the maximum, and only then
moved into place. Triton itself is not run here.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.files import staging

NAME_RULE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ONNX_TO_TRITON = {1: "TYPE_FP32", 10: "TYPE_FP16", 11: "TYPE_FP64", 16: "TYPE_BF16",
                  2: "TYPE_UINT8", 3: "TYPE_INT8", 6: "TYPE_INT32", 7: "TYPE_INT64",
                  9: "TYPE_BOOL"}
KINDS = {"auto": "KIND_AUTO", "cpu": "KIND_CPU", "gpu": "KIND_GPU"}
VERSION = "1"


@dataclass
class TritonOptions:
    max_batch_size: int = 32
    instances: int = 1
    preferred: list = field(default_factory=list)
    kind: str = "auto"
    force: bool = False


def schema():
    """Triton's ModelConfig protobuf module, read from the tritonclient wheel. The module file
    ships in the plain wheel; importing it as tritonclient.grpc.model_config_pb2 would run
    that package's __init__, which needs the grpc extra (grpcio, and a protobuf older than
    onnx's), so the one file is loaded by itself."""
    found = importlib.util.find_spec("tritonclient")
    if found is None or not found.submodule_search_locations:
        raise SpeccError("--triton needs the tritonclient package (Triton's ModelConfig "
                         "schema)", notes=("pip install 'specc[deploy]' (or: pip install "
                                           "tritonclient)",))
    path = Path(list(found.submodule_search_locations)[0]) / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("specc_triton_model_config_pb2", path)
    if spec is None or not path.is_file():
        raise SpeccError(f"this tritonclient has no {path.name}; specc needs Triton's schema")
    module = importlib.util.module_from_spec(spec)
    import warnings
    with warnings.catch_warnings():  # its gencode is one protobuf major behind onnx's runtime
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
    return module


def check_name(name: str) -> None:
    if not NAME_RULE.fullmatch(name) or name in (".", ".."):
        raise SpeccError(f"'{name}' cannot name a Triton model: Triton names a model by its "
                         "folder in the repository; use letters, digits, '_', '.' and '-' "
                         "(128 at most, not starting with '.' or '-')")


def check_repository_path(repo: Path, name: str, force: bool) -> None:
    """REPO may be new, or an empty folder; one that holds anything needs --force (which then
    replaces REPO/NAME only)."""
    if repo.exists() and not repo.is_dir():
        raise SpeccError(f"--triton {repo} is a file, not a model repository folder")
    if repo.is_dir() and any(repo.iterdir()) and not force:
        raise SpeccError(f"--triton {repo} exists and is not empty; refusing to write into it",
                         notes=("--force replaces the model folder "
                                f"{repo / name} and leaves the rest of the repository",))
    parent = repo.parent if str(repo.parent) else Path(".")
    if not parent.is_dir():
        raise SpeccError(f"folder {parent} does not exist (for --triton {repo})")


def config_for(model, name: str, opts: TritonOptions):
    """The ModelConfig message for this ONNX model."""
    pb = schema()
    tensors = list(_inputs(model)) + list(model.graph.output)
    batched = all(_dims(t) and not isinstance(_dims(t)[0], int) for t in tensors)
    if opts.max_batch_size > 0 and not batched:
        raise SpeccError("--max-batch-size > 0 needs every input and output to lead with a "
                         "symbolic batch dim; this model's are " + ", ".join(
                             f"{t.name} {_dims(t)}" for t in tensors),
                         notes=("--max-batch-size 0 writes full dims (no batching by Triton)",))
    bad = [p for p in opts.preferred if p > opts.max_batch_size]
    if bad or (opts.preferred and opts.max_batch_size == 0):
        raise SpeccError(f"--preferred-batch-sizes {bad or opts.preferred} exceed "
                         f"--max-batch-size {opts.max_batch_size}")
    cfg = pb.ModelConfig(name=name, backend="onnxruntime", max_batch_size=opts.max_batch_size)
    skip = 1 if opts.max_batch_size > 0 else 0
    for t in _inputs(model):
        cfg.input.add(name=t.name, data_type=_dtype(pb, t), dims=_triton_dims(t, skip))
    labels = _labels(model)
    for k, t in enumerate(model.graph.output):
        out = cfg.output.add(name=t.name, data_type=_dtype(pb, t), dims=_triton_dims(t, skip))
        if k == 0 and labels:
            out.label_filename = "labels.txt"
    if opts.max_batch_size > 0:
        cfg.dynamic_batching.preferred_batch_size.extend(opts.preferred)
    cfg.instance_group.add(count=opts.instances,
                           kind=pb.ModelInstanceGroup.Kind.Value(KINDS[opts.kind]))
    return cfg


def _inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def _dims(t) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in t.type.tensor_type.shape.dim]


def _triton_dims(t, skip: int) -> list[int]:
    return [d if isinstance(d, int) else -1 for d in _dims(t)[skip:]]


def _dtype(pb, t) -> int:
    elem = t.type.tensor_type.elem_type
    if elem not in ONNX_TO_TRITON:
        raise SpeccError(f"{t.name}: ONNX element type {elem} has no Triton data type here")
    return pb.DataType.Value(ONNX_TO_TRITON[elem])


def _labels(model) -> list[str]:
    from ..runtime.model import metadata
    labels = metadata(model)["specc.labels"]
    width = _dims(model.graph.output[0])[-1] if model.graph.output else None
    return labels if labels and width == len(labels) else []


@dataclass
class TritonResult:
    folder: str
    config: str  # the config.pbtxt text
    batches: list  # batch sizes onnxruntime ran the model at


def write_repository(repo, name: str, opts: TritonOptions, produce) -> TritonResult:
    """Assemble REPO/NAME in a staging folder: `produce(path)` writes the ONNX model at
    `path`; then the configuration, the labels, the checks, and the move into place."""
    import onnx
    from google.protobuf import text_format
    repo = Path(repo)
    check_name(name)
    check_repository_path(repo, name, opts.force)
    repo.mkdir(exist_ok=True)
    target = repo / name
    with staging(target) as tmp:
        folder = tmp / name
        (folder / VERSION).mkdir(parents=True)
        produce(folder / VERSION / "model.onnx")
        model = onnx.load(str(folder / VERSION / "model.onnx"), load_external_data=False)
        cfg = config_for(model, name, opts)
        text = text_format.MessageToString(cfg)
        (folder / "config.pbtxt").write_text(text, encoding="utf-8")
        labels = _labels(model)
        if labels:
            (folder / "labels.txt").write_text("".join(f"{x}\n" for x in labels),
                                               encoding="utf-8")
        batches = check(folder, model, opts)
        _move_into_place(folder, target, tmp)
    return TritonResult(str(target), text, batches)


def _move_into_place(folder: Path, target: Path, tmp: Path) -> None:
    try:
        if target.exists():  # --force: the old model folder goes to the staging area first
            os.replace(target, tmp / "replaced")
        os.replace(folder, target)
    except OSError as e:
        raise SpeccError(f"cannot move the model folder into place at {target}: "
                         f"{e.strerror or e}") from None


def check(folder: Path, model, opts: TritonOptions) -> list[int]:
    """config.pbtxt parsed back by Triton's schema; onnxruntime runs the model at batch 1,
    each preferred size and the maximum, each output of the batch size asked for."""
    from google.protobuf import text_format
    from ..backends.ort import open_session
    cfg = text_format.Parse((folder / "config.pbtxt").read_text(encoding="utf-8"),
                            schema().ModelConfig())
    sizes = sorted({1, *opts.preferred, max(cfg.max_batch_size, 1)})
    sess, _, _ = open_session(folder / VERSION / "model.onnx", "cpu")
    rng = np.random.default_rng(0)
    for n in sizes:
        feeds = {}
        for t in cfg.input:
            dims = ([n] if cfg.max_batch_size > 0 else []) + [d if d > 0 else 1 for d in t.dims]
            np_type = {"TYPE_FP32": np.float32, "TYPE_FP16": np.float16, "TYPE_INT64": np.int64,
                       "TYPE_INT32": np.int32}.get(schema().DataType.Name(t.data_type),
                                                   np.float32)
            feeds[t.name] = rng.standard_normal(dims).astype(np_type)
        outs = sess.run([o.name for o in cfg.output], feeds)
        if cfg.max_batch_size > 0 and any(o.shape[0] != n for o in outs):
            raise SpeccError(f"the model at batch {n} gave outputs of shapes "
                             f"{[list(o.shape) for o in outs]}")
    return sizes


def copy_model(source: Path):
    """`produce` for a model already written elsewhere (-o with --triton)."""
    def produce(path: Path) -> None:
        shutil.copyfile(source, path)
        data = Path(f"{source}.data")
        if data.exists():  # the model names its data file; the reference is relative
            shutil.copyfile(data, path.parent / data.name)
    return produce
