"""Builds the Graph IR during elaboration: unique paths, shape rules, parameters, budgets."""
from __future__ import annotations

from ..core.defaults import MAX_ACTIVATIONS, MAX_PARAMS
from ..core.diagnostics import FatalError, SpeccError
from ..ir.graph import DTYPE_BYTES, Graph, Node, Param, TensorType, Value
from ..ops import registry
from ..ops.registry import ShapeError
from ..core.source import Span, printable
from ..lang.values import Tensor

MAX_NODES = 200_000
MAX_LOOP_STEPS = 100_000
MAX_DEPTH = 64



def label_problem(label: str) -> str:
    """What keeps `label` from being a module path, or ""."""
    for segment in label.split("."):
        if not segment:
            return "a segment is empty ('.' at either end, or '..')"
        for c in segment:
            if c in "\"\\" or not c.isprintable():
                what = "a control character " if not c.isprintable() else ""
                return f"{what}{_escaped(c)} cannot be part of a module name"
    return ""


def _escaped(c: str) -> str:
    return "'\\n'" if c == "\n" else printable(repr(c)) if c.isprintable() else \
        "'" + printable(c) + "'"


class GraphBuilder:
    def __init__(self, name: str, max_params: int = MAX_PARAMS,
                 max_activations: int = MAX_ACTIVATIONS):
        self.graph = Graph(name)
        self.max_activations = max_activations
        self.total_activations = 0
        self.used: set[str] = set()
        self.counters: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}  # base path -> the last _n tried: claims stay O(1)
        self.max_params = max_params
        self.total_params = 0
        self.loop_steps = 0
        self.known: dict[str, tuple] = {}  # declared tensor -> the numbers it starts with

    # ------------------------------------------------------------------ naming
    def claim(self, path: str) -> str:
        """Reserve a node or scope path, adding _1, _2 ... when it is taken."""
        base, n = path, self.suffixes.get(path, 0)
        if n:
            path = f"{base}_{n}"
        while path in self.used or path in self.graph.values:
            n += 1
            path = f"{base}_{n}"
        self.suffixes[base] = n
        self.used.add(path)
        return path

    def next_stage(self, path: str) -> str:
        """The next numbered stage of the chain bound to `path` (nn.Sequential numbering).
        A chain labelled `as ""` numbers its stages in the enclosing scope itself: inside a
        block called as `features.0`, they are `features.0.0`, `features.0.1`, ..."""
        n = self.counters.get(path, 0)
        self.counters[path] = n + 1
        return f"{path}{n}" if path == "" or path.endswith(".") else f"{path}.{n}"

    @staticmethod
    def check_label(label: str, span: Span) -> None:
        """A label is a module path: segments joined by '.', each holding any printable
        character PyTorch accepts in a module name (RegNet's `block1-0`), except the quote
        and the backslash, which torch.fx's generated forward cannot name."""
        problem = label_problem(label)
        if problem:
            shown = "".join(_escaped(c)[1:-1] if not c.isprintable() else c for c in label)
            raise SpeccError(f"'{shown}' is not a valid name: {problem}", span,
                             ("a name is segments joined by '.', each of printable "
                              "characters other than '.', '\"' and '\\'",))

    # ------------------------------------------------------------------- graph
    def add_input(self, name: str, type_: TensorType, span: Span) -> Tensor:
        if name in self.graph.values:
            raise SpeccError(f"input '{name}' is declared twice", span)
        self._count_activations(f"input '{name}'", type_, span)
        self.used.add(name)
        self.graph.values[name] = Value(name, type_)
        self.graph.inputs.append(name)
        self.graph.input_spans[name] = span
        return Tensor(name, type_)

    def _count_activations(self, what: str, t: TensorType, span: Span) -> None:
        """The activation budget, like the parameter budget: checked as the graph grows, long
        before anything is allocated (symbolic dims count as 1: this is per sample)."""
        n = 1
        for d in t.shape:
            n *= d if isinstance(d, int) else 1
        self.total_activations += n
        if self.total_activations > self.max_activations:
            size = n * DTYPE_BYTES.get(t.dtype, 4)
            raise FatalError(f"the network's activations would take more than "
                             f"{self.max_activations:,} values per sample (reached "
                             f"{self.total_activations:,} at {what} {t}, which alone holds "
                             f"{n:,} values, {size / 1e9:.1f} GB a sample)", span,
                             ("raise the budget with --max-activations if this is intended",))

    def add_op(self, op_name: str, inputs: list[Tensor], attrs: dict, path: str,
               span: Span) -> Tensor:
        op = registry.get(op_name)
        types = [t.type for t in inputs]
        try:
            outs = op.infer(attrs, types)
            specs = op.params(attrs, types)
            if op.check_known is not None:
                op.check_known(attrs, types, [self.known.get(t.name) for t in inputs])
        except ShapeError as e:
            raise SpeccError(str(e), span, e.notes + _operand_notes(op_name, inputs)) from None
        if len(self.graph.nodes) >= MAX_NODES:
            raise FatalError(f"the network has more than {MAX_NODES:,} nodes", span)
        if not op.traits & {"internal", "declaration"}:  # those are counted as parameters
            self._count_activations(f"'{path}'", outs[0], span)
        path = self.claim(path)
        params = {}
        for role, spec in specs.items():
            pname = f"{path}.{role}" if role else path
            _check_values(spec, pname, span)
            self._add_param(Param(pname, spec.shape, spec.init, spec.dtype, spec.trainable,
                                  spec.state, spec.fan_in, spec.fan_out, span, spec.saved), span)
            params[role or "value"] = pname
        if "declaration" in op.traits:
            self._remember(path, specs)
        node = Node(path, op_name, [t.name for t in inputs], [path], dict(attrs), params, span)
        node.macs = op.macs(attrs, types, outs)
        self.graph.nodes.append(node)
        self.graph.values[path] = Value(path, outs[0], path)
        return Tensor(path, outs[0])

    def _remember(self, path: str, specs: dict) -> None:
        """The numbers a declared tensor starts with, when the spec gives them."""
        init = next(iter(specs.values())).init
        if init.kind == "values":
            self.known[path] = init.args
        elif init.kind in ("zeros", "ones", "constant"):
            fill = {"zeros": 0.0, "ones": 1.0}
            self.known[path] = (fill[init.kind] if init.kind in fill else init.args[0],)

    def _add_param(self, param: Param, span: Span) -> None:
        self.total_params += param.numel
        if self.total_params > self.max_params:
            raise FatalError(f"the network would hold more than {self.max_params:,} parameters "
                             f"(reached {self.total_params:,} at '{param.name}' {list(param.shape)})",
                             span, ("raise the budget with --max-params if this is intended",))
        self.graph.params[param.name] = param

    def count_loop_step(self, span: Span) -> None:
        self.loop_steps += 1
        if self.loop_steps > MAX_LOOP_STEPS:
            raise FatalError(f"loops ran more than {MAX_LOOP_STEPS:,} iterations in total", span)


def _check_values(spec, name: str, span: Span) -> None:
    """An initialiser given as numbers must hold exactly as many as the parameter."""
    if spec.init is not None and spec.init.kind == "values":
        need = 1
        for d in spec.shape:
            need *= d
        if len(spec.init.args) != need:
            raise SpeccError(f"the initialiser holds {len(spec.init.args)} numbers but "
                             f"'{name}' {list(spec.shape)} needs {need}", span)


def _operand_notes(op: str, inputs: list[Tensor]) -> tuple[str, ...]:
    if not inputs:
        return ()
    shown = ", ".join(f"'{t.name}' {t.type}" for t in inputs[:4])
    return (f"{op} was given {shown}",)
