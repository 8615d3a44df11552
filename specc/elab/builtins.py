"""Compile-time functions and initialisers available in every spec."""
from __future__ import annotations

import math

from ..core.diagnostics import SpeccError
from ..ir.graph import INIT_ARGS, Init
from ..ir.sym import Sym, Undecided
from ..lang.values import Builtin, Tensor, show, type_name

MAX_LIST = 100_000


class BuiltinError(Exception):
    """A builtin was misused; the caller adds the span."""


def _ints(args, name):
    for a in args:
        if isinstance(a, bool) or not isinstance(a, int):
            raise BuiltinError(f"{name}() takes integers, got {type_name(a)}")


def _range(*args):
    _ints(args, "range")
    if not 1 <= len(args) <= 3:
        raise BuiltinError("range() takes 1 to 3 integers")
    if len(args) == 3 and args[2] == 0:
        raise BuiltinError("range() step must not be zero")
    r = range(*args)
    if len(r) > MAX_LIST:
        raise BuiltinError(f"range() of {len(r):,} items exceeds the limit of {MAX_LIST:,}")
    return tuple(r)


def _seq(v, name):
    if isinstance(v, str):
        return tuple(v)
    if not isinstance(v, tuple):
        raise BuiltinError(f"{name}() takes a list, got {type_name(v)}")
    return v


def _len(v):
    if isinstance(v, Tensor):
        return v.type.rank
    return len(_seq(v, "len"))


def _enumerate(v):
    return tuple((i, x) for i, x in enumerate(_seq(v, "enumerate")))


def _zip(*vs):
    return tuple(zip(*(_seq(v, "zip") for v in vs)))


def _numbers(args, name):
    vals = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BuiltinError(f"{name}() takes numbers, got {type_name(v)}")
    if not vals:
        raise BuiltinError(f"{name}() of an empty list")
    return vals


def _extreme(args, name):
    """min()/max() of numbers, or of sizes (ints and symbolic dims) when the network's
    assumptions decide which is smaller (min(1000, H // 128 * 819) after assert H >= 256)."""
    vals = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    if not any(isinstance(v, Sym) for v in vals):
        vals = _numbers(args, name)
        return min(vals) if name == "min" else max(vals)
    for v in vals:
        if not isinstance(v, Sym) and (isinstance(v, bool) or not isinstance(v, int)):
            raise BuiltinError(f"{name}() of sizes takes ints and dims, got {type_name(v)}")
    best = vals[0]
    for v in vals[1:]:
        try:  # v takes over when it is never worse; best stays when it is never worse
            best = v if (v <= best if name == "min" else v >= best) else best
        except Undecided:
            try:
                if not (best <= v if name == "min" else best >= v):
                    raise Undecided
            except Undecided:
                raise BuiltinError(
                    f"{name}({best}, {v}): which is {'smaller' if name == 'min' else 'larger'} "
                    "depends on the sizes; state it with an assert after the input "
                    f"(assert {best} <= {v})") from None
    return best


def _str(v):
    if isinstance(v, Sym):
        return str(v)
    if isinstance(v, (bool, int, float, str)) or v is None:
        return show(v) if not isinstance(v, str) else v
    raise BuiltinError(f"str() of {type_name(v)}")


