"""Import reads structure back: repeated subgraphs become blocks and loops; export -> import ->
export keeps the node count and the outputs. tools/roundtrip.py runs every bundled network;
the tests run a sample of the families."""
import pytest

import specc
from conftest import SPECS
from specc.importer.roundtrip import roundtrip

SAMPLE = ["cifar_resnet.net:resnet20", "squeezenet.net:squeezenet1_1",
          "shufflenet.net:shufflenet_v2_x0_5", "mobilenet.net:mobilenet_v3_small",
          "googlenet.net:googlenet", "elman.net:elman", "rumelhart_tc.net:tc"]


@pytest.mark.parametrize("target", SAMPLE)
def test_export_import_export_keeps_nodes_and_outputs(target):
    path, name = target.split(":")
    net = specc.load(SPECS / path, name)
    r = roundtrip(net)
    assert r.nodes[0] == r.nodes[1]
    assert r.rel <= 1e-6
    assert r.net.params == net.params and r.net.macs == net.macs


def test_resnet50_reads_like_the_bundled_spec():
    """A bottleneck block called in loops over the stages, within 2x of resnet.net's lines,
    with the counts `specc check` prints for the bundled resnet50 and torchvision's keys."""
    net = specc.load(SPECS / "resnet.net", "resnet50")
    r = roundtrip(net)
    assert r.ok
    lines = [ln for ln in r.text.splitlines() if ln.strip()]
    bundled = [ln for ln in (SPECS / "resnet.net").read_text().splitlines() if ln.strip()]
    assert len(lines) <= 2 * len(bundled)
    assert r.text.count("block ") == 1 and "for stage, depth in enumerate([3, 4, 6, 3])" in r.text
    assert r.net.params == net.params == 25_557_032 and r.net.macs == net.macs
    keys = {p.name for p in r.net.graph.params.values()}
    assert keys == {p.name for p in net.graph.params.values()}
    assert "layer3.5.conv2.weight" in keys and "layer2.0.downsample.1.running_var" in keys


def test_a_network_without_repetition_is_a_flat_listing():
    net = specc.load(SPECS / "rumelhart_tc.net", "tc")
    text = roundtrip(net).text
    assert "block " not in text and "for " not in text
