"""Compile-time values of the language: numbers, strings, lists (tuples), tensors, callables."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ast as A
from ..core.nesting import MAX_NESTING
from ..ir.graph import Init, TensorType
from ..ir.cond import Cond
from ..ir.sym import Sym


class _Poison:
    """Stands for a value whose computation already failed; it silences follow-on errors."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<error>"


POISON = _Poison()


@dataclass(frozen=True)
class Tensor:
    name: str  # the IR value it refers to
    type: TensorType


@dataclass(frozen=True)
class Conds:
    """Conditions on symbolic sizes joined by `and` (what an `assert` may state)."""

    items: tuple

    def __str__(self) -> str:
        return " and ".join(str(c) for c in self.items)


@dataclass(frozen=True)
class BlockRef:
    defn: A.BlockDef
    module: object  # the ModuleScope that defines it (its globals)


@dataclass(frozen=True)
class NetworkRef:
    defn: A.NetworkDef
    module: object
    bound: tuple = ()  # ((name, value), ...) bound by presets
    name: str = ""  # preset name, or the definition's name
    reference: dict | None = field(default=None, compare=False)  # a preset's own section

    @property
    def is_preset(self) -> bool:
        return self.name != self.defn.name

    @property
    def display(self) -> str:
        return self.name or self.defn.name


@dataclass(frozen=True)
class OpRef:
    name: str


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: object = field(compare=False)


@dataclass(frozen=True)
class Record:
    """A named constructor applied to keyword arguments, e.g. sgd(lr=0.1) in a recipe."""

    kind: str
    fields: tuple  # ((name, value), ...)

    def as_dict(self) -> dict:
        return {"name": self.kind, **dict(self.fields)}


# ------------------------------------------------------------------------ size caps
# Every compile-time value is checked against these where it is made, so that a spec cannot
# make the compiler run out of memory or time (a string doubled in a loop, 10 ** 10 ** 9,
# a list of lists shared a billion times over): the error points at the line that made it.
MAX_INT = 2 ** 62
MAX_STR = 100_000  # characters in one string
MAX_SIZE = 1_000_000  # numbers and lists in one value, nested lists counted in full
MAX_INT_DIGITS = 30  # digits of an integer literal (2 ** 62 has 19)


class ValueLimit(Exception):
    """A compile-time value exceeds a cap; the elaborator adds the span."""


_SIZES: dict[int, tuple[tuple, int, int]] = {}  # id -> (the list, size, depth): shared lists count once


def tree_size(v) -> int:
    """1 for a scalar; for a list, 1 + the sizes of its items (as if every shared sublist
    were copied out). Memoised by identity, so a list doubled 30 times costs 30 steps."""
    return _measure(v)[0]


def tree_depth(v) -> int:
    """0 for a scalar, 1 + the deepest item for a list (memoised with the size)."""
    return _measure(v)[1]


def _measure(v) -> tuple[int, int]:
    if not isinstance(v, tuple):
        return 1, 0
    hit = _SIZES.get(id(v))
    if hit is not None and hit[0] is v:
        return hit[1], hit[2]
    n, deepest = 1, 0
    for x in v:
        if isinstance(x, tuple):
            size, depth = _measure(x)
            n, deepest = n + size, max(deepest, depth)
        else:
            n += 1
        if n > MAX_SIZE:
            break
    _remember(v, n, deepest + 1)
    return n, deepest + 1


def _remember(v: tuple, n: int, depth: int) -> None:
    if len(_SIZES) > 200_000:
        _SIZES.clear()
    _SIZES[id(v)] = (v, n, depth)


def joined(a: tuple, b: tuple) -> tuple:
    """a + b, its size known from theirs: a list grown one item at a time in a loop costs
    one step an item, not a walk over all it holds (a 4,096-entry table in 4,096 steps)."""
    out = a + b
    _remember(out, min(tree_size(a) + tree_size(b) - 1, MAX_SIZE + 1),
              max(tree_depth(a), tree_depth(b)))
    return out


def check_caps(v):
    """`v` itself, or ValueLimit when it is beyond a cap."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise ValueLimit(f"{_short(v)} is beyond the limit of 2**62")
    elif isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueLimit("the number is too large (infinite) or not a number")
    elif isinstance(v, str):
        if len(v) > MAX_STR:
            raise ValueLimit(f"a string of {len(v):,} characters exceeds the limit of "
                             f"{MAX_STR:,}")
    elif isinstance(v, tuple) and v:
        if len(v) > MAX_SIZE or tree_size(v) > MAX_SIZE:
            raise ValueLimit(f"a list holding more than {MAX_SIZE:,} values (nested lists "
                             "counted in full) exceeds the limit")
        if tree_depth(v) > MAX_NESTING:
            raise ValueLimit(f"a list nested more than {MAX_NESTING:,} lists deep exceeds the "
                             "limit")
    return v


def _short(n: int) -> str:
    if abs(n) < 10 ** 24:
        return f"the integer {n}"
    return f"an integer of about {int(abs(n).bit_length() * 0.30103) + 1:,} digits"


def type_name(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, Sym):
        return "dim"
    if isinstance(v, (Cond, Conds)):
        return "condition on sizes"
    if v is None:
        return "none"
    if isinstance(v, tuple):
        return "list"
    if isinstance(v, Tensor):
        return f"tensor {v.type}"
    if isinstance(v, BlockRef):
        return f"block '{v.defn.name}'"
    if isinstance(v, NetworkRef):
        return f"network '{v.display}'"
    if isinstance(v, OpRef):
        return f"op '{v.name}'"
    if isinstance(v, Builtin):
        return f"function '{v.name}'"
    if isinstance(v, Init):
        return "initialiser"
    if isinstance(v, Record):
        return f"'{v.kind}'"
    return type(v).__name__


def show(v, depth: int = 3) -> str:
    """A short rendering of a value for error messages (at most 6 items a level, 3 levels,
    80 characters of a string), however large the value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, tuple):
        if depth == 0:
            return "[...]"
        inner = ", ".join(show(x, depth - 1) for x in v[:6])
        return f"[{inner}{', ...' if len(v) > 6 else ''}]"
    if isinstance(v, int):
        return repr(v) if abs(v) < 10 ** 24 else "<a huge integer>"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return f'"{v[:80]}{"..." if len(v) > 80 else ""}"'
    if isinstance(v, (Sym, Cond, Conds)):
        text = str(v)
        return text[:80] + ("..." if len(text) > 80 else "")
    return type_name(v)
