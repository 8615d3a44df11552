"""The 2012-2015 convnets beyond their pinned counts: structure the papers fix (VGG's columns,
BN-Inception's channel sums, PReLU slopes and initialisation, ResNet's stride placement)."""
import math

import pytest
import torch

import specc
from specc.backends.torch_init import init_tensor
from specc.ir.graph import Init, Param

from conftest import SPECS

PRELU_PAPER_OPS = {"prelu_net_a": 1.96e10, "prelu_net_b": 2.33e10, "prelu_net_c": 5.30e10}


def torchvision_vgg_keys(blocks, bn):
    """torchvision's VGG state_dict keys by its own rule (features: conv[, bn], relu per conv,
    one pool per block; classifier linears at 0, 3, 6)."""
    keys, i = [], 0
    for kernels in blocks:
        for _ in kernels:
            keys += [f"features.{i}.weight", f"features.{i}.bias"]
            if bn:
                keys += [f"features.{i + 1}.{k}" for k in (
                    "weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
            i += 3 if bn else 2
        i += 1
    return keys + [f"classifier.{j}.{k}" for j in (0, 3, 6) for k in ("weight", "bias")]


@pytest.mark.parametrize("name,blocks", [
    ("vgg11_bn", [[3], [3], [3, 3], [3, 3], [3, 3]]),
    ("vgg19_bn", [[3, 3], [3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]]),
    ("vgg16", [[3, 3], [3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]])])
def test_vgg_state_dict_names_follow_torchvision(name, blocks):
    net = specc.load(SPECS / "vgg.net", name)
    assert list(net.graph.params) == torchvision_vgg_keys(blocks, name.endswith("_bn"))


def test_vgg_columns_of_table_1():
    c = specc.load(SPECS / "vgg.net", "vgg_c")
    kernels = [p.shape[2] for k, p in c.graph.params.items()
               if k.startswith("features") and k.endswith("weight")]
    assert kernels == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1]  # conv1-256/512/512 in C
    a_lrn = specc.load(SPECS / "vgg.net", "vgg_a_lrn")
    ops = [r["op"] for r in a_lrn.layers()][:5]
    assert ops == ["conv", "relu", "lrn", "maxpool", "conv"]
    lrn = next(n for n in a_lrn.graph.nodes if n.op == "lrn")
    assert (lrn.attrs["size"], lrn.attrs["alpha"], lrn.attrs["beta"], lrn.attrs["k"]) == \
        (5, 0.0001, 0.75, 2.0)  # Krizhevsky et al. 2012, section 3.3
    assert "lrn" not in {r["op"] for r in specc.load(SPECS / "vgg.net", "vgg_a").layers()}


@pytest.mark.parametrize("name,slopes,others", [
    ("prelu_net_a", 14_688, 178_017_384),  # architectures.md 11.2 [C]
    ("prelu_net_b", 15_968, 183_327_080),
    ("prelu_net_c", 20_576, 330_603_368)])
def test_prelu_net_slopes_and_complexity(name, slopes, others):
    net = specc.load(SPECS / "prelu_net.net", name)
    prelu = sum(net.graph.params[n.params["weight"]].numel for n in net.graph.nodes
                if n.op == "prelu")
    assert (prelu, net.params - prelu) == (slopes, others)
    # the paper's complexity column (recalled, architectures.md 11.2) counted as conv + fc
    # multiply-accumulates: within 3%
    assert abs(net.macs / PRELU_PAPER_OPS[name] - 1) < 0.03
    spp = next(n for n in net.graph.nodes if n.op == "spp")
    assert list(spp.attrs["levels"]) == [7, 3, 2, 1]
    assert net.graph.values[spp.outputs[0]].type.shape[1] == 63 * (896 if name.endswith("c")
                                                                     else 512)


def test_prelu_he_init_is_kaimings_with_the_slope():
    """he_normal(a=0.25): std sqrt(2 / ((1 + a^2) n)), the same draws as PyTorch's
    kaiming_normal_(a=0.25, nonlinearity='leaky_relu')."""
    p = Param("w", (64, 32, 3, 3), Init("he_normal", (0.25,)), fan_in=32 * 9)
    ours = init_tensor(p, torch.Generator().manual_seed(3))
    theirs = torch.empty(64, 32, 3, 3)
    torch.nn.init.kaiming_normal_(theirs, a=0.25, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ours, theirs)
    plain = init_tensor(Param("w", (64, 32, 3, 3), Init("he_normal"), fan_in=288),
                        torch.Generator().manual_seed(3))
    assert torch.allclose(plain / ours, torch.full_like(ours, math.sqrt(1 + 0.25 ** 2)))


def test_prelu_he_init_keeps_the_signal_through_depth(load_spec):
    """The paper's point (section 2.2): with its init a 20-layer PReLU stack keeps the
    activation scale; with N(0, 0.01^2) the signal vanishes. (1x1 convs: no border effects.)"""
    def stack(init):
        return load_spec(f"""import "prelu_net.net"
block unit(x, init: any) {{
    c = conv(x, 256, 1, init=init, bias_init=zeros)
    return prelu(c)
}}
network deep {{
    input x: f32[N, 256, 4, 4]
    h = x
    for i in range(20) {{
        h = unit(h, {init}) as "u" + str(i)
    }}
    output y = h
}}""")
    x = torch.randn(16, 256, 4, 4, generator=torch.Generator().manual_seed(0))

    def gain(net):  # mean-square ratio output/input, geometric mean over 8 weight draws
        logs = []
        for seed in range(8):
            with torch.no_grad():
                y = net.to_torch(seed=seed).eval()(x)
            logs.append(math.log(float((y ** 2).mean() / (x ** 2).mean())))
        return math.exp(sum(logs) / len(logs))
    assert 0.6 < gain(stack("he_normal(a=0.25)")) < 1.6
    assert gain(stack("he_normal")) > 2.5  # the ReLU-only variance grows by (1 + a^2)^20
    assert gain(stack("normal(std=0.01)")) < 1e-20


def test_initialiser_arguments_are_checked(spec_error):
    text = """network n {
    input x: f32[N, 4]
    output y = linear(x, 2, init=lecun_normal(a=0.5))
}"""
    assert "initialiser lecun_normal takes no arguments" in spec_error(text)
    assert "glorot_uniform() takes gain" in spec_error(text.replace("lecun_normal",
                                                                    "glorot_uniform"))
    assert "slope a must be >= 0" in spec_error(text.replace("lecun_normal", "he_normal")
                                                .replace("0.5", "-1"))


def test_bn_inception_follows_figure_5():
    net = specc.load(SPECS / "bn_inception.net")
    out = {r["name"]: r["shape"] for r in net.layers() if r["op"] == "concat"}
    channels = [out[f"inception{m}.out"][1] for m in
                ("3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    # the printed branch widths add up to 608 and 1056 (architectures.md 10.1 [C])
    assert channels == [256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024]
    assert [out[f"inception{m}.out"][2] for m in ("3b", "3c", "4e", "5b")] == [28, 14, 7, 7]
    convs = [n for n in net.graph.nodes if n.op == "conv"]
    bns = [n for n in net.graph.nodes if n.op == "batchnorm"]
    assert len(convs) == len(bns) + 1  # BN after every conv but the stem's depthwise half
    assert all("bias" not in n.params for n in convs)
    assert not any(n.op == "dropout" for n in net.graph.nodes)
    stem = convs[0]
    assert stem.attrs["groups"] == 3 and net.graph.params[stem.params["weight"]].shape == \
        (24, 1, 7, 7)  # separable, depth multiplier 8


def test_resnet_v1_strides_its_first_1x1():
    v1 = specc.load(SPECS / "resnet.net", "resnet50_v1")
    v15 = specc.load(SPECS / "resnet.net", "resnet50")
    assert {k: p.shape for k, p in v1.graph.params.items()} == \
        {k: p.shape for k, p in v15.graph.params.items()}  # one state_dict loads into both
    shape = {r["name"]: r["shape"][2] for r in v1.layers() if r["op"] == "conv"}
    assert (shape["layer2.0.conv1"], shape["layer2.0.conv2"]) == (28, 28)
    shape15 = {r["name"]: r["shape"][2] for r in v15.layers() if r["op"] == "conv"}
    assert (shape15["layer2.0.conv1"], shape15["layer2.0.conv2"]) == (56, 28)
    assert "layer1.0.downsample.0.weight" in v1.graph.params  # option B: projection


# The CIFAR recipe (in steps) is pinned against the paper in test_recipes.py.


def test_a_warm_up_lr_above_the_lr_is_refused():
    from specc.train.optim import make_optimizer, make_schedule
    opt = make_optimizer({"name": "sgd", "lr": 0.1}, [torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(specc.SpeccError, match="warm-up lr 0.5"):
        make_schedule({"name": "constant"}, opt, 10, {"name": "hold", "epochs": 1, "lr": 0.5})


def test_a_held_warm_up_trains(write_spec, tmp_path):
    """The recipe's hold(...) reaches the trainer: two epochs on the digits, the first at the
    warm-up lr."""
    import json

    from conftest import run_main
    spec = write_spec("""network mlp {
    input image: f32[N, 1, 8, 8]
    output logits = linear(flatten(image), 10)
    train {
        data = "digits"
        epochs = 2
        optimizer = sgd(lr=0.1, momentum=0.9)
        schedule = multistep(milestones=[1], gamma=0.1)
        warmup = hold(epochs=1, lr=0.01)
    }
}""")
    r = run_main("train", spec, "--out", tmp_path / "run", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["test_accuracy"] > 0.5
    assert json.loads((tmp_path / "run" / "config.json").read_text())["warmup"] == \
        {"name": "hold", "epochs": 1, "lr": 0.01}
