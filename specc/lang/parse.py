"""Text -> AST. lark (LALR, with positions) parses; a transformer builds frozen dataclasses."""
from __future__ import annotations

import gc
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from ..core.diagnostics import SpeccError
from ..core.files import read_regular, real_name
from ..core.nesting import room
from ..core.resources import grammar_path
from ..core.source import SourceFile, Span, printable
from .words import describe_expected, describe_token
from .limits import MAX_SPEC_BYTES, check_nesting, check_size
from .values import MAX_INT_DIGITS


class _Newlines:
    """Post-lexer: newlines end statements except inside brackets, after '{' or
    before '}' and 'else'. A chain or a conditional may continue on the next line: a
    newline before '|>', '?', ':' or 'as', or after '|>', '?' or ':', is dropped."""

    always_accept = ("_NL",)

    def __init__(self, glue_before: set[str], glue_after: set[str]):
        self.glue_before, self.glue_after = glue_before, glue_after

    def process(self, stream):
        depth, pending, last = 0, None, None
        for tok in stream:
            if tok.type == "_NL":
                if depth == 0 and last not in (None, "LBRACE", "_NL") \
                        and last not in self.glue_after:
                    pending = tok
                continue
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            if pending is not None and tok.type not in self.glue_before:
                yield pending
            pending, last = None, tok.type
            yield tok
        if pending is not None:  # the file's last line end (`specc 1` and nothing after)
            yield pending


@lru_cache(maxsize=None)
def _parser(start: str) -> Lark:
    lark = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer="basic", start=start,
                propagate_positions=True, maybe_placeholders=True,
                postlex=_Newlines(set(), set()), cache=True)
    named = {t.pattern.value: t.name for t in lark.terminals}
    continuing = {named[s] for s in ("|>", "?", ":")}
    lark.options.postlex.glue_before.update({"RBRACE", "ELSE", named["as"]} | continuing)
    lark.options.postlex.glue_after.update(continuing)
    return lark


_HEADER = re.compile(r"\A\ufeff?(?:[ \t\r]*(?:#[^\n]*)?\n)*[ \t]*specc\b")


def read_source(path: str | Path) -> SourceFile:
    """Read a spec file as UTF-8; unreadable or undecodable files are user errors. Only a
    regular file is read (a FIFO would block), and only a spec: a file named *.net or one
    that starts with the `specc N` header, judged by the file a link leads to, not by the
    link's name. Nothing of any other file is ever shown in an error (an excerpt of
    /etc/shadow is a leak, not a diagnostic)."""
    data = read_regular(path, "spec", limit=MAX_SPEC_BYTES)
    if Path(real_name(path)).suffix != ".net" and not _HEADER.match(data[:4096].decode("utf-8", "replace")):
        raise SpeccError(f"{printable(str(path))} is not a spec: a spec is a .net file, or a file "
                         "that starts with the line `specc 1`")
    return decode_source(data, str(path))


