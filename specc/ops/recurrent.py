"""Recurrent building blocks: an LSTM cell over explicit (shareable) weights, a multi-layer
LSTM that owns its weights, and `affine`, a linear layer over explicit weights.

Layouts are PyTorch's: weight_ih [4H, in], weight_hh [4H, H] and two bias vectors b_ih, b_hh
[4H], gates in the order input, forget, cell, output; c' = f*c + i*g, h' = o*tanh(c'). ONNX's
LSTM orders its gates input, output, forget, cell and takes B = [b_ih, b_hh]; the lowerings
reorder the rows. A cell's state is one tensor [N, 2H] holding h then c.
"""
from __future__ import annotations

from ..ir.graph import Init, TensorType
from .registry import (HALF_SUMS, Arg, Example, no_params, OpDef, ParamSpec, register, ShapeError,
                       Trait)
from ..ir.sym import same
from .shapes import float_input, fmt
from .shapes import known as _known
from .recurrent_read import lstm_import, rnn_import

DEFAULT = Init("default")


# --------------------------------------------------------------------------- cell
def _cell_infer(attrs, types):
    x, state, w_ih, w_hh, b_ih, b_hh = types
    float_input(x, "lstm_cell")
    if x.rank != 2 or state.rank != 2 or not same(state.shape[0], x.shape[0]):
        raise ShapeError(f"lstm_cell expects x [N, in] and state [N, 2H], got {fmt(x.shape)} "
                         f"and {fmt(state.shape)}")
    two_h = _known(state.shape[1], "the state width")
    h, f_in = two_h // 2, _known(x.shape[1], "the input width")
    want = {"w_ih": (4 * h, f_in), "w_hh": (4 * h, h), "b_ih": (4 * h,), "b_hh": (4 * h,)}
    got = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    for name, shape in want.items():
        if two_h % 2 or tuple(got[name].shape) != shape:
            raise ShapeError(f"lstm_cell with input {f_in} and state {two_h} (hidden {h}) needs "
                             f"{name} {fmt(shape)}, got {fmt(got[name].shape)}")
    return [state]


def lstm_step(x, state, w_ih, w_hh, b_ih, b_hh):
    """One LSTM step on the joined state [h, c]."""
    import torch
    h, c = state.chunk(2, 1)
    h, c = torch.lstm_cell(x, (h.contiguous(), c.contiguous()), w_ih, w_hh, b_ih, b_hh)
    return torch.cat([h, c], 1)


def _gate_order(b, w, hidden: int):
    """PyTorch's i, f, g, o rows -> ONNX's i, o, f, c."""
    h = hidden
    rows = list(range(0, h)) + list(range(3 * h, 4 * h)) + list(range(h, 2 * h)) + \
        list(range(2 * h, 3 * h))
    return b.op("Gather", [w, b.const(rows, "i64")], axis=0)


def _unsqueeze(b, x, axis: int):
    return b.op("Unsqueeze", [x, b.const([axis], "i64")])


def _onnx_lstm(b, x_seq, w_ih, w_hh, b_ih, b_hh, hidden: int, h0=None, c0=None):
    """One ONNX LSTM layer over X [T, N, in]: returns (Y [T, N, H], Y_h [N, H], Y_c [N, H])."""
    w = _unsqueeze(b, _gate_order(b, w_ih, hidden), 0)
    r = _unsqueeze(b, _gate_order(b, w_hh, hidden), 0)
    bias = _unsqueeze(b, b.op("Concat", [_gate_order(b, b_ih, hidden),
                                         _gate_order(b, b_hh, hidden)], axis=0), 0)
    inputs = [x_seq, w, r, bias, "", h0 or "", c0 or ""]
    y, y_h, y_c = b.op_outputs("LSTM", inputs, 3, hidden_size=hidden)
    axis0 = b.const([0], "i64")
    axis1 = b.const([1], "i64")
    return (b.op("Squeeze", [y, axis1]), b.op("Squeeze", [y_h, axis0]),
            b.op("Squeeze", [y_c, axis0]))


