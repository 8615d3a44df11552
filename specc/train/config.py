"""The resolved training configuration: the spec's recipe, overridden by command-line flags."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

from ..core.defaults import MAX_BATCH, MAX_THREADS, MAX_WORKERS
from ..core.diagnostics import SpeccError
from ..recipes.registry import DEFAULT_LOSS, DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE, OPTIMIZERS

DEFAULTS = {"data": "digits", "batch_size": 64, "epochs": 10, "loss": DEFAULT_LOSS,
            "optimizer": DEFAULT_OPTIMIZER, "schedule": DEFAULT_SCHEDULE, "warmup": 0,
            "augment": [], "seed": 0}


@dataclass
class TrainConfig:
    spec: str
    network: str
    data: str
    batch_size: int
    epochs: int
    loss: str
    optimizer: dict
    schedule: dict
    warmup: int = 0
    augment: list = field(default_factory=list)  # records: {"name": ..., params}
    eval_transform: list = field(default_factory=list)  # the recipe's `eval`: one record or none
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    compile: bool = False
    channels_last: bool = False
    workers: int | None = None  # DataLoader worker processes (None: chosen from the CPUs)
    threads: int | None = None  # intra-op threads (None: chosen from the CPUs and the load)
    steps: int | None = None  # stop after this many optimizer steps in all
    eval_every: int | None = None  # also evaluate every this many steps (else at epoch ends)
    eval_steps: int | None = None  # at most this many test batches per evaluation
    save_every: int | None = None  # also checkpoint every this many steps (else at evaluations)
    allow_fewer_classes: bool = False
    pixel_range: list | None = None
    mean: list | None = None
    std: list | None = None
    labels: list = field(default_factory=list)
    output_weights: list | None = None  # loss weight of each output, in declaration order
    overrides: dict = field(default_factory=dict)  # --set NAME=VALUE: network parameters
    tensorboard: bool = False  # also write TensorBoard event files to RUN/tensorboard/
    monitor: str = "test_accuracy"  # what best.safetensors and early stopping go by
    early_stop: int | None = None  # stop after this many evaluations without improvement
    min_delta: float = 0.0  # an improvement smaller than this does not count for early_stop
    init: dict | None = None  # --init: the weights the run started from (train/init.py)
    adversary: dict | None = None  # the recipe's game: the discriminator trained against it

    def __post_init__(self):
        """A config.json edited by hand is checked here, the flags by argparse already."""
        from .watch import MONITORS
        if self.monitor not in MONITORS:
            raise SpeccError(f"unknown monitor '{self.monitor}' (use {', '.join(MONITORS)})")
        if not self.min_delta >= 0:
            raise SpeccError(f"min_delta must be 0 or more, got {self.min_delta}")

    def to_dict(self) -> dict:
        return asdict(self)


COUNT_LIMIT = 2 ** 62  # a count beyond this is no count (and would overflow torch's int64)
# the range of every count a run takes, from a flag, a recipe or a hand-edited config.json:
# one table, so that each rule is the same wherever the value comes from
BOUNDS = {"batch_size": (1, MAX_BATCH), "epochs": (1, COUNT_LIMIT), "steps": (1, COUNT_LIMIT),
          "eval_every": (1, COUNT_LIMIT), "eval_steps": (1, COUNT_LIMIT),
          "save_every": (1, COUNT_LIMIT), "threads": (1, MAX_THREADS),
          "early_stop": (1, COUNT_LIMIT), "workers": (0, MAX_WORKERS),
          "warmup": (0, COUNT_LIMIT), "seed": (0, 2 ** 64 - 1)}
COUNTS = tuple(BOUNDS)


def bound_problem(key: str, value) -> str | None:
    """Why `value` is out of `key`'s range (BOUNDS), or None."""
    low, high = BOUNDS[key]
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be an integer, got {value!r}"[:80]
    if value < low:
        return f"must be at least {low}, got {value}"
    if value > high:
        return f"must be at most {high:,}, got {value:,}"
    return None


def check_counts(values: dict, flags: bool = True) -> None:
    """Every count given (not None) within its BOUNDS; named as a flag (`--eval-steps`) or,
    for a run's config.json, as its key (`'eval_steps'`)."""
    for key in COUNTS:
        value = values.get(key)
        if value is None or (key == "warmup" and isinstance(value, dict)):
            continue
        problem = bound_problem(key, value)
        if problem:
            name = f"--{key.replace('_', '-')}" if flags else f"'{key}'"
            raise SpeccError(f"{name} {problem}")


def batch_lr_note(recipe: dict, cfg: TrainConfig, flags: dict) -> str | None:
    """A batch size other than the recipe's, with the learning rate the recipe tuned for its
    own batch: say what the linear scaling rule (Goyal et al. 2017) would give instead."""
    batch, opt = recipe.get("batch_size"), recipe.get("optimizer") or {}
    if ("lr" in flags or "batch_size" not in flags or not batch or "lr" not in opt
            or cfg.batch_size == batch or cfg.optimizer.get("name") != opt.get("name")):
        return None
    return (f"note: batch {cfg.batch_size} with the recipe's lr {opt['lr']:g}, set for its batch "
            f"{batch}; the linear scaling rule (Goyal et al. 2017) gives --lr "
            f"{opt['lr'] * cfg.batch_size / batch:.3g}")


def resolve(spec: str, network: str, recipe: dict, flags: dict) -> TrainConfig:
    """recipe < flags. `flags` holds only what the user actually passed."""
    merged = {**copy.deepcopy(DEFAULTS), **recipe}
    if "optimizer" in flags:
        if flags["optimizer"] not in OPTIMIZERS:
            raise SpeccError(f"unknown optimizer '{flags['optimizer']}' (use "
                             f"{', '.join(OPTIMIZERS)})")
        base = merged["optimizer"] if merged["optimizer"]["name"] == flags["optimizer"] else {}
        merged["optimizer"] = {**base, "name": flags.pop("optimizer")}
        merged["optimizer"].setdefault("lr", DEFAULTS["optimizer"]["lr"])
    if "lr" in flags:
        merged["optimizer"] = {**merged["optimizer"], "lr": flags.pop("lr")}
    merged.update(flags)
    check_counts(merged)
    if "eval" in merged:
        merged["eval_transform"] = [merged.pop("eval")]
    if merged["optimizer"]["lr"] <= 0:
        raise SpeccError("the learning rate must be positive")
    names = TrainConfig.__dataclass_fields__
    return TrainConfig(spec=spec, network=network,
                       **{k: v for k, v in merged.items() if k in names and k not in
                          ("spec", "network")})
