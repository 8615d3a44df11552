"""torchvision's batch-norm VGGs against real torchvision (fixtures made by
tools/torchvision_reference.py in a venv of its own): the same state_dict keys and shapes, a
strict load, the same trainable count, and the same eval-mode output (relative error <= 1e-5)
with every tensor filled by the fixture's rule, so batch norm runs on non-trivial running
statistics (variances in [0.5, 1.5), means in [-0.1, 0.1), scales in [0.5, 1.5))."""
import pytest

import specc

from conftest import SPECS
from torchvision_parity import fixture, layout_mismatches, parity_error, tolerance

VGG_BN = ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]


@pytest.mark.parametrize("name", VGG_BN)
def test_vgg_bn_layout_and_count_match_torchvision(name):
    net = specc.load(SPECS / "vgg.net", name)
    assert layout_mismatches(net, name) == []
    assert net.params == fixture(name)["trainable_params"]


@pytest.mark.slow  # ~5 s each: 133-144 M weights filled, two 224x224 images through them
@pytest.mark.parametrize("name", VGG_BN)
def test_vgg_bn_outputs_match_torchvision(name):
    assert fixture(name)["parity"]["input"] == [2, 3, 224, 224]  # full size
    assert parity_error(specc.load(SPECS / "vgg.net", name), name) <= tolerance(name)
