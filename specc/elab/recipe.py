"""The `train { ... }` recipe: parsed and type-checked with the spec, used by `specc train`."""
from __future__ import annotations

import math
from dataclasses import replace

from ..lang import ast as A
from ..recipes.augment import AUGMENTATIONS
from ..core.defaults import MAX_BATCH
from ..core.diagnostics import SpeccError
from ..lang.values import POISON, NetworkRef, Record, show, type_name
from ..recipes.registry import (BATCH, CONSTRUCTORS, COUNT, FRACTION, GAMES, LOSSES, NETWORK,
                                NUM, OPTIMIZERS, POS, SCHEDULES, SEED, UNIT, WARMUPS, entry)
from ..recipes.schedule import schedule_problem, schedule_unit
from ..recipes.sources import source_problem

# key -> (kind, allowed values or None). The optimisers, schedules, warm-ups and losses come from
# their registry (specc/recipes/registry.py, which also says what each kind of value admits);
# CONSTRUCTORS: name -> {field: (kind, default)} of the first three
KEYS = {
    "data": ("source", None), "batch_size": (BATCH, None), "epochs": (COUNT, None),
    "steps": (COUNT, None),
    "optimizer": ("record", OPTIMIZERS), "schedule": ("record", SCHEDULES),
    "warmup": ("warmup", WARMUPS), "loss": ("str", LOSSES),
    "augment": ("augments", None),
    "eval": ("augment", None),
    "labels": ("strs", None), "mean": ("numbers", None), "std": ("positives", None),
    "pixel_range": ("numbers", None), "seed": (SEED, None),
    "output_weights": ("numbers", None),
    # the input size a network of symbolic sizes is trained, checked and verified at: an int
    # for each symbolic dim after the batch (H, W) in the order the inputs declare them, or
    # one int for all of them
    "size": ("sizes", None),
    # a generator trained against a discriminator network (specc/recipes/adversarial.py)
    "adversary": ("record", GAMES),
}


def evaluate_recipe(ev, stmt: A.StmtTrain, frame, spans: dict | None = None) -> dict:
    """The recipe as plain values; `spans` (if given) receives each key's span."""
    out, spans = {}, ({} if spans is None else spans)
    for item in stmt.items:
        span = spans[item.key] = frame.span(item.span)
        if item.key not in KEYS:
            from ..core.suggest import did_you_mean
            raise SpeccError(f"unknown recipe key '{item.key}'{did_you_mean(item.key, KEYS)}",
                             _key_span(span, item.key),
                             (f"recipe keys: {', '.join(KEYS)}",))
        if item.key in out:
            raise SpeccError(f"recipe key '{item.key}' is set twice", span)
        kind, allowed = KEYS[item.key]
        try:  # every bad value is reported, each at its line
            if kind == "augments":
                out[item.key] = _augments(ev, item.value, frame)
                continue
            record = kind in ("record", "augment") or \
                (kind == "warmup" and _names_constructor(item.value))
            table = _constructors(kind, item.key)
            value = _record(ev, item.value, frame, table) if record else ev.eval(item.value, frame)
            if value is not POISON:
                out[item.key] = _check(item.key, kind, allowed, value, span)
        except SpeccError as e:
            ev.errors.add(e)
            out[item.key] = POISON
    out = {k: v for k, v in out.items() if v is not POISON}
    _check_schedule(ev, out, spans)
    if "adversary" in out and "loss" in out:
        ev.errors.add(SpeccError("recipe 'loss' does not go with 'adversary': the adversarial "
                                 f"game '{out['adversary']['name']}' sets both networks' losses",
                                 spans["loss"]))
    return out


def _check_schedule(ev, recipe: dict, spans: dict) -> None:
    """Checks across keys: the schedule and warm-up count in one unit (reported at the
    warm-up), and every drop of the schedule falls inside the run."""
    schedule = recipe.get("schedule")
    try:
        schedule_unit(schedule, recipe.get("warmup"))
    except SpeccError as e:
        ev.errors.add(SpeccError(e.message, spans.get("warmup"), e.notes))
    problem = schedule_problem(schedule, recipe) if schedule else None
    if problem:
        ev.errors.add(SpeccError(f"recipe 'schedule': {problem}", spans["schedule"]))


