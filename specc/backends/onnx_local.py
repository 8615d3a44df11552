"""Verification when the weights make a network ill-conditioned: node by node.

Comparing outputs proves a translation only as far as the reference itself is exact. Weights
that were never trained can make a deep network amplify float32 rounding without bound: an
EfficientNet-B4 filled by the fixtures' rule (eval-mode batch norm with made-up running
statistics normalises nothing, so every residual block grows the activations by ~1.6x, to
~3e5 at 224 px) gives torch float32 outputs 26 % off float64, and torch at batch 1 differs
from torch at batch 2 by 15 %. No float32 program can match torch to 1e-4 there, however
right. So when the outputs disagree, torch is also run in float64: if float32 torch is itself
more than a tenth of the tolerance off float64, every value is checked locally instead, each
op computed by torch from onnxruntime's own values of its inputs (local errors do not grow
with depth; every op's value is held to the tolerance, so a wrong op still fails). A
well-conditioned network whose outputs disagree stays a failure.
"""
from __future__ import annotations

import copy

import numpy as np


def reference_error(module, graph, feeds: dict, expected: list) -> float:
    """How far torch's float32 outputs (`expected`, on `feeds`) are from torch in float64."""
    import torch

    from .onnx_numbers import max_rel_error
    wide = copy.deepcopy(module).double()
    args = [torch.from_numpy(feeds[n]) for n in graph.inputs]
    args = [a.double() if a.is_floating_point() else a for a in args]
    with torch.inference_mode():
        out = wide(*args)
    by_name = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
    exact = [by_name[name].numpy() for name in graph.outputs]
    return max_rel_error(exact, expected)


def local_check(graph, module, feeds: dict, skeleton, weights, tol: float,
                signal_tol: float) -> tuple[int, float, int]:
    """(values compared, worst local error, values with signal): each value both sides name,
    torch's op computed from onnxruntime's values of its inputs, against onnxruntime's."""
    import torch
    import torch.fx as fx

    from .onnx_numbers import has_signal, max_rel_error, within
    actual = _onnx_values(graph, module, feeds, skeleton, weights)
    by_node = {module.specc_values[v]: v for v in actual}
    errors: dict[str, float] = {}

    class Local(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            value = by_node.get(n.name)
            if value is None or not torch.is_tensor(result):
                return result
            errors[value] = max_rel_error([result.detach().numpy()], [actual[value]])
            return torch.from_numpy(actual[value])  # downstream ops see onnxruntime's value
    with torch.inference_mode():
        Local(module).run(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    for value, err in errors.items():
        within(err, tol, f"'{value}' (computed by torch from onnxruntime's inputs)")
    signal = sum(has_signal(actual[v], signal_tol) for v in errors)
    return len(errors), max(errors.values(), default=0.0), signal


def _onnx_values(graph, module, feeds, skeleton, weights) -> dict[str, np.ndarray]:
    """Every float value the ONNX graph and the torch module both name, from onnxruntime."""
    from .onnx_numbers import onnx_values, shared_float_values
    names = shared_float_values(graph, module, skeleton)
    return onnx_values(skeleton, graph, names, weights, feeds)
