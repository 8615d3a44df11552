"""Initialisers: Init values of the IR -> tensors (seeded, reproducible)."""
from __future__ import annotations

import math

import torch

from ..core.dtypes import torch_dtype
from ..ir.graph import Param



def he_fan_of(kind: str, args: tuple, fan_in: int, fan_out: int) -> float:
    """He et al.'s variance denominator: (1 + a^2) times the fan-in, or the fan-out with
    mode "fan_out" (torch.nn.init.kaiming_*'s modes; a is the PReLU slope)."""
    if not kind.startswith("he_"):
        return fan_in
    slope = next((a for a in args if not isinstance(a, str)), 0.0)
    return (fan_out if "fan_out" in args else fan_in) * (1 + slope ** 2)


def init_tensor(p: Param, gen: torch.Generator | None) -> torch.Tensor:
    return fill_tensor(p, gen, torch.empty(tuple(p.shape), dtype=torch_dtype(p.dtype)))


def fill_tensor(p: Param, gen: torch.Generator | None, out: torch.Tensor) -> torch.Tensor:
    """Fill `out` (p's shape and dtype) with p's initial values, in place: random draws go
    straight into a float32 tensor (through a float32 draw for other dtypes), so filling a
    preallocated tensor draws and holds exactly what a fresh one would."""
    dtype = torch_dtype(p.dtype)
    kind, args = p.init.kind, p.init.args
    shape = tuple(p.shape)
    if kind in ("zeros", "ones", "constant"):
        value = {"zeros": 0, "ones": 1}.get(kind, args[0] if args else 0)
        return out.fill_(value)
    if kind == "values":
        return out.copy_(torch.tensor(args, dtype=dtype).reshape(shape))
    if kind == "bipolar":  # fixed +-1 codes from their own seed, whatever the run's seed
        g = torch.Generator().manual_seed(int(args[0]))
        signs = torch.randint(0, 2, shape, generator=g) * 2 - 1
        if len(args) > 1:  # sparse: each entry present with probability `density`
            signs = signs * (torch.rand(shape, generator=g) < args[1])
        return out.copy_(signs.to(dtype))
    t = out if out.dtype == torch.float32 else torch.empty(shape, dtype=torch.float32)
    fan_in, fan_out = max(p.fan_in, 1), max(p.fan_out, 1)
    he_fan = he_fan_of(kind, args, fan_in, fan_out)
    gain = args[0] if kind.startswith("glorot_") and args else 1.0
    uniform = {"default": 1 / math.sqrt(fan_in), "he_uniform": math.sqrt(6 / he_fan),
               "glorot_uniform": gain * math.sqrt(6 / (fan_in + fan_out))}
    normal = {"he_normal": math.sqrt(2 / he_fan), "lecun_normal": math.sqrt(1 / fan_in),
              "glorot_normal": gain * math.sqrt(2 / (fan_in + fan_out))}
    if kind in uniform:
        t.uniform_(-uniform[kind], uniform[kind], generator=gen)
    elif kind in normal:
        t.normal_(0.0, normal[kind], generator=gen)
    elif kind == "uniform":
        t.uniform_(args[0], args[1], generator=gen)
    elif kind == "normal":  # (mean, std), as torch.nn.init.normal_
        t.normal_(args[0], args[1], generator=gen)
    elif kind == "trunc_normal":
        torch.nn.init.trunc_normal_(t, *args, generator=gen)
    elif kind == "fan_in_uniform":
        t.uniform_(-args[0] / fan_in, args[0] / fan_in, generator=gen)
    else:
        raise ValueError(f"unknown initialiser {kind}")
    return t if t is out else out.copy_(t.to(dtype))
