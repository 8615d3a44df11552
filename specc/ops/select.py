"""Ops that pick, count and rearrange along an axis: argmax / argmin, hardmax, cumsum, the
triangles of a matrix (trilu), Lp normalisation, space_to_depth, and einsum."""
from __future__ import annotations

import re

import numpy as np

from ..ir.graph import TensorType
from .onnx_read import axis as onnx_axis
from .registry import Example, Arg, OpDef, ShapeError, no_macs, no_params, register
from .shapes import float_input, fmt


def _axis(attrs, x: TensorType, op: str) -> int:
    a = attrs["axis"]
    if not -x.rank <= a < x.rank:
        raise ShapeError(f"{op} axis {a} is out of range for rank {x.rank} {fmt(x.shape)}")
    return a % x.rank


# ------------------------------------------------------------------ argmax, argmin
def _arg_infer(op):
    def infer(attrs, types):
        x = types[0]
        if x.dtype == "bool":
            raise ShapeError(f"{op} of a bool tensor")
        a = _axis(attrs, x, op)
        shape = list(x.shape)
        if attrs["keepdims"]:
            shape[a] = 1
        else:
            del shape[a]
        return [TensorType("i64", tuple(shape))]
    return infer


def arg_extreme(x, kind: str, axis: int, keepdims: bool, last: bool):
    """Index of the largest (smallest) value; the first one, or with `last` the last."""
    import torch
    fn = torch.argmax if kind == "argmax" else torch.argmin
    if not last:
        return fn(x, axis, keepdims)
    flipped = fn(torch.flip(x, (axis,)), axis, keepdims)
    return x.shape[axis] - 1 - flipped


def _arg_import(kind):
    def read(m):
        x = m.type(0)
        a = onnx_axis(m, m.attr("axis", 0), x.rank)
        keep, last = bool(m.attr("keepdims", 1)), bool(m.attr("select_last_index", 0))
        if m.foldable():
            arr = m.known(0)
            src = np.flip(arr, a) if last else arr
            idx = (np.argmax if kind == "argmax" else np.argmin)(src, axis=a, keepdims=keep)
            return m.fold((arr.shape[a] - 1 - idx if last else idx).astype(np.int64))
        return m.call(kind, m.value(0), axis=a, keepdims=keep, last=last)
    return read


def _arg_entry(kind, onnx_op, doc):
    return OpDef(
        name=kind, doc=doc, shape="x without `axis` (kept as 1 with keepdims), i64",
        example=Example(("f32[N, 3, 4]",), f"{kind}(x0, axis=2)"),
        args=(Arg("x", "tensor"), Arg("axis", "int", -1), Arg("keepdims", "bool", False),
              Arg("last", "bool", False)),
        infer=_arg_infer(kind),
        torch=lambda b, node, xs, ps: b.call(arg_extreme, xs[0], kind, node.attrs["axis"],
                                             node.attrs["keepdims"], node.attrs["last"]),
        onnx=lambda b, node, xs, ps: b.op(onnx_op, xs, axis=node.attrs["axis"],
                                          keepdims=int(node.attrs["keepdims"]),
                                          select_last_index=int(node.attrs["last"])),
        params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
        onnx_import={onnx_op: _arg_import(kind)})


# ------------------------------------------------------------------------- hardmax
def hardmax(x, axis: int):
    import torch
    index = torch.argmax(x, axis, keepdim=True)
    return torch.zeros_like(x).scatter_(axis, index, 1.0)


def _same_float(op):
    def infer(attrs, types):
        x = types[0]
        float_input(x, op)
        _axis(attrs, x, op)
        return [x]
    return infer


# -------------------------------------------------------------------------- cumsum
def cumulative(x, axis: int, exclusive: bool, reverse: bool):
    import torch
    if reverse:
        x = torch.flip(x, (axis,))
    y = torch.cumsum(x, axis, dtype=x.dtype)
    if exclusive:
        y = y - x
    return torch.flip(y, (axis,)) if reverse else y


def _cumsum_infer(attrs, types):
    x = types[0]
    if x.dtype == "bool":
        raise ShapeError("cumsum of a bool tensor")
    _axis(attrs, x, "cumsum")
    return [x]


def _cumsum_onnx(b, node, xs, ps):
    a = node.attrs
    return b.op("CumSum", [xs[0], b.const([a["axis"]], "i64", ())],
                exclusive=int(a["exclusive"]), reverse=int(a["reverse"]))


def _cumsum_import(m):
    a = onnx_axis(m, m.ints(1)[0], m.type(0).rank)
    return m.call("cumsum", m.value(0), axis=a, exclusive=bool(m.attr("exclusive", 0)),
                  reverse=bool(m.attr("reverse", 0)))


