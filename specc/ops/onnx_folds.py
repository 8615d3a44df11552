"""ONNX ops the import computes away: they make constants or shapes, and a spec states those
directly (numbers, declared tensors, dims). Each is read here and nowhere else; an ONNX op
that has an op of its own is read by that op's entry."""
from __future__ import annotations

import numpy as np

from .registry import register_import


def _shape(m):
    """Shape of a tensor: its dims, symbolic ones included (start/end from opset 15)."""
    x = m.type(0)
    start, end = m.attr("start", 0), m.attr("end", x.rank)
    dims = list(x.shape)[slice(start, end)]
    return m.fold(m.shape_array(dims))


def _size(m):
    n = 1
    for d in m.type(0).shape:
        n = n * (d if isinstance(d, int) else m.shape_array([d])[0])
    return m.fold(np.asarray(n, dtype=np.int64) if isinstance(n, int) else
                  np.asarray(n, dtype=object))


def _constant(m):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        v = m.attr(key)
        if v is not None:
            if key.startswith("value_int"):
                return m.fold(np.asarray(v, dtype=np.int64))
            return m.fold(np.asarray(v, dtype=np.float32) if key != "value" else v)
    m.refuse("a Constant that holds strings or a sparse tensor")


def _constant_of_shape(m):
    """One value in a known shape; over symbolic sizes (PyTorch's zero state of an RNN for
    an open batch), that value expanded to them at run time."""
    value = m.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    shape = m.known(0)
    if shape is not None and shape.dtype == object:
        return m.call("expand", m.value_of(value[:1].reshape(())), shape=m.dims(0))
    return m.fill(value[:1].reshape(()), m.ints(0))


def _eye_like(m):
    """EyeLike: ones on diagonal k of a matrix of the input's (known) shape."""
    x = m.type(0)
    if any(not isinstance(d, int) for d in x.shape) or x.rank != 2:
        m.refuse(f"EyeLike of {list(x.shape)} (a matrix of known size is needed)")
    from onnx import helper
    to = m.attr("dtype")
    dt = helper.tensor_dtype_to_np_dtype(to) if to is not None else \
        {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i32": np.int32,
         "i64": np.int64, "bool": np.bool_}[x.dtype]
    return m.fold(np.eye(x.shape[0], x.shape[1], k=m.attr("k", 0), dtype=dt))


register_import("onnx_folds", {"Shape": _shape, "Size": _size, "Constant": _constant,
                               "ConstantOfShape": _constant_of_shape,
                               "EyeLike": _eye_like})
