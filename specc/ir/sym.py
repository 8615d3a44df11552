"""Symbolic dims: integer expressions over named sizes (`N`, `H`, `(H+1)//2`, `64*H*W`).

A dim is an `int` or a `Sym`. A Sym is a polynomial over atoms, kept in one canonical form:
an atom is a name, `X//k` or `X%k` (X a polynomial, k > 1 an int). Arithmetic with the
ordinary operators (`+ - * // %`) simplifies as it goes and gives back a plain int whenever
the value is a constant, so a shape rule written as `(size + 2*pad - span) // stride + 1`
works for both kinds of dim. What the active assumptions (`assuming`) say about names is
used: with `H % 2 == 0` assumed, `(H+1)//2*2` is `H`; with `T <= 64`, `T <= 64` holds.

Sizes are positive (every name is >= 1). Coefficients are fractions only where an assumption
makes a division exact (H//2 with H even is held as H/2), and every term stays an integer.
`str()` prints valid spec/Python text with the brackets it needs; ir/sym_parse.py reads it
back, ir/cond.py holds the conditions made by comparing dims.
"""
from __future__ import annotations

import contextvars
import math
from contextlib import contextmanager
from fractions import Fraction


class Undecided(ValueError):
    """A question about symbolic dims that the assumptions do not answer (H < 8?)."""


# ------------------------------------------------------------------------ assumptions
class Facts:
    """What is assumed about names: a divisor (H % 32 == 0), bounds (T <= 64), and which
    names are batch dims (the leading symbol of each input)."""

    def __init__(self):
        self.divisor: dict[str, int] = {}
        self.upper: dict[str, int] = {}
        self.lower: dict[str, int] = {}
        self.batch: set[str] = set()
        # conditions (ir/cond.py) shape rules need but cannot decide (a window that must
        # fit: H >= 3), with what needs them; the elaborator makes them assumptions
        self.needs: list = []

    def copy(self) -> "Facts":
        out = Facts()
        out.divisor, out.upper = dict(self.divisor), dict(self.upper)
        out.lower, out.batch = dict(self.lower), set(self.batch)
        return out

_FACTS: contextvars.ContextVar[Facts] = contextvars.ContextVar("specc_facts", default=Facts())


def facts() -> Facts:
    return _FACTS.get()


@contextmanager
def assuming(f: Facts):
    """Simplify and decide under `f` inside the block (the elaborator and the verifier)."""
    token = _FACTS.set(f)
    try:
        yield f
    finally:
        _FACTS.reset(token)


# ---------------------------------------------------------------------------- atoms
class Name:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    key = property(lambda self: (0, self.name))

    def text(self) -> str:
        return self.name

    def evaluate(self, sizes) -> int:
        try:
            return sizes[self.name]
        except KeyError:
            raise KeyError(f"no size for '{self.name}'") from None

    def rebuild(self):
        return Sym._atom(self)

    def modulus(self) -> int:
        return facts().divisor.get(self.name, 1)

    def bounds(self):
        f = facts()
        return max(1, f.lower.get(self.name, 1)), f.upper.get(self.name)

    def names(self) -> set[str]:
        return {self.name}

    def __eq__(self, other):
        return isinstance(other, Name) and other.name == self.name

    def __hash__(self):
        return hash(self.name)


class _Div:
    """X // k or X % k: an atom over a polynomial numerator."""

    __slots__ = ("x", "k", "_key")
    sign = ""

    def __init__(self, x: "Sym", k: int):
        self.x, self.k = x, k
        self._key = (1 if self.sign == "//" else 2, str(x), k)

    key = property(lambda self: self._key)

    def text(self) -> str:
        inner = str(self.x)
        return f"({inner}){self.sign}{self.k}" if not self.x.is_name() else \
            f"{inner}{self.sign}{self.k}"

    def names(self) -> set[str]:
        return self.x.names()

    def modulus(self) -> int:
        return 1

    def of_name(self) -> str | None:
        return self.x.terms[0][0][0].name if self.x.is_name() else None

    def __eq__(self, other):
        return type(other) is type(self) and other._key == self._key

    def __hash__(self):
        return hash(self._key)


