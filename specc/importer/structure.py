"""Repeated subgraphs -> blocks and loops, so that an imported network reads like a spec.

How block discovery works:

1. **Scopes from names.** Every op's path is its state-dict name (`layer1.0.conv1`), so the
   names already draw the model's module tree: `layer1.0` holds `conv1`, `bn1`, ...; `layer1`
   holds `0`, `1`, `2`. A scope whose children are numbered is a chain (PyTorch's
   `nn.Sequential`); any other scope is a candidate block instance.
2. **An instance** is a scope whose ops take some values from outside (its arguments, in the
   order they are first read) and leave exactly one value to the rest of the network (its
   result). Its *signature* is its ops in order, each with its name inside the scope, its op,
   where each input comes from (an argument, an earlier op, a number) and the names of its
   attributes -- the attribute values left out.
3. **Families.** Instances with the same signature are one block, found deepest first, so a
   block may call blocks found below it (GoogLeNet's inception calls its conv-bn-relu unit).
   An instance that differs from a family only by one extra chain on the way from an
   argument (ResNet's `downsample` projection) joins it: the block takes a bool and writes
   `shortcut = down ? x |> conv(...) |> batchnorm as "downsample" : x`.
4. **Parameters.** An attribute (or number) that differs between the instances becomes a
   parameter of the block; attributes equal in every instance share one, and one that is an
   integer multiple of another in every instance is written as that multiple (`channels * 4`).
5. **Loops.** Calls that are the numbered stages of a chain (`layer1.0`, `layer1.1`, ...) are
   a `for` loop whose `x |> block(...) as "layer1"` numbers them again; chains named like
   `layer1` ... `layer4` with the same block become an outer loop over stages, with each
   argument written as a constant, a formula of the loop indices (`64 * 2 ** stage`,
   `i == 0`), or a list indexed by them.

Everything else is written flat. The result is checked by loading it: the same operations,
attributes, parameters and wiring as the flat import, or the flat text is used instead."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..ir.graph import Graph, Node
from ..ir.sym import Sym
from ..ops import registry
from ..ops.registry import Trait
from . import names
from .emit import _compact

_NUMBERED = re.compile(r"^\d+$")


# ----------------------------------------------------------------------- items
@dataclass(eq=False)
class Call:
    """An instance of a block: its scope path, tensor arguments and parameter values."""

    path: str
    block: "Block"
    args: list[str]  # IR values
    values: dict  # block parameter -> value
    output: str
    members: list  # the items it stands for (nodes or calls)

    @property
    def name(self) -> str:
        return self.path


@dataclass(eq=False)
class Block:
    name: str
    template: list  # the first instance's members
    prefix: str  # the first instance's scope + "."
    args: list[str]  # its argument names (tensors)
    params: list[str]  # its other parameters, in order
    slots: dict  # (member index, attr) -> parameter expression text
    defaults: dict = field(default_factory=dict)
    optional: tuple | None = None  # (bool param, member indices of the optional chain)
    output: int = -1  # which member makes the result


def _path(item) -> str:
    return item.name


def _inputs(item) -> list[str]:
    return list(item.inputs) if isinstance(item, Node) else list(item.args)


def _output(item) -> str:
    return item.outputs[0] if isinstance(item, Node) else item.output


# ----------------------------------------------------------------- discovery
class Structure:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.const = {n.outputs[0]: n for n in graph.nodes
                      if Trait.INTERNAL in registry.get(n.op).traits}
        self.items = [n for n in graph.nodes if n.outputs[0] not in self.const]
        self.blocks: list[Block] = []
        self.used_names: set[str] = set()

    def discover(self) -> None:
        """Rounds: every scope that could be an instance is grouped by signature (at any
        depth, so one conv-bn-relu unit serves the stem and the inception branches alike);
        the innermost families become blocks and their instances calls; then again, until
        nothing new repeats."""
        while True:
            scopes = sorted({".".join(_path(i).split(".")[:d]) for i in self.items
                             for d in range(1, _path(i).count(".") + 1)})
            found = [s for s in (self._instance(s) for s in scopes) if s is not None]
            families = _families(found)
            inner = [f for f in families if not any(
                g is not f and any(i.scope.startswith(h.scope + ".") for h in f for i in g)
                for g in families)]
            if not inner:
                return
            for family in inner:
                self._make_block(family)

    def _instance(self, scope: str):
        """The scope's items (and the op named the scope itself, when it owns no parameters:
        how an export names the result of an op it wrote as several), if they make an
        instance."""
        prefix = scope + "."
        members = [i for i in self.items if _path(i).startswith(prefix) or (
            _path(i) == scope and isinstance(i, Node) and not i.params)]
        if not members or _is_chain_scope(members, prefix):
            return None
        inside = {_output(m) for m in members}
        args, outs = [], []
        for m in members:
            for v in _inputs(m):
                if v not in inside and v not in self.const and v not in args:
                    args.append(v)
        readers = [i for i in self.items if i not in members]
        used = {v for r in readers for v in _inputs(r)} | set(self.graph.outputs.values())
        outs = [m for m in members if _output(m) in used]
        if len(outs) != 1:
            return None
        return Instance(scope, members, args, members.index(outs[0]),
                        self._signature(members, prefix, args))

    def _signature(self, members, prefix, args) -> tuple:
        index = {_output(m): k for k, m in enumerate(members)}
        sig = []
        for m in members:
            refs = tuple(("a", args.index(v)) if v in args else ("n", index[v]) if v in index
                         else ("c", self.const[v].attrs["dtype"]) for v in _inputs(m))
            if isinstance(m, Node):
                sig.append((_path(m)[len(prefix):], m.op, refs, tuple(sorted(m.attrs))))
            else:
                sig.append((_path(m)[len(prefix):], "call:" + m.block.name, refs,
                            tuple(m.block.params)))
        return tuple(sig)

    def _make_block(self, family: list["Instance"]) -> None:
        first = family[0]
        name = self._block_name(first.scope)
        slots, values, params = _parameters(family, self._slot_values)
        block = Block(name, first.members, first.scope + ".",
                      [f"x{k}" if k else "x" for k in range(len(first.args))], params, slots,
                      output=first.output)
        if first.optional is not None:
            block.optional = first.optional
        block.defaults = {p: _most_common([v[p] for v in values]) for p in params}
        self.blocks.append(block)
        for inst, vals in zip(family, values):
            call = Call(inst.scope, block, inst.args, vals, _output(inst.members[inst.output]),
                        inst.members)
            at = max(self.items.index(m) for m in inst.members)
            self.items[at] = call
            self.items = [i for i in self.items if i is call or i not in inst.members]

    def _slot_values(self, inst: "Instance") -> dict:
        """(member index, attribute or input position) -> value, for every member."""
        out = {}
        for k, m in enumerate(inst.members):
            if isinstance(m, Node):
                kinds = {a.name: a.kind for a in registry.get(m.op).args}
                for a, v in m.attrs.items():
                    if not _is_init(v):
                        out[(k, a)] = _compact(kinds.get(a), v)
                for j, v in enumerate(m.inputs):
                    if v in self.const:
                        out[(k, f"#{j}")] = self.const[v].attrs["value"]
            else:
                for p, v in m.values.items():
                    out[(k, p)] = v
        return out

    def _block_name(self, scope: str) -> str:
        """After the scope (its container's, for a numbered one), less its numbering:
        'layer1.0' -> 'layer', 'inception3a' -> 'inception'."""
        parts = scope.split(".")
        leaf = parts[-2] if _NUMBERED.match(parts[-1]) and len(parts) > 1 else parts[-1]
        base = names.identifier(re.sub(r"_?\d+[a-z]?$", "", leaf) or "unit", "block")
        if base in names.RESERVED or registry.get(base) is not None:
            base += "_block"
        name, n = base, 1
        while name in self.used_names:
            n += 1
            name = f"{base}{n}"
        self.used_names.add(name)
        return name


@dataclass(eq=False)
class Instance:
    scope: str
    members: list
    args: list[str]
    output: int
    sig: tuple
    optional: tuple | None = None


def _is_chain_scope(members, prefix: str) -> bool:
    heads = {_path(m)[len(prefix):].split(".")[0] for m in members}
    return all(_NUMBERED.match(h) for h in heads)


def _is_init(v) -> bool:
    from ..ir.graph import Init
    return isinstance(v, Init)


def _families(found: list[Instance]) -> list[list[Instance]]:
    """Instances grouped by signature; an instance with one optional chain more joins the
    family it otherwise matches. Only groups of two or more make blocks."""
    groups: dict[tuple, list[Instance]] = {}
    for inst in found:
        groups.setdefault(inst.sig, []).append(inst)
    sigs = list(groups)
    for a in sigs:
        for b in sigs:
            if a in groups and b in groups and a != b and _extends(a, b):
                _merge(groups, a, b)
    return [g for g in groups.values() if len(g) >= 2]


def _extends(a: tuple, b: tuple) -> bool:
    """Is `a` signature `b` plus one chain (numbered members under one name) that turns an
    argument into what `b` reads from that argument directly?"""
    if len(a) <= len(b):
        return False
    return _without_chain(a) is not None and _without_chain(a)[0] == b


def _without_chain(sig: tuple):
    """(signature without its one chain, chain member indices, chain head name) or None."""
    heads = {}
    for k, (rel, *_rest) in enumerate(sig):
        parts = rel.split(".")
        if len(parts) == 2 and _NUMBERED.match(parts[1]):
            heads.setdefault(parts[0], []).append(k)
    if len(heads) != 1:
        return None
    (head, idx), = heads.items()
    if idx != list(range(idx[0], idx[0] + len(idx))):
        return None
    first = sig[idx[0]][2]
    if not first or first[0][0] != "a":
        return None
    for k in idx[1:]:
        if sig[k][2][:1] != (("n", k - 1),):
            return None
    source, last = first[0], idx[-1]
    kept = []
    for k, (rel, op, refs, attrs) in enumerate(sig):
        if k in idx:
            continue
        new = []
        for r in refs:
            if r == ("n", last):
                r = source
            elif r[0] == "n" and r[1] in idx:
                return None
            elif r[0] == "n" and r[1] > last:
                r = ("n", r[1] - len(idx))
            new.append(r)
        kept.append((rel, op, tuple(new), attrs))
    return tuple(kept), idx, head


def _merge(groups: dict, a: tuple, b: tuple) -> None:
    """Family b (without the chain) joins family a: its instances are given a's signature
    with the chain marked absent."""
    _, idx, head = _without_chain(a)
    for inst in groups[a]:
        inst.optional = (head, idx, True)
    for inst in groups.pop(b):
        inst.optional = (head, idx, False)
        inst.sig = a
        groups[a].append(inst)


# ---------------------------------------------------------------- parameters
def _parameters(family: list[Instance], slot_values):
    """Each varying slot -> a parameter (shared by slots equal in every instance, or a
    multiple of one); returns (slots -> expression text, per-instance {param: value},
    param names)."""
    base = family[0]
    full = [i for i in family if i.optional is None or i.optional[2]]
    per = [slot_values(i) for i in family]
    keys = list(per[family.index(full[0])] if full else per[0])
    slots, params, vectors = {}, [], {}
    values = [{} for _ in family]
    for key in keys:
        vec = [p.get(key, _ABSENT) for p in per]
        present = [v for v in vec if v is not _ABSENT]
        if all(_eq(v, present[0]) for v in present) and not symbolic(present[0]):
            continue  # a symbolic size is always a parameter: a block cannot name T
        found = _relation(vec, vectors)
        if found is not None:
            slots[key] = found
            continue
        name = _param_name(key, base, params)
        params.append(name)
        vectors[name] = vec
        slots[key] = name
        for k, v in enumerate(vec):
            values[k][name] = v if v is not _ABSENT else _fill(vectors, vec, k)
    if base.optional is not None:
        head = names.identifier(base.optional[0], "part")
        params.append(head)
        for k, inst in enumerate(family):
            values[k][head] = inst.optional[2]
    return slots, values, params


_ABSENT = object()


def symbolic(v) -> bool:
    """A value that holds a symbolic size (T, [H//16, W//16]): the input's dims are names of
    the network's scope only, so a block takes it from its caller."""
    if isinstance(v, (tuple, list)):
        return any(symbolic(x) for x in v)
    return isinstance(v, Sym)


def _eq(a, b) -> bool:
    return type(a) is type(b) and a == b


def _fill(vectors, vec, k):
    """A value for an instance that lacks the slot (its optional chain is absent): any value
    the others use keeps the call valid; it is never read."""
    return next(v for v in vec if v is not _ABSENT)


def _relation(vec, vectors) -> str | None:
    """The name of an existing parameter equal to this slot in every instance that has it,
    or that times an integer."""
    for name, other in vectors.items():
        pairs = [(v, o) for v, o in zip(vec, other) if v is not _ABSENT and o is not _ABSENT]
        if not pairs:
            continue
        if all(_eq(v, o) for v, o in pairs):
            return name
        if all(type(v) is int and type(o) is int and o != 0 for v, o in pairs):
            ratios = {v / o for v, o in pairs}
            if len(ratios) == 1:
                r = ratios.pop()
                if r == int(r) and r > 1:
                    return f"{name} * {int(r)}"
    return None


def _param_name(key, inst, taken: list[str]) -> str:
    k, attr = key
    member = inst.members[k]
    if attr.startswith("#"):
        base = "scale"
    else:
        base = attr
    base = names.identifier(base, "p")
    if base in taken or base in ("x",) or base in names.RESERVED:
        rel = _path(member)[len(inst.scope) + 1:].replace(".", "_")
        base = names.identifier(f"{rel}_{base}", "p")
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _most_common(values: list):
    counts: list = []
    for v in values:
        for entry in counts:
            if _eq(entry[0], v):
                entry[1] += 1
                break
        else:
            counts.append([v, 1])
    return max(counts, key=lambda e: e[1])[0]
