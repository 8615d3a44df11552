"""The Neocognitron's cells (Fukushima 1980, eqs. 1-6; reference section 4.2).

S-cell (shunting inhibition), with its r.m.s. inhibitory V_C-cell:
  u_S(k, n) = r * phi[(1 + sum_{k', v} a(k', v, k) u_C(k', n + v))
                      / (1 + 2r/(1 + r) * b(k) * v_C(n)) - 1]
  v_C(n) = sqrt(sum_{k', v} c(v) u_C(k', n + v)^2),  sum_{k', v} c(v) = 1
C-cell (saturating), with its V_S-cell:
  u_C(k, n) = psi[(1 + sum_v d(v) u_S(k, n + v)) / (1 + v_S(n)) - 1],  psi[x] = phi[x] / (alpha + phi[x])
  v_S(n) = (1 / K) sum_{k, v} d(v) u_S(k, n + v)
phi[x] = max(x, 0). The paper writes psi[x] = phi[x / (alpha + x)]: the same for x >= 0, and
we keep it 0 below (the paper's form turns positive again under x < -alpha).

The fixed synapses c and d are Gaussian in |v| (the paper says only "monotonically
decreasing"): c(v) = g(v) / (K' * sum g), d(v) = g(v) with g(v) = exp(-|v|^2 / (2 sigma^2)).
They are constants of the lowering, not parameters (the paper's 29,472 modifiable values are
the a's and b's).

Sampling grid (the paper gives plane sizes and windows but not how a 10x10 plane samples a
16x16 one). Our choice, the same for S- and C-cells, keeps every grid regular so that a shift
of the input moves a layer's response as a whole: windows slide at unit stride wherever zero
padding of at most half a window makes the sizes meet (16 -> 16 with 2, 10 -> 8 and 8 -> 6
with 1, 6 -> 2 and 2 -> 1 with none); the one step that cannot, UC1's 16 -> 10, takes every
second position (stride 2), centred on the plane: centres -2, 0, ..., 16, zero-padded.
"""
from __future__ import annotations

import math

from ..ir.graph import Init, TensorType
from .registry import (HALF_SUMS, Arg, Example, OpDef, ParamSpec, ShapeError, no_macs, no_params,
                       register)
from .shapes import fmt, spatial


