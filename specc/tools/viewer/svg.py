"""`specc graph -o net.svg`: a static picture without Graphviz, laid out by grandalf.

grandalf's Sugiyama layout (layering, crossing reduction, coordinates, dummy points for long
edges) places the boxes; this module only draws them. Groups deeper than `depth` are drawn
closed, as one box with their parameters and MACs, so a ResNet-152 stays one readable page."""
from __future__ import annotations

from html import escape

from .model import PALETTE, Box, Model

CHAR = 6.7  # width of one character of 11 px monospace
LINE = 14
GAP = 40  # between unconnected parts


class _View:
    def __init__(self, w: float, h: float):
        self.w, self.h, self.xy = w, h, (0.0, 0.0)


class _EdgeView:
    def __init__(self):
        self.points: list = []

    def setpath(self, points) -> None:
        self.points = list(points)


def lines(b: Box) -> list[str]:
    if b.kind == "group":
        return [f"{b.label} ({b.count} ops)", b.shape,
                f"params {b.params:,}  MACs {b.macs:,}"]
    if b.kind != "node":
        return [f"{b.kind} {b.label}", b.shape]
    cost = (f"params {b.params:,}  " if b.params else "") + (f"MACs {b.macs:,}" if b.macs else "")
    return [b.id, f"{b.op}  {b.shape}"] + ([cost.strip()] if cost else [])  # open groups are
    # not drawn around their contents, so a node shows its whole name


def visible(model: Model, depth: int) -> tuple[list[Box], list[tuple[str, str]]]:
    """Boxes drawn at this depth (open groups are replaced by their contents) and the edges
    between them."""
    by_id = {b.id: b for b in model.boxes}

    def level(b: Box) -> int:
        n, p = 0, b.parent
        while p is not None:
            n, p = n + 1, by_id[p].parent
        return n

    def shown(box_id: str) -> str:
        chain, p = [], by_id[box_id].parent
        while p is not None:
            chain.append(p)
            p = by_id[p].parent
        for g in reversed(chain):
            if level(by_id[g]) >= depth:
                return g
        return box_id

    drawn = [b for b in model.boxes if shown(b.id) == b.id and
             not (b.kind == "group" and level(b) < depth)]
    edges = []
    for src, dst, _ in model.edges:
        a, z = shown(src), shown(dst)
        if a != z and (a, z) not in edges:
            edges.append((a, z))
    return drawn, edges


def render(model: Model, depth: int = 0) -> str:
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout
    drawn, pairs = visible(model, depth)
    vertices = {}
    for b in drawn:
        ls = [x for x in lines(b) if x]
        v = Vertex(b)
        v.view = _View(max(len(x) for x in ls) * CHAR + 18, len(ls) * LINE + 10)
        vertices[b.id] = v
    edges = []
    for a, z in pairs:
        e = Edge(vertices[a], vertices[z])
        e.view = _EdgeView()
        edges.append(e)
    graph = Graph(list(vertices.values()), edges)
    x_offset, height = 0.0, 0.0
    for part in graph.C:
        layout = SugiyamaLayout(part)
        layout.xspace, layout.yspace = 18, 26
        layout.init_all()
        layout.draw()
        left = min(v.view.xy[0] - v.view.w / 2 for v in part.sV)
        top = min(v.view.xy[1] - v.view.h / 2 for v in part.sV)
        shift = (x_offset - left + 20, -top + 60)
        for v in part.sV:
            v.view.xy = (v.view.xy[0] + shift[0], v.view.xy[1] + shift[1])
        for e in part.sE:
            if hasattr(e, "view"):
                e.view.points = [(x + shift[0], y + shift[1]) for x, y in e.view.points]
        x_offset = max(v.view.xy[0] + v.view.w / 2 for v in part.sV) + GAP
        height = max(height, max(v.view.xy[1] + v.view.h / 2 for v in part.sV))
    return _svg(model, vertices.values(), edges, x_offset - GAP + 20, height + 20)


def _svg(model: Model, vertices, edges, width: float, height: float) -> str:
    width = max(width, 420)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="11">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9aa3b2"/>'
           "</marker></defs>",
           '<rect width="100%" height="100%" fill="#fbfbfd"/>',
           f'<text x="20" y="24" font-size="14" font-weight="bold">{escape(model.network)}</text>',
           f'<text x="20" y="42" fill="#6b7280">{model.params:,} parameters, {model.macs:,} MACs'
           f" per sample</text>"]
    for e in edges:
        pts = _clip(e.view.points, e.v[0].view, e.v[1].view)
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="#9aa3b2" stroke-width="1.2" '
                   'marker-end="url(#a)"/>')
    for v in vertices:
        out.append(_box(v.data, v.view))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _box(b: Box, view: _View) -> str:
    x, y = view.xy[0] - view.w / 2, view.xy[1] - view.h / 2
    fill = PALETTE.get(b.family, "#ffffff") if b.kind == "node" else \
        "#e6ebf5" if b.kind == "group" else "#f1f3f5"
    rx = 12 if b.kind in ("input", "output") else 5
    parts = [f'<g><title>{escape(b.id)}</title>',
             f'<rect x="{x:.1f}" y="{y:.1f}" width="{view.w:.1f}" height="{view.h:.1f}" '
             f'rx="{rx}" fill="{fill}" stroke="#5b6474" stroke-width="{1.5 if b.kind == "group" else 1}"/>']
    for i, line in enumerate(x for x in lines(b) if x):
        weight = ' font-weight="bold"' if i == 0 else ' fill="#4b5563"'
        parts.append(f'<text x="{x + 9:.1f}" y="{y + 17 + i * LINE:.1f}"{weight}>{escape(line)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _clip(points: list, a: _View, b: _View) -> list:
    """The polyline from box a to box b, starting and ending on the boxes' borders."""
    if len(points) < 2:
        return points
    return [_border(a, points[1])] + points[1:-1] + [_border(b, points[-2])]


def _border(view: _View, toward) -> tuple[float, float]:
    cx, cy = view.xy
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    sx = (view.w / 2) / abs(dx) if dx else float("inf")
    sy = (view.h / 2) / abs(dy) if dy else float("inf")
    s = min(sx, sy, 1.0)
    return cx + dx * s, cy + dy * s
