"""Adversarial training (`adversary = gan(discriminator=NET)`, specc/train/adversarial.py):
each update moves D(x) and D(G(z)) the way its loss says, each optimiser holds only its own
network, a stopped run resumes bit for bit, and the trained generator exports from the run
folder. Tiny networks on 8x8 generated shapes: a few seconds in all."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import specc
from specc.train.adversarial import AdversarialTrainer
from specc.train.config import resolve
from specc.train.progress import Progress

SPEC = """specc 1
network gen(nz: int = 4) {
    input z: f32[N, nz, 1, 1]
    output image = z |> conv_transpose(4, 4, bias=false) |> batchnorm |> relu
        |> conv_transpose(1, 4, stride=2, padding=1, bias=false) |> tanh
    train {
        adversary = gan(discriminator=disc)
        optimizer = adam(lr=0.002, beta1=0.5)
        batch_size = 8
        epochs = 2
        data = "shapes:32"
        pixel_range = [-1, 1]
    }
}
network disc() {
    input image: f32[N, 1, H, W]
    assert H == 8 and W == 8, "8x8 images"
    output real = image |> conv(4, 4, stride=2, padding=1) |> batchnorm |> leaky_relu(0.2)
        |> conv(1, 4) |> sigmoid
}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "gan.net"
    path.write_text(SPEC)
    return path


def trainer(spec, run, **flags):
    net = specc.load(spec, "gen")
    cfg = resolve(str(spec), "gen", net.recipe, dict(flags))
    t = AdversarialTrainer(net, cfg, run, show_progress=False)
    t.progress = Progress()
    return t


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


@torch.no_grad()
def judged(t, x, z):
    """The discriminator's mean D(x) on real samples and D(G(z)) on generated ones."""
    return float(t.discriminator(x).mean()), float(t.discriminator(t.model(z)).mean())


def train_steps(t, steps):
    batches = [b for e in range(2) for b in t.feed.epoch(e)][:steps]
    for i, (x, y) in enumerate(batches):
        t._step(x, y, 0, i)
    return batches[0][0]


def test_each_optimiser_holds_its_own_network_only(spec, tmp_path):
    t = trainer(spec, tmp_path / "run")
    mine = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    theirs = {id(p) for g in t.d_optimizer.param_groups for p in g["params"]}
    assert mine == {id(p) for p in t.model.parameters()}
    assert theirs == {id(p) for p in t.discriminator.parameters()}
    assert t.optimizer.defaults["betas"] == (0.5, 0.999) and t.optimizer.defaults["lr"] == 0.002


def test_the_generator_step_fools_a_fixed_discriminator(spec, tmp_path):
    """D's learning rate 0: its weights stay exactly (the generator's optimiser never moves
    them), G's change, and D(G(z)) rises: G minimises -log D(G(z))."""
    t = trainer(spec, tmp_path / "run", lr=0.02)
    for g in t.d_optimizer.param_groups:
        g["lr"] = 0.0
    d0, g0 = params(t.discriminator), params(t.model)
    z = torch.randn(16, 4, 1, 1, generator=torch.Generator().manual_seed(1))
    x = next(t.feed.epoch(0))[0]
    t.model.train()
    before = judged(t, x, z)[1]
    train_steps(t, 8)
    after = judged(t, x, z)[1]
    assert all(torch.equal(d0[k], v) for k, v in params(t.discriminator).items())
    assert any(not torch.equal(g0[k], v) for k, v in params(t.model).items())
    assert after > before + 0.1, (before, after)


def test_the_discriminator_step_tells_real_from_generated(spec, tmp_path):
    """G's learning rate 0: D(x) rises and D(G(z)) falls, G's weights stay exactly."""
    t = trainer(spec, tmp_path / "run", lr=0.02)
    for g in t.optimizer.param_groups:
        g["lr"] = 0.0
    g0 = params(t.model)
    z = torch.randn(16, 4, 1, 1, generator=torch.Generator().manual_seed(1))
    x = next(t.feed.epoch(0))[0]
    t.model.train()
    t.discriminator.train()
    real0, fake0 = judged(t, x, z)
    train_steps(t, 8)
    real1, fake1 = judged(t, x, z)
    assert all(torch.equal(g0[k], v) for k, v in params(t.model).items())
    assert real1 > real0 + 0.1 and fake1 < fake0 - 0.1, (real0, real1, fake0, fake1)


def both(run):
    return load_file(str(run / "checkpoint.safetensors"))


