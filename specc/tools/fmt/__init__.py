"""`specc fmt`: one canonical layout for `.net` files, printed from the AST plus the comments.

The printer is checked on every use: the formatted text is parsed again and must give the same
AST (spans aside) and the same comments in the same order; otherwise nothing is written and the
formatter reports its own bug. So a file is never replaced by text that means something else."""
from __future__ import annotations

from ...lang import ast as A
from ...lang.parse import parse_module
from ...core.source import SourceFile
from .exprs import WIDTH
from .stmts import Printer
from .tokens import Tokens


class FormatterBug(RuntimeError):
    """The formatted text would not mean what the source means (an internal error)."""


def format_source(source: SourceFile, width: int = WIDTH) -> str:
    """The canonical text of a spec; raises SpeccError when the source does not parse."""
    module = parse_module(source)
    text = Printer(source, width).module(module)
    _check_same(source, module, text)
    return text


def format_text(text: str, path: str = "<text>", width: int = WIDTH) -> str:
    return format_source(SourceFile(path, text), width)


def _check_same(source: SourceFile, module: A.Module, text: str) -> None:
    again = SourceFile(source.path, text)
    try:
        new = parse_module(again)
    except Exception as e:  # noqa: BLE001 - any failure here is the formatter's bug
        raise FormatterBug(f"formatting {source.path} gave text that does not parse: {e}") from None
    if strip_spans(new) != strip_spans(module):
        raise FormatterBug(f"formatting {source.path} changed its meaning")
    before = [c.text for c in Tokens(source).comments]
    after = [c.text for c in Tokens(again).comments]
    if before != after:
        raise FormatterBug(f"formatting {source.path} lost or moved comments")


def strip_spans(node):
    """An AST as nested tuples without spans (docstrings compared line by line, stripped)."""
    if isinstance(node, A.StmtDoc):
        return ("doc", tuple(line.strip() for line in node.text.splitlines()))
    if isinstance(node, A.Node):
        fields = [f for f in node.__dataclass_fields__ if f != "span"]
        return (type(node).__name__,) + tuple(strip_spans(getattr(node, f)) for f in fields)
    if isinstance(node, (tuple, list)):
        return tuple(strip_spans(x) for x in node)
    if isinstance(node, float):
        return ("float", repr(node))
    return node
