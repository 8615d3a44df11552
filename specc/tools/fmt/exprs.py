"""Expressions and types laid out within a width: flat when they fit, else broken in brackets.

`lay(e, col, indent, tail)` returns lines: the first continues the current line at column `col`,
the others are whole lines; `indent` is the indentation of the logical line the expression is
on and `tail` the number of characters that will follow it on its last line. Brackets that do
not fit break in one of two ways:

* aligned: items fill lines, continuation lines start under the first item (PEP 8's "aligned
  with the opening delimiter"), the style the bundled specs were written in;
* exploded: the bracket ends the line, rows of items are indented one level and end with a
  comma, the closing bracket gets its own line. Used when the source already ends the bracket
  with a trailing comma (a table: the rows the author chose are kept) or when the aligned
  column is too far right.
* flat: a bracket nested so deep that its rows would start past the width stays on one line
  (breaking it would only add indentation: a thousand nested lists would fill megabytes).

A `|>` chain that does not fit breaks before `|>`, one level deeper than its statement, and
keeps the breaks its author made (AlexNet's conv-relu-pool rows)."""
from __future__ import annotations

from ...lang import ast as A
from .tokens import Tokens

WIDTH = 100
STEP = 4
ALIGN_SHARE = 0.6  # an aligned bracket that opens further right than this share explodes
SHORT = 24  # a bracket of plain items this short stays on one line

_CMP = {"==", "!=", "<", "<=", ">", ">="}


def precedence(e) -> int:
    """Binding strength, from the grammar's rule nesting (label 0, ternary 1 ... atom 12)."""
    if isinstance(e, A.ExprLabel):
        return 0
    if isinstance(e, A.ExprTernary):
        return 1
    if isinstance(e, A.ExprPipe):
        return 2
    if isinstance(e, A.ExprBool):
        return 3 if e.op == "or" else 4
    if isinstance(e, A.ExprUnary):
        return 5 if e.op == "not" else 9
    if isinstance(e, A.ExprBinary):
        if e.op in _CMP:
            return 6
        if e.op in ("+", "-"):
            return 7
        return 10 if e.op == "**" else 8
    if isinstance(e, (A.ExprCall, A.ExprIndex, A.ExprAttr)):
        return 11
    return 12


def _operands(e) -> list[tuple[object, int]]:
    """The children an operator prints between its symbols, each with the least precedence it
    may have without parentheses."""
    if isinstance(e, A.ExprLabel):
        return [(e.value, 1), (e.label, 1)]
    if isinstance(e, A.ExprTernary):
        return [(e.cond, 2), (e.then, 1), (e.other, 1)]
    if isinstance(e, A.ExprBool):
        p = precedence(e)
        return [(e.left, p), (e.right, p + 1)]
    if isinstance(e, A.ExprUnary):
        return [(e.operand, precedence(e))]
    if isinstance(e, A.ExprBinary):
        p = precedence(e)
        if p == 6:
            return [(e.left, 7), (e.right, 7)]
        if p == 10:
            return [(e.left, 11), (e.right, 9)]
        return [(e.left, p), (e.right, p + 1)]
    raise TypeError(type(e).__name__)