# ------------------------------------------------------------------ geometry
def grid(m: int, n: int, w: int) -> tuple[int, list[int] | None]:
    """(padding, the positions of the padded convolution's output that are kept, or None when
    all are). Windows slide at unit stride wherever some zero padding p <= w // 2 makes the
    sizes meet (m + 2p - w + 1 = n: 16 -> 16, 10 -> 8, 8 -> 6, 6 -> 2, 2 -> 1); otherwise at
    the integer stride s = ceil(m / n), centred on the plane (16 -> 10: stride 2, centres
    -2, 0, ..., 16), the border padded with zeros as far as the outer windows reach."""
    if n < 1 or m < 1 or w < 1:
        raise ShapeError(f"planes and windows need positive sizes, got {m} -> {n} with {w}")
    if n > m:
        raise ShapeError(f"a plane of {n}x{n} cannot sample one of {m}x{m}")
    for pad in range(w // 2 + 1):
        if m + 2 * pad - w + 1 == n:
            return pad, None
    if w % 2 == 0:
        raise ShapeError(f"a {w}x{w} window maps a {m}x{m} plane to {m - w + 1}x{m - w + 1}, "
                         f"not {n}x{n}; resampling needs an odd window")
    stride = -(-m // n)
    first = -((n - 1) * stride - (m - 1)) // 2  # centre of the first window (may lie outside)
    reach = max(-first, first + (n - 1) * stride - (m - 1), 0)
    pad = w // 2 + reach
    return pad, [first + reach + i * stride for i in range(n)]
def gaussian(w: int, sigma: float) -> list[float]:
    """g(v) over a w x w window, row-major, centred."""
    mid = (w - 1) / 2
    return [math.exp(-((i - mid) ** 2 + (j - mid) ** 2) / (2 * sigma * sigma))
            for i in range(w) for j in range(w)]


def c_kernel(w: int, sigma: float, planes_below: int) -> list[float]:
    g = gaussian(w, sigma)
    total = sum(g) * planes_below
    return [v / total for v in g]


def _plane(x: TensorType, op: str) -> int:
    spatial(x, op, ranks=(4,))
    m = x.shape[2]
    if not isinstance(m, int) or x.shape[3] != m or not isinstance(x.shape[1], int):
        raise ShapeError(f"{op} expects square planes of known size [N, K, m, m], got "
                         f"{fmt(x.shape)}")
    return m


# ------------------------------------------------------------------ S-cells
def _s_infer(attrs, types):
    x = types[0]
    m = _plane(x, "s_cell")
    grid(m, attrs["size"], attrs["window"])
    if attrs["planes"] < 1 or attrs["r"] <= 0 or attrs["sigma"] <= 0:
        raise ShapeError("s_cell needs planes >= 1, r > 0 and sigma > 0")
    return [TensorType(x.dtype, (x.shape[0], attrs["planes"], attrs["size"], attrs["size"]))]


def initial_a(planes: int, below: int, w: int, sigma: float, scale: float) -> list[float]:
    """Small positive a's, deterministic, with a weak orientation preference that differs
    from plane to plane (paper, sec. 5): scale * c(v) * (1 + 0.5 cos(2 theta_v - 2 pi k/K))
    * (1 + 0.5 cos(2 pi (k'/K' - k/K)))."""
    c = c_kernel(w, sigma, below)
    mid = (w - 1) / 2
    out = []
    for k in range(planes):
        for kb in range(below):
            across = 1 + 0.5 * math.cos(2 * math.pi * (kb / below - k / planes)) if below > 1 \
                else 1.0
            for i in range(w):
                for j in range(w):
                    theta = math.atan2(i - mid, j - mid)
                    orient = 1 + 0.5 * math.cos(2 * theta - 2 * math.pi * k / planes)
                    out.append(scale * c[i * w + j] * orient * across)
    return out


def _s_params(attrs, types):
    below, w, k = types[0].shape[1], attrs["window"], attrs["planes"]
    a = initial_a(k, below, w, attrs["sigma"], attrs["init_scale"])
    fan = below * w * w
    return {"a": ParamSpec((k, below, w, w), Init("values", tuple(a)), fan_in=fan, fan_out=fan),
            "b": ParamSpec((k,), attrs["b_init"], fan_in=fan, fan_out=fan)}


def _s_macs(attrs, types, outs):
    below = types[0].shape[1]
    return attrs["planes"] * attrs["size"] ** 2 * below * attrs["window"] ** 2


def sample_grid(t, pos):
    if pos is None:
        return t
    import torch
    idx = torch.tensor(pos, device=t.device)
    return t.index_select(2, idx).index_select(3, idx)


def v_c(x, c, pad: int, pos):
    """The r.m.s. inhibitory cells under each S-cell: [N, 1, n, n]."""
    import torch.nn.functional as F
    return sample_grid(F.conv2d((x * x).sum(1, keepdim=True), c, padding=pad), pos).sqrt()


def s_cell(x, a, b, c, r: float, pad: int, pos):
    import torch
    import torch.nn.functional as F
    e = sample_grid(F.conv2d(x, a, padding=pad), pos)
    v = v_c(x, c, pad, pos)
    shunt = 1 + (2 * r / (1 + r)) * b.view(1, -1, 1, 1) * v
    return r * torch.relu((1 + e) / shunt - 1)


def _constant_kernel(b, node, values, shape):
    import torch
    return b.constant(f"{node.name}.{'c' if node.op == 's_cell' else 'd'}_kernel",
                      torch.tensor(values, dtype=torch.float32).reshape(shape))


def _s_torch(b, node, xs, ps):
    a, m = node.attrs, b.types[0].shape[2]
    pad, pos = grid(m, a["size"], a["window"])
    w, below = a["window"], b.types[0].shape[1]
    c = _constant_kernel(b, node, c_kernel(w, a["sigma"], below), (1, 1, w, w))
    return b.call(s_cell, xs[0], ps["a"], ps["b"], c, a["r"], pad, pos)


def _onnx_grid(b, t, pos):
    if pos is None:
        return t
    index = b.const(pos, "i64")
    return b.op("Gather", [b.op("Gather", [t, index], axis=2), index], axis=3)


def _onnx_conv(b, x, kernel, pad: int, w: int, group: int = 1):
    return b.op("Conv", [x, kernel], kernel_shape=[w, w], pads=[pad] * 4, group=group)


def _s_onnx(b, node, xs, ps):
    a, x = node.attrs, b.types[0]
    m, below, w, r, dt = x.shape[2], x.shape[1], a["window"], a["r"], x.dtype
    pad, pos = grid(m, a["size"], w)
    e = _onnx_grid(b, _onnx_conv(b, xs[0], ps["a"], pad, w), pos)
    squares = b.op("ReduceSum", [b.op("Mul", [xs[0], xs[0]]), b.const([1], "i64")], keepdims=1)
    c = b.const(c_kernel(w, a["sigma"], below), dt, (1, 1, w, w))
    v = b.op("Sqrt", [_onnx_grid(b, _onnx_conv(b, squares, c, pad, w), pos)])
    bias = b.op("Reshape", [ps["b"], b.const([1, -1, 1, 1], "i64")])
    one = b.const([1.0], dt, ())
    shunt = b.op("Add", [one, b.op("Mul", [b.op("Mul", [bias, v]),
                                           b.const([2 * r / (1 + r)], dt, ())])])
    ratio = b.op("Sub", [b.op("Div", [b.op("Add", [one, e]), shunt]), one])
    return b.op("Mul", [b.op("Relu", [ratio]), b.const([r], dt, ())])


# ------------------------------------------------------------------ C-cells
def _c_infer(attrs, types):
    x = types[0]
    m = _plane(x, "c_cell")
    grid(m, attrs["size"], attrs["window"])
    if attrs["alpha"] <= 0 or attrs["sigma"] <= 0:
        raise ShapeError("c_cell needs alpha > 0 and sigma > 0")
    return [TensorType(x.dtype, (x.shape[0], x.shape[1], attrs["size"], attrs["size"]))]


def c_cell(x, d, alpha: float, pad: int, pos):
    import torch
    import torch.nn.functional as F
    k = x.shape[1]
    s = sample_grid(F.conv2d(x, d.expand(k, 1, -1, -1), padding=pad, groups=k), pos)
    v = s.mean(1, keepdim=True)
    z = torch.relu((1 + s) / (1 + v) - 1)
    return z / (alpha + z)


def _c_torch(b, node, xs, ps):
    a, m = node.attrs, b.types[0].shape[2]
    pad, pos = grid(m, a["size"], a["window"])
    w = a["window"]
    d = _constant_kernel(b, node, gaussian(w, a["sigma"]), (1, 1, w, w))
    return b.call(c_cell, xs[0], d, a["alpha"], pad, pos)


def _c_onnx(b, node, xs, ps):
    a, x = node.attrs, b.types[0]
    m, k, w, dt = x.shape[2], x.shape[1], a["window"], x.dtype
    pad, pos = grid(m, a["size"], w)
    d = b.const(gaussian(w, a["sigma"]) * k, dt, (k, 1, w, w))
    s = _onnx_grid(b, _onnx_conv(b, xs[0], d, pad, w, group=k), pos)
    v = b.op("ReduceMean", [s], axes=[1], keepdims=1) if b.opset < 18 else \
        b.op("ReduceMean", [s, b.const([1], "i64")], keepdims=1)
    one = b.const([1.0], dt, ())
    z = b.op("Relu", [b.op("Sub", [b.op("Div", [b.op("Add", [one, s]), b.op("Add", [one, v])]),
                                   one])])
    return b.op("Div", [z, b.op("Add", [b.const([a["alpha"]], dt, ()), z])])


# ------------------------------------------------- learning without a teacher
def representatives(u, column: int):
    """Fukushima's selection: every S-column (column x column positions around a position,
    all planes) names its strongest cell, if that cell fires, as a candidate; each plane's
    strongest candidate is its representative. Returns (has [B, K] bool, flat position
    [B, K])."""
    import torch
    import torch.nn.functional as F
    n_b, n_k, h, w = u.shape
    best_plane = u.argmax(1).flatten(1)  # [B, h*w]: which plane is strongest at each position
    peak = u.amax(1, keepdim=True)
    pad = F.pad(peak, [column // 2] * 4, value=-1.0)
    _, at = F.max_pool2d(pad, column, stride=1, return_indices=True)
    at = at[..., :h, :w].flatten(1)  # winning position of each column, in padded coordinates
    wp = w + 2 * (column // 2)
    at = (at // wp - column // 2) * w + (at % wp - column // 2)  # back to the plane's cells
    candidate = torch.zeros(n_b, n_k, h * w, dtype=torch.bool, device=u.device)
    candidate[torch.arange(n_b, device=u.device)[:, None], best_plane.gather(1, at), at] = True
    flat = u.flatten(2)
    score = torch.where(candidate & (flat > 0), flat, torch.full_like(flat, -1.0))
    best, where = score.max(2)
    return best > 0, where


def reinforce_representatives(step):
    """The competitive rule on an S-plane's a or b (see specc/rules/competitive.py):
    da(k', v, k^) = q c(v) u_C(k', n^ + v), db(k^) = (q / 2) v_C(n^), summed over samples."""
    import torch
    import torch.nn.functional as F
    attrs, x, u = step.extra["attrs"], step.pre, step.post
    m, n, w = x.shape[2], attrs["size"], attrs["window"]
    pad, pos = grid(m, n, w)
    full = m + 2 * pad - w + 1  # positions of the unsampled convolution
    pos_t = torch.tensor(pos if pos is not None else list(range(n)), device=x.device)
    has, where = representatives(u, step.arg("column"))
    at = pos_t[where // n] * full + pos_t[where % n]  # [B, K] flat positions in `full`
    c = torch.tensor(c_kernel(w, attrs["sigma"], x.shape[1]), dtype=x.dtype, device=x.device)
    q, won = step.arg("rate"), has.to(x.dtype)
    if step.use.role == "a":
        patches = F.unfold(x, w, padding=pad)  # [B, K' w w, full^2]
        picked = patches.gather(2, at.unsqueeze(1).expand(-1, patches.shape[1], -1))
        picked = picked.reshape(x.shape[0], x.shape[1], w * w, -1) * c.view(1, 1, -1, 1)
        delta = torch.einsum("bk,bjvk->kjv", won, picked)
        step.param.add_(q * delta.reshape(step.param.shape))
    else:
        v = v_c(x, c.view(1, 1, w, w), pad, None).flatten(1)  # [B, full^2]
        step.param.add_((q / 2) * (won * v.gather(1, at)).sum(0))


register(
    OpDef(name="s_cell", half=HALF_SUMS, shape="[N, K', m, m] -> [N, planes, size, size]",
          example=Example(("f32[N, 2, 10, 10]",), "s_cell(relu(x0), 3, 5, 8, 1.5, "
                          "init_scale=3.0, b_init=uniform(0, 2))"),
          doc="Neocognitron S-cells: `planes` planes of size x size, each cell a shared "
              "window x window template a over all planes below, with shunting inhibition b "
              "by an r.m.s. V_C-cell; r sets selectivity. Owns a [K, K', w, w] and b [K]; "
              "learns by competitive.",
          args=(Arg("x", "tensor"), Arg("planes", "int"), Arg("window", "int"),
                Arg("size", "int"), Arg("r", "float"), Arg("sigma", "float", 2.0),
                Arg("init_scale", "float", 1.0), Arg("b_init", "init", Init("zeros"))),
          infer=_s_infer, params=_s_params, macs=_s_macs, torch=_s_torch, onnx=_s_onnx,
          tolerance=1e-4, traits=frozenset({"weighted"}),
          synapses={"a": "s_plane", "b": "s_plane"}),
    OpDef(name="c_cell", half=HALF_SUMS, shape="[N, K, m, m] -> [N, K, size, size]",
          example=Example(("f32[N, 3, 8, 8]",), "c_cell(relu(x0), 5, 6)"),
          params=no_params, macs=no_macs, traits=frozenset({"pooling"}),
          doc="Neocognitron C-cells: each plane blurs its S-plane with the fixed d(v) over a "
              "window x window area, divided by the V_S-cell (the mean over planes), and "
              "saturates: psi[x] = phi[x] / (alpha + phi[x]).",
          args=(Arg("x", "tensor"), Arg("window", "int"), Arg("size", "int"),
                Arg("alpha", "float", 0.5), Arg("sigma", "float", 2.0)),
          infer=_c_infer, torch=_c_torch, onnx=_c_onnx, tolerance=1e-4),
)
