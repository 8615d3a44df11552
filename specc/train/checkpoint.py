"""Checkpoints in safetensors (never pickle), written atomically.

Tensors: `model/<name>` (state dict), `optim/<param index>/<key>`, `rng/torch`, `rng/cuda`;
an adversarial run's discriminator beside them under `adversary/` (`adversary/model/...`,
`adversary/optim/...`, metadata `adversary/optim_groups`, ...).
Everything else (optimiser hyper-parameters, scheduler state, epoch, spec hash) is JSON in
the file's metadata, under one key with sorted keys: safetensors stores its metadata map in a
per-process random order, so several keys would make the same training give different bytes.
Scheduler state goes through a typed JSON (`_encode`): plain JSON turns MultiStepLR's
milestones (a Counter keyed by int epochs) into string keys, and a resumed run never decayed.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..backends.torch_module import load_state, own_state
from ..core.diagnostics import SpeccError
from ..core.files import replace_atomically
from ..core.source import printable
from ..core.weights import META_KEY, model_state, read_checkpoint
from .checkpoint_check import check_all, check_model


def save_checkpoint(path: Path, model, optimizer=None, scheduler=None, info: dict | None = None,
                    rng: bool = True, others: dict | None = None):
    """`others`: prefix -> (model, optimizer, scheduler) of a second network trained in the
    same run (an adversarial run's discriminator), stored as `PREFIX/model/...`,
    `PREFIX/optim/...` and metadata `PREFIX/optim_groups`, ... beside the first."""
    tensors: dict = {}
    meta = {"format": "specc-checkpoint-1", "info": _dumps(info or {})}
    for prefix, (m, opt, sched) in {"": (model, optimizer, scheduler), **(others or {})}.items():
        _pack(prefix + "/" if prefix else "", m, opt, sched, tensors, meta)
    if rng:
        tensors["rng/torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            tensors["rng/cuda"] = torch.cuda.get_rng_state()
    packed = {META_KEY: _dumps(meta)}
    _atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=packed))


def _pack(prefix: str, model, optimizer, scheduler, tensors: dict, meta: dict) -> None:
    tensors.update({f"{prefix}model/{k}": v.detach().cpu().contiguous()
                    for k, v in own_state(model).items()})
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for idx, entry in state["state"].items():
            for key, value in entry.items():
                if torch.is_tensor(value):
                    tensors[f"{prefix}optim/{idx}/{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars[f"{idx}/{key}"] = value
        meta[f"{prefix}optim_groups"] = _dumps(state["param_groups"])
        meta[f"{prefix}optim_scalars"] = _dumps(scalars)
    if scheduler is not None:
        meta[f"{prefix}scheduler"] = _dumps(_encode(scheduler.state_dict()))


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _encode(obj):
    """JSON-ready form that keeps what JSON loses: a Counter stays a Counter and a dict's
    int keys stay ints (tagged as lists of pairs); `_decode` reverses it."""
    if isinstance(obj, dict):
        items = [[_encode(k), _encode(v)] for k, v in obj.items()]
        if isinstance(obj, Counter):
            return {"__counter__": items}
        if not all(isinstance(k, str) for k in obj):
            return {"__items__": items}
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if set(obj) == {"__counter__"}:
            return Counter({_hashable(k): v for k, v in _decode(obj["__counter__"])})
        if set(obj) == {"__items__"}:
            return {_hashable(k): v for k, v in _decode(obj["__items__"])}
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _int_milestones(scheduler) -> None:
    """Checkpoints written before `_encode` hold MultiStepLR milestones with string keys
    ("30"), which never match an epoch: turn them back into ints."""
    scheduler = getattr(scheduler, "schedule", scheduler)  # a schedule counted in steps
    for s in [scheduler, *getattr(scheduler, "_schedulers", [])]:
        milestones = getattr(s, "milestones", None)
        if isinstance(milestones, dict) and any(isinstance(k, str) for k in milestones):
            s.milestones = Counter({int(k): v for k, v in milestones.items()})


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, write)


def remove_stale_temporaries(path: Path) -> None:
    """A process killed inside a write leaves its temporary file; the next run clears it."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def restore_training(path, model, optimizer, scheduler, others: dict | None = None) -> dict:
    """Model, optimiser, scheduler and RNG state; returns the saved info (epoch, step).
    Everything is checked against this run's model, optimiser and schedule before anything
    is loaded (specc.train.checkpoint_check); crafted or damaged contents are a user error
    naming the file, never a crash. `others`: as save_checkpoint's, restored alike."""
    tensors, meta = read_checkpoint(path)
    parts = {"": (tensors, meta, model, optimizer, scheduler)}
    for prefix, (m, opt, sched) in (others or {}).items():
        mine = prefix + "/"
        sub = {k[len(mine):]: v for k, v in tensors.items() if k.startswith(mine)}
        sub_meta = {k[len(mine):]: v for k, v in meta.items() if k.startswith(mine)}
        tensors = {k: v for k, v in tensors.items() if not k.startswith(mine)}
        parts[prefix] = (sub, sub_meta, m, opt, sched)
    parts[""] = (tensors, meta, model, optimizer, scheduler)
    checked = {}
    try:
        for prefix, (t, m_meta, m, opt, sched) in parts.items():
            state = model_state(t) if t else {}
            check_model(state, m, str(path))
            own = json.loads(_dumps(_encode(sched.state_dict()))) if sched else None
            checked[prefix] = (state, check_all(t, m_meta, opt, own))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as e:
        raise _damaged(path, e) from None
    try:
        for prefix, (t, m_meta, m, opt, sched) in parts.items():
            state, found = checked[prefix]
            _load(t, m_meta, state, m, opt, sched, found["optim"], path)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as e:
        raise _damaged(path, e) from None
    return checked[""][1]["info"]


def _damaged(path, e: BaseException) -> SpeccError:
    why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    return SpeccError(f"{printable(str(path))} cannot be resumed: its optimiser, scheduler, RNG "
                      f"or progress record is damaged ({printable(why)})")


def _load(tensors, meta, state, model, optimizer, scheduler, optim, path) -> None:
    load_state(model, state, str(path))
    if optim is not None:
        optimizer.load_state_dict(optim)
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict(_decode(json.loads(meta["scheduler"])))
        _int_milestones(scheduler)
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])