class ExprPrinter:
    """Prints expressions and types of one source (literals keep their source spelling)."""

    def __init__(self, tokens: Tokens, width: int = WIDTH):
        self.tokens = tokens
        self.width = width
        self._forced: dict[int, bool] = {}
        self._flats: dict[int, tuple] = {}  # id -> (node, its flat text)

    def trailing(self, e) -> bool:
        """A bracket whose source ends with a comma after its last item: keep it exploded."""
        items = e.args if isinstance(e, A.ExprCall) else e.items if isinstance(e, A.ExprList) \
            else e.dims if isinstance(e, A.TypeTensor) else ()
        return bool(items) and self.tokens.trailing_comma(e.span.end_line, e.span.end_col)

    def forced(self, e) -> bool:
        """Whether `e` holds an exploded bracket, so that it cannot be printed on one line."""
        key = id(e)
        if key not in self._forced:
            self._forced[key] = self.trailing(e) or any(self.forced(c) for c in _children(e))
        return self._forced[key]

    # ------------------------------------------------------------------ flat
    def flat(self, e) -> str:
        """`e` on one line (memoised: the layout asks for it at every level of a deep
        expression, and building it again each time would be cubic in the depth)."""
        hit = self._flats.get(id(e))
        if hit is None or hit[0] is not e:
            hit = self._flats[id(e)] = (e, self._flat(e))
        return hit[1]

    def _flat(self, e) -> str:
        if isinstance(e, A.ExprLit):
            return self._literal(e)
        if isinstance(e, A.ExprName):
            return e.name
        if isinstance(e, A.ExprList):
            return "[" + ", ".join(self.flat(x) for x in e.items) + "]"
        if isinstance(e, A.ExprCall):
            return self._wrap(e.callee, 11) + "(" + ", ".join(self.flat(a) for a in e.args) + ")"
        if isinstance(e, A.ExprIndex):
            return self._wrap(e.target, 11) + "[" + self.flat(e.index) + "]"
        if isinstance(e, A.ExprAttr):
            return self._attr_target(e.target) + "." + e.attr
        if isinstance(e, A.ExprPipe):
            return " |> ".join(self._pipe_part(p, i) for i, p in enumerate(_pipe_parts(e)))
        if isinstance(e, (A.TypeScalar, A.TypeList, A.TypeTensor)):
            return self.flat_type(e)
        if isinstance(e, (A.Arg, A.Param)):
            return "".join(p if isinstance(p, str) else self._wrap(*p) for p in self._item(e))
        return "".join(p if isinstance(p, str) else self._wrap(*p) for p in self._pieces(e))

    def flat_type(self, t) -> str:
        if isinstance(t, A.TypeScalar):
            return t.name
        if isinstance(t, A.TypeList):
            return "[" + self.flat_type(t.item) + "]"
        return t.dtype + "[" + ", ".join(self.flat(d) for d in t.dims) + "]"

    def _item(self, e) -> list:
        """An argument `name=value` or a parameter `name: type = default` as pieces."""
        if isinstance(e, A.Arg):
            return [f"{e.name}=" if e.name else "", (e.value, 0)]
        return [e.name] + ([": ", (e.type, 0)] if e.type else []) + \
            ([" = ", (e.default, 1)] if e.default else [])

    def _pieces(self, e) -> list:
        ops = _operands(e)
        if isinstance(e, A.ExprLabel):
            return [ops[0], " as ", ops[1]]
        if isinstance(e, A.ExprTernary):
            return [ops[0], " ? ", ops[1], " : ", ops[2]]
        if isinstance(e, A.ExprUnary):
            return [e.op + (" " if e.op == "not" else ""), ops[0]]
        return [ops[0], f" {e.op} ", ops[1]]

    def _wrap(self, e, least: int) -> str:
        text = self.flat(e)
        return f"({text})" if precedence(e) < least else text

    def _attr_target(self, e) -> str:
        if isinstance(e, A.ExprLit) and isinstance(e.value, (int, float)) \
                and not isinstance(e.value, bool):
            return f"({self.flat(e)})"  # `1.x` would lex as the number `1.`
        return self._wrap(e, 11)

    def _pipe_part(self, e, i: int) -> str:
        return self._wrap(e, 3 if i == 0 else 11)


    def _literal(self, e: A.ExprLit) -> str:
        s = e.span
        src = self.tokens.source
        if s.line == s.end_line:
            return src.line(s.line)[s.col - 1: s.end_col - 1]
        lines = [src.line(s.line)[s.col - 1:]] + [src.line(n) for n in range(s.line + 1, s.end_line)]
        return "\n".join(lines + [src.line(s.end_line)[: s.end_col - 1]])

    # ---------------------------------------------------------------- layout
    def fits(self, text: str, col: int, tail: int = 0) -> bool:
        return "\n" not in text and col + len(text) + tail <= self.width

    def lay(self, e, col: int, indent: int, tail: int = 0) -> list[str]:
        text = self.flat(e)
        if not self.forced(e) and (self.fits(text, col, tail) or "\n" in text
                                   or self.atomic(e)):
            return [text]
        if isinstance(e, A.ExprCall):
            head = self._wrap(e.callee, 11) + "("
            return self.group(head, list(e.args), ")", col, indent, tail,
                              self.trailing(e))
        if isinstance(e, A.ExprList):
            return self.group("[", list(e.items), "]", col, indent, tail,
                              self.trailing(e))
        if isinstance(e, A.TypeTensor):
            return self.group(e.dtype + "[", list(e.dims), "]", col, indent, tail,
                              self.trailing(e))
        if isinstance(e, A.ExprPipe):
            return self._pipe(e, col, indent, tail)
        if isinstance(e, A.ExprIndex):
            return self.concat([(e.target, 11), "[", (e.index, 1), "]"], col, indent, tail)
        if isinstance(e, A.ExprAttr):
            return self.concat([self._attr_target(e.target), "." + e.attr], col, indent, tail)
        if isinstance(e, (A.Arg, A.Param)):
            return self.concat(self._item(e), col, indent, tail)
        if isinstance(e, (A.ExprLabel, A.ExprTernary, A.ExprBool, A.ExprUnary, A.ExprBinary)):
            return self.concat(self._pieces(e), col, indent, tail)
        return [text]

    def concat(self, pieces: list, col: int, indent: int, tail: int) -> list[str]:
        """Strings and (expr, least precedence) laid out one after another on the same line;
        each expression may break, the next piece continues after its last line. A piece
        makes room for what follows it up to the next place that can break (the rest of a
        chain of pieces that cannot, or the head of the next bracket), not for all of it."""
        lines, cur = [""], col
        heads = [self._head(p) for p in pieces]
        for i, p in enumerate(pieces):
            after = self._room_after(heads, i + 1, tail)
            if isinstance(p, str):
                part = [p]
            else:
                e, least = p
                if precedence(e) < least:
                    part = self.lay(e, cur + 1, indent, after + 1)
                    part = ["(" + part[0]] + part[1:-1] + [part[-1] + ")"] if len(part) > 1 \
                        else ["(" + part[0] + ")"]
                else:
                    part = self.lay(e, cur, indent, after)
            lines[-1] += part[0]
            lines += part[1:]
            cur = len(lines[-1]) if len(lines) > 1 else col + len(lines[0])
        return lines

    def _head(self, p) -> tuple[int, bool]:
        """(length up to the piece's first possible break, whether it can break at all)."""
        if isinstance(p, str):
            return len(p), False
        e, least = p
        text = self._wrap(e, least)
        if self.atomic(e):
            return len(text), False
        cut = min((text.find(c) for c in "([" if c in text), default=-1)
        return (cut + 1, True) if cut >= 0 else (len(text), False)

    @staticmethod
    def _room_after(heads: list, start: int, tail: int) -> int:
        room = 0
        for length, breaks in heads[start:]:
            room += length
            if breaks:
                return room
        return room + tail

    def atomic(self, e) -> bool:
        """A short bracket of plain items (`str(2 * s + 1)`, `[1, 2]`) never breaks: over
        three lines it reads worse than a line that runs a little long."""
        items = e.args if isinstance(e, A.ExprCall) else e.items if isinstance(e, A.ExprList) \
            else None
        if items is None or self.trailing(e):
            return False
        return len(self.flat(e)) <= SHORT and not any(
            isinstance(c, (A.ExprCall, A.ExprList, A.ExprPipe))
            or isinstance(getattr(c, "value", None), (A.ExprCall, A.ExprList, A.ExprPipe))
            for c in items)

    def group(self, head: str, items: list, close: str, col: int, indent: int, tail: int,
              trailing: bool) -> list[str]:
        """A bracketed list of items that does not fit on one line (see the module docstring)."""
        if not items:  # `[]` or `f()` at a deep indent in a narrow layout: nothing to break
            return [head + close]
        if indent + STEP >= self.width:  # nested past the width: breaking only adds indentation
            return [head + ", ".join(self.flat(x) for x in items) + close]
        start = col + len(head)
        if not trailing and start <= self.width * ALIGN_SHARE and items:
            return self._aligned(head, items, close, start, tail)
        rows = self._user_rows(items) if trailing else [items]
        inner = indent + STEP
        lines = [head]
        for row in rows:
            lines += self._fill(row, inner, ",", ",")
        lines.append(" " * indent + close)
        return lines

    def _aligned(self, head: str, items: list, close: str, start: int, tail: int) -> list[str]:
        lines = self._fill(items, start, ",", close, tail)
        return [head + lines[0][start:]] + lines[1:]

    def _fill(self, items: list, col: int, sep: str, end: str, tail: int = 0) -> list[str]:
        """Items packed into lines that start at column `col`; `sep` follows every item but the
        last, `end` follows the last (`tail` more characters come after it). Lines are balanced:
        as few as greedy packing needs, each as short as that count allows."""
        texts = [self.flat(x) for x in items]
        limit = self.width
        if all(self.fits(t, col, len(end) + tail) and not self.forced(x)
               for t, x in zip(texts, items)):
            count = len(self._pack(texts, col, sep, end, tail, limit))
            low = col + max(len(t) for t in texts) + max(len(sep), len(end) + tail)
            while low < limit:
                mid = (low + limit) // 2
                if len(self._pack(texts, col, sep, end, tail, mid)) <= count:
                    limit = mid
                else:
                    low = mid + 1
        return self._render(items, texts, col, sep, end, tail, limit)

    def _pack(self, texts: list[str], col: int, sep: str, end: str, tail: int,
              limit: int) -> list[list[int]]:
        rows: list[list[int]] = []
        cur = 0
        for i, text in enumerate(texts):
            after = (len(end) + tail) if i == len(texts) - 1 else len(sep)
            if rows and cur + 1 + len(text) + after <= limit:
                rows[-1].append(i)
                cur += 1 + len(text) + len(sep)
            else:
                rows.append([i])
                cur = col + len(text) + len(sep)
        return rows

    def _render(self, items, texts, col, sep, end, tail, limit) -> list[str]:
        pad = " " * col
        lines, cur, broken = [], None, False
        for i, (item, text) in enumerate(zip(items, texts)):
            last = i == len(items) - 1
            after = (len(end) + tail) if last else len(sep)
            if cur is not None and len(cur) + 1 + len(text) + after <= limit \
                    and "\n" not in text and not self.forced(item) and not broken:
                cur += " " + text
            else:
                if cur is not None:
                    lines.append(cur)
                part = self.lay(item, col, col, after)
                broken = len(part) > 1  # an item laid over several lines ends its row
                if len(part) == 1:
                    cur = pad + part[0]
                else:
                    lines += [pad + part[0]] + part[1:-1]
                    cur = part[-1]
            cur += end if last else sep
        lines.append(cur)
        return lines

    def _user_rows(self, items: list) -> list[list]:
        rows: list[list] = []
        line = None
        for item in items:
            if item.span.line != line:
                rows.append([])
            rows[-1].append(item)
            line = item.span.end_line
        return rows

    def pipe_lines(self, e: A.ExprPipe, col: int, indent: int) -> list[str]:
        """A chain as `lay` prints it when it does not fit: the author's breaks kept."""
        return self._pipe(e, col, indent, 0)

    def _pipe(self, e: A.ExprPipe, col: int, indent: int, tail: int) -> list[str]:
        parts = _pipe_parts(e)
        cont = indent + STEP
        lines = self.concat([(parts[0], 3)], col, indent, 0)
        for i, stage in enumerate(parts[1:], 1):
            after = tail if i == len(parts) - 1 else 0
            text = "|> " + self._pipe_part(stage, i)
            broke = stage.span.line > parts[i - 1].span.end_line
            if not broke and not self.forced(stage) and len(lines[-1]) + (col if len(lines) == 1 else 0) + 1 + len(text) \
                    + after <= self.width:
                lines[-1] += " " + text
                continue
            part = self.concat(["|> ", (stage, 11)], cont, cont, after)
            lines.append(" " * cont + part[0])
            lines += part[1:]
        return lines


def _children(e) -> list:
    out = []
    for name in getattr(e, "__dataclass_fields__", ()):
        v = getattr(e, name)
        if isinstance(v, A.Node):
            out.append(v)
        elif isinstance(v, tuple):
            out += [x for x in v if isinstance(x, A.Node)]
    return out


def _pipe_parts(e) -> list:
    """`a |> f |> g` -> [a, f, g] (the grammar nests pipes to the left)."""
    parts = []
    while isinstance(e, A.ExprPipe):
        parts.append(e.stage)
        e = e.source
    parts.append(e)
    return parts[::-1]