def _names_constructor(e: A.Expr) -> bool:
    callee = e.callee if isinstance(e, A.ExprCall) else e
    return isinstance(callee, A.ExprName) and callee.name in CONSTRUCTORS


def _constructors(kind: str, key: str) -> dict:
    """name -> {field: (kind, default)}: optimisers, schedules and warm-ups, or the
    augmentations (from their registry) that may serve as `augment` items or as `eval`."""
    if kind not in ("augment", "augments"):
        return CONSTRUCTORS
    wanted = "training" if key == "augment" else "evaluation"
    return {name: e.params for name, e in AUGMENTATIONS.items() if getattr(e, wanted)}


def _augments(ev, e: A.Expr, frame) -> list:
    """`augment = [record, ...]`: every item an augmentation record."""
    if not isinstance(e, A.ExprList):
        raise SpeccError("recipe 'augment' must be a list of augmentations, e.g. "
                         "[random_crop(pad=4), hflip]", frame.span(e.span))
    table = _constructors("augments", "augment")
    items = [_record(ev, item, frame, table) for item in e.items]
    return [r.as_dict() for r in items if r is not POISON]


def _record(ev, e: A.Expr, frame, table: dict = CONSTRUCTORS):
    if isinstance(e, A.ExprName) and e.name in table:
        return _build(e.name, {}, frame.span(e.span), table)
    if isinstance(e, A.ExprCall) and isinstance(e.callee, A.ExprName) \
            and e.callee.name in table:
        if any(a.name is None for a in e.args):
            raise SpeccError(f"'{e.callee.name}' takes keyword arguments only, e.g. "
                             f"{e.callee.name}({next(iter(table[e.callee.name]), 'x')}=...)",
                             frame.span(e.span))
        fields = table[e.callee.name]
        for a in e.args:  # an unknown name is the mistake, even when a required one is missing
            if a.name not in fields:
                from ..core.suggest import did_you_mean
                raise SpeccError(f"'{e.callee.name}' has no argument '{a.name}'"
                                 f"{did_you_mean(a.name, fields)}", _key_span(frame.span(a.span),
                                                                            a.name),
                                 (f"'{e.callee.name}' takes: {', '.join(fields) or 'nothing'}",))
        for a in e.args:
            if fields[a.name][0] == NETWORK:
                _known_network(e.callee.name, a, frame)
        kwargs = {a.name: ev.eval(a.value, frame) for a in e.args}
        if POISON in kwargs.values():
            return POISON
        return _build(e.callee.name, kwargs, frame.span(e.span), table)
    name = _callee_name(e)
    if table is not CONSTRUCTORS and name in AUGMENTATIONS:
        entry = AUGMENTATIONS[name]
        where = "the recipe's eval" if entry.evaluation else "augment"
        raise SpeccError(f"'{name}' belongs in {where}", frame.span(e.span))
    what = "one of" if table is CONSTRUCTORS else "an augmentation:"
    raise SpeccError(f"expected {what} {', '.join(table)}", frame.span(e.span), _hint(e, table))


def _callee_name(e: A.Expr) -> str | None:
    if isinstance(e, A.ExprName):
        return e.name
    if isinstance(e, A.ExprCall) and isinstance(e.callee, A.ExprName):
        return e.callee.name
    return None


def _hint(e: A.Expr, table: dict) -> tuple:
    if isinstance(e, A.ExprLit) and isinstance(e.value, str) and table is not CONSTRUCTORS:
        return ("augmentations are records, not strings: e.g. augment = [random_crop(pad=4), "
                "hflip]",)
    return ()


def _key_span(span, name: str):
    """The span of just the name at the start of `span` (`learning_rate` in `learning_rate=1`)."""
    return replace(span, end_line=span.line, end_col=span.col + len(name))


def _build(kind: str, kwargs: dict, span, table: dict = CONSTRUCTORS) -> Record:
    fields = table[kind]
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
    if table is CONSTRUCTORS:  # an optional field left out stays out (no `steps=none`)
        values = {k: v for k, v in values.items() if v is not None}
        check = entry(kind).check
    else:
        check = AUGMENTATIONS[kind].check
    problem = check(values) if check else None
    if problem:
        raise SpeccError(f"'{kind}': {problem}", span)
    return Record(kind, tuple(values.items()))


