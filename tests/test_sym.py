"""Symbolic dims (specc/ir/sym.py): arithmetic that simplifies, exact printing that parses
back, evaluation, assumptions, bounds. Fuzzed against plain integer arithmetic."""
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specc.ir.cond import compare, learn, parse_cond
from specc.ir.sym import Facts, Sym, Undecided, assuming, bounds, exact_div, same
from specc.ir.sym_parse import parse

H, W, T = Sym.name("H"), Sym.name("W"), Sym.name("T")
SETTINGS = settings(max_examples=int(os.environ.get("SPECC_HYPOTHESIS_EXAMPLES", "150")),
                    deadline=None)


def conv(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def test_the_issue_example_prints_with_its_brackets_and_parses_back():
    """((H-1)//2+1)*2 printed as `(H+2-3)//2+1*2` before: wrong, since * binds first."""
    up = conv(H, 3, 2, 1) * 2
    assert str(up) == "2*((H+1)//2)"
    assert parse(str(up)) == up
    assert parse("((H-1)//2+1)*2") == up
    for h in range(1, 40):
        assert up.evaluate({"H": h}) == ((h - 1) // 2 + 1) * 2


def test_strided_stages_fold_into_one_division():
    """ResNet's stem and pool: (H+1)//2, then ((H+1)//2+1)//2 is (H+3)//4."""
    stem = conv(H, 7, 2, 3)
    pool = conv(stem, 3, 2, 1)
    assert str(stem) == "(H+1)//2" and str(pool) == "(H+3)//4"
    x = H
    for _ in range(5):
        x = x // 2
    assert str(x) == "H//32"


def test_an_assumption_makes_down_and_up_exact():
    assert not same(conv(H, 3, 2, 1) * 2, H)
    f = Facts()
    learn(f, compare(H % 2, "==", 0))
    with assuming(f):
        assert f.divisor == {"H": 2}
        assert same(conv(H, 3, 2, 1) * 2, H)
        assert str(conv(H, 3, 2, 1)) == "H//2"
        assert compare(H % 4, "==", 0).text == "H%4 == 0"  # undecided, stays a condition


def test_bounds_and_comparisons():
    assert bounds(H - 3) == (-2, None) and bounds(H % 4) == (0, 3)
    assert (H >= 1) is True and (H + 1 > H) is True
    with pytest.raises(Undecided):
        _ = H < 8
    f = Facts()
    learn(f, compare(T, "<=", 64))
    with assuming(f):
        assert f.upper == {"T": 64}
        assert (T <= 64) is True and compare(T, "<=", 64) is True
        assert bounds(T * 2 + 1) == (3, 129)
    # 2*(H//2) never exceeds H: bounded through H%2, not term by term
    assert ((H // 2) * 2 <= H) is True


def test_exact_division():
    assert exact_div(T * 64, T) == 64 and str(exact_div(T * 64, 8)) == "8*T"
    assert exact_div(T * 6, 4) is None and exact_div(H * W, T) is None


def test_conditions_print_and_parse_back():
    c = compare(T, "<=", 16)
    assert parse_cond(str(c)).holds({"T": 16}) and not parse_cond(str(c)).holds({"T": 17})
    assert parse_cond("H%32 == 0").holds({"H": 64}) and not parse_cond("H%32 == 0").holds({"H": 33})


def test_parse_refuses_what_is_not_a_dim():
    for text in ("H/2", "H//W", "import os", "H +", "", "2**H"):
        with pytest.raises(ValueError):
            parse(text)


# --------------------------------------------------------------------------- fuzz
def _exprs():
    leaf = st.one_of(st.sampled_from(["H", "W", "T"]), st.integers(-8, 12))

    def grow(children):
        ops = st.sampled_from(["+", "-", "*", "//", "%"])
        return st.tuples(children, ops, children)
    return st.recursive(leaf, grow, max_leaves=8)


def _build(e, sizes):
    """(Sym value, Python int value) of an expression tree; // and % by positive ints only."""
    if isinstance(e, str):
        return Sym.name(e), sizes[e]
    if isinstance(e, int):
        return e, e
    (a, va), op, (b, vb) = _build(e[0], sizes), e[1], _build(e[2], sizes)
    if op in ("//", "%"):
        k = (abs(vb) % 7) + 1 if isinstance(b, int) else 3
        return (a // k, va // k) if op == "//" else (a % k, va % k)
    return {"+": (a + b, va + vb), "-": (a - b, va - vb), "*": (a * b, va * vb)}[op]


@SETTINGS
@given(_exprs(), st.integers(1, 300), st.integers(1, 300), st.integers(1, 300))
def test_simplification_keeps_the_value(e, h, w, t):
    sizes = {"H": h, "W": w, "T": t}
    value, expected = _build(e, sizes)
    got = value.evaluate(sizes) if isinstance(value, Sym) else value
    assert got == expected
    if isinstance(value, Sym):  # printed text parses to the same value (and the same form)
        back = parse(str(value))
        assert back == value
        assert back.evaluate(sizes) == expected


@SETTINGS
@given(_exprs(), st.sampled_from([2, 4, 8]), st.integers(1, 40), st.integers(1, 300))
def test_assumptions_keep_the_value_where_they_hold(e, k, hk, w):
    """Under H % k == 0, every simplification is exact at every H that is a multiple of k,
    and the text still parses to the same value there."""
    f = Facts()
    learn(f, compare(H % k, "==", 0))
    sizes = {"H": hk * k, "W": w, "T": 5}
    with assuming(f):
        value, expected = _build(e, sizes)
        if isinstance(value, Sym):
            assert value.evaluate(sizes) == expected
            assert parse(str(value)).evaluate(sizes) == expected
        else:
            assert value == expected
