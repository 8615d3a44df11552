"""Graph IR (inference view) + weights -> onnx.ModelProto, emitted directly: no tracing."""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..core.defaults import ONNX_OPSET
from ..core.dtypes import numpy_dtype, onnx_type
from ..ir.graph import Graph
from ..ir.cond import lower
from ..ir.sym import Sym
from ..ops import registry
from ..ops.registry import LoweringError

SUPPORTED_OPSETS = range(13, 22)


class OnnxBuilder:
    """What a registry op's ONNX lowering sees: emit nodes and constants."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.prefix = ""
        self.types, self.outs = [], []
        self._names: set[str] = set()
        self.symbols: dict[str, tuple[str, int]] = {}  # symbol -> (input, axis)
        self._dims: dict[str, str] = {}  # dim text -> the tensor computing it

    def _fresh(self, base: str) -> str:
        name, n = base, 0
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def op(self, op_type: str, inputs, **attrs) -> str:
        name = self._fresh(f"{self.prefix}/{op_type}")
        self.nodes.append(helper.make_node(op_type, [i or "" for i in inputs], [name], name=name,
                                           **attrs))
        return name

    def op_outputs(self, op_type: str, inputs, count: int, **attrs) -> list[str]:
        """A node with several outputs (e.g. LSTM's Y, Y_h, Y_c); returns their names."""
        names = [self._fresh(f"{self.prefix}/{op_type}:{i}") for i in range(count)]
        self.nodes.append(helper.make_node(op_type, [i or "" for i in inputs], names,
                                           name=names[0], **attrs))
        return names

    def const(self, values, dtype: str, shape=None) -> str:
        arr = np.asarray(values, dtype=numpy_dtype(dtype))
        arr = arr.reshape(shape if shape is not None else (len(values),))
        name = self._fresh(f"{self.prefix}/const")
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def dim(self, d) -> str:
        """A 1-element int64 tensor holding a dim: a constant, or a symbolic dim computed
        from the Shape of the inputs that declare its names (once per expression)."""
        key = str(d)
        if key not in self._dims:
            self._dims[key] = lower(d, _OnnxDims(self))
        return self._dims[key]

    def scalar_dim(self, d) -> str:
        """A dim as a rank-0 int64 tensor (Range's bounds)."""
        if isinstance(d, int):
            return self.const([d], "i64", ())
        return self.op("Squeeze", [self.dim(d), self.const([0], "i64")])

    def size(self, symbol: str) -> str:
        key = f"size:{symbol}"
        if key not in self._dims:
            if symbol not in self.symbols:
                raise LoweringError(f"'{symbol}' is not a dim of any input")
            name, axis = self.symbols[symbol]
            if self.opset >= 15:
                self._dims[key] = self.op("Shape", [name], start=axis, end=axis + 1)
            else:
                self._dims[key] = self.op("Gather", [self.op("Shape", [name]),
                                                     self.const([axis], "i64")])
        return self._dims[key]

    def shape_tensor(self, dims) -> str:
        """A 1-D int64 tensor of dims: one constant when all are known, else the known runs
        as constants and the symbolic ones computed, joined by Concat."""
        pieces, run = [], []
        for d in dims:
            if isinstance(d, int):
                run.append(d)
                continue
            if run:
                pieces.append(self.const(run, "i64"))
                run = []
            pieces.append(self.dim(d))
        if run:
            pieces.append(self.const(run, "i64"))
        return pieces[0] if len(pieces) == 1 else self.op("Concat", pieces, axis=0)

    @staticmethod
    def onnx_dtype(dtype: str) -> int:
        return onnx_type(dtype)


class _OnnxDims:
    """ir.sym.lower's operations on 1-element int64 tensors. Floor division of a value
    that may be negative subtracts its (Python-signed) Mod first: ONNX's Div truncates."""

    def __init__(self, b: OnnxBuilder):
        self.b = b

    def const(self, v):
        return self.b.const([v], "i64")

    def name(self, n):
        return self.b.size(n)

    def add(self, x, y):
        return self.b.op("Add", [x, y])

    def mul(self, x, y):
        return self.b.op("Mul", [x, y])

    def floordiv(self, x, k, nonneg):
        if not nonneg:
            x = self.b.op("Sub", [x, self.mod(x, k)])
        return self.b.op("Div", [x, self.const(k)])

    def mod(self, x, k):
        return self.b.op("Mod", [x, self.const(k)], fmod=0)


def value_info(name: str, t) -> onnx.ValueInfoProto:
    dims = [d if isinstance(d, int) else str(d) for d in t.shape]
    return helper.make_tensor_value_info(name, onnx_type(t.dtype), dims)


def build_model(graph: Graph, weights: dict[str, np.ndarray], opset: int = ONNX_OPSET,
                fp16_weights: bool = False, metadata: dict | None = None) -> onnx.ModelProto:
    """The whole model in memory (weights included)."""
    model, used = build_skeleton(graph, weights, opset, fp16_weights, metadata)
    model.graph.initializer.extend(numpy_helper.from_array(a, n) for n, a in used.items())
    return model


def build_skeleton(graph: Graph, weights: dict[str, np.ndarray], opset: int = ONNX_OPSET,
                   fp16_weights: bool = False, metadata: dict | None = None):
    """The model without its weights, and the weights it uses (name -> array, in order).
    Small constants made by the lowerings stay inside the skeleton. A node ONNX cannot
    express is a SpeccError at its statement (every such node at once); an opset outside
    the supported range is a LoweringError."""
    with graph.assumed():
        return _build_skeleton(graph, weights, opset, fp16_weights, metadata)


def _build_skeleton(graph, weights, opset, fp16_weights, metadata):
    if opset not in SUPPORTED_OPSETS:
        raise LoweringError(f"opset {opset} is not supported (use {SUPPORTED_OPSETS.start}.."
                            f"{SUPPORTED_OPSETS.stop - 1})")
    b = OnnxBuilder(opset)
    b._names.update(graph.values)  # the spec's names (a label may hold '/'): never made again
    b._names.update(graph.params)
    env = {name: name for name in graph.inputs}
    for name in graph.inputs:
        for axis, d in enumerate(graph.values[name].type.shape):
            if isinstance(d, Sym) and d.is_name():
                b.symbols.setdefault(str(d), (name, axis))
    problems = []
    for node in graph.nodes:
        op = registry.get(node.op)
        if any(i not in env for i in node.inputs):
            continue  # downstream of a node already reported
        if opset < op.min_opset:
            problems.append((node, f"it needs opset >= {op.min_opset}"))
            continue
        b.prefix = node.name
        b.types = [graph.values[i].type for i in node.inputs]
        b.outs = [graph.values[o].type for o in node.outputs]
        start = len(b.nodes)
        try:
            out = op.onnx(b, node, [env[i] for i in node.inputs], dict(node.params))
        except LoweringError as e:
            problems.append((node, str(e)))
            continue
        env[node.outputs[0]] = _name_result(b, start, out, node.outputs[0])
    if problems:
        raise LoweringError.at_nodes(problems, f"ONNX opset {opset}")
    used = {i for n in b.nodes for i in n.input} | {env[v] for v in graph.outputs.values()}
    stored = _weights(graph, weights, used, fp16_weights, b)
    outputs = []
    stored_names = set(stored) | {t.name for t in b.initializers}
    for out_name, value in graph.outputs.items():
        source = env[value]
        if source == out_name and source in stored_names:
            # an output that is a stored tensor itself: onnxruntime loads no graph output
            # that is an initializer, so the tensor is stored under another name
            source = _rename_stored(b, stored, source, f"{source}/value")
        if source != out_name:
            b.nodes.append(helper.make_node("Identity", [source], [out_name],
                                            name=f"output/{out_name}"))
        outputs.append(value_info(out_name, graph.values[value].type))
    g = helper.make_graph(b.nodes, graph.name,
                          [value_info(n, graph.values[n].type) for n in graph.inputs],
                          outputs, initializer=b.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="specc", doc_string=graph.doc[:2000])
    model.ir_version = _ir_version(opset)
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value if isinstance(value, str) else json.dumps(value))
    return model, stored


