"""What an import rule sees of one ONNX node (the `m` of specc/ops/registry.py's IMPORT RULES):
its attributes and inputs, and the calls it makes of registry ops."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.graph import Init, Node, TensorType, Value
from ..ir.sym import Sym as IrSym, Undecided, assuming
from ..ir.sym_parse import parse
from ..ops import registry
from ..ops.registry import REQUIRED, TENSOR_KINDS, ShapeError
from .dims import Sym, SymbolicValue, as_dim, symbolic
from .tensors import (NUMPY_TO_SPECC, ArrayRef, DerivedRef, FillRef, TensorRef,
                      root_if_undone)


class Refused(Exception):
    """An import rule cannot read this node (the reason is the message)."""


class UnsupportedType(Refused):
    """The node computes with a type specc does not have."""


class NeedsKnown(Refused):
    """A rule needs a value while importing (axes, a shape, pads) that the model computes or
    takes as an input at run time; `value` names it."""

    def __init__(self, message: str, value: str):
        super().__init__(message)
        self.value = value


@dataclass(frozen=True, eq=False)
class Val:
    """A tensor of the spec being written: an IR value."""

    name: str
    type: TensorType


@dataclass(eq=False)
class Known:
    """A value known while importing: an initializer, a constant, or a shape of dims."""

    ref: TensorRef | None
    arr: np.ndarray | None
    type: TensorType
    name: str
    weight: bool = False  # an initializer of more than one element: the model's parameters
    val: Val | None = None  # the spec's tensor for it, once one is made
    # a weight laid out anew by an op (unsqueeze, transpose): (the weight, op, attributes),
    # so that as a tensor of the spec it is the weight declared and that op applied
    replay: tuple | None = None

    def array(self) -> np.ndarray:
        if self.arr is not None:
            return self.arr
        arr = self.ref.array()
        if arr.nbytes <= 1 << 20:
            self.arr = arr
        return arr

    @property
    def symbolic(self) -> bool:
        return self.arr is not None and symbolic(self.arr)


def known_of(arr: np.ndarray, name: str) -> Known:
    """A Known for a computed array (shapes of Dims are i64)."""
    if symbolic(arr):
        return Known(None, arr, TensorType("i64", tuple(arr.shape)), name)
    arr = np.asarray(arr)
    if arr.dtype not in NUMPY_TO_SPECC:
        raise UnsupportedType(f"computes a {arr.dtype} tensor, a type specc does not have")
    return Known(ArrayRef(name, arr), arr, TensorType(NUMPY_TO_SPECC[arr.dtype], arr.shape), name)


@dataclass(frozen=True, eq=False)
class Weight:
    """An input given to a call as a parameter's value: a Known (its ref) or, for the
    conformance runner, a graph input whose values arrive at run time."""

    source: object  # Known or Val
    fn: object
    shape: tuple
    dtype: str


class NodeView:
    def __init__(self, imp, node, index: int, ins: list, version: int):
        self.imp, self.node, self.index, self.ins = imp, node, index, ins
        self.op_type, self.name, self.version = node.op_type, node.name, version
        self.outputs = len(node.output)
        self.n_inputs = len(node.input)
        self._attrs = {a.name: a for a in node.attribute}

    # ---------------------------------------------------------------- reading
    def attr(self, name: str, default=None):
        a = self._attrs.get(name)
        if a is None:
            return default
        from onnx import helper, numpy_helper
        if a.type == a.GRAPH or a.type == a.GRAPHS:
            self.refuse(f"attribute '{name}' holds a subgraph")
        if a.type == a.TENSOR:
            return numpy_helper.to_array(a.t)
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, float):
            return _f32(v)
        if isinstance(v, list):
            return [x.decode("utf-8", "replace") if isinstance(x, bytes) else
                    _f32(x) if isinstance(x, float) else x for x in v]
        return v

    def has(self, i: int) -> bool:
        return i < self.n_inputs and bool(self.node.input[i])

    def type(self, i: int) -> TensorType:
        return self.ins[i].type

    def known(self, i: int):
        x = self.ins[i] if self.has(i) else None
        return x.array() if isinstance(x, Known) else None

    def ints(self, i: int) -> list[int]:
        arr = self.known(i)
        if arr is None:
            self.need(i)
        try:
            return [int(v) for v in np.asarray(arr).reshape(-1)]
        except SymbolicValue as e:
            self.refuse(f"needs a concrete number where the model computes with the symbolic "
                        f"dim '{e}'")

    def dims(self, i: int) -> list:
        """A known shape input as IR dims: ints, and symbols (their text) for sizes that
        are only known at run time."""
        arr = self.known(i)
        if arr is None:
            self.ints(i)
        return [as_dim(v) for v in np.asarray(arr).reshape(-1)]

    def is_known(self, i: int) -> bool:
        return self.has(i) and isinstance(self.ins[i], Known)

    def is_weight(self, i: int) -> bool:
        """Input i is one of the model's weights (or, for the conformance runner, a graph
        input that feeds a weight)."""
        x = self.ins[i] if self.has(i) else None
        return isinstance(x, Known) and x.weight or isinstance(x, Val) and \
            self.imp.is_weight_input(x)

    def shared(self, i: int) -> bool:
        """Input i is read by more than one node (a weight shared by several layers)."""
        return len(self.imp.users.get(self.node.input[i], ())) > 1

    def foldable(self) -> bool:
        """Every input is known, and none is one of the model's weights: computing the
        result now loses nothing of the network."""
        ins = [x for k, x in enumerate(self.ins) if self.has(k)]
        return all(isinstance(x, Known) and not x.weight for x in ins)

    def all_known(self) -> bool:
        return all(isinstance(x, Known) for k, x in enumerate(self.ins) if self.has(k))

    # --------------------------------------------------------------- writing
    def value(self, i: int, fn=None) -> Val:
        """Input i as a tensor of the spec; with `fn`, a known input laid out by fn first
        (see laid_out)."""
        x = self.ins[i] if fn is None else self.laid_out(i, fn)
        return x if isinstance(x, Val) else self.imp.materialize(x)

    def laid_out(self, i: int, fn) -> Known:
        """Known input i laid out by `fn` (a weight stays a weight). Where fn undoes the
        layout the model gave one of its initializers (the gathers and unsqueezes specc's
        own export writes around a weight), that initializer itself: every node that reads
        it then reads one tensor of the spec, under the initializer's name."""
        root = undone(self.imp, self.ins[i], fn)
        if root is not None:
            return root
        key = relayout_key(self.ins[i], fn)  # the same layout of the same tensor: one tensor
        if key is None or key not in self.imp.laid:
            out = self.derive(i, fn)
            if key is None:
                return out
            self.imp.laid[key] = out
        return self.imp.laid[key]

    def producer(self, i: int, alone: bool = True):
        """The node that makes input i (a view), when this node alone reads that value (Shape
        and Size read only its sizes) and it is no graph output: a rule may read through it
        (what it wrote is then dropped as dead code). None otherwise; with alone=False,
        whoever else reads it (to look, not to read through)."""
        return self.imp.producer(self, i, alone)

    def same(self, i: int):
        """The node's result is its input i, unchanged (Identity, Dropout at inference). A
        known value takes the node's output name: exporters that share one tensor among equal
        parameters name each copy by an Identity (PyTorch's `layer1.1.bn1.running_var`)."""
        x = self.ins[i]
        if isinstance(x, Known) and self.node.output and self.node.output[0]:
            return Known(x.ref, x.arr, x.type, self.node.output[0], x.weight)
        return x

    def value_of(self, arr) -> Val:
        """A computed array as a tensor of the spec (a number, or a declared tensor)."""
        return self.imp.materialize(known_of(np.asarray(arr), self.name or "const"))

    def constant(self, value: float, dtype: str) -> Val:
        """A number as a tensor of the spec (a rank-0 constant of `dtype`)."""
        from .tensors import SPECC_TO_NUMPY
        return self.imp.materialize(known_of(np.asarray(value, SPECC_TO_NUMPY[dtype]),
                                             self.name or "const"))

    def derive(self, i: int, fn, op: str | None = None, **attrs) -> Known:
        """A known input transformed by `fn` (a transpose of a weight), computed when
        written: it stays a weight. `op` and `attrs` say the same as a call of a registry
        op: a weight used as a tensor of the spec is then declared as it is and laid out by
        that op (the model's node is kept)."""
        x = self.ins[i]
        probe = fn(np.empty(x.type.shape, dtype=np.float32))
        name = x.name if x.weight else self.node.output[0]  # a weight keeps its name
        if x.ref is None:
            return known_of(fn(x.array()), name)
        from .tensors import DerivedRef
        ref = DerivedRef(name, x.ref, fn, probe.shape)
        out = Known(ref, None, TensorType(x.type.dtype, tuple(probe.shape)), name, x.weight)
        if op is not None and x.weight:
            out.replay = (x, op, attrs, self.node.output[0])
        return out

    def weight(self, i: int, fn=None) -> Weight:
        x = self.ins[i]
        root = undone(self.imp, x, fn) if fn is not None else None
        if root is not None:  # fn undoes the model's layout of an initializer: that one
            return Weight(root, None, tuple(root.type.shape), root.type.dtype)
        if isinstance(x, Val) and not self.imp.is_weight_input(x):
            self.refuse(f"takes its {_ordinal(i)} input ('{self.node.input[i]}') as a weight, "
                        "but the model computes it at run time; specc's op owns its weights")
        shape, dtype = tuple(x.type.shape), x.type.dtype
        if any(not isinstance(d, int) for d in shape):
            self.refuse(f"its weight '{self.node.input[i]}' has symbolic dims {list(shape)}")
        if fn is not None:
            probe = fn(np.empty(shape, dtype=np.float32))
            shape = tuple(probe.shape)
        return Weight(x, fn, shape, dtype)

    def zeros_weight(self, shape, dtype: str = "f32") -> Weight:
        """A parameter's value the model leaves out and ONNX defines as zeros (an RNN's B)."""
        from .tensors import SPECC_TO_NUMPY
        ref = FillRef(f"{self.name}.zeros", np.zeros((), SPECC_TO_NUMPY[dtype]), shape)
        return Weight(Known(ref, None, TensorType(dtype, tuple(shape)), ref.name), None,
                      tuple(shape), dtype)

    def call(self, op_name: str, *tensors, weights: dict | None = None, **attrs) -> Val:
        return self.imp.call(self, op_name, tensors, weights or {}, attrs)

    def call_as_output(self, op_name: str, *tensors, **attrs) -> Val:
        """A call that makes graph output 0 of the node, named as that output."""
        from . import names
        path = names.identifier(self.imp._stripped(self.node.output[0]), "y")
        return add_node(self.imp, self, op_name, tensors, {}, attrs, path=path)

    def fold(self, arr) -> Known:
        return known_of(arr if isinstance(arr, np.ndarray) else np.asarray(arr),
                        self.node.output[0] if self.node.output else self.name)

    def shape_array(self, dims) -> np.ndarray:
        """IR dims (ints, symbols) as a shape array to fold (symbols become Syms)."""
        from .dims import shape_array
        return shape_array(list(dims))

    def fill(self, value: np.ndarray, shape) -> Known:
        """A constant of one value (ConstantOfShape), made only when written."""
        name = self.node.output[0]
        ref = FillRef(name, np.asarray(value), shape)
        weight = ref.size > 1 and ref.dtype in ("f32", "f16", "bf16", "f64")
        return Known(ref, None, TensorType(ref.dtype, ref.shape), name, weight)

    def refuse(self, why: str):
        raise Refused(why)

    def unsupported(self, why: str):
        """The node computes with a type specc does not have."""
        raise UnsupportedType(why)

    def need(self, i: int):
        """Input i must be known while importing (specc's shapes and axes are static)."""
        raise NeedsKnown(f"needs input {i} ('{self.node.input[i]}') while importing (a "
                         "constant or a shape), but the model computes it at run time",
                         self.node.input[i])

    def assume(self, text: str, message: str = "") -> None:
        """A condition on the open sizes the node relies on, stated in the spec as an assert
        (`T <= 32` for a 32-row table sliced to a length T)."""
        self.imp.assume(text, message)

    def is_output(self, k: int) -> bool:
        """Is output k one of the graph's outputs?"""
        return k < len(self.node.output) and self.node.output[k] in self.imp.graph_outputs

    def used(self, k: int) -> bool:
        """Does anything read output k (a node, or the graph's outputs)?"""
        return self.imp.used(self.node.output[k]) if k < len(self.node.output) else False

    def live(self, k: int) -> bool:
        """Does a graph output depend on output k? (A value only dead code reads may be
        left uncomputed.)"""
        return k < len(self.node.output) and self.node.output[k] in self.imp.live

    def sole_user(self, k: int = 0):
        return self.imp.sole_user(self, k)

    def absorb(self, view, value=None) -> None:
        """`view`'s node is read here too: its output is `value`, or this rule's result."""
        self.imp.absorb(self, view, value)


