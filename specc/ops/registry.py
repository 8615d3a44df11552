"""The op registry: one OpDef per op carries everything every stage needs.

signature (args with kinds and defaults), shape/dtype rule, owned parameters with their
initialisers, cost (MACs), the PyTorch lowering, the ONNX lowering, how ONNX nodes are read
back into the op (`onnx_import`) and the parity tolerance.
Lowerings import torch/onnx lazily so the front half never loads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from ..core.diagnostics import SpeccError
from ..ir.graph import Init, TensorType


class ShapeError(Exception):
    """A shape or type rule failed; the elaborator adds the span and the op name.
    `notes` explain the rule that was broken."""

    def __init__(self, message: str, notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.notes = tuple(notes)


class LoweringError(Exception):
    """An op cannot be expressed in a backend (e.g. an ONNX opset) with these attributes.
    A backend gathers them over the graph and reports them with `at_nodes`."""

    @staticmethod
    def at_nodes(problems: list, target: str) -> SpeccError:
        """[(node, text), ...] -> one error per node a backend cannot express, each at the
        statement that made the node (with its expansion chain), reported together."""
        return SpeccError.many([SpeccError(f"cannot express {node.op} '{node.name}' in "
                                           f"{target}: {text}", node.span)
                                for node, text in problems])


REQUIRED = object()

# Kinds of arguments. Tensor kinds become node inputs; the others become attributes.
TENSOR_KINDS = ("tensor", "tensors")
# `none` is accepted only where an argument's default is `none` (an optional argument).
# "ints": an int (the same for every dim) or a list of ints, as conv's kernel; "int_list": a
# list of ints (a single int is a list of one), as tile's repeats; "floats": a list of
# numbers (a single number is a list of one), as an anchor generator's ratios; "dim": an int or a symbolic
# dim (x.shape[1], a specc.ir.sym.Sym), as slice's end; "dims": a list of ints, -1 and symbolic
# dims, as reshape's and expand's shape; "param": a declared parameter (`param w: ...`) the op
# uses instead of owning the one its parameter rule would make (OpDef.ties names which); it is
# in the attributes (an ir.graph.ParamRef) only when given.
ATTR_KINDS = ("int", "float", "bool", "str", "ints", "int_list", "floats", "dim", "dims", "table",
              "init", "param")


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str
    default: object = REQUIRED
    doc: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A parameter an op owns, named `<node path>.<role>`."""

    shape: tuple[int, ...]
    init: Init
    trainable: bool = True
    state: bool = False  # running statistics: saved and loaded, never trained
    saved: bool = True  # False: a constant, rebuilt from the spec, not in the state dict
    fan_in: int = 1
    fan_out: int = 1
    dtype: str = "f32"


@dataclass(frozen=True)
class Example:
    """A tiny network that uses the op: input types, the call (inputs are x0, x1, ...) and
    any declarations it needs. The reference (`specc ops`, docs/ops.md) shows it with its
    inferred shape and the ONNX ops it lowers to; the parity tests run it through torch and
    onnxruntime."""

    inputs: tuple[str, ...]
    call: str
    decls: tuple[str, ...] = ()

    def spec(self, name: str = "example") -> str:
        lines = ["specc 1", f"network {name} {{"]
        lines += [f"    input x{i}: {t}" for i, t in enumerate(self.inputs)]
        lines += [f"    {d}" for d in self.decls]
        lines += [f"    output y = {self.call}", "}"]
        return "\n".join(lines) + "\n"


def no_params(attrs, types):
    """The parameter rule of an op that owns no parameters."""
    return {}


def no_macs(attrs, types, outs):
    """The MAC rule of an op whose work is not counted: specc counts the multiply-accumulates
    of conv, linear and matmul, as torchvision-style tables do."""
    return 0


class Trait(Enum):
    """The closed set of traits (tinygrad's trait sets): code outside this package asks
    `Trait.X in op.traits`, never `op.name in (...)` or a string; an op with a trait that is
    not a member is refused at registration, and tests/test_registry.py fails on an op name
    or trait compared as a string outside specc/ops/."""

    INTERNAL = "internal"
    DECLARATION = "declaration"
    ELEMENTWISE = "elementwise"
    BACKWARD_IGNORES_OUTPUT = "backward_ignores_output"
    INFERENCE_IDENTITY = "inference_identity"
    WEIGHTED = "weighted"
    NORMALISING = "normalising"
    POOLING = "pooling"
    JOIN = "join"
    CONCATENATION = "concatenation"
    STOCHASTIC = "stochastic"
    THRESHOLD = "threshold"
    DISTRIBUTION = "distribution"
    DETECTIONS = "detection_rows"

    @property
    def doc(self) -> str:
        return TRAITS[self]


