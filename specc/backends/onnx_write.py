"""Streaming ONNX writer: the model's small parts go through protobuf, the weights are
appended as length-delimited fields straight from the arrays (no copies into protobuf, no
second copy on serialisation). Same graph and weights -> same bytes.

Wire format used (protobuf): ModelProto.graph = field 7; GraphProto.initializer = field 5;
TensorProto.raw_data = field 9; all length-delimited (wire type 2). Parsers accept fields in
any order, so the initializers are appended after the rest of the graph.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from ..core.dtypes import from_numpy, onnx_type


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, length: int) -> bytes:
    return _varint(number << 3 | 2) + _varint(length)


def _onnx_dtype(arr: np.ndarray) -> int:
    name = from_numpy(arr.dtype)
    if name is not None:
        return onnx_type(name)
    raise TypeError(f"no ONNX type for {arr.dtype}")


def tensor_header(name: str, arr: np.ndarray, external: tuple[str, int] | None = None) -> bytes:
    t = TensorProto(name=name, data_type=_onnx_dtype(arr), dims=list(arr.shape))
    if external is not None:
        location, offset = external
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(arr.nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
    return t.SerializeToString(deterministic=True)


def header_only(weights: dict[str, np.ndarray]) -> list[TensorProto]:
    """Initializers with dims and type but no data: enough for ONNX shape inference."""
    return [TensorProto(name=n, data_type=_onnx_dtype(a), dims=list(a.shape))
            for n, a in weights.items()]


def write_model(path: Path, skeleton: onnx.ModelProto, weights: dict[str, np.ndarray],
                external: str | None = None, ready=None) -> None:
    """Write `skeleton` (without the weights) plus `weights` as its initializers. With
    `external`, the weights go to that file name beside `path` (ONNX external data).
    `ready(name)`, when given, is called before a weight's bytes are first read: the weights
    may still be being computed while the file is written (their sizes are known up front)."""
    wait = ready or (lambda name: None)
    arrays = {n: _contiguous(n, a, wait) for n, a in weights.items()}
    pieces: list[tuple[bytes, np.ndarray | None, str]] = []
    offset = 0
    data_file = None
    if external:
        data_file = open(path.parent / external, "wb")
    try:
        for name, arr in arrays.items():
            if data_file is not None:
                pad = (-offset) % 64  # aligned for memory mapping
                if pad:
                    data_file.write(b"\0" * pad)
                    offset += pad
                head = tensor_header(name, arr, (external, offset))
                wait(name)
                data_file.write(memoryview(arr.reshape(-1)).cast("B"))
                offset += arr.nbytes
                pieces.append((head, None, name))
            else:
                head = tensor_header(name, arr) + _field(9, arr.nbytes)
                pieces.append((head, arr, name))
    finally:
        if data_file is not None:
            data_file.close()
    with open(path, "wb") as f:
        _emit(f, skeleton, pieces, wait)


def _contiguous(name: str, arr: np.ndarray, wait) -> np.ndarray:
    if arr.flags.c_contiguous:
        return arr
    wait(name)  # a copy reads the values
    return np.ascontiguousarray(arr)


def write_to_bytes(skeleton: onnx.ModelProto, weights: dict[str, np.ndarray]) -> bytes:
    """The same bytes write_model would write (weights inside), in memory."""
    buf = io.BytesIO()
    arrays = {n: np.ascontiguousarray(a) for n, a in weights.items()}
    _emit(buf, skeleton, [(tensor_header(n, a) + _field(9, a.nbytes), a, n)
                          for n, a in arrays.items()])
    return buf.getvalue()


def _emit(f, skeleton: onnx.ModelProto, pieces, wait=lambda name: None) -> None:
    graph_base = skeleton.graph.SerializeToString(deterministic=True)
    tensor_lens = [len(h) + (a.nbytes if a is not None else 0) for h, a, _ in pieces]
    graph_len = len(graph_base) + sum(len(_field(5, n)) + n for n in tensor_lens)
    rest = onnx.ModelProto()
    rest.CopyFrom(skeleton)
    rest.ClearField("graph")
    for chunk in _chunks(rest.SerializeToString(deterministic=True), graph_len, graph_base,
                         pieces, tensor_lens, wait):
        f.write(chunk)


def _chunks(model_rest, graph_len, graph_base, pieces, tensor_lens, wait):
    yield model_rest + _field(7, graph_len) + graph_base
    for (head, arr, name), n in zip(pieces, tensor_lens):
        yield _field(5, n) + head
        if arr is not None and arr.nbytes:
            wait(name)
            yield memoryview(arr.reshape(-1)).cast("B")
