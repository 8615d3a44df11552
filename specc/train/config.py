"""The resolved training configuration: the spec's recipe, overridden by command-line flags."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..diagnostics import SpeccError

DEFAULTS = {"data": "digits", "batch_size": 64, "epochs": 10, "loss": "cross_entropy",
            "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": False,
                          "weight_decay": 0.0},
            "schedule": {"name": "constant"}, "warmup": 0, "augment": [], "seed": 0}


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
    augment: list = field(default_factory=list)
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    compile: bool = False
    channels_last: bool = False
    workers: int = 0
    pixel_range: list | None = None
    mean: list | None = None
    std: list | None = None
    labels: list = field(default_factory=list)
    output_weights: list | None = None  # loss weight of each output, in declaration order
    overrides: dict = field(default_factory=dict)  # --set NAME=VALUE: network parameters

    def to_dict(self) -> dict:
        return asdict(self)


def resolve(spec: str, network: str, recipe: dict, flags: dict) -> TrainConfig:
    """recipe < flags. `flags` holds only what the user actually passed."""
    merged = {**DEFAULTS, **recipe}
    if "optimizer" in flags:
        known = ("sgd", "adam", "adamw", "rmsprop")
        if flags["optimizer"] not in known:
            raise SpeccError(f"unknown optimizer '{flags['optimizer']}' (use {', '.join(known)})")
        base = merged["optimizer"] if merged["optimizer"]["name"] == flags["optimizer"] else {}
        merged["optimizer"] = {**base, "name": flags.pop("optimizer")}
        merged["optimizer"].setdefault("lr", DEFAULTS["optimizer"]["lr"])
    if "lr" in flags:
        merged["optimizer"] = {**merged["optimizer"], "lr": flags.pop("lr")}
    merged.update(flags)
    for key in ("batch_size", "epochs"):
        if merged[key] < 1:
            raise SpeccError(f"--{key.replace('_', '-')} must be at least 1")
    if merged["optimizer"]["lr"] <= 0:
        raise SpeccError("the learning rate must be positive")
    names = TrainConfig.__dataclass_fields__
    return TrainConfig(spec=spec, network=network,
                       **{k: v for k, v in merged.items() if k in names and k not in
                          ("spec", "network")})
