"""The public face of a checked network: `specc.load(path, network)`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import passes
from .diagnostics import SpeccError
from .elab import Loader, elaborate_network, missing_params
from .elab.builder import DEFAULT_MAX_PARAMS
from .ir import Graph
from .values import NetworkRef


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
        from .report import layer_rows
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


def split_target(target: str) -> tuple[str, str | None]:
    """'specs/resnet.net:resnet50' -> ('specs/resnet.net', 'resnet50')."""
    head, sep, tail = target.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail and not Path(target).exists():
        return head, tail
    return target, None


def network_refs(path: str | Path, loader: Loader | None = None) -> dict[str, NetworkRef]:
    """The networks a file defines itself (imported ones are not listed), in file order."""
    module = (loader or Loader()).load_path(path)
    return {n: module.names[n] for n in module.local if isinstance(module.names[n], NetworkRef)}


def load(path: str | Path, network: str | None = None,
         max_params: int = DEFAULT_MAX_PARAMS) -> Network:
    """Parse, elaborate and check one network of a `.net` file; raises SpeccError."""
    refs = network_refs(path)
    complete = [n for n, r in refs.items() if not missing_params(r)]
    if network is None:
        if len(complete) != 1:
            if not refs:
                raise SpeccError(f"{path} defines no network")
            raise SpeccError(f"{path} defines {len(complete)} complete networks "
                             f"({', '.join(complete) or 'none'}); pick one as FILE:NET")
        network = complete[0]
    if network not in refs:
        raise SpeccError(f"{path} has no network '{network}'",
                         notes=(f"networks: {', '.join(refs) or 'none'}",))
    graph = elaborate_network(refs[network], max_params=max_params)
    return Network(passes.run(graph, passes.CHECK))


def load_all(path: str | Path, max_params: int = DEFAULT_MAX_PARAMS):
    """Every network of a file: (name, Network | None, reason-if-skipped)."""
    out = []
    for name, ref in network_refs(path).items():
        missing = missing_params(ref)
        if missing:
            out.append((name, None, f"generic: needs {', '.join(missing)}"))
        else:
            out.append((name, Network(passes.run(elaborate_network(ref, max_params),
                                                  passes.CHECK)), ""))
    return out
