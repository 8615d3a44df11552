"""Helpers shared by the subcommands."""
from __future__ import annotations

import json
from pathlib import Path

from ..network import Network, load, split_target


def add_target(p, help_text: str = "a .net file, optionally FILE:NETWORK") -> None:
    p.add_argument("target", metavar="FILE[:NET]", help=help_text)
    p.add_argument("--max-params", type=int, default=2_000_000_000, metavar="N",
                   help="refuse specs with more parameters than this (default 2e9)")


def load_target(args) -> Network:
    path, net = split_target(args.target)
    return load(path, net, max_params=args.max_params)


def print_json(obj) -> None:
    print(json.dumps(obj, sort_keys=False))


def ensure_parent(path: str | Path) -> Path:
    """The output path, after checking that its folder exists (we never write half a file)."""
    from .main import UserError
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"output folder {parent} does not exist")
    return p
