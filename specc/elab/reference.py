"""The `reference { ... }` section: what a network's paper (or reference implementation)
reports about it, type-checked with the spec and shown by `specc check` and `specc zoo`.

A figure lives once, beside the network it describes. `params` and `macs` are the source's
own statements: an int is an exact count (it must equal specc's), a float is the source's
rounded figure ("133 M" -> 133e6), which agrees within ROUNDED (3%). Errors are percentages.
"""
from __future__ import annotations

import difflib

from ..lang import ast as A
from ..core.diagnostics import SpeccError
from ..lang.values import POISON, show, type_name

ROUNDED = 0.03  # how far a float (rounded) figure may lie from specc's exact count

# key -> (kind, what it means)
KEYS = {
    "source": ("str", "paper or implementation, table, and the protocol of the errors"),
    "params": ("count", "the parameter count the source states"),
    "macs": ("count", "multiply-accumulates per sample the source states"),
    "top1_error": ("percent", "top-1 error, %"),
    "top5_error": ("percent", "top-5 error, %"),
    "test_error": ("percent", "test-set error, % (for tasks without top-k)"),
    "reproduced": ("str", "what specc has run: e.g. 'reproduced on ...'; default 'not run'"),
}


def evaluate_reference(ev, stmt: A.StmtReference, frame) -> dict:
    out = {}
    for item in stmt.items:
        span = frame.span(item.span)
        if item.key not in KEYS:
            close = difflib.get_close_matches(item.key, KEYS, n=1, cutoff=0.5)
            raise SpeccError(f"unknown reference key '{item.key}'", span,
                             ((f"did you mean '{close[0]}'?",) if close else ())
                             + (f"reference keys: {', '.join(KEYS)}",))
        if item.key in out:
            raise SpeccError(f"reference key '{item.key}' is set twice", span)
        value = ev.eval(item.value, frame)
        if value is not POISON:
            out[item.key] = _check(item.key, value, span)
    if "source" not in out:
        raise SpeccError("a reference needs a 'source' (where its figures come from)",
                         frame.span(stmt.span))
    return out


def _check(key: str, v, span):
    kind = KEYS[key][0]
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "str" and not (isinstance(v, str) and v.strip()):
        raise SpeccError(f"reference '{key}' must be a non-empty string, got "
                         f"{type_name(v)} {show(v)}", span)
    if kind == "count" and not (number and v >= 0):
        raise SpeccError(f"reference '{key}' must be a non-negative number (an int is exact, "
                         f"a float is the source's rounded figure), got {type_name(v)} {show(v)}",
                         span)
    if kind == "percent" and not (number and 0 <= v <= 100):
        raise SpeccError(f"reference '{key}' must be a percentage in [0, 100], got "
                         f"{type_name(v)} {show(v)}", span)
    return float(v) if kind == "percent" else v


def agreement(stated, ours: int) -> str | None:
    """How specc's count compares with a stated one: '=' (an exact count, equal), '~' (a rounded
    figure, within ROUNDED), else the difference: '+5,504' for an exact count, '-17.1%' for a
    rounded one. None when the source states nothing."""
    if stated is None:
        return None
    if isinstance(stated, int) or stated == 0:
        return "=" if ours == stated else f"{ours - int(stated):+,}"
    if abs(ours / stated - 1) <= ROUNDED:
        return "~"
    return f"{(ours / stated - 1) * 100:+.1f}%"
