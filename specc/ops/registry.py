"""The op registry: one OpDef per op carries everything every stage needs.

signature (args with kinds and defaults), shape/dtype rule, owned parameters with their
initialisers, cost (MACs), the PyTorch lowering, the ONNX lowering and the parity tolerance.
Lowerings import torch/onnx lazily so the front half never loads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..ir.graph import Init, TensorType


class ShapeError(Exception):
    """A shape or type rule failed; the elaborator adds the span and the op name.
    `notes` explain the rule that was broken."""

    def __init__(self, message: str, notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.notes = tuple(notes)


class LoweringError(Exception):
    """An op cannot be expressed in a backend (e.g. an ONNX opset) with these attributes."""


REQUIRED = object()

# Kinds of arguments. Tensor kinds become node inputs; the others become attributes.
TENSOR_KINDS = ("tensor", "tensors")
# `none` is accepted only where an argument's default is `none` (an optional argument).
# "ints": an int (the same for every dim) or a list of ints, as conv's kernel; "int_list": a
# list of ints (a single int is a list of one), as reshape's shape; "dims": a list of ints, -1
# and symbols (a symbolic dim is its name, as x.shape[0] gives it), as expand's shape.
ATTR_KINDS = ("int", "float", "bool", "str", "ints", "int_list", "dims", "table", "init")


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


# The closed set of traits. Code asks `trait in op.traits`, never `op.name in (...)`; an op
# with a trait not listed here is refused at registration.
TRAITS = {
    "internal": "made by the compiler (a number in tensor arithmetic): not callable by name, "
                "not a layer in tables and pictures",
    "declaration": "made by a `param`/`fixed` statement: not callable by name",
    "elementwise": "output[i] depends on input[i] only, same shape: may run in place",
    "backward_ignores_output": "its backward pass does not read its output, so the one "
                               "elementwise op after it may overwrite that output in place",
    "inference_identity": "removed in the inference view (export); its users read its input",
    "weighted": "a weighted sum with weights it owns (conv, linear): a learning layer",
    "normalising": "rescales activations by statistics (batch norm, LRN)",
    "pooling": "reduces spatial windows (max, average, adaptive, pyramid)",
    "join": "combines several tensors into one",
    "stochastic": "draws at random while training (or always, sample=\"always\"); has a "
                  "log_prob for REINFORCE and is deterministic at evaluation",
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
    # Optional: check_known(attrs, types, known) checks what the compiler knows of the inputs'
    # values (`known[i]`: the flat tuple of numbers a declared tensor is initialised with, one
    # number for a uniform fill, or None) and raises ShapeError, e.g. take's indices in range.
    check_known: Callable | None = None

    @property
    def tensor_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.kind in TENSOR_KINDS)


REGISTRY: dict[str, OpDef] = {}


def register(*ops: OpDef) -> None:
    for op in ops:
        if op.name in REGISTRY:
            raise RuntimeError(f"op {op.name!r} registered twice")
        unknown = set(op.traits) - set(TRAITS)
        if unknown:
            raise RuntimeError(f"op {op.name!r}: unknown traits {sorted(unknown)} "
                               f"(the closed set is in specc/ops/registry.py TRAITS)")
        bad = [a.name for a in op.args if a.kind not in TENSOR_KINDS + ATTR_KINDS]
        if bad:
            raise RuntimeError(f"op {op.name!r}: arguments {bad} have unknown kinds")
        REGISTRY[op.name] = op


def get(name: str) -> OpDef | None:
    return REGISTRY.get(name)


def all_ops() -> dict[str, OpDef]:
    """Every op: the package's __init__ imports each op module (which registers its ops)
    before any module of the package, this one included, can be used."""
    return REGISTRY
