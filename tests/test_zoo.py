"""Pinned parameter and MAC counts for every bundled network, and torchvision-style names."""
import pytest

import specc
from specc.zoo import REFERENCE, zoo_rows

from conftest import SPECS

PINNED = [  # (file, network, trainable params, MACs per sample)
    ("lenet5.net", "lenet5", 60_000, 325_680),
    ("resnet.net", "resnet18", 11_689_512, 1_814_073_344),
    ("resnet.net", "resnet34", 21_797_672, 3_663_761_408),
    ("resnet.net", "resnet50", 25_557_032, 4_089_184_256),
    ("resnet.net", "resnet101", 44_549_160, 7_801_405_440),
    ("resnet.net", "resnet152", 60_192_808, 11_513_626_624),
    ("googlenet.net", "googlenet", 6_624_904, 1_498_376_192),
    ("googlenet.net", "googlenet_paper", 6_998_552, 1_582_671_872),
]


@pytest.mark.parametrize("spec,name,params,macs", PINNED, ids=[p[1] for p in PINNED])
def test_pinned_counts(spec, name, params, macs):
    net = specc.load(SPECS / spec, name)
    assert (net.params, net.macs) == (params, macs)


def test_every_bundled_network_is_pinned_and_matches_its_reference():
    rows = zoo_rows()
    assert {r["network"] for r in rows} == {p[1] for p in PINNED}
    for r in rows:
        ref_params, ref_macs, _ = REFERENCE[r["network"]]
        assert r["params"] == ref_params
        assert ref_macs is None or r["macs"] == ref_macs


def test_lenet5_layer_by_layer():
    net = specc.load(SPECS / "lenet5.net")
    params = {r["name"]: r["params"] for r in net.layers() if r["params"]}
    assert params == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    shapes = [r["shape"][2] for r in net.layers() if r["name"] in ("c1", "s2", "c3", "s4", "c5")]
    assert shapes == [28, 14, 10, 5, 1]
    fixed = net.graph.params["rbf_units.centers"]
    assert not fixed.trainable and fixed.shape == (10, 84)


def test_resnet_names_follow_torchvision():
    net = specc.load(SPECS / "resnet.net", "resnet18")
    keys = list(net.graph.params)
    assert len(keys) == 122  # torchvision resnet18's state_dict, num_batches_tracked included
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.num_batches_tracked",
                "layer4.1.conv2.weight", "fc.weight", "fc.bias"):
        assert key in keys
    assert "layer1.0.downsample.0.weight" not in keys  # identity shortcut where shapes agree
    net50 = specc.load(SPECS / "resnet.net", "resnet50")
    assert net50.graph.params["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert net50.graph.params["layer3.5.conv3.weight"].shape == (1024, 256, 1, 1)


def test_googlenet_names_follow_torchvision():
    keys = set(specc.load(SPECS / "googlenet.net", "googlenet").graph.params)
    for key in ("conv1.conv.weight", "conv1.bn.running_mean", "inception3a.branch1.conv.weight",
                "inception3a.branch2.1.conv.weight", "inception4e.branch3.1.bn.bias",
                "inception5b.branch4.1.conv.weight", "fc.bias"):
        assert key in keys
    assert not any(k.startswith("inception3a.branch4.0") for k in keys)  # the max pool


def test_resnet_family_is_short():
    lines = [l for l in (SPECS / "resnet.net").read_text().splitlines() if l.strip()]
    assert len(lines) <= 70
