"""specs/segmentation.net beyond torchvision parity (tests/test_torchvision.py): the
auxiliary head is a training output only, and an export keeps H and W open, verified at two
sizes."""
import onnx

import specc

from conftest import SPECS


def test_the_aux_head_trains_and_is_left_out_of_exports():
    net = specc.load(SPECS / "segmentation.net", "deeplabv3_mobilenet_v3_large")
    assert [o["name"] for o in net.outputs()] == ["out", "aux"]
    assert net.recipe["output_weights"] == [1.0, 0.5]
    assert any(k.startswith("aux_classifier.") for k in net.graph.params)
    lraspp = specc.load(SPECS / "segmentation.net", "lraspp_mobilenet_v3_large")
    assert [o["name"] for o in lraspp.outputs()] == ["out"]


def test_a_segmentation_export_takes_any_size(tmp_path):
    net = specc.load(SPECS / "segmentation.net", "lraspp_mobilenet_v3_large",
                     overrides={"H": "40", "W": "56"})  # stated sizes, as --set H=40
    result = net.to_onnx(tmp_path / "lraspp.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert "at H=40, W=56, and the outputs again at H=" in result.compared
    graph = onnx.load(tmp_path / "lraspp.onnx").graph
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (graph.input[0], graph.output[0])]
    assert dims == [["N", 3, "H", "W"], ["N", 21, "H", "W"]] and len(graph.output) == 1
