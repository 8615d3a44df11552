"""What a checkpoint must hold before any of it is loaded into a run.

A run folder may come from someone else, or be edited: every tensor and every metadata field
of its checkpoint is checked against the model, the optimiser and the schedule this run
built, so that a crafted file is one message naming it, never a crash ten steps later.

* tensors: only `model/NAME` (the model's names, shapes and kinds of dtype),
  `optim/INDEX/KEY` and `rng/torch`, `rng/cuda`;
* the optimiser's per-parameter state: the keys, shapes and dtypes the optimiser itself keeps
  (found by letting a copy of it take one step on a probe parameter, so no table of
  optimisers is kept here), for parameter indices it has;
* the optimiser's groups and the schedule's state: the same structure (keys, list lengths,
  types) as this run's own, which torch would otherwise copy into its objects unchecked;
* `info` (where the run stands): each field of the type the trainer computes with."""
from __future__ import annotations

import json
import math
import typing

import torch

from ..core.weights import check_fit, labels_problem
from .progress import Progress

MAX_COUNT = 2 ** 62


class Damaged(ValueError):
    """A checkpoint that does not fit this run; the message says what."""


def check_all(tensors: dict, meta: dict, optimizer, schedule_state) -> dict:
    """Everything but the model's tensors checked (raises Damaged): `schedule_state` is this
    run's schedule's state as a checkpoint stores it (None without a schedule). Returns the
    typed `info` and the optimiser state ready to load (or None)."""
    names = {k for k in tensors if not (k.startswith(("model/", "optim/"))
                                        or k in ("rng/torch", "rng/cuda"))}
    if names:
        raise Damaged(f"unexpected tensor {sorted(names)[0]!r:.80}")
    check_rng(tensors)
    optim = None
    if optimizer is not None and "optim_groups" in meta:
        optim = optimizer_state(tensors, meta, optimizer)
    elif any(k.startswith("optim/") for k in tensors):
        raise Damaged("optimiser tensors without the optimiser's groups")
    if schedule_state is not None and "scheduler" in meta:
        same_structure(json.loads(meta["scheduler"]), schedule_state, "the schedule's state")
    return {"info": info_fields(json.loads(meta.get("info", "{}"))), "optim": optim}


def check_rng(tensors: dict) -> None:
    own = torch.get_rng_state()
    rng = tensors.get("rng/torch")
    if rng is not None and (rng.dtype != own.dtype or tuple(rng.shape) != tuple(own.shape)):
        raise Damaged(f"rng/torch is {rng.dtype} {list(rng.shape)}, not {own.dtype} "
                      f"{list(own.shape)}")
    cuda = tensors.get("rng/cuda")
    if cuda is not None and (cuda.dtype != torch.uint8 or cuda.dim() != 1):
        raise Damaged("rng/cuda is not a byte vector")


# ---------------------------------------------------------------------------- optimiser
def optimizer_state(tensors: dict, meta: dict, optimizer) -> dict:
    """The saved optimiser state, checked: {"state": {index: {key: value}}, "param_groups"}."""
    groups = json.loads(meta["optim_groups"])
    current = json.loads(json.dumps(optimizer.state_dict()["param_groups"]))
    same_structure(groups, current, "the optimiser's groups")
    for saved, own in zip(groups, current):
        if saved["params"] != own["params"]:
            raise Damaged("the optimiser's groups hold other parameters than this run's")
        for key, value in saved.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise Damaged(f"the optimiser's {key} is {value}")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            index, name = _slot(key[len("optim/"):], len(params))
            state.setdefault(index, {})[name] = value
    scalars = json.loads(meta.get("optim_scalars", "{}"))
    if not isinstance(scalars, dict):
        raise Damaged("optim_scalars is not an object")
    for key, value in scalars.items():
        index, name = _slot(key, len(params))
        state.setdefault(index, {})[name] = value
    expected = probe(optimizer)
    for index, entry in state.items():
        _check_entry(index, entry, params[index], expected)
    return {"state": state, "param_groups": groups}


def _slot(key: str, count: int) -> tuple[int, str]:
    index, _, name = key.partition("/")
    if not (index.isascii() and index.isdigit() and len(index) < 10 and int(index) < count
            and name):
        raise Damaged(f"optimiser state {key[:80]!r} names no parameter of this run "
                      f"({count} of them)")
    return int(index), name


