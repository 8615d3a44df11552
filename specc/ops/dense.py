"""Fully connected layers and matrix products."""
from __future__ import annotations

import numpy as np

from ..core.dtypes import FLOAT_NAMES as FLOAT_DTYPES
from ..ir.graph import Init, TensorType
from .registry import (HALF_SUMS, Arg, Example, no_macs, no_params, OpDef, ParamSpec, register,
                       ShapeError, Trait)
from .onnx_read import from_the_end, unguarded
from .rows import aligned, leading, same_rows
from .shapes import broadcast, float_input, fmt, known, same_dtype
from ..ir.sym import same

DEFAULT = Init("default")


def _features(x: TensorType) -> int:
    if x.rank < 2:
        raise ShapeError(f"linear expects an input [N, ..., features], got {fmt(x.shape)}")
    float_input(x, "linear")
    return known(x.shape[-1], "linear's feature count")


def _out_features(attrs) -> int:
    """`features`, or the rows of the weight it is given (a tied LM head: linear(h,
    weight=wte) has as many outputs as the table has rows)."""
    f = attrs["features"]
    if f is None:
        if attrs.get("weight") is None:
            raise ShapeError("linear needs `features`, or a `weight` to use")
        f = attrs["weight"].type.shape[0]
    if f < 1:
        raise ShapeError(f"linear needs at least 1 output feature, got {f}")
    return f


def _linear_infer(attrs, types):
    x = types[0]
    _features(x)
    return [TensorType(x.dtype, (*x.shape[:-1], _out_features(attrs)))]


def _linear_params(attrs, types):
    f_in, f_out = _features(types[0]), _out_features(attrs)
    out = {"weight": ParamSpec((f_out, f_in), attrs["init"], fan_in=f_in, fan_out=f_out)}
    if attrs["bias"]:
        out["bias"] = ParamSpec((f_out,), attrs["bias_init"], fan_in=f_in, fan_out=f_out)
    return out


def _linear_macs(attrs, types, outs):
    return outs[0].per_sample() * _features(types[0])


def _linear_torch(b, node, xs, ps):
    return b.call(b.F.linear, xs[0], ps["weight"], ps.get("bias"))


def _linear_onnx(b, node, xs, ps):
    if b.types[0].rank == 2:
        inputs = [xs[0], ps["weight"]] + ([ps["bias"]] if "bias" in ps else [])
        return b.op("Gemm", inputs, transB=1)
    y = b.op("MatMul", [xs[0], b.op("Transpose", [ps["weight"]], perm=[1, 0])])
    return b.op("Add", [y, ps["bias"]]) if "bias" in ps else y


def _matmul_infer(attrs, types):
    a, b = types
    if a.rank < 2 or b.rank < 2:
        raise ShapeError(f"matmul needs operands of rank >= 2, got {fmt(a.shape)} and {fmt(b.shape)}")
    dtype = same_dtype(types, "matmul")
    if not same(a.shape[-1], b.shape[-2]):
        raise ShapeError(f"matmul inner dimensions differ: {fmt(a.shape)} @ {fmt(b.shape)} "
                         f"({a.shape[-1]} != {b.shape[-2]})")
    lead = broadcast([a.shape[:-2], b.shape[:-2]], "matmul")
    return [TensorType(dtype, (*lead, a.shape[-2], b.shape[-1]))]


def _matmul_axes(attrs, types, axis):
    """a's rows make the output's rows, b's columns its columns; batch dims broadcast."""
    a, b = types
    rank = max(a.rank, b.rank)
    if axis == rank - 2:
        return (a.rank - 2, None)
    if axis == rank - 1:
        return (None, b.rank - 1)
    return aligned(types, rank, axis)


def _matmul_macs(attrs, types, outs):
    return outs[0].per_sample() * types[0].shape[-1]


def _table(attrs) -> tuple[int, int]:
    """(rows, width): `num` and `dim`, or the shape of the `table` it is given."""
    num, dim, table = attrs["num"], attrs["dim"], attrs.get("table")
    if table is not None:
        if table.type.rank != 2:
            raise ShapeError(f"an embedding table is [num, dim], got {table.type}")
        num = table.type.shape[0] if num is None else num
        dim = table.type.shape[1] if dim is None else dim
    if num is None or dim is None:
        raise ShapeError("embedding needs `num` and `dim`, or a `table` to look rows up in")
    if num < 1 or dim < 1:
        raise ShapeError("embedding needs a positive table size and width")
    return num, dim


def _embedding_infer(attrs, types):
    x = types[0]
    if x.dtype not in ("i32", "i64"):
        raise ShapeError(f"embedding takes integer indices (i64 or i32), got {x.dtype}")
    dtype = attrs["table"].type.dtype if attrs.get("table") is not None else "f32"
    return [TensorType(dtype, (*x.shape, _table(attrs)[1]))]


