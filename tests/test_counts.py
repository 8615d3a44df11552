"""The pinned MAC counts (tests/test_zoo.py) from an independent source: PyTorch's own
FLOP counter (torch.utils.flop_counter) over the lowered module, run on the meta device (no
memory, no arithmetic). It counts what the module really executes, not what specc's MAC rules
say; one MAC is two FLOPs. LeNet-5's C3 is lowered as a masked full convolution, so PyTorch
counts the masked links too; its figure comes from the paper's table instead."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import specc

from conftest import SPECS
from test_zoo import PINNED


SIZE = 8  # open sizes the recipe leaves open (a sequence's T) are counted here; the batch at 1


def sizes(net) -> dict:
    """The open sizes at the recipe's `size`, else at SIZE, else (where the network's
    asserts rule SIZE out: RetinaNet's sides are multiples of 32) at the first sizes it
    accepts."""
    from specc.compile.sizes import fits, sample_sizes, stated_sizes
    at = {name: SIZE for name in net.graph.symbols()} | stated_sizes(net.graph)
    return at if fits(net.graph, at) else sample_sizes(net.graph, batch=1)[0]


def executed_macs(net) -> int:
    graph = net.graph
    t = graph.values[graph.inputs[0]].type
    at = sizes(net)
    with torch.device("meta"):
        module = net.to_torch(seed=0).eval()
        shape = [d if isinstance(d, int) else 1 if i == 0 else d.evaluate(at)
                 for i, d in enumerate(t.shape)]
        with FlopCounterMode(display=False) as counter:
            module(torch.zeros(shape, dtype=torch.int64 if t.dtype == "i64" else torch.float32))
    return counter.get_total_flops() // 2


def pinned_at_size(net, macs) -> int:
    """A pinned figure, or a pinned formula (its text: "1280*T+320") at the size counted."""
    if isinstance(macs, int):
        return macs
    assert str(net.macs) == macs
    return net.macs.evaluate(sizes(net))


# Networks whose lowering executes convolutions their count leaves out, by the count's own
# convention: LeNet-5's C3 (masked links; checked against the paper below) and the
# Neocognitron (its S-cells' fixed inhibitory V-cells, a convolution over the squared inputs,
# and its C-cells' fixed connections run as convolutions too, over every position before the
# cells' positions are sampled; the pinned figure counts the modifiable a-weights' products).
# For these PyTorch must execute more than the pinned figure, never less.
COUNTED_SUBSET = {"lenet5", "neocognitron"}


# Detectors that end in detect.net's post-processing, which the meta device cannot run (its
# NMS keeps boxes by their values, and its anchors are constants on the CPU): PyTorch counts
# the same network without it at the same size, where specc's post-processing ops count none.
AT_800, AT_320 = {"H": "800", "W": "800"}, {"H": "320", "W": "320"}
POSTPROCESSED = {"retinanet_resnet50_fpn_detect": ("retinanet_resnet50_fpn", AT_800),
                 "ssdlite320_mobilenet_v3_large_detect": ("ssdlite320_mobilenet_v3_large", AT_320),
                 "ssd300_vgg16_detect": ("ssd300_vgg16", {})}  # fixed at 300x300


@pytest.mark.parametrize("spec,name,params,macs", PINNED, ids=[p[1] for p in PINNED])
def test_pinned_macs_are_what_pytorch_executes(spec, name, params, macs):
    net = specc.load(SPECS / spec, name)
    if name in POSTPROCESSED:
        base, sizes = POSTPROCESSED[name]
        net = specc.load(SPECS / spec, base, overrides=sizes)
    executed, macs = executed_macs(net), pinned_at_size(net, macs)
    if name in COUNTED_SUBSET:
        assert executed > macs
    else:
        assert executed == macs


def test_lenet5_macs_from_the_paper():
    """LeCun et al. 1998, section II-B, without the biases: C1 6 maps x 28x28 x 5x5;
    C3 1,500 weights (the connection table's 60 links x 25) x 10x10; C5 120 x 400;
    F6 84 x 120. The masked full C3 that PyTorch executes has 16 x 6 x 25 x 100."""
    paper = 6 * 28 * 28 * 25 + 1_500 * 100 + 120 * 400 + 84 * 120
    assert paper == 325_680 == specc.load(SPECS / "lenet5.net").macs
    full_c3 = 16 * 6 * 25 * 100
    assert executed_macs(specc.load(SPECS / "lenet5.net")) == paper - 1_500 * 100 + full_c3
