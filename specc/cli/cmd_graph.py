"""`specc graph FILE[:NET]`: the network as a Graphviz DOT picture (rendered when `dot` exists)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..diagnostics import SpeccError
from ..ops import registry
from .common import add_target, load_target

# fill colours by trait (the first that applies), never by op name
COLORS = {"weighted": "#cfe2ff", "normalising": "#fff3cd", "pooling": "#f8d7da", "join": "#e2d9f3"}


def color(op: str) -> str:
    traits = registry.get(op).traits
    return next((c for t, c in COLORS.items() if t in traits), "#ffffff")


def _internal(graph, node_name) -> bool:
    return node_name is not None and "internal" in registry.get(graph.node(node_name).op).traits


def add_arguments(p) -> None:
    add_target(p)
    p.add_argument("-o", "--output", metavar="OUT", help="OUT.dot, OUT.svg or OUT.png "
                   "(svg/png need Graphviz's `dot`); default: DOT on stdout")


def to_dot(graph) -> str:
    lines = [f'digraph "{graph.name}" {{', "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
    for name in graph.inputs:
        lines.append(f'  "{name}" [label="{name}\\n{graph.values[name].type}", fillcolor="#e9ecef"];')
    for node in graph.nodes:
        if "internal" in registry.get(node.op).traits:
            continue
        t = graph.values[node.outputs[0]].type
        fill = color(node.op)
        lines.append(f'  "{node.name}" [label="{node.name}\\n{node.op} {t}", fillcolor="{fill}"];')
        for i in node.inputs:
            producer = graph.values[i].producer
            if not _internal(graph, producer):
                lines.append(f'  "{producer or i}" -> "{node.name}";')
    for out, value in graph.outputs.items():
        lines.append(f'  "out:{out}" [label="{out}", shape=ellipse, fillcolor="#e9ecef"];')
        lines.append(f'  "{graph.values[value].producer or value}" -> "out:{out}";')
    lines.append("}")
    return "\n".join(lines)


def run(args) -> int:
    net = load_target(args)
    dot = to_dot(net.graph)
    if not args.output:
        print(dot)
        return 0
    out = Path(args.output)
    if out.suffix == ".dot":
        out.write_text(dot + "\n")
    elif out.suffix in (".svg", ".png", ".pdf"):
        exe = shutil.which("dot")
        if exe is None:
            raise SpeccError(f"rendering {out.suffix} needs Graphviz's `dot` (apt-get install "
                             "graphviz); write OUT.dot instead")
        subprocess.run([exe, f"-T{out.suffix[1:]}", "-o", str(out)], input=dot.encode(), check=True)
    else:
        raise SpeccError(f"unknown picture format '{out.suffix}' (use .dot, .svg, .png or .pdf)")
    print(f"wrote {out}")
    return 0
