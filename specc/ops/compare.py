"""Logic and selection, element by element, broadcasting by NumPy's rule: logical_and / or /
xor / not combine bool tensors (which `a == b`, `a < b`, ... make: specc/ops/integer.py);
where(c, a, b) picks; maximum / minimum and fmod are numeric binaries."""
from __future__ import annotations

import numpy as np

from ..ir.graph import TensorType
from .registry import Arg, Example, OpDef, ShapeError, Trait, no_macs, no_params, register
from .shapes import broadcast, same_dtype

_LOGIC = {"logical_and": ("And", "logical_and", np.logical_and),
          "logical_or": ("Or", "logical_or", np.logical_or),
          "logical_xor": ("Xor", "logical_xor", np.logical_xor)}
_EXTREME = {"maximum": ("Max", "maximum", np.maximum), "minimum": ("Min", "minimum", np.minimum)}


def _pair(name, want: str):
    """want: 'numbers' (not bool), 'any' (one dtype), 'bool'."""
    def infer(attrs, types):
        dtype = same_dtype(types, name)
        if want == "numbers" and dtype == "bool":
            raise ShapeError(f"{name} compares numbers, got bool tensors")
        if want == "bool" and dtype != "bool":
            raise ShapeError(f"{name} combines bool tensors, got {dtype}")
        return [TensorType(dtype, broadcast([t.shape for t in types], name))]
    return infer


def _bool_result(infer):
    def out(attrs, types):
        t = infer(attrs, types)[0]
        return [TensorType("bool", t.shape)]
    return out


def _binary_import(name, np_fn):
    def read(m):
        if m.foldable():
            return m.fold(np.asarray(np_fn(m.known(0), m.known(1))))
        return m.call(name, m.value(0), m.value(1))
    return read


def _variadic_import(name, np_fn):
    """Max / Min of one or more tensors: a chain of maximum / minimum."""
    def read(m):
        ins = [i for i in range(m.n_inputs) if m.has(i)]
        if m.foldable():
            out = m.known(ins[0])
            for i in ins[1:]:
                out = np_fn(out, m.known(i))
            return m.fold(out)
        y = m.value(ins[0])
        for i in ins[1:]:
            y = m.call(name, y, m.value(i))
        return y
    return read


def _entry(name, onnx_op, torch_fn, np_fn, want, result_bool, example, doc, variadic=False):
    infer = _pair(name, want)
    read = _variadic_import(name, np_fn) if variadic else _binary_import(name, np_fn)
    return OpDef(name=name, doc=doc, example=example,
                 shape="the broadcast of a's and b's shapes" + (" (bool)" if result_bool else ""),
                 args=(Arg("a", "tensor"), Arg("b", "tensor")),
                 infer=_bool_result(infer) if result_bool else infer,
                 torch=lambda b, node, xs, ps: b.call(getattr(b.torch, torch_fn), xs[0], xs[1]),
                 onnx=lambda b, node, xs, ps: b.op(onnx_op, xs),
                 params=no_params, macs=no_macs, tolerance=1e-5,
                 traits=frozenset({Trait.JOIN}), onnx_import={onnx_op: read})


# --------------------------------------------------------------------- where, not, mod
def _where_infer(attrs, types):
    c, a, b = types
    if c.dtype != "bool":
        raise ShapeError(f"where's condition must be bool, got {c.dtype}")
    dtype = same_dtype([a, b], "where")
    return [TensorType(dtype, broadcast([c.shape, a.shape, b.shape], "where"))]


def _where_import(m):
    if m.foldable():
        return m.fold(np.where(m.known(0), m.known(1), m.known(2)))
    return m.call("where", m.value(0), m.value(1), m.value(2))


def _not_infer(attrs, types):
    if types[0].dtype != "bool":
        raise ShapeError(f"logical_not takes a bool tensor, got {types[0].dtype}")
    return [types[0]]


def _fmod_infer(attrs, types):
    dtype = same_dtype(types, "fmod")
    if dtype == "bool":
        raise ShapeError("fmod is not defined for bool tensors")
    return [TensorType(dtype, broadcast([t.shape for t in types], "fmod"))]


_CASE = ("f32[N, 3, 4]", "f32[4]")
register(
    *(_entry(n, o, t, f, "bool", True,
             Example(_CASE, f"where({n}(x0 > 0.0, x1 < 0.5), x0, x1)"),
             f"Element-wise logical {n.split('_')[1]} of two bool tensors.")
      for n, (o, t, f) in _LOGIC.items()),
    *(_entry(n, o, t, f, "numbers", False, Example(_CASE, f"{n}(x0, x1)"),
             f"Element-wise {'larger' if n == 'maximum' else 'smaller'} of a and b "
             f"(ONNX {o} of two; of more, a chain).", variadic=True)
      for n, (o, t, f) in _EXTREME.items()),
    OpDef(name="logical_not", shape="same as x (bool)",
          example=Example(_CASE, "where(logical_not(x0 > 0.0), x0, x1)"),
          doc="Element-wise not of a bool tensor.", args=(Arg("x", "tensor"),),
          infer=_not_infer, torch=lambda b, node, xs, ps: b.call(b.torch.logical_not, xs[0]),
          onnx=lambda b, node, xs, ps: b.op("Not", xs), params=no_params, macs=no_macs,
          tolerance=1e-5, traits=frozenset({Trait.ELEMENTWISE}),
          onnx_import={"Not": lambda m: m.fold(np.logical_not(m.known(0))) if m.foldable()
                       else m.call("logical_not", m.value(0))}),
    OpDef(name="where", shape="the broadcast of cond's, a's and b's shapes",
          example=Example(("f32[N, 3, 4]", "f32[N, 3, 4]"), "where(x0 > x1, x0, 0.5)"),
          doc="a where cond holds, else b (element-wise, NumPy broadcasting).",
          args=(Arg("cond", "tensor"), Arg("a", "tensor"), Arg("b", "tensor")),
          infer=_where_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.where, xs[0], xs[1], xs[2]),
          onnx=lambda b, node, xs, ps: b.op("Where", xs), params=no_params, macs=no_macs,
          tolerance=1e-5, traits=frozenset({Trait.ELEMENTWISE, Trait.JOIN}), onnx_import={"Where": _where_import}),
    OpDef(name="fmod", shape="the broadcast of a's and b's shapes",
          example=Example(("f32[N, 3, 4]",), "fmod(x0, 0.75)"),
          doc="The remainder of a / b with the sign of a (C's fmod, torch.fmod, ONNX Mod with "
              "fmod=1); `a % b` is Python's, with the sign of b.",
          args=(Arg("a", "tensor"), Arg("b", "tensor")), infer=_fmod_infer,
          torch=lambda b, node, xs, ps: b.call(b.torch.fmod, xs[0], xs[1]),
          onnx=lambda b, node, xs, ps: b.op("Mod", xs, fmod=1),
          params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset({Trait.JOIN})),
)
