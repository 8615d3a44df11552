"""Import of models that compute with their open sizes: a shape-computing subgraph (Shape ->
Gather/Slice -> arithmetic -> Concat/Unsqueeze) feeding a Slice, Range or Resize is evaluated
over the symbolic sizes and becomes the spec's own expressions (slice(w, 0, end=T),
arange(T), resize(x, [H // 16, W // 16])), so the imported spec keeps the open sizes."""
import warnings

import numpy as np
import pytest
from onnx import helper

import specc
from conftest import SPECS, run_main
from onnx_models import model, run, save, value
from specc.importer import import_graph, load_imported
from specc.importer.read import from_proto
from specc.importer.roundtrip import model_of, roundtrip, seeded_weights

# network -> (what its imported spec must say, two sizes of its open dims)
CASES = {
    "gpt.net:gpt_tiny": (["assert T <= 32", "slice(transformer_wpe_weight, 0, end=T)",
                          "arange(n)", "n=T"], [{"T": 5}, {"T": 23}]),
    "unet.net:unet_small": (["assert H % 8 == 0", "end=H // 4"],
                            [{"H": 16, "W": 24}, {"H": 40, "W": 32}]),
    "segmentation.net:lraspp_mobilenet_v3_large": (
        ["resize(", "mode=\"bilinear\""], [{"H": 64, "W": 96}, {"H": 97, "W": 70}]),
}


