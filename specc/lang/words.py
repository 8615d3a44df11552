"""Lark terminal names -> the words a person uses ('expected an expression')."""
from __future__ import annotations

from lark import Token

_EXPR_START = {"NAME", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "NONE", "LPAR", "LSQB",
               "ADD_OP", "NOT"}
_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "_NL": "a new line", "$END": "end of file", "TYPE": "a type", "CMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'", "POW_OP": "'**'",
    "PARAM": "'param'", "FIXED": "'fixed'", "CONST": "'const'", "TRAIN": "'train'",
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


_CLOSER = {"(": "')'", "[": "']'", "{": "'}'"}


def describe_expected(expected: set[str], opened=None) -> str:
    """`opened`: the innermost unclosed bracket (char, line, col) at the error, if any."""
    names = set(expected)
    where = f" (to close the '{opened[0]}' at {opened[1]}:{opened[2]})" if opened else ""
    if {"MUL_OP", "ADD_OP"} <= names:
        if opened and opened[0] in "([":
            return f"expected {_CLOSER[opened[0]]}{where}, ',' or an operator"
        return "expected an operator or the end of the line"
    if "$END" not in names and opened and opened[0] == "{" and "RBRACE" in names:
        return f"expected {_CLOSER['{']}{where}"
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
    text = str(tok).split("\n")[0] if str(tok) else tok.type
    if tok.type == "STRING":
        return "a string"
    if tok.type in ("INT", "FLOAT"):
        return f"number {text}"
    if tok.type == "NAME":
        return f"name '{text}'"
    return f"'{text}'"
