"""ONNX -> specc for the structural ops (concat, flatten, reshape, transpose, pad, slice,
split): each entry's `onnx_import` reader, kept apart from the ops' shape rules and
lowerings in tensor.py."""
from __future__ import annotations

import numpy as np

from .onnx_read import attr_or_input, axis, scalar
from .shapes import prod


def concat_import(m):
    axis = m.attr("axis", 0)
    if m.foldable():
        return m.fold(np.concatenate([np.asarray(m.known(i)) for i in range(m.n_inputs)],
                                     axis=axis))
    xs = [m.value(i) for i in range(m.n_inputs) if m.has(i)]
    return m.call("concat", xs, axis=axis)


def flatten_import(m):
    """Flatten to 2-D: specc's flatten when that keeps dim 0 (axis 1), else a reshape."""
    x = m.type(0)
    a = m.attr("axis", 1)
    a = a + x.rank if a < 0 else a
    if m.foldable():
        arr = m.known(0)
        return m.fold(np.reshape(arr, (int(np.prod(arr.shape[:a])), -1)))
    if a == 1:
        return m.call("flatten", m.value(0))
    return _reshape_to(m, m.value(0), x, [_prod(x.shape[:a]), _prod(x.shape[a:])])


def _prod(dims):
    out = 1
    for d in dims:
        out = out * d if isinstance(d, int) and isinstance(out, int) else f"{out}*{d}"
    return out


def reshape_import(m):
    """Reshape to a known target (0 copies a dim, -1 is inferred; symbolic dims come from a
    folded Shape subgraph): `flatten` when it keeps the leading dims and merges the rest,
    else specc's reshape, which keeps the batch dim."""
    if m.foldable():
        arr, target = m.known(0), m.ints(1)
        return m.fold(np.reshape(arr, [arr.shape[k] if t == 0 else t
                                       for k, t in enumerate(target)]))
    x, target = m.type(0), m.dims(1)
    if not m.attr("allowzero", 0):
        target = [x.shape[k] if isinstance(t, int) and t == 0 and k < x.rank else t
                  for k, t in enumerate(target)]
    return _reshape_to(m, m.value(0), x, target)


def _drops_ones(longer, shorter) -> list[int] | None:
    """The positions of `longer` whose 1s, removed, leave `shorter` (None if none do)."""
    out, j = [], 0
    for i, d in enumerate(longer):
        if j < len(shorter) and d == shorter[j]:
            j += 1
        elif d == 1:
            out.append(i)
        else:
            return None
    return out if j == len(shorter) else None


def _resolve(x, target: list) -> list:
    """The target with its -1 worked out where only the batch dim can fill it ([N, 1] ->
    [-1] is [N])."""
    if -1 not in target or not x.batched:
        return target
    rest = [t for t in target if t != -1]
    per = x.per_sample()
    if per is not None and all(isinstance(t, int) for t in rest) and prod(rest) == per:
        return [x.shape[0] if t == -1 else t for t in target]
    return target


def _reshape_to(m, v, x, target):
    target = _resolve(x, list(target))
    squeezed = [d for d in x.shape if d != 1]
    if target != list(x.shape) and [d for d in target if d != 1] == squeezed:
        if len(target) < x.rank and _drops_ones(x.shape, target):
            return m.call("squeeze", v, axes=_drops_ones(x.shape, target))
        if len(target) > x.rank and _drops_ones(target, x.shape):
            return m.call("unsqueeze", v, axes=_drops_ones(target, x.shape))
    k = len(target) - 1
    if k >= 1 and target[:k] == list(x.shape[:k]) and (target[k] == -1 or target[k] == _prod(
            x.shape[k:])) and x.rank > k:
        return m.call("flatten", v, start=k)
    if list(target) == list(x.shape):
        return m.same(0)
    if x.batched:
        if target[0] != x.shape[0]:
            m.refuse(f"reshapes the batch dim: {list(x.shape)} -> {list(target)}")
        target = target[1:]
    return m.call("reshape", v, shape=target)  # symbolic dims: the spec's expressions


def transpose_import(m):
    x = m.type(0)
    perm = list(m.attr("perm", list(range(x.rank))[::-1]))
    if m.all_known():
        return m.derive(0, lambda a: np.transpose(a, perm), "transpose", perm=perm)
    return m.call("transpose", m.value(0), perm=perm)


def pad_import(m):
    """Constant padding by known amounts; padding of the batch dim and other modes are
    refused. A Pad whose only reader is an AveragePool that does not count padding is that
    pool's counted zero padding (how specc writes avgpool(count_pad=true))."""
    x = m.type(0)
    if m.attr("mode", "constant") != "constant":
        m.refuse(f"Pad mode '{m.attr('mode')}' (specc pads with a constant)")
    pads = attr_or_input(m, "pads", 1)
    value = scalar(m, 2, m.attr("value", 0.0)) if m.version < 11 or m.has(2) else 0.0
    if m.has(3):
        axes = [axis(m, a, x.rank) for a in m.ints(3)]
        full = [0] * (2 * x.rank)
        for k, a in enumerate(axes):
            full[a], full[a + x.rank] = pads[k], pads[k + len(axes)]
        pads = full
    begin, end = pads[:x.rank], pads[x.rank:]
    if min(pads) < 0:
        m.refuse(f"negative pads {pads} (cropping)")
    if m.foldable():
        return m.fold(np.pad(m.known(0), list(zip(begin, end)), constant_values=value))
    pooled = _counted_pool(m, x, begin, end, value)
    if pooled is not None:
        return pooled
    if x.batched:
        if begin[0] or end[0]:
            m.refuse("pads the batch dim")
        begin, end = begin[1:], end[1:]
    flat = [v for pair in zip(begin, end) for v in pair]
    return m.call("pad", m.value(0), pads=flat, value=float(value))


