"""ONNX graph -> specc's Graph IR, node by node: each node read by the import rule of the
registry entry that owns its op type (specc/ops: `onnx_import`, or `register_import` for ops
that fold away), constant subgraphs computed while importing, the weights kept by reference.
Every node that cannot be read is collected, and reported all at once."""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..core.diagnostics import SpeccError
from ..ir.graph import Graph, Init, Node, TensorType, Value
from ..ops import registry
from . import names
from ..ir.sym import Facts
from .dims import SymbolicValue, assume, stated_assumptions
from .tensors import ONNX_TO_SPECC, onnx_type_name
from .view import (Known, NeedsKnown, NodeView, Refused, UnsupportedType, Val, add_node,
                   known_of)

CONTROL_FLOW = ("If", "Loop", "Scan")
POISON = object()


class ImportRefused(SpeccError):
    """The model cannot be imported. `unsupported` says why when the reason is outside the
    language (ops it does not map, types it does not have, control flow), '' when specc maps
    everything but cannot read some node as it is."""

    unsupported = ""


class Problems:
    def __init__(self):
        self.unmapped: dict[str, list[str]] = {}
        self.control: list[str] = []
        self.types: list[str] = []
        self.refused: list[str] = []
        self.needed: set[str] = set()  # values a rule needed while importing

    def __bool__(self) -> bool:
        return bool(self.unmapped or self.control or self.types or self.refused)

    def error(self, source: str) -> SpeccError:
        e = self._error(source)
        err = ImportRefused(e.message, notes=e.notes)
        err.problems = self
        reasons = [f"{op} is not mapped" for op in self.unmapped] + \
            (["control flow"] if self.control else []) + self.types[:1]
        err.unsupported = "; ".join(reasons)
        return err

    def _error(self, source: str) -> SpeccError:
        notes, lines = [], []
        if self.unmapped:
            total = sum(len(v) for v in self.unmapped.values())
            lines.append(f"{len(self.unmapped)} ONNX op type(s) specc cannot map ({total} "
                         "node(s))")
            notes += [f"{op}: {len(where)} node(s), first '{where[0]}'"
                      for op, where in sorted(self.unmapped.items(), key=lambda kv: -len(kv[1]))]
        if self.control:
            lines.append("control flow is not supported (If, Loop, Scan)")
            notes += [f"control flow: {n}" for n in self.control]
        if self.types:
            lines.append("types specc does not have")
            notes += self.types[:10]
        if self.refused:
            lines.append(f"{len(self.refused)} node(s) that specc cannot express")
            notes += self.refused[:20]
            if len(self.refused) > 20:
                notes.append(f"... and {len(self.refused) - 20} more")
        return SpeccError(f"cannot import {source}: " + "; ".join(lines), notes=tuple(notes))


def _shortest(value, dtype: str):
    """A number as the spec's literal will give it back (the shortest text of the value in
    its dtype)."""
    import math
    if dtype in ("f32", "f16", "bf16") and math.isfinite(value):
        cast = np.float16 if dtype == "f16" else np.float32
        return float(str(cast(value)))
    return value


