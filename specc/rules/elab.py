"""Rules in the spec: `learn=RULE(...)` on an op call, checked while elaborating.

`learn=` is accepted by every op call. Its value is a rule constructor (rule names take
precedence there, as optimiser names do in a recipe) or a name bound to one (a block may take a
rule as an argument). The rule applies to every parameter the op owns and to every declared
`param` passed to it. At the end of elaboration `check_learning` reports, at the `learn=`
argument: a rule on a parameter it cannot update, a fixed parameter, two rules on one
parameter, a local rule on a parameter several nodes use, and each rule's own conditions.
"""
from __future__ import annotations

import difflib

from ..lang import ast as A
from ..core.diagnostics import SpeccError
from ..ir.graph import Init, Param
from ..lang.values import POISON, Tensor, show, type_name
from . import registry
from ..ops import registry as ops
from ..ops.registry import Trait
from .registry import REQUIRED, LearnUse, RuleValue
from .synapse import FORMS, form_of, ops_with

KEYWORD = "learn"


def rule_value(ev, e: A.Expr, frame):
    """Evaluate the expression given to `learn=`."""
    name = e.callee.name if isinstance(e, A.ExprCall) and isinstance(e.callee, A.ExprName) \
        else e.name if isinstance(e, A.ExprName) else None
    rule = registry.get(name) if name else None
    span = frame.span(e.span)
    if rule is None and name is not None and name not in frame.vars \
            and name not in frame.module.names:
        close = difflib.get_close_matches(name, registry.all_rules(), n=1)
        raise SpeccError(f"unknown learning rule '{name}'", span,
                         (f"did you mean '{close[0]}'?",) if close else
                         (f"rules: {', '.join(registry.all_rules())}",))
    if rule is None:
        value = ev.eval(e, frame)
        if value is POISON or isinstance(value, RuleValue):
            return value
        close = difflib.get_close_matches(name or "", registry.all_rules(), n=1)
        raise SpeccError(f"'learn' needs a learning rule, got {type_name(value)} {show(value)}"
                         .rstrip(), span, (f"did you mean '{close[0]}'?",) if close else
                         (f"rules: {', '.join(registry.all_rules())}",))
    given = {}
    if isinstance(e, A.ExprCall):
        if any(a.name is None for a in e.args):
            raise SpeccError(f"rule '{name}' takes keyword arguments only, e.g. "
                             f"{name}({_example(rule)})", span)
        given = {a.name: ev.eval(a.value, frame) for a in e.args}
        if POISON in given.values():
            return POISON
    return RuleValue(name, _bind(rule, given, span), span)


def _example(rule) -> str:
    a = rule.args[0] if rule.args else None
    return f"{a.name}=..." if a else ""


def _bind(rule, given: dict, span) -> tuple:
    names = [a.name for a in rule.args]
    for key in given:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            raise SpeccError(f"rule '{rule.name}' has no argument '{key}'", span,
                             (f"did you mean '{close[0]}'?",) if close else
                             (f"'{rule.name}' takes: {', '.join(names) or 'nothing'}",))
    out = []
    for a in rule.args:
        if a.name not in given:
            if a.default is REQUIRED:
                raise SpeccError(f"rule '{rule.name}' needs '{a.name}'", span)
            out.append((a.name, a.default))
            continue
        out.append((a.name, _coerce(rule.name, a, given[a.name], span)))
    return tuple(out)


def _coerce(rule: str, a, v, span):
    def bad(want):
        return SpeccError(f"argument '{a.name}' of rule '{rule}' must be {want}, got "
                          f"{type_name(v)}", span)
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    if a.kind == "float":
        if not number:
            raise bad("a number")
        return float(v)
    if a.kind == "int" and (isinstance(v, bool) or not isinstance(v, int)):
        raise bad("an int")
    if a.kind == "bool" and not isinstance(v, bool):
        raise bad("true or false")
    if a.kind == "str":
        if not isinstance(v, str):
            raise bad("a string")
        if a.choices and v not in a.choices:
            raise SpeccError(f"argument '{a.name}' of rule '{rule}' must be one of "
                             f"{', '.join(map(show, a.choices))}, got {show(v)}", span)
    if a.kind == "tensor":
        if v is None:
            return None
        if not isinstance(v, Tensor):
            raise bad("a tensor of the network")
        return v.name
    return v