def _counted_pool(m, x, begin, end, value):
    pool = m.sole_user()
    if pool is None or pool.op_type != "AveragePool" or value != 0 or x.rank != 4 or \
            begin != end or begin[:2] != [0, 0] or pool.attr("count_include_pad", 0) or \
            pool.attr("auto_pad", "NOTSET") not in ("NOTSET", ""):
        return None
    k = list(pool.attr("kernel_shape"))
    inner = list(pool.attr("pads", [0] * 4))
    if inner[:2] != [0, 0] or any(2 * p > q for p, q in zip(begin[2:], k)):
        return None
    strides = list(pool.attr("strides", [1, 1]))
    padded = [x.shape[2 + i] + 2 * begin[2 + i] for i in range(2)]
    ceil = _pool_ceil(m, padded, k, strides, inner[2:])
    if ceil is None:
        return None
    m.absorb(pool)
    return m.call("avgpool", m.value(0), kernel=k, stride=strides, padding=begin[2:],
                  ceil=ceil, count_pad=True)


def _pool_ceil(m, sizes, kernel, strides, extra):
    """Whether end padding `extra` (beyond the windows that fit) is ceil mode: None if it is
    neither floor nor ceil."""
    if not all(isinstance(d, int) for d in sizes):
        return False if not any(extra) else None
    floor = [(d - k) // s + 1 for d, k, s in zip(sizes, kernel, strides)]
    have = [(d + e - k) // s + 1 for d, k, s, e in zip(sizes, kernel, strides, extra)]
    if have == floor:
        return False
    ceil = [-(-(d - k) // s) + 1 for d, k, s in zip(sizes, kernel, strides)]
    return True if have == ceil else None


def slice_import(m):
    """Slice with known bounds and positive steps: one `slice` per sliced axis. Over an open
    size, or to bounds computed from one (a Shape subgraph: x[:, :T]), the bounds are the
    spec's symbolic dims; a table of known rows sliced to an open length T needs T <= rows,
    which the spec then asserts."""
    x = m.type(0)
    if m.version < 10:
        starts, ends = list(m.attr("starts")), list(m.attr("ends"))
        axes = list(m.attr("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = m.dims(1), m.dims(2)
        axes = m.ints(3) if m.has(3) else list(range(len(starts)))
        steps = m.ints(4) if m.has(4) else [1] * len(starts)
    axes = [axis(m, a, x.rank) for a in axes]
    if m.foldable() or m.is_known(0) and not m.is_weight(0):
        if m.version >= 10:  # bounds computed over open sizes cannot index a known value
            starts, ends = m.ints(1), m.ints(2)
        index = [slice(None)] * x.rank
        for a, b, e, st in zip(axes, starts, ends, steps):
            index[a] = slice(b, e, st)
        return m.fold(np.asarray(m.known(0))[tuple(index)])
    if min(steps) < 1:
        m.refuse(f"negative steps {steps} (specc's slice steps forward)")
    v = m.value(0)
    for a, b, e, st in zip(axes, starts, ends, steps):
        d = x.shape[a]
        if isinstance(d, int) and isinstance(b, int) and isinstance(e, int):
            b, e, st = slice(b, e, st).indices(d)
            if (b, e, st) == (0, d, 1):
                continue
        else:
            b, e = _open_bounds(m, d, b, e)
        v = m.call("slice", v, axis=a, start=b, end=e, step=st)
    return v


def _open_bounds(m, d, start, end):
    """Slice bounds where the size or a bound is symbolic: ONNX's 'to the end' (a huge end)
    is the size itself; negative ints count from the end as specc's slice counts them."""
    if isinstance(end, int) and end >= 2 ** 62:
        end = d
    if isinstance(start, int) and start <= -2 ** 62:
        start = 0
    if isinstance(d, int) and not isinstance(end, int):
        m.assume(f"{end} <= {d}", f"the slice of {d} rows ends at {end}")
    return start, end


def split_import(m):
    """Split into known sizes (an input from opset 13, `split` before; else equal parts, or
    `num_outputs` of them): one slice per output."""
    x = m.type(0)
    a = axis(m, m.attr("axis", 0), x.rank)
    d = x.shape[a]
    if not isinstance(d, int):
        m.refuse(f"splits the symbolic dim '{d}'")
    sizes = m.ints(1) if m.has(1) else m.attr("split")
    if not sizes:
        n = m.attr("num_outputs", m.outputs)
        part = -(-d // n)
        sizes = [min(part, d - k * part) for k in range(n)]
    if sum(sizes) != d or min(sizes) < 1:
        m.refuse(f"split sizes {list(sizes)} do not cover the {d} of axis {a}")
    outs, start = [], 0
    for size in sizes:
        if m.foldable():
            index = [slice(None)] * x.rank
            index[a] = slice(start, start + size)
            outs.append(m.fold(np.asarray(m.known(0))[tuple(index)]))
        elif size == d:
            outs.append(m.same(0))
        else:
            outs.append(m.call("slice", m.value(0), axis=a, start=start, end=start + size))
        start += size
    return tuple(outs)
