"""Checkpoints in safetensors (never pickle), written atomically.

Tensors: `model/<name>` (state dict), `optim/<param index>/<key>`, `rng/torch`, `rng/cuda`.
Everything else (optimiser hyper-parameters, scheduler state, epoch, spec hash) is JSON in
the file's metadata, under one key with sorted keys: safetensors stores its metadata map in a
per-process random order, so several keys would make the same training give different bytes.
Scheduler state goes through a typed JSON (`_encode`): plain JSON turns MultiStepLR's
milestones (a Counter keyed by int epochs) into string keys, and a resumed run never decayed.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..backends.torch_module import load_state, own_state
from ..core.diagnostics import SpeccError
from ..core.weights import META_KEY, model_state, read_checkpoint


def save_checkpoint(path: Path, model, optimizer=None, scheduler=None, info: dict | None = None,
                    rng: bool = True):
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in own_state(model).items()}
    meta = {"format": "specc-checkpoint-1", "info": _dumps(info or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        scalars = {}
        for idx, entry in state["state"].items():
            for key, value in entry.items():
                if torch.is_tensor(value):
                    tensors[f"optim/{idx}/{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars[f"{idx}/{key}"] = value
        meta["optim_groups"] = _dumps(state["param_groups"])
        meta["optim_scalars"] = _dumps(scalars)
    if scheduler is not None:
        meta["scheduler"] = _dumps(_encode(scheduler.state_dict()))
    if rng:
        tensors["rng/torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            tensors["rng/cuda"] = torch.cuda.get_rng_state()
    packed = {META_KEY: _dumps(meta)}
    _atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=packed))



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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(path: Path) -> None:
    """A process killed inside a write leaves its temporary file; the next run clears it."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def restore_training(path, model, optimizer, scheduler) -> dict:
    """Model, optimiser, scheduler and RNG state; returns the saved info (epoch, step).
    Crafted or damaged metadata is a user error naming the file, never a crash."""
    try:
        return _restore(path, model, optimizer, scheduler)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise SpeccError(f"{path} cannot be resumed: its optimiser, scheduler or RNG state is "
                         f"damaged ({why})") from None


def _restore(path, model, optimizer, scheduler) -> dict:
    tensors, meta = read_checkpoint(path)
    load_state(model, model_state(tensors), str(path))
    if optimizer is not None and "optim_groups" in meta:
        groups = json.loads(meta["optim_groups"])
        state: dict = {}
        for key, value in tensors.items():
            if key.startswith("optim/"):
                _, idx, name = key.split("/", 2)
                state.setdefault(int(idx), {})[name] = value
        for key, value in json.loads(meta.get("optim_scalars", "{}")).items():
            idx, name = key.split("/", 1)
            state.setdefault(int(idx), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict(_decode(json.loads(meta["scheduler"])))
        _int_milestones(scheduler)
    if "rng/torch" in tensors:
        torch.set_rng_state(tensors["rng/torch"])
    if "rng/cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng/cuda"])
    info = json.loads(meta.get("info", "{}"))
    if not isinstance(info, dict) or not all(
            isinstance(info.get(k, 0), int) and not isinstance(info.get(k, 0), bool)
            and info.get(k, 0) >= 0 for k in ("epoch", "step")):
        raise ValueError("epoch and step must be non-negative integers")
    _check_watch(info)
    return info


def _check_watch(info: dict) -> None:
    """The monitored metric's record (watch.py): numbers where the trainer does arithmetic."""
    def number(v):
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0
    best_step = info.get("best_step")
    if not (number(info.get("best")) and number(info.get("mark"))
            and count(info.get("stale", 0)) and (best_step is None or count(best_step))):
        raise ValueError("best, mark, best_step and stale must be numbers")
