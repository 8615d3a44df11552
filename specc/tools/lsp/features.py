"""What the editor asks for, answered from an Analysis: hover, definitions, completion.

Positions here are 1-based (line, column) as in specc's spans; the server converts."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...lang import ast as A
from ...elab import builtins
from ...elab.modules import resolve_import
from ...elab.recipe import CONSTRUCTORS, KEYS
from ...ops import registry
from ..opsdoc import show_default
from ...lang.parse import open_bracket, parse_module, read_source
from ...core.source import SourceFile
from ...lang.values import BlockRef, NetworkRef, Tensor, show, type_name
from ..viewer.model import internal
from .analysis import Analysis, Seen

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
MAX_ROWS = 8


@dataclass(frozen=True)
class Place:
    """A range in a file (1-based lines and columns, end exclusive)."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int


def word_at(source: SourceFile, line: int, col: int) -> tuple[str, int] | None:
    """The identifier under (line, col) and its starting column."""
    for m in _WORD.finditer(source.line(line)):
        if m.start() + 1 <= col <= m.end() + 1:  # just after the word counts too
            return m.group(), m.start() + 1
    return None


# -------------------------------------------------------------------- hover
def hover(an: Analysis, line: int, col: int) -> str | None:
    """Markdown for the position: a value's type and shape; for calls, the callee's signature
    and each expansion's shape, parameters and MACs."""
    target = _assign_target_at(an, line, col)
    key = _key(target.value.span) if target is not None else an.records_at(line, col)[0]
    seen = an.seen.get(key, []) if key is not None else []
    if not seen:
        found = word_at(an.source, line, col)
        return _callee_doc(an, found[0]) if found else None
    head = _callee_doc(an, _callee_name(an, key))
    return "\n\n".join(x for x in (head, _table(seen)) if x)


def _key(span) -> tuple:
    return (span.source.path, span.line, span.col, span.end_line, span.end_col)


def _callee_name(an: Analysis, key: tuple) -> str | None:
    """The name of the op or block an evaluated expression calls, if it is a call."""
    expr = _expr_by_key(an, key)
    if isinstance(expr, A.ExprCall) and isinstance(expr.callee, A.ExprName):
        return expr.callee.name
    if isinstance(expr, A.ExprName) and (registry.get(expr.name) or _block(an, expr.name)):
        return expr.name
    return None


def _expr_by_key(an: Analysis, key: tuple):
    for node in walk(an.module):
        if isinstance(node, A.Node) and _key(node.span) == key and not isinstance(
                node, (A.Arg, A.Param)) and _is_expr(node):
            return node
    return None


def _is_expr(node) -> bool:
    return type(node).__name__.startswith("Expr")


def _table(seen: list[Seen]) -> str:
    if not any(isinstance(s.value, Tensor) for s in seen):
        values = list(dict.fromkeys(show(s.value) for s in seen))
        kind = type_name(seen[0].value)
        return f"`{kind}`: " + ", ".join(f"`{v}`" for v in values[:MAX_ROWS]) + \
            (f" (and {len(values) - MAX_ROWS} more)" if len(values) > MAX_ROWS else "")
    groups: dict[tuple, list[str]] = {}
    for s in seen:
        where, *rest = _row(s)
        groups.setdefault(tuple(rest), []).append(where)
    calls = any(s.nodes for s in seen)
    lines = ["| value | params | MACs | where |", "|---|---:|---:|---|"] if calls else \
        ["| value | where |", "|---|---|"]
    for (value, params, macs), places in list(groups.items())[:MAX_ROWS]:
        more = f" (+{len(places) - 1} more)" if len(places) > 1 else ""
        cost = f" {params:,} | {macs:,} |" if calls else ""
        lines.append(f"| `{value}` |{cost} {places[0]}{more} |")
    if len(groups) > MAX_ROWS:
        lines.append(f"\n…and {len(groups) - MAX_ROWS} more shapes")
    return "\n".join(lines)


def _row(s: Seen) -> tuple:
    v = s.value
    made = [n for n in s.nodes if not internal(n.op)]
    params = sum(s.graph.params[p].numel for n in made for p in n.params.values()
                 if s.graph.params[p].trainable)
    macs = sum(n.macs for n in made)
    scope = _common_scope([n.name for n in made]) if made else v.name
    return (f"`{scope}` in {s.network}", str(v.type), params, macs)