def _cell_onnx(b, node, xs, ps):
    x, state, w_ih, w_hh, b_ih, b_hh = xs
    hidden = b.types[1].shape[1] // 2
    starts = [b.const([0], "i64"), b.const([hidden], "i64")]
    ends = [b.const([hidden], "i64"), b.const([2 * hidden], "i64")]
    axis = b.const([1], "i64")
    h0 = _unsqueeze(b, b.op("Slice", [state, starts[0], ends[0], axis]), 0)
    c0 = _unsqueeze(b, b.op("Slice", [state, starts[1], ends[1], axis]), 0)
    _, h, c = _onnx_lstm(b, _unsqueeze(b, x, 0), w_ih, w_hh, b_ih, b_hh, hidden, h0, c0)
    return b.op("Concat", [h, c], axis=1)


# ----------------------------------------------------------------- multi-layer
def _lstm_infer(attrs, types):
    x = types[0]
    float_input(x, "lstm")
    if x.rank != 3:
        raise ShapeError(f"lstm expects a sequence [N, T, features], got {fmt(x.shape)}")
    _known(x.shape[2], "lstm's feature count")
    if attrs["hidden"] < 1 or attrs["layers"] < 1:
        raise ShapeError("lstm needs hidden >= 1 and layers >= 1")
    return [TensorType(x.dtype, (x.shape[0], x.shape[1], attrs["hidden"]))]


def _lstm_params(attrs, types):
    h, out = attrs["hidden"], {}
    for k in range(attrs["layers"]):
        f_in = types[0].shape[2] if k == 0 else h
        for role, shape in ((f"weight_ih_l{k}", (4 * h, f_in)), (f"weight_hh_l{k}", (4 * h, h)),
                            (f"bias_ih_l{k}", (4 * h,)), (f"bias_hh_l{k}", (4 * h,))):
            # PyTorch: every LSTM weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), i.e. fan-in H
            init = attrs["init"] if role.startswith("weight") else attrs["bias_init"]
            out[role] = ParamSpec(shape, init, fan_in=h, fan_out=h)
    return out


def _lstm_macs(attrs, types, outs):
    h, t, f = attrs["hidden"], types[0].shape[1], types[0].shape[2]
    per_step = sum(4 * h * ((f if k == 0 else h) + h) for k in range(attrs["layers"]))
    return t * per_step


def lstm_layers(x, hidden: int, layers: int, *weights):
    """torch's own multi-layer LSTM kernel (what nn.LSTM runs), batch first, zero state."""
    import torch
    zeros = x.new_zeros(layers, x.shape[0], hidden)
    return torch.lstm(x, (zeros, zeros), list(weights), True, layers, 0.0, False, False,
                      True)[0]


def _lstm_torch(b, node, xs, ps):
    a = node.attrs
    weights = [ps[f"{r}_l{k}"] for k in range(a["layers"])
               for r in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return b.call(lstm_layers, xs[0], a["hidden"], a["layers"], *weights)


def _lstm_onnx(b, node, xs, ps):
    a = node.attrs
    seq = b.op("Transpose", xs, perm=[1, 0, 2])  # [T, N, F]
    for k in range(a["layers"]):
        seq, _, _ = _onnx_lstm(b, seq, ps[f"weight_ih_l{k}"], ps[f"weight_hh_l{k}"],
                               ps[f"bias_ih_l{k}"], ps[f"bias_hh_l{k}"], a["hidden"])
    return b.op("Transpose", [seq], perm=[1, 0, 2])


# ------------------------------------------------------------------ Elman RNN
_NONLINEAR = {"tanh": ("rnn_tanh", "Tanh"), "relu": ("rnn_relu", "Relu")}


def _rnn_infer(attrs, types):
    x = types[0]
    float_input(x, "rnn")
    if x.rank != 3:
        raise ShapeError(f"rnn expects a sequence [N, T, features], got {fmt(x.shape)}")
    _known(x.shape[2], "rnn's feature count")
    if attrs["hidden"] < 1 or attrs["layers"] < 1:
        raise ShapeError("rnn needs hidden >= 1 and layers >= 1")
    if attrs["nonlinearity"] not in _NONLINEAR:
        raise ShapeError(f"rnn nonlinearity must be \"tanh\" or \"relu\", got "
                         f"\"{attrs['nonlinearity']}\"")
    return [TensorType(x.dtype, (x.shape[0], x.shape[1], attrs["hidden"]))]


def _rnn_roles(attrs) -> list[str]:
    kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if attrs["bias"] else ())
    return [f"{r}_l{k}" for k in range(attrs["layers"]) for r in kinds]


