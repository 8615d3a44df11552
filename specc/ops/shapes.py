"""Small pure helpers shared by the shape rules."""
from __future__ import annotations

from ..core.dtypes import FLOAT_NAMES
from ..ir.graph import Dim, TensorType
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


def window_out(size: Dim, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int,
               ceil: bool, what: str) -> Dim:
    """Output length of a sliding window (conv or pooling), PyTorch's rule including ceil mode."""
    if min(kernel, stride, dilation) < 1 or min(pad_lo, pad_hi) < 0:
        raise ShapeError(f"{what} needs kernel, stride and dilation >= 1 and padding >= 0, got "
                         f"kernel {kernel}, stride {stride}, dilation {dilation}, "
                         f"padding {pad_lo}+{pad_hi}")
    span = dilation * (kernel - 1) + 1
    if not isinstance(size, int):
        return f"({size}+{pad_lo + pad_hi}-{span})//{stride}+1"
    room = size + pad_lo + pad_hi - span
    if room < 0:
        raise ShapeError(f"{what} window {span} does not fit input length {size}"
                         + (f" with padding {pad_lo}+{pad_hi}" if pad_lo or pad_hi else ""))
    if ceil:
        out = -(-room // stride) + 1
        if (out - 1) * stride >= size + pad_lo:
            out -= 1
        return out
    return room // stride + 1


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
    Symbols match only themselves (or 1): `N` against 3 cannot be proven equal."""
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        wide = list(dict.fromkeys(d for d in dims if d != 1))
        if len(wide) > 1:
            a, b = wide[:2]
            shown = " and ".join(fmt(s) for s in shapes)
            raise ShapeError(f"{what} cannot broadcast {shown}: dim {i} of the result would "
                             f"be both {a} and {b}", (BROADCAST_RULE,))
        out.append(wide[0] if wide else 1)
    return tuple(out)