class Importer:
    """One model's import; `run()` returns the Graph, `weights` the values by parameter."""

    def __init__(self, loaded, name: str, weight_inputs: bool = False):
        self.loaded, self.model = loaded, loaded.model
        g = self.model.graph
        self.graph = Graph(name)
        self.env: dict[str, object] = {}
        self.claimed: set[str] = set()
        self.suffixed: dict[str, str] = {}  # a name claim() numbered -> the name it wanted
        self.laid: dict = {}  # relayouts of a known tensor, made once (view.laid_out)
        self.weights: dict[str, object] = {}  # param -> TensorRef | ("input", name, fn)
        self.allow_weight_inputs = weight_inputs
        self.problems = Problems()
        self.skip: set[int] = set()
        self.aliases: list[tuple[str, object]] = []  # absorbed outputs, their values
        self.versions: dict[str, int] = {}
        self.input_names: dict[str, str] = {}  # ONNX input -> spec input
        every = [o for n in g.node for o in n.output] + [t.name for t in g.initializer] + \
            [v.name for v in list(g.input) + list(g.output)]
        self.strip = names.common_prefix([n for n in every if "/" in n])
        self.users: dict[str, list[int]] = {}
        self.makers = {o: i for i, n in enumerate(g.node) for o in n.output if o}
        for i, n in enumerate(g.node):
            for x in n.input:
                self.users.setdefault(x, []).append(i)
        self.graph_outputs = {o.name for o in g.output}
        self.live = set(self.graph_outputs)  # values some graph output depends on
        for n in reversed(g.node):
            if any(o in self.live for o in n.output):
                self.live.update(x for x in n.input if x)
        self.scope_sizes = Counter(names.module_path(n.name) for n in g.node)
        self.inits = {t.name for t in g.initializer}
        self.facts = Facts()  # the inputs' batch symbols and what the import assumed

    def assume(self, text: str, message: str = "") -> None:
        """A condition on the open sizes the model relies on (dims.py assume)."""
        assume(self, text, message)

    # ------------------------------------------------------------------ run
    def run(self) -> Graph:
        g = self.model.graph
        inits = self.inits
        for t in g.initializer:
            ref = self.loaded.refs[t.name]
            shape = tuple(ref.shape)
            self.env[t.name] = Known(ref, None, TensorType(ref.dtype, shape), t.name,
                                     weight=ref.size > 1 and ref.dtype in ("f32", "f16", "bf16",
                                                                            "f64"))
        self.onnx_inputs = [v.name for v in g.input if v.name not in inits]
        for v in g.input:
            if v.name not in inits:
                self._input(v)
        stated_assumptions(self)
        for index, node in enumerate(g.node):
            if index not in self.skip:
                self._node(index, node)
        if not self.graph.inputs and not self.problems:
            self.problems.types.append("a model without inputs (a spec's network reads at "
                                       "least one)")
        if self.problems:
            raise self.problems.error(self.loaded.path)
        for v in g.output:
            try:
                self._output(v.name)
            except UnsupportedType as e:
                self.problems.types.append(f"output '{v.name}' {e}")
            except Refused as e:
                self.problems.refused.append(f"output '{v.name}': {e}")
        if self.problems:
            raise self.problems.error(self.loaded.path)
        self.graph.inputs = [n for n in self.graph.inputs if n in self._read_inputs()
                             or not self.is_weight_only(n)]
        return self.graph

    def _read_inputs(self) -> set[str]:
        read = {i for n in self.graph.nodes for i in n.inputs}
        return read | set(self.graph.outputs.values())

    def is_weight_only(self, spec_name: str) -> bool:
        return any(w[1] == spec_name for w in self.weights.values() if isinstance(w, tuple))

    def _input(self, v) -> None:
        t = v.type.tensor_type
        if not v.type.HasField("tensor_type"):
            self.problems.types.append(f"input '{v.name}' is not a tensor (a sequence, map "
                                       "or optional), which specc does not have")
            self.env[v.name] = POISON
            return
        if t.elem_type not in ONNX_TO_SPECC:
            self.problems.types.append(f"input '{v.name}' is {onnx_type_name(t.elem_type)}, "
                                       "a type specc does not have")
            self.env[v.name] = POISON
            return
        dims = []
        if any(d.HasField("dim_value") and d.dim_value == 0 for d in t.shape.dim):
            self.problems.types.append(f"input '{v.name}' is empty (a dim of size 0); specc's "
                                       "tensors have at least one element")
            self.env[v.name] = POISON
            return
        for k, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            else:
                dims.append(names.identifier(d.dim_param, "d") if d.dim_param else
                            ("N" if k == 0 else f"d{k}"))
        if dims and isinstance(dims[0], str):
            self.facts.batch.add(dims[0])
        name = self._unique(names.identifier(self._stripped(v.name), "x"))
        self.input_names[v.name] = name
        tt = TensorType(ONNX_TO_SPECC[t.elem_type], tuple(dims))
        self.graph.inputs.append(name)
        self.graph.values[name] = Value(name, tt)
        self.env[v.name] = Val(name, tt)

    def _output(self, onnx_name: str) -> None:
        """An output keeps the model's name where it can: the node that makes it may have
        that path already (then the spec says `output name = ...` for it)."""
        x = self.env.get(onnx_name)
        if isinstance(x, Known):
            x = self.materialize(x, declare=True)
        base = names.identifier(self._stripped(onnx_name), "y")
        name, n = base, 0
        while name in self.graph.outputs or name in self.graph.inputs or \
                name in self.graph.values and name != x.name:
            n += 1
            name = f"{base}_{n}"
        self.graph.outputs[name] = x.name

    # ------------------------------------------------------------------ nodes
    def _node(self, index: int, node) -> None:
        ins = [self.env.get(x) if x else None for x in node.input]
        if any(x is POISON for x in ins):
            return self._poison(node)
        missing = [x for x, v in zip(node.input, ins) if x and v is None]
        if missing:
            raise SpeccError(f"{self.loaded.path}: node '{node.name}' reads '{missing[0]}', "
                             "which no earlier node makes (the graph is not in order)")
        label = node.name or (node.output[0] if node.output else node.op_type)
        if node.domain not in ("", "ai.onnx"):
            self.problems.unmapped.setdefault(f"{node.domain}.{node.op_type}", []).append(label)
            return self._poison(node)
        if node.op_type in CONTROL_FLOW:
            self.problems.control.append(f"{node.op_type} '{label}'")
            return self._poison(node)
        view = NodeView(self, node, index, ins, self._version(node.op_type))
        rule = registry.import_rule(node.op_type)
        skipped = set(self.skip)
        if not self._read(view, rule, node, label, ins):
            self.skip, self.aliases = skipped, []  # refused after absorbing a node: that
            # node is read on its own (and refused there too, or poisoned by this one)

    def _read(self, view, rule, node, label: str, ins) -> None:
        try:
            if rule is not None:
                result = rule.read(view)
            elif view.all_known() and not any(isinstance(x, Known) and x.symbolic for x in ins):
                result = self._evaluate(node, view)
            else:
                self.problems.unmapped.setdefault(node.op_type, []).append(label)
                return self._poison(node)
        except UnsupportedType as e:
            self.problems.types.append(f"{node.op_type} '{label}': {e}")
            return self._poison(node)
        except NeedsKnown as e:
            self.problems.needed.add(e.value)
            self.problems.refused.append(f"{node.op_type} '{label}': {e}")
            return self._poison(node)
        except Refused as e:
            self.problems.refused.append(f"{node.op_type} '{label}': {e}")
            return self._poison(node)
        except SymbolicValue as e:
            self.problems.refused.append(f"{node.op_type} '{label}': needs a concrete number "
                                         f"where the model computes with the symbolic dim '{e}'")
            return self._poison(node)
        self._bind(node, label, result)
        return True

    def _bind(self, node, label: str, result) -> None:
        results = result if isinstance(result, tuple) else (result,)
        for k, out in enumerate(node.output):
            if not out:
                continue
            if k < len(results) and results[k] is not None:
                self.env[out] = results[k]
            elif out not in self.live:  # read only by dead code, if at all
                self.env[out] = POISON
            elif out in self.users or out in self.graph_outputs:
                self.problems.refused.append(f"{node.op_type} '{label}': its output {k} "
                                             f"('{out}') is used, and specc computes only "
                                             f"output{'s' if len(results) > 1 else ''} "
                                             f"{', '.join(str(i) for i in range(len(results)))}")
                self.env[out] = POISON
        for out, value in self.aliases:
            self.env[out] = results[0] if value is None else value
        self.aliases = []

    def _poison(self, node) -> None:
        for out in node.output:
            if out:
                self.env[out] = POISON

    def _version(self, op_type: str) -> int:
        if op_type not in self.versions:
            import onnx
            try:
                schema = onnx.defs.get_schema(op_type, self.loaded.opset, "")
                self.versions[op_type] = schema.since_version
            except Exception:  # noqa: BLE001 - onnx.defs.SchemaError: no such op at this opset
                self.versions[op_type] = 0
        return self.versions[op_type]

    def _evaluate(self, node, view) -> tuple:
        """A node with no import rule whose inputs are all known: computed now by ONNX's
        reference evaluator."""
        import onnx
        from onnx import helper
        from onnx.reference import ReferenceEvaluator
        feeds = {x: self.env[x].array() for x in node.input if x}
        graph = helper.make_graph([node], "fold", [helper.make_tensor_value_info(
            x, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for x, a in feeds.items()],
            [helper.make_empty_tensor_value_info(o) for o in node.output if o])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.loaded.opset)])
        try:
            outs = ReferenceEvaluator(model).run(None, feeds)
        except Exception as e:  # noqa: BLE001 - the evaluator raises what its kernels raise
            raise Refused(f"cannot compute it while importing: {str(e).splitlines()[0][:160]}") \
                from None
        del onnx
        return tuple(known_of(np.asarray(o), name) for o, name in
                     zip(outs, [o for o in node.output if o]))

    # --------------------------------------------------------- rule services
    def call(self, view, op_name: str, tensors, weights: dict, attrs: dict) -> Val:
        return add_node(self, view, op_name, tensors, weights, attrs)

    def is_weight_input(self, val: Val) -> bool:
        return self.allow_weight_inputs and val.name in self.graph.inputs

    def set_weight(self, pname: str, value) -> None:
        self.weights[pname] = value

    def materialize(self, k: Known, declare: bool = False) -> Val:
        """A known value used as a tensor of the spec: a number, or a declared tensor (an
        output is always a declared one)."""
        if k.val is not None and not (declare and k.type.shape == ()):
            return k.val
        if k.symbolic:
            raise Refused(f"uses the shape '{k.name}' as a tensor while it holds symbolic dims")
        if k.replay is not None and not declare:
            base, op, attrs, out = k.replay
            k.val = add_node(self, None, op, [self.materialize(base)], {}, attrs,
                             path=names.path(self._stripped(out)))
            return k.val
        finite = k.type.dtype not in ("f32", "f16", "bf16", "f64") or \
            bool(np.isfinite(k.array()).all())
        if k.type.shape == () and k.type.dtype != "bool" and not declare and finite:
            value = _shortest(k.array().item(), k.type.dtype)
            path = self.claim("const")
            node = Node(path, "constant", [], [path], {"value": float(value),
                                                        "dtype": k.type.dtype}, {})
            self.graph.nodes.append(node)
            self.graph.values[path] = Value(path, k.type, path)
            k.val = Val(path, k.type)
            return k.val
        if any(d == 0 for d in k.type.shape):
            raise UnsupportedType(f"uses the empty tensor '{k.name}' as a value; specc's "
                                  "tensors have at least one element")
        path = self.claim(names.identifier(self._stripped(k.name), "c"))
        trainable = k.weight
        attrs = {"shape": tuple(k.type.shape), "dtype": k.type.dtype, "init": Init("zeros"),
                 "trainable": trainable, "saved": True}
        node = Node(path, "parameter", [], [path], attrs, {"value": path})
        from ..ir.graph import Param
        self.graph.params[path] = Param(path, tuple(k.type.shape), Init("zeros"), k.type.dtype,
                                        trainable, False)
        self.weights[path] = k.ref if k.ref is not None else known_of(k.array(), path).ref
        self.graph.nodes.append(node)
        self.graph.values[path] = Value(path, k.type, path)
        k.val = Val(path, k.type)
        return k.val

    def used(self, value: str) -> bool:
        return bool(value) and (value in self.users or value in self.graph_outputs)

    def sole_user(self, view, k: int):
        out = view.node.output[k] if k < len(view.node.output) else ""
        readers = self.users.get(out, [])
        if len(readers) != 1 or out in self.graph_outputs or readers[0] in self.skip:
            return None
        index = readers[0]
        node = self.model.graph.node[index]
        if node.domain not in ("", "ai.onnx"):
            return None
        ins = [self.env.get(x) if x and x != out else None for x in node.input]
        return NodeView(self, node, index, ins, self._version(node.op_type))

    def producer(self, view, i: int, alone: bool = True):
        out = view.node.input[i] if i < len(view.node.input) else ""
        readers = {r for r in self.users.get(out, []) if r != view.index and alone and
                   self.model.graph.node[r].op_type not in ("Shape", "Size")}  # sizes only
        index = self.makers.get(out)
        if not out or index is None or readers or out in self.graph_outputs:
            return None
        node = self.model.graph.node[index]
        if node.domain not in ("", "ai.onnx") or self.env.get(out) is POISON:
            return None
        ins = [self.env.get(x) if x else None for x in node.input]
        return NodeView(self, node, index, ins, self._version(node.op_type))

    def absorb(self, view, other, value=None) -> None:
        self.skip.add(other.index)
        self.aliases.extend((o, value) for o in other.node.output[:1] if o)
        for o in other.node.output[1:]:
            if o and (o in self.users or o in self.graph_outputs):
                raise Refused(f"{other.op_type} '{other.name}' has a second output in use")

    # ------------------------------------------------------------------ names
    def path_for(self, view, op_name: str, weights: dict) -> str:
        """A parameter-owning call is named by its weights ('fc.weight' -> 'fc'), else by the
        exporter's module path, else by the node's output."""
        sources = [self._stripped(w.source.name) for w in weights.values()
                   if isinstance(w.source, Known) and w.source.weight]
        base = names.owner_of(sources) if sources else None
        if base is None:
            scope = names.module_path(view.node.name)
            if scope:
                base = scope if self.scope_sizes[scope] == 1 or weights else \
                    f"{scope}.{op_name}"
        if base is None and view.node.output and view.node.output[0]:
            base = names.path(self._stripped(view.node.output[0]))
            if not any(c.isalpha() for c in base):
                base = op_name
        return self.claim(base or op_name)

    def claim(self, base: str) -> str:
        name, n = base, 0
        while name in self.claimed or name in self.graph.values:
            n += 1
            name = f"{base}_{n}"
        self.claimed.add(name)
        if n:
            self.suffixed[name] = base  # reclaim() gives it back where base ends up free
        return name

    def _unique(self, base: str) -> str:
        return self.claim(base)

    def _stripped(self, name: str) -> str:
        return name[len(self.strip):] if self.strip and name.startswith(self.strip) else name

