"""ONNX's RNN and LSTM read back into the recurrent ops (the import rules that recurrent.py's
entries hold).

An ONNX RNN node is time-major (X [T, N, F], Y [T, directions, N, H]; layout=1 is batch
first), packs its weights with a leading direction axis (W [1, G H, F], R [1, G H, H],
B [1, 2 G H] = Wb then Rb) and, for LSTM, orders the gates i, o, f, c where PyTorch (and
specc) orders them i, f, g, o. A node over a zero state reads as `rnn` / `lstm` (batch
first, owning torch's weight_ih_l0 ... bias_hh_l0); an LSTM of one step from a given state
as `lstm_cell` over its weights as tensors (specc's own export of an unrolled loop). The
Transposes, Squeezes and Slices that specc's export writes around the node are read through,
so the round trip gives the same nodes. What the ops do not compute is refused, naming the
attribute: another direction, clip, other activations, peepholes, coupled input-forget gates,
sequence_lens shorter than the sequence, a given state over more than one step.
"""
from __future__ import annotations

import numpy as np

from .onnx_read import attr_or_input

_ORDER = (0, 2, 3, 1)  # ONNX's gate blocks i, o, f, c -> PyTorch's i, f, g, o
_RNN_ACTIVATIONS = {"Tanh": "tanh", "Relu": "relu"}
_LSTM_ACTIVATIONS = ["Sigmoid", "Tanh", "Tanh"]


def torch_gates(a: np.ndarray, hidden: int) -> np.ndarray:
    """Rows of an ONNX LSTM matrix or bias [4H, ...] in PyTorch's gate order."""
    return np.concatenate([a[k * hidden:(k + 1) * hidden] for k in _ORDER], axis=0)


# ------------------------------------------------------------------ checks
def _checked(m, gates: int) -> int:
    """The node's hidden size, after refusing what specc's recurrent ops do not compute."""
    kind = m.op_type
    direction = m.attr("direction", "forward")
    if direction != "forward":
        m.refuse(f"direction=\"{direction}\": specc's recurrent ops read the sequence forward "
                 "only")
    if m.attr("clip") is not None:
        m.refuse(f"clip={m.attr('clip')}: specc's recurrent ops do not clip the gates")
    for name in ("activation_alpha", "activation_beta"):
        if m.attr(name) is not None:
            m.refuse(f"{name} is given: specc's recurrent ops use the default activations")
    if m.attr("layout", 0) not in (0, 1):
        m.refuse(f"layout={m.attr('layout')} (ONNX defines 0 and 1)")
    if kind == "LSTM":
        acts = list(m.attr("activations", _LSTM_ACTIVATIONS))
        if acts != _LSTM_ACTIVATIONS:
            m.refuse(f"activations={acts}: specc's LSTM computes {_LSTM_ACTIVATIONS}")
        if m.attr("input_forget", 0):
            m.refuse("input_forget=1 (coupled input and forget gates): specc's LSTM has both")
        if m.has(7) and not _zeros(m, 7):
            m.refuse("peephole weights P (input 7): specc's LSTM has no peepholes")
    if not m.is_known(1) and not m.is_weight(1):
        m.refuse("its weights W are computed at run time; specc's recurrent ops own theirs")
    w, x, r = m.type(1), m.type(0), m.type(2)
    hidden = m.attr("hidden_size", r.shape[-1] if r.rank == 3 else None)
    if not isinstance(hidden, int) or hidden < 1 or r.rank != 3 or \
            tuple(r.shape[1:]) != (gates * hidden, hidden):
        m.refuse(f"hidden_size={hidden} with R {list(r.shape)} (R must be [1, {gates} x "
                 "hidden, hidden])")
    if w.rank != 3 or w.shape[0] != 1 or w.shape[1] != gates * hidden or \
            x.rank != 3 or w.shape[2] != x.shape[2]:
        m.refuse(f"hidden_size={hidden} with W {list(w.shape)} over X {list(x.shape)} (W must "
                 f"be [1, {gates} x hidden, features])")
    _check_lengths(m)
    return hidden


def _zeros(m, i: int) -> bool:
    arr = m.known(i)
    return arr is not None and not np.any(np.asarray(arr, dtype=np.float64))


def _steps(m):
    x = m.type(0)
    return x.shape[1] if m.attr("layout", 0) == 1 else x.shape[0]