_WANT = {"int": "a non-negative int", COUNT: "an int >= 1", BATCH: f"an int from 1 to {MAX_BATCH}",
         SEED: "an int from 0 to 2**64 - 1", NUM: "a finite number >= 0",
         POS: "a finite number > 0", FRACTION: "a number in [0, 1)",
         UNIT: '"epochs" or "steps"',
         "counts": "a list of ints >= 1", "numbers": "a list of finite numbers",
         "positives": "a list of finite numbers > 0"}


def _fits(kind: str, v) -> bool:
    """Does a single value `v` fit `kind`'s type and range?"""
    if kind in ("int", COUNT, BATCH, SEED):
        low, high = {COUNT: (1, None), BATCH: (1, MAX_BATCH),
                     SEED: (0, 2 ** 64 - 1)}.get(kind, (0, None))
        return _is_int(v) and v >= low and (high is None or v <= high)
    number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if kind == NUM:
        return number and v >= 0
    if kind == POS:
        return number and v > 0
    if kind == FRACTION:
        return number and 0 <= v < 1
    return True


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check(key: str, kind: str, allowed, v, span):
    def bad(want):
        return SpeccError(f"recipe '{key}' must be {want}, got {type_name(v)} {show(v)}", span)

    if kind in ("str", "source") and not isinstance(v, str):
        raise bad("a string")
    if kind == "source" and source_problem(v):  # a spec may come from a stranger
        raise SpeccError(f"recipe '{key}' {show(v)[:200]}: {source_problem(v)}", span)
    if kind == "bool" and not isinstance(v, bool):
        raise bad("true or false")
    if kind == UNIT and v not in ("epochs", "steps"):
        raise bad(_WANT[kind])
    if kind == NETWORK:
        return _network_name(key, v, span)
    if kind == "size" and not (_is_int(v) and v >= 1):
        raise bad("a positive int (pixels)")
    if kind == "sizes":
        items = v if isinstance(v, tuple) else (v,)
        if not items or not all(_is_int(x) and 1 <= x <= 2 ** 31 - 1 for x in items):
            raise bad("a positive int, or a list of them (one per symbolic size)")
        return list(items)
    if kind in ("int", COUNT, BATCH, SEED, NUM, POS, FRACTION):
        if not _fits(kind, v):
            raise bad(_WANT[kind])
        v = v if kind in ("int", COUNT, BATCH, SEED) else float(v)
    if kind == "strs" and not (isinstance(v, tuple) and all(isinstance(x, str) for x in v)):
        raise bad("a list of strings")
    if kind in ("counts", "numbers", "positives"):
        item = {"counts": COUNT, "positives": POS}.get(kind, "finite")
        number = (lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)
                  and math.isfinite(x))
        ok = isinstance(v, tuple) and all(number(x) and _fits(item, x) for x in v)
        if not ok:
            raise bad(_WANT[kind])
    if kind == "warmup":  # epochs of a linear ramp, or a record such as hold(epochs=1, lr=0.01)
        if isinstance(v, Record):
            return _check(key, "record", allowed, v, span)
        return _check(key, "int", None, v, span)
    if kind == "augment":
        return v.as_dict()
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


def _known_network(kind: str, a, frame) -> None:
    """A network field written as a name that nothing defines: say which networks there are
    (the elaborator's own message would only say the name is unknown)."""
    if not isinstance(a.value, A.ExprName):
        return
    name = a.value.name
    if name in frame.vars or name in frame.module.names:
        return
    from ..core.suggest import did_you_mean
    networks = [n for n, v in frame.module.names.items() if isinstance(v, NetworkRef)]
    raise SpeccError(f"'{kind}': no network '{name}' in this file{did_you_mean(name, networks)}",
                     frame.span(a.value.span),
                     (f"its networks: {', '.join(networks) or 'none'}",))


def _network_name(key: str, v, span) -> str:
    """A network written by its name in a spec (the elaborator resolved it: an unknown name
    is its error), or that name as a run's config.json keeps it."""
    if isinstance(v, NetworkRef):
        bound = dict(v.bound)
        missing = [p.name for p in v.defn.params if p.name not in bound and p.default is None]
        if missing:
            raise SpeccError(f"recipe '{key}': network '{v.display}' needs a value for "
                             f"{', '.join(repr(m) for m in missing)}", span,
                             (f"name a preset of it: network name = {v.defn.name}"
                              f"({missing[0]}=...)",))
        return v.display
    if span is None and isinstance(v, str) and v.isidentifier():
        return v
    raise SpeccError(f"recipe '{key}' must be a network, written by its name (e.g. "
                     f"discriminator=dcgan_discriminator), got {type_name(v)} {show(v)}", span)


