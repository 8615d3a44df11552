"""Adversarial games a generator's recipe names (`adversary = gan(discriminator=NET)`): how
the generator and the discriminator it is trained against score each other. The trainer
(specc/train/adversarial.py) alternates the two updates; the game says only what each
minimises, from the discriminator's outputs on a batch of real and of generated samples.

    network dcgan_generator(...) {
        ...
        train {
            adversary = gan(discriminator=dcgan_discriminator)
            optimizer = adam(lr=0.0002, beta1=0.5)   # one Adam for each network
        }
    }
"""
from __future__ import annotations

from .registry import COUNT, NETWORK, NUM, POS, REQUIRED, Game, register


class _BinaryGame:
    """Goodfellow et al. 2014 with the generator's non-saturating loss (their section 3),
    as Radford et al. 2016 train DCGAN and the PyTorch DCGAN tutorial writes it: the
    discriminator's outputs are probabilities that a sample is real; binary cross-entropy
    against the labels `real` and `fake`."""

    critic_steps = 1  # discriminator updates per generator update

    def __init__(self, real: float, fake: float):
        self.real, self.fake = real, fake

    def after_discriminator_step(self, discriminator) -> None:
        """Nothing: the discriminator's weights are the optimiser's to keep."""

    def _bce(self, p, label: float):
        import torch.nn.functional as F
        p = p.reshape(-1).float()
        return F.binary_cross_entropy(p, p.new_full(p.shape, label))

    def discriminator_loss(self, p_real, p_fake):
        """-log D(x) - log(1 - D(G(z))) with the default labels: real called real, generated
        called fake (the tutorial's errD_real + errD_fake)."""
        return self._bce(p_real, self.real) + self._bce(p_fake, self.fake)

    def generator_loss(self, p_fake):
        """-log D(G(z)): the generated batch labelled real (non-saturating; the tutorial's
        errG), so that the generator's gradient is strong while the discriminator wins."""
        return self._bce(p_fake, self.real)


class _WassersteinGame:
    """Arjovsky, Chintala & Bottou 2017, Algorithm 1: the critic's outputs are unbounded
    scores whose difference between real and generated batches estimates the Wasserstein-1
    distance (up to a constant) while the critic is kept K-Lipschitz by clipping each of its
    weights to [-clip, clip] after every update; the generator is updated once per
    `n_critic` critic updates, each critic update on a fresh real batch."""

    def __init__(self, n_critic: int, clip: float):
        self.critic_steps, self.clip = n_critic, clip

    def discriminator_loss(self, s_real, s_fake):
        """-(mean f(x) - mean f(G(z))): the critic maximises the estimate."""
        return s_fake.float().mean() - s_real.float().mean()

    def generator_loss(self, s_fake):
        """-mean f(G(z)): the generator lowers the estimate."""
        return -s_fake.float().mean()

    def after_discriminator_step(self, discriminator) -> None:
        """w <- clip(w, -c, c) for every weight of the critic (the paper's line 7)."""
        import torch
        with torch.no_grad():
            for w in discriminator.parameters():
                w.clamp_(-self.clip, self.clip)


def _wgan(f: dict) -> _WassersteinGame:
    return _WassersteinGame(int(f["n_critic"]), float(f["clip"]))


def _gan(f: dict) -> _BinaryGame:
    return _BinaryGame(f["real"], f["fake"])


def _labels_check(f: dict) -> str | None:
    if not (0 <= f["real"] <= 1 and 0 <= f["fake"] <= 1):
        return "the labels real and fake are probabilities, from 0 to 1"
    if f["real"] == f["fake"]:
        return "the labels real and fake must differ"
    return None


register(Game(
    name="gan", build=_gan, check=_labels_check,
    fields={"discriminator": (NETWORK, REQUIRED), "real": (NUM, 1.0), "fake": (NUM, 0.0)},
    cite="Goodfellow et al. 2014 (non-saturating generator loss); Radford et al. 2016; "
         "PyTorch DCGAN tutorial",
    doc="the generator trained against a discriminator network whose output is the "
        "probability that a sample is real: binary cross-entropy, the discriminator on real "
        "(label `real`) and generated (label `fake`) batches, then the generator on its batch "
        "labelled real; one optimiser of the recipe's kind for each network"))
register(Game(
    name="wgan", build=_wgan,
    fields={"discriminator": (NETWORK, REQUIRED), "n_critic": (COUNT, 5), "clip": (POS, 0.01)},
    cite="Arjovsky, Chintala & Bottou 2017, Algorithm 1 (n_critic = 5, c = 0.01, RMSProp "
         "with lr 0.00005)",
    doc="the generator trained against a critic network whose output is an unbounded score: "
        "the critic minimises mean f(G(z)) - mean f(x) on a real and a generated batch and "
        "has each weight clipped to [-clip, clip] after its update; the generator minimises "
        "-mean f(G(z)) once every n_critic steps (a step is one critic update on one batch); "
        "one optimiser of the recipe's kind for each network"))
