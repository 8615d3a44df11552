"""Detection post-processing as ops of the graph: anchors laid on a feature map (RetinaNet's
grid anchors, SSD's default boxes), box decoding and clipping, and non-maximum suppression,
so that a detector exports as one verified model (torchvision's AnchorGenerator,
DefaultBoxGenerator, BoxCoder, clip_boxes_to_image and batched_nms; ONNX NonMaxSuppression
and TopK).

Boxes are (x1, y1, x2, y2) in pixels of the image. Anchors and default boxes depend only on
the sizes of the feature map and the image, never on their values: a known size gives a
constant, an open one (an image of any size) computes them from the sizes at run time.
`nms` keeps a fixed-size, batch-major result, [N, D, 6] rows of (x1, y1, x2, y2, score,
label), padded with label -1: every image of a batch in one tensor, the layout a server's
dynamic batching and a batch job can split by image."""
from __future__ import annotations

import math

import numpy as np

from ..ir.graph import TensorType
from ..ir.sym import Sym, same
from .registry import (HALF_KEPT, Arg, Example, OpDef, ShapeError, Trait, no_macs, no_params,
                       register)
from .shapes import broadcast, float_input, fmt

BOX_CLAMP = math.log(1000.0 / 16)  # torchvision's BoxCoder: exp(dw) at most 1000/16


def _feature_and_image(types, op: str):
    f, img = types
    for t, what in ((f, "feature map"), (img, "image")):
        if t.rank != 4:
            raise ShapeError(f"{op} expects a {what} [N, C, H, W], got {fmt(t.shape)}")
    return f.shape[2], f.shape[3]


def _positive(values, name: str, op: str) -> None:
    if not values or any(not v > 0 or v == math.inf for v in values):
        raise ShapeError(f"{op} needs positive finite {name}, got {list(values)}")


# ---------------------------------------------------------------------- grid anchors
def base_anchors(sizes, ratios) -> np.ndarray:
    """The anchors of one place, centred on it ([A, 4], ratios outer, sizes inner), rounded
    to whole pixels: torchvision's AnchorGenerator.generate_anchors in float32."""
    scales = np.asarray(sizes, np.float32)
    h_ratios = np.sqrt(np.asarray(ratios, np.float32))
    w_ratios = np.float32(1) / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2))


def _grid_infer(attrs, types):
    h, w = _feature_and_image(types, "grid_anchors")
    _positive(attrs["sizes"], "sizes", "grid_anchors")
    _positive(attrs["ratios"], "ratios", "grid_anchors")
    return [TensorType("f32", (h * w * len(attrs["sizes"]) * len(attrs["ratios"]), 4))]


