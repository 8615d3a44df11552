"""The bundled zoo as the lecture's table: each network's counts beside the figures its
`reference { ... }` section states (paper or reference implementation), and what specc has
reproduced. The figures live in the specs; this module only reads and formats them."""
from __future__ import annotations

from ..compile.report import at_sizes
from ..compile.sizes import stated_sizes
from ..elab.reference import agreement
from ..network import load_all
from ..core.resources import specs_dir
from ..core.source import split_lines


def reproduction(net) -> str:
    """The spec's own word if it has one; otherwise what a run would need."""
    stated = net.graph.reference.get("reproduced")
    if stated:
        return stated
    return "needs ImageNet" if net.recipe.get("data") == "imagefolder" else "not run"


def row(spec: str, net) -> dict:
    """A network's counts beside its reference; MACs of open sizes (a formula) at the sizes
    its recipe states, compared there (or not at all where it states none)."""
    ref = net.graph.reference
    macs = at_sizes(net.macs, stated_sizes(net.graph))
    closed = isinstance(macs, int)
    return {"spec": spec, "network": net.name, "params": net.params,
            "macs": macs,
            "reference_params": ref.get("params"), "reference_macs": ref.get("macs"),
            "params_agree": agreement(ref.get("params"), net.params),
            "macs_agree": agreement(ref.get("macs"), macs) if closed else None,
            "top1_error": ref.get("top1_error"), "top5_error": ref.get("top5_error"),
            "test_error": ref.get("test_error"), "source": ref.get("source", ""),
            "reproduced": reproduction(net),
            "doc": split_lines(net.graph.doc)[0] if net.graph.doc else ""}


def zoo_rows() -> list[dict]:
    rows = []
    for path in sorted(specs_dir().glob("*.net")):
        for _, net, _ in load_all(path):
            if net is not None:
                rows.append(row(path.name, net))
    return rows


def errors_text(r: dict) -> str:
    """'29.6 / 10.4' (top-1 / top-5), '- / 10.07', '8.75 test', or '-'."""
    def fmt(v):
        return "-" if v is None else f"{v:g}"
    if r["top1_error"] is not None or r["top5_error"] is not None:
        return f"{fmt(r['top1_error'])} / {fmt(r['top5_error'])}"
    return f"{fmt(r['test_error'])} test" if r["test_error"] is not None else "-"


def agree_text(r: dict) -> str:
    return f"{r['params_agree'] or '-'} / {r['macs_agree'] or '-'}"


def reference_lines(net) -> list[str]:
    """What `specc check` prints under the table: the source, then the stated figures (each
    count with how specc's compares), the errors and the reproduction status."""
    ref = net.graph.reference
    if not ref:
        return ["reference: none in the spec"]
    r = row("", net)
    words = {"=": "equal", "~": "within 3%"}
    parts = [f"{what} {_stated(ref[key])} (specc: {words.get(agree, agree)})"
             for key, what in (("params", "params"), ("macs", "MACs")) if key in ref
             for agree in [r[key + "_agree"]]]
    parts += [f"{what} {ref[key]:g}%" for key, what in (
        ("top1_error", "top-1 error"), ("top5_error", "top-5 error"), ("test_error", "test error"))
        if key in ref]
    return [f"reference: {ref['source']}",
            "  " + "; ".join(parts + [f"reproduced: {r['reproduced']}"])]


def _stated(v) -> str:
    """An exact count with separators; a rounded figure as the source wrote it (133 M)."""
    if isinstance(v, int):
        return f"{v:,}"
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= size:
            return f"{v / size:g} {unit}"
    return f"{v:g}"