def _embedding_params(attrs, types):
    num, dim = _table(attrs)
    dtype = attrs["table"].type.dtype if attrs.get("table") is not None else "f32"
    return {"weight": ParamSpec((num, dim), attrs["init"], fan_in=num, fan_out=dim, dtype=dtype)}


# ------------------------------------------------------------------------ import
def _bias_after(m, features: int):
    """The Add right after a product that adds a known [features] vector: linear's bias."""
    add = m.sole_user()
    if add is None or add.op_type != "Add":
        return None
    k = 1 if add.is_known(1) else 0 if add.is_known(0) else None
    if k is None or add.type(k).shape not in ((features,), (1, features)):
        return None
    m.absorb(add)
    return add.weight(k, lambda a: a.reshape(-1))


def _gemm_import(m):
    """Gemm(A, B, C) = alpha A' B' + beta C: a linear layer when B is a weight (alpha and
    beta scale its weight and bias; a C that is not one bias per feature is added after it),
    else a matmul."""
    alpha, beta = m.attr("alpha", 1.0), m.attr("beta", 1.0)
    trans_a, trans_b = m.attr("transA", 0), m.attr("transB", 0)
    a = m.value(0)
    if trans_a:
        a = m.call("transpose", a, perm=[1, 0])
    if m.shared(1) and trans_b and alpha == 1.0 and beta == 1.0 and m.has(2) and \
            m.type(1).rank == 2 and m.type(2).shape == (m.type(1).shape[0],):
        # a declared [out, in] weight and [out] bias several products share (an unrolled
        # loop's step): affine, which is this Gemm
        return m.call("affine", a, m.value(1), m.value(2))
    if (m.is_weight(1) or m.is_known(1)) and not m.shared(1):
        def weight(w):
            w = w if trans_b else w.T
            return w * np.asarray(alpha, w.dtype) if alpha != 1.0 else w
        w = m.weight(1, weight)
        features = w.shape[0]
        bias = m.has(2) and m.type(2).shape in ((features,), (1, features)) and \
            (m.is_known(2) or m.is_weight(2))
        weights = {"weight": w}
        if bias:
            weights["bias"] = m.weight(2, lambda b: (b * np.asarray(beta, b.dtype)
                                                     if beta != 1.0 else b).reshape(-1))
        y = m.call("linear", a, features=features, bias=bias, weights=weights)
        return _plus_c(m, y, beta) if m.has(2) and not bias else y
    b = m.value(1)
    if trans_b:
        b = m.call("transpose", b, perm=[1, 0])
    y = m.call("matmul", a, b)
    if alpha != 1.0:
        y = m.call("mul", y, m.constant(alpha, y.type.dtype))
    return _plus_c(m, y, beta) if m.has(2) else y


def _plus_c(m, y, beta: float):
    c = m.value(2)
    if beta != 1.0:
        c = m.call("mul", c, m.constant(beta, c.type.dtype))
    return m.call("add", y, c)


def _matmul_import(m):
    """MatMul by a known 2-D matrix is a linear layer (with the Add after it as its bias);
    otherwise, or when several nodes share that matrix, a matmul."""
    if m.foldable():
        return m.fold(np.matmul(m.known(0), m.known(1)))
    a, b = m.type(0), m.type(1)
    if a.rank < 2 or b.rank < 2:
        return _matmul_vectors(m, a, b)
    if b.rank == 2 and (m.is_known(1) or m.is_weight(1)) and a.dtype in FLOAT_DTYPES \
            and not m.shared(1):
        w = m.weight(1, lambda w: w.T)
        bias = _bias_after(m, w.shape[0])
        weights = {"weight": w} if bias is None else {"weight": w, "bias": bias}
        return m.call("linear", m.value(0), features=w.shape[0], bias=bias is not None,
                      weights=weights)
    return m.call("matmul", m.value(0), m.value(1))


def _matmul_vectors(m, a, b):
    """numpy's matmul of a 1-D operand: it is made a matrix (a row, or a column), and that
    dim removed from the product."""
    x, y = m.value(0), m.value(1)
    if a.rank == 1:
        x = m.call("unsqueeze", x, axes=[0])
    if b.rank == 1:
        y = m.call("unsqueeze", y, axes=[1])
    out = m.call("matmul", x, y)
    drop = ([out.type.rank - 2] if a.rank == 1 else []) + ([out.type.rank - 1]
                                                             if b.rank == 1 else [])
    return m.call("squeeze", out, axes=drop)


