"""The op registry: one entry per op (registry.py), one module per op family.

Importing any part of this package imports every op module first, and each registers its
ops: the registry is complete wherever it is read, and it knows no op module by name."""
from . import (activation, arith, attention, axes, compare, conv, dense,  # noqa: F401
               detection, expand, indexing, integer, layer_norm, neocognitron, norm,
               onnx_folds, parameter, pointwise, pool, recurrent, reduce, resample, select,
               sorting, special, stochastic, tensor)
