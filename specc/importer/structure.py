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
from ..ops import registry
from . import names
from .emit import Emitter, Expr, _compact, call_text, literal, number

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
                      if "internal" in registry.get(n.op).traits}
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
        if all(_eq(v, present[0]) for v in present):
            continue
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


# ------------------------------------------------------------------- writing
def structured_text(graph: Graph, doc: str) -> str | None:
    """The network as blocks and loops, or None when nothing repeats."""
    s = Structure(graph)
    s.discover()
    if not s.blocks:
        return None
    lines = ["specc 1", ""]
    for block in s.blocks:
        lines += _block_text(block, s) + [""]
    lines += _network_text(graph, s, doc)
    return "\n".join(lines) + "\n"


def _block_text(block: Block, s: Structure) -> list[str]:
    args = block.args + [p + _type_of(block, p) for p in block.params]
    lines = [f"block {block.name}({', '.join(args)}) {{"]
    body = _Body(s, block.prefix, {v: Expr(a) for v, a in zip(_first_args(block, s),
                                                              block.args)}, block)
    out = _output(block.template[block.output])
    body.uses[out] = 1  # the result is written in the `return`
    body.items(block.template)
    lines += ["    " + line for line in body.lines]
    lines.append(f"    return {body.env[out].text}")
    lines.append("}")
    return lines


def _first_args(block: Block, s: Structure) -> list[str]:
    """The values the template reads from outside it (numbers aside), in the order the
    instances' arguments were found."""
    inside = {_output(m) for m in block.template}
    out = []
    for m in block.template:
        for v in _inputs(m):
            if v not in inside and v not in s.const and v not in out:
                out.append(v)
    return out


def _type_of(block: Block, param: str) -> str:
    """`: type = default` of a block parameter (its most common value)."""
    v = block.defaults.get(param)
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(v))
    if kind is None and isinstance(v, tuple) and all(type(x) is int for x in v):
        kind = "[int]"
    return f": {kind} = {literal(v)}" if kind else ""


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


