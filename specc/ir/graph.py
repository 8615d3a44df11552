"""The Graph IR: typed, shaped values; nodes naming registry ops; parameters with initialisers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..core.source import Span
from .cond import Cond, learn
from .sym import Facts, Sym, assuming, facts
from .sym_parse import parse

Dim = Union[int, Sym]  # an int, or a symbolic expression such as N or (H+1)//2 (ir/sym.py)

# The dtypes a TensorType may hold: specc/core/dtypes.py (one row each, every stage's name)


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple[Dim, ...]

    def __post_init__(self):
        """A dim given as text ("N", "(H+1)//2") becomes a Sym: shape rules may build them
        either way."""
        if any(type(d) is str for d in self.shape):
            object.__setattr__(self, "shape", tuple(parse(d) if type(d) is str else d
                                                    for d in self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def batched(self) -> bool:
        """A tensor has a batch dim when its first dim is the batch symbol (each input's
        leading symbol, `N`); parameters and constants, whose dims are all known, have none,
        nor has a positional table sliced to a sequence length [T, C]."""
        if not self.shape or not isinstance(self.shape[0], Sym):
            return False
        batch = facts().batch
        return not batch or str(self.shape[0]) in batch

    def per_sample(self) -> Dim:
        """Elements of one sample (all dims but the batch dim): an int, or a formula in the
        symbolic dims."""
        n = 1
        for d in self.shape[1:] if self.batched else self.shape:
            n = n * d
        return n

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"


# The initialisers' arguments, by name and in the order an Init holds them: torch.nn.init's
# names (normal_(mean, std), uniform_(a, b), constant_(val), kaiming_*(a), xavier_*(gain),
# trunc_normal_(mean, std, a, b)). The elaborator's builtins make Inits by these names.
INIT_ARGS = {"normal": ("mean", "std"), "trunc_normal": ("mean", "std", "a", "b"),
             "uniform": ("a", "b"), "constant": ("val",), "he_normal": ("a",),
             "he_uniform": ("a",), "glorot_normal": ("gain",), "glorot_uniform": ("gain",),
             "fan_in_uniform": ("scale",), "bipolar": ("seed", "density")}


@dataclass(frozen=True)
class Init:
    """An initialiser: a name and its arguments (`he_normal`, `uniform(-a, a)`, constants),
    shown as the spec writes it (`normal(mean=0.0, std=0.01)`)."""

    kind: str
    args: tuple = ()

    def __str__(self) -> str:
        if self.kind == "values":
            return "values(...)"
        if not self.args:
            return self.kind
        names = INIT_ARGS.get(self.kind, ())
        if self.kind in ("uniform", "constant", "fan_in_uniform", "bipolar"):  # positional reads
            names = ()
        shown = [f"{n}={a!r}" if n else repr(a) for n, a in
                 zip(list(names) + [""] * len(self.args), self.args)]
        return f"{self.kind}({', '.join(shown)})"


@dataclass(frozen=True)
class ParamRef:
    """A declared parameter an op uses instead of owning one (`linear(h, weight=wte)`):
    the value its declaration made, and its type (what the op's shape rule reads)."""

    name: str
    type: TensorType

    def __str__(self) -> str:
        return f"%{self.name}"


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
    # more names of this one tensor in the state dict: the roles of the ops that use it as
    # their own (a tied LM head: `lm_head.weight` beside `transformer.wte.weight`)
    aliases: tuple[str, ...] = ()

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Assumption:
    """A condition on symbolic sizes the spec states with `assert` (`H % 32 == 0`,
    `T <= 64`): shape rules may rely on it, and every run checks it."""

    cond: Cond
    message: str = ""
    span: Span | None = None


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
    recipe_spans: dict = field(default_factory=dict)  # recipe key -> its span (diagnostics)
    learning: dict = field(default_factory=dict)  # param name -> rules.LearnUse (learn=...)
    reference: dict = field(default_factory=dict)  # the paper's figures (elab/reference.py)
    meta: dict = field(default_factory=dict)  # spec path, hash, preprocessing, labels
    span: Span | None = None
    assumptions: list = field(default_factory=list)  # Assumption, in the order stated
    input_spans: dict = field(default_factory=dict)  # input name -> its declaration

    def facts(self) -> Facts:
        """What shape rules may assume about the symbolic sizes: the inputs' batch symbols
        and what the assumptions say about single names."""
        f = Facts()
        for name in self.inputs:
            shape = self.values[name].type.shape
            if shape and isinstance(shape[0], Sym) and shape[0].is_name():
                f.batch.add(str(shape[0]))
        for a in self.assumptions:
            learn(f, a.cond)
        return f

    def assumes(self) -> list[list[str]]:
        """The assumptions as data a model carries: [condition, message, where], where is
        the spec file's name (no local path) and line."""
        return [[str(a.cond), a.message,
                 f"{a.span.source.path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{a.span.line}"
                 if a.span else ""] for a in self.assumptions]

    def assumed(self):
        """A context in which shape rules see this graph's facts (ir/sym.py assuming)."""
        return assuming(self.facts())

    def symbols(self) -> list[str]:
        """The symbolic sizes the inputs declare, in order, batch symbols first."""
        batch, other = [], []
        for name in self.inputs:
            for i, d in enumerate(self.values[name].type.shape):
                for s in sorted(d.names()) if isinstance(d, Sym) else ():
                    (batch if i == 0 else other).append(s)
        return list(dict.fromkeys(batch + [s for s in other if s not in batch]))

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
        for a in self.assumptions:
            lines.append(f"  assume {a.cond}")
        for p in self.params.values():
            kind = "param" if p.trainable else ("state" if p.state else
                                                ("fixed" if p.saved else "const"))
            rule = f" learns {self.learning[p.name].value}" if p.name in self.learning else ""
            also = f" (also {', '.join(p.aliases)})" if p.aliases else ""
            lines.append(f"  {kind} {p.name}: {p.dtype}{list(p.shape)} = {p.init}{rule}{also}")
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
