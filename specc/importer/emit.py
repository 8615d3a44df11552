"""Graph IR -> spec text: one statement per op that owns parameters or is used more than once
(its name is its state-dict path), single-use ops written inside their user, numbers inline,
declared tensors as `param`/`fixed`. `specc fmt` lays the text out afterwards."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Init, Node
from ..ir.sym import Sym
from ..ops import registry
from ..ops.registry import REQUIRED, TENSOR_KINDS, Trait
from . import names

ATOM, POW, UNARY, MUL, ADD = 9, 7, 6, 5, 4
_LEVEL = {"**": POW, "*": MUL, "/": MUL, "+": ADD, "-": ADD}
MAX_INLINE = 60  # characters of an expression written inside its user


class Expr:
    """Spec text with the binding strength of its outermost operator."""

    def __init__(self, text: str, level: int = ATOM):
        self.text, self.level = text, level

    def at(self, level: int, right: bool = False) -> str:
        tight = self.level > level or (self.level == level and not right and level != POW)
        return self.text if tight else f"({self.text})"


def number(value: float, dtype: str) -> str:
    """The shortest literal that is the same number in `dtype`."""
    if dtype in ("i32", "i64") or (float(value).is_integer() and abs(value) < 2 ** 53
                                   and dtype == "bool"):
        return str(int(value))
    if not np.isfinite(value):
        raise ValueError(f"{value} has no literal in a spec")
    text = str(np.float16(value) if dtype == "f16" else np.float32(value)) \
        if dtype in ("f16", "f32", "bf16") else repr(float(value))
    if "e" not in text and "." not in text:
        text += ".0"
    if text.startswith("-"):
        return text
    return text


def literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return number(v, "f64" if abs(v) > 3e38 else "f32") if np.isfinite(v) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, tuple):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    if isinstance(v, Sym):  # a symbolic size: its expression over the inputs' dims
        return str(v)
    raise TypeError(f"no literal for {v!r}")


def call_text(node: Node, args: list[Expr], stage: bool = False,
              texts: dict | None = None) -> Expr:
    """`op(a, b, k=v)`: tensors and required attributes by position, the others by keyword
    and only when they differ from the default; with `stage`, the first tensor is left out
    (a pipe stage). `texts` gives some attributes as expressions (a block's parameters)."""
    op = registry.get(node.op)
    texts = texts or {}
    if op.symbol and len(args) == 2 and not stage:
        level = _LEVEL[op.symbol]
        return Expr(f"{args[0].at(level)} {op.symbol} {args[1].at(level, right=True)}", level)
    parts, keyword, rest = [], False, list(args)
    for a in op.args:
        if a.kind == "tensors":
            text, rest = "[" + ", ".join(x.text for x in rest) + "]", []
        elif a.kind == "tensor":
            if not rest:
                keyword = True
                continue
            text = rest.pop(0).text
        elif a.name in texts:
            keyword = keyword or a.default is not REQUIRED
            text = texts[a.name]
        else:
            value = _compact(a.kind, node.attrs.get(a.name, a.default))
            if a.default is not REQUIRED:
                keyword = True
                if isinstance(value, Init) or _same(value, _compact(a.kind, a.default)):
                    continue
            text = literal(value)
        parts.append(f"{a.name}={text}" if keyword else text)
    if stage:
        parts = parts[1:]
        if not parts:
            return Expr(node.op)
    return Expr(f"{node.op}({', '.join(parts)})")


def _compact(kind: str, value):
    """An `ints` argument the same in every dim is written as one int."""
    if kind == "ints" and isinstance(value, tuple) and value and len(set(value)) == 1:
        return value[0]
    return value


def _same(a, b) -> bool:
    if type(a) is bool or type(b) is bool:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


class Emitter:
    """Statements for a run of nodes; `env` maps IR values to their text in this scope."""

    def __init__(self, graph: Graph, prefix: str = "", env: dict | None = None,
                 uses: dict | None = None):
        self.graph, self.prefix = graph, prefix
        self.env: dict[str, Expr] = dict(env or {})
        self.uses = uses if uses is not None else use_counts(graph)
        self.vars: set[str] = {e.text for e in self.env.values()}
        self.lines: list[str] = []
        self.outputs: dict[str, str] = {}  # outputs a node may state itself (network scope)
        self.done: set[str] = set()

    def nodes(self, nodes: list[Node]) -> None:
        for node in nodes:
            self.node(node)

    def node(self, node: Node) -> None:
        op = registry.get(node.op)
        if Trait.INTERNAL in op.traits:
            self.env[node.outputs[0]] = Expr(_paren_negative(
                number(node.attrs["value"], node.attrs["dtype"])))
            return
        if Trait.DECLARATION in op.traits:
            return self._declare(node)
        self.bind(node, call_text(node, [self.env[i] for i in node.inputs],
                                  texts=self._dim_texts(node, op)))

    def _dim_texts(self, node: Node, op) -> dict:
        """Shape arguments holding a symbolic dim, as the spec says it: `x.shape[k]` of the
        first input that has that dim (expand(origin, [video.shape[0], 1]))."""
        out = {}
        for a in op.args:
            v = node.attrs.get(a.name)
            dims = v if isinstance(v, tuple) else (v,)
            if a.kind not in ("dim", "dims") or not any(isinstance(d, str) for d in dims):
                continue
            texts = [self._dim(d) if isinstance(d, str) else literal(d) for d in dims]
            if None not in texts:
                out[a.name] = f"[{', '.join(texts)}]" if isinstance(v, tuple) else texts[0]
        return out

    def _dim(self, sym: str) -> str | None:
        for name in self.graph.inputs:
            for k, d in enumerate(self.graph.values[name].type.shape):
                if not isinstance(d, int) and str(d) == sym and name in self.env:
                    return f"{self.env[name].text}.shape[{k}]"
        return None

    def bind(self, node: Node, expr: Expr) -> None:
        """The node's value: written inside its one user, or a statement that names it."""
        out = node.outputs[0]
        if not node.params and self.uses.get(out, 0) == 1 and len(expr.text) <= MAX_INLINE:
            self.env[out] = expr
            return
        rel = node.name[len(self.prefix):] if node.name.startswith(self.prefix) else None
        if rel is not None and self.outputs.get(rel) == out and self._next_output(rel):
            self.lines.append(f"output {rel} = {expr.text}")
            self.env[out] = Expr(rel)
            self.done.add(rel)
            return
        if node.params and rel is not None and names.is_path(rel) and "." not in rel \
                and rel not in self.vars and rel not in names.RESERVED:
            var, label = rel, ""
        else:
            var = self.fresh(rel.rpartition(".")[2] if rel else node.name)
            label = f' as "{rel if rel is not None else node.name}"' if node.params else ""
        self.lines.append(f"{var} = {expr.text}{label}")
        self.env[out] = Expr(var)

    def _next_output(self, name: str) -> bool:
        """May `output name = ...` be written here? Only when every output declared before it
        in the model is written already: a spec's outputs are in statement order."""
        for out in self.outputs:
            if out == name:
                return True
            if out not in self.done:
                return False
        return False

    def _declare(self, node: Node) -> None:
        a = node.attrs
        kind = "param" if a["trainable"] else ("fixed" if a["saved"] else "const")
        name = node.name[len(self.prefix):]
        shape = ", ".join(str(d) for d in a["shape"])
        self.lines.append(f"{kind} {name}: {a['dtype']}[{shape}] = zeros")
        self.vars.add(name)
        self.env[node.outputs[0]] = Expr(name)

    def fresh(self, base: str) -> str:
        base = names.identifier(base, "v")
        name, n = base, 0
        while name in self.vars or name in names.RESERVED:
            n += 1
            name = f"{base}_{n}"
        self.vars.add(name)
        return name


def _paren_negative(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def use_counts(graph: Graph) -> dict[str, int]:
    uses: dict[str, int] = {}
    for n in graph.nodes:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    for v in graph.outputs.values():
        uses[v] = uses.get(v, 0) + 1
    return uses


def network_text(graph: Graph, doc: str) -> str:
    """The whole spec of a flat network."""
    lines = ["specc 1", "", f"network {graph.name} {{"]
    if doc:
        lines.append('    """' + doc.replace('"""', "'''") + '"""')
    e = Emitter(graph)
    for name in graph.inputs:
        t = graph.values[name].type
        lines.append(f"    input {name}: {t.dtype}[{', '.join(str(d) for d in t.shape)}]")
        e.env[name] = Expr(name)
        e.vars.add(name)
    lines += assert_lines(graph)
    e.vars.update(graph.outputs)
    e.outputs = dict(graph.outputs)
    e.nodes(graph.nodes)
    lines += ["    " + line for line in e.lines]
    for out, value in graph.outputs.items():
        if out not in e.done:
            lines.append(f"    output {out} = {e.env[value].text}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def assert_lines(graph: Graph) -> list[str]:
    """What the import assumed about the open sizes (a table sliced to a length: T <= 32),
    stated after the inputs as the spec's asserts."""
    return [f"    assert {a.cond}" + (f", {literal(a.message)}" if a.message else "")
            for a in graph.assumptions]