TRAITS = {
    Trait.INTERNAL: "made by the compiler (a number in tensor arithmetic): not callable by "
                    "name, not a layer in tables and pictures",
    Trait.DECLARATION: "made by a `param`/`fixed` statement: not callable by name; its node "
                       "names the parameter it reads as params[\"value\"]",
    Trait.ELEMENTWISE: "output[i] depends on input[i] only, same shape: may run in place",
    Trait.BACKWARD_IGNORES_OUTPUT: "its backward pass does not read its output, so the one "
                                   "elementwise op after it may overwrite that output in place",
    Trait.INFERENCE_IDENTITY: "removed in the inference view (export); its users read its "
                              "input",
    Trait.WEIGHTED: "a weighted sum with weights it owns (conv, linear): a learning layer",
    Trait.NORMALISING: "rescales activations by statistics (batch norm, LRN)",
    Trait.POOLING: "reduces spatial windows (max, average, adaptive, pyramid)",
    Trait.JOIN: "combines several tensors into one",
    Trait.CONCATENATION: "places its inputs side by side along `axis`: each stays a distinct "
                         "part of the output (a baseline joined from per-step values)",
    Trait.STOCHASTIC: "draws at random while training (or always, sample=\"always\"); has a "
                      "log_prob for REINFORCE and is deterministic at evaluation",
    Trait.THRESHOLD: "1 where its input reaches a threshold, else 0: the response of "
                     "threshold units, which the perceptron rule compares with targets",
    Trait.DISTRIBUTION: "its output is a probability distribution (softmax): an exported "
                         "model's output read as probabilities, not logits",
    Trait.DETECTIONS: "its output is detections: per image, rows (x1, y1, x2, y2, score, "
                      "label) best first, padded with label -1 (what `specc run` prints as "
                      "boxes)",
}


@dataclass(frozen=True)
class Half:
    """How an op runs in a half-precision export (`specc export --fp16-compute`), and how far
    its value may be from float32's: the op computed in fp16 from fp16 inputs, against the
    same op computed in float32 from those inputs, relative to its output's scale."""

    compute: str  # "fp16", or "fp32": kept in float (its inputs cast up, its output down)
    tolerance: float


# The families. fp16 keeps 11 significant bits: one rounding is 2^-11 (4.9e-4) of a value.
HALF_EXACT = Half("fp16", 2e-3)  # moves, selects or maps values one by one: a rounding or two
HALF_SUMS = Half("fp16", 1e-2)  # sums over a fan-in (conv, linear, pooling means): roundings
# accumulate with the number of terms
HALF_KEPT = Half("fp32", 2e-3)  # computed in float32 (softmax, log_softmax, norms'
# statistics, exp/log): only the roundings of its fp16 inputs and output remain


@dataclass(frozen=True, kw_only=True)
class OpDef:
    """Every field but `min_opset` must be given: an op states its parameter rule, MAC rule,
    tolerance and traits even when they are `no_params`, `no_macs`, 1e-5 and `frozenset()`.
    `shape` says the shape rule in words; `example` is a network that uses the op."""

    name: str
    doc: str
    shape: str
    example: Example
    args: tuple[Arg, ...]
    infer: Callable[[dict, list[TensorType]], list[TensorType]]
    torch: Callable
    onnx: Callable
    params: Callable[[dict, list[TensorType]], dict[str, ParamSpec]]
    macs: Callable[[dict, list[TensorType], list[TensorType]], int]
    tolerance: float
    traits: frozenset
    min_opset: int = 13
    # Optional, like min_opset: how local learning rules see this op's parameters (owned role
    # or argument name -> synapse form, specc/rules/synapse.py; empty: only gradient and
    # reinforce reach them) and, for stochastic ops, log_prob(attrs, inputs, sample).
    synapses: dict = field(default_factory=dict)
    log_prob: Callable | None = None
    # Optional: how the op runs in a half-precision export, with its tolerance there (the
    # families above; most ops map values one by one)
    half: Half = HALF_EXACT
    # Optional: how the op computes only a part of its output (a slice after it keeps some
    # rows), rows(attrs, input types, part or None) -> Reads or None (specc/ops/rows.py); an
    # elementwise op needs none, broadcasting says it. Without one the op computes its whole
    # output and a slice after it stays where it is.
    rows: Callable | None = None
    # Optional: the ONNX op types this entry reads back (`specc import`, the export read
    # backwards): ONNX op type -> rule(m), see IMPORT RULES below. Each ONNX op type is read by
    # exactly one entry.
    onnx_import: dict = field(default_factory=dict)
    # Optional: the operator a spec writes the op with (`a + b` is add); printers use it.
    symbol: str = ""
    # Optional: check_known(attrs, types, known) checks what the compiler knows of the inputs'
    # values (`known[i]`: the flat tuple of numbers a declared tensor is initialised with, one
    # number for a uniform fill, or None) and raises ShapeError, e.g. take's indices in range.
    check_known: Callable | None = None
    # Optional: arguments of kind "param" -> the owned role each replaces. `linear(h,
    # weight=wte)` uses the declared `wte` as its weight: one tensor, checked against the
    # shape the op's parameter rule gives that role, known in the state dict by both names.
    ties: dict = field(default_factory=dict)

    @property
    def tensor_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.kind in TENSOR_KINDS)