def _feeds(graph, sizes: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        t = graph.values[name].type
        shape = [2 if str(d) == "N" else sizes.get(str(d), d) for d in t.shape]
        out[name] = rng.integers(0, 65, shape).astype(np.int64) if t.dtype == "i64" else \
            rng.standard_normal(shape).astype(np.float32)
    return out


@pytest.mark.parametrize("target", list(CASES))
def test_open_sizes_round_trip_op_for_op_and_stay_open(target):
    path, name = target.split(":")
    net = specc.load(SPECS / path, name)
    says, sizes = CASES[target]
    first = model_of(net, seeded_weights(net))
    imported = import_graph(from_proto(first), name)
    again, weights = load_imported(imported)
    second = model_of(again, weights)
    assert len(first.graph.node) == len(second.graph.node)
    for text in says:
        assert text in imported.text, imported.text
    # the open dims are still open: the input declares them, and both models agree at two
    # sizes that are not the sizes the export was verified at
    shape = again.graph.values[again.graph.inputs[0]].type.shape
    assert set(map(str, shape)) >= set(sizes[0]) | {"N"}
    outs = []
    for k, at in enumerate(sizes):
        feeds = _feeds(net.graph, at, k)
        a, b = run(first, feeds), run(second, dict(zip(again.graph.inputs, feeds.values())))
        assert [x.shape for x in a] == [x.shape for x in b]
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        outs.append(a[0].shape)
    assert outs[0] != outs[1]


def test_gpt_shakespeare_char_keeps_its_layers_as_one_block_with_T_passed_in():
    r = roundtrip(specc.load(SPECS / "gpt.net", "gpt_shakespeare_char"))
    assert r.nodes[0] == r.nodes[1] and r.rel == 0.0
    assert "unknown name" not in r.text
    assert r.text.count("n=T") == 6  # the block cannot name T: each call passes it


class _Crop:
    """A torch model cropping to half its height and resizing to another map's size, as
    torch.onnx writes them: Shape -> Gather -> Div -> Unsqueeze -> Slice, and Shape ->
    Slice -> Concat -> Resize."""

    @staticmethod
    def build():
        import torch
        import torch.nn.functional as F

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
                self.down = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1)

            def forward(self, x):
                y = self.conv(x)
                top = y[:, :, :y.size(2) // 2]
                small = self.down(top)
                up = F.interpolate(small, size=top.shape[-2:], mode="bilinear",
                                   align_corners=False)
                near = F.interpolate(small, size=top.shape[-2:], mode="nearest")
                return top + up + near

        torch.manual_seed(0)
        return Net().eval()


def test_torch_export_of_a_crop_and_interpolate_to_a_shape_imports_with_open_sizes(tmp_path):
    import torch
    net = _Crop.build()
    src = tmp_path / "crop.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, torch.randn(1, 3, 8, 6), str(src), dynamo=False,
                          opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N", 2: "H", 3: "W"}, "y": {0: "N"}})
    out = tmp_path / "crop.net"
    r = run_main("import", src, "-o", out)
    assert r.returncode == 0, r.stderr
    text = "".join(out.read_text().split())  # the layout aside
    assert "inputx:f32[N,3,H,W]" in text
    assert "slice(conv,2,end=H//2)" in text
    assert text.count("resize(down,[H//2,W]") == 2  # bilinear, and nearest (the default)
    assert text.count('mode="bilinear"') == 1
    spec = specc.load(out)
    for h, w in ((8, 6), (14, 10)):
        x = torch.randn(2, 3, h, w)
        with torch.no_grad():
            want = net(x).numpy()
        again = tmp_path / f"again{h}.onnx"
        spec.to_onnx(again, weights=str(out.with_suffix(".safetensors")), verify=False)
        got = run(str(again), {"x": x.numpy()})[0]
        assert got.shape == want.shape == (2, 4, h // 2, w)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _shape_of(x: str, axis: int, out: str) -> list:
    return [helper.make_node("Shape", [x], [out], start=axis, end=axis + 1)]


def test_what_still_cannot_import_is_refused_by_node(tmp_path):
    """A Range over an open size by a step other than 1 and a cubic Resize to sizes from
    Shape: each named, exit 1, nothing written."""
    nodes = _shape_of("x", 1, "t") + [
        helper.make_node("Squeeze", ["t"], ["ts"]),
        helper.make_node("Constant", [], ["zero"], value_int=0),
        helper.make_node("Constant", [], ["two"], value_int=2),
        helper.make_node("Range", ["zero", "ts", "two"], ["r"], name="every_other"),
        helper.make_node("Cast", ["r"], ["rf"], to=1),
        helper.make_node("Add", ["x", "rf"], ["y"], name="add"),
    ]
    m = model(nodes, [value("x", ["N", "T"])], [value("y", ["N", "T"])])
    out = tmp_path / "range.net"
    r = run_main("import", save(m, tmp_path / "range.onnx"), "-o", out)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "Range 'every_other'" in r.stderr and "steps by 1" in r.stderr
    assert not out.exists()

    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Constant", [], ["k"], value_ints=[1, 1, 2, 2]),
             helper.make_node("Mul", ["s", "k"], ["sizes"]),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="cubic_up",
                              mode="cubic")]
    m = model(nodes, [value("x", ["N", 3, "H", "W"])], [value("y", ["N", 3, "H2", "W2"])])
    r = run_main("import", save(m, tmp_path / "cubic.onnx"), "-o", tmp_path / "cubic.net")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "Resize 'cubic_up'" in r.stderr and "cubic" in r.stderr


def test_a_resize_by_scales_from_shape_arithmetic_reads_as_symbolic_sizes(tmp_path):
    """Sizes computed as Shape * [1, 1, 2, 2] are [N, 3, H*2, W*2]: resize to them."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Constant", [], ["k"], value_ints=[1, 1, 2, 2]),
             helper.make_node("Mul", ["s", "k"], ["sizes"]),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="up",
                              mode="nearest", coordinate_transformation_mode="asymmetric",
                              nearest_mode="floor")]
    m = model(nodes, [value("x", ["N", 3, "H", "W"])], [value("y", ["N", 3, "H2", "W2"])])
    out = tmp_path / "up.net"
    r = run_main("import", save(m, tmp_path / "up.onnx"), "-o", out)
    assert r.returncode == 0, r.stderr
    assert "resize(x,[2*H,2*W])" in "".join(out.read_text().split())
    x = np.random.default_rng(0).standard_normal((1, 3, 3, 5)).astype(np.float32)
    want = x.repeat(2, axis=2).repeat(2, axis=3)
    spec = specc.load(out)
    spec.to_onnx(tmp_path / "again.onnx", verify=False)
    np.testing.assert_array_equal(run(str(tmp_path / "again.onnx"), {"x": x})[0], want)
