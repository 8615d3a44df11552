"""`specc train --init WEIGHTS`: start a new run from given weights (a safetensors file, a
specc checkpoint or a run folder), strictly: every tensor of the network must be given with
its shape, and nothing else, except the keys `--init-skip` patterns name, which stay with the
spec's initialiser (a 1000-class head when fine-tuning on 10 classes). Checked before the run
folder is written; recorded in its config.json (a resumed run continues from its checkpoint
and never reads the file again)."""
from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.weights import model_state, read_checkpoint


@dataclass
class InitWeights:
    path: str
    sha256: str
    skip: list[str]
    tensors: dict  # name -> tensor, the ones to load
    skipped: list[str]  # the network's keys left to its initialiser

    def record(self) -> dict:
        """What config.json keeps."""
        return {"path": self.path, "sha256": self.sha256, "skip": self.skip,
                "loaded": len(self.tensors), "skipped": self.skipped}

    def describe(self) -> str:
        return describe(self.record())


def describe(record: dict) -> str:
    """The line a run starts with: how many tensors came from where, which were skipped."""
    text = f"init: loaded {record['loaded']} tensors from {record['path']}"
    skipped = record["skipped"]
    if skipped:
        shown = ", ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else "")
        text += f"; skipped {len(skipped)} ({shown}: left to the spec's initialiser)"
    return text


def load_init(net, path: str, skip: list[str]) -> InitWeights:
    """The tensors of `path` for `net`, checked name by name and shape by shape."""
    p = Path(path)
    _same_network(p, net)
    tensors, _ = read_checkpoint(p)
    state = model_state(tensors)
    own = {q.name: tuple(q.shape) for q in net.graph.params.values() if q.saved}
    skipped_own = [k for k in own if _skipped(k, skip)]
    for pattern in skip:
        if not any(fnmatch.fnmatchcase(k, pattern) for k in list(own) + list(state)):
            raise SpeccError(f"--init-skip {pattern!r} matches no tensor of {net.name} or of "
                             f"{path}", notes=(f"the network's tensors: "
                                               f"{', '.join(list(own)[:8])} ...",))
    missing = [k for k in own if k not in state and k not in skipped_own]
    extra = [k for k in state if k not in own and not _skipped(k, skip)]
    shapes = [f"{k}: {path} has {list(state[k].shape)}, {net.name} needs {list(own[k])}"
              for k in own if k in state and k not in skipped_own
              and tuple(state[k].shape) != own[k]]
    if missing or extra or shapes:
        notes = [f"shape of {s}" for s in shapes[:8]]
        if missing:
            notes.append(f"missing ({len(missing)}): {', '.join(missing[:8])}")
        if extra:
            notes.append(f"not in {net.name} ({len(extra)}): {', '.join(extra[:8])}")
        notes.append("--init-skip PATTERN (e.g. 'fc.*') leaves matching tensors to the spec's "
                     "initialiser")
        raise SpeccError(f"--init {path} does not fit {net.name}", notes=tuple(notes))
    loaded = {k: state[k] for k in own if k not in skipped_own}
    return InitWeights(str(path), _sha256(p), list(skip), loaded, skipped_own)


def _skipped(key: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, pat) for pat in patterns)


def _same_network(p: Path, net) -> None:
    """A run folder says which network it trained: another one is named as such."""
    config = p / "config.json" if p.is_dir() else None
    if config is None or not config.is_file():
        return
    try:
        other = json.loads(config.read_text(encoding="utf-8")).get("network")
    except (ValueError, OSError):
        return
    if isinstance(other, str) and other != net.name:
        raise SpeccError(f"--init {p} is a run of network '{other}', not '{net.name}'",
                         notes=("pass its checkpoint.safetensors to load it anyway (names "
                                "and shapes are still checked)",))


def _sha256(p: Path) -> str:
    f = p / "checkpoint.safetensors" if p.is_dir() else p
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def apply(module, init: InitWeights) -> None:
    """Copy the loaded tensors into the module (the skipped ones keep their initial values)."""
    import torch
    own = module.state_dict()
    with torch.no_grad():
        for k, v in init.tensors.items():
            own[k].copy_(torch.as_tensor(v).to(own[k].dtype))