def _int(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v != v or v in (float("inf"), float("-inf")):
            raise BuiltinError(f"int() of {show(v)}")
        return int(v)
    raise BuiltinError(f"int() of {type_name(v)}")


def _float(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    raise BuiltinError(f"float() of {type_name(v)}")


def _ceil(v):
    return math.ceil(_finite(v, "ceil()"))


def _floor(v):
    return math.floor(_finite(v, "floor()"))


def _finite(v, what):
    v = _number(v, what)
    if not math.isfinite(v) or abs(v) > 2 ** 62:
        raise BuiltinError(f"{what} of {show(v)} is out of range")
    return v


def _make_divisible(v, divisor=8):
    """The width rounding of MobileNet and EfficientNet: the nearest multiple of `divisor`,
    at least `divisor`, and never more than 10% below v."""
    v = _finite(v, "make_divisible()")
    _ints((divisor,), "make_divisible")
    if divisor < 1:
        raise BuiltinError("make_divisible() divisor must be positive")
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


def _number(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BuiltinError(f"{what} takes numbers, got {type_name(v)}")
    return float(v)


def _uniform(a, b):
    a, b = _number(a, "uniform()"), _number(b, "uniform()")
    if not a < b:
        raise BuiltinError(f"uniform({show(a)}, {show(b)}) needs a < b")
    return Init("uniform", (a, b))


def _by_name(kind: str, args: tuple, example: str) -> None:
    """normal() and trunc_normal() take keywords only: torch.nn.init.normal_(t, mean, std)
    puts the mean first, and specc took normal(std, mean) before, so a positional call
    cannot be read without guessing."""
    if args:
        shown = ", ".join(show(a) for a in args)
        raise BuiltinError(
            f"{kind}({shown}) is ambiguous: torch.nn.init.{kind}_ reads its arguments as "
            f"(mean, std{', a, b' if kind == 'trunc_normal' else ''}), specc used to read "
            f"normal(std, mean); name them: {example}")


def _normal(*args, mean=0.0, std=1.0):
    _by_name("normal", args, "normal(std=0.01), or normal(mean=1.0, std=0.02)")
    mean, std = _number(mean, "normal()"), _number(std, "normal()")
    if std < 0:
        raise BuiltinError("normal() std must be >= 0")
    return Init("normal", (mean, std))


def _trunc_normal(*args, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """torch.nn.init.trunc_normal_: N(mean, std) redrawn outside [a, b] (absolute bounds)."""
    _by_name("trunc_normal", args, "trunc_normal(std=0.02), or with a=-0.04, b=0.04")
    mean, std = _number(mean, "trunc_normal()"), _number(std, "trunc_normal()")
    a, b = _number(a, "trunc_normal()"), _number(b, "trunc_normal()")
    if std < 0 or not a < b:
        raise BuiltinError("trunc_normal() needs std >= 0 and a < b")
    return Init("trunc_normal", (mean, std, a, b))


def _constant(val):
    return Init("constant", (_number(val, "constant()"),))


def _fan_in_uniform(scale):
    return Init("fan_in_uniform", (_number(scale, "fan_in_uniform()"),))


def _bipolar(seed=0, density=1.0):
    """Fixed +-1 entries from their own seed; with density < 1 the rest are 0 (sparse wiring)."""
    _ints((seed,), "bipolar")
    density = _number(density, "bipolar()")
    if not 0.0 < density <= 1.0:
        raise BuiltinError("bipolar() density must be in (0, 1]")
    return Init("bipolar", (seed,) if density == 1.0 else (seed, density))


_VALUES: dict[int, tuple[tuple, Init]] = {}  # id of a literal -> (it, its initialiser)


def _values(v):
    """The numbers of a nested list as an initialiser; one table declared in every block of a
    network (a relative position index) is converted once."""
    hit = _VALUES.get(id(v))
    if hit is not None and hit[0] is v:
        return hit[1]
    flat = []

    def walk(x):
        if isinstance(x, tuple):
            for y in x:
                walk(y)
        else:
            flat.append(_number(x, "values()"))
    walk(v)
    init = Init("values", tuple(flat))
    if len(_VALUES) > 1000:
        _VALUES.clear()
    _VALUES[id(v)] = (v, init)
    return init


def _log(v, base=None):
    v = _finite(v, "log()")
    if v <= 0:
        raise BuiltinError(f"log() of {show(v)}: the logarithm needs a positive number")
    if base is None:
        return math.log(v)
    base = _finite(base, "log()")
    if base <= 0 or base == 1:
        raise BuiltinError(f"log() base {show(base)} must be positive and not 1")
    return math.log(v) / math.log(base)


def _exp(v):
    v = _finite(v, "exp()")
    if v > 709:
        raise BuiltinError(f"exp() of {show(v)} is out of range")
    return math.exp(v)


def _sqrt(v):
    v = _finite(v, "sqrt()")
    if v < 0:
        raise BuiltinError(f"sqrt() of {show(v)}: the square root needs a number >= 0")
    return math.sqrt(v)


def _round(v, digits=None):
    """Python's (and torch.round's) rounding: halves go to the even neighbour."""
    v = _finite(v, "round()")
    if digits is None:
        return round(v)
    _ints((digits,), "round")
    return round(v, max(-30, min(30, digits)))


FUNCTIONS = {
    "range": _range, "len": _len, "enumerate": _enumerate, "zip": _zip,
    "min": lambda *a: _extreme(a, "min"), "max": lambda *a: _extreme(a, "max"),
    "sum": lambda *a: sum(_numbers(a, "sum")), "abs": lambda v: abs(_number(v, "abs()")),
    "str": _str, "int": _int, "float": _float, "ceil": _ceil, "floor": _floor,
    "round": _round, "log": _log, "exp": _exp, "sqrt": _sqrt,
    "make_divisible": _make_divisible,
    "uniform": _uniform, "normal": _normal, "trunc_normal": _trunc_normal, "constant": _constant,
    "fan_in_uniform": _fan_in_uniform, "bipolar": _bipolar, "values": _values,
}

# Every builtin's signature and what it gives (the reference: `specc ops`, docs/ops.md).
SIGNATURES = {
    "range": ("range(stop) / range(start, stop[, step])", "the list of ints, as in Python"),
    "len": ("len(list | str | tensor)", "the number of items; a tensor's rank"),
    "enumerate": ("enumerate(list)", "the list of [index, item] pairs"),
    "zip": ("zip(list, list, ...)", "the list of tuples of the lists' items, as long as the "
            "shortest"),
    "min": ("min(a, b, ...) / min(list)", "the smallest number; on a tensor, the op `min`"),
    "max": ("max(a, b, ...) / max(list)", "the largest number; on a tensor, the op `max`"),
    "sum": ("sum(a, b, ...) / sum(list)", "the sum of the numbers; on a tensor, the op `sum`"),
    "abs": ("abs(x)", "the absolute value; on a tensor, the op `abs`"),
    "str": ("str(x)", "a number, bool or none as text (`str(3)` is \"3\")"),
    "int": ("int(x)", "a number truncated toward zero"),
    "float": ("float(x)", "a number as a float"),
    "ceil": ("ceil(x)", "the smallest int >= x"),
    "floor": ("floor(x)", "the largest int <= x"),
    "round": ("round(x[, digits])", "the nearest int (halves to the even one, as Python and "
              "torch.round); with digits, a float rounded to that many decimals"),
    "log": ("log(x[, base])", "the natural logarithm, or to `base` (log(x, 2)); on a tensor, "
            "the op `log`"),
    "exp": ("exp(x)", "e to the power x; on a tensor, the op `exp`"),
    "sqrt": ("sqrt(x)", "the square root; on a tensor, the op `sqrt`"),
    "make_divisible": ("make_divisible(v, divisor=8)", "MobileNet's and EfficientNet's width "
                       "rounding: the nearest multiple of divisor, at least divisor, never "
                       "more than 10 % below v"),
    "uniform": ("uniform(a, b)", "initialiser: U(a, b)"),
    "normal": ("normal(mean=0.0, std=1.0)", "initialiser: N(mean, std^2), its arguments named "
               "(torch.nn.init.normal_'s order is (mean, std))"),
    "trunc_normal": ("trunc_normal(mean=0.0, std=1.0, a=-2.0, b=2.0)", "initialiser: N(mean, "
                     "std^2) redrawn outside [a, b] (absolute bounds, as "
                     "torch.nn.init.trunc_normal_)"),
    "constant": ("constant(v)", "initialiser: every entry v"),
    "fan_in_uniform": ("fan_in_uniform(s)", "initialiser: U(-s/F, s/F), F the fan-in "
                       "(LeCun 1998)"),
    "bipolar": ("bipolar(seed=0, density=1.0)", "initialiser: fixed +-1 codes from their own "
                "seed; with density < 1 the rest are 0"),
    "values": ("values(list)", "initialiser: the numbers of a nested list, row-major"),
    "default": ("default", "initialiser: PyTorch's, U(-1/sqrt(F), 1/sqrt(F))"),
    "he_normal": ("he_normal / he_normal(a=0.0, mode=\"fan_in\")", "initialiser: N(0, 2 / "
                  "((1 + a^2) F)) (He et al. 2015; a is the PReLU slope); mode=\"fan_out\" "
                  "puts the fan-out (as torch counts it) for F"),
    "he_uniform": ("he_uniform / he_uniform(a=0.0, mode=\"fan_in\")", "initialiser: U(-b, b), "
                   "b = sqrt(6 / ((1 + a^2) F)); mode as he_normal's"),
    "glorot_normal": ("glorot_normal", "initialiser: N(0, 2 / (F + F_out))"),
    "glorot_uniform": ("glorot_uniform", "initialiser: U(-b, b), b = sqrt(6 / (F + F_out))"),
    "lecun_normal": ("lecun_normal", "initialiser: N(0, 1 / F)"),
    "zeros": ("zeros", "initialiser: every entry 0"),
    "ones": ("ones", "initialiser: every entry 1"),
}


def _slope_aware(kind):
    """He et al. 2015 (PReLU paper, eq. 15): with negative slope `a` after the layer,
    1/2 (1 + a^2) n Var[w] = 1, so the variance shrinks by 1 + a^2. `he_normal(a=0.25)`;
    mode="fan_out" counts the outputs instead (torchvision's ResNet-style initialisation)."""
    def make(a=0.0, mode="fan_in"):
        a = _number(a, f"{kind}()")
        if a < 0:
            raise BuiltinError(f"{kind}() slope a must be >= 0")
        if mode not in ("fan_in", "fan_out"):
            raise BuiltinError(f"{kind}() mode must be \"fan_in\" or \"fan_out\", got {show(mode)}")
        return Init(kind, ((a,) if a else ()) + (("fan_out",) if mode == "fan_out" else ()))
    return make


def _gain(kind):
    """Glorot & Bengio's bounds times `gain` (torch.nn.init.xavier_*(gain=...))."""
    def make(gain=1.0):
        gain = _number(gain, f"{kind}()")
        if gain <= 0:
            raise BuiltinError(f"{kind}() gain must be > 0")
        return Init(kind, (gain,)) if gain != 1.0 else Init(kind)
    return make


# Initialisers that also take arguments when called (bare, they are their defaults).
CALLABLE_INITIALISERS = {"he_normal": _slope_aware("he_normal"),
                         "he_uniform": _slope_aware("he_uniform"),
                         "glorot_normal": _gain("glorot_normal"),
                         "glorot_uniform": _gain("glorot_uniform")}

INITIALISERS = {name: Init(name) for name in (
    "default", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal",
    "zeros", "ones")}


def lookup(name: str):
    if name in FUNCTIONS:
        return Builtin(name, FUNCTIONS[name])
    return INITIALISERS.get(name)


def names() -> list[str]:
    return list(FUNCTIONS) + list(INITIALISERS)


def call_init(init: Init, args: list, kwargs: dict, span) -> Init:
    """`he_normal(a=0.25)`: an initialiser value called with its arguments."""
    make = CALLABLE_INITIALISERS.get(init.kind)
    if make is None or init.args:
        raise SpeccError(f"initialiser {init} takes no arguments", span,
                         (f"initialisers with arguments: {', '.join(CALLABLE_INITIALISERS)}",))
    return call(Builtin(init.kind, make), args, kwargs, span)


def call(builtin: Builtin, args: list, kwargs: dict, span) -> object:
    try:
        return builtin.fn(*args, **kwargs)
    except BuiltinError as e:
        raise SpeccError(str(e), span) from None
    except TypeError:
        takes = INIT_ARGS.get(builtin.name)
        hint = f": {builtin.name}() takes {', '.join(takes)}" if takes else ""
        raise SpeccError(f"wrong arguments for {builtin.name}(){hint}", span) from None
