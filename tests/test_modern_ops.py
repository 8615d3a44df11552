"""The modern op set beyond one parity case each: every ONNX path (the standard op where the
opset has it, the decomposition below), the variants (tanh GELU, masks, causal attention,
bilinear resizing, 3-D and transposed convolution), and checks against torch.nn modules."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import specc

from test_onnx_parity import parity


def net_of(write_spec, inputs, call, extra=""):
    decls = "\n".join(f"    input x{i}: {t}" for i, t in enumerate(inputs))
    return specc.load(write_spec(f"network n {{\n{decls}\n{extra}    output y = {call}\n}}\n"))


PATHS = [  # (inputs, call, opsets: below and from the op's own ONNX version)
    (["f32[N, 5, 8]"], "layernorm(x0)", (13, 16, 17)),
    (["f32[N, 3, 4, 6]"], "layernorm(x0, dims=2, eps=0.000001, affine=false)", (13, 17)),
    (["f32[N, 6, 4, 4]"], "groupnorm(x0, 2)", (17, 21)),
    (["f32[N, 4, 7]"], "groupnorm(x0, 4, affine=false)", (13, 21)),
    (["f32[N, 3, 4, 4]"], "instancenorm(x0)", (13, 17)),
    (["f32[N, 3, 4]"], "gelu(x0)", (17, 20)),
    (["f32[N, 3, 4]"], "gelu(x0, approximate=\"tanh\")", (17, 20)),
    (["f32[N, 3, 4]"], "mish(x0)", (17, 18)),
    (["f32[N, 3, 4]"], "hardswish(x0 * 4.0)", (13, 14)),
    (["f32[N, 3, 4, 5]"], "mean(x0, [2, 3], keepdims=true)", (13, 18)),
    (["f32[N, 3, 4]"], "max(x0, [2]) + min(x0, [2]) + sum(x0, [2])", (13, 18)),
    (["f32[N, 3, 4]"], "softplus(x0)", (13,)),
    (["f32[N, 2, 5, 6]"], "resize(x0, [7, 3])", (13, 17)),
    (["f32[N, 2, 5, 6]"], "resize(x0, [9, 11], mode=\"bilinear\", align_corners=true)", (13,)),
    (["f32[N, 2, 3, 4]"], "upsample(x0, [2, 3], mode=\"bilinear\")", (13,)),
    (["f32[N, 2, 5]"], "upsample(x0, 3)", (13,)),
    (["f32[N, 3, 4, 5, 5]"], "conv(x0, 4, [2, 3, 3], stride=[1, 2, 2], padding=1)", (13,)),
    (["f32[N, 4, 9]"], "conv_transpose(x0, 2, 4, stride=3, padding=2, dilation=2)", (13,)),
    (["f32[N, 2, 3, 4, 4]"], "conv_transpose(x0, 3, 2, stride=2, bias=false)", (13,)),
    (["f32[N, 2, 5, 4]", "f32[N, 2, 5, 4]", "f32[N, 2, 5, 3]"],
     "scaled_dot_product_attention(x0, x1, x2, causal=true)", (13, 17)),
    (["f32[N, 2, 5, 4]", "f32[N, 2, 6, 4]", "f32[N, 2, 6, 3]", "bool[5, 6]"],
     "scaled_dot_product_attention(x0, x1, x2, x3, scale=0.3)", (17,)),
    (["f32[N, 5, 4]", "f32[N, 6, 4]", "f32[N, 6, 3]", "f32[N, 1, 6]"],
     "scaled_dot_product_attention(x0, x1, x2, x3)", (17,)),
]


@pytest.mark.parametrize("inputs,call,opsets", PATHS, ids=[p[1][:40] for p in PATHS])
def test_every_onnx_path_agrees(inputs, call, opsets, write_spec):
    net = net_of(write_spec, inputs, call)
    for opset in opsets:
        err, tol = parity(net, opset=opset)
        assert err <= tol, f"opset {opset}"


def test_a_bool_mask_blocks_what_it_says(write_spec):
    """Checked against softmax written out by hand, not against another lowering."""
    net = net_of(write_spec, ["f32[N, 3, 4]", "f32[N, 3, 4]", "f32[N, 3, 2]"],
                 "scaled_dot_product_attention(x0, x1, x2, m)",
                 "    const m: bool[3, 3] = [[1, 0, 0], [1, 1, 0], [0, 1, 1]]\n")
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 2)
    mask = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    scores = (q @ k.transpose(1, 2) / 2.0).masked_fill(~mask, float("-inf"))
    with torch.no_grad():
        out = net.to_torch()(q, k, v)
    assert torch.allclose(out, scores.softmax(-1) @ v, atol=1e-6)


MODULES = [  # (spec call on x0, torch.nn module with the same state_dict names)
    ("layernorm(x0, eps=0.000001)", lambda: torch.nn.LayerNorm(8, eps=1e-6), "f32[N, 5, 8]"),
    ("groupnorm(x0, 2)", lambda: torch.nn.GroupNorm(2, 6), "f32[N, 6, 4, 4]"),
    ("instancenorm(x0, affine=true)", lambda: torch.nn.InstanceNorm2d(3, affine=True),
     "f32[N, 3, 4, 4]"),
    ("conv_transpose(x0, 4, 3, stride=2, padding=1, output_padding=1)",
     lambda: torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1),
     "f32[N, 6, 4, 4]"),
    ("conv(x0, 4, 3, padding=1)", lambda: torch.nn.Conv3d(2, 4, 3, padding=1),
     "f32[N, 2, 3, 4, 4]"),
    ("pixel_shuffle(x0, 2)", lambda: torch.nn.PixelShuffle(2), "f32[N, 8, 3, 3]"),
    ("upsample(x0, 2, mode=\"bilinear\")",
     lambda: torch.nn.Upsample(scale_factor=2, mode="bilinear"), "f32[N, 2, 3, 3]"),
]


@pytest.mark.parametrize("call,make,shape", MODULES, ids=[m[0].split("(")[0] for m in MODULES])
def test_ops_match_torch_nn_modules(call, make, shape, write_spec):
    net = net_of(write_spec, [shape], call)
    ours, ref = net.to_torch(seed=0).eval(), make().eval()
    state = {k.split(".", 1)[1]: v for k, v in ours.state_dict().items()}
    ref.load_state_dict(state, strict=True)
    x = torch.randn([2 if d == "N" else int(d) for d in shape[4:-1].split(", ")])
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_embedding_matches_torch_nn(write_spec):
    net = net_of(write_spec, ["i64[N, 5]"], "embedding(x0, 7, 4)")
    ours, ref = net.to_torch(seed=0), torch.nn.Embedding(7, 4)
    ref.load_state_dict({"weight": ours.y.weight}, strict=True)
    x = torch.randint(0, 7, (3, 5))
    assert torch.equal(ours(x), ref(x))
    assert net.outputs()[0]["shape"] == ["N", 5, 4]


@settings(max_examples=40, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_reduction_shapes_follow_torch(dims, data):
    from specc.ir.graph import TensorType
    from specc.ops.registry import all_ops
    axes = data.draw(st.lists(st.integers(-len(dims), len(dims) - 1), min_size=1,
                              max_size=len(dims), unique_by=lambda a: a % len(dims)))
    keep = data.draw(st.booleans())
    kind = data.draw(st.sampled_from(["mean", "sum", "max", "min"]))
    out = all_ops()[kind].infer({"axes": tuple(axes), "keepdims": keep},
                                [TensorType("f32", tuple(dims))])[0]
    fn = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}[kind]
    assert tuple(fn(torch.zeros(dims), tuple(axes), keep).shape) == out.shape


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_attention_block_is_torchs(causal, write_spec):
    """specs/blocks.net's block loads torch.nn.MultiheadAttention's state dict strictly."""
    net = specc.load(write_spec(f'import "blocks.net"\nnetwork n {{\n input x: f32[N, 5, 8]\n'
                                f' output y = multihead_attention(x, 2, causal={str(causal).lower()})'
                                f' as "attn"\n}}\n'))
    ours = net.to_torch(seed=0).eval()
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    state = {k.split(".", 1)[1]: v for k, v in ours.state_dict().items()}
    ref.load_state_dict(state, strict=True)
    x = torch.randn(3, 5, 8)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5) if causal else None
    with torch.no_grad():
        expected, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
        assert torch.allclose(ours(x), expected, atol=1e-5)
    err, tol = parity(net)
    assert err <= tol
