"""Checking a specc network against a torchvision fixture (tools/torchvision_reference.py).

`layout_mismatches` compares state_dict keys and shapes without allocating any weights;
`parity_error` fills a specc-built module by the fixture's rule, loads it with strict=True,
runs it in eval mode on the fixture's input and returns the relative error of the output.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

import torchvision_rule as rule

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "torchvision"
TOLERANCE = 1e-5


@lru_cache(maxsize=None)
def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def layout(net) -> dict[str, tuple]:
    """The state_dict layout of a checked network, from its graph (nothing allocated):
    constants (`const`) are rebuilt from the spec, not saved."""
    return {name: tuple(p.shape) for name, p in net.graph.params.items() if p.saved}


_DTYPES = {"int64": "i64", "int32": "i32", "float64": "f64", "float16": "f16", "bool": "bool"}


def layout_mismatches(net, name: str) -> list[str]:
    """Keys, shapes and, where the fixture records them, the dtypes that are not float32."""
    ours = layout(net)
    theirs = {k: tuple(s) for k, s in fixture(name)["state_dict"]}
    out = [f"missing {k} {list(s)}" for k, s in theirs.items() if k not in ours]
    out += [f"unexpected {k} {list(s)}" for k, s in ours.items() if k not in theirs]
    out += [f"{k}: ours {list(s)}, torchvision {list(theirs[k])}"
            for k, s in ours.items() if k in theirs and theirs[k] != s]
    for k, dtype in fixture(name).get("dtypes", {}).items():
        mine = net.graph.params[k].dtype if k in net.graph.params else None
        if mine is not None and mine != _DTYPES.get(dtype, dtype):
            out.append(f"{k}: ours {mine}, torchvision {dtype}")
    return out


def parity_error(net, name: str) -> float:
    """Relative error of the filled specc module against torchvision's output: the largest
    of the head values' error over the largest magnitude, and the projections' and the L2
    norm's error over the output's L2 norm."""
    import torch
    ref = fixture(name)["parity"]
    module = net.to_torch().eval()
    params = {k for k, _ in module.named_parameters()}
    state = {k: torch.from_numpy(rule.fill(k, tuple(v.shape))) if rule.is_filled(k, k in params)
             else v for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)
    x = torch.from_numpy(rule.sample_input(tuple(ref["input"])))
    with torch.no_grad():
        out = module(x)
    out = (out[0] if isinstance(out, tuple) else out).numpy()
    return compare(rule.summary(out), ref["output"])


def compare(ours: dict, theirs: dict) -> float:
    if ours["shape"] != theirs["shape"]:
        raise AssertionError(f"output shape {ours['shape']} != torchvision's {theirs['shape']}")
    l2, top = theirs["l2"], theirs["max_abs"]
    assert top > 0 and np.isfinite(l2), "a reference output must be non-trivial"
    head = np.abs(np.subtract(ours["head"], theirs["head"])).max() / top
    proj = np.abs(np.subtract(ours["projections"], theirs["projections"])).max() / l2
    return float(max(head, proj, abs(ours["l2"] - l2) / l2))