def decode_source(data: bytes, path: str) -> SourceFile:
    """A spec's bytes (a file's, standard input's) as text: UTF-8, a leading BOM dropped;
    bytes that are not UTF-8 are an error at their place."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        shown = SourceFile(str(path), data.decode("utf-8", errors="replace"))
        line = data[:e.start].count(b"\n") + 1
        col = len(data[:e.start].rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")) + 1
        raise SpeccError(f"the file is not UTF-8 text (byte 0x{data[e.start]:02x})",
                         Span(shown, line, col, line, col + 1)) from None
    return SourceFile(str(path), text.lstrip("\ufeff"))


def parse_module(source: SourceFile) -> A.Module:
    return _parse(source, "start")


def parse_expr(text: str, path: str = "<expr>") -> A.Expr:
    return _parse(SourceFile(path, text), "expr_start")


def parse_type(text: str, path: str = "<type>") -> A.Type:
    return _parse(SourceFile(path, text), "type_start")


def _parse(source: SourceFile, start: str):
    check_size(source)
    enabled = gc.isenabled()
    gc.disable()  # lark allocates many small objects; cyclic GC over them costs more than the parse
    try:
        tree = _parser(start).parse(source.text)
        check_nesting(source, tree)
        with room():
            return _ToAst(source).transform(tree)
    except UnexpectedInput as e:
        raise _syntax_error(source, e) from None
    except VisitError as e:
        if isinstance(e.orig_exc, SpeccError):
            raise e.orig_exc from None
        raise
    finally:
        if enabled:
            gc.enable()


def _syntax_error(source: SourceFile, e: UnexpectedInput) -> SpeccError:
    line, col = max(1, e.line or 1), max(1, e.column or 1)
    width = 1
    if isinstance(e, UnexpectedCharacters):
        ch = source.text[e.pos_in_stream] if e.pos_in_stream < len(source.text) else "?"
        message = f"unexpected character {ch!r}"
    elif isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.type == "$END":
            line, col = len(source.lines), len(source.lines[-1]) + 1
        else:
            width = max(1, len(str(tok).split("\n")[0]) if str(tok) else 1)
        keyword = _misused_keyword(source, tok, e.expected)
        if keyword is not None:
            word, line, col = keyword
            return SpeccError(f"'{word}' is a keyword, so it cannot be a name",
                              Span(source, line, col, line, col + len(word)),
                              (f"keywords: {', '.join(sorted(keywords()))}",))
        opened = open_bracket(source, source.offset(line, col) if tok.type == "$END" else
                              tok.start_pos)
        message = f"{describe_expected(e.expected, opened)}, found {describe_token(tok)}"
    else:
        message = "unexpected end of file"
        line, col = len(source.lines), len(source.lines[-1]) + 1
    return SpeccError(message, Span(source, line, col, line, col + width))


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


@lru_cache(maxsize=None)
def keywords() -> frozenset[str]:
    """The words the grammar reserves (`block`, `input`, `train`, `true`, ...)."""
    return frozenset(t.pattern.value for t in _parser("start").terminals
                     if t.pattern.type == "str" and _WORD.fullmatch(t.pattern.value))


def _misused_keyword(source: SourceFile, tok: Token, expected) -> tuple[str, int, int] | None:
    """(keyword, line, col) when the error comes from a keyword written where a name goes:
    where a name was expected (`y = block + 1`, `for in in ...`), as an assignment's target
    (`block = 3`), or before an '=' that makes it one (`input = 3`)."""
    if tok.type in ("$END", "_NL") or tok.line is None:
        return None
    text = source.line(tok.line)
    if str(tok) in keywords():
        after = text[tok.end_column - 1:].lstrip()
        if re.match(r"(=(?!=)|,)", after):
            return str(tok), tok.line, tok.column
        starts_line = not text[:tok.column - 1].strip()  # a statement after an unclosed '('
        if "NAME" in expected and not starts_line:
            return str(tok), tok.line, tok.column
        return None
    if str(tok) == "=":
        before = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*$", text[:tok.column - 1])
        if before and before.group(1) in keywords() and not text[:before.start()].strip():
            return before.group(1), tok.line, before.start() + 1
    return None


def open_bracket(source: SourceFile, pos: int) -> tuple[str, int, int] | None:
    """The innermost bracket still open at `pos`: (char, line, col), skipping strings and
    comments; the parser's LALR tables cannot tell which closer is really wanted."""
    stack, i, text, line, col = [], 0, source.text[:pos], 1, 1
    pairs = {")": "(", "]": "[", "}": "{"}
    while i < len(text):
        c = text[i]
        if c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        if c == '"':
            end = text.find('"""', i + 3) + 3 if text.startswith('"""', i) else i + 1
            if not text.startswith('"""', i):
                while end < len(text) and text[end] not in '"\n':
                    end += 2 if text[end] == "\\" else 1
                end += 1
            for ch in text[i:max(end, i + 1)]:
                line, col = (line + 1, 1) if ch == "\n" else (line, col + 1)
            i = max(end, i + 1)
            continue
        if c in "([{":
            stack.append((c, line, col))
        elif c in ")]}" and stack and stack[-1][0] == pairs[c]:
            stack.pop()
        line, col = (line + 1, 1) if c == "\n" else (line, col + 1)
        i += 1
    return stack[-1] if stack else None


