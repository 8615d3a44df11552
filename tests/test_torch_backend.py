"""The PyTorch lowering: shapes, names, initialisation, and each historical op checked
against an independent computation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import specc

from conftest import SPECS

BUNDLED = [("lenet5.net", "lenet5", 32, 1), ("resnet.net", "resnet18", 224, 3),
           ("resnet.net", "resnet50", 224, 3), ("googlenet.net", "googlenet", 224, 3),
           ("googlenet.net", "googlenet_paper", 224, 3)]


@pytest.mark.parametrize("spec,name,size,channels", BUNDLED, ids=[b[1] for b in BUNDLED])
def test_module_shapes_equal_inferred(spec, name, size, channels):
    net = specc.load(SPECS / spec, name)
    module = net.to_torch(seed=0).eval()
    with torch.no_grad():
        out = module(torch.randn(2, channels, size, size))
    assert list(out.shape) == [2 if d == "N" else d for d in net.outputs()[0]["shape"]]
    assert sum(p.numel() for p in module.parameters()) == net.params


def test_forward_is_readable_with_shapes():
    code = specc.load(SPECS / "lenet5.net").to_torch().code
    assert "c1 = torch.conv2d(image" in code and "# f32[N, 6, 28, 28]  conv" in code
    assert "c3 = specc_ops_special_table_conv" in code


def test_state_dict_names_and_buffers():
    module = specc.load(SPECS / "resnet.net", "resnet18").to_torch()
    keys = list(module.state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    params = dict(module.named_parameters())
    assert "bn1.running_mean" not in params and "layer2.0.downsample.1.weight" in params


def test_seeded_initialisation_is_reproducible():
    net = specc.load(SPECS / "lenet5.net")
    a, b, c = (net.to_torch(seed=s).state_dict() for s in (1, 1, 2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["c1.weight"], c["c1.weight"])
    assert torch.equal(a["rbf_units.centers"], c["rbf_units.centers"])  # fixed codes
    bound = 2.4 / 25  # LeCun's U(-2.4/F, 2.4/F), F = 25 for C1
    assert a["c1.weight"].abs().max() <= bound


def test_batchnorm_trains_like_torch(load_spec):
    net = load_spec("network b {\n input x: f32[N, 3, 4, 4]\n output y = batchnorm(x)\n}")
    ours = net.to_torch()
    ref = torch.nn.BatchNorm2d(3)
    x = torch.randn(8, 3, 4, 4)
    assert torch.allclose(ours(x), ref(x), atol=1e-6)
    assert torch.allclose(ours.y.running_mean, ref.running_mean)
    assert int(ours.y.num_batches_tracked) == 1
    ours.eval(), ref.eval()
    assert torch.allclose(ours(x), ref(x), atol=1e-6)


def test_lrn_matches_the_paper_formula(load_spec):
    net = load_spec("network l {\n input x: f32[N, 7, 2, 2]\n"
                    " output y = lrn(x, 5, alpha=0.001, beta=0.75, k=2.0)\n}")
    x = torch.randn(2, 7, 2, 2)
    y = net.to_torch()(x).numpy()
    a = x.numpy()
    expected = np.empty_like(a)
    for i in range(7):  # Krizhevsky et al. 2012, section 3.3
        lo, hi = max(0, i - 2), min(6, i + 2)
        expected[:, i] = a[:, i] / (2.0 + 0.001 * (a[:, lo:hi + 1] ** 2).sum(1)) ** 0.75
    assert np.allclose(y, expected, atol=1e-6)


def test_table_conv_equals_a_masked_dense_conv(load_spec):
    table = [[0, 1], [1, 2], [2], [0, 1, 2]]
    net = load_spec(f"network t {{\n input x: f32[N, 3, 6, 6]\n output y = table_conv(x, {table}, 3)\n}}")
    module = net.to_torch(seed=3)
    packed, bias = module.y.weight.detach(), module.y.bias.detach()
    dense = torch.zeros(4, 3, 3, 3)
    link = 0
    for j, row in enumerate(table):
        for i in row:
            dense[j, i] = packed[link]
            link += 1
    x = torch.randn(2, 3, 6, 6)
    assert torch.allclose(module(x), F.conv2d(x, dense, bias), atol=1e-5)
    assert net.params == 8 * 9 + 4  # only the links are parameters


def test_rbf_units_are_squared_distances(load_spec):
    net = load_spec("network r {\n input x: f32[N, 5]\n output y = rbf(x, 3)\n}")
    module = net.to_torch()
    centers = module.y.centers
    assert set(centers.unique().tolist()) <= {-1.0, 1.0}
    x = torch.randn(4, 5)
    expected = torch.stack([((x - centers[i]) ** 2).sum(1) for i in range(3)], 1)
    assert torch.allclose(module(x), expected, atol=1e-5)


def test_option_a_shortcut_is_explicit_zero_padding(load_spec):
    net = load_spec("network a {\n input x: f32[N, 2, 4, 4]\n"
                    " output y = pad(avgpool(x, 1, stride=2), [3, 3, 0, 0, 0, 0])\n}")
    x = torch.randn(2, 2, 4, 4)
    y = net.to_torch()(x)
    expected = torch.zeros(2, 8, 2, 2)
    expected[:, 3:5] = x[:, :, ::2, ::2]
    assert torch.equal(y, expected)


def test_subsample_is_window_sum_times_coefficient_plus_bias(load_spec):
    net = load_spec("network s {\n input x: f32[N, 2, 4, 4]\n output y = subsample(x, 2)\n}")
    module = net.to_torch(seed=0)
    x = torch.randn(1, 2, 4, 4)
    sums = x.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2))
    coef, bias = module.y.weight.detach(), module.y.bias.detach()
    assert torch.allclose(module(x), sums * coef.view(1, 2, 1, 1) + bias.view(1, 2, 1, 1), atol=1e-6)


def test_scaled_tanh_maps_one_to_one(load_spec):
    net = load_spec("network s {\n input x: f32[N, 2]\n output y = scaled_tanh(x)\n}")
    y = net.to_torch()(torch.tensor([[1.0, -1.0]]))
    assert torch.allclose(y, torch.tensor([[1.0, -1.0]]), atol=2e-4)


def test_channels_last_and_bf16_autocast_on_cpu():
    net = specc.load(SPECS / "resnet.net", "resnet18")
    module = net.to_torch(seed=0).eval().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = module(x)
    assert y.shape == (1, 1000) and torch.isfinite(y.float()).all()


@pytest.mark.slow
def test_torch_compile(load_spec):
    net = specc.load(SPECS / "lenet5.net")
    module = net.to_torch(seed=0).eval()
    compiled = torch.compile(module)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(compiled(x), module(x), atol=1e-4)


def test_torchvision_layout_weights_load_strictly_and_agree():
    """bench/handwritten.py writes ResNet-18 exactly as torchvision lays it out; its
    state_dict loads into the lowered spec with strict=True and gives the same outputs."""
    import importlib.util
    from conftest import ROOT
    spec = importlib.util.spec_from_file_location("handwritten", ROOT / "bench" / "handwritten.py")
    hand = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hand)
    torch.manual_seed(0)
    reference = hand.ResNet18().eval()
    for m in reference.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ours = specc.load(SPECS / "resnet.net", "resnet18").to_torch().eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert torch.allclose(actual, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_schedules_and_warmup():
    from specc.train.optim import make_optimizer, make_schedule
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer({"name": "sgd", "lr": 1.0, "momentum": 0.9, "nesterov": True}, p)
    sched = make_schedule({"name": "step", "every": 2, "gamma": 0.5}, opt, epochs=6, warmup=2)
    lrs = []
    for _ in range(6):
        lrs.append(round(opt.param_groups[0]["lr"], 4))
        opt.step()
        sched.step()
    assert lrs == [0.3333, 0.6667, 1.0, 1.0, 0.5, 0.5]
    for name in ("adam", "adamw", "rmsprop"):
        assert make_optimizer({"name": name, "lr": 0.1}, p).defaults["lr"] == 0.1


def test_a_lowering_refusal_is_reported_at_the_statement(load_spec, monkeypatch, tmp_path):
    """The torch lowering's error boundary: a node torch cannot express is a SpeccError at
    the statement that made it, with the expansion chain, every such node at once (before,
    a lowering's refusal left the trainer as an internal error)."""
    import dataclasses

    from specc.core.diagnostics import SpeccError
    from specc.ops import registry

    def refuse(b, node, xs, ps):
        if node.attrs["slope"] >= 1.0:
            raise registry.LoweringError(f"slope {node.attrs['slope']} is out of range")
        return b.call(b.F.leaky_relu, xs[0], node.attrs["slope"])
    op = dataclasses.replace(registry.get("leaky_relu"), name="test_leaky", torch=refuse,
                             onnx_import={})
    registry.register(op)
    try:
        net = load_spec("network n {\n    input x: f32[N, 4]\n"
                        "    output y = act(x) + act(x)\n"
                        "    output z = test_leaky(x, 0.5) |> test_leaky(3.0)\n}\n"
                        "block act(x) {\n    return test_leaky(x, 2.0)\n}\n")
        with pytest.raises(SpeccError) as e:
            net.to_torch()
    finally:
        del registry.REGISTRY["test_leaky"]
    monkeypatch.chdir(tmp_path)  # paths shown relative to the spec's folder
    text = e.value.render()
    assert text.splitlines()[:4] == [
        "t.net:8:12: error: cannot express test_leaky 'act.test_leaky' in PyTorch: slope 2.0 "
        "is out of range",
        " 8 |     return test_leaky(x, 2.0)",
        "   |            ^^^^^^^^^^^^^^^^^^",
        "  while expanding block 'act' at t.net:4:16"]
    assert "t.net:5:38: error: cannot express test_leaky" in text and text.endswith("3 errors")
