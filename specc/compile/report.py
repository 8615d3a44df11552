"""Per-layer tables and totals for `specc check`."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ops import registry


def layer_rows(graph: Graph) -> list[dict]:
    rows = []
    for node in graph.nodes:
        if registry.Trait.INTERNAL in registry.get(node.op).traits:
            continue
        owned = sum(graph.params[p].numel for p in node.params.values()
                    if graph.params[p].trainable)
        t = graph.values[node.outputs[0]].type
        rows.append({"name": node.name, "op": node.op, "shape": list(t.shape),
                     "dtype": t.dtype, "params": owned, "macs": node.macs})
    return rows


def human(n: int) -> str:
    for unit, size in (("G", 10 ** 9), ("M", 10 ** 6), ("K", 10 ** 3)):
        if n >= size:
            return f"{n / size:.3f}{unit}"
    return str(n)


def render_table(graph: Graph) -> str:
    rows = layer_rows(graph)
    header = ("name", "op", "output", "params", "MACs")
    body = [(r["name"], r["op"], f"[{', '.join(map(str, r['shape']))}]",
             f"{r['params']:,}" if r["params"] else "-", f"{r['macs']:,}" if r["macs"] else "-")
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
               + f", {graph.macs:,} MACs ({human(graph.macs)}) per sample")
    ins = ", ".join(f"{n}: {graph.values[n].type}" for n in graph.inputs)
    outs = ", ".join(f"{k}: {graph.values[v].type}" for k, v in graph.outputs.items())
    out.append(f"  inputs {ins}; outputs {outs}")
    return "\n".join(out)
