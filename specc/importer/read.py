"""Opening an ONNX model from a stranger: the one gate the import reads through.

Only a regular file is opened; a file that is plainly something else (a spec, a PyTorch
checkpoint, a safetensors or NumPy file) is named as what it is; the protobuf is walked field
by field (specc.importer.wire) so that weights stay in the file until they are written; every
external data location must name a regular file inside the model's folder (no absolute path,
no `..`, no link out of it) and hold the bytes it claims. Old opsets (7-12) are converted to
13 by onnx.version_converter, the one converter ONNX maintains."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import check_regular
from . import wire
from .tensors import ONNX_TO_SPECC, FileRef, ProtoRef, TensorRef, onnx_type_name

MAX_MODEL_BYTES = 2 ** 31  # protobuf's limit: larger models keep their weights outside
OLDEST_OPSET = 1
CONVERT_BELOW = 13  # models older than this are converted up to it
SMALL = 1 << 16  # initializers up to this many bytes are read while opening


@dataclass
class Loaded:
    """A model without its weights, and where each weight lies."""

    model: object  # onnx.ModelProto (initializers hold no data)
    refs: dict[str, TensorRef] = field(default_factory=dict)
    path: str = "<model>"
    opset: int = 0
    converted_from: int | None = None


def open_model(path: str | Path) -> Loaded:
    """Read the model at `path` (raises SpeccError with what is wrong)."""
    p = check_regular(path, "model")
    size = p.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise SpeccError(f"{path} is larger than an ONNX file can be (2 GiB); a large model "
                         "keeps its weights in an external data file")
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpeccError(f"{path} is not a regular file")
        _sniff(os.pread(fd, 64, 0), path)
        r = wire.Reader(fd, size)
        try:
            model, raw = _walk(r, size)
        except wire.Malformed as e:
            raise SpeccError(f"{path} is not a readable ONNX model (truncated or corrupt: {e})") \
                from None
    finally:
        os.close(fd)
    refs = {}
    folder = p.resolve().parent
    for t in model.graph.initializer:
        if t.name in raw:
            offset, length = raw[t.name]
            ref = _file_ref(t, str(p), offset, length, path)
            if length <= SMALL:  # shapes, axes, scalars: back in the proto, read at once
                t.raw_data = ref.array().tobytes()
            else:
                refs[t.name] = ref
    return _finish(model, refs, str(path), folder)


def from_proto(model, folder: str | Path | None = None, label: str = "<model>") -> Loaded:
    """A model already in memory (the conformance backend); external data is read from
    `folder` under the same rules as a file's."""
    return _finish(model, {}, label, Path(folder).resolve() if folder else None)


# ------------------------------------------------------------------------ the file
_KNOWN = [(b"specc", "a specc spec (import reads ONNX models; check it with specc check)"),
          (b"PK\x03\x04", "a zip archive (a PyTorch checkpoint or .npz?), not an ONNX model"),
          (b"\x93NUMPY", "a NumPy array file, not an ONNX model"),
          (b"\x80\x02", "a Python pickle, not an ONNX model"),
          (b"\x1f\x8b", "a gzip file; unpack it first"),
          (b"\x89PNG", "a PNG image, not an ONNX model")]


def _sniff(head: bytes, path) -> None:
    if not head:
        raise SpeccError(f"{path} is empty, not an ONNX model")
    for magic, what in _KNOWN:
        if head.startswith(magic):
            raise SpeccError(f"{path} is {what}")
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        n = int.from_bytes(head[:8], "little")
        if 2 <= n < 100_000_000:
            raise SpeccError(f"{path} is a safetensors file (weights), not an ONNX model; "
                             "with a spec, load it with --weights or --init")


def _walk(r: wire.Reader, size: int):
    """The model parsed from every byte but the initializers' raw data, and where that lies
    (name -> (offset, length))."""
    import onnx
    from google.protobuf.message import DecodeError
    model_rest, graphs = wire.split(r, 0, size, wire.MODEL_GRAPH)
    if len(graphs) != 1:
        raise wire.Malformed("no graph" if not graphs else "several graphs")
    graph_rest, inits = wire.split(r, *graphs[0], wire.GRAPH_INITIALIZER)
    tensors, raw = [], {}
    try:
        model = onnx.ModelProto.FromString(model_rest)
        graph = onnx.GraphProto.FromString(graph_rest)
        for start, end in inits:
            rest, data = wire.split(r, start, end, wire.TENSOR_RAW_DATA)
            t = onnx.TensorProto.FromString(rest)
            if data:
                raw[t.name] = (data[-1][0], data[-1][1] - data[-1][0])
            tensors.append(t)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise wire.Malformed(str(e).splitlines()[0][:120] if str(e) else "protobuf") from None
    graph.initializer.extend(tensors)
    model.graph.CopyFrom(graph)
    return model, raw


