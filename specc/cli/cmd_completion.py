"""`specc completion SHELL`: a completion script generated from the argparse parser (shtab)."""
from __future__ import annotations

EXAMPLES = """\
examples:
  eval "$(specc completion bash)"                      this shell (add it to ~/.bashrc)
  specc completion zsh > ~/.zfunc/_specc                with fpath+=(~/.zfunc) in ~/.zshrc
  specc completion fish > ~/.config/fish/completions/specc.fish

Subcommands, flags and flag values are completed; spec and model arguments complete as files.
"""
SHELLS = ("bash", "zsh", "fish")


def add_arguments(p) -> None:
    p.add_argument("shell", choices=SHELLS, help="the shell to write the script for")


def script(shell: str) -> str:
    import shtab

    from .main import build_parser
    parser = build_parser()
    _files_for_positionals(parser, shtab.FILE)
    return shtab.complete(parser, shell=shell)


def _files_for_positionals(parser, files) -> None:
    """Positional arguments (FILE[:NET], MODEL.onnx, inputs) complete as paths."""
    for action in parser._actions:
        sub = getattr(action, "choices", None)
        if isinstance(sub, dict):
            for child in sub.values():
                _files_for_positionals(child, files)
        elif not action.option_strings and action.dest not in ("shell", "help"):
            action.complete = files


def run(args) -> int:
    print(script(args.shell))
    return 0
