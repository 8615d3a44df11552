"""Writing a structure as spec text: the blocks found (specc.importer.structure), their calls,
chains written with `|>`, and loops over numbered chains and over stages, their arguments as
formulas of the loop indices (specc.importer.formulas)."""
from __future__ import annotations

import re

from ..ir.graph import Graph, Node
from . import names
from .emit import Emitter, Expr, assert_lines, call_text, literal, number
from .formulas import grid_expr, index_expr
from .structure import (_ABSENT, Block, Call, Structure, _eq, _inputs, _output, _path,
                        symbolic)

_HEAD = re.compile(r"^(.*?[A-Za-z_])(\d+)$")


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
        args = [index_expr(col, "i") for col in grid]
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
            text = grid_expr(grid)
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


    def _head(self, run: list) -> str:
        return _path(run[0])[len(self.prefix):].rsplit(".", 1)[0]


    def _loop_chain(self, run: list) -> bool:
        """Calls of one block, none taking a parameter of the block being written."""
        if not all(isinstance(st, Call) for st in run) or len({c.block.name for c in run}) != 1:
            return False
        return not (self.block and any(self._overrides(self.block.template.index(st))
                                       for st in run if st in self.block.template))


def _rest_args(call: Call, env) -> list[str]:
    return [env[a].text for a in call.args[1:]]


def _kw(block: Block, args: list[str]) -> list[str]:
    return [f"{p}={a}" for p, a in zip(block.params, args)
            if symbolic(block.defaults.get(p)) or a != literal(block.defaults.get(p, _ABSENT))
            if p in block.defaults]


def _call_text(call: Call, args: list[Expr], stage: bool = False,
               texts: dict | None = None) -> str:
    texts = texts or {}
    parts = [a.text for a in (args[1:] if stage else args)]
    parts += [f"{p}={texts.get(p, literal(call.values[p]))}" for p in call.block.params
              if p in texts or symbolic(call.values[p])
              or not _eq(call.values[p], call.block.defaults.get(p, _ABSENT))]
    if stage and not parts:
        return call.block.name
    return f"{call.block.name}({', '.join(parts)})"


def _network_text(graph: Graph, s: Structure, doc: str) -> list[str]:
    lines = [f"network {graph.name} {{"]
    if doc:
        lines.append('    """' + doc.replace('"""', "'''") + '"""')
    env = {}
    for name in graph.inputs:
        t = graph.values[name].type
        lines.append(f"    input {name}: {t.dtype}[{', '.join(str(d) for d in t.shape)}]")
        env[name] = Expr(name)
    lines += assert_lines(graph)
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
