"""`specc zoo`: the lecture's table. Every bundled network with its parameters and MACs, how
they compare with the figures its spec's `reference` section states, the reported errors with
their source, and what specc has reproduced."""
from __future__ import annotations

from ..compile.report import human
from .common import print_json


EXAMPLES = """\
examples:
  specc zoo            every bundled network: parameters, MACs, the source's figures and errors
  specc zoo --json
"""


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")


def run(args) -> int:
    from ..tools.zoo import agree_text, errors_text, zoo_rows
    rows = zoo_rows()
    if args.json:
        print_json(rows)
        return 0
    header = ("spec", "network", "params", "MACs", "vs ref", "error %", "reproduced", "source")
    body = [(r["spec"].removesuffix(".net"), r["network"], f"{r['params']:,}", human(r["macs"]),
             agree_text(r), errors_text(r), clip(r["reproduced"], REPRODUCED),
             clip(r["source"], SOURCE)) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    for cells in [header] + body:
        print("  ".join(c.rjust(w) if i in (2, 3) else c.ljust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    print("\nvs ref: specc's params / MACs against the source's figures ('=' exact, '~' a "
          "rounded figure within 3%, else the difference); error %: top-1 / top-5, or test. "
          "Texts cut short (…) are whole in specc zoo --json and specc check FILE:NET.")
    return 0


REPRODUCED, SOURCE = 40, 64  # the longest texts a table cell shows


def clip(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut at a word with '…' where it is longer."""
    if len(text) <= width:
        return text
    cut = text[:width - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return (cut if len(cut) > width // 2 else text[:width - 1]) + "…"
