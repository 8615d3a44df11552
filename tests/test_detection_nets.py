"""specs/detection.net against real torchvision (tests/fixtures/torchvision, made by
tools/torchvision_reference.py with tools/torchvision_detection.py): the same state_dict keys
and shapes (frozen batch norm's four tensors, no counter), the published parameter counts,
and every output (the heads' cls_logits and bbox_regression, the feature maps of each level)
equal after filling both by one rule and loading strictly; a verified export of each."""
import numpy as np
import onnx
import pytest
import torch

import specc

import torchvision_rule as rule
from conftest import SPECS
from torchvision_parity import TOLERANCE, CHAOTIC, fixture, layout_mismatches

DETECTORS = ("retinanet_resnet50_fpn", "ssdlite320_mobilenet_v3_large", "ssd300_vgg16")
PUBLISHED = {"retinanet_resnet50_fpn": 34_014_999,  # the COCO_V1 model cards' num_params
             "ssdlite320_mobilenet_v3_large": 3_440_060, "ssd300_vgg16": 35_641_826}
# VGG-16 at 300x300, twice (70 G multiply-adds on one thread, ~15 s a test): with
# `pytest --parity-long`, as the other long torchvision parity checks; RetinaNet's and
# SSDlite's run every time (2-6 s)
HEAVY = {"ssd300_vgg16"}


def _params(names):
    return [pytest.param(n, marks=pytest.mark.parity_long) if n in HEAVY else n for n in names]


def bundled(name: str):
    return specc.load(SPECS / "detection.net", name)


def filled_outputs(net, shape, scale: dict | None = None) -> dict:
    """The network's outputs by name, filled by the rule (the keys in `scale` multiplied by
    their factor), loaded strictly, in eval mode on the rule's input, with one thread (as
    the fixtures were made)."""
    module = net.to_torch().eval()
    params = {k for k, _ in module.named_parameters()}
    state = {k: torch.from_numpy(rule.fill(k, tuple(v.shape))) if rule.is_filled(k, k in params)
             else v for k, v in module.state_dict().items()}
    for k, factor in (scale or {}).items():
        state[k] = state[k] * factor
    module.load_state_dict(state, strict=True)
    x = torch.from_numpy(rule.sample_input(tuple(shape)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        torch.set_num_threads(threads)
    out = out if isinstance(out, tuple) else (out,)
    return {k: v.numpy() for k, v in zip(module.specc_outputs, out)}


@pytest.mark.parametrize("name", DETECTORS)
def test_layout_and_count_match_torchvision(name):
    net = bundled(name)
    assert layout_mismatches(net, name) == []
    assert net.params == fixture(name)["trainable_params"] == PUBLISHED[name]


def test_retinanet_backbone_norms_are_frozen():
    """FrozenBatchNorm2d: weight, bias and statistics are saved tensors, never trained; no
    num_batches_tracked; the ResNet's convs and the heads train."""
    net = bundled("retinanet_resnet50_fpn")
    bn = {k: p for k, p in net.graph.params.items() if k.startswith("backbone.body.bn1.")}
    assert sorted(k.rsplit(".", 1)[1] for k in bn) == ["bias", "running_mean", "running_var",
                                                       "weight"]
    assert not any(p.trainable for p in bn.values())
    assert net.graph.params["backbone.body.conv1.weight"].trainable
    shared = [k for k in net.graph.params if k.startswith("head.classification_head.conv.")]
    assert len(shared) == 8  # four convs, one weight and bias each, for all five levels


@pytest.mark.parametrize("name", _params(DETECTORS))
def test_outputs_match_torchvision(name):
    ref = fixture(name)["parity"]
    outs = filled_outputs(bundled(name), ref["input"])
    names = [k[:-len("_output")] for k in ref if k.endswith("_output")]
    assert list(outs) == names  # cls_logits, bbox_regression, level0, level1, ...
    for k in names:
        tol = min(CHAOTIC, max(TOLERANCE, 2 * ref[k + "_float32_error"]))
        err = rule.relative_error(rule.summary(outs[k]), ref[k + "_output"])
        assert err <= tol, f"{name} {k}: {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("name", DETECTORS)
def test_detections_fixture_is_usable(name):
    """What the post-processing fixture holds: torchvision's rows for each image, scores
    sorted and distinct enough that NMS's order is no tie, anchors per level summing to the
    heads' rows, and the scale that keeps the logits off saturation."""
    det = fixture(name)["detections"]
    rows = fixture(name)["parity"]["cls_logits_output"]["shape"][1]
    assert sum(level["count"] for level in det["anchors"]) == rows
    assert det["scale"] and all(f > 0 for f in det["scale"].values())
    for image, gaps in zip(det["images"], det["score_gaps"]):
        scores = np.asarray(image["scores"])
        assert len(image["boxes"]) == len(image["labels"]) == scores.size == gaps["rows"] > 0
        assert (np.diff(scores) <= 0).all() and scores.max() < 1.0
        assert gaps["equal_pairs"] == 0 and gaps["smallest_gap"] > 0


@pytest.mark.parametrize("name", _params(DETECTORS))
def test_detect_networks_find_torchvisions_detections(name):
    """The `_detect` network (the heads, then detect.net's post-processing) on the fixture's
    input, its prediction convs scaled as the fixture's were: every row torchvision's
    postprocess_detections keeps, in its order, with its label, score and box."""
    det = fixture(name)["detections"]
    h, w = det["image_size"]
    net = specc.load(SPECS / "detection.net", name + "_detect")
    rows = filled_outputs(net, [2, 3, h, w], det["scale"])["detections"]
    for n, want in enumerate(det["images"]):
        kept = rows[n][rows[n][:, 5] >= 0]
        assert len(kept) == len(want["scores"]) and (rows[n][len(kept):, 5] == -1).all()
        np.testing.assert_array_equal(kept[:, 5], want["labels"])
        np.testing.assert_allclose(kept[:, 4], want["scores"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(kept[:, :4], want["boxes"], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name,sizes", [("retinanet_resnet50_fpn", {"H": "128", "W": "160"}),
                                        ("ssdlite320_mobilenet_v3_large", {"H": "64", "W": "96"})])
def test_a_detector_exports_verified_at_any_size(name, sizes, tmp_path):
    net = specc.load(SPECS / "detection.net", name, overrides=sizes)
    result = net.to_onnx(tmp_path / f"{name}.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert f"at H={sizes['H']}, W={sizes['W']}, and the outputs again at H=" in result.compared
    graph = onnx.load(tmp_path / f"{name}.onnx", load_external_data=False).graph
    outputs = [o.name for o in graph.output]
    assert outputs[:3] == ["cls_logits", "bbox_regression", "level0"]
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", 3, "H", "W"]


@pytest.mark.parametrize("name,side,gflops", [("retinanet_resnet50_fpn", 800, 151.54),
                                              ("ssdlite320_mobilenet_v3_large", 320, 0.583)])
def test_macs_at_the_model_cards_size(name, side, gflops):
    """torchvision's model cards state "GFLOPS" (multiply-accumulates) at one input size:
    the MAC formula there agrees to every digit they give."""
    macs = bundled(name).macs.evaluate({"H": side, "W": side})
    assert round(macs / 1e9, len(str(gflops).split(".")[1])) == gflops
