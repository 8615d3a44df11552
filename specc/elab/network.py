"""Elaborating a network: bind its parameters, run its body, check and finish the graph."""
from __future__ import annotations

import hashlib

from ..lang import ast as A
from ..core.defaults import MAX_ACTIVATIONS, MAX_PARAMS
from ..core.diagnostics import Collector, FatalError, SpeccError
from ..core.nesting import room
from ..ir.graph import Graph
from ..ir.sym import assuming
from ..lang.values import POISON, NetworkRef, Tensor, type_name
from ..rules.elab import check_learning
from .builder import GraphBuilder
from .calls import DEFAULT
from .calls import CallEval, bind_args
from .expr import ExprEval
from .scope import Frame, ModuleScope
from .reference import evaluate_reference
from .stmt import StmtExec
from .types import check_value


class Elaborator(ExprEval, CallEval, StmtExec):
    def __init__(self, builder: GraphBuilder):
        self.builder = builder
        self.errors = Collector()


def _module_frame(module: ModuleScope) -> tuple[Elaborator, Frame]:
    return Elaborator(GraphBuilder("<module>")), Frame(module, kind="module")


def evaluate_const(module: ModuleScope, item: A.ConstDef):
    ev, frame = _module_frame(module)
    value = ev.eval(item.value, frame)
    if isinstance(value, Tensor):
        raise SpeccError("a top-level constant cannot be a tensor", item.span)
    return value


def evaluate_preset(module: ModuleScope, item: A.NetworkPreset) -> NetworkRef:
    ev, frame = _module_frame(module)
    e = item.value
    if isinstance(e, A.ExprName):
        base, args, kwargs = ev.lookup(e.name, frame, e.span), [], {}
    elif isinstance(e, A.ExprCall):
        base = ev._callee(e.callee, frame)
        args, kwargs = ev._args(e.args, frame)
    else:
        raise SpeccError("a preset names a network and its arguments, e.g. "
                         "resnet(depths=[2, 2, 2, 2])", e.span)
    if not isinstance(base, NetworkRef):
        raise SpeccError(f"a preset needs a network, got {type_name(base)}", e.span)
    taken = dict(base.bound)
    free = [(p.name, None, None) for p in base.defn.params if p.name not in taken]
    if len(args) > len(free):
        raise SpeccError(f"network '{base.display}' has {len(free)} unbound parameters, "
                         f"got {len(args)} positional arguments", e.span)
    # positional arguments fill what is still unbound; a keyword may re-bind any parameter,
    # so a preset of a preset can change, say, its input size
    rebound = [(p.name, None, None) for p in base.defn.params if p.name in taken]
    bound = bind_args(base.display, "network", free + rebound, args, kwargs, e.span)
    taken.update({k: v for k, v in bound.items() if v is not DEFAULT})
    reference = None
    if item.reference is not None:
        reference = evaluate_reference(ev, item.reference, frame)
    return NetworkRef(base.defn, base.module, tuple(taken.items()), item.name, reference)


def evaluate_override(module: ModuleScope, name: str, text: str):
    """The value of `--set NAME=TEXT`: TEXT is a spec expression (`256`, `[2, 2, 2, 2]`,
    `bottleneck`) evaluated in the module's scope, where it is shown as `--set NAME`."""
    from ..lang.parse import parse_expr
    ev, frame = _module_frame(module)
    with room():
        value = ev.eval(parse_expr(text, f"--set {name}"), frame)
    if isinstance(value, Tensor):
        raise SpeccError(f"--set {name}: a network parameter cannot be a tensor")
    return value


def missing_params(ref: NetworkRef) -> list[str]:
    bound = dict(ref.bound)
    return [p.name for p in ref.defn.params if p.name not in bound and p.default is None]


def elaborate_network(ref: NetworkRef, max_params: int = MAX_PARAMS,
                      max_activations: int = MAX_ACTIVATIONS, observer=None) -> Graph:
    d = ref.defn
    builder = GraphBuilder(ref.display, max_params, max_activations)
    ev = Elaborator(builder)
    ev.observer = observer
    frame = Frame(ref.module, kind="network")
    missing = missing_params(ref)
    if missing:
        raise SpeccError(f"network '{ref.display}' needs a value for "
                         f"{', '.join(repr(m) for m in missing)}", d.span,
                         ("pick a preset of it, or define one: network name = "
                          f"{d.name}({missing[0]}=...)",))
    with room(), assuming(builder.facts):
        _run_body(ev, d, dict(ref.bound), frame)
    graph = builder.graph
    if not ev.errors.errors:
        for e in check_learning(graph):
            ev.errors.add(e)
        if not graph.inputs:
            ev.errors.add(SpeccError(f"network '{ref.display}' declares no input", d.span))
        if not graph.outputs:
            ev.errors.add(SpeccError(f"network '{ref.display}' declares no output", d.span,
                                     ("add a line such as: output logits = x",)))
        size = graph.recipe.get("size")
        free = [s for s in graph.symbols() if s not in graph.facts().batch]
        if size and len(size) != 1 and len(size) != len(free):
            ev.errors.add(SpeccError(f"the recipe's size has {len(size)} values for "
                                     f"{len(free)} symbolic sizes ({', '.join(free) or 'none'})",
                                     d.span))
        weights = graph.recipe.get("output_weights")
        if weights is not None and len(weights) != len(graph.outputs):
            ev.errors.add(SpeccError(f"the recipe's output_weights has {len(weights)} values "
                                     f"for {len(graph.outputs)} outputs", d.span))
    ev.errors.raise_if_any()
    if ref.is_preset:  # a preset is another network: its own figures, never its base's
        graph.reference = dict(ref.reference or {})
    graph.doc = d.doc
    graph.span = d.span
    graph.meta.update(spec_path=d.span.source.path,
                      spec_sha256=hashlib.sha256(d.span.source.text.encode()).hexdigest())
    return graph


def _run_body(ev: Elaborator, d: A.NetworkDef, bound: dict, frame: Frame) -> None:
    """Bind the network's parameters and run its body; a limit (FatalError) stops it."""
    try:
        for p in d.params:
            value = bound[p.name] if p.name in bound else ev.eval(p.default, frame)
            if p.type is not None and value is not POISON:
                try:
                    check_value(ev, value, p.type, frame,
                                f"parameter '{p.name}' of network '{d.name}'", p.span)
                except SpeccError as e:
                    if p.name in bound:  # the value came from a preset or --set, not here
                        e.notes = (*e.notes, f"the value was given as {p.name}= (by --set "
                                   "or a preset's arguments)")
                    ev.errors.add(e)
                    value = POISON  # reported once: its uses say nothing more
            frame.vars[p.name] = value
        ev.exec_body(d.body, frame)
    except FatalError as e:
        ev.errors.add(e)
