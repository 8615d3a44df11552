"""The Graph IR: typed, shaped values; nodes naming registry ops; parameters with initialisers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..core.source import Span

Dim = Union[int, str]  # an int, or a symbol such as "N"

FLOAT_DTYPES = ("f16", "bf16", "f32", "f64")
DTYPES = FLOAT_DTYPES + ("i32", "i64", "bool")
DTYPE_BYTES = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1}


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple[Dim, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def batched(self) -> bool:
        """A tensor has a batch dim when its first dim is a symbol (inputs declare it, `N`);
        parameters and constants, whose dims are all known, have none."""
        return bool(self.shape) and isinstance(self.shape[0], str)

    def per_sample(self) -> int | None:
        """Elements of one sample (all dims but the batch dim), or None when symbolic."""
        n = 1
        for d in self.shape[1:] if self.batched else self.shape:
            if not isinstance(d, int):
                return None
            n *= d
        return n

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Init:
    """An initialiser: a name and its arguments (`he_normal`, `uniform(-a, a)`, constants)."""

    kind: str
    args: tuple = ()

    def __str__(self) -> str:
        if self.kind == "values":
            return "values(...)"
        return self.kind + (f"({', '.join(repr(a) for a in self.args)})" if self.args else "")


@dataclass
class Param:
    """A parameter or buffer. `trainable=False` means fixed (a buffer, never updated by the
    optimiser); `state=True` marks running statistics such as batch norm's mean;
    `saved=False` marks a constant: rebuilt from the spec, never in the state dict."""

    name: str
    shape: tuple[int, ...]
    init: Init
    dtype: str = "f32"
    trainable: bool = True
    state: bool = False
    fan_in: int = 1
    fan_out: int = 1
    span: Span | None = None
    saved: bool = True

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class Value:
    name: str
    type: TensorType
    producer: str | None = None  # node name; None for graph inputs


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict
    params: dict[str, str]  # role -> Param name
    span: Span | None = None
    macs: int = 0


@dataclass
class Graph:
    name: str
    doc: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> value name
    nodes: list[Node] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)
    params: dict[str, Param] = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    learning: dict = field(default_factory=dict)  # param name -> rules.LearnUse (learn=...)
    reference: dict = field(default_factory=dict)  # the paper's figures (elab/reference.py)
    meta: dict = field(default_factory=dict)  # spec path, hash, preprocessing, labels
    span: Span | None = None
    input_spans: dict = field(default_factory=dict)  # input name -> its declaration

    def node(self, name: str) -> Node:
        """The node called `name`, through an index rebuilt whenever the node list changed
        (passes replace it), so that looking up every node stays linear."""
        key = (id(self.nodes), len(self.nodes))
        index = getattr(self, "_index", None)
        if index is None or index[0] != key or name not in index[1] \
                or index[1][name].name != name:
            index = (key, {n.name: n for n in self.nodes})
            self._index = index
        return index[1][name]

    @property
    def trainable_params(self) -> int:
        return sum(p.numel for p in self.params.values() if p.trainable)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def users(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {v: [] for v in self.values}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n)
        return out

    def dump(self) -> str:
        """A stable text form: one line per input, parameter, node and output, each with its shape."""
        lines = [f"graph {self.name} {{"]
        for name in self.inputs:
            lines.append(f"  input %{name}: {self.values[name].type}")
        for p in self.params.values():
            kind = "param" if p.trainable else ("state" if p.state else
                                                ("fixed" if p.saved else "const"))
            rule = f" learns {self.learning[p.name].value}" if p.name in self.learning else ""
            lines.append(f"  {kind} {p.name}: {p.dtype}{list(p.shape)} = {p.init}{rule}")
        for n in self.nodes:
            outs = ", ".join(f"%{o}: {self.values[o].type}" for o in n.outputs)
            args = [f"%{i}" for i in n.inputs] + [f"{k}={_attr(v)}" for k, v in n.attrs.items()]
            owned = "; " + ", ".join(f"{r}=@{p}" for r, p in n.params.items()) if n.params else ""
            lines.append(f"  {outs} = {n.op}({', '.join(args)}{owned})")
        for name, value in self.outputs.items():
            lines.append(f"  output {name} = %{value}: {self.values[value].type}")
        lines.append("}")
        return "\n".join(lines)


def _attr(v) -> str:
    if isinstance(v, tuple) and len(v) > 8:
        return f"[{len(v)} items]"
    if isinstance(v, tuple):
        return "[" + ", ".join(_attr(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Init):
        return str(v)
    return repr(v) if isinstance(v, str) else str(v)
