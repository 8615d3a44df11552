"""What torchvision's detectors needed of the language (specs/detection.net): batch norm
frozen as FrozenBatchNorm2d, one conv applied to several inputs over declared parameters
that keep their block's name, and an op named by the block call that wraps it."""
import numpy as np
import torch

from test_onnx_parity import parity

FROZEN = """network f {
    input x: f32[N, 3, 4, 4]
    output y = batchnorm(x, eps=0.001, frozen=true, init=uniform(0.5, 1.5),
                         bias_init=uniform(-0.5, 0.5)) as "bn"
}"""


def _frozen_reference(x, w, b, mean, var, eps):
    """torchvision.ops.FrozenBatchNorm2d.forward, as it is written there."""
    scale = w * (var + eps).rsqrt()
    shift = b - mean * scale
    return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)


def test_frozen_batchnorm_is_torchvisions_in_training_too(load_spec):
    net = load_spec(FROZEN)
    module = net.to_torch(seed=1)
    assert sorted(module.state_dict()) == ["bn.bias", "bn.running_mean", "bn.running_var",
                                           "bn.weight"]
    assert list(module.parameters()) == [] and net.params == 0
    with torch.no_grad():
        module.bn.running_mean.uniform_(-0.5, 0.5)
        module.bn.running_var.uniform_(0.5, 2.0)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = torch.randn(8, 3, 4, 4)
    want = _frozen_reference(x, *(before[f"bn.{k}"] for k in ("weight", "bias", "running_mean",
                                                               "running_var")), 0.001)
    module.train()
    assert torch.equal(module(x), want)  # batch statistics are not used while training
    module.eval()
    assert torch.equal(module(x), want)
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())


def test_frozen_batchnorm_exports_as_batch_normalization(load_spec):
    err, tol = parity(load_spec(FROZEN))
    assert err <= tol


SHARED = """block conv_weights(out: int, width: int) {
    param weight: f32[out, width, 3, 3] = normal(std=0.1)
    param bias: f32[out] = uniform(-0.1, 0.1)
    return weight, bias
}
network s {
    input x: f32[N, 4, 8, 8]
    w, b = conv_weights(4, 4) as "head.conv"
    small = avgpool(x, 2)
    output big_out = conv(x, 4, 3, padding=1, weight=w, bias_param=b)
    output small_out = conv(small, 4, 3, padding=1, weight=w, bias_param=b)
}"""


def test_one_conv_applied_to_two_inputs_keeps_its_blocks_name(load_spec):
    """Parameters declared in a block keep the block's name whatever op uses them, so the
    state dict has one entry each (torchvision's RetinaNet head: one module, five levels);
    one tensor trains, and the export holds one initializer."""
    net = load_spec(SHARED)
    module = net.to_torch(seed=0)
    assert list(module.state_dict()) == ["head.conv.weight", "head.conv.bias"]
    assert net.params == 4 * 4 * 9 + 4
    x = torch.randn(2, 4, 8, 8)
    big, small = module(x)
    w, b = module.state_dict()["head.conv.weight"], module.state_dict()["head.conv.bias"]
    assert torch.equal(big, torch.conv2d(x, w, b, padding=1))
    assert torch.equal(small, torch.conv2d(torch.nn.functional.avg_pool2d(x, 2), w, b, padding=1))
    (big.sum() + small.sum()).backward()
    grad = module.get_parameter("head.conv.weight").grad
    assert grad is not None and grad.abs().sum() > 0
    err, tol = parity(net)
    assert err <= tol


def test_a_network_level_param_is_still_named_by_its_first_use(load_spec):
    """The rule for parameters declared in a network is unchanged: the first use names
    it, later ones add aliases (nanoGPT's tied head)."""
    net = load_spec("""network lm {
        input idx: i64[N, T]
        param wte: f32[50, 8] = normal(std=0.02)
        tok = embedding(idx, table=wte) as "transformer.wte"
        output logits = linear(tok, weight=wte, bias=false) as "lm_head"
    }""")
    assert list(net.to_torch().state_dict()) == ["transformer.wte.weight", "lm_head.weight"]


def test_an_op_labelled_empty_takes_its_block_calls_name(load_spec):
    """A block that wraps one configured op (`frozen_batchnorm`) names that op by the call:
    `bn1 = frozen(x)` owns bn1.weight, as `bn1 = batchnorm(x)` would; in a chain, the
    stage's number (`downsample.1`)."""
    net = load_spec("""block frozen(x) {
        y = batchnorm(x, eps=0.0, frozen=true) as ""
        return y
    }
    network n {
        input x: f32[N, 3, 4, 4]
        bn1 = frozen(x)
        output y = bn1 |> conv(3, 1) |> frozen as "downsample"
    }""")
    assert [k for k in net.graph.params if k.endswith(".weight")] == [
        "bn1.weight", "downsample.0.weight", "downsample.1.weight"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    assert net.to_torch()(torch.from_numpy(x)).shape == (2, 3, 4, 4)
