"""Detection post-processing ops against real torchvision (tests/fixtures/torchvision/
boxes.json, written by tools/torchvision_boxes.py), in torch and in onnxruntime."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import specc
from specc import passes
from specc.backends.onnx_build import build_model
from specc.backends.onnx_export import weights_from_module
from specc.backends.ort import open_session

FIX = json.loads((Path(__file__).parent / "fixtures" / "torchvision" / "boxes.json").read_text())


def both(net, feeds: dict) -> tuple[list, list]:
    """The network's outputs from its torch module and from its ONNX export in
    onnxruntime, on the same inputs."""
    module = net.to_torch(seed=0).eval()
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[n]) for n in net.graph.inputs])
    torch_out = [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]
    graph = passes.run(net.graph, passes.INFERENCE)
    model = build_model(graph, weights_from_module(module))
    sess, _, _ = open_session(model.SerializeToString(), "cpu")
    return torch_out, sess.run(list(net.graph.outputs), feeds)


def test_grid_anchors_are_torchvisions(load_spec):
    f = FIX["anchors"]
    (h0, w0), (h1, w1) = f["maps"]
    calls = [f"grid_anchors(p{i}, image, sizes={list(s)}, ratios={list(r)})"
             for i, (s, r) in enumerate(zip(f["sizes"], f["ratios"]))]
    net = load_spec(f"""network t() {{
        input image: f32[N, 3, {f['image'][0]}, {f['image'][1]}]
        input p0: f32[N, 4, {h0}, {w0}]
        input p1: f32[N, 4, {h1}, {w1}]
        output anchors = concat([{', '.join(calls)}], axis=0)
    }}""")
    feeds = {"image": np.zeros((1, 3, *f["image"]), np.float32),
             "p0": np.zeros((1, 4, h0, w0), np.float32), "p1": np.zeros((1, 4, h1, w1), np.float32)}
    want = np.asarray(f["anchors"], np.float32)
    for got in both(net, feeds):
        np.testing.assert_array_equal(got[0], want)


def test_grid_anchors_over_an_image_of_any_size(load_spec):
    """An image of open size: the anchors are computed from the sizes at run time (torch and
    ONNX), and equal torchvision's at the fixture's size."""
    f = FIX["anchors"]
    net = load_spec(f"""network t() {{
        input image: f32[N, 3, H, W]
        assert H % 8 == 0 and W % 8 == 0
        output anchors = grid_anchors(avgpool(image, 8), image, sizes={list(f['sizes'][0])})
    }}""")
    want = np.asarray(f["anchors"], np.float32)[:12 * 16 * 9]
    for got in both(net, {"image": np.zeros((1, 3, 96, 128), np.float32)}):
        np.testing.assert_array_equal(got[0], want)
    small = both(net, {"image": np.zeros((2, 3, 16, 24), np.float32)})
    assert small[0][0].shape == (2 * 3 * 9, 4)
    np.testing.assert_array_equal(small[0][0], small[1][0])


@pytest.mark.parametrize("case", range(2))
@pytest.mark.parametrize("open_size", [False, True])
def test_default_boxes_are_torchvisions(load_spec, case, open_size):
    c = FIX["default_boxes"]["cases"][case]
    ratios, steps = c["kwargs"]["aspect_ratios"], c["kwargs"].get("steps")
    height, width = c["image"]
    inputs = [f"input image: f32[N, 3, {'H' if open_size else height}, "
              f"{'W' if open_size else width}]"]
    calls = []
    for k, (h, w) in enumerate(c["maps"]):
        inputs.append(f"input p{k}: f32[N, 2, {f'A{k}' if open_size else h}, "
                      f"{f'B{k}' if open_size else w}]")
        step = f", step={steps[k]}.0" if steps else ""
        calls.append(f"default_boxes(p{k}, image, scale={c['scales'][k]!r}, "
                     f"next_scale={c['scales'][k + 1]!r}, ratios={[float(r) for r in ratios[k]]}"
                     f"{step})")
    body = "\n".join(inputs)
    net = load_spec(f"network t() {{\n{body}\n output boxes = concat([{', '.join(calls)}], "
                    "axis=0)\n}")
    feeds = {"image": np.zeros((1, 3, height, width), np.float32)}
    feeds.update({f"p{k}": np.zeros((1, 2, *m), np.float32) for k, m in enumerate(c["maps"])})
    want = np.asarray(c["boxes"], np.float32)
    for got in both(net, feeds):
        np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("coder", ["retinanet", "ssd"])
def test_decode_and_clip_are_torchvisions(load_spec, coder):
    d = FIX["decode"]
    weights = d["decoded"][coder]["weights"]
    net = load_spec(f"""network t() {{
        input deltas: f32[40, 4]
        input anchors: f32[40, 4]
        input image: f32[1, 3, {d['clip_image'][0]}, {d['clip_image'][1]}]
        output boxes = decode_boxes(deltas, anchors, weights={list(weights)})
        output clipped = clip_boxes(deltas * 30.0, image)
    }}""")
    feeds = {"deltas": np.asarray(d["deltas"], np.float32),
             "anchors": np.asarray(d["anchors"], np.float32),
             "image": np.zeros((1, 3, *d["clip_image"]), np.float32)}
    want = np.asarray(d["decoded"][coder]["boxes"], np.float32)
    if coder == "retinanet":  # rows 0-2 ask for exp(9) times the anchor: clamped to 1000/16
        widths = feeds["anchors"][:3, 2] - feeds["anchors"][:3, 0]
        np.testing.assert_allclose(want[:3, 2] - want[:3, 0], 62.5 * widths, rtol=1e-5)
    for boxes, clipped in both(net, feeds):
        np.testing.assert_allclose(boxes, want, rtol=2e-6, atol=1e-4)
        np.testing.assert_array_equal(clipped, np.asarray(d["clipped"], np.float32))


def _nms_net(load_spec, n: int, m: int, labels: bool = True):
    f = FIX["nms"]
    lab = "labels, " if labels else ""
    decl = f"input labels: i64[N, {m}]" if labels else ""
    return load_spec(f"""network t() {{
        input boxes: f32[N, {m}, 4]
        input scores: f32[N, {m}]
        {decl}
        output detections = nms(boxes, scores, {lab}classes={f['classes']}, iou={f['iou']},
                                score_threshold={f['score_threshold']},
                                max_detections={f['max_detections']})
    }}""")


def test_nms_keeps_what_torchvisions_batched_nms_keeps(load_spec):
    f = FIX["nms"]
    imgs = f["images"]
    net = _nms_net(load_spec, len(imgs), len(imgs[0]["scores"]))
    feeds = {"boxes": np.asarray([i["boxes"] for i in imgs], np.float32),
             "scores": np.asarray([i["scores"] for i in imgs], np.float32),
             "labels": np.asarray([i["labels"] for i in imgs], np.int64)}
    d = f["max_detections"]
    for got in both(net, feeds):
        rows = got[0]
        assert rows.shape == (len(imgs), d, 6)
        for n, img in enumerate(imgs):
            keep = img["keep"]
            assert 0 < len(keep) <= d
            want = np.concatenate([feeds["boxes"][n][keep], feeds["scores"][n][keep, None],
                                   feeds["labels"][n][keep, None].astype(np.float32)], 1)
            np.testing.assert_array_equal(rows[n, :len(keep)], want)
            pad = np.tile(np.asarray([0, 0, 0, 0, 0, -1], np.float32), (d - len(keep), 1))
            np.testing.assert_array_equal(rows[n, len(keep):], pad)


def test_nms_by_hand(load_spec):
    """Two overlapping boxes of one class: the better stays; of two classes: both; a box
    at the threshold goes; a label outside [0, classes) is never kept; rows are padded."""
    net = load_spec("""network t() {
        input boxes: f32[N, 5, 4]
        input scores: f32[N, 5]
        input labels: i64[N, 5]
        output d = nms(boxes, scores, labels, classes=2, iou=0.5, score_threshold=0.1,
                       max_detections=4)
    }""")
    boxes = np.asarray([[[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60],
                         [20, 20, 30, 30]]], np.float32)
    feeds = {"boxes": boxes, "scores": np.asarray([[0.9, 0.8, 0.7, 0.1, 0.6]], np.float32),
             "labels": np.asarray([[0, 0, 1, 0, 2]], np.int64)}
    want = np.asarray([[0, 0, 10, 10, 0.9, 0], [0, 0, 10, 10, 0.7, 1],
                       [0, 0, 0, 0, 0, -1], [0, 0, 0, 0, 0, -1]], np.float32)
    for got in both(net, feeds):
        np.testing.assert_allclose(got[0][0], want, rtol=1e-7)


def test_nms_without_labels_is_one_class_and_batch_rows_stay_apart(load_spec):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 40, (3, 60, 2)).astype(np.float32)
    feeds = {"boxes": np.concatenate([xy, xy + 12], -1),
             "scores": rng.uniform(0, 1, (3, 60)).astype(np.float32)}
    feeds["boxes"][1] = feeds["boxes"][0]  # image 1 = image 0, so its rows must match
    feeds["scores"][1] = feeds["scores"][0]
    t, o = both(_nms_net(load_spec, 3, 60, labels=False), feeds)
    np.testing.assert_array_equal(t[0], o[0])
    np.testing.assert_array_equal(t[0][0], t[0][1])
    assert not np.array_equal(t[0][0], t[0][2])
    assert set(np.unique(t[0][..., 5])) <= {0.0, -1.0} and (t[0][..., 5] == 0).any()


TOY = """import "detect.net"
network toy(classes: int = 5, kind: str = "retinanet") {
    input image: f32[N, 3, 64, 96]
    p3 = image |> conv(8, 3, stride=8, padding=1) |> relu
    p4 = p3 |> conv(8, 3, stride=2, padding=1) |> relu
    features = [p3, p4]
    per = kind == "retinanet" ? 9 : 6
    cls = []
    reg = []
    for i, f in enumerate(features) {
        c = conv(f, per * classes, 3, padding=1) as "cls." + str(i)
        cls = cls + [c |> reshape([per, classes, -1]) |> transpose([0, 3, 1, 2])
            |> reshape([-1, classes])]
        r = conv(f, per * 4, 3, padding=1) as "reg." + str(i)
        reg = reg + [r |> reshape([per, 4, -1]) |> transpose([0, 3, 1, 2]) |> reshape([-1, 4])]
    }
    logits = concat(cls, axis=1)
    deltas = concat(reg, axis=1)
    output detections = kind == "retinanet"
        ? retinanet_postprocess(image, features, logits, deltas, classes=classes, base=16,
                                candidates=100, detections=30)
        : ssd_postprocess(image, features, logits, deltas, scales=[0.2, 0.5, 1.0],
                          ratios=[[2.0, 3.0], [2.0, 3.0]], candidates=50, detections=30)
    output logits_out = logits
    output deltas_out = deltas
}
"""


def _retinanet_reference(logits, deltas, anchors_per_level, image_hw, classes):
    """torchvision's RetinaNet.postprocess_detections, step for step, per image (with the
    ops checked against torchvision above for decoding, clipping and NMS)."""
    from specc.ops.detection import clip_boxes, decode_boxes, nms
    out = []
    for n in range(logits.shape[0]):
        boxes, scores, labels, start = [], [], [], 0
        for anchors in anchors_per_level:
            count = len(anchors)
            s = torch.sigmoid(logits[n, start:start + count]).flatten()
            keep = torch.where(s > 0.05)[0]
            top = torch.topk(s[keep], min(100, len(keep))).indices
            idx = keep[top]
            a = idx // classes
            b = decode_boxes(deltas[n, start:start + count][a], anchors[a], (1.0,) * 4,
                             math.log(1000 / 16))
            boxes.append(clip_boxes(b, torch.zeros(image_hw)))
            scores.append(s[idx])
            labels.append(idx % classes)
            start += count
        out.append(nms(torch.cat(boxes)[None], torch.cat(scores)[None], torch.cat(labels)[None],
                       0.5, 0.05, 30, 30, classes)[0])
    return torch.stack(out)


def test_retinanet_postprocess_block_is_torchvisions_recipe(write_spec):
    net = specc.load(write_spec(TOY), "toy")
    rng = np.random.default_rng(1)
    feeds = {"image": rng.standard_normal((2, 3, 64, 96)).astype(np.float32)}
    t, o = both(net, feeds)
    np.testing.assert_allclose(t[0], o[0], rtol=1e-5, atol=1e-4)
    from specc.ops.detection import base_anchors, grid_anchor_array
    levels = [grid_anchor_array(h, w, 64, 96, base_anchors(
        [s, int(s * 2 ** (1 / 3)), int(s * 2 ** (2 / 3))], [0.5, 1.0, 2.0]))
        for (h, w), s in (((8, 12), 16), ((4, 6), 32))]
    want = _retinanet_reference(torch.from_numpy(t[1]), torch.from_numpy(t[2]),
                                [torch.from_numpy(a) for a in levels], (64, 96), 5).numpy()
    assert (want[..., 5] >= 0).sum() > 20  # enough boxes kept to mean something
    np.testing.assert_allclose(t[0], want, rtol=1e-6, atol=1e-5)


def test_ssd_postprocess_block_runs_alike_in_both_runtimes(write_spec):
    net = specc.load(write_spec(TOY.replace('kind: str = "retinanet"', 'kind: str = "ssd"')),
                     "toy")
    feeds = {"image": np.random.default_rng(2).standard_normal((2, 3, 64, 96)).astype(np.float32)}
    t, o = both(net, feeds)
    rows = t[0]
    np.testing.assert_allclose(rows, o[0], rtol=1e-5, atol=1e-4)
    kept = rows[..., 5] >= 0
    assert kept.sum() > 10 and set(np.unique(rows[kept][:, 5])) <= {1.0, 2.0, 3.0, 4.0}
    assert (rows[kept][:, 4] > 0.01).all()
    assert (rows[..., [0, 2]] <= 96).all() and (rows[..., [1, 3]] <= 64).all()
    for n in range(2):
        s = rows[n, kept[n], 4]
        assert (np.diff(s) <= 0).all()  # best first


@pytest.mark.parametrize("largest", [True, False])
def test_topk_breaks_ties_by_index_at_the_cut_too(load_spec, largest):
    """Many equal scores (fp16 scores are full of them): the k chosen and their order are
    ONNX TopK's, lower index first, in torch as in onnxruntime."""
    net = load_spec(f"""network t() {{
        input x: f32[N, 300]
        output i = topk(x, 37, largest={str(largest).lower()})
    }}""")
    x = np.round(np.random.default_rng(4).uniform(0, 1, (3, 300)), 1).astype(np.float32)
    key = -x if largest else x
    want = np.stack([np.lexsort((np.arange(300), key[n]))[:37] for n in range(3)])
    for got in both(net, {"x": x}):
        np.testing.assert_array_equal(got[0], want)


