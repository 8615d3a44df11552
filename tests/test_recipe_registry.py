"""The recipe registry (specc/recipes/registry.py): one entry per loss, optimiser, schedule and
warm-up, which the elaborator checks recipes against and the trainer builds from. Every field
an entry declares reaches what its builder makes, every default is a value its kind admits,
and an entry registered in one place is usable from the spec to the exported model."""
import pytest
import torch

from specc.backends.onnx_export import output_kind
from specc.elab.recipe import CONSTRUCTORS, KEYS, _check
from specc.recipes.registry import (GAMES, LOSSES, OPTIMIZERS, REQUIRED, SCHEDULES, WARMUPS,
                                    Loss, Warmup, register)
from specc.train.config import resolve
from specc.core.diagnostics import SpeccError
from specc.train.optim import loss_fn, make_optimizer, make_schedule

ENTRIES = [*LOSSES.values(), *OPTIMIZERS.values(), *SCHEDULES.values(), *WARMUPS.values(),
           *GAMES.values()]
# A valid value for each required field, and a second valid value for every field (to show
# that the field reaches what the builder makes)
GIVEN = {"lr": 0.1, "every": 2, "milestones": [2, 4], "discriminator": "disc"}
OTHER = {"lr": 0.05, "momentum": 0.5, "nesterov": True, "weight_decay": 0.25, "beta1": 0.5,
         "beta2": 0.75, "alpha": 0.5, "every": 3, "gamma": 0.5, "unit": "steps",
         "milestones": [1, 3], "min_lr": 0.01, "patience": 2, "factor": 0.5,
         "discriminator": "critic", "real": 0.9, "fake": 0.1, "power": 2.0, "n_critic": 2,
         "clip": 0.5}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_entry_states_its_source_and_admits_its_defaults(entry):
    assert entry.cite and entry.doc
    for name, (kind, default) in entry.fields.items():
        if default not in (REQUIRED, None):
            _check(f"{entry.name}.{name}", kind, None, default, None)  # raises if out of range
        assert name in GIVEN or default is not REQUIRED, name
        assert name in OTHER or isinstance(entry, Warmup), name  # how long: tests of their own


def test_the_elaborator_reads_the_registry():
    assert list(CONSTRUCTORS) == [*OPTIMIZERS, *SCHEDULES, *WARMUPS, *GAMES]
    assert KEYS["adversary"][1] is GAMES
    assert KEYS["loss"][1] is LOSSES and KEYS["optimizer"][1] is OPTIMIZERS
    assert list(LOSSES) == ["cross_entropy", "mse", "lenet", "perceptron",
                            "sequence_cross_entropy"]


def param(value=0.0):
    return [torch.nn.Parameter(torch.full((2,), value))]


def group(opt) -> dict:
    g = dict(opt.param_groups[0])
    g.pop("params")
    return g


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_field_reaches_the_torch_optimizer(name):
    fields = OPTIMIZERS[name].fields
    base = {"name": name, **{k: GIVEN[k] for k, (_, d) in fields.items() if d is REQUIRED}}
    base.update({"momentum": 0.9} if name == "sgd" else {})  # nesterov needs a momentum
    default = group(make_optimizer(base, param()))
    assert default["lr"] == GIVEN["lr"]
    for field in fields:
        changed = group(make_optimizer({**base, field: OTHER[field]}, param()))
        assert changed != default, f"{name}: {field} does not reach the optimizer"


