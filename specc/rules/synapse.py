"""Synapse forms: how a local rule sees a parameter through the op that uses it.

An op declares, in its registry entry (`OpDef.synapses`), the form of each parameter it owns
(by role) or reads (by argument name). A form says what is "pre" (the activity arriving),
what is "post" (the activity leaving) and how their product lines up with the parameter:

  dense     weight [out, in] of y = x W^T (linear):   corr = post^T pre
  dense_in  weight [in, out] of y = x W (matmul's b): corr = pre^T post   (the transpose)
  bias      bias [out], pre = 1:                      corr = sum over samples of post
  gate      per-unit factor [K] of y ~ x * g:         corr = sum over samples of pre * post
  s_plane   the Neocognitron's S-cell a and b (see specc/ops/neocognitron.py): only the
            competitive rule's representative selection updates them

Rules are written once over rows: `rows(param, form)` views a dense or dense_in weight as
[out, in], so an in-place update of the view updates the parameter.
"""
from __future__ import annotations

FORMS = {
    "dense": "dense weights [out, in] (y = x W^T)",
    "dense_in": "matrix operands [in, out] (y = x W)",
    "bias": "biases [out]",
    "gate": "per-unit gates [K] (y ~ x * g)",
    "s_plane": "S-cell planes (a, b) of the Neocognitron",
}


def form_of(op, role: str) -> str | None:
    """The form of a parameter seen through `op` in `role`, or None if it has none."""
    return op.synapses.get(role)


def ops_with(forms) -> list[str]:
    """Ops (and roles) through which parameters of these forms can be updated."""
    from ..ops.registry import all_ops
    out = []
    for name, op in sorted(all_ops().items()):
        roles = [r for r, f in op.synapses.items() if f in forms]
        if roles:
            out.append(f"{name} ({', '.join(roles)})")
    return out


def rows(param, form: str):
    """A [out, in] view of a dense weight (dense_in is stored transposed)."""
    return param.t() if form == "dense_in" else param


def flat(t):
    """[B, ..., F] -> [B*..., F]: every leading position is one sample of activity."""
    return t.reshape(-1, t.shape[-1]) if t.dim() > 1 else t.reshape(1, -1)


def correlate(form: str, pre, post):
    """The Hebbian coincidence pre x post, summed over samples, shaped like the parameter
    (rows view for dense forms): [out, in], [out] or [K]."""
    if form in ("dense", "dense_in"):
        return flat(post).t() @ flat(pre)
    if form == "bias":
        return flat(post).sum(0)
    if form == "gate":
        return (pre * post).reshape(-1, *pre.shape[1:]).sum(0)
    raise ValueError(f"no correlation for form {form}")


def per_sample(form: str, pre, post):
    """The coincidence pre x post of each sample separately: [B, *parameter shape] (rows
    view for dense forms). Used by eligibility traces, which belong to one episode each."""
    if form in ("dense", "dense_in"):
        return post.reshape(post.shape[0], -1, post.shape[-1]).transpose(1, 2) @ \
            pre.reshape(pre.shape[0], -1, pre.shape[-1])
    if form == "bias":
        return post.reshape(post.shape[0], -1, post.shape[-1]).sum(1)
    if form == "gate":
        return pre * post
    raise ValueError(f"no per-sample correlation for form {form}")


# a parameter of these forms is a probability: after any local update it is clipped back
BOUNDS = {"gate": (0.0, 1.0)}
