"""What a recipe can name besides augmentations: one entry per loss, optimiser, learning-rate
schedule and warm-up, on the pattern of the augmentation registry (augment.py).

    train {
        loss = "cross_entropy"
        optimizer = sgd(lr=0.1, momentum=0.9, weight_decay=0.0001)
        schedule = multistep(milestones=[30, 60])
        warmup = hold(epochs=1, lr=0.01)
    }

An entry holds its fields (name -> (kind, default); a default of ... means required), the paper
or documentation it follows, and its builder, which imports torch only when it is called: the
elaborator checks a recipe against these entries (`specc check` needs no torch) and the trainer
builds from them. The modules that hold the entries (losses.py, optimizers.py, schedule.py)
register them; the package's __init__ imports each, so the tables are complete wherever they
are read.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

# Kinds of recipe values and the range each admits (checked at the recipe's line by
# specc/elab/recipe.py): a value that cannot work (a step schedule every 0 epochs, 0 epochs, a
# NaN rate) is refused there, not deep in training.
NUM = "number"  # finite, >= 0
POS = "positive"  # finite, > 0
FRACTION = "fraction"  # in [0, 1)
COUNT = "count"  # int >= 1
BATCH = "batch"  # int in [1, MAX_BATCH] (specc.core.defaults)
SEED = "seed"  # int in [0, 2**64 - 1]
NETWORK = "network"  # a network the spec defines or imports, written by its name
UNIT = "unit"  # what a schedule counts: "epochs", or "steps" (optimizer steps: iterations)
REQUIRED = ...

EPOCHS, STEPS = "epochs", "steps"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One loss, optimiser, schedule or warm-up."""

    name: str
    fields: dict  # name -> (kind, default); default ... (REQUIRED): the recipe must give it
    cite: str  # the paper or documentation the entry follows
    doc: str
    build: Callable  # see each table below for what it is called with
    check: Callable | None = None  # (resolved fields) -> error text or None

    def resolve(self, given: dict) -> dict:
        """The entry's fields with the defaults filled in for those `given` leaves out
        (`given` is a record as the recipe or config.json holds it; its "name" is dropped)."""
        out = {}
        for key, (_, default) in self.fields.items():
            value = given.get(key, default)
            if value is REQUIRED:
                raise KeyError(f"{self.name} needs {key}")
            out[key] = value
        return out


@dataclass(frozen=True, kw_only=True)
class Loss(Entry):
    """build(classes) -> loss(output, targets). `output`: how an exported model's first
    output reads under this loss, "logits" (softmax gives probabilities) or "scores";
    `axis`: where its classes lie (1: [N, C, ...]; -1: a sequence's [N, T, vocab])."""

    output: str
    axis: int = 1  # the output's axis that holds the classes (accuracy takes argmax on it)


@dataclass(frozen=True, kw_only=True)
class Optimizer(Entry):
    """build(params, fields) -> torch.optim.Optimizer."""


@dataclass(frozen=True, kw_only=True)
class Schedule(Entry):
    """build(optimizer, fields, epochs, warmup) -> a torch lr scheduler, counted in the unit
    the recipe says (the trainer steps it). `counts`: whether it counts anything (a constant
    lr does not, so any warm-up unit goes with it); `no_warmup`: why no warm-up may precede
    it (None: one may); `unreached(fields, end)`: the text of a drop the run never reaches
    (`end`: the run's length in the schedule's unit; "{where}" stands for where it ends), or
    None."""

    counts: bool = True
    no_warmup: str | None = None
    unreached: Callable | None = None


@dataclass(frozen=True, kw_only=True)
class Warmup(Entry):
    """build(optimizer, main, fields, length) -> the warm-up chained before `main`."""


@dataclass(frozen=True, kw_only=True)
class Game(Entry):
    """An adversarial game (`adversary = gan(discriminator=NET)` in a generator's recipe):
    build(fields) -> an object with `discriminator_loss(p_real, p_fake)` and
    `generator_loss(p_fake)`, each a scalar from the discriminator's outputs on a batch of
    real and of generated samples (see adversarial.py). `output`: how the generator's
    exported output reads (as Loss.output)."""

    output: str = "scores"


LOSSES: dict[str, Loss] = {}
OPTIMIZERS: dict[str, Optimizer] = {}
SCHEDULES: dict[str, Schedule] = {}
WARMUPS: dict[str, Warmup] = {}
GAMES: dict[str, Game] = {}
_TABLES = {Loss: LOSSES, Optimizer: OPTIMIZERS, Schedule: SCHEDULES, Warmup: WARMUPS,
           Game: GAMES}


def register(entry: Entry) -> Entry:
    """Add an entry to its table. A recipe names optimisers, schedules and warm-ups by their
    name alone, so a name is taken once across the tables."""
    if any(entry.name in table for table in _TABLES.values()):
        raise RuntimeError(f"recipe entry {entry.name!r} registered twice")
    _TABLES[type(entry)][entry.name] = entry
    return entry


class _Constructors(Mapping):
    """name -> fields of every record a recipe may write as `name(field=...)`: the
    optimisers, then the schedules, the warm-ups and the adversarial games, in registration
    order (a live view: an entry registered later is in it)."""

    def __getitem__(self, name: str) -> dict:
        found = entry(name)
        if found is None:
            raise KeyError(name)
        return found.fields

    def __iter__(self):
        for table in (OPTIMIZERS, SCHEDULES, WARMUPS, GAMES):
            yield from table

    def __len__(self) -> int:
        return len(OPTIMIZERS) + len(SCHEDULES) + len(WARMUPS) + len(GAMES)


CONSTRUCTORS = _Constructors()


def entry(name: str) -> Entry | None:
    """The optimiser, schedule, warm-up or adversarial game called `name`."""
    return OPTIMIZERS.get(name) or SCHEDULES.get(name) or WARMUPS.get(name) or GAMES.get(name)


# What `specc train` uses where neither the recipe nor a flag says
DEFAULT_LOSS = "cross_entropy"
DEFAULT_OPTIMIZER = {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": False,
                     "weight_decay": 0.0}
DEFAULT_SCHEDULE = {"name": "constant"}
