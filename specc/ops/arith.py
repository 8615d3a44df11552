"""Elementwise tensor arithmetic, broadcasting by NumPy's rule: shapes are aligned at their
last dims and each pair must be equal or 1 (`[N, C, 1, 1] * [N, C, H, W]`, `[N, T, D] + [D]`).
Two different dims other than 1 (a residual join of mismatched maps) are an error."""
from __future__ import annotations

import numpy as np

from ..ir.graph import TensorType
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register, Trait
from .shapes import broadcast, same_dtype

_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_TORCH = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "pow": "pow"}
_ONNX = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow"}
_SUMS = frozenset({Trait.ELEMENTWISE, Trait.JOIN, Trait.BACKWARD_IGNORES_OUTPUT})
_PRODUCTS = frozenset({Trait.ELEMENTWISE, Trait.JOIN})
_TRAITS = {"add": _SUMS, "sub": _SUMS, "mul": _PRODUCTS, "div": _PRODUCTS, "pow": _PRODUCTS}


def _binary_infer(name):
    def infer(attrs, types):
        dtype = same_dtype(types, name)
        if dtype == "bool":
            raise ShapeError(f"'{_SYMBOL[name]}' is not defined for bool tensors")
        if name == "div" and dtype in ("i32", "i64"):
            raise ShapeError(f"'/' divides float tensors; these are {dtype}",
                             ("use // for integer (floor) division, or cast(x, \"f32\") first",))
        return [TensorType(dtype, broadcast([t.shape for t in types], f"'{_SYMBOL[name]}'"))]
    return infer


def _np_binary(name, a, b):
    if name == "div" and np.asarray(a).dtype.kind in "iuO" and np.asarray(b).dtype.kind in "iuO":
        if np.asarray(a).dtype == object or np.asarray(b).dtype == object:
            return a // b  # sizes: positive
        return np.trunc(np.divide(a, b)).astype(np.result_type(a, b))  # ONNX truncates
    fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
          "pow": np.power}[name]
    out = fn(a, b)
    return out.astype(np.asarray(a).dtype) if name == "pow" else out


def _binary_import(name):
    """Add, Sub, Mul, Div, Pow: computed now on known values (shapes of dims included),
    else the op; Pow's exponent takes the base's dtype (ONNX lets them differ)."""
    def read(m):
        if m.foldable():
            return m.fold(_np_binary(name, m.known(0), m.known(1)))
        if name == "div" and m.type(0).dtype in ("i32", "i64"):
            m.refuse("integer Div (truncating) at run time; specc's div divides numbers")
        a = m.value(0)
        if name == "pow" and m.type(1).dtype != m.type(0).dtype:
            if not m.is_known(1) or m.type(1).shape != ():
                m.refuse("Pow with an exponent of another type, computed at run time")
            return m.call(name, a, m.constant(float(m.known(1)), m.type(0).dtype))
        return m.call(name, a, m.value(1))
    return read


def _sum_import(m):
    """Sum of one or more tensors: a chain of adds."""
    if m.foldable():
        out = m.known(0)
        for i in range(1, m.n_inputs):
            out = out + m.known(i)
        return m.fold(out)
    y = m.value(0)
    for i in range(1, m.n_inputs):
        y = m.call("add", y, m.value(i))
    return y


def _mean_import(m):
    """Mean of one or more tensors: their sum divided by the count."""
    ins = [i for i in range(m.n_inputs) if m.has(i)]
    if m.foldable():
        return m.fold((sum(m.known(i) for i in ins) / len(ins)).astype(m.known(0).dtype))
    y = _sum_import(m)
    return y if len(ins) == 1 else m.call("div", y, m.constant(float(len(ins)), y.type.dtype))


def _binary(name):
    return OpDef(
        name=name, doc=f"Elementwise a {_SYMBOL[name]} b, broadcasting by NumPy's rule.",
        shape="the broadcast of a's and b's shapes",
        example=Example(("f32[N, 3, 4]", "f32[4]"),
                        f"(abs(x0) + 0.5) {_SYMBOL[name]} (abs(x1) + 0.5)"),
        args=(Arg("a", "tensor"), Arg("b", "tensor")), infer=_binary_infer(name),
        torch=lambda b, node, xs, ps: b.call(getattr(b.torch, _TORCH[name]), xs[0], xs[1]),
        onnx=lambda b, node, xs, ps: b.op(_ONNX[name], xs),
        traits=_TRAITS[name], params=no_params, macs=no_macs, tolerance=1e-5,
        symbol=_SYMBOL[name], onnx_import={_ONNX[name]: _binary_import(name), **(
            {"Sum": _sum_import, "Mean": _mean_import} if name == "add" else {})})


def _constant_torch(b, node, xs, ps):
    """A Python number: torch ops take it directly (an int keeps integer arithmetic integer)."""
    value = node.attrs["value"]
    return int(value) if b.outs[0].dtype in ("i32", "i64") else float(value)


def _constant_onnx(b, node, xs, ps):
    return b.const([node.attrs["value"]], dtype=b.outs[0].dtype, shape=())


register(
    *(_binary(n) for n in _SYMBOL),
    OpDef(name="constant",
          shape="a number -> [] (rank 0)",
          example=Example(("f32[N, 3]",), "x0 + 1.5"),
          doc="A rank-0 constant (numbers in tensor arithmetic become these).",
          args=(Arg("value", "float"), Arg("dtype", "str", "f32")),
          infer=lambda attrs, types: [TensorType(attrs["dtype"], ())],
          torch=_constant_torch, onnx=_constant_onnx,
          traits=frozenset({Trait.INTERNAL}), params=no_params, macs=no_macs, tolerance=1e-5),
)
