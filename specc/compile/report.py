"""Per-layer tables and totals for `specc check`."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.sym import Sym
from ..ops import registry
from .sizes import stated_sizes


def layer_rows(graph: Graph) -> list[dict]:
    """One row per layer; a parameter several ops use (a tied weight) counts at the first,
    and the others name it under `tied`."""
    rows, seen = [], set()
    for node in graph.nodes:
        if registry.Trait.INTERNAL in registry.get(node.op).traits:
            continue
        mine = [p for p in node.params.values() if graph.params[p].trainable]
        owned = sum(graph.params[p].numel for p in mine if p not in seen)
        tied = [p for p in mine if p in seen]
        seen.update(mine)
        t = graph.values[node.outputs[0]].type
        rows.append({"name": node.name, "op": node.op, "shape": list(t.shape),
                     "dtype": t.dtype, "params": owned, "macs": node.macs, "tied": tied})
    return rows


def human(n) -> str:
    if isinstance(n, Sym):
        return str(n)
    for unit, size in (("G", 10 ** 9), ("M", 10 ** 6), ("K", 10 ** 3)):
        if n >= size:
            return f"{n / size:.3f}{unit}"
    return str(n)


def at_sizes(n, sizes: dict):
    """A count (MACs) at the stated sizes: an int, or the formula when a size is missing."""
    if isinstance(n, Sym) and n.names() <= set(sizes):
        return n.evaluate(sizes)
    return n


def macs_summary(graph: Graph) -> str:
    """`325,680 MACs (325.680K) per sample`, or for symbolic sizes the formula and its value
    at the stated sizes."""
    macs, sizes = graph.macs, stated_sizes(graph)
    if not isinstance(macs, Sym):
        return f"{macs:,} MACs ({human(macs)}) per sample"
    text = f"{macs} MACs per sample"
    value = at_sizes(macs, sizes)
    if isinstance(value, int):
        shown = ", ".join(f"{k}={sizes[k]}" for k in sorted(macs.names()))
        text += f"; at {shown}: {value:,} ({human(value)})"
    return text


def render_table(graph: Graph) -> str:
    rows = layer_rows(graph)
    sizes = stated_sizes(graph)
    header = ("name", "op", "output", "params", "MACs")
    body = [(r["name"], r["op"], f"[{', '.join(map(str, r['shape']))}]",
             f"{r['params']:,}" if r["params"] else "tied" if r["tied"] else "-",
             f"{at_sizes(r['macs'], sizes):,}" if r["macs"] else "-")
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(header)]
    def line(cells):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    out = [line(header), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    fixed = sum(p.numel for p in graph.params.values()
                if not p.trainable and not p.state and p.saved)
    const = sum(p.numel for p in graph.params.values() if not p.saved)
    extra = [f"+{fixed:,} fixed"] * bool(fixed) + [f"+{const:,} constant"] * bool(const)
    out.append(f"{graph.name}: {graph.trainable_params:,} trainable parameters"
               + (f" ({', '.join(extra)})" if extra else "")
               + f", {macs_summary(graph)}")
    ins = ", ".join(f"{n}: {graph.values[n].type}" for n in graph.inputs)
    outs = ", ".join(f"{k}: {graph.values[v].type}" for k, v in graph.outputs.items())
    out.append(f"  inputs {ins}; outputs {outs}")
    if graph.assumptions:
        out.append("  assumes " + "; ".join(str(a.cond) for a in graph.assumptions))
    return "\n".join(out)
