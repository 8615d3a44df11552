"""`specc check FILE[:NET]`: parse, elaborate and verify; per-layer table and totals."""
from __future__ import annotations

from ..elab.recipe import describe_recipe
from ..compile.pipeline import split_target
from ..network import load_all
from ..compile.report import render_table
from ..tools.zoo import reference_lines
from .common import add_target, load_target, overrides, print_json


EXAMPLES = """\
examples:
  specc check specs/lenet5.net                every network of the file, one table each
  specc check specs/resnet.net:resnet50       one network: FILE:NET
  specc check specs/resnet.net:resnet50 --json
  specc check specs/lenet5.net --print-ir     the Graph IR, a shape on every line

Errors point at the spec (file:line:col, the line, a caret), all of them at once; exit 1.
"""


def add_arguments(p) -> None:
    add_target(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per network")
    p.add_argument("--print-ir", action="store_true", help="print the Graph IR dump")


def summary(net) -> dict:
    """For symbolic sizes, `macs` is the formula's text, and `sizes` / `macs_at_sizes` its
    value at the stated sizes (recipe `size`, --set)."""
    from ..compile.report import at_sizes
    from ..compile.sizes import stated_sizes
    out = {"network": net.name, "params": net.params, "macs": net.macs,
           "inputs": net.inputs(), "outputs": net.outputs(), "layers": net.layers(),
           "reference": net.graph.reference}
    sizes = stated_sizes(net.graph)
    if sizes:
        out.update(sizes=sizes, macs_at_sizes=at_sizes(net.macs, sizes))
    if net.graph.assumptions:
        out["assumes"] = [str(a.cond) for a in net.graph.assumptions]
    return out


def run(args) -> int:
    path, name = split_target(args.target)
    if name is not None or overrides(args):
        net = load_target(args)
        results = [(net.name, net, "")]
    else:
        results = load_all(path, args.max_params, args.max_activations)
    checked = [(n, net) for n, net, _ in results if net is not None]
    if args.json:
        objs = [summary(net) for _, net in checked]
        print_json(objs[0] if len(objs) == 1 else objs)
        return 0
    for i, (name, net, reason) in enumerate(results):
        if i:
            print()
        if net is None:
            print(f"{name}: not checked ({reason}); check one of its presets")
            continue
        print(net.dump() if args.print_ir else render_table(net.graph))
        if not args.print_ir:
            print("\n".join(reference_lines(net)))
        if not args.print_ir and net.recipe:
            print("\n".join(describe_recipe(net.recipe)))
    if not checked:
        print(f"{path}: no complete network to check")
    return 0
