"""Integer and boolean tensors: casts between dtypes, comparisons (a bool tensor), floor
division and remainder.

The comparisons are what `a == b`, `a != b`, `a < b`, `a <= b`, `a > b` and `a >= b` make of
tensors, and `//` and `%` make floor_div and mod; all broadcast by NumPy's rule. Integer
tensors use `+ - * // % **`; `/` (true division) needs a float tensor, so an i64 `/` is an
error that says to cast first (torch would silently make floats, ONNX truncate)."""
from __future__ import annotations

from ..core.dtypes import INT_NAMES as INT_DTYPES, NAMES as DTYPES, torch_dtype
from ..ir.graph import TensorType
from .registry import Arg, Example, OpDef, ShapeError, Trait, no_macs, no_params, register
from .shapes import broadcast, same_dtype


# ------------------------------------------------------------------------------- cast
def _cast_infer(attrs, types):
    dtype = attrs["dtype"]
    if dtype not in DTYPES:
        raise ShapeError(f"cast to '{dtype}': no such dtype", (f"dtypes: {', '.join(DTYPES)}",))
    return [TensorType(dtype, types[0].shape)]


def cast_to(x, dtype: str):
    return x.to(torch_dtype(dtype))


def _cast_onnx(b, node, xs, ps):
    return b.op("Cast", xs, to=b.onnx_dtype(node.attrs["dtype"]))


def _cast_import(m):
    """Cast: computed now on a known value (a shape keeps its symbolic sizes), else `cast`;
    a type specc does not have is named."""
    from onnx import TensorProto
    names = {TensorProto.FLOAT: "f32", TensorProto.FLOAT16: "f16", TensorProto.DOUBLE: "f64",
             TensorProto.BFLOAT16: "bf16", TensorProto.INT32: "i32", TensorProto.INT64: "i64",
             TensorProto.BOOL: "bool"}
    to = names.get(m.attr("to"))
    if to is None:
        m.unsupported(f"Cast to ONNX type {m.attr('to')}, which specc does not have")
    if m.type(0).dtype == to:
        return m.same(0)
    if m.is_known(0) and not m.is_weight(0):
        arr = m.known(0)
        if arr.dtype == object:
            return m.fold(arr)  # a shape: its symbolic sizes stay integers
        np_type = {"f32": "float32", "f16": "float16", "f64": "float64", "i32": "int32",
                   "i64": "int64", "bool": "bool"}.get(to)
        if np_type is not None:
            return m.fold(arr.astype(np_type))
    return m.call("cast", m.value(0), dtype=to)


def _compare_import(name):
    def read(m):
        if m.foldable():
            import numpy as np
            fn = {"eq": np.equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
                  "ge": np.greater_equal}[name]
            return m.fold(np.asarray(fn(m.known(0), m.known(1))))
        return m.call(name, m.value(0), m.value(1))
    return read


def _mod_import(m):
    """ONNX Mod: Python's remainder (fmod=0) is `%`, C's (fmod=1) is fmod."""
    import numpy as np
    fmod = bool(m.attr("fmod", 0))
    if m.foldable():
        a, b = m.known(0), m.known(1)
        return m.fold(np.fmod(a, b) if fmod else np.mod(a, b))
    return m.call("fmod" if fmod else "mod", m.value(0), m.value(1))


# ----------------------------------------------------------------------------- arange
def _arange_infer(attrs, types):
    n = attrs["n"]
    if isinstance(n, int) and n < 1:
        raise ShapeError(f"arange needs at least one value, got n = {n}")
    return [TensorType("i64", (n,))]


def arange_like(n, like):
    """0, 1, ..., n - 1 on the device of `like` (an input that declares n's sizes)."""
    import torch
    return torch.arange(n, device=like.device)


def _arange_torch(b, node, xs, ps):
    n = node.attrs["n"]
    if isinstance(n, int):
        return b.constant(f"{node.name}.values", b.torch.arange(n))
    like = b.symbols[sorted(n.names())[0]][0]
    return b.call(arange_like, b.dim(n), like)


def _arange_onnx(b, node, xs, ps):
    zero, one = b.const([0], "i64", ()), b.const([1], "i64", ())
    return b.op("Range", [zero, b.scalar_dim(node.attrs["n"]), one])


def _range_import(m):
    """Range of known numbers is computed now; over a size known only at run time (the
    positions of a sequence of length T: Range(0, T, 1), its bound from a Shape subgraph)
    it is arange(T), shifted by a known start."""
    import numpy as np
    ins = [np.asarray(m.known(i)) if m.is_known(i) else m.need(i) for i in range(3)]
    start, limit, delta = (a.reshape(-1)[0] if a.size == 1 else m.refuse(
        f"Range bounds must be single numbers, got {a.shape}") for a in ins)
    if all(isinstance(v, (int, float, np.number)) for v in (start, limit, delta)):
        n = max(int(np.ceil((limit - start) / delta)), 0)
        return m.fold((ins[0] + np.arange(n) * ins[2]).astype(ins[0].dtype))
    if not all(isinstance(v, (int, np.integer)) for v in (start, delta)) or delta != 1:
        m.refuse(f"Range({start}, {limit}, {delta}) over a symbolic size: specc's arange "
                 "steps by 1 from a known start")
    if ins[0].dtype != object and m.type(0).dtype != "i64":
        m.refuse(f"Range of {m.type(0).dtype} over a symbolic size (arange makes i64)")
    start = int(start)
    y = m.call("arange", n=limit - start if start else limit)
    return m.call("add", y, m.constant(start, "i64")) if start else y


