"""`specc zoo`: the bundled specs with parameters, MACs and the figures they are checked against."""
from __future__ import annotations

from ..report import human
from .common import print_json


EXAMPLES = """\
examples:
  specc zoo            every bundled network: parameters, MACs, the reference it matches
  specc zoo --json
"""


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")


def run(args) -> int:
    from ..zoo import zoo_rows
    rows = zoo_rows()
    if args.json:
        print_json(rows)
        return 0
    print(f"{'spec':<16} {'network':<18} {'params':>13} {'MACs':>9}  {'matches':<8} reference")
    for r in rows:
        ok = "" if r["reference_params"] is None else (
            "yes" if r["params"] == r["reference_params"] and
            r["macs"] == (r["reference_macs"] or r["macs"]) else "NO")
        print(f"{r['spec']:<16} {r['network']:<18} {r['params']:>13,} {human(r['macs']):>9}  "
              f"{ok:<8} {r['source']}")
    return 0
