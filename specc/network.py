"""The Python API: `specc.load(path, network)` -> a checked Network, and what it lowers to."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .compile.pipeline import load_all_graphs, load_graph
from .core.defaults import MAX_ACTIVATIONS, MAX_PARAMS
from .ir.graph import Graph


@dataclass
class Network:
    """A checked network: its Graph IR and what a person wants to know about it."""

    graph: Graph

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def params(self) -> int:
        """Trainable parameters (running statistics and fixed tensors are not counted)."""
        return self.graph.trainable_params

    @property
    def macs(self) -> int:
        """Multiply-accumulates of conv, linear and matmul for one sample."""
        return self.graph.macs

    @property
    def recipe(self) -> dict:
        return self.graph.recipe

    def inputs(self) -> list[dict]:
        return [_io(name, self.graph.values[name].type) for name in self.graph.inputs]

    def outputs(self) -> list[dict]:
        return [_io(out, self.graph.values[v].type) for out, v in self.graph.outputs.items()]

    def layers(self) -> list[dict]:
        from .compile.report import layer_rows
        return layer_rows(self.graph)

    def dump(self) -> str:
        return self.graph.dump()

    def to_torch(self, seed: int | None = None):
        from .backends.torch_module import build_module
        return build_module(self.graph, seed=seed)

    def to_onnx(self, path, weights=None, **options):
        from .backends.onnx_export import export
        return export(self, path, weights=weights, **options)


def _io(name, t) -> dict:
    return {"name": name, "shape": [d for d in t.shape], "dtype": t.dtype}


def load(path: str | Path, network: str | None = None, max_params: int = MAX_PARAMS,
         overrides: dict[str, str] | None = None,
         max_activations: int = MAX_ACTIVATIONS) -> Network:
    """Parse, elaborate and check one network of a `.net` file; raises SpeccError.
    `overrides` maps network parameters to spec expressions (`--set hidden=256`)."""
    return Network(load_graph(path, network, max_params, overrides, max_activations))


def load_all(path: str | Path, max_params: int = MAX_PARAMS,
             max_activations: int = MAX_ACTIVATIONS):
    """Every network of a file: (name, Network | None, reason-if-skipped)."""
    return [(name, Network(g) if g is not None else None, why)
            for name, g, why in load_all_graphs(path, max_params, max_activations)]
