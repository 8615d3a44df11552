"""Graph passes, listed in one place. Each is a small function Graph -> Graph.

CHECK runs after elaboration (every command); INFERENCE prepares a graph for export.
"""
from __future__ import annotations

from .dce import dead_code
from .inference import drop_train_only
from .verify import verify

CHECK = [verify, dead_code, verify]
INFERENCE = [drop_train_only, dead_code, verify]


def run(graph, passes):
    for p in passes:
        graph = p(graph)
    return graph