@pytest.fixture(scope="module")
def toy_onnx(tmp_path_factory):
    """The toy RetinaNet with its post-processing, exported (and so verified) once."""
    folder = tmp_path_factory.mktemp("toy")
    (folder / "toy.net").write_text("specc 1\n" + TOY)
    specc.load(folder / "toy.net", "toy").to_onnx(folder / "toy.onnx")
    x = folder / "x.npy"
    np.save(x, np.random.default_rng(3).standard_normal((3, 3, 64, 96)).astype(np.float32))
    import onnxruntime as ort
    rows = ort.InferenceSession(str(folder / "toy.onnx")).run(None, {"image": np.load(x)})[0]
    return folder / "toy.onnx", x, rows


def test_run_prints_a_detectors_boxes(toy_onnx, cli):
    model, x, rows = toy_onnx
    shown = cli("run", model, x, "--top-k", "2")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"{x}[0]  ") and "the best 2 shown" in lines[0]
    assert len([ln for ln in lines if ln.startswith("  ")]) == 6  # two boxes per image
    as_json = json.loads(cli("run", model, x, "--json").stdout)
    for n, image in enumerate(as_json["detections"]):  # the boxes printed are the model's
        kept = rows[n][rows[n][:, 5] >= 0]
        assert len(image["boxes"]) == len(kept) > 0
        np.testing.assert_allclose([b["box"] + [b["score"], b["index"]] for b in image["boxes"]],
                                   kept, rtol=1e-6)