def lrs(cfg: dict, evaluations: int = 15) -> list[float]:
    """The lr over optimizer steps and evaluations, one step per epoch (a plateau schedule
    sees a test loss that never improves)."""
    opt = make_optimizer({"name": "sgd", "lr": 1.0}, param())
    schedule = make_schedule(cfg, opt, evaluations, 0)
    out = []
    for _ in range(evaluations):
        opt.step()
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step(1.0)
        else:
            schedule.step()
        out.append(opt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_field_changes_the_learning_rate(name):
    fields = SCHEDULES[name].fields
    base = {"name": name, **{k: GIVEN[k] for k, (_, d) in fields.items() if d is REQUIRED}}
    default = lrs(base)
    for field in fields:
        if field == "unit":  # steps and epochs agree at one step per epoch: count 2 per epoch
            continue
        assert lrs({**base, field: OTHER[field]}) != default, f"{name}: {field} is ignored"
    if name != "constant":
        assert len(set(default)) > 1, f"{name} never changes the lr"


def test_a_loss_registered_in_one_place_reaches_check_train_and_export(load_spec):
    """What a newcomer adding a loss writes: one entry. The recipe accepts its name, the
    trainer builds it, and an exported model says how to read its output."""
    def hinge(classes):
        def loss(out, y):
            margin = out - out.gather(1, y.view(-1, 1)) + 1.0
            return margin.clamp(min=0).sum(1).mean() - 1.0
        return loss
    register(Loss(name="test_hinge", fields={}, output="scores", build=hinge,
                  cite="Crammer & Singer 2001", doc="multi-class hinge loss"))
    try:
        net = load_spec('network n {\n input x: f32[N, 4]\n output y = linear(x, 3)\n'
                        ' train { loss = "test_hinge" }\n}')
        assert net.recipe["loss"] == "test_hinge"
        out = torch.tensor([[2.0, 0.0, 0.0]])
        assert float(loss_fn("test_hinge", 3)(out, torch.tensor([0]))) == 0.0
        assert float(loss_fn("test_hinge", 3)(out, torch.tensor([1]))) == 4.0
        assert output_kind(net) == "scores"
    finally:
        del LOSSES["test_hinge"]
    with pytest.raises(SpeccError, match="known: cross_entropy, mse, lenet, perceptron, "
                                          "sequence_cross_entropy"):
        load_spec('network n {\n input x: f32[N, 4]\n output y = linear(x, 3)\n'
                  ' train { loss = "test_hinge" }\n}')


def test_output_kind_follows_the_loss(load_spec):
    spec = 'network n {{\n input x: f32[N, 4]\n output y = linear(x, 3)\n train {{ {} }}\n}}'
    kinds = {name: output_kind(load_spec(spec.format(f'loss = "{name}"'))) for name in LOSSES}
    assert kinds == {"cross_entropy": "logits", "mse": "scores", "lenet": "logits",
                     "perceptron": "scores", "sequence_cross_entropy": "logits"}
    assert output_kind(load_spec(spec.format(""))) == "logits"  # the trainer's default loss


def test_a_name_is_registered_once():
    with pytest.raises(RuntimeError, match="registered twice"):
        register(Loss(name="sgd", fields={}, output="scores", build=None, cite="x", doc="x"))


def test_the_optimizer_flag_takes_the_registrys_names():
    with pytest.raises(SpeccError, match=r"\(use sgd, adam, adamw, rmsprop\)"):
        resolve("s.net", "n", {}, {"optimizer": "lamb"})
    cfg = resolve("s.net", "n", {}, {"optimizer": "adamw"})
    assert cfg.optimizer == {"name": "adamw", "lr": 0.01}
    assert group(make_optimizer(cfg.optimizer, param()))["weight_decay"] == 0.01


def test_an_entrys_check_runs_at_the_recipes_line(spec_error):
    """sgd's nesterov without momentum: torch refuses it deep in the trainer; the entry's
    check refuses it at the spec's line."""
    err = spec_error('network n {\n input x: f32[N, 4]\n output y = linear(x, 3)\n'
                     ' train { optimizer = sgd(lr=0.1, nesterov=true) }\n}')
    assert err.startswith("t.net:5:22: error: 'sgd': nesterov=true needs a momentum above 0")


def _gan_fields(default, other):
    """The labels reach the losses (smoothed labels change both), and the default labels give
    the tutorial's BCE, computed by hand."""
    p_real, p_fake = torch.full((4, 1), 0.8), torch.full((4, 1), 0.3)
    for a, b in ((default.discriminator_loss(p_real, p_fake),
                  other.discriminator_loss(p_real, p_fake)),
                 (default.generator_loss(p_fake), other.generator_loss(p_fake))):
        assert float(a) != pytest.approx(float(b))
    # by hand: -log 0.8 - log 0.7, and -log 0.3
    assert float(default.discriminator_loss(p_real, p_fake)) == pytest.approx(
        -torch.log(torch.tensor(0.8)).item() - torch.log(torch.tensor(0.7)).item())
    assert float(default.generator_loss(p_fake)) == pytest.approx(
        -torch.log(torch.tensor(0.3)).item())
    assert default.critic_steps == other.critic_steps == 1


def _wgan_fields(default, other):
    """n_critic reaches the trainer's turns, clip the critic's weights after its update."""
    assert (default.critic_steps, other.critic_steps) == (5, 2)
    for game, bound in ((default, 0.01), (other, 0.5)):
        critic = torch.nn.Linear(4, 3)
        with torch.no_grad():
            critic.weight.fill_(2.0)
            critic.bias.fill_(-0.001)
        game.after_discriminator_step(critic)
        assert torch.equal(critic.weight, torch.full((3, 4), bound))
        assert torch.equal(critic.bias, torch.full((3,), -0.001))  # within: untouched


GAME_FIELDS = {"gan": _gan_fields, "wgan": _wgan_fields}


def test_every_game_field_reaches_its_game():
    assert set(GAME_FIELDS) == set(GAMES)  # a new game needs its check here
    for name, game in GAMES.items():
        default = game.build(game.resolve({"discriminator": "d"}))
        other = game.build(game.resolve({k: OTHER[k] for k in game.fields}))
        GAME_FIELDS[name](default, other)
