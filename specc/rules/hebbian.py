"""Correlation rules: Hebb (1949), Oja (1982), Rosenblatt's error correction (1958/62)."""
from __future__ import annotations

from .graphs import output_of, threshold_of
from .registry import RuleArg, RuleDef, register
from .synapse import correlate, flat, rows

LINEAR = frozenset({"dense", "dense_in", "bias", "gate"})


def _add(step, delta) -> None:
    rows(step.param, step.form).add_(delta)


# ------------------------------------------------------------------------- hebb
def _check_hebb(use, graph):
    if use.value.arg("post") != "target":
        return None
    if output_of(graph, graph.node(use.node).outputs[0]) is None:
        return (f"hebb(post=\"target\") clamps the units of '{use.node}' to the targets, but "
                "they reach no network output")
    return None


def _hebb(step):
    post = step.target if step.arg("post") == "target" else step.post
    _add(step, step.arg("rate") * correlate(step.form, step.pre, post))


# -------------------------------------------------------------------------- oja
def _oja(step):
    w = rows(step.param, step.form)
    y, x = flat(step.post), flat(step.pre)
    w.add_(step.arg("rate") * (y.t() @ x - (y * y).sum(0)[:, None] * w))


# ------------------------------------------------------------------- perceptron
def _check_perceptron(use, graph):
    step_node = threshold_of(graph, use.node)
    if step_node is None:
        return (f"perceptron needs a thresholded output: '{use.node}' feeds no step() "
                "(Rosenblatt's rule corrects the responses of threshold units)")
    if output_of(graph, step_node.outputs[0]) is None:
        return (f"perceptron compares the responses of '{step_node.name}' with the targets, "
                "but they reach no network output")
    return None


def _perceptron(step):
    err = flat(step.target) - flat(step.response)  # t - y, per unit
    delta = err.sum(0) if step.form == "bias" else err.t() @ flat(step.pre)
    _add(step, step.arg("rate") * delta)


RATE = RuleArg("rate", "float", doc="the learning rate eta")

register(
    RuleDef(
        name="hebb",
        doc="Hebb's postulate as an equation: dw_ij = eta * x_i * y_j (pre x post), summed over "
            "the batch. post=\"target\" clamps the post-synaptic units to the targets (a "
            "teacher fires them), which stores pairs in a linear associative memory, "
            "W = eta * sum_k t_k x_k^T. Unbounded: nothing keeps weights from growing.",
        args=(RATE, RuleArg("post", "str", "output", "what the post-synaptic units do",
                            choices=("output", "target"))),
        kind="local", forms=LINEAR, check=_check_hebb, update=_hebb,
        teacher=lambda use: use.value.arg("post") == "target"),
    RuleDef(
        name="oja",
        doc="Oja 1982: Hebb with a decay that keeps each unit's weight vector at unit length, "
            "dw_i = eta * y_i * (x - y_i * w_i); a linear unit converges to the first "
            "principal component of its input.",
        args=(RATE,), kind="local", forms=frozenset({"dense", "dense_in"}), update=_oja),
    RuleDef(
        name="perceptron",
        doc="Rosenblatt's error correction (1958; Principles of Neurodynamics 1962): for each "
            "threshold unit with response y in {0, 1} and target t, w <- w + eta * (t - y) * a "
            "and theta <- theta - eta * (t - y), i.e. the bias b = -theta gains eta * (t - y). "
            "Needs the units' step() output; converges in finitely many corrections when the "
            "classes are linearly separable in the units' input space.",
        args=(RATE,), kind="local", forms=frozenset({"dense", "dense_in", "bias"}),
        check=_check_perceptron, update=_perceptron, teacher=lambda use: True,
        response=True),
)