def _check_lengths(m) -> None:
    """sequence_lens (input 4) is read only where every sequence runs the whole length."""
    if not m.has(4):
        return
    lens, steps = m.known(4), _steps(m)
    if lens is None or not isinstance(steps, int) or np.any(np.asarray(lens) != steps):
        m.refuse(f"sequence_lens (input 4, '{m.node.input[4]}') may end sequences before "
                 f"their length {steps}; specc's recurrent ops read every step")


def _zero_state(m) -> bool:
    """initial_h (and initial_c) absent, known zeros, or zeros of a size known at run time."""
    return all(not m.has(i) or _zeros(m, i) or _zero_fill(m, i) for i in (5, 6))


def _zero_fill(m, i: int) -> bool:
    """Input i is a ConstantOfShape of 0 (over symbolic sizes), perhaps sliced or reshaped:
    PyTorch's zero state for an open batch."""
    view = m.producer(i, alone=False)
    while _is(view, "Slice") or _is(view, "Unsqueeze") or _is(view, "Squeeze") or \
            _is(view, "Reshape") or _is(view, "Expand"):
        view = view.producer(0, alone=False)
    if not _is(view, "ConstantOfShape"):
        return False
    value = view.attr("value")
    return value is None or not np.any(np.asarray(value, dtype=np.float64))


# ---------------------------------------------------------- sequence in / out
def _is(view, op_type: str) -> bool:
    return view is not None and view.op_type == op_type


def _swaps(view) -> bool:
    """A Transpose of time and batch (perm 1, 0, 2)."""
    return _is(view, "Transpose") and list(view.attr("perm", [])) == [1, 0, 2]


def _axes(view, rank: int):
    """A (Un)Squeeze's axes when they are known: an attribute, a known input, or a Constant
    node that only it reads (PyTorch writes those after the node it reads from)."""
    if view.has(1) and not view.is_known(1):
        const = view.producer(1)
        if not _is(const, "Constant") or const.attr("value") is None:
            return None
        axes = [int(a) for a in np.asarray(const.attr("value")).reshape(-1)]
    else:
        axes = attr_or_input(view, "axes", 1)
    return None if axes is None else [a % rank for a in axes]


def _squeezes(view, axis: int, rank: int) -> bool:
    """A Squeeze of exactly `axis`."""
    return _is(view, "Squeeze") and _axes(view, rank) == [axis]


def _unsqueezes(view, axis: int, rank: int) -> bool:
    return _is(view, "Unsqueeze") and _axes(view, rank) == [axis]


def _batch_first(m):
    """X as [N, T, F]: layout=1 is; a Transpose before the node (specc's export, PyTorch's
    batch_first) is read through; else transposed here."""
    if m.attr("layout", 0) == 1:
        return m.value(0)
    before = m.producer(0)
    if _swaps(before):
        return before.value(0)
    return m.call("transpose", m.value(0), perm=[1, 0, 2])


def _outputs(m, out, hidden: int):
    """(Y, Y_h) from the op's [N, T, H]: Y's Squeeze of the direction axis and a Transpose
    back to batch first after it are read here too."""
    if m.outputs > 2 and m.live(2):
        m.refuse("its last cell state Y_c (output 2) is used; specc's lstm gives the hidden "
                 "states only (lstm_cell gives both, for one step from a given state)")
    y_h = None
    if m.live(1):  # the last step
        y_h = m.call("slice", out, axis=1, start=-1)
        if m.attr("layout", 0) == 0:
            y_h = m.call("transpose", y_h, perm=[1, 0, 2])
    return _sequence(m, out) if m.live(0) else None, y_h


def _sequence(m, out):
    if m.attr("layout", 0) == 1:
        after = m.sole_user(0)
        if _squeezes(after, 2, 4):
            m.absorb(after, out)
            return out
        return m.call("unsqueeze", out, axes=[2])
    after = m.sole_user(0)
    if _squeezes(after, 1, 4):
        back = after.sole_user(0)
        if _swaps(back):
            m.absorb(after, out)
            m.absorb(back, out)
            return out
        m.absorb(after, m.call("transpose", out, perm=[1, 0, 2]))
        return out
    return m.call("unsqueeze", m.call("transpose", out, perm=[1, 0, 2]), axes=[1])