def _file_ref(t, path: str, offset: int, length: int, shown) -> FileRef:
    dtype = _dtype(t, shown)
    ref = FileRef(t.name, dtype, t.dims, path, offset, length)
    if length != ref.size * _itemsize(dtype):
        raise SpeccError(f"{shown}: initializer '{t.name}' holds {length:,} bytes, but its "
                         f"shape {list(t.dims)} of {dtype} needs {ref.size * _itemsize(dtype):,}")
    return ref


def _itemsize(dtype: str) -> int:
    return {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i32": 4, "i64": 8, "bool": 1}[dtype]


class Unsupported(SpeccError):
    """Something outside what specc has: a type, or operators of another domain only."""

    @property
    def unsupported(self) -> str:
        return self.message


def _dtype(t, shown) -> str:
    if t.data_type not in ONNX_TO_SPECC:
        raise Unsupported(f"{shown}: initializer '{t.name}' is {onnx_type_name(t.data_type)}, a "
                         "type specc does not have (it has f32, f16, bf16, f64, i32, i64, bool)")
    return ONNX_TO_SPECC[t.data_type]


# ------------------------------------------------------------------ external data
def _external(t, folder: Path | None, shown) -> FileRef:
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    where = f"{shown}: initializer '{t.name}'"
    if folder is None:
        raise SpeccError(f"{where} keeps its data in an external file, and there is no folder "
                         "to read it from")
    if not location or os.path.isabs(location) or Path(location).drive:
        raise SpeccError(f"{where}: its external data location {location!r} must be a file "
                         "name relative to the model's folder")
    if ".." in Path(location).parts:
        raise SpeccError(f"{where}: its external data location {location!r} leaves the "
                         "model's folder ('..'); specc reads only inside it")
    target = folder / location
    real = target.resolve()
    if folder != real.parent and folder not in real.parents:
        raise SpeccError(f"{where}: its external data {location!r} is a link out of the "
                         "model's folder; specc reads only inside it")
    try:
        info_stat = os.stat(real)
    except FileNotFoundError:
        raise SpeccError(f"{where}: its external data file {location!r} is missing (it "
                         f"should lie beside the model in {folder})") from None
    if not stat.S_ISREG(info_stat.st_mode):
        raise SpeccError(f"{where}: its external data {location!r} is not a regular file")
    offset, dtype = int(info.get("offset", 0) or 0), _dtype(t, shown)
    need = FileRef(t.name, dtype, t.dims, str(real), 0, 0).size * _itemsize(dtype)
    length = int(info.get("length", need) or need)
    if length != need or offset < 0 or offset + length > info_stat.st_size:
        raise SpeccError(f"{where}: its external data claims bytes {offset:,}..{offset + length:,}"
                         f" of {location!r} ({info_stat.st_size:,} bytes), and its shape "
                         f"{list(t.dims)} of {dtype} needs {need:,}")
    return FileRef(t.name, dtype, t.dims, str(real), offset, length)


# ------------------------------------------------------------------------ opsets
def _finish(model, refs: dict, shown: str, folder: Path | None) -> Loaded:
    import onnx
    if model.graph.sparse_initializer:
        raise SpeccError(f"{shown} holds sparse initializers, which specc does not read")
    for t in model.graph.initializer:
        if t.name in refs:
            continue
        if t.data_location == onnx.TensorProto.EXTERNAL:
            refs[t.name] = _external(t, folder, shown)
        else:
            refs[t.name] = ProtoRef(t, _dtype(t, shown))
    opset = default_opset(model)
    if opset is None:
        domains = sorted({o.domain for o in model.opset_import})
        err = Unsupported(f"{shown} uses only the operator sets {', '.join(domains)}; "
                                "specc maps the standard ONNX operators")
        raise err
    loaded = Loaded(model, refs, shown, opset)
    newest = onnx.defs.onnx_opset_version()
    if opset < OLDEST_OPSET or opset > newest:
        raise SpeccError(f"{shown} uses ONNX opset {opset}; specc imports opsets "
                         f"{OLDEST_OPSET} to {newest} (the installed onnx knows up to {newest})")
    if opset < CONVERT_BELOW:
        loaded.model = _convert(model, opset, shown)
        loaded.converted_from, loaded.opset = opset, CONVERT_BELOW
    return loaded


def default_opset(model) -> int | None:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def _convert(model, opset: int, shown: str):
    """onnx.version_converter up to CONVERT_BELOW: old forms (attributes that later became
    inputs, BatchNormalization's `spatial`, Upsample) become the ones the import reads."""
    from onnx import version_converter
    try:
        return version_converter.convert_version(model, CONVERT_BELOW)
    except Exception as e:  # noqa: BLE001 - the converter raises bare RuntimeErrors and more
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise SpeccError(f"{shown} uses opset {opset}, and onnx.version_converter cannot "
                         f"bring it to {CONVERT_BELOW}: {first}") from None
