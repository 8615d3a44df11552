"""Reading a dim back from its text: `str(dim)` for an int or a Sym (specc/ir/sym.py) parses
to an equal value. Only ints, names, `+ - * // %` and brackets: nothing is evaluated."""
from __future__ import annotations

import re

from .sym import Sym

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z_0-9]*)|(//|[-+*%()]))")


def parse(text: str):
    """A dim from its text (`str(dim)` for an int or a Sym): int, or Sym."""
    tokens, pos = [], 0
    text = str(text)
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"not a dim expression: {text!r}")
        number, name, punct = m.groups()
        tokens.append(int(number) if number is not None else name or punct)
        pos = m.end()
    p = _Parser(tokens, text)
    value = p.sum()
    if p.i != len(tokens):
        raise ValueError(f"not a dim expression: {text!r}")
    return value


class _Parser:
    def __init__(self, tokens, text):
        self.t, self.i, self.text = tokens, 0, text

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        tok = self.peek()
        if tok is None:
            raise ValueError(f"not a dim expression: {self.text!r}")
        self.i += 1
        return tok

    def sum(self):
        v = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.product()
            v = v + w if op == "+" else v - w
        return v

    def product(self):
        v = self.unary()
        while self.peek() in ("*", "//", "%"):
            op = self.take()
            w = self.unary()
            if op == "*":
                v = v * w
            elif not isinstance(w, int) or w < 1:
                raise ValueError(f"not a dim expression: {self.text!r} (divides by {w})")
            else:
                v = v // w if op == "//" else v % w
        return v

    def unary(self):
        if self.peek() == "-":
            self.take()
            return -self.unary()
        tok = self.take()
        if tok == "(":
            v = self.sum()
            if self.take() != ")":
                raise ValueError(f"not a dim expression: {self.text!r}")
            return v
        if isinstance(tok, int):
            return tok
        if isinstance(tok, str) and (tok[0].isalpha() or tok[0] == "_"):
            return Sym.name(tok)
        raise ValueError(f"not a dim expression: {self.text!r}")
