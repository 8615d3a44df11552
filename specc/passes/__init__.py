"""Graph passes, listed in one place. Each is a small function Graph -> Graph that returns a
new Graph (or its input unchanged) and never changes its input; the runner verifies the IR's
invariants after every pass that changed the graph.

CHECK runs after elaboration (every command); INFERENCE prepares a graph for export.
"""
from __future__ import annotations

from .dce import dead_code, unread_declarations
from .inference import drop_train_only
from .verify import verify

CHECK = [verify, dead_code]  # the elaborator's graph is verified first
INFERENCE = [drop_train_only, unread_declarations]


def run(graph, passes):
    """Each pass in order, and the verifier after each that changed the graph (a pass that
    returns its input changed nothing)."""
    for p in passes:
        out = p(graph)
        if out is not graph:
            graph = verify(out)
    return graph