def _rnn_params(attrs, types):
    h, out = attrs["hidden"], {}
    for k in range(attrs["layers"]):
        f_in = types[0].shape[2] if k == 0 else h
        shapes = {"weight_ih": (h, f_in), "weight_hh": (h, h), "bias_ih": (h,), "bias_hh": (h,)}
        for role in _rnn_roles(attrs):
            kind, layer = role.rsplit("_l", 1)
            if int(layer) == k:  # torch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
                init = attrs["init"] if kind.startswith("weight") else attrs["bias_init"]
                out[role] = ParamSpec(shapes[kind], init, fan_in=h, fan_out=h)
    return out


def _rnn_macs(attrs, types, outs):
    h, t, f = attrs["hidden"], types[0].shape[1], types[0].shape[2]
    return t * sum(h * ((f if k == 0 else h) + h) for k in range(attrs["layers"]))


def rnn_layers(x, hidden: int, layers: int, nonlinearity: str, bias: bool, *weights):
    """torch's own Elman RNN kernel (what nn.RNN runs), batch first, zero initial state."""
    import torch
    zeros = x.new_zeros(layers, x.shape[0], hidden)
    fn = getattr(torch, _NONLINEAR[nonlinearity][0])
    return fn(x, zeros, list(weights), bias, layers, 0.0, False, False, True)[0]


def _rnn_torch(b, node, xs, ps):
    a = node.attrs
    return b.call(rnn_layers, xs[0], a["hidden"], a["layers"], a["nonlinearity"], a["bias"],
                  *[ps[r] for r in _rnn_roles(a)])


def _rnn_onnx(b, node, xs, ps):
    """ONNX RNN, one node per layer over X [T, N, F]: Y [T, 1, N, H] -> [T, N, H]."""
    a, h = node.attrs, node.attrs["hidden"]
    seq = b.op("Transpose", xs, perm=[1, 0, 2])
    for k in range(a["layers"]):
        w = _unsqueeze(b, ps[f"weight_ih_l{k}"], 0)
        r = _unsqueeze(b, ps[f"weight_hh_l{k}"], 0)
        bias = _unsqueeze(b, b.op("Concat", [ps[f"bias_ih_l{k}"], ps[f"bias_hh_l{k}"]],
                                  axis=0), 0) if a["bias"] else ""
        y, _ = b.op_outputs("RNN", [seq, w, r, bias], 2, hidden_size=h,
                            activations=[_NONLINEAR[a["nonlinearity"]][1]])
        seq = b.op("Squeeze", [y, b.const([1], "i64")])
    return b.op("Transpose", [seq], perm=[1, 0, 2])


# --------------------------------------------------------------------- affine
def _affine_infer(attrs, types):
    x, w, bias = types
    float_input(x, "affine")
    if w.rank != 2 or bias.rank != 1 or not same(x.shape[-1], w.shape[1]) \
            or w.shape[0] != bias.shape[0]:
        raise ShapeError(f"affine needs x [..., in], weight [out, in] and bias [out], got "
                         f"{fmt(x.shape)}, {fmt(w.shape)} and {fmt(bias.shape)}")
    return [TensorType(x.dtype, (*x.shape[:-1], w.shape[0]))]


def _affine_onnx(b, node, xs, ps):
    if b.types[0].rank == 2:
        return b.op("Gemm", xs, transB=1)
    y = b.op("MatMul", [xs[0], b.op("Transpose", [xs[1]], perm=[1, 0])])
    return b.op("Add", [y, xs[2]])


def _affine_macs(attrs, types, outs):
    return outs[0].per_sample() * types[1].shape[1]


