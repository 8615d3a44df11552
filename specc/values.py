"""Compile-time values of the language: numbers, strings, lists (tuples), tensors, callables."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ast as A
from .ir import Init, TensorType


class _Poison:
    """Stands for a value whose computation already failed; it silences follow-on errors."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<error>"


POISON = _Poison()


@dataclass(frozen=True)
class Tensor:
    name: str  # the IR value it refers to
    type: TensorType


@dataclass(frozen=True)
class BlockRef:
    defn: A.BlockDef
    module: object  # the ModuleScope that defines it (its globals)


@dataclass(frozen=True)
class NetworkRef:
    defn: A.NetworkDef
    module: object
    bound: tuple = ()  # ((name, value), ...) bound by presets
    name: str = ""  # preset name, or the definition's name
    reference: dict | None = field(default=None, compare=False)  # a preset's own section

    @property
    def is_preset(self) -> bool:
        return self.name != self.defn.name

    @property
    def display(self) -> str:
        return self.name or self.defn.name


@dataclass(frozen=True)
class OpRef:
    name: str


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: object = field(compare=False)


@dataclass(frozen=True)
class Record:
    """A named constructor applied to keyword arguments, e.g. sgd(lr=0.1) in a recipe."""

    kind: str
    fields: tuple  # ((name, value), ...)

    def as_dict(self) -> dict:
        return {"name": self.kind, **dict(self.fields)}


def type_name(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if v is None:
        return "none"
    if isinstance(v, tuple):
        return "list"
    if isinstance(v, Tensor):
        return f"tensor {v.type}"
    if isinstance(v, BlockRef):
        return f"block '{v.defn.name}'"
    if isinstance(v, NetworkRef):
        return f"network '{v.display}'"
    if isinstance(v, OpRef):
        return f"op '{v.name}'"
    if isinstance(v, Builtin):
        return f"function '{v.name}'"
    if isinstance(v, Init):
        return "initialiser"
    if isinstance(v, Record):
        return f"'{v.kind}'"
    return type(v).__name__


def show(v) -> str:
    """A short rendering of a value for error messages."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, tuple):
        inner = ", ".join(show(x) for x in v[:6])
        return f"[{inner}{', ...' if len(v) > 6 else ''}]"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return f'"{v}"'
    return type_name(v)
