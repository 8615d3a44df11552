"""Syntax highlighting of `.net` files: a Pygments lexer and colour for terminal excerpts.

The lexer is registered under the `pygments.lexers` entry point, so `pygmentize -l specc`,
Sphinx, MkDocs and `rich` find it once specc is installed. Its keywords are read from the
grammar and its builtins from the op registry and the builtin table, so a new keyword or op is
highlighted without editing this file."""
from __future__ import annotations

import re
from functools import lru_cache

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String,
                            Whitespace)

from ..core.dtypes import NAMES as DTYPES
from ..core.resources import grammar_path

CONSTANTS = ("true", "false", "none")
OPERATOR_WORDS = ("and", "or", "not", "in")
SCALAR_TYPES = ("int", "float", "bool", "str", "tensor")


def keywords() -> list[str]:
    """Every word the grammar spells out in quotes ("block", "for", "true", ...)."""
    return sorted(set(re.findall(r'"([a-z_]+)"', grammar_path().read_text(encoding="utf-8"))))


def builtin_names() -> list[str]:
    """Op names from the registry, then builtin functions and initialisers."""
    from ..elab import builtins
    from ..ops.registry import all_ops
    return sorted(set(all_ops()) | set(builtins.names()))


def _plain_keywords() -> list[str]:
    return [k for k in keywords() if k not in CONSTANTS + OPERATOR_WORDS]


class SpeccLexer(RegexLexer):
    """Lexer for specc's `.net` network specs."""

    name = "specc"
    aliases = ["specc"]
    filenames = ["*.net"]
    mimetypes = ["text/x-specc"]
    url = "https://github.com/specc"

    tokens = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"""(?:.|\n)*?"""', String.Doc),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"(block|network)(\s+)([A-Za-z_]\w*)",
             bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(OPERATOR_WORDS, suffix=r"\b"), Operator.Word),
            (words(tuple(_plain_keywords()), prefix=r"\b", suffix=r"\b"), Keyword),
            (words(DTYPES + SCALAR_TYPES, prefix=r"\b", suffix=r"\b"), Keyword.Type),
            (words(tuple(builtin_names()), prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (r"([A-Za-z_]\w*)(\s*)(=)(?!=)", bygroups(Name.Variable, Whitespace, Operator)),
            (r"(\.)([A-Za-z_]\w*)", bygroups(Punctuation, Name.Attribute)),
            (r"[A-Za-z_]\w*", Name),
            (r"([0-9][0-9_]*\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9][0-9_]*[eE][+-]?[0-9]+",
             Number.Float),
            (r"0|[1-9][0-9_]*", Number.Integer),
            (r"\|>|\*\*|//|==|!=|<=|>=|[-+*/%<>=?:]", Operator),
            (r"[()\[\]{},]", Punctuation),
        ],
    }


_STYLES = {"error": "1;31", "warning": "1;33", "note": "1;36", "place": "1", "gutter": "34",
           "caret": "1;31", "dim": "2"}


def paint(text: str, style: str) -> str:
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


@lru_cache(maxsize=None)
def _terminal_formatter():
    from pygments.formatters import TerminalFormatter
    return TerminalFormatter()


def colour_code(line: str) -> str:
    """One line of a spec with ANSI colours (for diagnostics on a terminal)."""
    from pygments import highlight
    return highlight(line, SpeccLexer(), _terminal_formatter()).rstrip("\n")


class Terminal:
    """The colours of a diagnostic on a terminal (SpeccError.render(theme=TERMINAL))."""

    paint = staticmethod(paint)
    code = staticmethod(colour_code)


TERMINAL = Terminal()
