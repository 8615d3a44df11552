"""Export -> import -> export of a network, in memory: the check that the import is the export
read backwards (the same node count, the same outputs). Used by tools/roundtrip.py over the
bundled zoo and by the tests."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RoundTrip:
    nodes: tuple[int, int]  # ONNX nodes of the first export and of the second
    rel: float  # largest relative difference of their outputs in onnxruntime
    text: str  # the imported spec
    net: object  # the imported Network

    @property
    def ok(self) -> bool:
        return self.nodes[0] == self.nodes[1] and self.rel <= 1e-6


def model_of(net, weights: dict):
    """The ONNX model `specc export` writes (with the asserts it carries), in memory."""
    from .. import passes
    from ..backends.onnx_build import build_model
    meta = {"specc.assumes": net.graph.assumes()} if net.graph.assumptions else None
    return build_model(passes.run(net.graph, passes.INFERENCE), weights, metadata=meta)


def seeded_weights(net, seed: int = 0) -> dict:
    from ..backends.torch_module import init_weights
    return {k: v.numpy() for k, v in init_weights(net.graph, seed).items()}


def roundtrip(net, seed: int = 0, batch: int = 2) -> RoundTrip:
    """Export `net` with seeded weights, import it, export the import, run both."""
    from ..backends.onnx_compare import sample_inputs
    from ..backends.onnx_numbers import max_rel_error
    from ..backends.ort import open_session
    from . import import_graph, load_imported
    from .read import from_proto
    first = model_of(net, seeded_weights(net, seed))
    imported = import_graph(from_proto(first), net.name)
    again, weights = load_imported(imported)
    second = model_of(again, weights)
    feeds = sample_inputs(net.graph, batch, seed=seed + 1)
    outs = []
    for model in (first, second):
        sess, _, _ = open_session(model.SerializeToString(), "cpu")
        names = [i.name for i in sess.get_inputs()]
        outs.append(sess.run(None, dict(zip(names, [feeds[n] for n in net.graph.inputs]))))
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(*outs))
    return RoundTrip((len(first.graph.node), len(second.graph.node)),
                     0.0 if same else max_rel_error(outs[0], outs[1]), imported.text, again)
