"""What a printer of one output kind is, and the table of them.

`specc run` hands each output to the printer of its kind (specc.compile.outputs decides the
kind from the spec); a printer turns the array into one record per sample (what `--json`
prints) and each record into one line of text. A new kind is a new module beside the others
that registers its printer; no printer knows another."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...compile.outputs import OutputRead


@dataclass(frozen=True)
class Output:
    """One output as a printer sees it: the array [N, ...], how it reads, the names of its
    classes (or a vocabulary's characters; [] where none are known), the samples' names
    and how many entries a sample shows (--top-k)."""

    array: np.ndarray
    read: OutputRead
    labels: list
    samples: list
    top_k: int = 5

    def label(self, i: int) -> str:
        return self.labels[i] if i < len(self.labels) else str(int(i))


class Printer:
    """records(out) -> one JSON-ready dict per sample (each with "name"); line(record, out)
    -> that sample's text, without the sample's name (further lines indented)."""

    kind = ""

    def records(self, out: Output) -> list[dict]:
        raise NotImplementedError

    def line(self, record: dict, out: Output) -> str:
        raise NotImplementedError


PRINTERS: dict[str, Printer] = {}


def register(printer: Printer) -> Printer:
    if printer.kind in PRINTERS:
        raise RuntimeError(f"a printer for {printer.kind!r} outputs registered twice")
    PRINTERS[printer.kind] = printer
    return printer