def check_plain(key: str, value):
    """Check one recipe value given as plain data (JSON: lists, {"name": ...} objects), as a
    hand-edited run configuration holds it; returns it in the configuration's form."""
    if key not in KEYS:
        raise SpeccError(f"unknown recipe key '{key}'")
    kind, allowed = KEYS[key]
    if kind == "augments":  # a list of augmentation records
        if not isinstance(value, list):
            raise SpeccError(f"recipe '{key}' must be a list of augmentation objects")
        return [_plain_record(key, v, _constructors(kind, key)) for v in value]
    if kind == "augment":
        return _plain_record(key, value, _constructors(kind, key))
    if kind == "record" or (kind == "warmup" and isinstance(value, dict)):
        if not (isinstance(value, dict) and isinstance(value.get("name"), str)
                and value["name"] in CONSTRUCTORS):
            raise SpeccError(f"recipe '{key}' must be an object with a \"name\" among "
                             f"{', '.join(allowed)}")
        fields = {k: _plain(v) for k, v in value.items() if k != "name" and v is not None}
        value = _build(value["name"], fields, None)
    else:
        value = _plain(value)
    return _check(key, kind, allowed, value, None)


def _plain(v):
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)
    return v


def _plain_record(key: str, value, table: dict) -> dict:
    if not (isinstance(value, dict) and value.get("name") in table):
        raise SpeccError(f"recipe '{key}' must be an object with a \"name\" among "
                         f"{', '.join(table)}")
    fields = {k: _plain(v) for k, v in value.items() if k != "name" and v is not None}
    return _build(value["name"], fields, None, table).as_dict()


def describe_recipe(recipe: dict) -> list[str]:
    """The recipe in a few lines for `specc check`: what training will do, and where each
    augmentation comes from."""
    if not recipe:
        return []
    from ..recipes.augment import describe

    def record(r: dict) -> str:  # a schedule in epochs, the usual unit, says nothing of it
        args = [f"{k}={_text(v)}" for k, v in r.items()
                if k != "name" and not (k == "unit" and v == "epochs")]
        return r["name"] + (f"({', '.join(args)})" if args else "")

    head = [f"data {recipe['data']}" if "data" in recipe else None,
            f"batch {recipe['batch_size']}" if "batch_size" in recipe else None,
            _length(recipe.get("epochs"), recipe.get("steps")),
            f"loss {recipe['loss']}" if "loss" in recipe else None,
            f"size {_text(recipe['size'])}" if "size" in recipe else None]
    lines = [", ".join(h for h in head if h)]
    opt = [f"optimizer {record(recipe['optimizer'])}" if "optimizer" in recipe else None,
           f"schedule {record(recipe['schedule'])}" if "schedule" in recipe else None,
           _warmup(recipe.get("warmup"), record)]
    lines.append(", ".join(o for o in opt if o))
    if "adversary" in recipe:
        lines.append(f"adversary {record(recipe['adversary'])}")
    cites = []
    for key in ("augment", "eval"):
        items = recipe.get(key)
        items = [items] if isinstance(items, dict) else items
        if items:
            lines.append(f"{key} " + ", ".join(describe(r) for r in items))
            cites += [AUGMENTATIONS[r["name"]].cite for r in items]
    norm = [f"{k} {_text(recipe[k])}" for k in ("pixel_range", "mean", "std") if k in recipe]
    if norm:
        lines.append(", ".join(norm))
    if cites:
        lines.append("after " + "; ".join(dict.fromkeys(cites)))
    lines = [ln for ln in lines if ln]
    return ["recipe  " + lines[0]] + ["        " + ln for ln in lines[1:]]


def _length(epochs, steps) -> str | None:
    if epochs and steps:
        return f"{epochs} epochs or {steps} steps (whichever ends first)"
    return f"{epochs} epochs" if epochs else f"{steps} steps" if steps else None


def _warmup(w, record) -> str | None:
    if not w:
        return None
    return f"warmup {record(w)}" if isinstance(w, dict) else f"warmup {w} epochs"


def _text(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f'"{v}"' if isinstance(v, str) else str(v)