REGISTRY: dict[str, OpDef] = {}


# ------------------------------------------------------------------------- IMPORT RULES
# `rule(m)` reads one ONNX node; `m` is the importer's view of it (specc/importer/view.py):
#   m.op_type, m.name, m.version (the since-version of the node's schema), m.outputs (count)
#   m.attr(name, default)   an attribute as Python (int, float, str, lists; tensors as arrays)
#   m.n_inputs, m.has(i)    inputs (an optional input left out is absent)
#   m.type(i)               the TensorType of input i
#   m.known(i)              input i as a numpy array when it is known while importing (a
#                           constant, or a shape made of dims: an object array whose symbolic
#                           entries are Dims), else None
#   m.ints(i)               a known input as a list of ints (refused when it is not known)
#   m.value(i)              input i as a tensor of the spec (a known one becomes a constant)
#   m.weight(i, fn=None)    input i as a parameter's value (fn transforms the array): a handle
#                           for `weights=` of m.call; its .shape is the transformed shape
#   m.call(op, *tensors, weights={role: weight}, **attrs)   a call of registry op `op`; returns
#                           the spec's value (with .type)
#   m.fold(array)           the node's result, known while importing (numpy; Dims allowed)
#   m.refuse(why)           this node cannot be read (raises)
#   m.value(i, fn)          known input i laid out by fn first (m.laid_out(i, fn): where fn
#                           undoes the model's own layout of an initializer, that initializer)
#   m.weight(i, fn) likewise; m.zeros_weight(shape) a value the model leaves out as zeros
#   m.sole_user(k=0)        the one node that reads output k (a view), to absorb a pattern
#   m.producer(i)           the node that makes input i when only this node reads it (a view),
#                           to read through a pattern before this node (dead code after)
#   m.absorb(view, value=None)  that node is read here too: its output is `value`, or this
#                           rule's result
# A rule returns the spec value (or a tuple, one per ONNX output) for the node's outputs.
# Rules of ONNX ops that fold away and have no op of their own (Shape, Constant, ...) are
# registered with `register_import`, in the same table.


@dataclass(frozen=True)
class ImportRule:
    onnx_op: str
    owner: str  # the registry op whose entry holds the rule, or the module of a fold rule
    read: Callable


IMPORTS: dict[str, ImportRule] = {}


def register_import(owner: str, rules: dict) -> None:
    """Rules for ONNX ops that the import folds into constants or dims (no op of their own)."""
    for onnx_op, read in rules.items():
        _add_import(onnx_op, owner, read)


def _add_import(onnx_op: str, owner: str, read: Callable) -> None:
    if onnx_op in IMPORTS:
        raise RuntimeError(f"ONNX op {onnx_op!r} is read by both {IMPORTS[onnx_op].owner!r} "
                           f"and {owner!r}; one entry reads each ONNX op")
    IMPORTS[onnx_op] = ImportRule(onnx_op, owner, read)


def register(*ops: OpDef) -> None:
    for op in ops:
        if op.name in REGISTRY:
            raise RuntimeError(f"op {op.name!r} registered twice")
        unknown = {t for t in op.traits if not isinstance(t, Trait)}
        if unknown:
            raise RuntimeError(f"op {op.name!r}: unknown traits {sorted(map(repr, unknown))} "
                               f"(the closed set is specc/ops/registry.py's Trait)")
        bad = [a.name for a in op.args if a.kind not in TENSOR_KINDS + ATTR_KINDS]
        if bad:
            raise RuntimeError(f"op {op.name!r}: arguments {bad} have unknown kinds")
        kinds = {a.name: a.kind for a in op.args}
        if any(kinds.get(arg) != "param" for arg in op.ties) or \
                any(k == "param" and n not in op.ties for n, k in kinds.items()):
            raise RuntimeError(f"op {op.name!r}: its ties must name its 'param' arguments")
        REGISTRY[op.name] = op
        for onnx_op, read in op.onnx_import.items():
            _add_import(onnx_op, op.name, read)


def get(name: str) -> OpDef | None:
    return REGISTRY.get(name)


def import_rule(onnx_op: str) -> ImportRule | None:
    return IMPORTS.get(onnx_op)


def all_ops() -> dict[str, OpDef]:
    """Every op: the package's __init__ imports each op module (which registers its ops)
    before any module of the package, this one included, can be used."""
    return REGISTRY
