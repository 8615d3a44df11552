"""A run's config.json, checked as strictly as a recipe before anything trusts it: it may have
been edited by hand, and a value of the wrong type or range must be a message, not a crash
deep inside the trainer."""
from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import PurePosixPath

from ..core.diagnostics import SpeccError
from ..elab.recipe import KEYS, check_plain
from ..core.source import printable
from .config import TrainConfig, check_counts

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_config(saved, where, typed_data: str | None = None) -> tuple[dict, dict | None]:
    """(the fields of a TrainConfig, the record of the spec copy or None for an old run).
    Every value obeys the rules of the flag or recipe key it stands for. `typed_data`: the
    source the user typed again with --data (a `pipe:` or URL source, which a file may not
    name, is then the command line's)."""
    if not isinstance(saved, dict):
        raise SpeccError(f"{where}: expected a JSON object")
    saved = dict(saved)
    record = saved.pop("spec_copy", None)
    if record is not None:
        record = _check_record(record, where)
    fields = TrainConfig.__dataclass_fields__
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise SpeccError(f"{where}: unknown key {printable(repr(unknown[0]))}",
                         notes=(f"keys: {', '.join(fields)}",))
    required = [k for k, f in fields.items() if _no_default(f)]
    missing = [k for k in required if k not in saved]
    if missing:
        raise SpeccError(f"{where}: missing key '{missing[0]}'")
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for key, value in saved.items():
        try:
            if key == "eval_transform" and isinstance(value, list):  # the recipe's `eval`
                out[key] = [check_plain("eval", v) for v in value]
            elif key == "data" and isinstance(value, str) and value == typed_data:
                out[key] = value  # checked as the command line's by the caller
            elif value is None or key not in KEYS:
                out[key] = _typed(key, value, hints[key])
            else:
                out[key] = check_plain(key, value)
        except SpeccError as e:
            raise SpeccError(f"{where}: {e.message.replace('recipe ', '', 1)}") from None
    try:
        check_counts(out, flags=False)
        _check_choices(out)
    except SpeccError as e:
        raise SpeccError(f"{where}: {e.message}") from None
    return out, record


def _check_choices(fields: dict) -> None:
    """The values of the flags that take a word or a name."""
    if fields.get("device") not in (None, "auto", "cpu", "cuda"):
        raise SpeccError(f"'device' must be auto, cpu or cuda, got "
                         f"{printable(repr(fields['device']))[:60]}")
    for key in ("spec", "network"):
        if not isinstance(fields.get(key), str) or len(fields[key]) > 4096:
            raise SpeccError(f"'{key}' must be a string")
    overrides = fields.get("overrides") or {}
    if not all(isinstance(k, str) and k.isidentifier() and isinstance(v, str)
               and 0 < len(v) <= 100_000 for k, v in overrides.items()):
        raise SpeccError("'overrides' must map parameter names to spec expressions (text), "
                         "as --set NAME=VALUE gives them")


def _no_default(f) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _typed(key: str, value, hint):
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _UnionType) \
        else (hint,)
    for option in options:
        base = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return value
        if base is bool and isinstance(value, bool):
            return value
        if base is int and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base in (str, list, dict) and isinstance(value, base):
            return value
    names = " or ".join(getattr(o, "__name__", str(o)).replace("NoneType", "null")
                        for o in options)
    raise SpeccError(f"'{key}' must be {names}" + (" (>= 0)" if int in options else "")
                     + f", got {printable(repr(value))[:60]}")


try:
    from types import UnionType as _UnionType
except ImportError:  # Python < 3.10 has no `X | Y` types
    _UnionType = typing.Union


def _check_record(record, where) -> dict:
    ok = (isinstance(record, dict) and isinstance(record.get("file"), str)
          and isinstance(record.get("sha256"), dict) and record["file"] in record["sha256"]
          and all(isinstance(k, str) and _safe(k) and isinstance(v, str) and _SHA256.fullmatch(v)
                  for k, v in record["sha256"].items()))
    if not ok:
        raise SpeccError(f"{where}: 'spec_copy' is damaged (it records the run's spec files "
                         "and their sha256)")
    return record


def _safe(rel: str) -> bool:
    """A path inside RUN/spec/: relative, no `..`, no empty parts."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel \
        and rel.isprintable() and len(rel) <= 1024