class Floor(_Div):
    sign = "//"

    def evaluate(self, sizes) -> int:
        return as_int(self.x.evaluate(sizes)) // self.k

    def rebuild(self):
        return floordiv(self.x.rebuild(), self.k)

    def bounds(self):
        lo, hi = bounds(self.x)
        return (None if lo is None else lo // self.k), (None if hi is None else hi // self.k)


class Mod(_Div):
    sign = "%"

    def evaluate(self, sizes) -> int:
        return as_int(self.x.evaluate(sizes)) % self.k

    def rebuild(self):
        return mod(self.x.rebuild(), self.k)

    def bounds(self):
        lo, hi = bounds(self.x)
        if lo is not None and hi is not None and hi - lo < self.k and lo // self.k == hi // self.k:
            return lo % self.k, hi % self.k
        return 0, self.k - 1


# ------------------------------------------------------------------------ the value
class Sym:
    """A non-constant integer expression over named sizes (see the module's docstring).
    Compares equal to its text, so `Sym == "N"` and dict keys by name keep working."""

    __slots__ = ("terms", "_text", "_hash")

    def __init__(self, terms):
        # terms: tuple of (monomial, Fraction), monomial a sorted tuple of atoms
        self.terms = terms
        self._text = None
        self._hash = None

    @staticmethod
    def _atom(atom) -> "Sym":
        return Sym((((atom,), Fraction(1)),))

    @classmethod
    def name(cls, name: str) -> "Sym":
        return cls._atom(Name(name))

    # -- structure
    def is_name(self) -> bool:
        return len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1 \
            and isinstance(self.terms[0][0][0], Name)

    def linear(self):
        """(name, c, d) when self is c*name + d with c, d ints; else None."""
        name, c, d = None, 0, Fraction(0)
        for mono, coef in self.terms:
            if not mono:
                d = coef
            elif len(mono) == 1 and isinstance(mono[0], Name) and name is None:
                name, c = mono[0].name, coef
            else:
                return None
        if name is None or c.denominator != 1 or d.denominator != 1:
            return None
        return name, int(c), int(d)

    def names(self) -> set[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for a in mono:
                out |= a.names()
        return out

    def evaluate(self, sizes) -> int:
        """The value at `sizes` (name -> int)."""
        total = Fraction(0)
        for mono, c in self.terms:
            v = c
            for a in mono:
                v *= a.evaluate(sizes)
            total += v
        return as_int(total)

    def rebuild(self):
        """The same expression simplified under the assumptions now active."""
        out = 0
        for mono, c in self.terms:
            v = c
            for a in mono:
                v = v * a.rebuild()
            out = out + v
        return out

    # -- arithmetic
    def __add__(self, other):
        return _add(self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return _add(self, _scale(other, -1))

    def __rsub__(self, other):
        return _add(other, _scale(self, -1))

    def __neg__(self):
        return _scale(self, -1)

    def __pos__(self):
        return self

    def __mul__(self, other):
        return _mul(self, other)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        return floordiv(self, _divisor(other, "//"))

    def __mod__(self, other):
        return mod(self, _divisor(other, "%"))

    def __rfloordiv__(self, other):
        raise TypeError(f"cannot divide by the symbolic dim {self}")

    __rmod__ = __rfloordiv__

    def __truediv__(self, other):
        raise TypeError(f"a dim divides with //, not / ({self} / {other})")

    # -- comparisons: decided from bounds, else Undecided
    def __lt__(self, other):
        return decide(other - self - 1, f"{self} < {other}")

    def __le__(self, other):
        return decide(other - self, f"{self} <= {other}")

    def __gt__(self, other):
        return decide(self - other - 1, f"{self} > {other}")

    def __ge__(self, other):
        return decide(self - other, f"{self} >= {other}")

    def __eq__(self, other):
        if isinstance(other, Sym):
            return self.terms == other.terms
        if isinstance(other, str):
            return str(self) == other
        return False

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(str(self))
        return self._hash

    def __index__(self):
        raise TypeError(f"the symbolic dim {self} has no value at compile time")

    def __repr__(self):
        return f"Sym({str(self)!r})"

    def __str__(self):
        if self._text is None:
            self._text = _render(self.terms)
        return self._text

    def __format__(self, spec):
        return format(str(self), spec.replace(",", ""))


def as_int(v) -> int:
    if isinstance(v, Fraction):
        if v.denominator != 1:
            raise ValueError(f"a size evaluates to the fraction {v}: an assumption fails")
        return int(v)
    return v


def _divisor(k, op) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"a dim is divided ({op}) by an int, got {k}")
    if k < 1:
        raise ValueError(f"a dim is divided ({op}) by a positive int, got {k}")
    return k


# --------------------------------------------------------------------- polynomials
def _poly(x) -> dict:
    if isinstance(x, Sym):
        return dict(x.terms)
    if isinstance(x, bool) or not isinstance(x, (int, Fraction)):
        raise TypeError(f"cannot use {type(x).__name__} {x!r} as a dim")
    return {(): Fraction(x)} if x else {}


def _make(p: dict):
    p = {m: c for m, c in p.items() if c}
    if not p:
        return 0
    if list(p) == [()]:
        return as_int(p[()])
    return Sym(tuple(sorted(p.items(), key=lambda mc: _mono_key(mc[0]))))


def _mono_key(mono):
    return (-len(mono), [a.key for a in mono])


def _add(a, b):
    p = _poly(a)
    for m, c in _poly(b).items():
        p[m] = p.get(m, 0) + c
    return _make(p)


def _scale(a, k):
    return _make({m: c * k for m, c in _poly(a).items()})


def _mul(a, b):
    pa, pb = _poly(a), _poly(b)
    out: dict = {}
    for ma, ca in pa.items():
        for mb, cb in pb.items():
            m = tuple(sorted(ma + mb, key=lambda atom: atom.key))
            out[m] = out.get(m, 0) + ca * cb
    return _make(out)


def _term_modulus(mono) -> int:
    n = 1
    for a in mono:
        n *= a.modulus()
    return n


def _split(p: dict, k: int):
    """(multiples, rest, constant): the terms that are multiples of k under the
    assumptions, the other non-constant terms, and the constant."""
    q, r = {}, {}
    const = p.get((), Fraction(0))
    for m, c in p.items():
        if not m:
            continue
        ((q if (c * _term_modulus(m) / k).denominator == 1 else r))[m] = c
    return q, r, const


def _multiple(x, k: int) -> bool:
    q, r, const = _split(_poly(x), k)
    return not r and (const / k).denominator == 1


def floordiv(x, k: int):
    """x // k for a dim x and an int k >= 1, simplified."""
    if not isinstance(x, Sym):
        return x // k
    if k == 1:
        return x
    q, r, const = _split(dict(x.terms), k)
    if (const / k).denominator == 1:
        q[()] = const
        const = Fraction(0)
    head = _make({m: c / k for m, c in q.items()})
    if not r:
        return head + int(const) // k
    whole, rest = divmod(int(const), k)
    g = math.gcd(k, *(int(c) for c in r.values() if c.denominator == 1)) \
        if all(c.denominator == 1 for c in r.values()) else 1
    if g > 1:  # (g*S + rest) // (g*k') = (S + rest//g) // k'
        r = {m: c / g for m, c in r.items()}
        rest, k = rest // g, k // g
        if k == 1:
            return head + whole + _make(r) + rest
    if len(r) == 1:
        (mono, c), = r.items()
        if c == 1 and len(mono) == 1 and isinstance(mono[0], Floor):  # (X//a + b)//k
            inner = mono[0]
            return head + whole + floordiv(inner.x + inner.k * rest, inner.k * k)
    num = _make({**r, (): Fraction(rest)} if rest else r)
    return head + whole + Sym._atom(Floor(num, k))


def mod(x, k: int):
    """x % k for a dim x and an int k >= 1, simplified."""
    if not isinstance(x, Sym):
        return x % k
    if k == 1:
        return 0
    q, r, const = _split(dict(x.terms), k)
    rest = int(const) % k
    if not r:
        return rest
    if all(c.denominator == 1 for c in r.values()):
        g = math.gcd(k, *(int(c) for c in r.values()))
        if g > 1:  # (g*S + rest) % (g*k') = g*((S + rest//g) % k') + rest % g
            inner = mod(_make({**{m: c / g for m, c in r.items()}, (): Fraction(rest // g)}),
                        k // g)
            return g * inner + rest % g
    num = _make({**r, (): Fraction(rest)} if rest else r)
    return Sym._atom(Mod(num, k))


def exact_div(x, y):
    """x / y when it is a whole dim for every size (y an int, or one term of x's shape);
    None when that cannot be shown."""
    if isinstance(y, int) and not isinstance(y, bool):
        if y == 0:
            return None
        if not isinstance(x, Sym):
            return x // y if x % y == 0 else None
        return floordiv(x, y) if _multiple(x, y) else None
    if not isinstance(y, Sym) or len(y.terms) != 1:
        return None
    (ymono, yc), = y.terms
    out: dict = {}
    for mono, c in _poly(x).items():
        rest = list(mono)
        for a in ymono:
            if a not in rest:
                return None
            rest.remove(a)
        out[tuple(rest)] = c
    quotient = _make(out)
    return exact_div(quotient, int(yc)) if yc.denominator == 1 else None


# ------------------------------------------------------------------------- bounds
def bounds(x) -> tuple[int | None, int | None]:
    """(lowest, highest) value of a dim over every size the assumptions allow; None is
    unbounded."""
    if not isinstance(x, Sym):
        return x, x
    lo_total, hi_total = Fraction(0), Fraction(0)
    for mono, c in x.terms:
        lo, hi = Fraction(1), Fraction(1)
        for a in mono:
            alo, ahi = a.bounds()
            lo, hi = _interval_mul((lo, hi), (alo, ahi))
        if c < 0:
            lo, hi = (None if hi is None else c * hi), (None if lo is None else c * lo)
        else:
            lo, hi = (None if lo is None else c * lo), (None if hi is None else c * hi)
        lo_total = None if lo is None or lo_total is None else lo_total + lo
        hi_total = None if hi is None or hi_total is None else hi_total + hi
    return (None if lo_total is None else math.ceil(lo_total),
            None if hi_total is None else math.floor(hi_total))


def _interval_mul(a, b):
    """The product of two intervals (None: unbounded that way)."""
    if None not in a and None not in b:
        products = [x * y for x in a for y in b]
        return min(products), max(products)
    if a[0] is not None and b[0] is not None and a[0] >= 0 and b[0] >= 0:
        return a[0] * b[0], None
    return None, None


def decide(x, what: str) -> bool:
    """Is x >= 0 for every size? Bounds are taken term by term, so k*(X//k) - X is also
    read as -(X%k), which bounds it."""
    for form in (x, _unfloor(x)):
        lo, hi = bounds(form)
        if lo is not None and lo >= 0:
            return True
        if hi is not None and hi < 0:
            return False
    raise Undecided(f"cannot tell whether {what} for every size")


def _unfloor(x):
    """x with every X//k written (X - X%k)/k: the same value, for bounds only."""
    if not isinstance(x, Sym):
        return x
    out = 0
    for mono, c in x.terms:
        v = c
        for a in mono:
            v = v * (_scale(a.x - Sym._atom(Mod(a.x, a.k)), Fraction(1, a.k))
                     if isinstance(a, Floor) else Sym._atom(a))
        out = out + v
    return out


def constant_term(d) -> int:
    """The constant in a dim's sum (d itself for an int)."""
    return as_int(_poly(d).get((), Fraction(0)))


def known(d) -> bool:
    return isinstance(d, int)


def same(a, b) -> bool:
    """Are two dims equal for every size the assumptions allow?"""
    if a == b:
        return True
    if not isinstance(a, (int, Sym)) or not isinstance(b, (int, Sym)):
        return False
    diff = a - b
    if isinstance(diff, Sym):
        diff = diff.rebuild()
    return diff == 0


# ------------------------------------------------------------------------ printing
def _render(terms) -> str:
    out = []
    for i, (mono, c) in enumerate(terms):
        text = _term(mono, abs(c))
        if i == 0 and c < 0 and (c.denominator != 1 or (
                len(mono) == 1 and c == -1 and isinstance(mono[0], _Div))):
            text = f"({text})"  # -H//3 would read as (-H)//3: unary minus binds first
        out.append(("-" if c < 0 else "") + text if i == 0 else ("-" if c < 0 else "+") + text)
    return "".join(out)


def _term(mono, c: Fraction) -> str:
    if not mono:
        return str(c)
    atoms = [a.text() for a in mono]
    if len(mono) > 1 or c.numerator != 1:
        atoms = [f"({t})" if isinstance(a, _Div) else t for a, t in zip(mono, atoms)]
    body = "*".join(atoms)
    if c.numerator != 1:
        body = f"{c.numerator}*{body}"
    if c.denominator != 1:  # exact: the assumptions make c * mono whole
        body = f"{body}//{c.denominator}"
    return body
