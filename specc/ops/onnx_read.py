"""Helpers the import rules share: ONNX's conventions read into specc's (pads, axes, values
that moved from attributes to inputs between opsets). No rule lives here; see the entries."""
from __future__ import annotations

import numpy as np

F32_MAX = float(np.finfo(np.float32).max)


def axis(m, value: int, rank: int) -> int:
    if not -rank <= value < rank:
        m.refuse(f"axis {value} is out of range for rank {rank}")
    return value % rank


def from_the_end(m, i: int, size):
    """Input i, the indices of a Gather-like node, as a tensor of the spec whose negative
    entries count from the end as ONNX counts them (take and take_along never wrap): known
    indices are adjusted now, others by a where() in the spec; over an open size, as given."""
    if m.is_known(i):
        index = np.asarray(m.known(i)).astype(np.int64)
        if isinstance(size, int):
            index = np.where(index < 0, index + size, index)
        return m.value_of(index)
    index = m.value(i)
    if isinstance(size, int):
        dtype = m.type(i).dtype
        zero, n = m.constant(0, dtype), m.constant(size, dtype)
        index = m.call("where", m.call("lt", index, zero), m.call("add", index, n), index)
    return index


def unguarded(m, i: int, size):
    """Input i, the indices of a Gather, as it was before a never-wrap guard (specc's own
    embedding and take write Where(i < 0, bound, i) with a bound past the axis, so that a
    negative index fails instead of counting from the end): that index, as a tensor of the
    spec, whose op writes the guard again. None when input i is no such guard."""
    where = m.producer(i)
    if where is None or where.op_type != "Where" or not where.is_known(1) or \
            m.is_known(i) or where.is_known(2):
        return None
    less = where.producer(0)
    if less is None or less.op_type != "Less" or not less.is_known(1) or \
            less.node.input[0] != where.node.input[2]:
        return None
    zero, bound = np.asarray(less.known(1)), np.asarray(where.known(1))
    if zero.size != 1 or bound.size != 1 or zero.dtype == object or zero.item() != 0:
        return None
    bound = bound.reshape(-1)[0]
    past = isinstance(size, int) and isinstance(bound, (int, np.integer)) and bound >= size
    if not past and str(bound) != str(size):
        return None
    return where.value(2)


def attr_or_input(m, name: str, index: int, default=None):
    """A list of ints given as an attribute (older opsets) or as a known input (newer)."""
    if m.has(index):
        return m.ints(index)
    value = m.attr(name)
    return list(value) if value is not None else default


def window_pads(m, x, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """(begin, end) pads of a sliding window over x's spatial dims, auto_pad resolved."""
    n = len(kernel)
    auto = m.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = list(m.attr("pads", [0] * (2 * n)))
        return pads[:n], pads[n:]
    if auto == "VALID":
        return [0] * n, [0] * n
    sizes = x.shape[2:]
    if not all(isinstance(d, int) for d in sizes):
        m.refuse(f"auto_pad={auto} over symbolic spatial dims {list(sizes)}")
    begin, end = [], []
    for d, k, s, dil in zip(sizes, kernel, strides, dilations):
        total = max((-(-d // s) - 1) * s + (k - 1) * dil + 1 - d, 0)
        low = total // 2 if auto == "SAME_UPPER" else total - total // 2
        begin.append(low)
        end.append(total - low)
    return begin, end


def pad_list(x, begin: list[int], end: list[int]) -> list[int]:
    """specc pad's (before, after) pairs for every dim after the batch (every dim of an
    unbatched tensor), padding only the trailing len(begin) dims."""
    lead = x.rank - len(begin) - (1 if x.batched else 0)
    out = [0, 0] * lead
    for b, e in zip(begin, end):
        out += [b, e]
    return out


def scalar(m, index: int, default: float | None = None):
    """A known scalar input as a Python number."""
    if not m.has(index):
        return default
    arr = m.known(index)
    if arr is None:
        m.need(index)
    arr = np.asarray(arr).reshape(-1)
    if arr.size != 1:
        m.refuse(f"needs input {index} as one number, got {arr.size}")
    return arr[0].item()


def floats_of(value) -> float:
    return float(np.float32(value))


def unary(op_name: str, np_fn=None):
    """The rule of an ONNX op that is one registry op of one tensor (computed now when the
    input is a known constant and numpy can)."""
    def read(m):
        if np_fn is not None and m.foldable():
            return m.fold(np_fn(m.known(0)))
        return m.call(op_name, m.value(0))
    return read


def softmax_axis(m, x) -> int:
    """Softmax's axis; before opset 13 it flattened from `axis` on (default 1), which is the
    same as one axis only when that axis is the last."""
    if m.version >= 13:
        return m.attr("axis", -1)
    a = axis(m, m.attr("axis", 1), x.rank)
    if a != x.rank - 1:
        m.refuse(f"Softmax-{m.version} over the flattened dims {a}.. of a rank-{x.rank} tensor")
    return a
