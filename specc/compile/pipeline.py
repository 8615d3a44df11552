"""The one compile pipeline: a `.net` file -> its modules -> one network's elaboration -> the
check passes -> a Graph. `specc.load`, the language server and the op reference all compile
through `compile_network`, with the same budgets and the same passes."""
from __future__ import annotations

import gc
from pathlib import Path

from .. import passes
from ..core.defaults import MAX_ACTIVATIONS, MAX_PARAMS
from ..core.diagnostics import SpeccError
from ..core.suggest import did_you_mean
from ..elab import Loader, elaborate_network, missing_params
from ..elab.network import evaluate_override
from ..ir.graph import Graph
from ..lang import ast as A
from ..lang.values import NetworkRef
from .adversary import check_pairing
from .embed import module_files
from .sizes import check_stated, free_symbols


class UnknownOverride(SpeccError):
    """`--set NAME=VALUE` names no parameter of the network (a usage error)."""


def compile_network(ref: NetworkRef, max_params: int = MAX_PARAMS,
                    max_activations: int = MAX_ACTIVATIONS, meta: dict | None = None,
                    observer=None, adversary: bool = True) -> Graph:
    """Elaborate and run the check passes with the cyclic garbage collector paused: compiling
    allocates many objects that all live until the end, and full collections over a growing
    heap made deep networks (8,000 layers) compile superlinearly. `observer` hears every
    expression evaluated (the language server's hover records). A generator whose recipe
    names a discriminator is checked against it (`adversary=False`: not, as when that
    discriminator is compiled for the check)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        graph = elaborate_network(ref, max_params=max_params, max_activations=max_activations,
                                  observer=observer)
        graph.meta.update(meta or {})
        graph = passes.run(graph, passes.CHECK)
        check_stated(graph)
        if adversary:
            check_pairing(ref, graph, lambda r: compile_network(
                r, max_params, max_activations, adversary=False))
        return graph
    finally:
        if enabled:
            gc.enable()


def split_target(target: str) -> tuple[str, str | None]:
    """'specs/resnet.net:resnet50' -> ('specs/resnet.net', 'resnet50')."""
    head, sep, tail = target.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail and not Path(target).exists():
        return head, tail
    return target, None


def local_networks(module) -> dict[str, NetworkRef]:
    """The networks a module defines itself (imported ones are not listed), in file order."""
    return {n: module.names[n] for n in module.local if isinstance(module.names[n], NetworkRef)}


def load_graph(path: str | Path, network: str | None = None, max_params: int = MAX_PARAMS,
               overrides: dict[str, str] | None = None,
               max_activations: int = MAX_ACTIVATIONS) -> Graph:
    """Parse, elaborate and check one network of a `.net` file; raises SpeccError.
    `overrides` maps network parameters to spec expressions (`--set hidden=256`)."""
    module = Loader().load_path(path)
    ref = select(module, path, network, overrides)
    sizes = size_overrides(ref, overrides)
    graph = compile_network(ref, max_params, max_activations,
                            meta={"entry": str(path), "overrides": dict(overrides or {}),
                                  "sources": _sources(module),
                                  "spec_files": module_files(module), "sizes": sizes})
    check_sizes(ref, graph, sizes)
    return graph


def size_overrides(ref: NetworkRef, overrides: dict[str, str] | None) -> dict[str, int]:
    """`--set H=224` where H is no parameter of the network: the size the check, the export's
    verification and training use for that symbolic dim (checked against the inputs once
    the network is built)."""
    params = {p.name for p in ref.defn.params}
    out = {}
    for name, text in (overrides or {}).items():
        if name in params:
            continue
        value = evaluate_override(ref.module, name, text)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UnknownOverride(f"--set {name}: the size of a symbolic dim is a positive "
                                  f"int, got {text}")
        out[name] = value
    return out


def check_sizes(ref: NetworkRef, graph: Graph, sizes: dict[str, int]) -> None:
    """A size given for the batch (N) or a symbol no input has is refused."""
    free = free_symbols(graph)
    for name in sizes:
        if name not in free:
            raise UnknownOverride(f"--set {name}: '{name}' is the batch dim of network "
                                  f"'{ref.display}'; its size is given by the data, not fixed",
                                  notes=(f"its symbolic sizes: {', '.join(free) or 'none'}",))


def load_all_graphs(path: str | Path, max_params: int = MAX_PARAMS,
                    max_activations: int = MAX_ACTIVATIONS) -> list:
    """Every network of a file: (name, Graph | None, reason-if-skipped)."""
    out = []
    module = Loader().load_path(path)
    for name, ref in local_networks(module).items():
        missing = missing_params(ref)
        if missing:
            out.append((name, None, f"generic: needs {', '.join(missing)}"))
        else:
            out.append((name, compile_network(ref, max_params, max_activations,
                                              meta={"sources": _sources(module)}), ""))
    return out


def select(module, path, network: str | None, overrides: dict[str, str] | None) -> NetworkRef:
    """The network `network` of a loaded module (the only complete one when None), with the
    `--set` overrides bound."""
    refs = local_networks(module)
    if overrides:
        every = refs
        refs = {n: r for n, r in refs.items() if _takes(r, overrides)}
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
        raise SpeccError(f"{path} has no network '{network}'{did_you_mean(network, refs)}",
                         notes=(f"networks: {', '.join(refs) or 'none'}",))
    return refs[network]


def _takes(ref: NetworkRef, overrides: dict[str, str]) -> bool:
    """Does the network take every `--set`: its parameters, and the symbolic sizes its
    `input` statements name (N, H, W)."""
    params = {p.name for p in ref.defn.params}
    return all(n in params or n in input_symbols(ref) for n in overrides)


def input_symbols(ref: NetworkRef, batch: bool = True) -> set[str]:
    """The names in the network's input types that are no parameter or constant of its
    file: its symbolic sizes, as written (before they are built); the leading (batch) dims
    too unless `batch` is false."""
    taken = {p.name for p in ref.defn.params} | set(ref.module.names)
    return {d.name for s in ref.defn.body if isinstance(s, A.StmtInput)
            and isinstance(s.type, A.TypeTensor) for d in s.type.dims[0 if batch else 1:]
            if isinstance(d, A.ExprName) and d.name not in taken}


def bind_overrides(ref: NetworkRef, overrides: dict[str, str]) -> NetworkRef:
    """The network with some parameters bound to values given as spec text; each is
    evaluated like a preset's argument, in the scope of the file that defines the network.
    Names that are no parameter are sizes of symbolic dims (size_overrides)."""
    bound = dict(ref.bound)
    params = {p.name for p in ref.defn.params}
    for name, text in overrides.items():
        if name not in params:
            continue
        bound[name] = evaluate_override(ref.module, name, text)
    return NetworkRef(ref.defn, ref.module, tuple(bound.items()), ref.name)


def _unknown_override(ref: NetworkRef, overrides: dict[str, str]) -> UnknownOverride:
    names = [p.name for p in ref.defn.params]
    sizes = sorted(input_symbols(ref, batch=False))
    bad = next(n for n in overrides if n not in names and n not in input_symbols(ref))
    notes = (f"its parameters: {', '.join(names) or 'none'}",)
    if sizes:
        notes += (f"its symbolic sizes (--set H=224): {', '.join(sizes)}",)
    return UnknownOverride(f"network '{ref.display}' has no parameter '{bad}'"
                           f"{did_you_mean(bad, names + sizes)}", notes=notes)


def _sources(module) -> dict[str, str]:
    """Every source file a network was loaded from, path -> text (the named file first, then
    its imports): outputs must not overwrite them, runs keep a copy of them."""
    return {s.path: s.text for s in module.sources()}
