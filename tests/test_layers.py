"""The package's layers, as docs/architecture.md draws them: every import (at the top of a
module or inside a function) points down the list or stays in its own layer, and no two
modules import each other, directly or around a circle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "specc"

# lowest first; packages on one line are one layer and may import each other (acyclically)
LAYERS = [
    ["core"],                        # source, diagnostics, the file gate, weights files, dtypes
    ["ir"],                          # the Graph IR's types
    ["lang"],                        # front end: words, ast, parse, values
    ["ops", "rules", "recipes"],     # registries: what a spec can name
    ["elab"],                        # AST -> Graph
    ["passes"],                      # Graph -> Graph
    ["compile"],                     # the one compile pipeline, reports, embedded spec files
    ["backends"],                    # torch module, ONNX model, onnxruntime sessions
    ["network"],                     # the Python API (specc.load -> Network)
    ["data"],                        # data-set readers
    ["tasks"],                       # the demonstrations' task environments
    ["train", "runtime", "tools", "deploy"],  # trainer; running models; fmt, lsp, graph page,
                                     # zoo, docs; int8/fp16, Triton, batch prediction
    ["cli"],                         # the command line
]
RANK = {p: i for i, layer in enumerate(LAYERS) for p in layer}


def modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the specc modules it imports anywhere in its text."""
    graph = {}
    for mod, f in mods.items():
        package = mod if f.name == "__init__.py" else mod.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    head = ".".join(base + ([node.module] if node.module else []))
                else:
                    head = node.module or ""
                # `from . import passes` imports the submodule, not the package's __init__
                targets = [f"{head}.{a.name}" if f"{head}.{a.name}" in mods else head
                           for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:
                    t = t.rpartition(".")[0]
                if t in mods and t != mod:
                    found.add(t)
        graph[mod] = found
    return graph


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer():
    tops = {layer(m) for m in modules()} - {"", "__main__"}
    assert sorted(tops - set(RANK)) == []
    assert sorted(set(RANK) - tops) == []


def test_imports_point_down_the_layers():
    mods = modules()
    upward = [f"{m} -> {t}" for m, ts in imports(mods).items() for t in sorted(ts)
              if layer(m) in RANK and layer(t) in RANK and RANK[layer(t)] > RANK[layer(m)]]
    assert upward == []


def test_no_import_cycles():
    graph = imports(modules())
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components, iteratively
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        while work:
            node, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        cycles.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checks_can_fail():
    """The import reader sees relative, absolute and function-level imports."""
    mods = modules()
    graph = imports(mods)
    assert "specc.ops.registry" in graph["specc.ops.conv"]          # from .registry import ...
    assert "specc.backends.torch_module" in graph["specc.network"]   # inside a method
    assert "specc.core.diagnostics" in graph["specc.lang.parse"]     # from ..core.diagnostics
