"""Tensors an imported model holds, read only when written: from the model file (its own
bytes or an external data file, by offset), from a TensorProto in memory, filled with one
value, or derived from another by a function (a transposed weight)."""
from __future__ import annotations

import os

import numpy as np

from ..core.dtypes import NAMES, numpy_dtype, onnx_type

# ONNX element types and numpy dtypes of specc's dtypes: views of the one table
# (specc.core.dtypes), keyed for lookups while reading a model
ONNX_TO_SPECC = {onnx_type(n): n for n in NAMES}
SPECC_TO_NUMPY = {n: numpy_dtype(n) for n in NAMES}
NUMPY_TO_SPECC = {v: k for k, v in SPECC_TO_NUMPY.items()}


def onnx_type_name(elem: int) -> str:
    from onnx import TensorProto
    try:
        return TensorProto.DataType.Name(elem).lower()
    except ValueError:
        return f"type {elem}"


class TensorRef:
    """A tensor by reference: `shape`, `dtype` (specc's name) and `array()` on demand."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def array(self) -> np.ndarray:
        raise NotImplementedError


class FileRef(TensorRef):
    """Little-endian raw bytes at `offset` in a file (the model's raw_data or external data)."""

    def __init__(self, name: str, dtype: str, shape, path: str, offset: int, length: int):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.path, self.offset, self.length = path, offset, length

    def array(self) -> np.ndarray:
        """Read straight into a new array (one copy of the bytes, never two)."""
        dtype = SPECC_TO_NUMPY[self.dtype]
        out = np.empty(self.shape, dtype=dtype.newbyteorder("<"))
        view = memoryview(out.reshape(-1).view(np.uint8))
        fd = os.open(self.path, os.O_RDONLY)
        try:
            done = 0
            while done < self.length:
                n = os.preadv(fd, [view[done:]], self.offset + done)
                if n <= 0:
                    break
                done += n
        finally:
            os.close(fd)
        if done != self.length:
            from ..core.diagnostics import SpeccError
            raise SpeccError(f"{self.path} ended before the data of '{self.name}' "
                             f"({done:,} of {self.length:,} bytes)")
        return out.astype(dtype, copy=False)


class ProtoRef(TensorRef):
    def __init__(self, proto, dtype: str):
        self.proto, self.name, self.dtype = proto, proto.name, dtype
        self.shape = tuple(int(d) for d in proto.dims)

    def array(self) -> np.ndarray:
        from onnx import numpy_helper
        return np.asarray(numpy_helper.to_array(self.proto)).reshape(self.shape)


class ArrayRef(TensorRef):
    def __init__(self, name: str, arr: np.ndarray):
        self.name, self.arr = name, arr
        self.dtype, self.shape = NUMPY_TO_SPECC[arr.dtype], tuple(arr.shape)

    def array(self) -> np.ndarray:
        return self.arr


class FillRef(TensorRef):
    """One value everywhere (ConstantOfShape): made only when written."""

    def __init__(self, name: str, value: np.ndarray, shape):
        self.name, self.value = name, value.reshape(())
        self.dtype, self.shape = NUMPY_TO_SPECC[value.dtype], tuple(int(d) for d in shape)

    def array(self) -> np.ndarray:
        return np.full(self.shape, self.value, dtype=self.value.dtype)


class DerivedRef(TensorRef):
    """`fn(base.array())`, computed when written; `shape` is stated by whoever derives it."""

    def __init__(self, name: str, base: TensorRef, fn, shape, dtype: str | None = None):
        self.name, self.base, self.fn = name, base, fn
        self.shape, self.dtype = tuple(shape), dtype or base.dtype

    def array(self) -> np.ndarray:
        out = np.array(self.fn(self.base.array()), order="C")
        assert out.shape == self.shape, (self.name, out.shape, self.shape)
        return out


def root_if_undone(ref, fn) -> TensorRef | None:
    """The tensor a chain of derived tensors started from, when `fn` applied to `ref` gives it
    back unchanged (a weight the export laid out anew, and the import lays out back); else
    None. Decided on a probe of distinct, signed, fractional numbers: only a pure relayout
    (rows picked, dims added or removed, transposes) that composes to the identity maps it
    to itself."""
    if not isinstance(ref, DerivedRef):
        return None
    chain = []
    while isinstance(ref, DerivedRef):
        chain.append(ref.fn)
        ref = ref.base
    if ref.size > 1 << 26:
        return None
    probe = (np.arange(ref.size, dtype=np.float64) - ref.size / 2 + 0.25).reshape(ref.shape)
    out = probe
    for f in reversed(chain):
        out = f(out)
    out = np.asarray(fn(out))
    return ref if out.shape == probe.shape and np.array_equal(out, probe) else None
