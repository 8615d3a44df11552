"""`specc` entry point: subcommands, exit codes (0 ok, 1 user error, 2 usage), no tracebacks."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from ..diagnostics import SpeccError

COMMANDS = {
    "check": "parse, elaborate and verify a spec; per-layer table",
    "train": "train a network from its spec",
    "export": "write an ONNX model straight from the graph and verify it",
    "run": "run an exported ONNX model with onnxruntime",
    "bench": "latency and throughput, onnxruntime and torch side by side",
    "graph": "draw the network as a picture (Graphviz DOT, SVG or PNG)",
    "zoo": "list the bundled specs with parameters, MACs and paper figures",
}


class UserError(Exception):
    """A bad command-line input that has no source span (missing file, bad flag value)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="specc", description="A compiler for neural-network "
                                     "specs: .net -> checked graph -> PyTorch and ONNX.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if importlib.util.find_spec(f"specc.cli.cmd_{name}") is None:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show Python tracebacks")
        _module(name).add_arguments(p)
    return parser


def _module(name: str):
    return importlib.import_module(f"specc.cli.cmd_{name}")


def _version() -> str:
    from .. import __version__
    return f"specc {__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _module(args.command).run(args) or 0
    except SpeccError as e:
        if args.debug:
            raise
        print(e.render(), file=sys.stderr)
        return 1
    except UserError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