def _embedding_onnx(b, node, xs, ps):
    """Gather of the table's rows. torch's embedding refuses a negative index, ONNX's Gather
    counts it from the end: a negative index is sent past any table first, so that
    onnxruntime refuses it too (as take's lowering does)."""
    idt = b.types[0].dtype
    past = 2 ** 31 - 1 if idt == "i32" else 2 ** 62
    index = b.op("Where", [b.op("Less", [xs[0], b.const([0], idt, ())]),
                           b.const([past], idt, ()), xs[0]])
    return b.op("Gather", [ps["weight"], index], axis=0)


def _gather_import(m):
    """Gather: computed now when data and indices are known (shapes), an embedding when a
    weight table is indexed by a tensor of ids, else take."""
    axis = m.attr("axis", 0)
    if m.all_known() and not m.is_weight(0):
        data, index = m.known(0), m.known(1)
        return m.fold(np.take(data, np.asarray(index).astype(np.int64), axis=axis))
    if m.all_known():  # rows of a weight picked by known indices: still that weight
        index = np.asarray(m.known(1)).astype(np.int64)
        return m.derive(0, lambda a: np.take(a, index, axis=axis))
    x, ids = m.type(0), m.type(1)
    a = axis % x.rank
    plain = unguarded(m, 1, x.shape[a])  # the index before specc's own never-wrap guard
    if m.is_weight(0) and x.rank == 2 and axis == 0 and ids.dtype in ("i32", "i64") \
            and not m.shared(0):
        w = m.weight(0)
        return m.call("embedding", plain or m.value(1), num=w.shape[0], dim=w.shape[1],
                      weights={"weight": w})
    index = plain or from_the_end(m, 1, x.shape[a])
    return m.call("take", m.value(0), index, axis=a)


register(
    OpDef(name="embedding",
          shape="integer indices [...] -> [..., dim]",
          example=Example(("i64[N, 5]",), "embedding(x0, 7, 4)"),
          doc="Look up rows of a table: integer indices [...] -> [..., dim]. Owns `weight` "
              "[num, dim] (torch.nn.Embedding; initialised N(0, 1) like it), or looks rows up "
              "in a declared parameter: embedding(idx, table=wte) shares `wte` with, say, "
              "the output layer linear(h, weight=wte) (a tied LM head).",
          args=(Arg("x", "tensor"), Arg("num", "int", None), Arg("dim", "int", None),
                Arg("init", "init", Init("normal", (0.0, 1.0))), Arg("table", "param", None)),
          infer=_embedding_infer, params=_embedding_params, ties={"table": "weight"},
          torch=lambda b, node, xs, ps: b.call(b.F.embedding, xs[0], ps["weight"]),
          onnx=_embedding_onnx,
          macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"Gather": _gather_import}),
    OpDef(name="linear", half=HALF_SUMS,
          shape="[..., F] -> [..., features]",
          example=Example(("f32[N, 7]",), "linear(x0, 5)"),
          doc="Fully connected layer y = x W^T + b over the last dim. Owns `weight` [out, in] "
              "and `bias` [out], or uses a declared parameter as its weight: linear(h, "
              "weight=wte, bias=false) is a language model's head tied to its embedding.",
          args=(Arg("x", "tensor"), Arg("features", "int", None), Arg("bias", "bool", True),
                Arg("init", "init", DEFAULT), Arg("bias_init", "init", DEFAULT),
                Arg("weight", "param", None)),
          infer=_linear_infer, params=_linear_params, macs=_linear_macs, ties={"weight": "weight"},
          torch=_linear_torch, onnx=_linear_onnx, tolerance=1e-4,
          rows=leading(lambda attrs: 1),
          traits=frozenset({Trait.WEIGHTED, Trait.BACKWARD_IGNORES_OUTPUT}),
          synapses={"weight": "dense", "bias": "bias"},
          onnx_import={"Gemm": _gemm_import}),
    OpDef(name="matmul", half=HALF_SUMS,
          shape="[..., n, k] and [..., k, m] -> [..., n, m]; the leading dims broadcast",
          example=Example(("f32[N, 3, 4]", "f32[N, 4, 5]"), "matmul(x0, x1)"),
          doc="Matrix product a @ b over the last two dims; the dims before them broadcast "
              "by NumPy's rule (a 2-D `b` is shared by every sample).",
          args=(Arg("a", "tensor"), Arg("b", "tensor")),
          infer=_matmul_infer, macs=_matmul_macs,
          torch=lambda b, node, xs, ps: b.call(b.torch.matmul, xs[0], xs[1]),
          onnx=lambda b, node, xs, ps: b.op("MatMul", xs), rows=same_rows(_matmul_axes),
          tolerance=1e-4, params=no_params, traits=frozenset({Trait.BACKWARD_IGNORES_OUTPUT}),
          synapses={"b": "dense_in"},
          onnx_import={"MatMul": _matmul_import}),
)