def test_a_stopped_run_resumes_bit_for_bit_and_exports(spec, tmp_path, cli):
    full, cut = tmp_path / "full", tmp_path / "cut"
    r = cli("train", f"{spec}:gen", "--steps", "7", "--out", full, "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "against disc" in r.stdout and "D(G(z))" in r.stdout
    assert cli("train", f"{spec}:gen", "--steps", "3", "--out", cut, "--seed", "3"
               ).returncode == 0  # stops mid-epoch (4 batches of 8 in an epoch)
    r = cli("train", "--resume", cut, "--steps", "7")
    assert r.returncode == 0, r.stderr
    a, b = both(full), both(cut)
    assert {k.split("/")[0] for k in a} == {"model", "optim", "adversary", "rng"}
    assert any(k.startswith("adversary/optim/") for k in a)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = (full / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,step,loss_d,loss_g,d_x,d_g_z,d_g_z_after,lr,seconds,samples_per_s"
    assert [r.split(",")[:2] for r in rows[1:]] == [["1", "4"], ["2", "7"]]
    resumed = {r.split(",")[1]: r.split(",")[:7] for r in
               (cut / "metrics.csv").read_text().splitlines()[1:]}
    assert list(resumed) == ["3", "4", "7"]  # the stop at step 3 wrote its row too
    assert resumed["4"] == rows[1].split(",")[:7] and resumed["7"] == rows[2].split(",")[:7]
    grid = np.asarray(Image.open(full / "samples" / "epoch-0001.png"))
    assert grid.shape == (8 * 10 + 2, 8 * 10 + 2, 3)
    assert grid[2:10, 2:10].std() > 1 and (grid[2:10, 2:10] != grid[2:10, 12:20]).any()
    assert not (full / "samples" / "epoch-0002.png").exists()  # epoch 2 did not end
    assert json.loads((full / "config.json").read_text())["adversary"] == \
        {"name": "gan", "discriminator": "disc", "real": 1.0, "fake": 0.0}

    # the trained generator exports from the run folder, verified, with its trained weights
    onnx_path = tmp_path / "gen.onnx"
    r = cli("export", f"{spec}:gen", "--weights", full, "-o", onnx_path)
    assert r.returncode == 0, r.stderr
    import onnxruntime as ort
    z = np.random.default_rng(0).standard_normal((5, 4, 1, 1)).astype(np.float32)
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
        None, {"z": z})[0]
    module = specc.load(spec, "gen").to_torch().eval()
    untrained = module(torch.from_numpy(z)).detach().numpy()
    module.load_state_dict({k[len("model/"):]: v for k, v in a.items()
                            if k.startswith("model/")})
    trained = module(torch.from_numpy(z)).detach().numpy()
    assert np.abs(got - trained).max() < 1e-5 and np.abs(got - untrained).max() > 1e-3
    import onnx
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["specc.output_kind"] == "scores"  # images, not a classifier's logits


def test_flags_an_adversarial_run_cannot_honour(spec, tmp_path, cli):
    r = cli("train", f"{spec}:gen", "--early-stop", "2", "--out", tmp_path / "r")
    assert r.returncode == 1 and "an adversarial run has none" in r.stderr
    assert not (tmp_path / "r").exists()


WGAN = SPEC.replace("adversary = gan(discriminator=disc)",
                    "adversary = wgan(discriminator=critic, n_critic=3, clip=0.05)") + """
network critic() {
    input image: f32[N, 1, 8, 8]
    output score = image |> conv(4, 4, stride=2, padding=1) |> leaky_relu(0.2) |> conv(1, 4)
}
"""


def test_wgan_steps_the_generator_every_n_critic_and_clips_the_critic(tmp_path):
    """Arjovsky et al.'s Algorithm 1: the critic updates on every batch and its weights stay
    within [-clip, clip]; the generator moves only on steps 3, 6, ... (n_critic = 3), counted
    by the run's global step so that a resumed run keeps the same turns."""
    path = tmp_path / "wgan.net"
    path.write_text(WGAN)
    t = trainer(path, tmp_path / "run", lr=0.01)
    assert (t.game.critic_steps, t.game.clip) == (3, 0.05)
    batches = [b for e in range(2) for b in t.feed.epoch(e)][:6]
    moved = []
    for i, (x, y) in enumerate(batches):
        g0, d0 = params(t.model), params(t.discriminator)
        loss, hits = t._step(x, y, 0, i)
        t.progress.add(loss, hits, len(y))
        moved.append(any(not torch.equal(g0[k], v) for k, v in params(t.model).items()))
        assert any(not torch.equal(d0[k], v) for k, v in params(t.discriminator).items())
        assert all(bool((w.detach().abs() <= 0.05).all()) for w in t.discriminator.parameters())
        assert any(bool((w.detach().abs() == 0.05).any()) for w in t.discriminator.parameters())
    assert moved == [False, False, True, False, False, True]


def test_wgan_losses_are_the_critics_score_differences():
    from specc.recipes.registry import GAMES
    game = GAMES["wgan"].build(GAMES["wgan"].resolve({"discriminator": "c"}))
    assert (game.critic_steps, game.clip) == (5, 0.01)  # the paper's defaults
    real, fake = torch.tensor([[2.0], [4.0]]), torch.tensor([[-1.0], [0.0]])
    assert float(game.discriminator_loss(real, fake)) == -3.5  # mean f(G(z)) - mean f(x)
    assert float(game.generator_loss(fake)) == 0.5  # -mean f(G(z))
