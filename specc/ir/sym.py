"""Symbolic dims: integer expressions over named sizes (`N`, `H`, `(H+1)//2`, `64*H*W`).

A dim is an `int` or a `Sym`. A Sym is a polynomial over atoms, kept in one canonical form:
an atom is a name, `X//k` or `X%k` (X a polynomial, k > 1 an int). Arithmetic with the
ordinary operators (`+ - * // %`) simplifies as it goes and gives back a plain int whenever
the value is a constant, so a shape rule written as `(size + 2*pad - span) // stride + 1`
works for both kinds of dim. What the active assumptions (`assuming`) say about names is
used: with `H % 2 == 0` assumed, `(H+1)//2*2` is `H`; with `T <= 64`, `T <= 64` holds.

Sizes are positive (every name is >= 1). Coefficients are fractions only where an assumption
makes a division exact (H//2 with H even is held as H/2), and every term stays an integer.
`str()` prints valid spec/Python text with the brackets it needs; `parse` reads it back.
"""
from __future__ import annotations

import contextvars
import math
import re
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
        # conditions shape rules need but cannot decide (a window that must fit: H >= 3),
        # with what needs them; the elaborator makes them assumptions checked at run time
        self.needs: list[tuple[Cond, str]] = []

    def copy(self) -> "Facts":
        out = Facts()
        out.divisor, out.upper = dict(self.divisor), dict(self.upper)
        out.lower, out.batch = dict(self.lower), set(self.batch)
        return out

    def need(self, x, least: int, what: str) -> bool:
        """x >= least: True when it holds for every size, False when it holds for none;
        otherwise it is recorded as a need (checked at run time) and True."""
        diff = x - least
        lo, hi = bounds(diff)
        if lo is not None and lo >= 0:
            return True
        if hi is not None and hi < 0:
            return False
        const = _poly(diff).get((), Fraction(0))
        cond = Cond(diff, ">=", f"{diff - const} >= {_int(-const)}")
        if not any(c.text == cond.text for c, _ in self.needs):
            self.needs.append((cond, what))
        self.learn(cond)
        return True

    def learn(self, cond: "Cond") -> bool:
        """Take in what `cond` says about a single name; False when it says nothing usable
        (it is then only checked at run time)."""
        e, op = cond.expr, cond.op
        if not isinstance(e, Sym):
            return False
        if op == "==" and len(e.terms) == 1:
            (mono, c), = e.terms
            if len(mono) == 1 and isinstance(mono[0], Mod) and mono[0].of_name():
                name, k = mono[0].of_name(), mono[0].k
                self.divisor[name] = math.lcm(self.divisor.get(name, 1), k)
                return True
        if op == ">=":  # c*name + d >= 0
            lin = e.linear()
            if lin is not None:
                name, c, d = lin
                if c < 0:  # d >= -c*name: name <= d / -c
                    bound = math.floor(d / -c)
                    self.upper[name] = min(self.upper.get(name, bound), bound)
                else:
                    bound = math.ceil(-d / c)
                    self.lower[name] = max(self.lower.get(name, bound), bound)
                return True
        return False


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
        return _int(self.x.evaluate(sizes)) // self.k

    def rebuild(self):
        return floordiv(self.x.rebuild(), self.k)

    def bounds(self):
        lo, hi = bounds(self.x)
        return (None if lo is None else lo // self.k), (None if hi is None else hi // self.k)


class Mod(_Div):
    sign = "%"

    def evaluate(self, sizes) -> int:
        return _int(self.x.evaluate(sizes)) % self.k

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
        return _int(total)

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
        return _decide(other - self - 1, f"{self} < {other}")

    def __le__(self, other):
        return _decide(other - self, f"{self} <= {other}")

    def __gt__(self, other):
        return _decide(self - other - 1, f"{self} > {other}")

    def __ge__(self, other):
        return _decide(self - other, f"{self} >= {other}")

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


def _int(v) -> int:
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
    if isinstance(x, str):
        return _poly(parse(x))
    if isinstance(x, bool) or not isinstance(x, (int, Fraction)):
        raise TypeError(f"cannot use {type(x).__name__} {x!r} as a dim")
    return {(): Fraction(x)} if x else {}


def _make(p: dict):
    p = {m: c for m, c in p.items() if c}
    if not p:
        return 0
    if list(p) == [()]:
        return _int(p[()])
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


def _decide(x, what: str) -> bool:
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


def known(d) -> bool:
    return isinstance(d, int)


def is_sym(d) -> bool:
    return isinstance(d, Sym)


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


# ----------------------------------------------------------------------- conditions
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
        return _decide(diff, text)
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


# ------------------------------------------------------------------------- parsing
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z_0-9]*)|(//|[-+*%()]))")


def parse(text: str):
    """A dim from its text (`str(dim)` for an int or a Sym): int, or Sym."""
    tokens, pos = [], 0
    text = str(text)
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"not a dim expression: {text!r}")
        number, name, punct = m.groups()
        tokens.append(int(number) if number is not None else name or punct)
        pos = m.end()
    p = _Parser(tokens, text)
    value = p.sum()
    if p.i != len(tokens):
        raise ValueError(f"not a dim expression: {text!r}")
    return value


class _Parser:
    def __init__(self, tokens, text):
        self.t, self.i, self.text = tokens, 0, text

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            raise ValueError(f"not a dim expression: {self.text!r}")
        self.i += 1
        return tok

    def sum(self):
        v = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.product()
            v = v + w if op == "+" else v - w
        return v

    def product(self):
        v = self.unary()
        while self.peek() in ("*", "//", "%"):
            op = self.take()
            w = self.unary()
            if op == "*":
                v = v * w
            elif not isinstance(w, int) or w < 1:
                raise ValueError(f"not a dim expression: {self.text!r} (divides by {w})")
            else:
                v = v // w if op == "//" else v % w
        return v

    def unary(self):
        if self.peek() == "-":
            self.take()
            return -self.unary()
        tok = self.take()
        if tok == "(":
            v = self.sum()
            if self.take() != ")":
                raise ValueError(f"not a dim expression: {self.text!r}")
            return v
        if isinstance(tok, int):
            return tok
        if isinstance(tok, str) and (tok[0].isalpha() or tok[0] == "_"):
            return Sym.name(tok)
        raise ValueError(f"not a dim expression: {self.text!r}")


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
            v = ops.const(_int(c))
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
    assumptions (JSON text of [condition, message, where]); a ValueError names the one
    they break."""
    import json
    problem = check_sizes(_ASSUMES.get(assumes) or _ASSUMES.setdefault(assumes, json.loads(assumes)),
                          dict(zip(names, (int(v) for v in values))))
    if problem:
        raise ValueError(f"input sizes {problem}")


_ASSUMES: dict = {}