def relayout_key(x, fn):
    """What identifies `fn` applied to the known x: x itself and where fn sends each of its
    elements (a probe); None when x is not a tensor of the model or too large to probe."""
    if not isinstance(x, Known) or x.ref is None or x.ref.size > 1 << 22:
        return None
    probe = np.arange(x.ref.size, dtype=np.float64).reshape(x.ref.shape) - x.ref.size / 2 + 0.25
    out = np.ascontiguousarray(fn(probe))
    return id(x), out.shape, out.tobytes()


def undone(imp, x, fn):
    """The initializer (its Known) that `fn` applied to x gives back unchanged, when x is that
    initializer laid out anew by the import; else None (see tensors.root_if_undone)."""
    if fn is None or not isinstance(x, Known):
        return None
    ref = root_if_undone(x.ref, fn)
    root = imp.env.get(ref.name) if ref is not None else None
    return root if isinstance(root, Known) and root.ref is ref else None


def _f32(v: float) -> float:
    """An ONNX float attribute (float32) as the shortest number that is the same float32."""
    return float(str(np.float32(v))) if np.isfinite(v) else float(v)


def _ordinal(i: int) -> str:
    return ("first", "second", "third", "fourth", "fifth")[i] if i < 5 else f"{i + 1}th"


# --------------------------------------------------------------------- calls
def bind(op, tensors, attrs: dict) -> tuple[list, dict]:
    """The call's tensor inputs and its full attributes (defaults filled in, kinds
    normalised as the elaborator's coerce leaves them)."""
    inputs, full, rest = [], {}, list(tensors)
    for a in op.args:
        if a.kind in TENSOR_KINDS:
            v = rest.pop(0) if rest else attrs.pop(a.name, None)
            if a.kind == "tensors":
                inputs.extend(v)
            elif v is not None:
                inputs.append(v)
            elif a.default is REQUIRED:
                raise TypeError(f"{op.name} needs tensor '{a.name}'")
            continue
        v = attrs.pop(a.name, a.default)
        if v is REQUIRED:
            raise TypeError(f"{op.name} needs '{a.name}'")
        if a.kind == "param" and v is None:  # the op owns its own (no tie), as elaborated
            continue
        full[a.name] = _normal(a.kind, v)
    if attrs or rest:
        raise TypeError(f"{op.name} has no arguments {sorted(attrs)} (or too many tensors)")
    return inputs, full


