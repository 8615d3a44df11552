"""The abstract syntax tree: frozen dataclasses, one per grammar alternative, each with a span."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.source import Span


@dataclass(frozen=True)
class Node:
    span: Span


# ----------------------------------------------------------------- expressions
@dataclass(frozen=True)
class ExprLit(Node):
    value: object  # int | float | str | bool | None


@dataclass(frozen=True)
class ExprName(Node):
    name: str


@dataclass(frozen=True)
class ExprList(Node):
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class ExprBinary(Node):
    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class ExprUnary(Node):
    op: str  # "-", "+", "not"
    operand: "Expr"


@dataclass(frozen=True)
class ExprBool(Node):
    op: str  # "and" | "or"
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class ExprTernary(Node):
    cond: "Expr"
    then: "Expr"
    other: "Expr"


@dataclass(frozen=True)
class Arg(Node):
    name: str | None  # None for a positional argument
    value: "Expr"


@dataclass(frozen=True)
class ExprCall(Node):
    callee: "Expr"
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class ExprPipe(Node):
    source: "Expr"
    stage: "Expr"  # ExprCall or ExprName: the source becomes its first argument


@dataclass(frozen=True)
class ExprIndex(Node):
    target: "Expr"
    index: "Expr"


@dataclass(frozen=True)
class ExprAttr(Node):
    target: "Expr"
    attr: str


@dataclass(frozen=True)
class ExprLabel(Node):
    """`value as "name"` inside an expression (a list item, an argument, a chain stage in
    brackets): the path the value's outermost op, block or chain is named with. A label
    after a statement's whole value is the statement's `label` instead."""

    value: "Expr"
    label: "Expr"


Expr = (ExprLit | ExprName | ExprList | ExprBinary | ExprUnary | ExprBool | ExprTernary
        | ExprCall | ExprPipe | ExprIndex | ExprAttr | ExprLabel)


# ----------------------------------------------------------------------- types
@dataclass(frozen=True)
class TypeScalar(Node):
    name: str  # int, float, bool, str, block, tensor


@dataclass(frozen=True)
class TypeList(Node):
    item: "Type"


@dataclass(frozen=True)
class TypeTensor(Node):
    dtype: str
    dims: tuple[Expr, ...]


Type = TypeScalar | TypeList | TypeTensor


# ------------------------------------------------------------------ statements
@dataclass(frozen=True)
class StmtAssign(Node):
    target: str
    value: Expr
    label: Expr | None  # `as "name"`: an explicit path for what this binds


@dataclass(frozen=True)
class StmtDestructure(Node):
    targets: tuple[str, ...]
    value: Expr
    label: Expr | None = None


@dataclass(frozen=True)
class StmtInput(Node):
    name: str
    type: Type


@dataclass(frozen=True)
class StmtOutput(Node):
    name: str
    value: Expr | None
    train_only: bool = False  # `train output aux = ...`: used by the loss, dropped on export
    label: Expr | None = None  # `output y = f(x) as "head"`: the path of what it computes


@dataclass(frozen=True)
class StmtParam(Node):
    name: str
    type: Type
    init: Expr
    trainable: bool  # `param`; `fixed` and `const` are not trained
    saved: bool = True  # `const`: rebuilt from the spec, never in the state dict


@dataclass(frozen=True)
class StmtFor(Node):
    var: str
    var2: str | None
    iterable: Expr
    body: tuple["Stmt", ...]


@dataclass(frozen=True)
class StmtIf(Node):
    cond: Expr
    then: tuple["Stmt", ...]
    other: tuple["Stmt", ...]


@dataclass(frozen=True)
class StmtAssert(Node):
    cond: Expr
    message: Expr | None


@dataclass(frozen=True)
class StmtReturn(Node):
    values: tuple[Expr, ...]
    label: Expr | None = None  # `return x |> f |> g as "name"`: the path of what it returns


@dataclass(frozen=True)
class RecipeItem(Node):
    key: str
    value: Expr


@dataclass(frozen=True)
class StmtTrain(Node):
    items: tuple[RecipeItem, ...]


@dataclass(frozen=True)
class StmtReference(Node):
    """`reference { source = "..." top1_error = 29.6 ... }`: what the paper reports."""

    items: tuple[RecipeItem, ...]


@dataclass(frozen=True)
class StmtDoc(Node):
    text: str


Stmt = (StmtAssign | StmtDestructure | StmtInput | StmtOutput | StmtParam | StmtFor | StmtIf
        | StmtAssert | StmtReturn | StmtTrain | StmtReference | StmtDoc)


# --------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Param(Node):
    name: str
    type: Type | None
    default: Expr | None


@dataclass(frozen=True)
class BlockDef(Node):
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]

    @property
    def doc(self) -> str:
        return _doc(self.body)


@dataclass(frozen=True)
class NetworkDef(Node):
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]

    @property
    def doc(self) -> str:
        return _doc(self.body)


@dataclass(frozen=True)
class NetworkPreset(Node):
    name: str
    value: Expr
    reference: StmtReference | None = None  # its own figures; a preset never inherits them


@dataclass(frozen=True)
class Import(Node):
    path: str


@dataclass(frozen=True)
class ConstDef(Node):
    name: str
    value: Expr


@dataclass(frozen=True)
class Module(Node):
    version: int | None
    items: tuple[BlockDef | NetworkDef | NetworkPreset | Import | ConstDef, ...]


def _doc(body: tuple[Stmt, ...]) -> str:
    return body[0].text if body and isinstance(body[0], StmtDoc) else ""
