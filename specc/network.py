"""The public face of a checked network: `specc.load(path, network)`."""
from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from . import passes
from .diagnostics import SpeccError
from .elab import Loader, elaborate_network, missing_params
from .elab.builder import DEFAULT_MAX_ACTIVATIONS, DEFAULT_MAX_PARAMS
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
    return _refs((loader or Loader()).load_path(path))


def _refs(module) -> dict[str, NetworkRef]:
    return {n: module.names[n] for n in module.local if isinstance(module.names[n], NetworkRef)}


def check(ref: NetworkRef, max_params: int = DEFAULT_MAX_PARAMS,
          meta: dict | None = None,
          max_activations: int = DEFAULT_MAX_ACTIVATIONS) -> Network:
    """Elaborate and run the check passes with the cyclic garbage collector paused: compiling
    allocates many objects that all live until the end, and full collections over a growing
    heap made deep networks (8,000 layers) compile superlinearly."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        graph = elaborate_network(ref, max_params=max_params, max_activations=max_activations)
        graph.meta.update(meta or {})
        return Network(passes.run(graph, passes.CHECK))
    finally:
        if enabled:
            gc.enable()


class UnknownOverride(SpeccError):
    """`--set NAME=VALUE` names no parameter of the network (a usage error)."""


def _sources(module) -> dict[str, str]:
    """Every source file a network was loaded from, path -> text (the named file first, then
    its imports): outputs must not overwrite them, runs keep a copy of them."""
    return {s.path: s.text for s in module.sources()}


def load(path: str | Path, network: str | None = None,
         max_params: int = DEFAULT_MAX_PARAMS, overrides: dict[str, str] | None = None,
         max_activations: int = DEFAULT_MAX_ACTIVATIONS) -> Network:
    """Parse, elaborate and check one network of a `.net` file; raises SpeccError.
    `overrides` maps network parameters to spec expressions (`--set hidden=256`)."""
    module = Loader().load_path(path)
    refs = _refs(module)
    if overrides:
        every = refs
        refs = {n: r for n, r in refs.items() if set(overrides) <= {p.name for p in r.defn.params}}
        named = network if network is not None else next(iter(every)) if len(every) == 1 else None
        if named in every and named not in refs:
            raise _unknown_override(every[named], overrides)
        refs = {n: bind_overrides(r, overrides) for n, r in refs.items()}
    complete = [n for n, r in refs.items() if not missing_params(r)]
    if network is None:
        if len(complete) != 1:
            if overrides and not refs:
                raise UnknownOverride(f"no network of {path} has the parameters "
                                      f"{', '.join(sorted(overrides))} that --set names")
            if not refs:
                raise SpeccError(f"{path} defines no network")
            raise SpeccError(f"{path} defines {len(complete)} complete networks "
                             f"({', '.join(complete) or 'none'}); pick one as FILE:NET")
        network = complete[0]
    if network not in refs:
        from .suggest import did_you_mean
        raise SpeccError(f"{path} has no network '{network}'{did_you_mean(network, refs)}",
                         notes=(f"networks: {', '.join(refs) or 'none'}",))
    from .embed import module_files  # what an export embeds, without reading the files again
    return check(refs[network], max_params, max_activations=max_activations,
                 meta={"entry": str(path), "overrides": dict(overrides or {}),
                       "sources": _sources(module), "spec_files": module_files(module)})


def bind_overrides(ref: NetworkRef, overrides: dict[str, str]) -> NetworkRef:
    """The network with some parameters bound to values given as spec text; each is
    evaluated like a preset's argument, in the scope of the file that defines the network."""
    from .elab.network import evaluate_override
    bound = dict(ref.bound)
    for name, text in overrides.items():
        bound[name] = evaluate_override(ref.module, name, text)
    return NetworkRef(ref.defn, ref.module, tuple(bound.items()), ref.name)


def _unknown_override(ref: NetworkRef, overrides: dict[str, str]) -> UnknownOverride:
    from .suggest import did_you_mean
    names = [p.name for p in ref.defn.params]
    bad = next(n for n in overrides if n not in names)
    return UnknownOverride(f"network '{ref.display}' has no parameter '{bad}'"
                           f"{did_you_mean(bad, names)}",
                           notes=(f"its parameters: {', '.join(names) or 'none'}",))


def load_all(path: str | Path, max_params: int = DEFAULT_MAX_PARAMS,
             max_activations: int = DEFAULT_MAX_ACTIVATIONS):
    """Every network of a file: (name, Network | None, reason-if-skipped)."""
    out = []
    module = Loader().load_path(path)
    for name, ref in _refs(module).items():
        missing = missing_params(ref)
        if missing:
            out.append((name, None, f"generic: needs {', '.join(missing)}"))
        else:
            out.append((name, check(ref, max_params, max_activations=max_activations,
                                    meta={"sources": _sources(module)}), ""))
    return out
