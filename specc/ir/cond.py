"""Conditions on symbolic sizes (`H % 32 == 0`, `T <= 64`): made by comparing dims,
assumed by the elaborator (`assert`), checked when a network runs; and the lowering of a
dim's value into a backend's operations."""
from __future__ import annotations

import math
import re

from .sym import (Facts, Floor, Mod, Name, Sym, Undecided, as_int, assuming, bounds,
                  constant_term, decide, facts, same)
from .sym_parse import parse


class Cond:
    """A condition on sizes (`H % 32 == 0`, `T <= 64`) that compile time cannot decide:
    asserted, it is assumed and checked at run time; as a branch condition it is an error.
    `expr op 0` with op in ==, !=, >=; `text` is how the spec wrote it."""

    __slots__ = ("expr", "op", "text")

    def __init__(self, expr, op: str, text: str):
        self.expr, self.op, self.text = expr, op, text

    def holds(self, sizes) -> bool:
        v = self.expr.evaluate(sizes) if isinstance(self.expr, Sym) else self.expr
        return {"==": v == 0, "!=": v != 0, ">=": v >= 0}[self.op]

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"Cond({self.text!r})"


def compare(a, op: str, b):
    """a op b for dims: a bool when every size gives the same answer, else a Cond."""
    text = f"{a} {op} {b}"
    if op in ("==", "!="):
        diff = a - b
        if isinstance(diff, Sym):
            diff = diff.rebuild()
        if not isinstance(diff, Sym):
            return (diff == 0) == (op == "==")
        lo, hi = bounds(diff)
        if (lo is not None and lo > 0) or (hi is not None and hi < 0):
            return op == "!="
        return Cond(diff, op, text)
    diff = {"<": b - a - 1, "<=": b - a, ">": a - b - 1, ">=": a - b}[op]
    try:
        return decide(diff, text)
    except Undecided:
        return Cond(diff, ">=", text)


def parse_cond(text: str) -> Cond:
    """A condition as `str(cond)` prints it."""
    m = re.fullmatch(r"\s*(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*", text)
    if not m:
        raise ValueError(f"not a condition on sizes: {text!r}")
    a, op, b = parse(m.group(1)), m.group(2), parse(m.group(3))
    got = compare(a, op, b)
    if isinstance(got, Cond):
        return got
    diff = {"==": a - b, "!=": a - b, "<": b - a - 1, "<=": b - a, ">": a - b - 1,
            ">=": a - b}[op]
    return Cond(diff, op if op in ("==", "!=") else ">=", text.strip())




# ---------------------------------------------------------------------- assumptions
def need(x, least: int, what: str) -> bool:
    """x >= least: True when it holds for every size, False when it holds for none;
    otherwise it is recorded as a need of the active Facts (the elaborator makes it an
    assumption, checked at run time) and True."""
    diff = x - least
    lo, hi = bounds(diff)
    if lo is not None and lo >= 0:
        return True
    if hi is not None and hi < 0:
        return False
    const = constant_term(diff)
    cond = Cond(diff, ">=", f"{diff - const} >= {-const}")
    f = facts()
    if not any(c.text == cond.text for c, _ in f.needs):
        f.needs.append((cond, what))
    learn(f, cond)
    return True


def learn(f: Facts, cond: Cond) -> bool:
    """Take into `f` what `cond` says about a single name; False when it says nothing usable
    (it is then only checked at run time)."""
    e, op = cond.expr, cond.op
    if not isinstance(e, Sym):
        return False
    if op == "==" and len(e.terms) == 1:
        (mono, c), = e.terms
        if len(mono) == 1 and isinstance(mono[0], Mod) and mono[0].of_name():
            name, k = mono[0].of_name(), mono[0].k
            f.divisor[name] = math.lcm(f.divisor.get(name, 1), k)
            return True
    if op == ">=":  # c*name + d >= 0
        lin = e.linear()
        if lin is not None:
            name, c, d = lin
            if c < 0:  # d >= -c*name: name <= d / -c
                bound = math.floor(d / -c)
                f.upper[name] = min(f.upper.get(name, bound), bound)
            else:
                bound = math.ceil(-d / c)
                f.lower[name] = max(f.lower.get(name, bound), bound)
            return True
    return False


def divisor_making_equal(pairs, names) -> int | None:
    """The least power of two k (up to 256) for which `a == b` holds for every pair and every
    size once each of `names` is assumed a multiple of k; None when none does."""
    base = facts()
    for k in (2, 4, 8, 16, 32, 64, 128, 256):
        f = base.copy()
        for n in names:
            f.divisor[n] = math.lcm(f.divisor.get(n, 1), k)
        with assuming(f):
            if all(same(_rebuild(a), _rebuild(b)) for a, b in pairs):
                return k
    return None


def _rebuild(d):
    return d.rebuild() if isinstance(d, Sym) else d


# ------------------------------------------------------------------------ lowering
def lower(d, ops):
    """Build a dim's value with a backend's operations: `ops` has const(int), name(str),
    add(a, b), mul(a, b), floordiv(a, k, nonneg) and mod(a, k). The backends compute
    symbolic sizes at run time with it (torch: Python ints from x.shape; ONNX: int64
    tensors from Shape)."""
    if not isinstance(d, Sym):
        return ops.const(d)
    total = None
    for mono, c in d.terms:
        if not mono:
            v = ops.const(as_int(c))
        else:
            v = None
            for a in mono:
                x = _lower_atom(a, ops)
                v = x if v is None else ops.mul(v, x)
            if c.numerator != 1:
                v = ops.mul(v, ops.const(c.numerator))
            if c.denominator != 1:  # exact: the term is whole under the assumptions
                v = ops.floordiv(v, c.denominator, False)
        total = v if total is None else ops.add(total, v)
    return total


def _lower_atom(a, ops):
    if isinstance(a, Name):
        return ops.name(a.name)
    x = lower(a.x, ops)
    if isinstance(a, Floor):
        lo, _ = bounds(a.x)
        return ops.floordiv(x, a.k, lo is not None and lo >= 0)
    return ops.mod(x, a.k)


# --------------------------------------------------------------- checks at run time
def check_sizes(assumes, sizes) -> str | None:
    """The message for the first assumption (text, message, where) the sizes break, or
    None. What the sizes do not name (an assumption on a size of another input) is skipped."""
    for text, message, where in assumes:
        cond = parse_cond(text)
        names = cond.expr.names() if isinstance(cond.expr, Sym) else set()
        if not names <= set(sizes):
            continue
        if not cond.holds(sizes):
            shown = ", ".join(f"{n}={sizes[n]}" for n in sorted(names))
            why = f": {message}" if message else ""
            return f"{shown} breaks the network's assumption {text}{why}" + \
                (f" ({where})" if where else "")
    return None


def require_sizes(assumes: str, names: tuple, *values) -> None:
    """Called at the start of a generated forward: the input sizes against the network's
    assumptions (JSON text of [condition, message, where]); a SpeccError (a user's error:
    the data or the inputs are of a size the spec excludes) names the one they break."""
    import json
    problem = check_sizes(_ASSUMES.get(assumes) or _ASSUMES.setdefault(assumes, json.loads(assumes)),
                          dict(zip(names, (int(v) for v in values))))
    if problem:
        from ..core.diagnostics import SpeccError
        raise SpeccError(f"input sizes {problem}")


_ASSUMES: dict = {}