register(
    OpDef(name="lstm_cell", half=HALF_SUMS, shape="x [N, in], state [N, 2H] -> [N, 2H]",
          example=Example(("f32[N, 3]", "f32[N, 8]"), "lstm_cell(x0, x1, wi, wh, bi, bh)",
                          ("param wi: f32[16, 3] = uniform(-1, 1)",
                           "param wh: f32[16, 4] = uniform(-1, 1)",
                           "param bi: f32[16] = uniform(-1, 1)",
                           "param bh: f32[16] = uniform(-1, 1)")),
          params=no_params, traits=frozenset(),
          doc="One LSTM step over explicit weights (PyTorch layout, two bias vectors), so an "
              "unrolled loop shares them; state [N, 2H] = [h, c] in, [h', c'] out.",
          args=(Arg("x", "tensor"), Arg("state", "tensor"), Arg("w_ih", "tensor"),
                Arg("w_hh", "tensor"), Arg("b_ih", "tensor"), Arg("b_hh", "tensor")),
          infer=_cell_infer, torch=lambda b, node, xs, ps: b.call(lstm_step, *xs),
          onnx=_cell_onnx, tolerance=1e-4,
          macs=lambda attrs, types, outs: 4 * types[3].shape[1] * (types[0].shape[1]
                                                                   + types[3].shape[1])),
    OpDef(name="lstm", half=HALF_SUMS, shape="[N, T, F] -> [N, T, hidden]",
          example=Example(("f32[N, 5, 3]",), "lstm(x0, 4, layers=2)"),
          doc="A multi-layer LSTM over a sequence [N, T, F] -> [N, T, hidden] from a zero "
              "state, owning torch.nn.LSTM's parameters (weight_ih_l0, ..., bias_hh_lK).",
          args=(Arg("x", "tensor"), Arg("hidden", "int"), Arg("layers", "int", 1),
                Arg("init", "init", DEFAULT), Arg("bias_init", "init", DEFAULT)),
          infer=_lstm_infer, params=_lstm_params, macs=_lstm_macs, torch=_lstm_torch,
          onnx=_lstm_onnx, tolerance=1e-4, traits=frozenset({Trait.WEIGHTED}),
          onnx_import={"LSTM": lstm_import}),
    OpDef(name="rnn", shape="[N, T, F] -> [N, T, hidden]",
          example=Example(("f32[N, T, 3]",), "rnn(x0, 4, layers=2)"),
          doc="Elman's recurrent network over a sequence of any length, [N, T, F] -> [N, T, "
              "hidden]: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) from a zero "
              "state, multi-layer, owning torch.nn.RNN's parameters (weight_ih_l0, ...; "
              "bias=false drops the biases); ONNX RNN.",
          args=(Arg("x", "tensor"), Arg("hidden", "int"), Arg("layers", "int", 1),
                Arg("nonlinearity", "str", "tanh"), Arg("bias", "bool", True),
                Arg("init", "init", DEFAULT), Arg("bias_init", "init", DEFAULT)),
          infer=_rnn_infer, params=_rnn_params, macs=_rnn_macs, torch=_rnn_torch,
          onnx=_rnn_onnx, tolerance=1e-4, traits=frozenset({Trait.WEIGHTED}),
          onnx_import={"RNN": rnn_import}),
    OpDef(name="affine", half=HALF_SUMS, shape="x [..., in], weight [out, in], bias [out] -> [..., out]",
          example=Example(("f32[N, 2, 3]",), "affine(x0, w, b)",
                          ("param w: f32[4, 3] = uniform(-1, 1)",
                           "param b: f32[4] = uniform(-1, 1)")),
          params=no_params, traits=frozenset({Trait.BACKWARD_IGNORES_OUTPUT}),
          doc="y = x W^T + b over explicit weight [out, in] and bias [out] (a linear layer "
              "whose parameters an unrolled loop shares).",
          args=(Arg("x", "tensor"), Arg("weight", "tensor"), Arg("bias", "tensor")),
          infer=_affine_infer, macs=_affine_macs,
          torch=lambda b, node, xs, ps: b.call(b.F.linear, *xs), onnx=_affine_onnx,
          tolerance=1e-4, synapses={"weight": "dense", "bias": "bias"}),
)