def _unquote(raw: str) -> str:
    """A string literal's value. A line end inside a triple-quoted string is '\\n' whether
    the file ends its lines with CRLF or LF (as Python reads source), so a spec means the
    same on every system and `fmt` may choose the line ends."""
    if raw.startswith('"""'):
        return raw[3:-3].replace("\r\n", "\n")
    body, out, i = raw[1:-1], [], 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@v_args(meta=True)
class _ToAst(Transformer):
    """One method per grammar alias; each returns one AST class."""

    def __init__(self, source: SourceFile):
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", False):
            return Span(self.source, 1, 1, 1, 1)
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.source, tok.line, tok.column, tok.end_line, tok.end_column)

    # -- start rules
    def start(self, meta, c):
        return c[0]

    def expr_start(self, meta, c):
        return c[0]

    def type_start(self, meta, c):
        return c[0]

    # -- module
    def module(self, meta, c):
        header, items = c[0], [x for x in c[1:] if x is not None]
        return A.Module(self._span(meta), header, tuple(items))

    def header(self, meta, c):
        return self._int(meta, c[0])

    def _int(self, meta, token) -> int:
        """An integer literal; one longer than any value the language admits is an error here
        (Python would refuse to read one of 4,300 digits)."""
        text = str(token).replace("_", "")
        if len(text.lstrip("0")) > MAX_INT_DIGITS:
            raise SpeccError(f"the integer literal of {len(text):,} digits is beyond the limit "
                             "of 2**62", self._span(meta))
        return int(text)

    def import_stmt(self, meta, c):
        return A.Import(self._span(meta), _unquote(c[0]))

    def const_def(self, meta, c):
        return A.ConstDef(self._span(meta), str(c[0]), c[1])

    def block_def(self, meta, c):
        return A.BlockDef(self._span(meta), str(c[0]), tuple(c[1] or ()), c[2])

    def network_def(self, meta, c):
        return A.NetworkDef(self._span(meta), str(c[0]), tuple(c[1] or ()), c[2])

    def network_preset(self, meta, c):
        return A.NetworkPreset(self._span(meta), str(c[0]), c[1], c[2] if len(c) > 2 else None)

    def params(self, meta, c):
        return [p for p in c if p is not None]

    def param(self, meta, c):
        return A.Param(self._tok_span(c[0]), str(c[0]), c[1], c[2])

    # -- statements
    def body(self, meta, c):
        return tuple(s for s in c if s is not None)

    def assign(self, meta, c):
        return A.StmtAssign(self._span(meta), str(c[0]), *_lift(c[1]))

    def destructure(self, meta, c):
        return A.StmtDestructure(self._span(meta), tuple(str(t) for t in c[:-1]), *_lift(c[-1]))

    def input_decl(self, meta, c):
        return A.StmtInput(self._span(meta), str(c[0]), c[1])

    def output_decl(self, meta, c):
        value, label = _lift(c[2])
        return A.StmtOutput(self._span(meta), str(c[1]), value, c[0] is not None, label)

    def param_decl(self, meta, c):
        kind = str(c[0])
        return A.StmtParam(self._span(meta), str(c[1]), c[2], c[3], kind == "param",
                           saved=kind != "const")

    def for_stmt(self, meta, c):
        first, second, iterable, body = c
        return A.StmtFor(self._span(meta), str(first), second and str(second), iterable, body)

    def if_stmt(self, meta, c):
        other = c[2] if len(c) > 2 and c[2] is not None else ()
        if isinstance(other, A.StmtIf):
            other = (other,)
        return A.StmtIf(self._span(meta), c[0], c[1], tuple(other))

    def assert_stmt(self, meta, c):
        return A.StmtAssert(self._span(meta), c[0], c[1])

    def return_stmt(self, meta, c):
        last, label = _lift(c[-1])
        return A.StmtReturn(self._span(meta), tuple(c[:-1]) + (last,), label)

    def train_block(self, meta, c):
        return A.StmtTrain(self._span(meta), tuple(x for x in c if isinstance(x, A.RecipeItem)))

    def reference_block(self, meta, c):
        return A.StmtReference(self._span(meta), tuple(x for x in c if x is not None))

    def recipe_item(self, meta, c):
        return A.RecipeItem(self._span(meta), str(c[0]), c[1])

    def doc_stmt(self, meta, c):
        return A.StmtDoc(self._span(meta), _unquote(str(c[0])).strip())

    # -- types
    def type_tensor(self, meta, c):
        return A.TypeTensor(self._span(meta), str(c[0]), tuple(c[1] or ()))

    def type_scalar(self, meta, c):
        return A.TypeScalar(self._span(meta), str(c[0]))

    def type_block(self, meta, c):
        return A.TypeScalar(self._span(meta), "block")

    def type_list(self, meta, c):
        return A.TypeList(self._span(meta), c[0])

    # -- expressions
    def label(self, meta, c):
        return A.ExprLabel(self._span(meta), c[0], c[1])

    def ternary(self, meta, c):
        return A.ExprTernary(self._span(meta), *c)

    def pipe(self, meta, c):
        return A.ExprPipe(self._span(meta), c[0], c[1])

    def or_op(self, meta, c):
        return A.ExprBool(self._span(meta), "or", c[0], c[1])

    def and_op(self, meta, c):
        return A.ExprBool(self._span(meta), "and", c[0], c[1])

    def not_op(self, meta, c):
        return A.ExprUnary(self._span(meta), "not", c[0])

    def binary(self, meta, c):
        return A.ExprBinary(self._span(meta), str(c[1]), c[0], c[2])

    def unary(self, meta, c):
        return A.ExprUnary(self._span(meta), str(c[0]), c[1])

    def call(self, meta, c):
        return A.ExprCall(self._span(meta), c[0], tuple(c[1] or ()))

    def args(self, meta, c):
        return [a if isinstance(a, A.Arg) else A.Arg(a.span, None, a) for a in c if a is not None]

    def kwarg(self, meta, c):
        return A.Arg(self._span(meta), str(c[0]), c[1])

    def index(self, meta, c):
        return A.ExprIndex(self._span(meta), c[0], c[1])

    def attr(self, meta, c):
        return A.ExprAttr(self._span(meta), c[0], str(c[1]))

    def int_lit(self, meta, c):
        return A.ExprLit(self._span(meta), self._int(meta, c[0]))

    def float_lit(self, meta, c):
        return A.ExprLit(self._span(meta), float(str(c[0]).replace("_", "")))

    def str_lit(self, meta, c):
        return A.ExprLit(self._span(meta), _unquote(str(c[0])))

    def true_lit(self, meta, c):
        return A.ExprLit(self._span(meta), True)

    def false_lit(self, meta, c):
        return A.ExprLit(self._span(meta), False)

    def none_lit(self, meta, c):
        return A.ExprLit(self._span(meta), None)

    def name(self, meta, c):
        return A.ExprName(self._span(meta), str(c[0]))

    def list_lit(self, meta, c):
        return A.ExprList(self._span(meta), tuple(c[0] or ()))

    def exprs(self, meta, c):
        return [x for x in c if x is not None]


def _lift(value):
    """A statement's value and its label: `as "name"` after the whole value labels the
    statement (what it binds), as it always has."""
    if isinstance(value, A.ExprLabel):
        return value.value, value.label
    return value, None
