"""A parameter declared in the spec (`param w: f32[84, 10] = ...`); shared wherever it is used."""
from __future__ import annotations

from ..ir.graph import TensorType
from .registry import Example, Arg, OpDef, ParamSpec, ShapeError, no_macs, register, Trait
from .shapes import prod


def _infer(attrs, types):
    shape = attrs["shape"]
    if any(not isinstance(d, int) or d < 1 for d in shape):
        raise ShapeError(f"a parameter needs positive, known dims, got {list(shape)}")
    init = attrs["init"]
    if init.kind == "values" and len(init.args) != prod(shape):
        raise ShapeError(f"the constant holds {len(init.args)} numbers but the parameter "
                         f"{list(shape)} needs {prod(shape)}")
    return [TensorType(attrs["dtype"], tuple(shape))]


def _params(attrs, types):
    shape = tuple(attrs["shape"])
    fan_in = prod(shape[1:]) if len(shape) > 1 else (shape[0] if shape else 1)
    fan_out = shape[0] * prod(shape[2:]) if len(shape) > 1 else 1
    return {"": ParamSpec(shape, attrs["init"], trainable=attrs["trainable"], fan_in=fan_in,
                          fan_out=fan_out, dtype=attrs["dtype"], saved=attrs["saved"])}


register(OpDef(
    name="parameter",
    shape="exactly the declared shape (no batch dim)",
    example=Example(("f32[N, 3]",), "matmul(x0, w)", ("param w: f32[3, 2] = uniform(-1, 1)",)),
   doc="A tensor declared in the spec: `param` (trained), `fixed` (never trained, saved in "
        "the state dict) or `const` (never trained, rebuilt from the spec, not saved).",
    args=(Arg("shape", "ints"), Arg("dtype", "str", "f32"), Arg("init", "init"),
          Arg("trainable", "bool", True), Arg("saved", "bool", True)),
    infer=_infer, params=_params,
    torch=lambda b, node, xs, ps: ps["value"],
    onnx=lambda b, node, xs, ps: ps["value"],
    traits=frozenset({Trait.DECLARATION}), macs=no_macs, tolerance=1e-5))
