"""Small pure helpers shared by the shape rules."""
from __future__ import annotations

from ..core.dtypes import FLOAT_NAMES
from ..ir.cond import divisor_making_equal, need
from ..ir.graph import Dim, TensorType
from ..ir.sym import Sym, Undecided, same
from .registry import ShapeError


def fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def expand(value, n: int, what: str) -> tuple[int, ...]:
    """An int or a list of n ints -> a tuple of n ints."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n:
        raise ShapeError(f"'{what}' needs {n} values for a {n}-D op, got {len(value)}")
    return value


def spatial(x: TensorType, op: str, ranks=(3, 4)) -> int:
    """Number of spatial dims of an N, C, *spatial input; checks rank and dtype."""
    if x.rank not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        raise ShapeError(f"{op} expects a {want} input [N, C, ...], got {x.rank}-D {fmt(x.shape)}")
    float_input(x, op)
    return x.rank - 2


def float_input(x: TensorType, op: str) -> None:
    if x.dtype not in FLOAT_NAMES:
        raise ShapeError(f"{op} expects a floating-point tensor, got {x.dtype}")


def channels(x: TensorType, op: str) -> int:
    c = x.shape[1]
    if not isinstance(c, int):
        raise ShapeError(f"{op} needs a known channel count, got symbolic '{c}'")
    return c


def known(d: Dim, what: str) -> int:
    """A dim that must be a number (a width a parameter's shape is made of)."""
    if not isinstance(d, int):
        raise ShapeError(f"{what} must be known, got symbolic '{d}'")
    return d


def window_out(size: Dim, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int,
               ceil: bool, what: str) -> Dim:
    """Output length of a sliding window (conv or pooling), PyTorch's rule including ceil mode."""
    if min(kernel, stride, dilation) < 1 or min(pad_lo, pad_hi) < 0:
        raise ShapeError(f"{what} needs kernel, stride and dilation >= 1 and padding >= 0, got "
                         f"kernel {kernel}, stride {stride}, dilation {dilation}, "
                         f"padding {pad_lo}+{pad_hi}")
    span = dilation * (kernel - 1) + 1
    room = size + pad_lo + pad_hi - span
    if not fits(room, 0, f"{what} window {span}"):
        raise ShapeError(f"{what} window {span} does not fit input length {size}"
                         + (f" with padding {pad_lo}+{pad_hi}" if pad_lo or pad_hi else ""))
    if ceil:  # PyTorch drops a last window that would start in the right padding
        out = (room + stride - 1) // stride + 1
        try:
            drop = (out - 1) * stride >= size + pad_lo
        except Undecided:
            raise ShapeError(f"{what} in ceil mode over the symbolic length {size}: whether "
                             f"its last window starts in the padding depends on {size}; "
                             "use a known size or ceil mode off") from None
        return out - 1 if drop else out
    return room // stride + 1


def fits(room: Dim, least: int, what: str) -> bool:
    """room >= least: for a symbolic room that holds for some sizes only, the least size
    becomes a need of the network (checked whenever it runs, ir/sym.py Facts.need)."""
    if isinstance(room, int):
        return room >= least
    return need(room, least, what)


def in_range(attrs, name: str, op: str, low: float, high: float | None = None) -> None:
    """An attribute with a range the backends require (eps >= 0, a momentum in [0, 1])."""
    v = attrs[name]
    if v < low or (high is not None and v > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ShapeError(f"{op} {name} must be {span}, got {v}")


def prod(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def same_dtype(types: list[TensorType], op: str) -> str:
    dtypes = {t.dtype for t in types}
    if len(dtypes) > 1:
        raise ShapeError(f"{op} operands have different dtypes: {', '.join(t.dtype for t in types)}")
    return types[0].dtype


BROADCAST_RULE = ("broadcasting follows NumPy's rule: shapes are aligned at their last dims, "
                  "and each pair of dims must be equal or one of them 1")


def broadcast(shapes, what: str) -> tuple[Dim, ...]:
    """The shape NumPy's broadcasting gives `shapes`, or a ShapeError naming the dim.
    Symbolic dims match what equals them for every size (or 1): `N` against 3 cannot be
    proven equal, `(H+1)//2*2` equals `H` once `H % 2 == 0` is assumed."""
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    clash = None
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        wide: list[Dim] = []
        for d in dims:
            if d != 1 and not any(same(d, w) for w in wide):
                wide.append(d)
        if len(wide) > 1:
            clash = clash or (i, wide[0], wide[1])
            out.append([wide[0], wide[1]])
            continue
        out.append(wide[0] if wide else 1)
    if clash:
        i, a, b = clash
        shown = " and ".join(fmt(s) for s in shapes)
        pairs = [tuple(d) for d in out if isinstance(d, list)]
        raise ShapeError(f"{what} cannot broadcast {shown}: dim {i} of the result would "
                         f"be both {a} and {b}", (BROADCAST_RULE,) + differ_note(pairs))
    return tuple(out)


def differ_note(pairs) -> tuple[str, ...]:
    """Why symbolic dims that should be equal may differ, and the assumption that makes
    them equal where one does: an odd size through a stride-2 down-and-up path, say."""
    pairs = [(a, b) for a, b in pairs if isinstance(a, Sym) or isinstance(b, Sym)]
    if not pairs:
        return ()
    names = sorted({n for pair in pairs for d in pair if isinstance(d, Sym) for n in d.names()})
    k = divisor_making_equal(pairs, names)
    shown = "; ".join(f"{a} and {b}" for a, b in pairs)
    if k is None:
        return (f"{shown} differ for some sizes of {', '.join(names)}",)
    need = " and ".join(f"{n} % {k} == 0" for n in names)
    return (f"{shown} are equal only for some sizes of {', '.join(names)}: for every "
            f"multiple of {k}; state it with `assert {need}` after the input",)