def _rename_stored(b: OnnxBuilder, stored: dict, name: str, new: str) -> str:
    if name in stored:
        stored[new] = stored.pop(name)
    for t in b.initializers:
        if t.name == name:
            t.name = new
    for n in b.nodes:
        n.input[:] = [new if i == name else i for i in n.input]
    return new


def _name_result(b: OnnxBuilder, start: int, out: str, value: str) -> str:
    """Give the final ONNX value of a spec node the spec's name."""
    emitted = b.nodes[start:]
    if not any(out in n.output for n in emitted):
        return out  # an alias (a parameter, or an op that lowers to its input)
    for n in emitted:
        n.output[:] = [value if o == out else o for o in n.output]
        n.input[:] = [value if i == out else i for i in n.input]
        if n.output[0] == value:
            n.name = value
    return value


def _weights(graph, weights, used, fp16, b) -> dict[str, np.ndarray]:
    out = {}
    for name in graph.params:
        if name not in used:
            continue
        arr = np.asarray(weights[name])
        if fp16 and arr.dtype == np.float32:
            out[name + "/fp16"] = arr.astype(np.float16)
            b.nodes.insert(0, helper.make_node("Cast", [name + "/fp16"], [name], name=f"{name}/cast",
                                               to=TensorProto.FLOAT))
        else:
            out[name] = arr
    return out


def _ir_version(opset: int) -> int:
    versions = [ir for _, ir, op, *_ in helper.VERSION_TABLE if op >= opset]
    return min(versions) if versions else onnx.IR_VERSION
