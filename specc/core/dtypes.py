"""The element types a spec can name, with what every stage calls them: one row per dtype.

The ONNX column holds onnx.TensorProto's numbers and the numpy and torch columns hold names,
resolved when asked (`numpy_dtype`, `torch_dtype`): the front half, which reads this table,
imports neither onnx nor torch. numpy has no bfloat16; onnx reads and writes it through
ml_dtypes (an onnx dependency), and so does specc.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    name: str  # as a spec writes it: f32[N, 3]
    onnx: int  # onnx.TensorProto.DataType
    numpy: str  # numpy's name (bfloat16: ml_dtypes')
    torch: str  # the torch.dtype's name
    bytes: int
    floating: bool


TABLE = (
    DType("f16", 10, "float16", "float16", 2, True),
    DType("bf16", 16, "bfloat16", "bfloat16", 2, True),
    DType("f32", 1, "float32", "float32", 4, True),
    DType("f64", 11, "float64", "float64", 8, True),
    DType("i32", 6, "int32", "int32", 4, False),
    DType("i64", 7, "int64", "int64", 8, False),
    DType("bool", 9, "bool", "bool", 1, False),
)
BY_NAME = {d.name: d for d in TABLE}
NAMES = tuple(d.name for d in TABLE)
FLOAT_NAMES = tuple(d.name for d in TABLE if d.floating)
INT_NAMES = tuple(d.name for d in TABLE if not d.floating and d.name != "bool")


def numpy_dtype(name: str):
    """The numpy dtype of a spec dtype (bf16: ml_dtypes.bfloat16)."""
    import numpy as np
    if name == "bf16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(BY_NAME[name].numpy)


def torch_dtype(name: str):
    import torch
    return getattr(torch, BY_NAME[name].torch)


def onnx_type(name: str) -> int:
    return BY_NAME[name].onnx


def from_numpy(dtype) -> str | None:
    """The spec dtype of a numpy dtype, or None when specc has none."""
    return next((d.name for d in TABLE if numpy_dtype(d.name) == dtype), None)


def from_onnx(elem: int) -> str | None:
    """The spec dtype of an onnx.TensorProto.DataType, or None when specc has none."""
    return next((d.name for d in TABLE if d.onnx == elem), None)