class _Body(Emitter):
    """Statements of a scope: nodes (with a block's parameters in place of the attributes
    that vary), calls of blocks, chains and loops of chains."""

    def __init__(self, s: Structure, prefix: str, env: dict, block: Block | None = None):
        super().__init__(s.graph, prefix, env)
        self.s, self.block = s, block
        for v, n in s.const.items():
            self.env[v] = Expr(_paren(number(n.attrs["value"], n.attrs["dtype"])))
        self.vars |= set(block.args + block.params) if block else set()

    def items(self, items: list) -> None:
        k = 0
        while k < len(items):
            run = self._chain_run(items, k)
            if run:
                runs = self._stage_runs(items, k, run)
                if len(runs) >= 2:
                    self._stage_loop(runs)
                    k += sum(len(r) for r in runs)
                    continue
                self._chain(items[k:k + run])
                k += run
                continue
            self.item(items[k], k)
            k += 1

    def item(self, item, k: int) -> None:
        overrides = self._overrides(k) if self.block else {}
        if isinstance(item, Call):
            return self._call(item, overrides)
        if overrides:
            return self._node_with(item, overrides)
        self.node(item)

    def _overrides(self, k: int) -> dict:
        return {attr: text for (i, attr), text in self.block.slots.items() if i == k}

    def _node_with(self, node: Node, overrides: dict) -> None:
        args = []
        for j, v in enumerate(node.inputs):
            text = overrides.get(f"#{j}")
            args.append(Expr(text, 4) if text is not None else self.env[v])
        self.bind(node, call_text(node, args, texts={a: t for a, t in overrides.items()
                                                      if not a.startswith("#")}))

    def _call(self, call: Call, overrides: dict | None = None) -> None:
        text = _call_text(call, [self.env[a] for a in call.args], texts=overrides)
        rel = call.path[len(self.prefix):] if call.path.startswith(self.prefix) else call.path
        if names.is_path(rel) and "." not in rel and rel not in self.vars \
                and rel not in names.RESERVED:
            var, label = rel, ""
        else:
            var, label = self.fresh(rel.rpartition(".")[2] or "y"), f' as "{rel}"'
        self.vars.add(var)
        self.lines.append(f"{var} = {text}{label}")
        self.env[call.output] = Expr(var)

    # ------------------------------------------------------------- chains
    def _chain_run(self, items: list, k: int) -> int:
        """How many items from k on are the numbered stages 0, 1, ... of one chain, each
        reading the one before (0 if they are not)."""
        first = items[k]
        rel = _path(first)[len(self.prefix):] if _path(first).startswith(self.prefix) else None
        if rel is None or "." not in rel:
            return 0
        head, num = rel.rsplit(".", 1)
        if num != "0" or not names.is_path(head):
            return 0
        n = 1
        while k + n < len(items):
            nxt = items[k + n]
            if _path(nxt) != f"{self.prefix}{head}.{n}" or not _inputs(nxt) or \
                    _inputs(nxt)[0] != _output(items[k + n - 1]):
                break
            n += 1
        inner = {_output(i) for i in items[k:k + n - 1]}
        for i in items[k + n:]:
            if inner & set(_inputs(i)):
                return 0
        if any(v in inner for v in self.graph.outputs.values()):
            return 0
        uses_inside = sum(1 for i in items[k + 1:k + n] for v in _inputs(i) if v in inner)
        if uses_inside != n - 1:
            return 0
        optional = self.block.optional if self.block else None
        if optional and items[k] is self.block.template[optional[1][0]]:
            return n if n == len(optional[1]) else 0
        return n if n >= 2 or isinstance(first, Call) else 0

    def _chain(self, stages: list) -> None:
        head = _path(stages[0])[len(self.prefix):].rsplit(".", 1)[0]
        source = self.env[_inputs(stages[0])[0]].text
        calls = [st for st in stages if isinstance(st, Call)]
        if len(calls) == len(stages) and len({c.block.name for c in calls}) == 1 \
                and self._loopable(stages):
            return self._loop(head, source, stages)
        texts = [self._stage_text(st) for st in stages]
        optional = self.block.optional if self.block else None
        if optional and stages[0] is self.block.template[optional[1][0]]:
            var = self.fresh(head)
            chain = " |> ".join([source] + texts)
            self.lines.append(f'{var} = {optional[0]} ? {chain} : {source} as "{head}"')
            self.env[_output(stages[-1])] = Expr(var)
            return
        var = self.fresh(head) if head in self.vars or "." in head else head
        self.vars.add(var)
        label = "" if var == head else f' as "{head}"'
        self.lines.append(f"{var} = " + " |> ".join([source] + texts) + label)
        self.env[_output(stages[-1])] = Expr(var)

    def _stage_text(self, st) -> str:
        k = self.block.template.index(st) if self.block and st in self.block.template else -1
        overrides = self._overrides(k) if k >= 0 else {}
        if isinstance(st, Call):
            return _call_text(st, [self.env.get(a, Expr("_")) for a in st.args], stage=True,
                              texts=overrides)
        args = [self.env[v] if v in self.env else Expr("_") for v in st.inputs]
        return call_text(st, args, stage=True,
                         texts={a: t for a, t in overrides.items() if not a.startswith("#")}).text

    def _loopable(self, stages: list) -> bool:
        """A loop reads better than the chain written out when it has three stages or more,
        or its stages are the same call; inside a block, only when no stage takes one of
        the block's parameters."""
        if self.block and any(self._overrides(self.block.template.index(st))
                              for st in stages if st in self.block.template):
            return False
        same = all(st.values == stages[0].values for st in stages)
        return len(stages) >= 3 or same and len(stages) >= 2

    def _loop(self, head: str, source: str, stages: list) -> None:
        var = names.identifier(head.rpartition(".")[2], "x")
        if var in self.vars:
            var = self.fresh(var)
        self.vars.add(var)
        self.lines.append(f"{var} = {source}")
        block = stages[0].block
        grid = [[st.values[p] for st in stages] for p in block.params]
        args = [_index_expr(col, "i") for col in grid]
        extra = "".join(f", {a}" for a in _rest_args(stages[0], self.env))
        call = f"{block.name}({', '.join(_kw(block, args))}{extra})" if args or extra \
            else block.name
        call = call.replace("(, ", "(")
        self.lines.append(f"for i in range({len(stages)}) {{")
        self.lines.append(f'    {var} = {var} |> {call} as "{head}"')
        self.lines.append("}")
        self.env[_output(stages[-1])] = Expr(var)


