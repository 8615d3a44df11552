"""The op registry: one OpDef per op carries everything every stage needs.

signature (args with kinds and defaults), shape/dtype rule, owned parameters with their
initialisers, cost (MACs), the PyTorch lowering, the ONNX lowering and the parity tolerance.
Lowerings import torch/onnx lazily so the front half never loads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..ir import Init, TensorType


class ShapeError(Exception):
    """A shape or type rule failed; the elaborator adds the span and the op name."""


class LoweringError(Exception):
    """An op cannot be expressed in a backend (e.g. an ONNX opset) with these attributes."""


REQUIRED = object()

# Kinds of arguments. Tensor kinds become node inputs; the others become attributes.
TENSOR_KINDS = ("tensor", "tensors")
ATTR_KINDS = ("int", "float", "bool", "str", "ints", "floats", "table", "init", "any")


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
    fan_in: int = 1
    fan_out: int = 1
    dtype: str = "f32"


def _no_params(attrs, types):
    return {}


def _no_macs(attrs, types, outs):
    return 0


@dataclass(frozen=True)
class OpDef:
    name: str
    doc: str
    args: tuple[Arg, ...]
    infer: Callable[[dict, list[TensorType]], list[TensorType]]
    torch: Callable
    onnx: Callable
    params: Callable[[dict, list[TensorType]], dict[str, ParamSpec]] = _no_params
    macs: Callable[[dict, list[TensorType], list[TensorType]], int] = _no_macs
    tolerance: float = 1e-5
    traits: frozenset = field(default_factory=frozenset)
    min_opset: int = 13

    @property
    def tensor_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.kind in TENSOR_KINDS)


REGISTRY: dict[str, OpDef] = {}


def register(*ops: OpDef) -> None:
    for op in ops:
        if op.name in REGISTRY:
            raise RuntimeError(f"op {op.name!r} registered twice")
        REGISTRY[op.name] = op


def get(name: str) -> OpDef | None:
    _load()
    return REGISTRY.get(name)


def all_ops() -> dict[str, OpDef]:
    _load()
    return REGISTRY


def _load() -> None:
    if not REGISTRY:
        from . import (activation, arith, conv, dense, norm, parameter, pool,  # noqa: F401
                       special, tensor)
