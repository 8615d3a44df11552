"""Just enough of protobuf's wire format to find where an ONNX file keeps its weights.

protobuf parses a message whole, so `onnx.load` of a 240 MB model holds the file's bytes and
the parsed copy at once. The import walks the file instead: every field of the model and its
graph is read and parsed by protobuf, except the bytes of each initializer's `raw_data`, whose
offset and length are recorded so the weights are read one at a time when they are written.
(Field numbers are ONNX's: onnx/onnx.proto.)"""
from __future__ import annotations

import os

MODEL_GRAPH = 7          # ModelProto.graph
GRAPH_INITIALIZER = 5    # GraphProto.initializer
GRAPH_SPARSE = 15        # GraphProto.sparse_initializer
TENSOR_RAW_DATA = 9      # TensorProto.raw_data


class Malformed(Exception):
    """Not protobuf's wire format (or cut short)."""


class Reader:
    """Positional reads of a file through a small window (the walk touches only headers)."""

    WINDOW = 1 << 16

    def __init__(self, fd: int, size: int):
        self.fd, self.size = fd, size
        self.start, self.buf = 0, b""

    def read(self, pos: int, n: int) -> bytes:
        if pos < self.start or pos + n > self.start + len(self.buf):
            if n > self.WINDOW:
                return os.pread(self.fd, n, pos)
            self.start, self.buf = pos, os.pread(self.fd, self.WINDOW, pos)
        return self.buf[pos - self.start:pos - self.start + n]

    def varint(self, pos: int) -> tuple[int, int]:
        value, shift = 0, 0
        while True:
            if pos >= self.size:
                raise Malformed("the file ends inside a field")
            byte = self.read(pos, 1)[0]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, pos
            shift += 7
            if shift > 63:
                raise Malformed("a varint longer than 10 bytes")


def fields(r: Reader, start: int, end: int):
    """(field number, field start, payload start, payload end) for each field in [start, end);
    the payload of a varint or fixed field is its bytes."""
    pos = start
    while pos < end:
        head = pos
        tag, pos = r.varint(pos)
        number, kind = tag >> 3, tag & 7
        if number == 0:
            raise Malformed("field number 0")
        if kind == 0:
            _, after = r.varint(pos)
        elif kind == 1:
            after = pos + 8
        elif kind == 5:
            after = pos + 4
        elif kind == 2:
            length, pos = r.varint(pos)
            after = pos + length
        else:
            raise Malformed(f"wire type {kind}")
        if after > end:
            raise Malformed("a field runs past the end of its message")
        yield number, head, pos, after
        pos = after


def split(r: Reader, start: int, end: int, keep_out: int):
    """The bytes of every field but `keep_out`, and the (payload start, end) of each of those."""
    kept, held = [], []
    for number, head, body, after in fields(r, start, end):
        if number == keep_out:
            held.append((body, after))
        else:
            kept.append(r.read(head, after - head))
    return b"".join(kept), held
