"""The language reference generated from the op registry: `specc ops [NAME]` and docs/ops.md.

Everything shown comes from the registry entry: the signature and defaults from `args`, the
shape rule in words from `shape`, and, by running the entry's `example` through the real
front half and ONNX lowering, the example's inferred shapes, its parameters and the ONNX ops
it lowers to at each opset. docs/ops.md is this module's output (tests/test_ops_doc.py keeps
it current: `specc ops --markdown > docs/ops.md`)."""
from __future__ import annotations

import sys

from ..elab.builtins import SIGNATURES
from ..ops.registry import REQUIRED, TENSOR_KINDS, Arg, OpDef, Trait, all_ops
from ..lang.values import show

OPSETS = range(13, 22)
KIND_WORDS = {"tensor": "tensor", "tensors": "list of tensors", "int": "int", "float": "number",
              "bool": "bool", "str": "string", "ints": "int or list of ints",
              "int_list": "list of ints", "floats": "list of numbers", "dim": "int or symbolic dim (x.shape[1])",
              "dims": "list of dims (ints, -1, symbolic dims)",
              "table": "list of lists of ints", "init": "initialiser",
              "param": "declared parameter (param w: ...), used as this op's own"}


def public_ops() -> dict[str, OpDef]:
    """The ops a spec may call by name (not the compiler's constants and declarations)."""
    return {n: op for n, op in sorted(all_ops().items())
            if not op.traits & {Trait.INTERNAL, Trait.DECLARATION}}


def signature(op: OpDef) -> str:
    return f"{op.name}({', '.join(_arg(a) for a in op.args)})"


def _arg(a: Arg) -> str:
    if a.default is REQUIRED:
        return a.name
    return f"{a.name}={show_default(a.default)}"


def show_default(v) -> str:
    """An argument's default as a spec writes it (`default` for an initialiser, not its type)."""
    return str(v) if not isinstance(v, (bool, int, float, str, tuple)) and v is not None \
        else show(v)


def summary(op: OpDef) -> str:
    return op.doc.split(". ")[0].rstrip(".") + "."


def example_facts(op: OpDef) -> dict:
    """Run the example: its input and output types, the parameters the op owns there, and
    the ONNX op types its node lowers to, grouped over the supported opsets."""
    from ..compile.pipeline import compile_network
    from ..elab import Loader
    module = Loader().load_text(op.example.spec(), f"<{op.name} example>")
    graph = compile_network(module.names["example"])
    node = next(n for n in graph.nodes if n.op == op.name)
    params = [f"{role} {list(graph.params[p].shape)}" for role, p in node.params.items()
              if role != "value"]
    return {"inputs": [f"x{i}: {graph.values[v].type}" for i, v in enumerate(graph.inputs)],
            "output": str(graph.values[graph.outputs["y"]].type),
            "node": str(graph.values[node.outputs[0]].type), "params": params,
            "onnx": onnx_mapping(graph, node.name, op)}


def onnx_mapping(graph, node_name: str, op: OpDef) -> list[tuple[str, str]]:
    """[(opsets, 'OpA, OpB'), ...]: the ONNX ops emitted for one node, merged over opsets."""
    import numpy as np

    from ..backends.onnx_build import build_skeleton
    from ..core.dtypes import numpy_dtype
    from ..core.diagnostics import SpeccError
    from ..ops.registry import LoweringError
    from .. import passes
    inference = passes.run(graph, passes.INFERENCE)
    if node_name not in {n.name for n in inference.nodes}:
        return [(f"{OPSETS.start}-{OPSETS.stop - 1}", "removed from exported models")]
    weights = {n: np.zeros(p.shape, numpy_dtype(p.dtype))
               for n, p in inference.params.items()}
    rows: list[tuple[list[int], str]] = []
    for opset in OPSETS:
        if opset < op.min_opset:
            continue
        try:
            model, _ = build_skeleton(inference, weights, opset=opset)
        except (LoweringError, SpeccError):  # the opset, or the op at this opset
            ops = "not expressible"
        else:
            mine = [n.op_type for n in model.graph.node
                    if n.name == node_name or n.name.startswith(node_name + "/")]
            ops = ", ".join(dict.fromkeys(mine)) or "nothing (an alias of its input)"
        if rows and rows[-1][1] == ops:
            rows[-1][0].append(opset)
        else:
            rows.append(([opset], ops))
    return [(f"{o[0]}" if len(o) == 1 else f"{o[0]}-{o[-1]}", text) for o, text in rows]


def describe(op: OpDef) -> str:
    """The plain-text entry `specc ops NAME` prints."""
    facts = example_facts(op)
    lines = [signature(op), "", _wrap(op.doc, 0), "", _wrap(f"shape: {op.shape}", 0),
             "arguments:"]
    for a in op.args:
        kind = KIND_WORDS[a.kind] + (" (optional)" if a.default is None else "")
        lines.append(f"  {a.name}: {kind}" + ("" if a.default is REQUIRED or a.default is None
                                              else f", default {_arg(a).split('=', 1)[1]}"))
    lines += ["", f"example: {op.example.call}"]
    lines += [f"  {d}" for d in op.example.decls]
    lines.append(f"  {'; '.join(facts['inputs'])} -> {facts['node']}")
    if facts["params"]:
        lines.append(f"  owns: {', '.join(facts['params'])}")
    lines.append("ONNX: " + "; ".join(f"opset {o}: {m}" for o, m in facts["onnx"]))
    if op.onnx_import:
        lines.append("reads back (specc import): " + ", ".join(sorted(op.onnx_import)))
    return "\n".join(lines)