def grid_anchor_array(h: int, w: int, height: int, width: int, base: np.ndarray) -> np.ndarray:
    """The anchors of an h x w map over a height x width image, row by row, the anchors of a
    place together: the place's corner (its index times the stride, image // map) + base."""
    xs = np.arange(w, dtype=np.float32) * np.float32(width // w)
    ys = np.arange(h, dtype=np.float32) * np.float32(height // h)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    shifts = np.stack([xx.ravel(), yy.ravel(), xx.ravel(), yy.ravel()], axis=1)
    return (shifts[:, None, :] + base[None]).reshape(-1, 4)


def grid_anchors(feature, image, base: tuple):
    """The torch lowering: grid_anchor_array at the sizes the tensors have, on their device
    (`base` as nested tuples: a constant the generated forward can spell)."""
    import torch
    (h, w), (height, width) = feature.shape[-2:], image.shape[-2:]
    arr = grid_anchor_array(h, w, height, width, np.asarray(base, np.float32))
    return torch.from_numpy(arr).to(feature.device)


def _grid_torch(b, node, xs, ps):
    base = base_anchors(node.attrs["sizes"], node.attrs["ratios"])
    return b.call(grid_anchors, xs[0], xs[1], tuple(map(tuple, base.tolist())))


def _grid_onnx(b, node, xs, ps):
    a, f, img = node.attrs, b.types[0], b.types[1]
    base = base_anchors(a["sizes"], a["ratios"])
    h, w, height, width = f.shape[2], f.shape[3], img.shape[2], img.shape[3]
    if all(isinstance(d, int) for d in (h, w, height, width)):
        arr = grid_anchor_array(h, w, height, width, base)
        return b.const(arr.ravel(), "f32", arr.shape)
    xx, yy = _grid(b, [_arange(b, w, b.op("Div", [b.dim(width), b.dim(w)]), None),
                       _arange(b, h, b.op("Div", [b.dim(height), b.dim(h)]), None)], h, w)
    shifts = b.op("Concat", [xx, yy, xx, yy], axis=1)  # [h*w, 4]
    anchors = b.op("Add", [b.op("Unsqueeze", [shifts, b.const([1], "i64")]),
                           b.const(base.ravel(), "f32", (1,) + base.shape)])
    return b.op("Reshape", [anchors, b.const([-1, 4], "i64")])


def _arange(b, n, stride, step):
    """[n] float32: 0, 1, ... n-1 times an int64 stride; or, with `step` (a float32 scalar
    tensor), (i + 0.5) / step."""
    zero, one = b.const([0], "i64", ()), b.const([1], "i64", ())
    i = b.op("Cast", [b.op("Range", [zero, b.scalar_dim(n), one])], to=b.onnx_dtype("f32"))
    if step is not None:
        return b.op("Div", [b.op("Add", [i, b.const([0.5], "f32", ())]), step])
    return b.op("Mul", [i, b.op("Cast", [stride], to=b.onnx_dtype("f32"))])


def _grid(b, axes, h, w):
    """x and y of every place of an h x w grid, row by row, as [h*w, 1] columns."""
    xs, ys = axes
    hw = b.shape_tensor([h, w])
    col = b.const([-1, 1], "i64")
    xx = b.op("Expand", [b.op("Unsqueeze", [xs, b.const([0], "i64")]), hw])
    yy = b.op("Expand", [b.op("Unsqueeze", [ys, b.const([1], "i64")]), hw])
    return b.op("Reshape", [xx, col]), b.op("Reshape", [yy, col])


# --------------------------------------------------------------------- default boxes
def default_sizes(attrs) -> np.ndarray:
    """SSD's widths and heights of one place, relative to the image ([A, 2]): the scale s,
    sqrt(s * s_next), then (s * sqrt(r), s / sqrt(r)) and its transpose for each ratio;
    clipped to [0, 1] with clip (torchvision's DefaultBoxGenerator)."""
    s, nxt = attrs["scale"], attrs["next_scale"]
    pairs = [[s, s], [math.sqrt(s * nxt)] * 2]
    for r in attrs["ratios"]:
        w, h = s * math.sqrt(r), s / math.sqrt(r)
        pairs += [[w, h], [h, w]]
    arr = np.asarray(pairs, np.float32)
    return np.clip(arr, 0, 1) if attrs["clip"] else arr


def _default_infer(attrs, types):
    h, w = _feature_and_image(types, "default_boxes")
    _positive((attrs["scale"], attrs["next_scale"]), "scales", "default_boxes")
    _positive(attrs["ratios"] or (1.0,), "ratios", "default_boxes")
    if attrs["step"] is not None:
        _positive((attrs["step"],), "step", "default_boxes")
    return [TensorType("f32", (h * w * (2 + 2 * len(attrs["ratios"])), 4))]


def default_box_array(h: int, w: int, height: int, width: int, wh: np.ndarray,
                      step: float | None) -> np.ndarray:
    """The default boxes of an h x w map, in pixels: centres (i + 0.5) / f with f the map's
    size (or image / step), each with every size of wh, as torchvision computes them."""
    fx, fy = (width / step, height / step) if step else (w, h)
    cx = (np.arange(w, dtype=np.float32) + np.float32(0.5)) / np.float32(fx)
    cy = (np.arange(h, dtype=np.float32) + np.float32(0.5)) / np.float32(fy)
    yy, xx = np.meshgrid(cy, cx, indexing="ij")
    centre = np.stack([xx.ravel(), yy.ravel()], axis=1)[:, None, :]  # [h*w, 1, 2]
    half = np.float32(0.5) * wh[None]
    size = np.asarray([width, height], np.float32)
    return np.concatenate([(centre - half) * size, (centre + half) * size], -1).reshape(-1, 4)


def default_boxes(feature, image, wh: tuple, step):
    """The torch lowering: default_box_array at the sizes the tensors have, on their
    device (`wh` as nested tuples, as grid_anchors' base)."""
    import torch
    (h, w), (height, width) = feature.shape[-2:], image.shape[-2:]
    arr = default_box_array(h, w, height, width, np.asarray(wh, np.float32), step)
    return torch.from_numpy(arr).to(feature.device)


def _default_torch(b, node, xs, ps):
    wh = tuple(map(tuple, default_sizes(node.attrs).tolist()))
    return b.call(default_boxes, xs[0], xs[1], wh, node.attrs["step"])


def _default_onnx(b, node, xs, ps):
    a, f, img = node.attrs, b.types[0], b.types[1]
    wh = default_sizes(a)
    h, w, height, width = f.shape[2], f.shape[3], img.shape[2], img.shape[3]
    if all(isinstance(d, int) for d in (h, w, height, width)):
        arr = default_box_array(h, w, height, width, wh, a["step"])
        return b.const(arr.ravel(), "f32", arr.shape)
    f32 = b.onnx_dtype("f32")
    if a["step"]:  # image / step in double, as Python divides, then float32
        def factor(size):
            return b.op("Cast", [b.op("Div", [b.op("Cast", [b.dim(size)], to=b.onnx_dtype("f64")),
                                              b.const([a["step"]], "f64", ())])], to=f32)
        fx, fy = factor(width), factor(height)
    else:
        fx, fy = (b.op("Cast", [b.dim(d)], to=f32) for d in (w, h))
    xx, yy = _grid(b, [_arange(b, w, None, fx), _arange(b, h, None, fy)], h, w)
    centre = b.op("Unsqueeze", [b.op("Concat", [xx, yy], axis=1), b.const([1], "i64")])
    half = b.const((np.float32(0.5) * wh).ravel(), "f32", (1,) + wh.shape)
    size = b.op("Cast", [b.shape_tensor([width, height])], to=f32)
    corners = [b.op("Mul", [b.op(op, [centre, half]), size]) for op in ("Sub", "Add")]
    return b.op("Reshape", [b.op("Concat", corners, axis=-1), b.const([-1, 4], "i64")])


# ----------------------------------------------------------------------- decode, clip
def _boxes_last(t: TensorType, what: str, op: str) -> None:
    float_input(t, op)
    if t.rank < 1 or t.shape[-1] != 4:
        raise ShapeError(f"{op} expects {what} [..., 4], got {fmt(t.shape)}")


def _decode_infer(attrs, types):
    deltas, anchors = types
    _boxes_last(deltas, "box deltas", "decode_boxes")
    _boxes_last(anchors, "anchors", "decode_boxes")
    if len(attrs["weights"]) != 4:
        raise ShapeError(f"decode_boxes needs 4 weights (x, y, w, h), got {len(attrs['weights'])}")
    _positive(attrs["weights"], "weights", "decode_boxes")
    return [TensorType(deltas.dtype, broadcast([deltas.shape, anchors.shape], "decode_boxes"))]


def decode_boxes(deltas, anchors, weights, clamp: float):
    """torchvision's BoxCoder.decode_single: centre offsets scaled by the anchor's size,
    log-size offsets clamped then exponentiated; corners (x1, y1, x2, y2)."""
    import torch
    widths, heights = anchors[..., 2] - anchors[..., 0], anchors[..., 3] - anchors[..., 1]
    ctr_x, ctr_y = anchors[..., 0] + 0.5 * widths, anchors[..., 1] + 0.5 * heights
    wx, wy, ww, wh = weights
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw = torch.clamp(deltas[..., 2] / ww, max=clamp)
    dh = torch.clamp(deltas[..., 3] / wh, max=clamp)
    x, y = dx * widths + ctr_x, dy * heights + ctr_y
    half_w, half_h = 0.5 * (torch.exp(dw) * widths), 0.5 * (torch.exp(dh) * heights)
    return torch.stack([x - half_w, y - half_h, x + half_w, y + half_h], dim=-1)


def _decode_onnx(b, node, xs, ps):
    dt = b.types[0].dtype
    split = b.const([1, 1, 1, 1], "i64")
    d = b.op_outputs("Split", [xs[0], split], 4, axis=-1)
    a = b.op_outputs("Split", [xs[1], split], 4, axis=-1)

    def c(v):
        return b.const([v], dt, ())

    widths, heights = b.op("Sub", [a[2], a[0]]), b.op("Sub", [a[3], a[1]])
    ctr_x = b.op("Add", [a[0], b.op("Mul", [c(0.5), widths])])
    ctr_y = b.op("Add", [a[1], b.op("Mul", [c(0.5), heights])])
    wx, wy, ww, wh = node.attrs["weights"]
    clamp = node.attrs["clamp"]
    dw = b.op("Min", [b.op("Div", [d[2], c(ww)]), c(clamp)])
    dh = b.op("Min", [b.op("Div", [d[3], c(wh)]), c(clamp)])
    x = b.op("Add", [b.op("Mul", [b.op("Div", [d[0], c(wx)]), widths]), ctr_x])
    y = b.op("Add", [b.op("Mul", [b.op("Div", [d[1], c(wy)]), heights]), ctr_y])
    half_w = b.op("Mul", [c(0.5), b.op("Mul", [b.op("Exp", [dw]), widths])])
    half_h = b.op("Mul", [c(0.5), b.op("Mul", [b.op("Exp", [dh]), heights])])
    return b.op("Concat", [b.op("Sub", [x, half_w]), b.op("Sub", [y, half_h]),
                           b.op("Add", [x, half_w]), b.op("Add", [y, half_h])], axis=-1)


def _clip_infer(attrs, types):
    boxes, img = types
    _boxes_last(boxes, "boxes", "clip_boxes")
    if img.rank < 2:
        raise ShapeError(f"clip_boxes reads the image's last two dims (H, W), got {fmt(img.shape)}")
    return [boxes]


def clip_boxes(boxes, image):
    """x within [0, W], y within [0, H] of the image (torchvision's clip_boxes_to_image)."""
    import torch
    height, width = image.shape[-2:]
    bound = torch.tensor([width, height, width, height], dtype=boxes.dtype, device=boxes.device)
    return torch.minimum(torch.clamp(boxes, min=0), bound)


def _clip_onnx(b, node, xs, ps):
    img = b.types[1]
    height, width = img.shape[-2], img.shape[-1]
    bound = b.op("Cast", [b.shape_tensor([width, height, width, height])],
                 to=b.onnx_dtype(b.types[0].dtype))
    return b.op("Min", [b.op("Max", [xs[0], b.const([0.0], b.types[0].dtype, ())]), bound])


# ---------------------------------------------------------------------------- nms
def _nms_size(attrs, types):
    boxes, scores = types[:2]
    m = scores.shape[1]
    d = attrs["max_detections"]
    if isinstance(m, int):
        return min(d, m)
    return d


def _nms_infer(attrs, types):
    boxes, scores = types[:2]
    float_input(boxes, "nms")
    if boxes.rank != 3 or boxes.shape[2] != 4 or scores.rank != 2:
        raise ShapeError(f"nms expects boxes [N, M, 4] and scores [N, M], got "
                         f"{fmt(boxes.shape)} and {fmt(scores.shape)}")
    if boxes.dtype != "f32" or scores.dtype != "f32":
        raise ShapeError(f"nms needs f32 boxes and scores (ONNX NonMaxSuppression's), got "
                         f"{boxes.dtype} and {scores.dtype}")
    if not all(same(a, b) for a, b in zip(boxes.shape[:2], scores.shape)):
        raise ShapeError(f"nms needs one score per box: boxes {fmt(boxes.shape)} and scores "
                         f"{fmt(scores.shape)} differ in [N, M]")
    if len(types) > 2:
        labels = types[2]
        n, m = scores.shape
        if labels.dtype not in ("i64", "i32") or labels.rank != 2 or \
                not same(labels.shape[1], m) or \
                not (labels.shape[0] == 1 or same(labels.shape[0], n)):
            raise ShapeError(f"nms needs integer labels [N, M] (or [1, M], the same for every "
                             f"image) beside scores {fmt(scores.shape)}, got {labels}")
    if not 0 <= attrs["iou"] <= 1:
        raise ShapeError(f"nms iou must be in [0, 1], got {attrs['iou']}")
    if attrs["max_detections"] < 1 or attrs["classes"] < 1:
        raise ShapeError("nms needs max_detections >= 1 and classes >= 1")
    m = scores.shape[1]
    if not isinstance(m, int) and not isinstance(m, Sym):
        raise ShapeError(f"nms needs a size for M, got {m}")
    d = _nms_size(attrs, types)
    if isinstance(m, Sym):
        from .shapes import fits
        fits(m - d, 0, f"nms keeps up to {d} of M boxes")
    return [TensorType("f32", (boxes.shape[0], d, 6))]


def _floor(threshold):
    """The score a box must exceed: the given threshold, or the lowest float32 (so that a
    -inf score, a class a box does not belong to, is never kept)."""
    return float(np.finfo(np.float32).min) if threshold is None else threshold


def _iou_over(boxes, iou: float):
    """[m, m] bool: IoU(i, j) > iou, computed as onnxruntime's NonMaxSuppression does (each
    box's corners ordered, no overlap or no area: never suppressed)."""
    import torch
    lo = torch.minimum(boxes[:, :2], boxes[:, 2:])
    hi = torch.maximum(boxes[:, :2], boxes[:, 2:])
    inter_lo = torch.maximum(lo[:, None], lo[None])
    inter_hi = torch.minimum(hi[:, None], hi[None])
    overlap = (inter_hi > inter_lo).all(-1)
    side = inter_hi - inter_lo
    inter = side[..., 1] * side[..., 0]
    area = (hi[:, 1] - lo[:, 1]) * (hi[:, 0] - lo[:, 0])
    union = area[:, None] + area[None] - inter
    ok = overlap & (inter > 0) & (area[:, None] > 0) & (area[None] > 0) & (union > 0)
    return ok & (inter / union > iou)


def _greedy(over) -> list[int]:
    """Greedy suppression over candidates in score order: keep one, drop what it covers."""
    over = over.cpu().numpy()
    dropped = np.zeros(len(over), bool)
    keep = []
    for i in range(len(over)):
        if not dropped[i]:
            keep.append(i)
            dropped |= over[i]
    return keep


def nms(boxes, scores, labels, iou: float, threshold, keep: int, per_class: int,
        classes: int):
    """Per image and class, greedy non-maximum suppression of the boxes scoring above the
    threshold (at most `per_class` kept in a class); then per image the `keep` best kept
    boxes, best first, as rows (x1, y1, x2, y2, score, label) padded with label -1."""
    import torch
    floor = _floor(threshold)
    if labels is not None:  # labels [1, M] hold for every image
        labels = labels.expand(scores.shape)
    kept = torch.full_like(scores, -math.inf)
    with torch.no_grad():
        for n in range(scores.shape[0]):
            ok = scores[n] > floor
            if labels is not None:  # a label outside [0, classes) is of no class
                ok &= (labels[n] >= 0) & (labels[n] < classes)
            cand = torch.nonzero(ok).reshape(-1)
            group = labels[n, cand] if labels is not None else torch.zeros_like(cand)
            for c in torch.unique(group):
                members = cand[group == c]
                order = members[torch.sort(scores[n, members], stable=True,
                                           descending=True).indices]
                chosen = order[_greedy(_iou_over(boxes[n, order], iou))][:per_class]
                kept[n, chosen] = scores[n, chosen].detach()
    top, index = torch.sort(kept, stable=True, dim=1, descending=True)
    top, index = top[:, :keep], index[:, :keep]
    picked = torch.gather(boxes, 1, index[..., None].expand(-1, -1, 4))
    label = (torch.gather(labels, 1, index) if labels is not None
             else torch.zeros_like(index)).to(boxes.dtype)
    rows = torch.cat([picked, top[..., None], label[..., None]], dim=-1)
    pad = torch.tensor([0, 0, 0, 0, 0, -1], dtype=boxes.dtype, device=boxes.device)
    return torch.where((top > -math.inf)[..., None], rows, pad)


def _nms_torch(b, node, xs, ps):
    a = node.attrs
    labels = xs[2] if len(xs) > 2 else None
    return b.call(nms, xs[0], xs[1], labels, a["iou"], a["score_threshold"],
                  b.dim(_nms_size(a, b.types)), a["max_detections"], a["classes"])


def _nms_onnx(b, node, xs, ps):
    a = node.attrs
    f32, i64 = b.onnx_dtype("f32"), b.onnx_dtype("i64")
    boxes, scores = xs[0], xs[1]
    neg_inf = b.const([-math.inf], "f32", ())
    if len(xs) > 2:  # one row of scores per class: -inf where the box is of another class
        labels = xs[2] if b.types[2].dtype == "i64" else b.op("Cast", [xs[2]], to=i64)
        if tuple(b.types[2].shape) != tuple(b.types[1].shape):  # [1, M]: for every image
            labels = b.op("Expand", [labels, b.op("Shape", [scores])])
        classes = b.const(np.arange(a["classes"]), "i64", (1, a["classes"], 1))
        mine = b.op("Equal", [b.op("Unsqueeze", [labels, b.const([1], "i64")]), classes])
        per_class = b.op("Where", [mine, b.op("Unsqueeze", [scores, b.const([1], "i64")]),
                                   neg_inf])
    else:
        labels = None
        per_class = b.op("Unsqueeze", [scores, b.const([1], "i64")])
    selected = b.op("NonMaxSuppression", [
        boxes, per_class, b.const([a["max_detections"]], "i64", ()),
        b.const([a["iou"]], "f32", ()), b.const([_floor(a["score_threshold"])], "f32", ())])
    at = b.op("Gather", [selected, b.const([0, 2], "i64")], axis=1)  # (image, box) [K, 2]
    kept = b.op("ScatterND", [b.op("Expand", [neg_inf, b.op("Shape", [scores])]), at,
                              b.op("GatherND", [scores, at])])
    top, index = b.op_outputs("TopK", [kept, b.dim(_nms_size(a, b.types))], 2, axis=1,
                              largest=1, sorted=1)
    rows_index = b.op("Unsqueeze", [index, b.const([2], "i64")])
    picked = b.op("GatherElements", [boxes, b.op("Expand", [rows_index, b.const([1, 1, 4],
                                                                                "i64")])], axis=1)
    label = (b.op("Cast", [b.op("GatherElements", [labels, index], axis=1)], to=f32)
             if labels is not None else b.op("Mul", [top, b.const([0.0], "f32", ())]))
    unsq = b.const([2], "i64")
    rows = b.op("Concat", [picked, b.op("Unsqueeze", [top, unsq]),
                           b.op("Unsqueeze", [label, unsq])], axis=2)
    valid = b.op("Unsqueeze", [b.op("Greater", [top, neg_inf]), unsq])
    return b.op("Where", [valid, rows, b.const([0, 0, 0, 0, 0, -1], "f32", (1, 1, 6))])


register(
    OpDef(name="grid_anchors", shape="feature [N, C, h, w], image [N, 3, H, W] -> "
                                     "f32 [h*w*A, 4], A = len(sizes) * len(ratios)",
          example=Example(("f32[N, 2, 3, 4]", "f32[N, 3, 24, 32]"),
                          "grid_anchors(x0, x1, sizes=[8, 16], ratios=[0.5, 1.0, 2.0])"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-6, traits=frozenset(),
          doc="RetinaNet's anchors for one level (torchvision's AnchorGenerator): at every "
              "place of the h x w feature map, a box per ratio and size (ratios outer), "
              "centred on the place's corner (its index times the stride image // map), "
              "rounded to whole pixels; (x1, y1, x2, y2). Reads only the two tensors' sizes.",
          args=(Arg("feature", "tensor"), Arg("image", "tensor"), Arg("sizes", "floats"),
                Arg("ratios", "floats", (0.5, 1.0, 2.0))),
          infer=_grid_infer, torch=_grid_torch, onnx=_grid_onnx),
    OpDef(name="default_boxes", shape="feature [N, C, h, w], image [N, 3, H, W] -> "
                                      "f32 [h*w*A, 4], A = 2 + 2 * len(ratios)",
          example=Example(("f32[N, 2, 3, 4]", "f32[N, 3, 24, 32]"),
                          "default_boxes(x0, x1, scale=0.2, next_scale=0.4, ratios=[2.0, 3.0])"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-6, traits=frozenset(),
          doc="SSD's default boxes for one level (Liu et al. 2016; torchvision's "
              "DefaultBoxGenerator): at every place of the h x w map, centred at "
              "((i + 0.5) / f) of the image with f the map's size (or image / step), boxes "
              "of the scale s, of sqrt(s * next_scale), and of s*sqrt(r) x s/sqrt(r) and its "
              "transpose for each ratio r (sizes clipped to [0, 1] with clip); in pixels, "
              "(x1, y1, x2, y2). Reads only the two tensors' sizes.",
          args=(Arg("feature", "tensor"), Arg("image", "tensor"), Arg("scale", "float"),
                Arg("next_scale", "float"), Arg("ratios", "floats", (2.0,)),
                Arg("step", "float", None), Arg("clip", "bool", True)),
          infer=_default_infer, torch=_default_torch, onnx=_default_onnx),
    OpDef(name="decode_boxes", shape="deltas [..., 4], anchors [..., 4] -> broadcast [..., 4]",
          example=Example(("f32[N, 6, 4]", "f32[N, 6, 4]"),
                          "decode_boxes(x0, x1, weights=[10.0, 10.0, 5.0, 5.0])"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-5, traits=frozenset(),
          doc="Boxes from an anchor and the network's deltas (dx, dy, dw, dh) divided by "
              "`weights` (torchvision's BoxCoder: RetinaNet 1, 1, 1, 1; SSD 10, 10, 5, 5): "
              "centre + d * anchor size, size * exp(d) with d at most `clamp` "
              "(log(1000 / 16)); (x1, y1, x2, y2).",
          args=(Arg("deltas", "tensor"), Arg("anchors", "tensor"),
                Arg("weights", "floats", (1.0, 1.0, 1.0, 1.0)),
                Arg("clamp", "float", BOX_CLAMP)),
          infer=_decode_infer,
          torch=lambda b, node, xs, ps: b.call(decode_boxes, xs[0], xs[1],
                                               node.attrs["weights"], node.attrs["clamp"]),
          onnx=_decode_onnx),
    OpDef(name="clip_boxes", shape="boxes [..., 4], image [..., H, W] -> [..., 4]",
          example=Example(("f32[N, 5, 4]", "f32[N, 3, 2, 3]"), "clip_boxes(x0 * 3.0, x1)"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-6, traits=frozenset(),
          doc="Boxes cut to the image: x within [0, W], y within [0, H] "
              "(torchvision's clip_boxes_to_image). Reads only the image's size.",
          args=(Arg("boxes", "tensor"), Arg("image", "tensor")),
          infer=_clip_infer,
          torch=lambda b, node, xs, ps: b.call(clip_boxes, xs[0], xs[1]), onnx=_clip_onnx),
    OpDef(name="nms", shape="boxes f32 [N, M, 4], scores f32 [N, M], labels [N, M] -> "
                            "f32 [N, D, 6], D = min(max_detections, M); labels may be [1, M]",
          example=Example(("f32[N, 12, 4]", "f32[N, 12, 3]"),
                          "nms(x0, sigmoid(max(x1, [2])), argmax(x1, axis=2), classes=3, "
                          "iou=0.3, score_threshold=0.2, max_detections=8)"),
          half=HALF_KEPT, params=no_params, macs=no_macs, tolerance=1e-6,
          traits=frozenset({Trait.DETECTIONS}),
          doc="Non-maximum suppression per image and class (torchvision's batched_nms, ONNX "
              "NonMaxSuppression): boxes scoring above score_threshold, best first, each "
              "dropping the later boxes of its class whose IoU with it exceeds `iou`; then "
              "the max_detections best of the image, best first, as rows (x1, y1, x2, y2, "
              "score, label) padded with (0, 0, 0, 0, 0, -1). Labels lie in [0, classes) (a "
              "box labelled outside is never kept); without labels every box is of class 0. "
              "Equal scores keep their index order "
              "in torch; onnxruntime breaks such ties its own way.",
          args=(Arg("boxes", "tensor"), Arg("scores", "tensor"), Arg("labels", "tensor", None),
                Arg("classes", "int", 1), Arg("iou", "float", 0.5),
                Arg("score_threshold", "float", None), Arg("max_detections", "int", 100)),
          infer=_nms_infer, torch=_nms_torch, onnx=_nms_onnx),
)
