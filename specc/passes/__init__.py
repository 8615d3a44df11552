"""Graph passes, listed in one place. Each is a small function Graph -> Graph that returns a
new Graph (or its input unchanged) and never changes its input; the runner verifies the IR's
invariants after every pass that changed the graph.

CHECK runs after elaboration (every command); INFERENCE prepares a graph for export: training's
ops out, what only they read out, then only the rows a slice keeps computed (rows.py).
"""
from __future__ import annotations

from .dce import dead_code, unread_declarations
from .inference import drop_train_only
from .rows import narrow_rows
from .verify import verify

CHECK = [verify, dead_code]  # the elaborator's graph is verified first
INFERENCE = [drop_train_only, unread_declarations, narrow_rows]


def run(graph, passes):
    """Each pass in order, and the verifier after each that changed the graph (a pass that
    returns its input changed nothing). Shape rules asked by a pass see the graph's
    assumptions on its symbolic sizes (`assert T <= 64`), as they did while elaborating."""
    with graph.assumed():
        for p in passes:
            out = p(graph)
            if out is not graph:
                graph = verify(out)
    return graph
