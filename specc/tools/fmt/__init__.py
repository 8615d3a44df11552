"""`specc fmt`: one canonical layout for `.net` files, printed from the AST plus the comments.

The printer is checked on every use: the formatted text is parsed again and must give the same
AST (spans aside) and the same comments in the same order; otherwise nothing is written and the
formatter reports its own bug. So a file is never replaced by text that means something else."""
from __future__ import annotations

from ...lang import ast as A
from ...lang.parse import MAX_SPEC_BYTES, parse_module
from ...core.diagnostics import SpeccError
from ...core.nesting import room
from ...core.source import SourceFile, Span
from .exprs import WIDTH
from .stmts import Printer
from .tokens import Tokens


class FormatterBug(RuntimeError):
    """The formatted text would not mean what the source means (an internal error)."""


def format_source(source: SourceFile, width: int = WIDTH) -> str:
    """The canonical text of a spec; raises SpeccError when the source does not parse.
    Lines are the grammar's (core.source.split_lines); the result ends its lines as the
    source's first line does (CRLF or LF)."""
    module = parse_module(source)
    crlf = line_end(source.text) == "\r\n"
    if not crlf and "\r" in source.text:
        _check_strings(source)
    with room():
        text = Printer(source, width).module(module)
        if crlf:
            text = text.replace("\n", "\r\n")
        _check_size(source, module, text)
        _check_same(source, module, text)
    return text


def _check_size(source: SourceFile, module: A.Module, text: str) -> None:
    """Indentation grows with the depth of nested bodies: a spec whose formatted text would
    be larger than a spec may be is refused at its most deeply nested statement."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= MAX_SPEC_BYTES:
        return
    deepest, depth = module, 0
    stack = [(module, 0)]
    while stack:
        node, d = stack.pop()
        if d > depth:
            deepest, depth = node, d
        for name in getattr(node, "__dataclass_fields__", ()):
            value = getattr(node, name)
            inner = d + isinstance(value, tuple) * isinstance(node, _BODIES)
            for x in value if isinstance(value, tuple) else (value,):
                if isinstance(x, A.Node) and not isinstance(x, A.Module):
                    stack.append((x, inner))
    raise SpeccError(f"cannot format: the formatted spec would hold {size:,} bytes, more than a "
                     f"spec may ({MAX_SPEC_BYTES:,}); its bodies nest {depth} deep and each "
                     "level is indented 4 more spaces",
                     deepest.span if deepest is not module else None,
                     ("move the inner part into a block of its own",))


_BODIES = (A.BlockDef, A.NetworkDef, A.StmtFor, A.StmtIf, A.StmtTrain, A.StmtReference)


def line_end(text: str) -> str:
    """The line end a formatted file gets: that of the source's first line."""
    i = text.find("\n")
    return "\r\n" if i > 0 and text[i - 1] == "\r" else "\n"


def _check_strings(source: SourceFile) -> None:
    """A carriage return that ends a line inside a triple-quoted string (`\r\r\n` in the
    file, read as `\r\n`) cannot be written with LF line ends: refuse it, at its place."""
    for t in Tokens(source).toks:
        if t.type == "STRING" and "\r\n" in str(t).replace("\r\n", "\n"):
            raise SpeccError("cannot format this string: it holds a carriage return at the end "
                             "of a line, which the file's LF line ends would turn into a plain "
                             "line end; remove the carriage return",
                             Span(source, t.line, t.column, t.end_line, t.end_column))


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
    with room():
        return _strip(node)


def _strip(node):
    if isinstance(node, A.StmtDoc):
        return ("doc", tuple(line.strip() for line in node.text.split("\n")))
    if isinstance(node, A.Node):
        fields = [f for f in node.__dataclass_fields__ if f != "span"]
        return (type(node).__name__,) + tuple(_strip(getattr(node, f)) for f in fields)
    if isinstance(node, (tuple, list)):
        return tuple(_strip(x) for x in node)
    if isinstance(node, float):
        return ("float", repr(node))
    return node
