"""`specc graph FILE[:NET] -o OUT`: the network as an explorable page, a picture or DOT."""
from __future__ import annotations

import os
from pathlib import Path

from .common import add_target, ensure_parent, load_target, output_file

EXAMPLES = """\
examples:
  specc graph specs/resnet.net:resnet50 -o resnet50.html   open in a browser; click a stage
  specc graph specs/googlenet.net:googlenet -o g.svg --depth 1
  specc graph specs/lenet5.net                              DOT on standard output

The HTML page is self-contained (its layout library is inside it; nothing is fetched when it
opens): blocks are groups you open and close, boxes show op, output shape, parameters and
MACs, and clicking one shows its line in the spec. SVG needs no Graphviz.
"""


def add_arguments(p) -> None:
    add_target(p)
    p.add_argument("-o", "--output", metavar="OUT", type=output_file,
                   help="OUT.html (explorable page), OUT.svg (picture) or OUT.dot; "
                        "default: DOT on standard output")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="block levels shown open (default 0: every block closed); the page "
                        "opens and closes them later, the SVG keeps them")


def to_dot(graph) -> str:
    from ..tools.viewer.model import colour, internal
    lines = [f'digraph "{graph.name}" {{', "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];']
    for name in graph.inputs:
        lines.append(f'  "{name}" [label="{name}\\n{graph.values[name].type}", fillcolor="#e9ecef"];')
    for node in graph.nodes:
        if internal(node.op):
            continue
        t = graph.values[node.outputs[0]].type
        lines.append(f'  "{node.name}" [label="{node.name}\\n{node.op} {t}", '
                     f'fillcolor="{colour(node.op)}"];')
        for i in node.inputs:
            producer = graph.values[i].producer
            if producer is None or not internal(graph.node(producer).op):
                lines.append(f'  "{producer or i}" -> "{node.name}";')
    for out, value in graph.outputs.items():
        lines.append(f'  "out:{out}" [label="{out}", shape=ellipse, fillcolor="#e9ecef"];')
        lines.append(f'  "{graph.values[value].producer or value}" -> "out:{out}";')
    lines.append("}")
    return "\n".join(lines)


def run(args) -> int:
    from .main import UserError
    net = load_target(args)
    if not args.output:
        print(to_dot(net.graph))
        return 0
    out = ensure_parent(args.output, net.graph.meta.get("sources", []))  # never onto an input
    if out.suffix == ".dot":
        text = to_dot(net.graph) + "\n"
    elif out.suffix in (".html", ".htm"):
        from ..tools.viewer import html, model
        m = model.build(net.graph)
        text = html.render(m, html.open_to_depth(m, args.depth or 0))
    elif out.suffix == ".svg":
        from ..tools.viewer import model, svg
        text = svg.render(model.build(net.graph), args.depth or 0)
    else:
        raise UserError(f"unknown picture format '{out.suffix}' (use .html, .svg or .dot)")
    _write(out, text)
    print(f"wrote {out}")
    return 0


def _write(path: Path, text: str) -> None:
    """Written in a staging folder beside the target and renamed, so no half-written picture
    is left under its name."""
    from ..core.files import staging
    with staging(path) as tmp:
        staged = tmp / path.name
        staged.write_text(text, encoding="utf-8")
        os.chmod(staged, 0o666 & ~_umask())
        os.replace(staged, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