# --------------------------------------------------------------------------- trilu
def _trilu_infer(attrs, types):
    x = types[0]
    if x.rank < 2:
        raise ShapeError(f"trilu needs a matrix (rank >= 2), got {fmt(x.shape)}")
    return [x]


def _trilu_torch(b, node, xs, ps):
    fn = b.torch.triu if node.attrs["upper"] else b.torch.tril
    return b.call(fn, xs[0], node.attrs["k"])


def _trilu_import(m):
    k = m.ints(1)[0] if m.has(1) else 0
    return m.call("trilu", m.value(0), k=k, upper=bool(m.attr("upper", 1)))


# --------------------------------------------------------------- Lp normalisation
def _lp_torch(b, node, xs, ps):
    return b.call(b.F.normalize, xs[0], float(node.attrs["p"]), node.attrs["axis"])


def _lp_infer(attrs, types):
    if attrs["p"] not in (1, 2):
        raise ShapeError(f"lp_normalize p must be 1 or 2, got {attrs['p']}")
    return _same_float("lp_normalize")(attrs, types)


# ----------------------------------------------------------------- space_to_depth
def _s2d_infer(attrs, types):
    x, r = types[0], attrs["factor"]
    if x.rank != 4 or r < 1:
        raise ShapeError(f"space_to_depth expects [N, C, H, W] and a factor >= 1, got "
                         f"{fmt(x.shape)}")
    h, w = x.shape[2:]
    if not (isinstance(h, int) and isinstance(w, int)) or h % r or w % r:
        raise ShapeError(f"space_to_depth by {r} needs H and W divisible by it, got {h}x{w}")
    return [TensorType(x.dtype, (x.shape[0], x.shape[1] * r * r, h // r, w // r))]


def space_to_depth(x, r: int):
    """ONNX's order: each r x r block's offsets outermost, then the channel."""
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * r * r, h // r, w // r)


def _s2d_import(m):
    if m.attr("mode", "DCR") != "DCR":
        m.refuse(f"SpaceToDepth in {m.attr('mode')} order (specc's is ONNX's DCR)")
    return m.call("space_to_depth", m.value(0), factor=m.attr("blocksize"))


# ------------------------------------------------------------------------ einsum
_TERM = re.compile(r"^([a-zA-Z]*)(\.\.\.)?([a-zA-Z]*)$")


def _einsum_terms(equation: str, n: int):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != n or not all(_TERM.match(t) for t in terms + ([rhs] if arrow else [])):
        raise ShapeError(f"einsum equation {equation!r} does not fit {n} operand(s)")
    if not arrow:
        letters = "".join(terms).replace(".", "")
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    return terms, rhs


def _einsum_infer(attrs, types):
    terms, rhs = _einsum_terms(attrs["equation"], len(types))
    sizes, ellipsis = {}, []
    dtype = types[0].dtype
    for term, t in zip(terms, types):
        if t.dtype != dtype:
            raise ShapeError("einsum operands have different dtypes")
        head, dots, tail = _TERM.match(term).groups()
        named = len(head) + len(tail)
        if (not dots and named != t.rank) or (dots and named > t.rank):
            raise ShapeError(f"einsum term '{term}' does not fit a rank-{t.rank} operand")
        dims = list(t.shape)
        for c, d in zip(head, dims[:len(head)]):
            sizes.setdefault(c, d)
            if sizes[c] != d and 1 not in (sizes[c], d):
                raise ShapeError(f"einsum label '{c}' is {sizes[c]} and {d}")
        for c, d in zip(tail, dims[t.rank - len(tail):]):
            sizes.setdefault(c, d)
            if sizes[c] != d and 1 not in (sizes[c], d):
                raise ShapeError(f"einsum label '{c}' is {sizes[c]} and {d}")
        if dots:
            ellipsis.append(tuple(dims[len(head):t.rank - len(tail)]))
    from .shapes import broadcast
    ell = broadcast(ellipsis, "einsum") if ellipsis else ()
    head, dots, tail = _TERM.match(rhs).groups()
    if any(c not in sizes for c in head + tail):
        raise ShapeError(f"einsum output '{rhs}' names a label no input has")
    shape = [sizes[c] for c in head] + (list(ell) if dots else []) + [sizes[c] for c in tail]
    return [TensorType(dtype, tuple(shape))]


def _einsum_import(m):
    xs = [m.value(i) for i in range(m.n_inputs) if m.has(i)]
    return m.call("einsum", xs, equation=m.attr("equation"))


register(
    _arg_entry("argmax", "ArgMax", "Index of the largest value along `axis` (the first, or "
               "the last with last=true), as i64."),
    _arg_entry("argmin", "ArgMin", "Index of the smallest value along `axis` (the first, or "
               "the last with last=true), as i64."),
    OpDef(name="hardmax", shape="same as x",
          example=Example(("f32[N, 3, 4]",), "hardmax(x0)"),
          doc="1 at the first largest value along `axis`, 0 elsewhere.",
          args=(Arg("x", "tensor"), Arg("axis", "int", -1)), infer=_same_float("hardmax"),
          torch=lambda b, node, xs, ps: b.call(hardmax, xs[0], node.attrs["axis"]),
          onnx=lambda b, node, xs, ps: b.op("Hardmax", xs, axis=node.attrs["axis"]),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"Hardmax": lambda m: m.call("hardmax", m.value(0),
                                                   axis=m.attr("axis", -1))}),
    OpDef(name="cumsum", shape="same as x",
          example=Example(("f32[N, 3, 4]",), "cumsum(x0, 2, exclusive=true)"),
          doc="Running sum along `axis`; `exclusive` leaves each element out of its own sum, "
              "`reverse` runs from the end.",
          args=(Arg("x", "tensor"), Arg("axis", "int"), Arg("exclusive", "bool", False),
                Arg("reverse", "bool", False)),
          infer=_cumsum_infer,
          torch=lambda b, node, xs, ps: b.call(cumulative, xs[0], node.attrs["axis"],
                                               node.attrs["exclusive"], node.attrs["reverse"]),
          onnx=_cumsum_onnx, params=no_params, macs=no_macs, tolerance=1e-5,
          traits=frozenset(), onnx_import={"CumSum": _cumsum_import}),
    OpDef(name="trilu", shape="same as x",
          example=Example(("f32[N, 4, 5]",), "trilu(x0, k=1)"),
          doc="The upper (or, upper=false, lower) triangle of the last two dims from diagonal "
              "k on; the rest zero.",
          args=(Arg("x", "tensor"), Arg("k", "int", 0), Arg("upper", "bool", True)),
          infer=_trilu_infer, torch=_trilu_torch,
          onnx=lambda b, node, xs, ps: b.op("Trilu", [xs[0], b.const([node.attrs["k"]], "i64",
                                                                      ())],
                                            upper=int(node.attrs["upper"])),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"Trilu": _trilu_import}),
    OpDef(name="lp_normalize", shape="same as x",
          example=Example(("f32[N, 3, 4]",), "lp_normalize(x0, axis=1, p=1)"),
          doc="x divided by its L1 or L2 norm along `axis`.",
          args=(Arg("x", "tensor"), Arg("axis", "int", -1), Arg("p", "int", 2)),
          infer=_lp_infer, torch=_lp_torch,
          onnx=lambda b, node, xs, ps: b.op("LpNormalization", xs, axis=node.attrs["axis"],
                                            p=node.attrs["p"]),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"LpNormalization": lambda m: m.call(
              "lp_normalize", m.value(0), axis=m.attr("axis", -1), p=m.attr("p", 2))}),
    OpDef(name="space_to_depth", shape="[N, C, H, W] -> [N, C r^2, H / r, W / r]",
          example=Example(("f32[N, 2, 4, 6]",), "space_to_depth(x0, 2)"),
          doc="Move each r x r block of pixels into channels (ONNX SpaceToDepth's order).",
          args=(Arg("x", "tensor"), Arg("factor", "int")), infer=_s2d_infer,
          torch=lambda b, node, xs, ps: b.call(space_to_depth, xs[0], node.attrs["factor"]),
          onnx=lambda b, node, xs, ps: b.op("SpaceToDepth", xs,
                                            blocksize=node.attrs["factor"]),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          onnx_import={"SpaceToDepth": _s2d_import}),
    OpDef(name="einsum", shape="from the equation: each output label's size",
          example=Example(("f32[N, 3, 4]", "f32[N, 4, 5]"), 'einsum([x0, x1], "bij,bjk->bik")'),
          doc="Einstein summation over the operands by `equation` (labels a-z and A-Z, "
              "'...' for broadcast dims; without '->' the labels used once, in order).",
          args=(Arg("xs", "tensors"), Arg("equation", "str")), infer=_einsum_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.einsum, node.attrs["equation"], *xs),
          onnx=lambda b, node, xs, ps: b.op("Einsum", xs, equation=node.attrs["equation"]),
          params=no_params, macs=no_macs, tolerance=1e-4, traits=frozenset(),
          onnx_import={"Einsum": _einsum_import}),
)


