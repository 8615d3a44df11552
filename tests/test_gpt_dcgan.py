"""specs/gpt.net against a minimal nanoGPT written here (its model.py's modules and names), and
specs/dcgan.net against the PyTorch DCGAN tutorial's Generator and Discriminator: strict
state_dict loads both ways, equal outputs, verified exports, pinned counts."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import specc
from specc.backends.torch_module import load_state

from conftest import SPECS, run_cli


# ------------------------------------------------------------ a minimal nanoGPT
class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.c_attn, self.c_proj, self.heads = nn.Linear(width, 3 * width), nn.Linear(width, width), heads

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (a.view(b, t, self.heads, c // self.heads).transpose(1, 2) for a in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.c_fc, self.gelu, self.c_proj = nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(width), CausalSelfAttention(width, heads)
        self.ln_2, self.mlp = nn.LayerNorm(width), MLP(width)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block_size, layers, heads, width):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, width), wpe=nn.Embedding(block_size, width),
            drop=nn.Dropout(0.0), h=nn.ModuleList(Block(width, heads) for _ in range(layers)),
            ln_f=nn.LayerNorm(width)))
        self.lm_head = nn.Linear(width, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # nanoGPT's weight tying

    def forward(self, idx):
        pos = torch.arange(idx.shape[1])
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


TINY = dict(vocab=65, block_size=32, layers=2, heads=2, width=32)


def test_gpt_matches_nanogpt_at_two_lengths():
    net = specc.load(SPECS / "gpt.net", "gpt_tiny")
    module = net.to_torch(seed=0).eval()
    ref = GPT(**TINY).eval()
    ref.load_state_dict(module.state_dict(), strict=True)  # specc's keys are nanoGPT's
    assert ref.lm_head.weight is ref.transformer.wte.weight
    assert sum(p.numel() for p in ref.parameters()) == net.params == 28_576
    torch.manual_seed(1)
    for length in (7, 32):
        idx = torch.randint(0, 65, (3, length))
        with torch.no_grad():
            torch.testing.assert_close(module(idx), ref(idx), rtol=1e-5, atol=1e-5)
    # and nanoGPT's state dict (both tied names) loads strictly into specc's module
    fresh = GPT(**TINY).eval()
    load_state(module, fresh.state_dict(), "nanoGPT state dict")
    idx = torch.randint(0, 65, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(module(idx), fresh(idx), rtol=1e-5, atol=1e-5)


def test_gpt_initialised_as_nanogpt():
    state = specc.load(SPECS / "gpt.net", "gpt_tiny").to_torch(seed=0).state_dict()
    proj = state["transformer.h.0.attn.c_proj.weight"]
    assert abs(proj.std().item() - 0.02 / math.sqrt(2 * 2)) < 0.002  # 0.02 / sqrt(2 layers)
    assert abs(state["transformer.h.1.mlp.c_fc.weight"].std().item() - 0.02) < 0.002
    assert not state["transformer.h.0.attn.c_attn.bias"].any()


@pytest.mark.parametrize("name,params,macs", [
    ("gpt2", 124_439_808, "18432*T*T+123532032*T"),
    ("gpt_shakespeare_char", 10_770_816, "4608*T*T+10641792*T")])
def test_gpt_layouts_count(name, params, macs):
    """GPT-2 small with its head tied: wte 50257x768 + wpe 1024x768 + 12 x 7,087,872 + ln_f
    1,536 = 124,439,808 (the matrix shared with lm_head counted once, as nanoGPT does)."""
    net = specc.load(SPECS / "gpt.net", name)
    assert (net.params, str(net.macs)) == (params, macs)


def test_gpt_exports_and_refuses_a_sequence_past_its_block(tmp_path):
    model = tmp_path / "gpt.onnx"
    result = specc.load(SPECS / "gpt.net", "gpt_tiny").to_onnx(model)
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert " at T=" in result.compared and "again at T=" in result.compared  # two lengths
    np.save(tmp_path / "long.npy", np.zeros((1, 33), np.int64))
    long = run_cli("run", model, tmp_path / "long.npy")
    assert long.returncode == 1, long.stderr
    assert "T=33 breaks the network's assumption T <= 32: the position table has " \
           "block_size rows" in long.stderr and "Traceback" not in long.stderr


# ------------------------------------------------------- the DCGAN tutorial's modules
def tutorial_generator(nz=100, ngf=64, nc=3):
    def up(cin, cout, stride=2, padding=1):
        return [nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(True)]
    return nn.Sequential(*up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4), *up(ngf * 4, ngf * 2),
                         *up(ngf * 2, ngf), nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
                         nn.Tanh())


def tutorial_discriminator(ndf=64, nc=3):
    def down(cin, cout):
        return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                         *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),
                         nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())


class Tutorial(nn.Module):
    """The tutorial's `self.main = nn.Sequential(...)`, so its keys are main.0.weight ..."""

    def __init__(self, main):
        super().__init__()
        self.main = main

    def forward(self, x):
        return self.main(x)


