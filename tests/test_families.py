"""torchvision's newer families (issue 19) beyond their state_dicts and outputs
(tests/test_torchvision.py): each kind of block exported and verified against onnxruntime
with fresh weights at a small input (the presets of a family differ only in widths and
depths), what the exported graphs hold, and the RegNet width rule."""
import onnx
import pytest

import specc

from conftest import SPECS
from test_networks import at_size

# (spec, preset, input side): Swin at 112 pads its last stage to the window and merges an odd
# side; MaxViT needs every stage's grid divisible into 7x7 partitions, so 224
SMALL = [("resnext.net", "resnext50_32x4d", 64), ("mnasnet.net", "mnasnet0_5", 64),
         ("regnet.net", "regnet_x_400mf", 64), ("regnet.net", "regnet_y_400mf", 64),
         ("convnext.net", "convnext_tiny", 64), ("efficientnet_v2.net", "efficientnet_v2_s", 64),
         ("swin.net", "swin_t", 112), ("swin.net", "swin_v2_t", 112),
         ("resnet34_shortcuts.net", "resnet34_a", 64),
         ("resnet34_shortcuts.net", "resnet34_c", 64)]
SLOW = {"convnext_tiny", "efficientnet_v2_s", "swin_t", "swin_v2_t", "resnext50_32x4d"}


def _export(spec, name, side, tmp_path, write_spec):
    net = at_size(spec, name, side, write_spec)
    result = net.to_onnx(tmp_path / f"{name}.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert "ill-conditioned" not in result.compared  # fresh weights verify directly
    return onnx.load(tmp_path / f"{name}.onnx")


@pytest.mark.parametrize("spec,name,side", [
    pytest.param(*row, marks=pytest.mark.slow if row[1] in SLOW else ()) for row in SMALL],
    ids=[row[1] for row in SMALL])
def test_each_kind_of_block_exports_and_verifies(spec, name, side, tmp_path, write_spec):
    model = _export(spec, name, side, tmp_path, write_spec)
    ops = {n.op_type for n in model.graph.node}
    assert not any("stochastic_depth" in n.name for n in model.graph.node)  # dropped
    if name.startswith("swin"):
        assert {"Gather", "Concat", "Slice"} <= ops  # table[index]; roll as slices + concat
        assert ("ReduceL2" in ops) == name.startswith("swin_v2")  # cosine attention
        gathered = [i for i in model.graph.initializer if i.name.endswith("position_index")]
        assert gathered and all(i.data_type == onnx.TensorProto.INT64 for i in gathered)


@pytest.mark.slow  # MaxViT-T at 224 (its partitions need it): ~10 s
def test_maxvit_exports_and_verifies(tmp_path):
    net = specc.load(SPECS / "maxvit.net", "maxvit_t")
    result = net.to_onnx(tmp_path / "maxvit.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert "ill-conditioned" not in result.compared


# torchvision's BlockParams.from_init_params, run once in its venv: (widths, depths) per stage
REGNET_STAGES = {
    "regnet_x_400mf": ([32, 64, 160, 400], [1, 2, 7, 12]),
    "regnet_y_400mf": ([48, 104, 208, 440], [1, 3, 6, 6]),
    "regnet_y_128gf": ([528, 1056, 2904, 7392], [2, 7, 17, 1]),
}


@pytest.mark.parametrize("name", sorted(REGNET_STAGES))
def test_regnet_width_rule(name):
    net = specc.load(SPECS / "regnet.net", name)
    blocks = {}
    for p in net.graph.params:
        if p.startswith("trunk_output.") and p.endswith(".f.c.0.weight"):
            stage = p.split(".")[1]
            blocks.setdefault(stage, []).append(net.graph.params[p].shape[0])
    widths, depths = REGNET_STAGES[name]
    assert [v[0] for v in blocks.values()] == widths
    assert [len(v) for v in blocks.values()] == depths
