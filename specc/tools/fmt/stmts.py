"""Statements, bodies and top-level items, with the comments of the source put back.

Comments live on lines, so they are placed by line: a comment on a line of its own belongs to
the body it sits in, between the statements around it; a comment at the end of a line stays at
the end of that line when the line is a statement's last line, a body's opening `{` line or its
closing `}` line. A comment anywhere else (inside a bracket that spans lines, say) cannot be
moved without changing what it annotates, so that statement is printed as its author wrote it,
only re-indented. Blank lines between statements are kept (at most one); top-level blocks and
networks get one blank line around them."""
from __future__ import annotations

from ...lang import ast as A
from ...core.diagnostics import SpeccError
from ...core.source import SourceFile
from .exprs import STEP, ExprPrinter
from .tokens import Comment, Tokens

_COMPOUND = (A.BlockDef, A.NetworkDef, A.StmtFor, A.StmtIf, A.StmtTrain, A.StmtReference)


class _Verbatim(Exception):
    """This statement has a comment the layout cannot place: print its source."""


class Printer:
    def __init__(self, source: SourceFile, width: int):
        self.src = source
        self.tokens = Tokens(source)
        self.ex = ExprPrinter(self.tokens, width)
        self.eol = {c.line: c for c in self.tokens.comments if not c.own_line}
        self.used: set[int] = set()  # lines whose end-of-line comment has been printed
        self.own = [c for c in self.tokens.comments if c.own_line]

    # ---------------------------------------------------------------- module
    def module(self, m: A.Module) -> str:
        out, lo = [], 0
        if m.version is not None:
            lo = self.tokens.toks[0].line
            out += [c.text for c in self.own if c.line < lo]  # comments above the header
            out.append(self._with_eol(f"specc {m.version}", lo))
        elems = self._elements(m.items, lo, 10 ** 9, 0)
        chunks = _chunks(elems)
        prev = None
        for chunk in chunks:
            blank = chunk[0][1]
            if (prev is not None and _is_def(prev)) or (out and _is_def(chunk)):
                blank = True  # a block or network stands apart from the header and other items
            if out and blank:
                out.append("")
            for _, _, lines in chunk:
                out += lines
            prev = chunk
        return "\n".join(out) + "\n"

    def _elements(self, nodes, lo: int, hi: int, indent: int, first_blank: bool = True) -> list:
        """(node or Comment, blank line before?, lines) in source order for the statements or
        items between lines lo and hi (both exclusive of own-line comments)."""
        spans = [(n, n.span.line, n.span.end_line) for n in nodes]
        comments = [c for c in self.own if lo < c.line < hi
                    and not any(a <= c.line <= b for _, a, b in spans)]
        entries = sorted([(a, 0, n, b) for n, a, b in spans] +
                         [(c.line, 1, c, c.line) for c in comments], key=lambda x: (x[0], x[1]))
        out, prev_end = [], lo
        for first, _, n, last in entries:
            blank = (bool(out) or first_blank) and prev_end > 0 and \
                any(not self.src.line(k).strip() for k in range(prev_end + 1, first))
            lines = [" " * indent + n.text] if isinstance(n, Comment) else self.stmt(n, indent)
            out.append((n, blank, lines))
            prev_end = last
        return out

    # ------------------------------------------------------------ statements
    def stmt(self, s, indent: int) -> list[str]:
        used = set(self.used)
        try:
            if isinstance(s, _COMPOUND) or (isinstance(s, A.NetworkPreset) and s.reference):
                return self._compound(s, indent)
            self._no_interior_comments(s.span.line, s.span.end_line)
            lines = self._simple(s, indent)
            return lines[:-1] + [self._with_eol(lines[-1], s.span.end_line)]
        except _Verbatim:
            self.used = used
            return self.verbatim(s, indent)

    def _simple(self, s, indent: int) -> list[str]:
        ex, col = self.ex, indent
        pieces: list
        if isinstance(s, A.StmtAssign):
            pieces = [f"{s.target} = ", (s.value, 1)] + ([" as ", (s.label, 1)] if s.label else [])
        elif isinstance(s, A.StmtDestructure):
            pieces = [", ".join(s.targets) + " = ", (s.value, 1)] + \
                ([" as ", (s.label, 1)] if s.label else [])
        elif isinstance(s, A.StmtInput):
            pieces = [f"input {s.name}: ", (s.type, 0)]
        elif isinstance(s, A.StmtOutput):
            pieces = [("train " if s.train_only else "") + f"output {s.name}"] + \
                ([" = ", (s.value, 1)] if s.value is not None else []) + \
                ([" as ", (s.label, 1)] if s.label else [])
        elif isinstance(s, A.StmtParam):
            kind = "param" if s.trainable else "fixed" if s.saved else "const"
            pieces = [f"{kind} {s.name}: ", (s.type, 0), " = ", (s.init, 1)]
        elif isinstance(s, A.StmtAssert):
            pieces = ["assert ", (s.cond, 1)] + ([", ", (s.message, 1)] if s.message else [])
        elif isinstance(s, A.StmtReturn):
            pieces = ["return "]
            for i, v in enumerate(s.values):
                pieces += ([", "] if i else []) + [(v, 1)]
            pieces += [" as ", (s.label, 1)] if s.label else []
        elif isinstance(s, A.RecipeItem):
            pieces = [f"{s.key} = ", (s.value, 1)]
        elif isinstance(s, A.StmtDoc):
            return [" " * indent + self._doc(s, indent)]
        elif isinstance(s, A.Import):
            pieces = ["import " + self._raw(s.span)[len("import"):].strip()]
        elif isinstance(s, A.ConstDef):
            pieces = [f"{s.name} = ", (s.value, 1)]
        elif isinstance(s, A.NetworkPreset):
            pieces = [f"network {s.name} = ", (s.value, 1)]
        else:
            raise _Verbatim  # a statement this printer does not know: keep its text
        lines = ex.concat(pieces, col, indent, 0)
        lines = [" " * indent + lines[0]] + lines[1:]
        if len(pieces) > 2 and pieces[-2] == " as " and not self._fit(lines, 1):
            lines = min(lines, self._label_below(pieces, indent), key=self._cost)
        return lines

    def _label_below(self, pieces: list, indent: int) -> list[str]:
        """The statement with its `as` label on a continuation line of its own (a chain
        keeps the breaks its author made, even where it would now fit on one line)."""
        value = pieces[1][0] if len(pieces) == 4 and isinstance(pieces[0], str) else None
        if isinstance(value, A.ExprPipe):
            body = self.ex.pipe_lines(value, indent + len(pieces[0]), indent)
            head = [pieces[0] + body[0]] + body[1:]
        else:
            head = self.ex.concat(pieces[:-2], indent, indent, 0)
        cont = indent + STEP
        label = self.ex.concat(["as ", pieces[-1]], cont, cont, 0)
        return [" " * indent + head[0]] + head[1:] + [" " * cont + label[0]] + label[1:]

    def _fit(self, lines: list[str], most: int) -> bool:
        return len(lines) <= most and all(len(x) <= self.ex.width for x in lines)

    def _cost(self, lines: list[str]) -> tuple[int, int]:
        """Lines past the width first, then the number of lines."""
        return (sum(len(x) > self.ex.width for x in lines), len(lines))

    def _compound(self, s, indent: int) -> list[str]:
        open_i, close_i = self.tokens.body_braces(s.span.line, s.span.col)
        open_line = self.tokens.toks[open_i].line
        self._no_interior_comments(s.span.line, open_line)
        head = self._header(s, indent)
        lines = self._body_lines(s, head, open_i, close_i, indent)
        close_line = self.tokens.toks[close_i].line
        toks = self.tokens.toks
        if isinstance(s, A.StmtIf) and close_i + 1 < len(toks) and toks[close_i + 1].type == "ELSE":
            lines = self._else(s, lines, close_i, indent)
        else:
            lines[-1] = self._with_eol(lines[-1], close_line)
        return lines

    def _header(self, s, indent: int) -> list[str]:
        col = indent
        if isinstance(s, (A.BlockDef, A.NetworkDef)):
            kind = "block" if isinstance(s, A.BlockDef) else "network"
            if isinstance(s, A.NetworkDef) and not s.params:
                return [" " * indent + f"network {s.name} {{"]
            head = f"{kind} {s.name}("
            flat = head + ", ".join(self.ex.flat(p) for p in s.params) + ") {"
            trailing = bool(s.params) and self.tokens.comma_after(*_end(s.params[-1]))
            if self.ex.fits(flat, col) and not trailing and not any(map(self.ex.forced, s.params)):
                return [" " * indent + flat]
            lines = self.ex.group(head, list(s.params), ")", col, indent, 2, trailing)
            lines[-1] += " {"
        elif isinstance(s, A.StmtFor):
            names = s.var + (f", {s.var2}" if s.var2 else "")
            lines = self.ex.concat([f"for {names} in ", (s.iterable, 1), " {"], col, indent, 0)
        elif isinstance(s, A.StmtIf):
            lines = self.ex.concat(["if ", (s.cond, 1), " {"], col, indent, 0)
        elif isinstance(s, A.NetworkPreset):  # with its reference section
            lines = self.ex.concat([f"network {s.name} = ", (s.value, 1), " reference {"], col,
                                   indent, 0)
        else:
            lines = ["train {" if isinstance(s, A.StmtTrain) else "reference {"]
        return [" " * indent + lines[0]] + lines[1:]

    def _body_lines(self, s, head: list[str], open_i: int, close_i: int, indent: int):
        open_line = self.tokens.toks[open_i].line
        close_line = self.tokens.toks[close_i].line
        stmts = s.items if isinstance(s, (A.StmtTrain, A.StmtReference)) else s.then \
            if isinstance(s, A.StmtIf) else s.reference.items if isinstance(s, A.NetworkPreset) \
            else s.body
        elems = self._elements(stmts, open_line, close_line, indent + STEP, first_blank=False)
        if not elems and not self._has_eol(open_line):
            return head[:-1] + [head[-1] + "}"]
        lines = head[:-1] + [self._with_eol(head[-1], open_line)]
        for _, blank, body in elems:
            lines += ([""] if blank else []) + body
        return lines + [" " * indent + "}"]

    def _else(self, s: A.StmtIf, lines: list[str], then_close: int, indent: int) -> list[str]:
        toks = self.tokens.toks
        else_tok = toks[then_close + 1]
        nxt = toks[then_close + 2]
        if else_tok.line != toks[then_close].line and toks[then_close].line in self.eol:
            raise _Verbatim
        self._no_interior_comments(toks[then_close].line + 1, nxt.line)
        if nxt.type == "LBRACE":
            fake = A.StmtIf(s.span, s.cond, s.other, ())
            body = self._body_lines(fake, [" " * indent + "} else {"], then_close + 2,
                                    self.tokens.partner[then_close + 2], indent)
            body[-1] = self._with_eol(body[-1], toks[self.tokens.partner[then_close + 2]].line)
            return lines[:-1] + body
        nested = self._compound(s.other[0], indent)
        return lines[:-1] + [" " * indent + "} else " + nested[0].lstrip()] + nested[1:]

    # -------------------------------------------------------------- comments
    def _with_eol(self, line: str, src_line: int) -> str:
        c = self.eol.get(src_line)
        if c is None or src_line in self.used:
            return line
        self.used.add(src_line)
        return f"{line}  {c.text}"

    def _has_eol(self, src_line: int) -> bool:
        return src_line in self.eol and src_line not in self.used

    def _no_interior_comments(self, first: int, last: int) -> None:
        """Lines first..last-1 of a statement, and own-line comments on `last`, hold no comment."""
        for c in self.tokens.comments:
            if first <= c.line < last or (c.line == last and c.own_line):
                raise _Verbatim

    # ---------------------------------------------------------------- source
    def _raw(self, span) -> str:
        lines = self.src.lines[span.line - 1: span.end_line]
        if len(lines) == 1:
            return lines[0][span.col - 1: span.end_col - 1]
        return "\n".join([lines[0][span.col - 1:]] + lines[1:-1] + [lines[-1][: span.end_col - 1]])

    def _doc(self, s: A.StmtDoc, indent: int) -> str:
        """The docstring's own text; continuation lines move with the statement's indentation."""
        raw = self._raw(s.span).split("\n")
        delta = indent - (s.span.col - 1)
        return "\n".join(raw[:1] + [_shift(x, delta) for x in raw[1:]])

    def verbatim(self, s, indent: int) -> list[str]:
        """The statement as written, re-indented (lines inside strings are left alone)."""
        first, last = s.span.line, s.span.end_line
        prefix = self.src.line(first)[: s.span.col - 1]
        after = self.src.line(last)[s.span.end_col - 1:].strip()
        if prefix.strip() or (after and not after.startswith("#")):
            raise SpeccError("cannot format this statement: a comment inside it would move; put "
                             "it on a line of its own", s.span)
        delta = indent - len(prefix.expandtabs(STEP))
        out = []
        for n in range(first, last + 1):
            text = self.src.line(n)
            out.append(text if n in self.tokens.string_lines else _shift(text, delta).rstrip())
        return out


def _shift(line: str, delta: int) -> str:
    if not line.strip():
        return ""
    if delta >= 0:
        return " " * delta + line
    lead = len(line) - len(line.lstrip(" "))
    return line[min(lead, -delta):]


def _end(p: A.Param) -> tuple[int, int]:
    last = p.default or p.type or p
    return last.span.end_line, last.span.end_col


def _is_def(chunk) -> bool:
    return any(isinstance(n, (A.BlockDef, A.NetworkDef)) for n, _, _ in chunk)


def _chunks(elems: list[tuple]) -> list[list[tuple]]:
    """Top-level elements grouped so that comments stay glued to the item right below them."""
    chunks: list[list[tuple]] = []
    glue = False
    for e in elems:
        if chunks and glue and not e[1]:
            chunks[-1].append(e)
        else:
            chunks.append([e])
        glue = isinstance(e[0], Comment)
    return chunks