def _bias(m, gates: int, hidden: int, fn):
    """Wb and Rb (B's halves), each as (view, input, layout): B itself, or the two vectors
    specc's export joins into it (Unsqueeze of a Concat), read through."""
    n = gates * hidden
    if m.is_known(3) or m.is_weight(3):
        return (m, 3, lambda a: fn(a[0, :n])), (m, 3, lambda a: fn(a[0, n:]))
    lifted = m.producer(3)
    join = lifted.producer(0) if _unsqueezes(lifted, 0, 2) else None
    if _is(join, "Concat") and join.n_inputs == 2 and join.attr("axis", 0) in (0, -1) and \
            all(join.is_known(k) and join.type(k).shape == (n,) for k in (0, 1)):
        return (join, 0, fn), (join, 1, fn)
    m.refuse(f"its bias B ('{m.node.input[3]}') is computed at run time; specc's recurrent "
             "ops own their biases")


# ------------------------------------------------------------------- rules
def _rnn_kind(m) -> tuple:
    acts = list(m.attr("activations", ["Tanh"]))
    if len(acts) != 1 or acts[0] not in _RNN_ACTIVATIONS:
        m.refuse(f"activations={acts}: specc's rnn computes Tanh or Relu")
    return _RNN_ACTIVATIONS[acts[0]], m.has(3)


def _rnn_weights(m, hidden: int, k: int) -> dict:
    weights = {f"weight_ih_l{k}": m.weight(1, lambda a: a[0]),
               f"weight_hh_l{k}": m.weight(2, lambda a: a[0])}
    if m.has(3):
        (v, i, f), (u, j, g) = _bias(m, 1, hidden, lambda a: a)
        weights[f"bias_ih_l{k}"], weights[f"bias_hh_l{k}"] = v.weight(i, f), u.weight(j, g)
    return weights


def _lstm_weights(m, h: int, k: int) -> dict:
    weights = {f"weight_ih_l{k}": m.weight(1, lambda a: torch_gates(a[0], h)),
               f"weight_hh_l{k}": m.weight(2, lambda a: torch_gates(a[0], h))}
    if m.has(3):
        (v, i, f), (u, j, g) = _bias(m, 4, h, lambda a: torch_gates(a, h))
        weights[f"bias_ih_l{k}"], weights[f"bias_hh_l{k}"] = v.weight(i, f), u.weight(j, g)
    else:
        dtype = m.type(1).dtype
        weights[f"bias_ih_l{k}"] = m.zeros_weight((4 * h,), dtype)
        weights[f"bias_hh_l{k}"] = m.zeros_weight((4 * h,), dtype)
    return weights


def _layers(m, same) -> list:
    """The nodes of one multi-layer network ending at m: while this layer reads the squeezed
    Y of another node of its kind that nothing else reads (what specc's `layers=` and
    torch's num_layers export), that node is the layer before. Earlier layers were read as
    ops of their own; those become dead code."""
    layers = [m]
    while True:
        squeeze = layers[0].producer(0)
        prev = squeeze.producer(0) if _squeezes(squeeze, 1, 4) else None
        if not _is(prev, m.op_type) or prev.live(1) or (prev.outputs > 2 and prev.live(2)) \
                or prev.attr("layout", 0) != 0 or not same(prev):
            return layers
        layers.insert(0, prev)


def rnn_import(m):
    """ONNX RNN -> rnn (Elman's recurrence, tanh or relu) from a zero state."""
    hidden = _checked(m, 1)
    kind = _rnn_kind(m)
    if not _zero_state(m):
        m.refuse(f"initial_h (input 5, '{m.node.input[5]}') is given: specc's rnn starts from "
                 "a zero state")
    layers = [m] if m.attr("layout", 0) else _layers(
        m, lambda v: _rnn_kind(v) == kind and v.attr("hidden_size") == m.attr("hidden_size"))
    weights = {}
    for k, layer in enumerate(layers):
        weights.update(_rnn_weights(layer, hidden, k))
    out = m.call("rnn", _batch_first(layers[0]), hidden=hidden, layers=len(layers),
                 bias=kind[1], nonlinearity=kind[0], weights=weights)
    return _outputs(m, out, hidden)


