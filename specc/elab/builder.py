"""Builds the Graph IR during elaboration: unique paths, shape rules, parameters, budgets."""
from __future__ import annotations

from ..core.defaults import MAX_ACTIVATIONS, MAX_PARAMS
from ..core.diagnostics import FatalError, SpeccError
from dataclasses import replace

from ..core.dtypes import BY_NAME as DTYPES
from ..ir.cond import learn
from ..ir.graph import Assumption, Graph, Node, Param, ParamRef, TensorType, Value
from ..ir.sym import Facts, Sym, Undecided
from ..ops import registry
from ..ops.registry import ShapeError, Trait
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
        # what shape rules may assume about symbolic sizes; the elaborator makes it the
        # active context (ir/sym.py assuming) while it builds this graph
        self.facts = Facts()
        # declared parameter (its value's name) -> the ops that use it as their own:
        # (op path, role, span), for the names it takes and for errors that name every use
        self.tied: dict[str, list[tuple[str, str, Span]]] = {}
        # declared parameters of a block: named by the block's path, whoever uses them
        self.owned: set[str] = set()
        self.taken_scopes: set[str] = set()  # block calls whose name an op took (take_scope)

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

    def take_scope(self, own: str, op: str, span: Span) -> str:
        """An op labelled `as ""` in a block called as `own` is named `own` itself (a block
        that wraps one configured op: `bn1 = frozen_batchnorm(x)` owns `bn1.weight`)."""
        if own in self.graph.values or own in self.taken_scopes:
            raise SpeccError(f"op '{op}' cannot take the name '{own}' of the block call it is "
                             f"in: another op already has it", span,
                             ("only one op of a block may be labelled as \"\"",))
        self.taken_scopes.add(own)
        self.used.discard(own)  # the block's scope held it; the op takes it over
        return own

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
        lead = type_.shape[0] if type_.shape else None
        if isinstance(lead, Sym) and lead.is_name():
            self.facts.batch.add(str(lead))
        self.graph.input_spans[name] = span
        return Tensor(name, type_)

    def assume(self, cond, message: str, span: Span) -> None:
        """A condition on symbolic sizes the spec asserts: shape rules may rely on it from
        here on, and every run checks it."""
        if any(str(a.cond) == str(cond) for a in self.graph.assumptions):
            return
        self.graph.assumptions.append(Assumption(cond, message, span))
        learn(self.facts, cond)

    def _take_needs(self, what: str, span: Span) -> None:
        """Sizes a shape rule needs but cannot decide (a window that must fit) become
        assumptions of the network, named after the op that needs them."""
        for cond, why in self.facts.needs:
            self.assume(cond, f"{what}: {why} needs {cond}", span)
        self.facts.needs.clear()

    def _count_activations(self, what: str, t: TensorType, span: Span) -> None:
        """The activation budget, like the parameter budget: checked as the graph grows, long
        before anything is allocated (symbolic dims count as 1: this is per sample)."""
        n = 1
        for d in t.shape:
            n *= d if isinstance(d, int) else 1  # a symbolic size counts as 1
        self.total_activations += n
        if self.total_activations > self.max_activations:
            size = n * DTYPES[t.dtype].bytes
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
            self.facts.needs.clear()
            raise SpeccError(str(e), span, e.notes + _operand_notes(op_name, inputs)) from None
        except Undecided as e:
            self.facts.needs.clear()
            raise SpeccError(f"{op_name}: {e}", span,
                             ("state what the network assumes about its sizes with an assert "
                              "after the input (assert H % 32 == 0, assert T <= 64)",)
                             + _operand_notes(op_name, inputs)) from None
        self._take_needs(f"'{path}'", span)
        if len(self.graph.nodes) >= MAX_NODES:
            raise FatalError(f"the network has more than {MAX_NODES:,} nodes", span)
        if not op.traits & {Trait.INTERNAL, Trait.DECLARATION}:  # those are counted as parameters
            self._count_activations(f"'{path}'", outs[0], span)
        path = self.claim(path)
        params = {}
        for arg, role in op.ties.items():
            ref = attrs.get(arg)
            if ref is not None:
                params[role] = self._tie(ref, specs.pop(role, None), path, role, op_name, span)
        for role, spec in specs.items():
            pname = f"{path}.{role}" if role else path
            _check_values(spec, pname, span)
            self._add_param(Param(pname, spec.shape, spec.init, spec.dtype, spec.trainable,
                                  spec.state, spec.fan_in, spec.fan_out, span, spec.saved), span)
            params[role or "value"] = pname
        if Trait.DECLARATION in op.traits:
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

    def param_ref(self, value: Tensor, what: str, span: Span) -> ParamRef:
        """A tensor given where an op takes a parameter: it must be a declared one."""
        node = self.graph.node(value.name) if value.name not in self.graph.inputs else None
        if node is None or Trait.DECLARATION not in registry.get(node.op).traits:
            raise SpeccError(f"{what} must be a declared parameter (param w: f32[...] = ...), "
                             f"got the computed tensor '{value.name}' {value.type}", span)
        return ParamRef(value.name, value.type)

    def _tie(self, ref: ParamRef, spec, path: str, role: str, op: str, span: Span) -> str:
        """An op uses the declared parameter `ref` as its own `role`: the shapes must agree.
        One declared in a block keeps that block's name (`head.classification_head.conv.0.0.
        weight`, one module applied to each pyramid level). One declared in a network is
        named by its first such use (`transformer.wte.weight`); later ones are aliases
        (`lm_head.weight`): one tensor in training and in ONNX, every name in the state
        dict."""
        decl = self.graph.node(ref.name)
        pname = decl.params["value"]
        param = self.graph.params[pname]
        uses = self.tied.setdefault(ref.name, [])
        if spec is None:
            raise SpeccError(f"{op} '{path}' has no {role} of its own to take from "
                             f"'{ref.name}' (is it switched off?)", span)
        if tuple(spec.shape) != tuple(param.shape) or spec.dtype != param.dtype:
            notes = [f"'{ref.name}' is declared {param.dtype}{list(param.shape)} at {decl.span}"]
            notes += [f"it is also the {r} of '{p}' at {s}" for p, r, s in uses]
            raise SpeccError(f"'{path}' takes '{ref.name}' as its {role}, which must be "
                             f"{spec.dtype}{list(spec.shape)} here, but '{ref.name}' is "
                             f"{param.dtype}{list(param.shape)}", span, tuple(notes))
        uses.append((path, role, span))
        if ref.name in self.owned:
            return pname
        name = f"{path}.{role}"
        if len(uses) == 1:  # the first use names it, in the parameters' order
            self.graph.params = {(name if k == pname else k): (replace(v, name=name)
                                 if k == pname else v) for k, v in self.graph.params.items()}
            decl.params["value"] = name
            return name
        self.graph.params[pname] = replace(param, aliases=param.aliases + (name,))
        return pname

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