def _common_scope(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    parts = [n.split(".") for n in names]
    common = []
    for seg in zip(*parts):
        if len(set(seg)) > 1:
            break
        common.append(seg[0])
    return ".".join(common) or names[-1]


def _callee_doc(an: Analysis, name: str | None) -> str | None:
    if name is None:
        return None
    op = registry.get(name)
    if op is not None and registry.Trait.INTERNAL not in op.traits:
        args = ", ".join(_op_arg(a) for a in op.args)
        return f"```specc\n{name}({args})\n```\n{op.doc}"
    block = _block(an, name)
    if block is not None:
        params = ", ".join(_param(p) for p in block.defn.params)
        doc = block.defn.doc
        return f"```specc\nblock {name}({params})\n```" + (f"\n{doc}" if doc else "")
    net = an.scope.names.get(name) if an.scope is not None else None
    if isinstance(net, NetworkRef) and net.display in an.graphs:
        g = an.graphs[net.display]
        return (f"```specc\nnetwork {name}\n```\n{g.trainable_params:,} trainable parameters, "
                f"{g.macs:,} MACs per sample" + (f"\n\n{g.doc}" if g.doc else ""))
    return None


def _op_arg(a) -> str:
    text = f"{a.name}: {a.kind}"
    return text if a.default is registry.REQUIRED else f"{text} = {show_default(a.default)}"


def _param(p: A.Param) -> str:
    return p.name + (f": {_flat_type(p.type)}" if p.type else "") + \
        (" = …" if p.default is not None else "")


def _flat_type(t) -> str:
    if isinstance(t, A.TypeScalar):
        return t.name
    if isinstance(t, A.TypeList):
        return f"[{_flat_type(t.item)}]"
    return f"{t.dtype}[…]"


def _block(an: Analysis, name: str) -> BlockRef | None:
    ref = an.scope.names.get(name) if an.scope is not None else None
    return ref if isinstance(ref, BlockRef) else None


def _assign_target_at(an: Analysis, line: int, col: int):
    for node in walk(an.module):
        if isinstance(node, A.StmtAssign) and node.span.line == line and \
                node.span.col <= col <= node.span.col + len(node.target):
            return node
    return None


def walk(node):
    """Every AST node below `node`, depth first."""
    if node is None:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for name in getattr(n, "__dataclass_fields__", ()):
            v = getattr(n, name)
            if isinstance(v, A.Node):
                stack.append(v)
            elif isinstance(v, tuple):
                stack.extend(x for x in v if isinstance(x, A.Node))


# --------------------------------------------------------------- definition
def definition(an: Analysis, line: int, col: int) -> Place | None:
    """Where the name under the cursor is bound: a local of the enclosing block or network, a
    top-level item of this file, or an item of an imported file; an import opens its file."""
    imported = _import_at(an, line, col)
    if imported is not None:
        return imported
    found = word_at(an.source, line, col)
    if found is None or an.module is None:
        return None
    name = found[0]
    local = _local_binding(an, name, line)
    if local is not None:
        return local
    place = _item_place(an.module, name, an.path)
    if place is not None:
        return place
    for item in an.module.items:
        if isinstance(item, A.Import):
            target = resolve_import(item.path, Path(an.path).parent)
            if target is None:
                continue
            try:
                module = parse_module(read_source(target))
            except Exception:  # noqa: BLE001 - a broken import has its own diagnostic
                continue
            place = _item_place(module, name, str(target))
            if place is not None:
                return place
    return None


def _import_at(an: Analysis, line: int, col: int) -> Place | None:
    if an.module is None:
        return None
    for item in an.module.items:
        s = item.span
        if isinstance(item, A.Import) and s.line == line and s.col <= col < s.end_col:
            target = resolve_import(item.path, Path(an.path).parent)
            return Place(str(target), 1, 1, 1, 1) if target else None
    return None


def _item_place(module: A.Module, name: str, path: str) -> Place | None:
    for item in module.items:
        if getattr(item, "name", None) == name:
            return _name_place(item.span, name, path)
    return None


def _name_place(span, name: str, path: str) -> Place:
    """The range of `name` on the first line of a definition or binding."""
    text = span.source.line(span.line)
    m = re.compile(rf"\b{re.escape(name)}\b").search(text, span.col - 1)
    col = m.start() + 1 if m else span.col
    return Place(path, span.line, col, span.line, col + len(name))


def _local_binding(an: Analysis, name: str, line: int) -> Place | None:
    """The binding of `name` in the block or network around `line` that comes last before it
    (parameters, inputs, assignments, loop variables, param/fixed tensors)."""
    for item in an.module.items:
        if not isinstance(item, (A.BlockDef, A.NetworkDef)) or \
                not item.span.line <= line <= item.span.end_line:
            continue
        spots = [(p.span, p.name) for p in item.params if p.name == name]
        for node in walk(item):
            for bound in _binds(node):
                if bound == name:
                    spots.append((node.span, bound))
        if not spots:
            continue
        earlier = [s for s in spots if s[0].line < line] or \
            [s for s in spots if s[0].line == line] or spots
        span, bound = max(earlier, key=lambda s: (s[0].line, s[0].col)) if earlier is not spots \
            else min(spots, key=lambda s: (s[0].line, s[0].col))
        return _name_place(span, bound, an.path)
    return None


def _binds(node) -> tuple[str, ...]:
    if isinstance(node, (A.StmtAssign,)):
        return (node.target,)
    if isinstance(node, A.StmtDestructure):
        return node.targets
    if isinstance(node, (A.StmtInput, A.StmtParam)):
        return (node.name,)
    if isinstance(node, A.StmtOutput) and node.value is not None:
        return (node.name,)
    if isinstance(node, A.StmtFor):
        return (node.var,) + ((node.var2,) if node.var2 else ())
    return ()


# --------------------------------------------------------------- completion
@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "op", "block", "network", "keyword", "argument", "recipe", "value", "builtin"
    detail: str = ""
    insert: str | None = None


def complete(an: Analysis, line: int, col: int) -> list[Item]:
    """Candidates at the cursor: recipe keys inside `train {}`, keyword arguments of the op or
    block being called inside its brackets, else names (ops, blocks, builtins, locals)."""
    offset = an.source.offset(line, col)
    opened = open_bracket(an.source, offset)
    prefix = an.source.line(line)[: col - 1]
    if opened and opened[0] == "{" and _recipe_brace(an.source, opened):
        if re.fullmatch(r"\s*[A-Za-z_0-9]*", prefix):
            return [Item(k, "recipe", KEYS[k][0], f"{k} = ") for k in KEYS]
        m = re.search(r"=\s*([A-Za-z_0-9]*)$", prefix)
        if m:
            return [Item(c, "builtin", "recipe constructor") for c in CONSTRUCTORS]
    items = []
    if opened and opened[0] == "(":
        callee = _callee_before(an.source, opened)
        items += _keyword_items(an, callee) if callee else []
    return items + _name_items(an, line)


def _recipe_brace(source: SourceFile, opened) -> bool:
    _, line, col = opened
    return bool(re.search(r"\btrain\s*$", source.line(line)[: col - 1]))


def _callee_before(source: SourceFile, opened) -> str | None:
    _, line, col = opened
    m = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*$", source.line(line)[: col - 1])
    return m.group(1) if m else None


def _keyword_items(an: Analysis, callee: str) -> list[Item]:
    op = registry.get(callee)
    if op is not None:
        return [Item(f"{a.name}=", "argument", a.doc or a.kind, f"{a.name}=")
                for a in op.args if a.kind not in ("tensor", "tensors")]
    block = _block(an, callee)
    if block is not None:
        return [Item(f"{p.name}=", "argument", _flat_type(p.type) if p.type else "", f"{p.name}=")
                for p in block.defn.params[1:]]
    if callee in CONSTRUCTORS:
        return [Item(f"{k}=", "argument", str(v[0]), f"{k}=") for k, v in
                CONSTRUCTORS[callee].items()]
    return []


def _name_items(an: Analysis, line: int) -> list[Item]:
    items = [Item(n, "op", (op.doc or "").split(". ")[0]) for n, op in
             sorted(registry.all_ops().items()) if registry.Trait.INTERNAL not in op.traits]
    items += [Item(n, "builtin", "builtin") for n in builtins.names()]
    if an.scope is not None:
        for n, v in an.scope.names.items():
            if isinstance(v, BlockRef):
                items.append(Item(n, "block", v.defn.doc.split("\n")[0]))
            elif isinstance(v, NetworkRef):
                items.append(Item(n, "network", ""))
            else:
                items.append(Item(n, "value", f"{type_name(v)} {show(v)}"))
    if an.module is not None:
        local = set()
        for item in an.module.items:
            if isinstance(item, (A.BlockDef, A.NetworkDef)) and \
                    item.span.line <= line <= item.span.end_line:
                local |= {p.name for p in item.params}
                for node in walk(item):
                    local |= set(_binds(node))
        items += [Item(n, "value", "local") for n in sorted(local)]
    from ..highlight import keywords
    items += [Item(k, "keyword") for k in keywords()]
    return items
