"""The `train { ... }` recipe: parsed and type-checked with the spec, used by `specc train`."""
from __future__ import annotations

from dataclasses import replace

from .. import ast as A
from ..diagnostics import SpeccError
from ..values import POISON, Record, show, type_name

_NUM = "number"
# constructor -> {field: (kind, default)}; a default of ... means required
CONSTRUCTORS = {
    "sgd": {"lr": (_NUM, ...), "momentum": (_NUM, 0.0), "nesterov": ("bool", False),
            "weight_decay": (_NUM, 0.0)},
    "adam": {"lr": (_NUM, ...), "beta1": (_NUM, 0.9), "beta2": (_NUM, 0.999),
             "weight_decay": (_NUM, 0.0)},
    "adamw": {"lr": (_NUM, ...), "beta1": (_NUM, 0.9), "beta2": (_NUM, 0.999),
              "weight_decay": (_NUM, 0.01)},
    "rmsprop": {"lr": (_NUM, ...), "alpha": (_NUM, 0.99), "momentum": (_NUM, 0.0),
                "weight_decay": (_NUM, 0.0)},
    "constant": {},
    "step": {"every": ("int", ...), "gamma": (_NUM, 0.1)},
    "multistep": {"milestones": ("ints", ...), "gamma": (_NUM, 0.1)},
    "cosine": {"min_lr": (_NUM, 0.0)},
    "plateau": {"patience": ("int", 10), "factor": (_NUM, 0.1)},
    # a warm-up that holds a small lr, then the schedule from its start (He et al. 2016, 4.2)
    "hold": {"epochs": ("int", ...), "lr": (_NUM, ...)},
}
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "multistep", "cosine", "plateau")
LOSSES = ("cross_entropy", "mse", "lenet", "perceptron")
AUGMENTS = ("flip", "crop", "shift")

# key -> (kind, allowed values or None)
KEYS = {
    "data": ("str", None), "batch_size": ("int", None), "epochs": ("int", None),
    "optimizer": ("record", OPTIMIZERS), "schedule": ("record", SCHEDULES),
    "warmup": ("warmup", ("hold",)), "loss": ("str", LOSSES), "augment": ("strs", AUGMENTS),
    "labels": ("strs", None), "mean": ("numbers", None), "std": ("numbers", None),
    "pixel_range": ("numbers", None), "seed": ("int", None),
    "output_weights": ("numbers", None),
}


def evaluate_recipe(ev, stmt: A.StmtTrain, frame) -> dict:
    out = {}
    for item in stmt.items:
        span = frame.span(item.span)
        if item.key not in KEYS:
            from ..suggest import did_you_mean
            raise SpeccError(f"unknown recipe key '{item.key}'{did_you_mean(item.key, KEYS)}",
                             _key_span(span, item.key),
                             (f"recipe keys: {', '.join(KEYS)}",))
        if item.key in out:
            raise SpeccError(f"recipe key '{item.key}' is set twice", span)
        kind, allowed = KEYS[item.key]
        record = kind == "record" or (kind == "warmup" and _names_constructor(item.value))
        value = _record(ev, item.value, frame) if record else ev.eval(item.value, frame)
        if value is POISON:
            continue
        out[item.key] = _check(item.key, kind, allowed, value, span)
    return out


def _names_constructor(e: A.Expr) -> bool:
    callee = e.callee if isinstance(e, A.ExprCall) else e
    return isinstance(callee, A.ExprName) and callee.name in CONSTRUCTORS


def _record(ev, e: A.Expr, frame):
    if isinstance(e, A.ExprName) and e.name in CONSTRUCTORS:
        return _build(e.name, {}, frame.span(e.span))
    if isinstance(e, A.ExprCall) and isinstance(e.callee, A.ExprName) \
            and e.callee.name in CONSTRUCTORS:
        if any(a.name is None for a in e.args):
            raise SpeccError(f"'{e.callee.name}' takes keyword arguments only, e.g. "
                             f"{e.callee.name}(lr=0.1)", frame.span(e.span))
        fields = CONSTRUCTORS[e.callee.name]
        for a in e.args:  # an unknown name is the mistake, even when a required one is missing
            if a.name not in fields:
                from ..suggest import did_you_mean
                raise SpeccError(f"'{e.callee.name}' has no argument '{a.name}'"
                                 f"{did_you_mean(a.name, fields)}", _key_span(frame.span(a.span),
                                                                            a.name),
                                 (f"'{e.callee.name}' takes: {', '.join(fields) or 'nothing'}",))
        kwargs = {a.name: ev.eval(a.value, frame) for a in e.args}
        if POISON in kwargs.values():
            return POISON
        return _build(e.callee.name, kwargs, frame.span(e.span))
    raise SpeccError(f"expected one of {', '.join(CONSTRUCTORS)}", frame.span(e.span))


def _key_span(span, name: str):
    """The span of just the name at the start of `span` (`learning_rate` in `learning_rate=1`)."""
    return replace(span, end_line=span.line, end_col=span.col + len(name))


def _build(kind: str, kwargs: dict, span) -> Record:
    fields = CONSTRUCTORS[kind]
    values = {}
    for name, (fkind, default) in fields.items():
        if name in kwargs:
            values[name] = _check(f"{kind}.{name}", fkind, None, kwargs[name], span)
        elif default is ...:
            raise SpeccError(f"'{kind}' needs '{name}'", span)
        else:
            values[name] = default
    extra = set(kwargs) - set(fields)
    if extra:
        raise SpeccError(f"'{kind}' has no field '{sorted(extra)[0]}'", span,
                         (f"'{kind}' takes: {', '.join(fields) or 'nothing'}",))
    return Record(kind, tuple(values.items()))


def _check(key: str, kind: str, allowed, v, span):
    def bad(want):
        return SpeccError(f"recipe '{key}' must be {want}, got {type_name(v)} {show(v)}", span)

    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "str" and not isinstance(v, str):
        raise bad("a string")
    if kind == "int" and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
        raise bad("a non-negative int")
    if kind == "bool" and not isinstance(v, bool):
        raise bad("true or false")
    if kind == _NUM:
        if not number or v < 0:
            raise bad("a non-negative number")
        v = float(v)
    if kind == "strs" and not (isinstance(v, tuple) and all(isinstance(x, str) for x in v)):
        raise bad("a list of strings")
    if kind in ("ints", "numbers"):
        ok = isinstance(v, tuple) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                         for x in v)
        if not ok:
            raise bad("a list of numbers")
    if kind == "warmup":  # epochs of a linear ramp, or a record such as hold(epochs=1, lr=0.01)
        if isinstance(v, Record):
            return _check(key, "record", allowed, v, span)
        return _check(key, "int", None, v, span)
    if kind == "record":
        if v.kind not in allowed:
            raise SpeccError(f"recipe '{key}' must be one of {', '.join(allowed)}, got "
                             f"'{v.kind}'", span)
        return v.as_dict()
    if allowed is not None:
        items = v if isinstance(v, tuple) else (v,)
        for x in items:
            if x not in allowed:
                raise SpeccError(f"recipe '{key}': unknown value {show(x)}", span,
                                 (f"known: {', '.join(allowed)}",))
    return list(v) if isinstance(v, tuple) else v
