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


CHAOTIC = 1e-4  # a float32 error beyond this: only the same kernels agree (see tolerance)


def tolerance(name: str) -> float:
    """1e-5, or twice the reference's own float32 rounding (its output against float64)
    where that is larger: two correct float32 programs with different kernels each carry
    that much, and a deep network at the filled weights can carry more than 1e-5
    (EfficientNet-B5 1.6e-5, MobileNetV3-Large 2.7e-5). Never more than 1e-4, where a
    wrong layer could hide: EfficientNet-B6 and B7 are chaotic in float32 at these weights
    (25 % and 43 % off float64), so their check holds only because both sides run the same
    one-thread kernels (the fixtures are made with one thread, and so is the check)."""
    ref = fixture(name)["parity"]
    own = max(v for k, v in ref.items() if k.endswith("float32_error"))  # out's, aux's
    return min(CHAOTIC, max(TOLERANCE, 2 * own))


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


def parity_error(net, name: str, at: dict | None = None) -> float:
    """Relative error of the filled specc module against torchvision's output: the largest
    of the head values' error over the largest magnitude, and the projections' and the L2
    norm's error over the output's L2 norm; for a segmentation model the larger of its `out`
    and `aux` errors. `at`: one of the fixture's other input sizes (`parity["more"]`)."""
    import torch
    ref = at or fixture(name)["parity"]
    module = net.to_torch().eval()
    params = {k for k, _ in module.named_parameters()}
    state = {k: torch.from_numpy(rule.fill(k, tuple(v.shape))) if rule.is_filled(k, k in params)
             else v for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)
    x = torch.from_numpy(rule.sample_input(tuple(ref["input"])))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the fixtures were made: the same kernels, the same sums
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        torch.set_num_threads(threads)
    outs = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
    first = next(iter(outs.values()))
    errors = [rule.relative_error(rule.summary(first.numpy()), ref["output"])]
    if "aux_output" in ref:  # torchvision's dict key `aux`: the spec's output of that name
        assert "aux" in outs, f"torchvision has an auxiliary output, the spec {list(outs)}"
        errors.append(rule.relative_error(rule.summary(outs["aux"].numpy()), ref["aux_output"]))
    return max(errors)