def _stage_runs(self, items: list, k: int, run: int) -> list[list]:
    """Consecutive loopable chains of one block, named `head` + consecutive integers, each
    starting from the one before's result (at least the first; a list of runs)."""
    runs = [items[k:k + run]]
    if not self._loop_chain(runs[0]):
        return runs
    m = _HEAD.match(self._head(runs[0]))
    if not m:
        return runs
    j = k + run
    while j < len(items):
        n = self._chain_run(items, j)
        nxt = items[j:j + n]
        if not n or not self._loop_chain(nxt) or nxt[0].block is not runs[0][0].block \
                or _inputs(nxt[0])[0] != _output(runs[-1][-1]):
            break
        m2 = _HEAD.match(self._head(nxt))
        if not m2 or m2.group(1) != m.group(1) or \
                int(m2.group(2)) != int(m.group(2)) + len(runs):
            break
        runs.append(nxt)
        j += n
    return runs


def _stage_loop(self, runs: list[list]) -> None:
    m = _HEAD.match(self._head(runs[0]))
    word, first = m.group(1), int(m.group(2))
    source = self.env[_inputs(runs[0][0])[0]].text
    var = self.fresh("x")
    self.lines.append(f"{var} = {source}")
    block = runs[0][0].block
    depths = [len(r) for r in runs]
    args = []
    for p in block.params:
        grid = [[st.values[p] for st in r] for r in runs]
        text = _grid_expr(grid)
        if text != literal(block.defaults.get(p, _ABSENT)):
            args.append(f"{p}={text}")
    extra = [self.env[a].text for a in runs[0][0].args[1:]]
    call = f"{block.name}({', '.join(extra + args)})" if extra or args else block.name
    label = f'"{word}" + str(stage{" + " + str(first) if first else ""})'
    self.lines.append(f"for stage, depth in enumerate({literal(tuple(depths))}) {{")
    self.lines.append("    for i in range(depth) {")
    self.lines.append(f"        {var} = {var} |> {call} as {label}")
    self.lines.append("    }")
    self.lines.append("}")
    self.env[_output(runs[-1][-1])] = Expr(var)


def _head_of(self, run: list) -> str:
    return _path(run[0])[len(self.prefix):].rsplit(".", 1)[0]


def _loop_chain(self, run: list) -> bool:
    """Calls of one block, none taking a parameter of the block being written."""
    if not all(isinstance(st, Call) for st in run) or len({c.block.name for c in run}) != 1:
        return False
    return not (self.block and any(self._overrides(self.block.template.index(st))
                                   for st in run if st in self.block.template))


_Body._stage_runs = _stage_runs
_Body._stage_loop = _stage_loop
_Body._head = _head_of
_Body._loop_chain = _loop_chain
_HEAD = re.compile(r"^(.*?[A-Za-z_])(\d+)$")


def _vector_expr(values: list, index: str) -> str:
    """A value per step of a loop over `index`: a constant, one that differs at the first
    step, a geometric or arithmetic series of ints, or a list indexed by the step."""
    if all(_eq(v, values[0]) for v in values):
        return literal(values[0])
    if len(values) > 1 and all(_eq(v, values[1]) for v in values[1:]):
        a, b = values[0], values[1]
        if a is True and b is False:
            return f"{index} == 0"
        if a is False and b is True:
            return f"{index} > 0"
        return f"{index} == 0 ? {literal(a)} : {literal(b)}"
    if all(type(v) is int for v in values) and values[0]:
        ratio = values[1] / values[0]
        if ratio == int(ratio) and ratio > 1 and all(
                v == values[0] * int(ratio) ** k for k, v in enumerate(values)):
            return f"{values[0]} * {int(ratio)} ** {index}"
        step = values[1] - values[0]
        if all(v == values[0] + step * k for k, v in enumerate(values)):
            return f"{values[0]} + {step} * {index}"
    return f"{literal(tuple(values))}[{index}]"


