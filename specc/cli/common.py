"""Helpers shared by the subcommands: flag value types, targets, output paths."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from ..core.defaults import MAX_ACTIVATIONS, MAX_BATCH, MAX_PARAMS, MAX_PROCESSES, MAX_THREADS
from ..compile.pipeline import split_target
from ..network import Network, load

SEED_LIMIT = 2 ** 64  # torch.manual_seed and numpy's generators take seeds below this


# ------------------------------------------------------------------ flag value types
# argparse calls these with the flag's text; a value that cannot mean anything is a usage
# error (exit 2) there and then, before any work starts.
def int_at_least(low: int, high: int | None = None, what: str = ""):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            if high is not None and high < 2 ** 32:
                span = f"between {low} and {high}"
            else:
                span = f"at least {low}" if value < low else f"at most {high:,}"
            shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}..."
            raise argparse.ArgumentTypeError(f"must be {span}{what}, got {shown}")
        return value
    parse.__name__ = "integer"
    return parse


positive_int = int_at_least(1)
count = int_at_least(0)
seed = int_at_least(0, SEED_LIMIT - 1)


def positive_float(text: str) -> float:
    """A finite number > 0 (`nan`, `inf` and `1e999` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value



def int_list(text: str) -> list[int]:
    """'1,8,32' -> [1, 8, 32]; every item a batch size from 1 to MAX_BATCH."""
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,8,32, got {text!r}") from None
    if not values or min(values) < 1 or max(values) > MAX_BATCH:
        raise argparse.ArgumentTypeError(f"expected batch sizes from 1 to {MAX_BATCH} like "
                                         f"1,8,32, got {text!r}")
    return values


# resource flags have stated upper bounds (specc.core.defaults), checked before anything is
# allocated: `--threads 100000` is a typo that would exhaust memory, not a request
threads = int_at_least(0, MAX_THREADS)  # bench: 0 leaves each engine its own default
batch_size = int_at_least(1, MAX_BATCH)
processes = int_at_least(1, MAX_PROCESSES)


def bounded(key: str):
    """The flag type of a run's count `key`: its range is the one a recipe and a run's
    config.json obey too (specc.train.config.BOUNDS)."""
    from ..train.config import BOUNDS
    return int_at_least(*BOUNDS[key])


def add_target(p, help_text: str = "a .net file, optionally FILE:NETWORK") -> None:
    p.add_argument("target", metavar="FILE[:NET]", help=help_text)
    add_budgets(p)
    add_set(p)


def add_budgets(p) -> None:
    p.add_argument("--max-params", type=positive_int, default=MAX_PARAMS, metavar="N",
                   help=f"refuse specs with more parameters than this (default {_e(MAX_PARAMS)})")
    p.add_argument("--max-activations", type=positive_int, default=MAX_ACTIVATIONS,
                   metavar="N", help="refuse networks whose tensors hold more values per "
                   f"sample than this (default {_e(MAX_ACTIVATIONS)})")


def _e(n: int) -> str:
    """2000000000 -> '2e9'."""
    mantissa, _, exponent = f"{n:e}".partition("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def add_set(p) -> None:
    p.add_argument("--set", action="append", type=assignment, default=[], metavar="NAME=VALUE",
                   help="bind a network parameter to a spec expression, e.g. --set classes=10 "
                        "--set 'depths=[2, 2, 2, 2]' (repeatable)")


def assignment(text: str) -> tuple[str, str]:
    """'hidden=256' -> ('hidden', '256')."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE such as classes=10, got {text!r}")
    return name.strip(), value.strip()


def overrides(args) -> dict[str, str]:
    return dict(getattr(args, "set", None) or [])


def load_target(args) -> Network:
    from ..compile.pipeline import UnknownOverride
    from .main import UsageError
    path, net = split_target(args.target)
    try:
        return load(path, net, max_params=args.max_params, overrides=overrides(args),
                    max_activations=getattr(args, "max_activations", MAX_ACTIVATIONS))
    except UnknownOverride as e:
        raise UsageError("; ".join((e.message,) + e.notes)) from None


def print_json(obj) -> None:
    """Symbolic dims and MAC formulas print as their text (`(H+1)//2`)."""
    print(json.dumps(obj, sort_keys=False, default=_text))


def _text(v):
    from ..ir.sym import Sym
    if isinstance(v, Sym):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


def output_file(text: str) -> str:
    """argparse type of an output path: an empty one cannot mean anything."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the output path is empty")
    return text


def ensure_parent(path: str | Path, inputs=(), flag: str = "-o") -> Path:
    """The output path, checked before any work starts: it is not a folder, its folder exists
    and is writable, and it is none of the `inputs` (a spec, a checkpoint, a model, its
    imports), through links and `..` too. The file itself is written through a staging
    folder beside it (specc.core.files.staging), so it is never left half-written."""
    from ..core.files import same_file
    from .main import UserError
    p = Path(path)
    if not str(path).strip():
        raise UserError(f"{flag}: the output path is empty")
    if os.path.isdir(p):  # os.path's tests never raise (a name too long, a link loop)
        raise UserError(f"{flag} {path} is a folder; name the file to write")
    parent = p.parent if str(p.parent) else Path(".")
    if not os.path.isdir(parent):
        raise UserError(f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to the output folder {parent} (permission denied)")
    for source in inputs:
        if source is not None and os.path.lexists(p) and same_file(p, source):
            raise UserError(f"{flag} {path} is an input of this command ({source}); refusing "
                            "to overwrite it")
    return p