@pytest.mark.parametrize("name,make,shapes,params", [
    ("dcgan_generator", tutorial_generator, [(4, 100, 1, 1), (2, 100, 2, 1)], 3_576_704),
    ("dcgan_discriminator", tutorial_discriminator, [(4, 3, 64, 64), (2, 3, 80, 96)],
     2_765_568)])
def test_dcgan_matches_the_tutorial(name, make, shapes, params, tmp_path):
    """The paper's sizes (z 1x1 -> 64x64; 64x64 -> one probability), then others: a 2x1 grid
    of codes makes a 80x64 image, an 80x96 image gets a 2x3 map of scores."""
    net = specc.load(SPECS / "dcgan.net", name)
    module = net.to_torch(seed=0)
    ref = Tutorial(make())
    assert sum(p.numel() for p in ref.parameters()) == net.params == params
    ref.load_state_dict(module.state_dict(), strict=True)
    for shape in shapes:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        for train in (True, False):  # batch statistics, then the running ones both updated
            module.train(train), ref.train(train)
            with torch.no_grad():
                torch.testing.assert_close(module(x), ref(x), rtol=1e-5, atol=1e-6)
    assert module(x).shape[-2:] == ((80, 64) if shape[1] == 100 else (2, 3))
    load_state(module, Tutorial(make()).state_dict(), "the tutorial's state dict")
    result = net.to_onnx(tmp_path / f"{name}.onnx", weights=module.state_dict())
    assert result.max_rel_error is not None and result.max_rel_error <= 1e-4
    assert "again at H=" in result.compared  # verified at a second size


def test_dcgan_initialised_as_the_paper_says():
    state = specc.load(SPECS / "dcgan.net", "dcgan_generator").to_torch(seed=0).state_dict()
    conv, bn = state["main.3.weight"], state["main.4.weight"]  # 2M draws, 256 draws
    assert abs(conv.mean().item()) < 1e-3 and abs(conv.std().item() - 0.02) < 1e-3
    assert abs(bn.mean().item() - 1.0) < 0.01 and 0.01 < bn.std().item() < 0.03
    assert not state["main.4.bias"].any()


# ------------------------------------------------------------ character-level training
def test_text_windows_are_next_characters(tmp_path):
    from specc.data.registry import InputSpec, load_dataset
    data = load_dataset("text", InputSpec((16,), classes=65))
    text = (SPECS.parent / "specc" / "data" / "sonnets.txt").read_text()
    assert data.labels == sorted(set(text)) and data.classes == 65
    decode = lambda codes: "".join(data.labels[i] for i in codes)  # noqa: E731
    assert decode(data.train_x[0]) == text[:16] and decode(data.train_y[0]) == text[1:17]
    assert torch.equal(data.train_x[1:, :-1], data.train_x[:-1, 1:])  # windows step by one
    own = tmp_path / "own.txt"
    own.write_text("abcab" * 20)
    assert load_dataset(f"text:{own}", InputSpec((4,), classes=65)).labels == ["a", "b", "c"]
    from specc.core.diagnostics import SpeccError
    with pytest.raises(SpeccError, match="distinct characters but the network's output has "
                                         "only 2"):
        load_dataset(f"text:{own}", InputSpec((4,), classes=2))


def test_gpt_learns_the_sonnets(tmp_path):
    """100 AdamW steps of gpt_tiny on the bundled text, through the command line: the test
    loss falls below the entropy of the test split's character frequencies (3.01 nats), so
    the model predicts from context, not from how common each character is."""
    run = run_cli("train", SPECS / "gpt.net:gpt_tiny", "--steps", "100", "--json",
                  "--out", tmp_path / "run")
    assert run.returncode == 0, run.stderr
    import csv
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    from specc.data.text import BUNDLED, TRAIN_FRACTION
    text = BUNDLED.read_text()
    test = text[int(len(text) * TRAIN_FRACTION):]
    freq = [test.count(c) / len(test) for c in set(test)]
    entropy = -sum(p * math.log(p) for p in freq)  # 3.01 nats
    assert float(rows[-1]["test_loss"]) < entropy - 0.1 and float(rows[-1]["test_accuracy"]) > 0.2


def test_indices_and_pixels_do_not_mix(cli, tmp_path):
    gpt = cli("train", SPECS / "gpt.net:gpt_tiny", "--data", "synthetic", "--out", tmp_path / "a")
    assert gpt.returncode == 1 and "data set 'synthetic' gives floating-point samples, but input " \
        "'idx' of network 'gpt_tiny' is i64" in gpt.stderr
    lenet = cli("train", SPECS / "lenet5.net", "--data", "text", "--out", tmp_path / "b")
    assert lenet.returncode == 1 and "data set 'text' feeds sequences of character indices" \
        in lenet.stderr