def _normal(kind: str, v):
    if v is None:
        return None
    if kind == "float":
        return _f32(float(v)) if abs(float(v)) <= 3e38 else float(v)  # as the text says it
    if kind in ("int", "bool", "str", "init"):
        return int(v) if kind == "int" else bool(v) if kind == "bool" else v
    if kind == "ints":
        return int(v) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    if kind == "int_list":
        return (int(v),) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    if kind == "floats":
        return tuple(_f32(float(x)) for x in (v if isinstance(v, (list, tuple)) else [v]))
    if kind == "dims":
        return tuple(ir_dim(x) for x in v)
    if kind == "dim":
        return ir_dim(v)
    if kind == "table":
        return tuple(tuple(int(x) for x in r) for r in v)
    return v


def add_node(imp, view, op_name: str, tensors, weights: dict, attrs: dict,
             path: str | None = None) -> Val:
    op = registry.get(op_name)
    inputs, full = bind(op, tensors, dict(attrs))
    types = [t.type for t in inputs]
    try:
        with assuming(imp.facts):
            outs = op.infer(full, types)
            specs = op.params(full, types)
    except ShapeError as e:
        raise Refused(f"as {op_name}: {e}") from None
    except Undecided as e:
        raise Refused(f"as {op_name}: {e} (nothing the model states decides it)") from None
    finally:
        imp.facts.needs.clear()  # the spec's own shape rules state them again when it loads
    path = imp.claim(path) if path else imp.path_for(view, op_name, weights)
    params = {}
    for role, spec in specs.items():
        pname = f"{path}.{role}" if role else path
        imp.set_weight(pname, _value_of(view, op_name, role, spec, weights.get(role), pname))
        params[role or "value"] = pname
        from ..ir.graph import Param
        imp.graph.params[pname] = Param(pname, spec.shape, spec.init, spec.dtype, spec.trainable,
                                        spec.state, spec.fan_in, spec.fan_out, None, spec.saved)
    node = Node(path, op_name, [t.name for t in inputs], [path], full, params)
    node.macs = op.macs(full, types, outs)
    imp.graph.nodes.append(node)
    imp.graph.values[path] = Value(path, outs[0], path)
    return Val(path, outs[0])