def _wrap(text: str, indent: int, width: int = 92) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\n".join(" " * indent + l for l in lines)


def listing() -> str:
    ops = public_ops()
    width = max(len(n) for n in ops)
    lines = [f"{n.ljust(width)}  {summary(op)}" for n, op in ops.items()]
    lines += ["", "builtins (compile-time functions and initialisers):"]
    lines += [f"  {sig}  {doc}" for sig, doc in SIGNATURES.values()]
    return "\n".join(lines)


def describe_builtin(name: str) -> str:
    """What `specc ops NAME` prints for a builtin that is no op."""
    sig, doc = SIGNATURES[name]
    return f"{sig}\n\n{_wrap(doc[0].upper() + doc[1:] + '.', 0)}"


def builtins_markdown() -> list[str]:
    out = ["## Builtins", "",
           "Compile-time functions on numbers, lists and strings, and the initialisers. Where "
           "an op has the same name (`abs`, `log`, `exp`, `sqrt`, `max`, `min`, `sum`), a "
           "tensor argument calls the op.", "", "| signature | gives |", "|---|---|"]
    out += [f"| `{sig}` | {doc.replace('|', '/')} |" for sig, doc in SIGNATURES.values()]
    return out


def _group(op: OpDef) -> tuple[str, str]:
    """(module, title): ops are grouped by the module that defines them, titled by the first
    words of its docstring."""
    module = op.infer.__module__
    doc = (sys.modules[module].__doc__ or module).strip().split("\n\n")[0].replace("\n", " ")
    title = doc.split(": ")[0] if ": " in doc else doc.split(". ")[0]
    return module, title.rstrip(".")


def markdown() -> str:
    """docs/ops.md: the conventions, then every op grouped by the module that defines it."""
    grouped: dict[tuple[str, str], list[OpDef]] = {}
    for op in public_ops().values():
        grouped.setdefault(_group(op), []).append(op)
    groups = {title: ops for (_, title), ops in sorted(grouped.items())}
    out = [HEADER, CONVENTIONS, "## Ops", ""]
    for title, ops in groups.items():
        out.append(f"- {title}: " + ", ".join(f"[`{op.name}`](#{op.name})" for op in ops))
    out += ["", *builtins_markdown()]
    for title, ops in groups.items():
        out += ["", f"## {title}"]
        for op in ops:
            out += ["", f"### {op.name}", "", "```text", describe(op), "```"]
    return "\n".join(out) + "\n"


HEADER = """# specc ops: the language reference for ops

Generated from the op registry (`specc/ops/`) by `specc ops --markdown`; do not edit by hand.
Each entry shows the signature with its defaults, the shape rule, an example with the shapes
specc infers for it, the parameters the op owns there, the ONNX ops it lowers to and the ONNX
ops `specc import` reads back into it. ONNX ops that the import computes away (Shape,
Constant, ConstantOfShape, Size, Range, EyeLike, Cast of a known value) have no op here.
"""

CONVENTIONS = """## Conventions

- **The batch dim.** A tensor has a batch dim when its first dim is a symbol: inputs declare
  it (`input image: f32[N, 3, 224, 224]`) and ops carry it through. Parameters and constants
  (`param`, `fixed`, `const`) have exactly the shape they declare and no batch dim.
- **Broadcasting.** Element-wise arithmetic (`+ - * / **`), `matmul`'s leading dims and
  attention masks broadcast by NumPy's rule: shapes are aligned at their last dims, and each
  pair of dims must be equal or one of them 1 (`[N, C, 1, 1] * [N, C, H, W]`,
  `[N, T, D] + [D]`). Two different dims other than 1 are an error (a residual join of
  mismatched maps stays one); `concat` never broadcasts. A symbol matches only itself or 1.
  `expand` and `tile` broadcast or repeat explicitly; `expand(t, [x.shape[0], -1, -1])`
  takes the batch size from `x` at run time.
- **Which dims an op takes.** `reshape` lists the dims of one sample: the batch dim is kept
  and not written (`reshape(x, [6, -1])` on `[N, 2, 3, 4]` gives `[N, 6, 4]`); on a tensor
  without a batch dim it lists all dims. `pad` likewise lists (before, after) for each dim
  after the batch. `transpose`, `flatten`, `slice`, `concat`, `softmax` and the reductions
  number every dim, the batch dim included (`transpose(x, [0, 2, 1])`).
- **Default axes.** `softmax`, `log_softmax` and `concat` default to axis 1 (the channels of
  `[N, C, ...]`, the classes of `[N, classes]`); `layernorm` normalises the last dim.
- **Numbers as tensors.** A number where an op takes a tensor becomes a rank-0 constant of
  the other operands' dtype (`x * 0.5`, `pow(x, 2.0)`, `x ** 2`). `max`, `min`, `sum` and
  `abs` are compile-time functions on numbers and ops on tensors.
- **Names and `as`.** An assignment names what it binds; a block call is a scope; a chain
  `a |> f |> g` bound to a name numbers its stages like `nn.Sequential` (`features.0`,
  `features.1`, ...), across loop iterations too. `as "label"` gives an explicit name and
  may stand after an assignment, a `return` expression or an `output` expression, also on
  a continuation line of a chain. `as ""` inlines a block call into the caller's scope, and
  numbers a chain's stages in the enclosing scope itself (`0`, `1`, ... inside a block).
- **Declared tensors.** `param` is trained; `fixed` is never trained but is saved in the
  state dict; `const` is never trained and not saved (rebuilt from the spec: masks, ones,
  position tables), so a state dict from elsewhere still loads with `strict=True`. A literal
  is a nested list of the declared shape, or a flat list of all its numbers.
"""