# ------------------------------------------------------------------ recording uses
def record(graph, node_name: str, value: RuleValue, span) -> None:
    """Assign `value` to every parameter node `node_name` owns or reads."""
    node = graph.node(node_name)
    op = ops.get(node.op)
    targets = [(pname, role) for role, pname in node.params.items()]
    positional = [a.name for a in op.tensor_args if a.kind == "tensor"]
    for i, value_name in enumerate(node.inputs):
        producer = graph.values[value_name].producer
        if producer is not None and i < len(positional):
            src = graph.node(producer)
            if Trait.DECLARATION in ops.get(src.op).traits:
                targets.append((src.params["value"], positional[i]))
    if not targets:
        raise SpeccError(f"op '{node.op}' has no parameters to learn", span,
                         ("'learn=' names the rule for the parameters an op owns or is given",))
    for pname, role in targets:
        old = graph.learning.get(pname)
        if old is not None and (old.value != value or registry.get(value.rule).local):
            raise SpeccError(f"parameter '{pname}' is given a second learning rule; a "
                             "parameter learns by one rule", span,
                             (f"it learns by {old.value} (at {old.span})",))
        if old is not None:  # shared weights, one (non-local) rule: reached through both
            old.also.append(node_name)
            continue
        graph.learning[pname] = LearnUse(pname, value, node_name, role, span)


# ----------------------------------------------------------------------- checks
def check_learning(graph) -> list[SpeccError]:
    """Every problem with the rules of a finished graph, each at its `learn=` argument."""
    errors, said = [], set()
    for use in graph.learning.values():
        rule = registry.get(use.rule)
        node = graph.node(use.node)
        problem = _applicable(graph, use, rule, ops.get(node.op))
        if problem is None and rule.check is not None:
            problem = rule.check(use, graph)
        if problem and (problem, use.span) not in said:  # one message for weight and bias
            said.add((problem, use.span))
            errors.append(SpeccError(problem, use.span))
    if not errors:
        _add_state(graph)
    return errors


def _applicable(graph, use, rule, op) -> str | None:
    param = graph.params[use.param]
    if not param.trainable:
        return (f"'{use.param}' is fixed; {use.rule} cannot update it (declare it with "
                "'param', not 'fixed')")
    if rule.forms is not None:
        bad = [u for u in graph.learning.values() if u.node == use.node and u.span == use.span
               and form_of(op, u.role) not in rule.forms]
        if bad:
            seen = (f"as {FORMS[form_of(op, bad[0].role)]}" if form_of(op, bad[0].role)
                    else "in no form a local rule can read")
            names = " and ".join(f"'{u.param}'" for u in bad)
            return (f"{use.rule} cannot update {names}: {node_op(graph, use)} uses "
                    f"{'them' if len(bad) > 1 else 'it'} {seen}; {use.rule} updates the "
                    f"parameters of {', '.join(ops_with(rule.forms))}")
    if rule.local:
        readers = [n.name for n in graph.nodes if _reads(graph, n, use.param)]
        if len(readers) > 1:
            return (f"{use.rule} updates '{use.param}' from the activity around one node, but "
                    f"{len(readers)} nodes use it ({', '.join(readers[:4])})")
    return None


def node_op(graph, use) -> str:
    node = graph.node(use.node)
    return f"{node.op} '{node.name}'"


def _reads(graph, node, pname: str) -> bool:
    if Trait.DECLARATION in ops.get(node.op).traits:
        return False
    if pname in node.params.values():
        return True
    for i in node.inputs:
        producer = graph.values[i].producer
        if producer is not None:
            src = graph.node(producer)
            if Trait.DECLARATION in ops.get(src.op).traits and src.params.get("value") == pname:
                return True
    return False


def _add_state(graph) -> None:
    """The tensors rules keep between steps become state parameters of the node (saved in
    checkpoints like batch norm's running statistics, never exported)."""
    for use in list(graph.learning.values()):
        rule = registry.get(use.rule)
        if rule.state is None:
            continue
        node = graph.node(use.node)
        for name, shape in rule.state(use, graph).items():
            role = f"{use.rule}_{name}"
            if role in node.params:
                continue
            pname = f"{node.name}.{role}"
            graph.params[pname] = Param(pname, tuple(shape), Init("zeros"), trainable=False,
                                        state=True, span=use.span)
            node.params[role] = pname
