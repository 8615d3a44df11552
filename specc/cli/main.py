"""`specc` entry point: subcommands and the one boundary that decides every exit code.

0 ok, 1 a user error (a message, no traceback), 2 usage (a command line that cannot mean
anything), 3 an internal error: any exception the code did not expect is a bug, reported in one
line with a request to report it; `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
import threading

from ..core.diagnostics import SpeccError

COMMANDS = {
    "check": "parse, elaborate and verify a spec; per-layer table",
    "train": "train a network from its spec",
    "export": "write an ONNX model straight from the graph and verify it",
    "run": "run an exported ONNX model with onnxruntime",
    "bench": "latency and throughput, onnxruntime and torch side by side",
    "predict": "label a whole data source with an exported model (streamed, resumable, Ray)",
    "graph": "draw the network: an explorable HTML page, an SVG picture or Graphviz DOT",
    "zoo": "list the bundled specs with parameters, MACs and paper figures",
    "fmt": "rewrite .net files in the canonical layout (comments kept, meaning unchanged)",
    "lsp": "run the language server (LSP over stdio) for editors",
    "completion": "print a shell completion script (bash, zsh or fish)",
    "ops": "the op reference: every op, or one op's signature, shape rule and ONNX mapping",
}
EXAMPLES = """\
examples:
  specc check specs/lenet5.net                 per-layer table, parameters and MACs
  specc train specs/lenet5.net                 train LeNet-5 on the bundled digits
  specc export specs/lenet5.net -o lenet5.onnx
  specc run lenet5.onnx --data digits          accuracy of the exported model
  specc graph specs/resnet.net:resnet50 -o resnet50.html

`specc COMMAND --help` describes every flag of a command, with examples.
Shell completion: eval "$(specc completion bash)" (zsh and fish likewise).
"""


class UserError(Exception):
    """A bad command-line input that has no source span (missing file, bad flag value)."""


class UsageError(Exception):
    """A command line that cannot mean anything, found after argparse (exit 2)."""


EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Parser(argparse.ArgumentParser):
    """argparse that suggests the closest choice for a mistyped one (`specc trian`)."""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            from ..core.suggest import did_you_mean
            known = [str(c) for c in action.choices]
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}"
                                         f"{did_you_mean(str(value), known)} (choose from "
                                         f"{', '.join(known)})")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand; with `only`, just that one gets its arguments (and its module is
    imported): `specc check` should not pay for importing what `specc run` needs."""
    parser = Parser(prog="specc", description="A compiler for neural-network specs: .net -> "
                    "checked graph -> PyTorch and ONNX.", epilog=EXAMPLES,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if only is not None and name != only \
                or importlib.util.find_spec(f"specc.cli.cmd_{name}") is None:
            continue
        module = _module(name)
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog=getattr(module, "EXAMPLES", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show Python tracebacks")
        module.add_arguments(p)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The subcommand an argument list names (its first word that is not an option)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def _module(name: str):
    return importlib.import_module(f"specc.cli.cmd_{name}")


def _version() -> str:
    from ..core.version import __version__
    return f"specc {__version__}"


def use_color(stream) -> bool:
    """Colour on a terminal unless NO_COLOR is set (no-color.org); FORCE_COLOR asks for it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def _theme(stream):
    """The colours for diagnostics on `stream`, or None; Pygments is imported only then."""
    if not use_color(stream):
        return None
    from ..tools.highlight import TERMINAL
    return TERMINAL


_sigint = {"seen": False, "raise": False}  # did a Ctrl-C reach this command? raise it?


def _on_sigint(signum, frame):
    """Python's own behaviour (KeyboardInterrupt), remembered: a Ctrl-C that lands while a C
    extension initialises surfaces as that import's ImportError ('initialization failed'),
    and must still read as an interruption, not as an internal error."""
    _sigint["seen"] = True
    if _sigint["raise"]:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    watch = False
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        _sigint.update({"seen": False, "raise": True})
        watch = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if watch:
            signal.signal(signal.SIGINT, _on_sigint)
        code = _main(argv)
        _sigint["raise"] = False  # from here on a Ctrl-C is only noted: the command is done
        return code
    except KeyboardInterrupt:  # landed just outside the boundary in _main (or --debug)
        _sigint["raise"] = False
        if "--debug" in (argv or ()):
            raise
        return report(KeyboardInterrupt(), None)
    finally:
        if watch:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _main(argv: list[str]) -> int:
    debug = "--debug" in argv
    command = None
    try:
        parser = build_parser(_command_in(argv))
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # argparse: 2 for a usage error, 0 for --help/--version
            return e.code if isinstance(e.code, int) else EXIT_USAGE
        command, debug = args.command, args.debug
        if not command:
            parser.print_help()
            return EXIT_USAGE
        return _module(command).run(args) or EXIT_OK
    except BaseException as e:  # the boundary: every exit code is decided here
        if debug and not isinstance(e, (SystemExit, BrokenPipeError)):
            raise
        return report(e, command)


def report(e: BaseException, command: str | None) -> int:
    """Print what went wrong in the user's terms and return the exit code."""
    from ..core.source import printable
    if isinstance(e, SystemExit):
        raise e
    if isinstance(e, SpeccError):
        print(e.render(theme=_theme(sys.stderr)), file=sys.stderr)
        return EXIT_USER
    if isinstance(e, UserError):
        print(f"error: {printable(str(e))}", file=sys.stderr)
        return EXIT_USER
    if isinstance(e, UsageError):
        where = f"specc {command}" if command else "specc"
        print(f"{where}: error: {printable(str(e))} (see {where} --help)", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(e, KeyboardInterrupt) or _sigint["seen"]:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(e, BrokenPipeError):  # `specc ... | head`: the reader left; not an error
        _silence_stdout()
        return EXIT_OK
    message = printable(str(e).strip().splitlines()[0][:300] if str(e).strip() else "")
    print(f"internal error: {type(e).__name__}: {message} (please report; rerun with --debug)",
          file=sys.stderr)
    return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