# ------------------------------------------------------------------------ comparisons
_COMPARE = {"eq": ("==", "eq", "Equal"), "ne": ("!=", "ne", "Equal"),
            "lt": ("<", "lt", "Less"), "le": ("<=", "le", "LessOrEqual"),
            "gt": (">", "gt", "Greater"), "ge": (">=", "ge", "GreaterOrEqual")}


def _compare_infer(name):
    symbol = _COMPARE[name][0]

    def infer(attrs, types):
        dtype = same_dtype(types, f"'{symbol}'")
        if dtype == "bool" and name not in ("eq", "ne"):
            raise ShapeError(f"'{symbol}' does not order bool tensors (use == or !=)")
        return [TensorType("bool", broadcast([t.shape for t in types], f"'{symbol}'"))]
    return infer


def _compare(name):
    symbol, torch_fn, onnx_op = _COMPARE[name]

    def lower_onnx(b, node, xs, ps):
        out = b.op(onnx_op, xs)
        return b.op("Not", [out]) if name == "ne" else out

    return OpDef(
        name=name, doc=f"Elementwise a {symbol} b as a bool tensor, broadcasting by NumPy's "
                       f"rule (what `a {symbol} b` makes of tensors).",
        shape="the broadcast of a's and b's shapes, dtype bool",
        example=Example(("f32[N, 3, 4]", "f32[4]"), f"cast(x0 {symbol} x1, \"f32\") * x0"),
        args=(Arg("a", "tensor"), Arg("b", "tensor")), infer=_compare_infer(name),
        torch=lambda b, node, xs, ps: b.call(getattr(b.torch, torch_fn), xs[0], xs[1]),
        onnx=lower_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
        traits=frozenset({Trait.ELEMENTWISE, Trait.JOIN}),
        onnx_import={onnx_op: _compare_import(name)} if name != "ne" else {})


# ------------------------------------------------------------- floor division, remainder
def _numeric_infer(name, symbol):
    def infer(attrs, types):
        dtype = same_dtype(types, f"'{symbol}'")
        if dtype == "bool":
            raise ShapeError(f"'{symbol}' is not defined for bool tensors")
        return [TensorType(dtype, broadcast([t.shape for t in types], f"'{symbol}'"))]
    return infer


def _mod_onnx(b, node, xs, ps):
    """Python's remainder (the sign of the divisor), as torch.remainder."""
    if b.outs[0].dtype in INT_DTYPES:
        return b.op("Mod", xs, fmod=0)
    a, d = xs
    return b.op("Sub", [a, b.op("Mul", [b.op("Floor", [b.op("Div", [a, d])]), d])])


def _floor_div_onnx(b, node, xs, ps):
    """Integers: (a - a mod d) / d divides exactly, so Div's truncation is floor division."""
    a, d = xs
    if b.outs[0].dtype in INT_DTYPES:
        return b.op("Div", [b.op("Sub", [a, b.op("Mod", [a, d], fmod=0)]), d])
    return b.op("Floor", [b.op("Div", [a, d])])


def _arith(name, symbol, torch_fn, onnx, doc, imports=None):
    return OpDef(
        name=name, doc=doc, shape="the broadcast of a's and b's shapes",
        example=Example(("i64[N, 3, 4]", "i64[4]"), f"x0 {symbol} (abs(x1) + 1)"),
        args=(Arg("a", "tensor"), Arg("b", "tensor")), infer=_numeric_infer(name, symbol),
        torch=lambda b, node, xs, ps: b.call(getattr(b.torch, torch_fn), xs[0], xs[1]),
        onnx=onnx, params=no_params, macs=no_macs, tolerance=1e-5,
        traits=frozenset({Trait.ELEMENTWISE, Trait.JOIN}),
        onnx_import=imports or {})


register(
    OpDef(name="arange", shape="-> i64 [n]",
          example=Example(("f32[N, 5]",), "x0 + cast(arange(x0.shape[1]), \"f32\")"),
          doc="The positions 0, 1, ..., n - 1 as an i64 tensor [n]; n may be a symbolic size "
              "(arange(T): the positions of a sequence of any length).",
          args=(Arg("n", "dim"),), infer=_arange_infer, torch=_arange_torch,
          onnx=_arange_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset(), onnx_import={"Range": _range_import}),
    OpDef(name="cast", shape="same as x, of `dtype`",
          example=Example(("f32[N, 3, 4]",), "cast(x0 * 3.0, \"i64\")"),
          doc="x converted to `dtype` (f16, bf16, f32, f64, i32, i64, bool): floats to "
              "integers truncate toward zero, anything to bool is x != 0, bool to numbers "
              "0 and 1.",
          args=(Arg("x", "tensor"), Arg("dtype", "str")), infer=_cast_infer,
          torch=lambda b, node, xs, ps: b.call(cast_to, xs[0], node.attrs["dtype"]),
          onnx=_cast_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset({Trait.ELEMENTWISE}),
          onnx_import={"Cast": _cast_import}),
    *(_compare(n) for n in _COMPARE),
    _arith("floor_div", "//", "floor_divide", _floor_div_onnx,
           "Elementwise floor(a / b) (what `a // b` makes of tensors), broadcasting by NumPy's "
           "rule; on integers, exact floor division as in Python."),
    _arith("mod", "%", "remainder", _mod_onnx,
           "Elementwise remainder a - floor(a / b) * b, with the sign of b as in Python and "
           "torch.remainder (what `a % b` makes of tensors), broadcasting by NumPy's rule.",
           imports={"Mod": _mod_import}),
)

