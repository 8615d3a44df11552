"""Competitive self-organisation: winner-take-all learning without a teacher."""
from __future__ import annotations

from .registry import RuleArg, RuleDef, register
from .synapse import flat, rows


def _competitive(step):
    if step.form == "s_plane":
        from ..ops.neocognitron import reinforce_representatives
        reinforce_representatives(step)
        return
    import torch.nn.functional as F
    w = rows(step.param, step.form)
    x, y = flat(step.pre), flat(step.post)
    won = F.one_hot(y.argmax(1), w.shape[0]).to(w.dtype)  # [B, units]
    w.add_(step.arg("rate") * (won.t() @ x - won.sum(0)[:, None] * w))


register(RuleDef(
    name="competitive",
    doc="Winner-take-all self-organisation. On dense weights (Rumelhart & Zipser 1985): the "
        "unit with the largest output wins each sample and moves towards it, "
        "dw_win = eta * (x - w_win). On the Neocognitron's S-planes (Fukushima 1980, sec. 3): "
        "in every S-column (`column` x `column` positions x all planes) the strongest cell is a "
        "candidate; each plane's strongest candidate is its representative at n^; its plane "
        "(shared weights) is reinforced, da(k', v, k^) = q * c(v) * u_C(k', n^ + v) and "
        "db(k^) = (q / 2) * v_C(n^), with q = `rate`. Planes without a candidate are left alone. "
        "`epoch` > 0 confines learning to that epoch, so that layers can learn in turn.",
    args=(RuleArg("rate", "float", doc="eta, or the Neocognitron's q_l"),
          RuleArg("column", "int", 5, "S-column width in cells (S-planes only)"),
          RuleArg("epoch", "int", 0, "the one epoch (1, 2, ...) it learns in; 0: every epoch")),
    kind="local", forms=frozenset({"dense", "dense_in", "s_plane"}), update=_competitive))
