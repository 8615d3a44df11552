"""Symbolic sizes inside shapes computed while importing.

Exporters compute shapes at run time: `flatten` becomes Shape -> Gather -> Unsqueeze ->
Concat -> Reshape. The import runs those nodes on numpy object arrays whose symbolic entries
are `Sym`s, so the Reshape at the end reads a target such as [Sym('N'), 512] and the spec says
`reshape(x, [512])` (or `flatten(x)`): the subgraph folds into the spec's dims."""
from __future__ import annotations

import numpy as np

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "//": 2, "%": 2}


class Sym:
    """A symbolic size: a spec dim expression over the input's symbols ('N', 'N*3')."""

    __slots__ = ("text", "level")

    def __init__(self, text: str, level: int = 3):
        self.text = text
        self.level = level  # binding strength of the outermost operator (3: a name)

    def __repr__(self) -> str:
        return f"Sym({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return isinstance(other, Sym) and other.text == self.text

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.text)

    def __bool__(self) -> bool:
        return True  # a size is never zero

    def __int__(self):
        raise SymbolicValue(self.text)

    __index__ = __int__

    def _join(self, other, op: str, swap: bool = False):
        if isinstance(other, (bool, np.bool_)):
            return NotImplemented
        if isinstance(other, np.integer):
            other = int(other)
        if isinstance(other, int):
            if op in "+-" and other == 0 or op in ("*", "//") and other == 1 and not swap:
                return self
            if op == "*" and other == 1:
                return self
        elif not isinstance(other, Sym):
            return NotImplemented
        a, b = (other, self) if swap else (self, other)
        level = _PRECEDENCE[op]
        return Sym(f"{_wrap(a, level, False)}{op}{_wrap(b, level, True)}", level)

    def __add__(self, o):
        return self._join(o, "+")

    def __radd__(self, o):
        return self._join(o, "+", True)

    def __sub__(self, o):
        return self._join(o, "-")

    def __rsub__(self, o):
        return self._join(o, "-", True)

    def __mul__(self, o):
        return self._join(o, "*")

    def __rmul__(self, o):
        return self._join(o, "*", True)

    def __floordiv__(self, o):
        return self._join(o, "//")

    def __rfloordiv__(self, o):
        return self._join(o, "//", True)

    __truediv__ = __floordiv__  # sizes divide exactly (ONNX Div of int64 shapes)
    __rtruediv__ = __rfloordiv__


def _wrap(x, level: int, right: bool) -> str:
    if isinstance(x, Sym) and (x.level < level or right and x.level == level and level < 3):
        return f"({x.text})"
    return str(x)


class SymbolicValue(Exception):
    """A symbolic size was needed as a number (a concrete index, a fixed count)."""


def as_dim(value):
    """An IR dim (int or symbol text) for one entry of a computed shape."""
    if isinstance(value, Sym):
        return value.text
    return int(value)


def shape_array(dims) -> np.ndarray:
    """A shape as a 1-D array: int64 when every dim is known, else objects holding Dims."""
    if all(isinstance(d, int) for d in dims):
        return np.array(dims, dtype=np.int64)
    return np.array([d if isinstance(d, int) else Sym(str(d)) for d in dims], dtype=object)


def symbolic(arr) -> bool:
    return isinstance(arr, np.ndarray) and arr.dtype == object


# ------------------------------------------------------------------ assumptions
def assume(imp, text: str, message: str = "") -> None:
    """A condition on the open sizes the model relies on (a table sliced to a length T holds
    T <= its rows): stated in the spec as an assert, and known to the shape rules of the
    rest of the import (`imp.facts`)."""
    from ..ir.cond import learn, parse_cond
    from ..ir.graph import Assumption
    cond = parse_cond(text)
    if any(str(a.cond) == str(cond) for a in imp.graph.assumptions):
        return
    imp.graph.assumptions.append(Assumption(cond, message))
    learn(imp.facts, cond)


def stated_assumptions(imp) -> None:
    """The asserts a model from `specc export` carries (metadata `specc.assumes`) on the
    sizes of its inputs: what its shapes were worked out under (H % 8 == 0). A shape rule's
    own need is left out (the spec's rules state it again when it loads), and so is anything
    not in specc's form."""
    import json

    from ..ir.cond import parse_cond
    prop = next((p.value for p in imp.model.metadata_props if p.key == "specc.assumes"), None)
    if not prop:
        return
    dims = {d for name in imp.graph.inputs for d in imp.graph.values[name].type.shape
            if not isinstance(d, int)}
    sizes = set().union(*(d.names() for d in dims)) if dims else set()
    try:
        stated = json.loads(prop)
    except ValueError:
        return
    for entry in stated if isinstance(stated, list) else ():
        try:
            text, message = str(entry[0]), str(entry[1])
            names = parse_cond(text).expr.names()
        except (ValueError, TypeError, AttributeError, IndexError, KeyError):
            continue
        if names and names <= sizes and not message.endswith(f"needs {text}"):
            assume(imp, text, message)
