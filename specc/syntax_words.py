"""Lark terminal names -> the words a person uses ('expected an expression')."""
from __future__ import annotations

from lark import Token

_EXPR_START = {"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "NONE", "LPAR", "LSQB",
               "ADD_OP", "NOT"}
_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "_NL": "a new line", "$END": "end of file", "TYPE": "a type", "CMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'", "POW_OP": "'**'",
    "PARAM_KIND": "'param' or 'fixed'",
}
_PUNCT = {
    "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}",
    "COMMA": ",", "COLON": ":", "EQUAL": "=", "DOT": ".", "QMARK": "?",
}
_ORDER = ["RPAR", "RSQB", "RBRACE", "LBRACE", "COMMA", "COLON", "EQUAL", "NAME", "STRING", "INT"]


def word(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in _PUNCT:
        return f"'{_PUNCT[name]}'"
    if name.startswith("__ANON"):
        return "an operator"
    return f"'{name.lower()}'"


def describe_expected(expected: set[str]) -> str:
    names = set(expected)
    if {"MUL_OP", "ADD_OP"} <= names:
        closers = [word(n) for n in ("RPAR", "RSQB", "COMMA") if n in names]
        end = " or the end of the line" if "_NL" in names else ""
        return "expected an operator" + (f", {' or '.join(closers)}" if closers else "") + end
    if {"NAME", "INT"} <= names:
        rest = names - _EXPR_START
        closers = [n for n in ("RPAR", "RSQB") if n in rest]
        tail = f" or {word(closers[0])}" if closers and len(rest) <= 3 else ""
        return f"expected an expression{tail}"
    ranked = sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
    ranked = [n for n in ranked if n != "_NL"] or ranked
    words = [word(n) for n in ranked[:4]]
    if len(words) == 1:
        return f"expected {words[0]}"
    return "expected " + ", ".join(words[:-1]) + f" or {words[-1]}"


def describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    text = str(tok).splitlines()[0] if str(tok) else tok.type
    if tok.type == "STRING":
        return "a string"
    if tok.type in ("INT", "FLOAT"):
        return f"number {text}"
    if tok.type == "NAME":
        return f"name '{text}'"
    return f"'{text}'"
