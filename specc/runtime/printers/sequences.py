"""Token scores ([N, T, V], a score per vocabulary entry and position: a language model):
per sample the best token at each position, as text where the vocabulary is known
(a character data set's), else as indices; lines are cut, records keep every position."""
from __future__ import annotations

from ...compile.outputs import SEQUENCE
from ...core.source import printable
from .base import Output, Printer, register

SHOWN_CHARS = 72  # characters of text on one line
SHOWN_TOKENS = 16  # indices on one line
UNKNOWN = "\ufffd"  # a token past the known vocabulary


class TokenSequences(Printer):
    kind = SEQUENCE

    def records(self, out: Output) -> list[dict]:
        rows = []
        chars = bool(out.labels) and all(len(x) == 1 for x in out.labels)
        for name, sample in zip(out.samples, out.array):
            tokens = [int(t) for t in sample.argmax(axis=-1)]
            row = {"name": name, "length": len(tokens), "tokens": tokens}
            if out.labels:  # characters join into text, words with spaces
                words = [out.labels[t] if t < len(out.labels) else UNKNOWN for t in tokens]
                row["text"] = ("" if chars else " ").join(words)
            rows.append(row)
        return rows

    def line(self, record: dict, out: Output) -> str:
        n = record["length"]
        if "text" in record:
            text = record["text"]
            cut = text[:SHOWN_CHARS] + ("…" if len(text) > SHOWN_CHARS else "")
            shown = printable(cut.replace("\\", "\\\\").replace("\n", "\\n"))
            return f"\"{shown}\"  [{n} positions]"
        tokens = record["tokens"]
        shown = " ".join(str(t) for t in tokens[:SHOWN_TOKENS])
        return f"{shown}{' …' if n > SHOWN_TOKENS else ''}  [{n} positions]"


register(TokenSequences())
