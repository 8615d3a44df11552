"""One document, checked as `specc check` checks it, with what the editor asks about it kept.

Elaboration runs with an observer that records, for every expression evaluated, its value (a
tensor with its symbolic shape, or a compile-time number, list, ...) and, for op and block calls,
the graph nodes the call created (their parameters and MACs). Hover reads these records; the
errors become diagnostics. Nothing here imports pygls, so it is tested without a client."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...compile.pipeline import compile_network
from ...core.defaults import MAX_PARAMS
from ...core.diagnostics import SpeccError
from ...elab import Loader, missing_params
from ...lang import ast as A
from ...ir.graph import Graph, Node
from ...lang.parse import MAX_SPEC_BYTES, parse_module
from ...core.source import SourceFile, Span
from ...lang.values import NetworkRef

MAX_SEEN = 500  # evaluations kept per expression (all of ResNet-152's 50 units, 5 presets)


@dataclass
class Seen:
    """One evaluation of one expression."""

    network: str
    value: object
    graph: Graph
    nodes: list[Node] = field(default_factory=list)  # created by this call (calls only)


@dataclass
class Analysis:
    path: str
    source: SourceFile
    module: A.Module | None = None
    scope: object = None  # the ModuleScope, when the file loads
    errors: list[SpeccError] = field(default_factory=list)
    seen: dict[tuple, list[Seen]] = field(default_factory=dict)
    graphs: dict[str, Graph] = field(default_factory=dict)

    def records_at(self, line: int, col: int) -> tuple[tuple | None, list[Seen]]:
        """The innermost evaluated expression of this file at (line, col), 1-based."""
        best = None
        for key in self.seen:
            _, l1, c1, l2, c2 = key
            if (l1, c1) <= (line, col) < (l2, c2):
                if best is None or _size(key) < _size(best):
                    best = key
        return best, self.seen.get(best, [])


def _size(key: tuple) -> tuple[int, int]:
    _, l1, c1, l2, c2 = key
    return (l2 - l1, c2 - c1 if l1 == l2 else 10 ** 6 + c2 - c1)


def oversized(source: SourceFile) -> bool:
    """Too large to parse (its diagnostic says so): the editor's questions get no answers."""
    return len(source.text) > MAX_SPEC_BYTES or \
        len(source.text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES


def analyse(text: str, path: str, max_params: int = MAX_PARAMS) -> Analysis:
    """Parse, load (imports resolve beside `path`) and compile every complete network, as
    `specc check` does (the same pipeline), the text parsed once."""
    source = SourceFile(path, text)
    result = Analysis(path, source)
    try:
        result.module = parse_module(source)
    except SpeccError as e:
        result.errors = list(e.errors)
        return result
    loader = Loader()
    try:
        scope = loader.load_text(text, path, parsed=result.module)
    except SpeccError as e:
        result.errors = list(e.errors)
        return result
    result.scope = scope
    errors: list[SpeccError] = []
    for name in scope.local:
        ref = scope.names[name]
        if isinstance(ref, NetworkRef) and not missing_params(ref):
            _elaborate(result, ref, max_params, errors)
    result.errors = _unique(errors)
    return result


def _elaborate(result: Analysis, ref: NetworkRef, max_params: int, errors: list) -> None:
    observer = _Observer(result, ref.display)
    try:
        result.graphs[ref.display] = compile_network(ref, max_params, observer=observer)
    except SpeccError as e:
        errors.extend(e.errors)


class _Observer:
    """Records evaluations of expressions of the analysed file (see the module docstring)."""

    def __init__(self, result: Analysis, network: str):
        self.result = result
        self.network = network
        self.count: dict[object, int] = {}  # frame -> graph nodes at its previous evaluation

    def __call__(self, ev, e, frame, value) -> None:
        graph = ev.builder.graph
        now = len(graph.nodes)
        before = self.count.get(frame, now)
        self.count[frame] = now
        span = e.span
        if span.source.path != self.result.path:
            return
        key = (span.source.path, span.line, span.col, span.end_line, span.end_col)
        seen = self.result.seen.setdefault(key, [])
        if len(seen) < MAX_SEEN:
            made = list(graph.nodes[before:now]) if isinstance(e, (A.ExprCall, A.ExprName)) else []
            seen.append(Seen(self.network, value, graph, made))


def _unique(errors: list[SpeccError]) -> list[SpeccError]:
    out, keys = [], set()
    for e in errors:
        key = (e.message, _chain_key(e.span))
        if key not in keys:
            keys.add(key)
            out.append(e)
    return out


def _chain_key(span: Span | None):
    out = []
    while span is not None:
        out.append((span.source.path, span.line, span.col, span.end_line, span.end_col))
        span = span.parent
    return tuple(out)


def local_span(span: Span | None, path: str) -> Span | None:
    """The first span of the expansion chain that lies in the file at `path`."""
    while span is not None:
        if span.source.path == path:
            return span
        span = span.parent
    return None


def same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
