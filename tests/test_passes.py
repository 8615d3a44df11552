"""The pass contract: each pass is Graph -> Graph and never changes its input; the runner
verifies the IR after every pass that changed it."""
from __future__ import annotations

import copy

import pytest

import specc
from specc import passes
from specc.passes.verify import IRError

SPEC = """specc 1
network n() {
    input x: f32[N, 4]
    h = linear(x, 8)
    unused = linear(x, 3)
    d = dropout(relu(h), 0.5)
    output y = linear(d, 2)
    train output aux = linear(d, 2)
    input t: f32[N, 5, 4]
    output first = slice(layernorm(relu(linear(t, 6))), 1, 0, 2)
}
"""


def _snapshot(graph):
    return ([(n.name, n.op, list(n.inputs), list(n.outputs)) for n in graph.nodes],
            sorted(graph.values), sorted(graph.params), dict(graph.outputs))


@pytest.fixture()
def graph(tmp_path):
    path = tmp_path / "n.net"
    path.write_text(SPEC)
    return specc.load(path).graph


@pytest.mark.parametrize("name", ["CHECK", "INFERENCE"])
def test_no_pass_changes_its_input(graph, name):
    for p in getattr(passes, name):
        before = _snapshot(graph)
        out = p(graph)
        assert _snapshot(graph) == before, p.__name__
        graph = out


def test_the_passes_do_their_work(graph):
    assert "unused" not in graph.values  # dead code went at check time
    inference = passes.run(graph, passes.INFERENCE)
    assert "aux" not in inference.outputs and "aux" in graph.outputs
    assert not any(n.op == "dropout" for n in inference.nodes)
    assert any(n.op == "dropout" for n in graph.nodes)
    rows = {n.op: inference.values[n.outputs[0]].type.shape for n in inference.nodes
            if n.outputs[0].endswith("/rows")}  # the slice moved up to the input t
    assert rows == {"slice": ("N", 2, 4), "linear": ("N", 2, 6), "relu": ("N", 2, 6),
                    "layernorm": ("N", 2, 6)}


def test_the_runner_verifies_after_a_pass_that_changes_the_graph(graph):
    def breaks(g):
        g = copy.copy(g)
        g.outputs = {"y": "no_such_value"}
        return g

    def keeps(g):
        return g
    assert passes.run(graph, [keeps]) is graph
    with pytest.raises(IRError):
        passes.run(graph, [breaks])
