"""The optimisers a recipe names (`optimizer = sgd(lr=0.1, momentum=0.9)`): one entry each,
with its fields and defaults (torch's own), built on demand."""
from __future__ import annotations

from .registry import FRACTION, NUM, POS, REQUIRED, Optimizer, register


def _sgd(params, f):
    import torch
    return torch.optim.SGD(params, lr=f["lr"], momentum=f["momentum"], nesterov=f["nesterov"],
                           weight_decay=f["weight_decay"])


def _adam(cls: str):
    def build(params, f):
        import torch
        return getattr(torch.optim, cls)(params, lr=f["lr"], betas=(f["beta1"], f["beta2"]),
                                         weight_decay=f["weight_decay"])
    return build


def _rmsprop(params, f):
    import torch
    return torch.optim.RMSprop(params, lr=f["lr"], alpha=f["alpha"], momentum=f["momentum"],
                               weight_decay=f["weight_decay"])


def _sgd_check(f):
    if f.get("nesterov") and not f.get("momentum"):
        return "nesterov=true needs a momentum above 0"
    return None


register(Optimizer(
    name="sgd", build=_sgd, check=_sgd_check,
    fields={"lr": (POS, REQUIRED), "momentum": (FRACTION, 0.0), "nesterov": ("bool", False),
            "weight_decay": (NUM, 0.0)},
    cite="Robbins & Monro 1951; momentum: Polyak 1964; nesterov: Sutskever et al. 2013",
    doc="stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay "
        "(torch.optim.SGD)"))
register(Optimizer(
    name="adam", build=_adam("Adam"),
    fields={"lr": (POS, REQUIRED), "beta1": (FRACTION, 0.9), "beta2": (FRACTION, 0.999),
            "weight_decay": (NUM, 0.0)},
    cite="Kingma & Ba 2015", doc="adaptive moment estimation (torch.optim.Adam)"))
register(Optimizer(
    name="adamw", build=_adam("AdamW"),
    fields={"lr": (POS, REQUIRED), "beta1": (FRACTION, 0.9), "beta2": (FRACTION, 0.999),
            "weight_decay": (NUM, 0.01)},
    cite="Loshchilov & Hutter 2019",
    doc="Adam with decoupled weight decay (torch.optim.AdamW)"))
register(Optimizer(
    name="rmsprop", build=_rmsprop,
    fields={"lr": (POS, REQUIRED), "alpha": (FRACTION, 0.99), "momentum": (FRACTION, 0.0),
            "weight_decay": (NUM, 0.0)},
    cite="Tieleman & Hinton 2012, lecture 6.5",
    doc="the gradient divided by a running root mean square (torch.optim.RMSprop)"))
