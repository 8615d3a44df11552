"""Writing an import: the weights as safetensors, streamed one tensor at a time (a 240 MB
model is never in memory twice), and the spec beside them, both staged and checked before
either is moved into place."""
from __future__ import annotations

import json
import os

import numpy as np

from .tensors import SPECC_TO_NUMPY

_CODES = {"f32": "F32", "f16": "F16", "bf16": "BF16", "f64": "F64", "i32": "I32",
          "i64": "I64", "bool": "BOOL"}
_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


def write_safetensors(path, tensors: list, metadata: dict | None = None) -> int:
    """`tensors`: (name, TensorRef) in order. The format (huggingface/safetensors): an
    8-byte little-endian header length, a JSON header of dtype, shape and byte offsets,
    then the bytes. safetensors' Python API saves only a dict held in memory, so the file is
    written here, tensor by tensor, and read back by that library in the tests."""
    header, offset = {}, 0
    for name, ref in tensors:
        n = ref.size * _BYTES[ref.dtype]
        header[name] = {"dtype": _CODES[ref.dtype], "shape": list(ref.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for name, ref in tensors:
            arr = np.asarray(ref.array())
            want = SPECC_TO_NUMPY.get(ref.dtype)
            if want is not None and arr.dtype != want:
                arr = arr.astype(want)
            if tuple(arr.shape) != tuple(ref.shape):
                raise AssertionError(f"{name}: {arr.shape} != {ref.shape}")
            arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"), copy=False))
            f.write(arr.reshape(-1).view(np.uint8).data if arr.size else b"")
        f.flush()
        os.fsync(f.fileno())
    return offset