def _check_entry(index: int, entry: dict, param, expected: dict) -> None:
    if set(entry) != set(expected):
        raise Damaged(f"the optimiser state of parameter {index} holds "
                      f"{sorted(entry)}, this optimiser keeps {sorted(expected)}")
    for name, kind in expected.items():
        value = entry[name]
        if kind == "param":
            ok = torch.is_tensor(value) and tuple(value.shape) == tuple(param.shape) \
                and value.dtype == param.dtype
            want = f"a {param.dtype} tensor of shape {list(param.shape)}"
        elif isinstance(kind, torch.dtype):
            ok = torch.is_tensor(value) and value.dim() == 0 and value.dtype == kind
            want = f"a {kind} scalar"
        else:
            ok = not torch.is_tensor(value) and _same_type(value, kind)
            want = f"a {type(kind).__name__}"
        if not ok:
            got = (f"{value.dtype} {list(value.shape)}" if torch.is_tensor(value)
                   else type(value).__name__)
            raise Damaged(f"optimiser state {index}/{name} is {got}, not {want}")


def probe(optimizer) -> dict:
    """key -> "param" (a tensor shaped as its parameter), a dtype (a scalar tensor), or a
    Python value (of that type): what this optimiser keeps per parameter after a step, from
    a copy of it that steps once on a probe parameter."""
    group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.ones(3)
    twin = type(optimizer)([{**group, "params": [p]}], **optimizer.defaults)
    twin.step()
    out = {}
    for key, value in twin.state[p].items():
        if torch.is_tensor(value):
            out[key] = "param" if tuple(value.shape) == (3,) else value.dtype
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------ generic
def _same_type(value, like) -> bool:
    if like is None:
        return value is None
    if isinstance(like, bool) or isinstance(value, bool):
        return type(value) is type(like)
    if isinstance(like, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(like))


def same_structure(saved, own, what: str, path: str = "") -> None:
    """`saved` has `own`'s structure: the same keys, list lengths and types of values."""
    where = f"{what}{path}"
    if isinstance(own, dict):
        if not isinstance(saved, dict) or set(saved) != set(own):
            raise Damaged(f"{where} has other fields than this run's")
        if set(own) in ({"__counter__"}, {"__items__"}):  # milestones and the like: any count
            return _pairs(saved, where)
        for k in own:
            same_structure(saved[k], own[k], what, f"{path}.{k}")
    elif isinstance(own, list):
        if not isinstance(saved, list) or len(saved) != len(own):
            raise Damaged(f"{where} is not a list of {len(own)}")
        for i, (s, o) in enumerate(zip(saved, own)):
            same_structure(s, o, what, f"{path}[{i}]")
    elif not _same_type(saved, own) and not (own is None and isinstance(saved, (int, float))
                                             and not isinstance(saved, bool)):
        raise Damaged(f"{where} is {type(saved).__name__}, not {type(own).__name__}")


def _pairs(saved: dict, where: str) -> None:
    items = next(iter(saved.values()))
    if not (isinstance(items, list) and all(
            isinstance(x, list) and len(x) == 2 and all(isinstance(y, (int, float, str))
                                                        and not isinstance(y, bool) for y in x)
            for x in items)):
        raise Damaged(f"{where} is not a list of (key, value) pairs")


# ----------------------------------------------------------------------------- progress
_EXTRA = {"network": (str,), "spec_sha256": (str, type(None)), "labels": (list,)}


def info_fields(info) -> dict:
    """`info` with every field Progress reads of its type (counts are integers from 0 to
    2**62, numbers are numbers), and the run's name and spec hash text."""
    if not isinstance(info, dict):
        raise Damaged("info is not an object")
    hints = typing.get_type_hints(Progress)
    for key, value in info.items():
        if key in _EXTRA:
            if not isinstance(value, _EXTRA[key]):
                raise Damaged(f"info.{key} is {type(value).__name__}")
            if key == "labels" and labels_problem(value):
                raise Damaged(labels_problem(value))
            continue
        if key not in hints:
            continue  # a field of a later version: Progress.from_info ignores it
        options = typing.get_args(hints[key]) or (hints[key],)
        if not any(_fits(value, o) for o in options):
            raise Damaged(f"info.{key} must be "
                          + " or ".join(getattr(o, "__name__", str(o)) for o in options)
                          .replace("NoneType", "null")
                          + f" (counts from 0), got {json.dumps(value)[:40]}")
    return info


def _fits(value, option) -> bool:
    if option is type(None):
        return value is None
    if isinstance(value, bool):
        return False
    if option is int:
        return isinstance(value, int) and 0 <= value <= MAX_COUNT
    if option is float:
        return isinstance(value, (int, float))
    return False


def check_model(state: dict, model, source: str) -> None:
    """The model's tensors: names, shapes and kinds of dtype (core.weights.check_fit)."""
    own = model.state_dict()
    check_fit({k: tuple(v.shape) for k, v in own.items()}, state, source,
              {k: v.dtype for k, v in own.items()})
