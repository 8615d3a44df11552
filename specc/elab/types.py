"""Types in the language: scalar, list, block and tensor types; checking values against them."""
from __future__ import annotations

from ..lang import ast as A
from ..core.diagnostics import SpeccError
from ..core.dtypes import NAMES as DTYPES
from ..ir.graph import TensorType
from ..ir.sym import Sym
from ..lang.values import POISON, BlockRef, Tensor, show, type_name


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"

SCALARS = ("int", "float", "bool", "str", "block", "tensor", "any")


def tensor_type(ev, t: A.Type, frame) -> TensorType:
    """Evaluate a tensor type; a dim that names no compile-time int becomes a symbol."""
    if not isinstance(t, A.TypeTensor):
        raise SpeccError("expected a tensor type such as f32[N, 3, 224, 224]", frame.span(t.span))
    if t.dtype not in DTYPES:
        raise SpeccError(f"unknown dtype '{t.dtype}'", frame.span(t.span),
                         (f"dtypes: {', '.join(DTYPES)}",))
    dims = []
    for d in t.dims:
        if isinstance(d, A.ExprName) and d.name not in frame.vars \
                and d.name not in frame.module.names:
            dims.append(Sym.name(d.name))
            continue
        v = ev.eval(d, frame)
        if v is POISON:
            return POISON
        if isinstance(v, Sym):  # a size an earlier input declared (N, T), or made from one
            dims.append(v)
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpeccError(f"a dim must be a positive int or a symbol, got {show(v)}",
                             frame.span(d.span))
        dims.append(v)
    return TensorType(t.dtype, tuple(dims))


def check_value(ev, value, t: A.Type, frame, what: str, span) -> None:
    if not _matches(ev, value, t, frame):
        raise SpeccError(f"{what} must be {describe(t)}, got {type_name(value)} "
                         f"{show(value) if not isinstance(value, Tensor) else ''}".rstrip(), span)


def describe(t: A.Type) -> str:
    if isinstance(t, A.TypeScalar):
        return {"int": "an int", "float": "a number", "bool": "true or false", "str": "a string",
                "block": "a block", "tensor": "a tensor", "any": "a value"}.get(t.name, t.name)
    if isinstance(t, A.TypeList):
        return f"a list of {describe(t.item).split(' ', 1)[-1]}"
    return f"a tensor {t.dtype}[...]"


_CHECKED: dict[tuple, tuple] = {}  # (id of a list, its type) -> the list, known to match


def _type_key(t: A.Type) -> str:
    if isinstance(t, A.TypeList):
        return "[" + _type_key(t.item) + "]"
    return t.name if isinstance(t, A.TypeScalar) else t.dtype + str(len(t.dims))


def _matches(ev, value, t: A.Type, frame) -> bool:
    if isinstance(t, A.TypeScalar):
        if t.name not in SCALARS:
            raise SpeccError(f"unknown type '{t.name}'", frame.span(t.span),
                             (f"types: {', '.join(SCALARS)}, [T], and tensor types like f32[N, 10]",))
        return {
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str),
            "block": lambda v: isinstance(v, BlockRef),
            "tensor": lambda v: isinstance(v, Tensor),
            "any": lambda v: True,
        }[t.name](value)
    if isinstance(t, A.TypeList):
        if not isinstance(value, tuple):
            return False
        key = (id(value), _type_key(t))
        hit = _CHECKED.get(key)
        if hit is not None and hit is value:
            return True
        ok = all(_matches(ev, v, t.item, frame) for v in value)
        if ok and len(value) > 16:  # a long table passed to every block is checked once
            if len(_CHECKED) > 10_000:
                _CHECKED.clear()
            _CHECKED[key] = value
        return ok
    if t.dtype not in DTYPES:
        raise SpeccError(f"unknown dtype '{t.dtype}'", frame.span(t.span))
    return isinstance(value, Tensor) and value.type.dtype == t.dtype and \
        value.type.rank == len(t.dims)


def literal_shape(v, span) -> tuple[int, ...]:
    """The shape of a nested list of numbers; a ragged list is an error."""
    if not isinstance(v, tuple):
        return ()
    inner = [literal_shape(x, span) for x in v]
    for i, s in enumerate(inner[1:], 1):
        if s != inner[0]:
            raise SpeccError(f"the literal is ragged: item {i} has shape {_fmt(s)}, item 0 has "
                             f"{_fmt(inner[0])}", span)
    return (len(v),) + (inner[0] if inner else ())


_SHAPES: dict[int, tuple[tuple, tuple]] = {}  # id of a literal -> (it, its shape)


def check_literal(value: tuple, t: TensorType, name: str, span) -> None:
    """A literal fills a declared tensor when it has its shape, or is a flat list of all its
    numbers (row-major)."""
    hit = _SHAPES.get(id(value))
    shape = hit[1] if hit is not None and hit[0] is value else literal_shape(value, span)
    if len(_SHAPES) > 1000:
        _SHAPES.clear()
    _SHAPES[id(value)] = (value, shape)
    count = 1
    for d in t.shape:
        count *= d
    if shape == tuple(t.shape) or shape == (count,):
        return
    raise SpeccError(f"the literal has shape {_fmt(shape)} but '{name}' is declared {t}", span,
                     (f"write a nested list of shape {_fmt(t.shape)}, or a flat list of all "
                      f"{count} numbers",))