def lstm_import(m):
    """ONNX LSTM -> lstm from a zero state, or lstm_cell for one step from a given state."""
    hidden = _checked(m, 4)
    if not _zero_state(m):
        return _cell(m, hidden)
    layers = [m] if m.attr("layout", 0) else _layers(
        m, lambda v: v.attr("hidden_size") == m.attr("hidden_size"))
    weights = {}
    for k, layer in enumerate(layers):
        weights.update(_lstm_weights(layer, hidden, k))
    out = m.call("lstm", _batch_first(layers[0]), hidden=hidden, layers=len(layers),
                 weights=weights)
    return _outputs(m, out, hidden)


def _cell(m, hidden: int):
    """One step from a given state: lstm_cell(x, [h, c], w_ih, w_hh, b_ih, b_hh) [N, 2H]."""
    if m.attr("layout", 0) != 0 or _steps(m) != 1 or not (m.has(5) and m.has(6)):
        m.refuse(f"initial_h and initial_c over {_steps(m)} steps (layout="
                 f"{m.attr('layout', 0)}): specc's lstm starts from a zero state; a given "
                 "state is read for one time-major step (lstm_cell), both h and c")
    if not m.has(3):
        m.refuse("no bias B with a given state: specc's lstm_cell takes its biases as tensors")
    h = hidden
    before = m.producer(0)
    x = before.value(0) if _unsqueezes(before, 0, 3) else \
        m.call("squeeze", m.value(0), axes=[0])
    (v, i, f), (u, k, g) = _bias(m, 4, h, lambda a: torch_gates(a, h))
    tensors = [m.value(1, lambda a: torch_gates(a[0], h)),
               m.value(2, lambda a: torch_gates(a[0], h)), v.value(i, f), u.value(k, g)]
    state = m.call("lstm_cell", x, _state_in(m, h), *tensors)
    return _cell_outputs(m, state, h)


def _state_in(m, h: int):
    """[h0, c0] as one [N, 2H] tensor: the two halves specc's export slices out of one state
    are read back as that state."""
    parts = []
    for i, start in ((5, 0), (6, h)):
        lifted = m.producer(i)
        cut = lifted.producer(0) if _unsqueezes(lifted, 0, 3) else None
        if _is(cut, "Slice") and cut.n_inputs >= 4 and all(cut.is_known(k) for k in (1, 2, 3)) \
                and cut.ints(1) == [start] and cut.ints(2) == [start + h] and \
                [a % 2 for a in cut.ints(3)] == [1] and (cut.n_inputs < 5 or cut.ints(4) == [1]):
            parts.append((cut.ins[0], cut))
        else:
            parts.append((None, None))
    (a, cut_h), (b, cut_c) = parts
    if a is not None and a is b:
        return cut_h.value(0)
    halves = [m.call("squeeze", m.value(i), axes=[0]) for i in (5, 6)]
    return m.call("concat", halves, axis=1)


def _cell_outputs(m, state, h: int):
    """(Y, Y_h, Y_c) of the step; the Squeezes of Y_h and Y_c and the Concat that joins them
    (specc's export) are read as the state itself."""
    sq_h, sq_c = m.sole_user(1), m.sole_user(2)
    if _squeezes(sq_h, 0, 3) and _squeezes(sq_c, 0, 3):
        join_h, join_c = sq_h.sole_user(0), sq_c.sole_user(0)
        if _is(join_h, "Concat") and join_h is not None and join_c is not None and \
                join_h.index == join_c.index and join_h.attr("axis") in (1, -1) and \
                list(join_h.node.input) == [sq_h.node.output[0], sq_c.node.output[0]]:
            m.absorb(sq_h, state)
            m.absorb(sq_c, state)
            m.absorb(join_h, state)
            return _hidden_seq(m, state, h) if m.live(0) else None, state, state
    y_h = m.call("unsqueeze", m.call("slice", state, axis=1, start=0, end=h), axes=[0]) \
        if m.live(1) else None
    y_c = m.call("unsqueeze", m.call("slice", state, axis=1, start=h, end=2 * h), axes=[0]) \
        if m.live(2) else None
    return _hidden_seq(m, state, h) if m.live(0) else None, y_h, y_c


def _hidden_seq(m, state, h: int):
    """Y [1, 1, N, H] of the step."""
    return m.call("unsqueeze", m.call("slice", state, axis=1, start=0, end=h), axes=[0, 1])