def ir_dim(v):
    """A dim as the shape rules take it: an int, or the IR's symbolic expression (from the
    import's text-valued Sym, or a symbol's text)."""
    if isinstance(v, (IrSym, bool)) or v is None:
        return v
    if isinstance(v, (str, Sym)):
        return parse(str(v))
    return int(v)


def _value_of(view, op_name, role, spec, w: Weight | None, pname: str):
    """What a parameter holds: the model's tensor (transformed), or, for a role the model
    has no tensor for (batch norm's counter), the op's own constant initialiser."""
    if w is None:
        init = spec.init
        if not isinstance(init, Init) or init.kind not in ("zeros", "ones", "constant"):
            raise Refused(f"as {op_name}: the model gives no value for its '{role}'")
        value = {"zeros": 0, "ones": 1}.get(init.kind, init.args[0] if init.args else 0)
        from .tensors import SPECC_TO_NUMPY
        return FillRef(pname, np.asarray(value, dtype=SPECC_TO_NUMPY[spec.dtype]), spec.shape)
    if tuple(w.shape) != tuple(spec.shape):
        raise Refused(f"as {op_name}: its {role} is {list(w.shape)}, where {op_name} "
                      f"needs {list(spec.shape)}")
    fn = w.fn
    if w.dtype != spec.dtype:
        from .tensors import SPECC_TO_NUMPY
        dt, inner = SPECC_TO_NUMPY[spec.dtype], fn
        fn = (lambda a: inner(a).astype(dt)) if inner else (lambda a: a.astype(dt))
    source = w.source
    if isinstance(source, Val):  # a graph input whose values come at run time
        return ("input", source.name, fn)
    base = source.ref if source.ref is not None else ArrayRef(pname, source.array())
    return DerivedRef(pname, base, fn, spec.shape, spec.dtype) if fn else base