def _grid_expr(grid: list[list]) -> str:
    """A value per (stage, i) of two nested loops."""
    flat = [v for row in grid for v in row]
    if all(_eq(v, flat[0]) for v in flat):
        return literal(flat[0])
    if all(all(_eq(v, row[0]) for v in row) for row in grid):
        return _vector_expr([row[0] for row in grid], "stage")
    firsts, rests = [row[0] for row in grid], [row[1:] for row in grid]
    if all(all(_eq(v, r[0]) for v in r) for r in rests if r):
        rest = [r[0] for r in rests if r]
        if len(rest) == len(grid) or all(_eq(v, rest[0]) for v in rest):
            rest = rest if len(rest) == len(grid) else [rest[0]] * len(grid)
            if all(_eq(v, rest[0]) for v in rest) and _eq(firsts[0], rest[0]) and \
                    len(firsts) > 1 and all(_eq(v, firsts[1]) for v in firsts[1:]):
                # the first step of every stage but the first differs: ResNet's stride
                if firsts[1] is True and rest[0] is False:
                    return "i == 0 and stage > 0"
                return f"i == 0 and stage > 0 ? {literal(firsts[1])} : {literal(rest[0])}"
            a = _vector_expr(firsts, "stage")
            b = _vector_expr(rest, "stage")
            if b == "false":
                return "i == 0" if a == "true" else f"i == 0 and {a}"
            if a == "true" and b == "true":
                return "true"
            return f"i == 0 ? {a} : {b}"
    return f"{literal(tuple(tuple(r) for r in grid))}[stage][i]"


def _rest_args(call: Call, env) -> list[str]:
    return [env[a].text for a in call.args[1:]]


def _kw(block: Block, args: list[str]) -> list[str]:
    return [f"{p}={a}" for p, a in zip(block.params, args)
            if a != literal(block.defaults.get(p, _ABSENT)) if p in block.defaults]


def _call_text(call: Call, args: list[Expr], stage: bool = False,
               texts: dict | None = None) -> str:
    texts = texts or {}
    parts = [a.text for a in (args[1:] if stage else args)]
    parts += [f"{p}={texts.get(p, literal(call.values[p]))}" for p in call.block.params
              if p in texts or not _eq(call.values[p], call.block.defaults.get(p, _ABSENT))]
    if stage and not parts:
        return call.block.name
    return f"{call.block.name}({', '.join(parts)})"


def _index_expr(values: list, index: str) -> str:
    """A value per loop step as a constant, `i == 0 ? a : b`, or a list indexed by the step."""
    if all(_eq(v, values[0]) for v in values):
        return literal(values[0])
    if len(values) > 1 and all(_eq(v, values[1]) for v in values[1:]):
        if values[0] is True and values[1] is False:
            return f"{index} == 0"
        if values[0] is False and values[1] is True:
            return f"{index} > 0"
        return f"{index} == 0 ? {literal(values[0])} : {literal(values[1])}"
    return f"{literal(tuple(values))}[{index}]"


def _network_text(graph: Graph, s: Structure, doc: str) -> list[str]:
    lines = [f"network {graph.name} {{"]
    if doc:
        lines.append('    """' + doc.replace('"""', "'''") + '"""')
    env = {}
    for name in graph.inputs:
        t = graph.values[name].type
        lines.append(f"    input {name}: {t.dtype}[{', '.join(str(d) for d in t.shape)}]")
        env[name] = Expr(name)
    body = _Body(s, "", env)
    body.vars |= set(graph.inputs) | set(graph.outputs)
    body.outputs = dict(graph.outputs)
    body.items(s.items)
    lines += ["    " + line for line in body.lines]
    for out, value in graph.outputs.items():
        if out not in body.done:
            lines.append(f"    output {out} = {body.env[value].text}")
    lines.append("}")
    return lines


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text
