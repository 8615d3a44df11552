"""specs/unet.net against a small PyTorch U-Net written here (strict state_dict load, equal
outputs at two input sizes, unpadded and padded), its count from the paper's Fig. 1, its
stated assumptions, and verified exports at any size."""
import numpy as np
import pytest
import torch
from torch import nn

import specc

from conftest import SPECS


def double_conv(cin: int, cout: int, pad: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=pad), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=pad), nn.ReLU())


class UNet(nn.Module):
    """Ronneberger et al. 2015, Fig. 1, written directly: crop-and-concat skips (skip first,
    as drawn), 2x2 up-convolutions, a 1x1 head."""

    def __init__(self, channels=1, classes=2, width=64, depth=4, padded=False):
        super().__init__()
        pad = 1 if padded else 0
        widths = [width * 2 ** i for i in range(depth + 1)]
        ins = [channels] + widths[:-2]
        self.encoders = nn.ModuleList(double_conv(i, o, pad) for i, o in zip(ins, widths))
        self.bottom = double_conv(widths[-2], widths[-1], pad)
        back = widths[::-1]
        self.ups = nn.ModuleList(nn.ConvTranspose2d(i, o, 2, stride=2)
                                 for i, o in zip(back, back[1:]))
        self.decoders = nn.ModuleList(double_conv(2 * o, o, pad) for o in back[1:])
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = up(x)
            top = (skip.shape[2] - x.shape[2]) // 2
            left = (skip.shape[3] - x.shape[3]) // 2
            crop = skip[:, :, top:top + x.shape[2], left:left + x.shape[3]]
            x = dec(torch.cat([crop, x], 1))
        return self.head(x)


def small(write_spec, padded: bool):
    path = write_spec(f'import "unet.net"\nnetwork small = unet(width=4, depth=3, channels=2, '
                      f'classes=3, padded={str(padded).lower()}, tile={32 if padded else 92})\n',
                      name="small.net")  # the tile must fit its own asserts (92 = 12 * 8 - 4)
    return specc.load(path, "small")


def test_the_papers_unet_counts_and_sizes():
    """31,030,658 parameters from Fig. 1 by hand: 3x3 convs with biases 1-64-64 ... 512-1024-
    1024, then per level a 2x2 up-convolution and 3x3 convs 2c-c-c, a 1x1 conv to 2 classes;
    a 572x572 tile gives a 388x388 map."""
    def conv(i, o, k):
        return i * o * k * k + o
    widths = [64, 128, 256, 512, 1024]
    count = sum(conv(i, o, 3) + conv(o, o, 3) for i, o in zip([1] + widths[:-1], widths))
    count += sum(conv(2 * o, o, 2) + conv(2 * o, o, 3) + conv(o, o, 3) for o in widths[:-1])
    count += conv(64, 2, 1)
    net = specc.load(SPECS / "unet.net", "unet_paper")
    assert net.params == count == 31_030_658 == net.graph.reference["params"]
    out = net.outputs()[0]["shape"]
    assert [d.evaluate({"H": 572, "W": 572}) for d in out[2:]] == [388, 388]
    with torch.device("meta"):
        keys = {k: tuple(v.shape) for k, v in UNet().state_dict().items()}
    assert {k: tuple(p.shape) for k, p in net.graph.params.items()} == keys


@pytest.mark.parametrize("padded, sizes", [(False, [(92, 108), (108, 92)]),
                                           (True, [(32, 40), (24, 16)])])
def test_unet_matches_a_pytorch_unet(write_spec, padded, sizes):
    net = small(write_spec, padded)
    ours = net.to_torch(seed=0).eval()
    ref = UNet(channels=2, classes=3, width=4, depth=3, padded=padded).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    for h, w in sizes:
        x = torch.from_numpy(np.random.default_rng(h).standard_normal((2, 2, h, w)).astype("f4"))
        with torch.no_grad():
            a, b = ours(x), ref(x)
        assert a.shape == b.shape == ((2, 3, h, w) if padded else (2, 3, h - 88, w - 88))
        assert float(a.abs().max()) > 0
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padded, bad", [(False, (96, 92)), (True, (36, 32))])
def test_a_size_the_network_does_not_take_is_a_clear_error(write_spec, padded, bad):
    module = small(write_spec, padded).to_torch(seed=0)
    with pytest.raises(specc.SpeccError, match=r"breaks the network's assumption H ?%"):
        module(torch.zeros(1, 2, *bad))


@pytest.mark.parametrize("padded", [False, True])
def test_unet_exports_verified_at_two_sizes(write_spec, tmp_path, padded):
    net = small(write_spec, padded)
    result = net.to_onnx(tmp_path / "unet.onnx")
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert "and the outputs again at H=" in result.compared