def test_predict_writes_a_detectors_boxes(toy_onnx, tmp_path, cli):
    model, x, rows = toy_onnx
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / f"boxes.{fmt}"
        done = cli("predict", model, "--data", x, "--out", out, "--batch-size", "2")
        assert done.returncode == 0, done.stderr
        import pyarrow.parquet as pq
        written = pq.read_table(out).to_pylist() if fmt == "parquet" else \
            [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["key"] for r in written] == [f"x.npy[{i}]" for i in range(3)]
        for n, r in enumerate(written):
            kept = rows[n][rows[n][:, 5] >= 0]
            assert r["boxes"] == len(kept) > 0
            np.testing.assert_allclose(np.reshape(r["detections"], (-1, 6)), kept, rtol=1e-6)
    out = tmp_path / "best.jsonl"
    assert cli("predict", model, "--data", x, "--out", out, "--top-k", "1").returncode == 0
    assert [len(json.loads(line)["detections"]) for line in out.read_text().splitlines()] == \
        [6, 6, 6]


def test_min_of_sizes_decided_by_the_assumptions(load_spec):
    """min()/max() of sizes pick by what the asserts promise (a detector's candidates per
    map over an image of any size): here 3*H*W >= 3*64 > 100 always."""
    net = load_spec("""network t() {
        input x: f32[N, 3, H, W]
        assert H >= 8 and W >= 8
        output y = topk(reshape(x, [-1]), min(100, x.shape[1] * x.height * x.width))
        output z = topk(reshape(x, [-1]), max(2, x.height // 4))
    }""")
    assert net.graph.values[net.graph.outputs["y"]].type.shape[1] == 100
    assert str(net.graph.values[net.graph.outputs["z"]].type.shape[1]) == "H//4"
