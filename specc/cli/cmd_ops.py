"""`specc ops [NAME]`: the op reference, generated from the registry (specc/opsdoc.py)."""
from __future__ import annotations

import difflib

from ..core.diagnostics import SpeccError

EXAMPLES = """\
examples:
  specc ops                       every op with a line about it
  specc ops layernorm             signature, defaults, shape rule, an example, the ONNX ops
  specc ops round                 a builtin's signature
  specc ops --markdown > docs/ops.md

The reference is generated from the op registry; docs/ops.md is the same text.
"""


def add_arguments(p) -> None:
    p.add_argument("name", nargs="?", help="one op to describe (default: list them all)")
    p.add_argument("--markdown", action="store_true",
                   help="print the whole reference as Markdown (docs/ops.md)")


def run(args) -> int:
    from ..tools import opsdoc
    if args.markdown:
        print(opsdoc.markdown(), end="")
        return 0
    if args.name is None:
        print(opsdoc.listing())
        return 0
    ops = opsdoc.public_ops()
    if args.name not in ops and args.name in opsdoc.SIGNATURES:
        print(opsdoc.describe_builtin(args.name))
        return 0
    if args.name not in ops:
        close = difflib.get_close_matches(args.name, list(ops) + list(opsdoc.SIGNATURES), n=1)
        raise SpeccError(f"no op '{args.name}'",
                         notes=(f"did you mean '{close[0]}'?",) if close else
                         ("`specc ops` lists them all",))
    print(opsdoc.describe(ops[args.name]))
    return 0
