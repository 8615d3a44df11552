"""Bundled networks against real torchvision (fixtures from tools/torchvision_reference.py):
the same state_dict keys and shapes, the same trainable count, and the same eval-mode output
after filling both by one deterministic rule and loading with strict=True."""
import pytest

import specc

from conftest import SPECS
from test_networks import at_size
from torchvision_parity import fixture, fixture_names, layout_mismatches, parity_error, tolerance

# torchvision.models.segmentation at any input size, with the auxiliary head (aux_loss=True)
SEGMENTATION = ("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
                "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large")

# torchvision constructor -> the bundled spec that defines a network of the same name
SPEC_OF = {
    **{f"resnet{d}": "resnet.net" for d in (18, 34, 50, 101, 152)},
    "alexnet": "alexnet.net",
    **{f"vgg{d}": "vgg.net" for d in (11, 13, 16, 19)},
    "googlenet": "googlenet.net",
    **{f"densenet{d}": "densenet.net" for d in (121, 161, 169, 201)},
    **{n: "mobilenet.net" for n in ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")},
    **{f"efficientnet_b{i}": "efficientnet.net" for i in range(8)},
    **{n: "vit.net" for n in ("vit_b_16", "vit_b_32", "vit_l_16")},
    "inception_v3": "inception_v3.net",
    "squeezenet1_0": "squeezenet.net", "squeezenet1_1": "squeezenet.net",
    **{f"shufflenet_v2_x{w}": "shufflenet.net" for w in ("0_5", "1_0", "1_5", "2_0")},
    **{n: "resnext.net" for n in ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
                                  "wide_resnet50_2", "wide_resnet101_2")},
    **{f"mnasnet{a}": "mnasnet.net" for a in ("0_5", "0_75", "1_0", "1_3")},
    **{f"regnet_{k}_{s}": "regnet.net" for k, sizes in (
        ("x", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
        ("y", ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")))
       for s in sizes},
    **{f"convnext_{s}": "convnext.net" for s in ("tiny", "small", "base", "large")},
    **{f"efficientnet_v2_{s}": "efficientnet_v2.net" for s in ("s", "m", "l")},
    **{n: "swin.net" for n in ("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s",
                               "swin_v2_b")},
    "maxvit_t": "maxvit.net",
    **{n: "segmentation.net" for n in SEGMENTATION},
}
# parity runs at the fixture's size; these are cheap enough for every run (about 1 s each),
# the rest are marked slow (they fill up to 300M parameters)
QUICK = {"resnet18", "googlenet", "densenet121", "mobilenet_v2", "mobilenet_v3_small",
         "efficientnet_b0", "inception_v3", "squeezenet1_1", "shufflenet_v2_x0_5",
         "mnasnet0_5", "regnet_x_400mf", "regnet_y_400mf",
         # every segmentation head and backbone: FCN on the dilated ResNet-50, DeepLabV3's
         # ASPP and LR-ASPP on the dilated MobileNetV3 (0.7-2.4 s each, two input sizes)
         "fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}
# The families of issue 19 run one preset of each kind of block here (grouped bottleneck,
# X and Y blocks, ConvNeXt, EfficientNetV2, Swin V1 and V2 with padded and shifted windows,
# MaxViT); their other presets differ only in widths and depths, which the layout test pins,
# and run with `pytest --parity-long -m parity_long` (all 38 agreed within 3.4e-7 when the
# fixtures were made: rel. errors 0 to 3.4e-7, 15 minutes on this machine, regnet_y_128gf
# alone 2 minutes and 6 GB)
LATER = {n for n, spec in SPEC_OF.items() if spec in (
    "resnext.net", "mnasnet.net", "regnet.net", "convnext.net", "efficientnet_v2.net",
    "swin.net", "maxvit.net", "segmentation.net")} - QUICK - {"resnext50_32x4d", "mnasnet0_5", "regnet_x_400mf",
                                  "regnet_y_400mf", "convnext_tiny", "efficientnet_v2_s",
                                  "swin_t", "swin_v2_t", "maxvit_t"}


def bundled(name: str):
    return specc.load(SPECS / SPEC_OF[name], name)


def parity_net(name: str, write_spec):
    """The network at the fixture's parity configuration: the bundled one, or a preset of it
    at the smaller input side the fixture was made with (specs take it as `size`)."""
    side = fixture(name)["parity"]["input"][-1]
    net = bundled(name)
    width = net.inputs()[0]["shape"][-1]
    if width == side or not isinstance(width, int):  # that side, or any (segmentation)
        return net
    return at_size(SPEC_OF[name], name, side, write_spec)


def test_every_mapped_network_has_a_fixture():
    assert set(SPEC_OF) <= set(fixture_names())


@pytest.mark.parametrize("name", sorted(SPEC_OF))
def test_layout_and_count_match_torchvision(name):
    net = bundled(name)
    assert layout_mismatches(net, name) == []
    assert net.params == fixture(name)["trainable_params"]


def _params(names):
    def marks(n):
        return pytest.mark.parity_long if n in LATER else () if n in QUICK else pytest.mark.slow
    return [pytest.param(n, marks=marks(n)) for n in sorted(names)]


@pytest.mark.parametrize("name", _params(SPEC_OF))
def test_outputs_match_torchvision(name, write_spec):
    assert parity_error(parity_net(name, write_spec), name) <= tolerance(name)


@pytest.mark.parametrize("name", _params(SEGMENTATION))
def test_segmentation_matches_torchvision_at_other_sizes(name):
    """The same network, unchanged, at each other input size the fixture holds (33x47 after
    40x56: strides round up, and the logits are resized back to the input's size)."""
    net = bundled(name)
    more = fixture(name)["parity"]["more"]
    assert more and all(m["input"] != fixture(name)["parity"]["input"] for m in more)
    for at in more:
        assert parity_error(net, name, at) <= tolerance(name)
