"""Run folders: checkpoint.safetensors, metrics.csv, curves.png, config.json, and in spec/
the spec the run trains (with the files it imports), so that no spec name can collide with a
run file and `--resume` trains exactly what the run started with.

A run folder is locked while a training writes to it (an advisory lock on `.lock`, which holds
the PID); the operating system drops the lock when its process dies, so a stale lock is simply
taken over."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import confined, is_regular, open_regular, read_regular, replace_atomically
from ..core.resources import specs_dir
from ..core.source import printable, split_lines
from ..lang.parse import MAX_SPEC_BYTES

CHECKPOINT = "checkpoint.safetensors"
CONFIG = "config.json"
SPEC_DIR = "spec"
LOCK = ".lock"
SAMPLES = "samples"  # an adversarial run's generated images, one PNG per epoch
RUN_FILES = {CHECKPOINT, CONFIG, SPEC_DIR, LOCK, "metrics.csv", "curves.png", "best.safetensors",
             "tensorboard", SAMPLES}
FIELDS = ["epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
          "seconds", "samples_per_s"]


def plan_run_dir(out: str | None, network: str) -> Path:
    """Where a new run goes: --out, else the first free runs/NETWORK[-k]. Nothing is created."""
    if out:
        return Path(out)
    base, n = Path("runs") / network, 1
    path = base
    while os.path.lexists(path) and (not os.path.isdir(path) or any(path.iterdir())):
        n += 1
        path = Path(f"{base}-{n}")
    return path


def create_run_dir(path: Path) -> "RunLock":
    """Create and lock the run folder once the run has been checked and is about to start.
    Refused: a folder that holds a run already, or files that are not a run's."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise SpeccError(f"run folder {printable(str(path))} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpeccError(f"cannot create run folder {path}: {e.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpeccError(f"run folder {path} is not writable")
    foreign = sorted(e.name for e in path.iterdir()
                     if e.name not in RUN_FILES and not e.name.startswith("."))
    if foreign:  # checked before the lock file is made: nothing is added to such a folder
        raise SpeccError(f"{path} holds files that are not a run's "
                         f"({', '.join(printable(n) for n in foreign[:4])}"
                         f"{', ...' if len(foreign) > 4 else ''}); a run folder must be "
                         "new or empty")
    lock = RunLock(path)
    try:
        if os.path.lexists(path / CHECKPOINT):
            raise SpeccError(f"{path} already holds a run; continue it with --resume {path} or "
                             "choose another --out")
    except BaseException:
        lock.release()
        raise
    return lock


# ---------------------------------------------------------------------------------- lock
class RunLock:
    """An exclusive advisory lock on RUN/.lock, held while this process writes the run."""

    def __init__(self, run: Path):
        self.path = run / LOCK
        self.fd: int | None = None
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
        except OSError as e:
            raise SpeccError(f"cannot lock run folder {run}: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(self.fd).st_mode):  # a FIFO or device named .lock
            os.close(self.fd)
            self.fd = None
            raise SpeccError(f"cannot lock run folder {run}: {self.path} is not a regular file")
        if not self._lock():
            holder = self._holder()
            os.close(self.fd)
            self.fd = None
            raise SpeccError(f"run folder {run} is in use by process {holder or '?'} (a "
                             "training writes to it); wait for it to finish or stop it")
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())

    def _lock(self) -> bool:
        try:
            import fcntl
        except ImportError:  # no advisory locks here: trust a live PID in the file
            holder = self._holder()
            return holder is None or holder == os.getpid() or not _alive(holder)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError:  # a file system without flock: fall back on the PID
            holder = self._holder()
            return holder is None or holder == os.getpid() or not _alive(holder)

    def _holder(self) -> int | None:
        try:
            text = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock; the file stays (others may hold it)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _alive(pid: int) -> bool:
    from ..core.files import _alive as alive
    return alive(pid)


# ------------------------------------------------------------------ the run's own spec
def copy_spec(run: Path, sources: dict[str, str]) -> dict:
    """Store the spec (first of `sources`, path -> text) and the files it imports under
    RUN/spec/, laid out as the imports find them; returns the record kept in config.json."""
    paths = list(sources)
    root = Path(paths[0]).resolve().parent
    library = specs_dir().resolve()
    record = {"file": None, "sha256": {}}
    for path in paths:
        resolved = Path(path).resolve()
        rel = _relative(resolved, root) or _relative(resolved, library) or Path(resolved.name)
        rel_text = rel.as_posix()
        record["file"] = record["file"] or rel_text
        if rel_text in record["sha256"]:
            continue
        dest = run / SPEC_DIR / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = sources[path].encode("utf-8")
        _write_atomic(dest, data)
        record["sha256"][rel_text] = hashlib.sha256(data).hexdigest()
    return record


def _relative(path: Path, root: Path) -> Path | None:
    try:
        return path.relative_to(root)
    except ValueError:
        return None


def _write_atomic(dest: Path, data: bytes) -> None:
    replace_atomically(dest, lambda tmp: Path(tmp).write_bytes(data))


def stored_spec(run: Path, config: dict, record: dict | None) -> Path:
    """The spec file a resumed run trains: its own copy in RUN/spec/ (checked against the
    recorded hash), or for a run made before spec/ existed, the copy beside the run files."""
    if record is None:
        legacy = run / Path(config["spec"]).name
        if is_regular(legacy):
            return confined(legacy, run, "spec")
        raise SpeccError(f"{run} holds no copy of its spec; pass the spec to resume with",
                         notes=(f"it was started from {printable(config['spec'][:200])}",))
    path = _spec_copy(run, record["file"])
    data = read_regular(path, "spec", limit=MAX_SPEC_BYTES)
    if hashlib.sha256(data).hexdigest() != record["sha256"].get(record["file"]):
        raise SpeccError(f"the run's copy of its spec ({path}) was changed after the run "
                         "started; restore it, or pass the spec to train with "
                         "--allow-spec-change")
    return path


def spec_difference(stored: dict[str, str], given: dict[str, str]) -> str | None:
    """The first difference between two spec trees (main file first, then imports), in one
    line, or None when they are the same."""
    pairs = [(list(stored.items())[0], list(given.items())[0])]
    rest_s, rest_g = _by_relative(stored), _by_relative(given)
    for name in sorted(set(rest_s) | set(rest_g)):
        pairs.append(((name, rest_s.get(name, "")), (name, rest_g.get(name, ""))))
    for (s_path, s_text), (g_path, g_text) in pairs:
        if s_text == g_text:
            continue
        a, b = split_lines(s_text), split_lines(g_text)  # the grammar's lines
        line = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        old = a[line].strip() if line < len(a) else "(end of file)"
        new = b[line].strip() if line < len(b) else "(end of file)"
        where = "" if s_path == list(stored)[0] else f"imported {g_path}, "
        return printable(f"{where}line {line + 1}: the run has `{old[:80]}`, the given spec "
                         f"has `{new[:80]}`")
    return None


def _by_relative(sources: dict[str, str]) -> dict[str, str]:
    """The imported files of a spec tree keyed by their path relative to the main file."""
    paths = list(sources)
    root = Path(paths[0]).resolve().parent
    out = {}
    for p in paths[1:]:
        rel = _relative(Path(p).resolve(), root)
        out[rel.as_posix() if rel else Path(p).name] = sources[p]
    return out


def read_sources(run: Path, record: dict) -> dict[str, str]:
    """The run's stored spec files, main first, as path -> text."""
    out = {}
    for rel in [record["file"]] + [r for r in record["sha256"] if r != record["file"]]:
        if is_regular(run / SPEC_DIR / rel):
            path = _spec_copy(run, rel)
            out[str(run / SPEC_DIR / rel)] = read_regular(path, "spec", limit=MAX_SPEC_BYTES
                                                          ).decode("utf-8", "replace")
    return out


def _spec_copy(run: Path, rel: str) -> Path:
    """RUN/spec/REL, refused when it leads outside RUN/spec/ (a link to a system file):
    a run folder may come from a stranger, and its spec copies are quoted in errors."""
    return confined(run / SPEC_DIR / rel, run / SPEC_DIR, "spec copy")


# -------------------------------------------------------------------------------- config
def write_config(run: Path, config: dict, sources: dict[str, str]) -> None:
    record = copy_spec(run, sources)
    text = json.dumps({**config, "spec_copy": record}, indent=2, sort_keys=True) + "\n"
    _write_atomic(run / CONFIG, text.encode())


def update_config(run: Path, config: dict) -> None:
    """A resumed run's new targets (--epochs, --steps, ...); the record of its spec copy kept."""
    with open_regular(run / CONFIG, "run configuration", limit=1 << 20) as (f, _):
        saved = json.loads(f.read().decode("utf-8"))
    text = json.dumps({**config, "spec_copy": saved.get("spec_copy")}, indent=2,
                      sort_keys=True) + "\n"
    _write_atomic(run / CONFIG, text.encode())


def read_config(run: Path, typed_data: str | None = None) -> tuple[dict, dict | None]:
    """(the training configuration, the record of the spec copy) of a run folder; a config
    that was edited by hand is checked as strictly as a recipe (see check_config)."""
    from .run_config import check_config
    if not os.path.isdir(run):
        raise SpeccError(f"{printable(str(run))} is not a run folder (no such folder)")
    try:
        data = read_regular(run / CONFIG, "run configuration", limit=1 << 20)
        saved = json.loads(data.decode("utf-8"))
    except SpeccError:
        raise SpeccError(f"{run} is not a run folder (no readable {CONFIG})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SpeccError(f"{run / CONFIG} is not valid JSON: {printable(str(e))[:120]}") from None
    return check_config(saved, run / CONFIG, typed_data)


# -------------------------------------------------------------------------- resuming
def open_resume(run: Path, target: str | None, allow_change: bool, limits: dict,
                main: bool = True, typed_data: str | None = None):
    """Lock the run (on the main process) and pick the network it continues with: its own
    spec copy; a spec given beside --resume must be that same spec, unless allow_change.
    `typed_data`: the run's data source, typed again with --data (see check_config).
    Returns (network, saved config fields, lock or None, spec_changed)."""
    from ..compile.pipeline import split_target
    from ..network import load
    saved, record = read_config(run, typed_data)
    limits = {**limits, "overrides": saved.get("overrides") or None}  # the run's --set values
    lock = RunLock(run) if main else None
    try:
        stored = stored_spec(run, saved, record) if record is not None or target is None \
            else None
        if target is None:
            return load(stored, saved["network"], **limits), saved, lock, False
        path, name = split_target(target)
        given = load(path, name or saved["network"], **limits)
        if record is None:  # a run from before spec copies: trust the given spec
            return given, saved, lock, False
        ours = read_sources(run, record)
        diff = spec_difference(ours, given.graph.meta["sources"])
        if given.name != saved["network"]:
            diff = f"the run trains network '{saved['network']}', not '{given.name}'"
        if diff is None:
            return load(stored, saved["network"], **limits), saved, lock, False
        if not allow_change:
            raise SpeccError(f"the given spec differs from the one run {run} trains: {diff}",
                             notes=("resume without FILE to continue the run's own spec, or "
                                    "add --allow-spec-change to train the given one",))
        return given, saved, lock, True
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def check_trainable(net) -> None:
    """Refuse up front what the trainer cannot feed or improve."""
    graph = net.graph
    if len(graph.inputs) != 1:
        raise SpeccError(f"specc train feeds one input from a data set; network '{net.name}' "
                         f"has {len(graph.inputs)} ({', '.join(graph.inputs)})")
    dtype = graph.values[graph.inputs[0]].type.dtype
    if not dtype.startswith(("f", "i64")):
        raise SpeccError(f"specc train feeds floating-point samples (or i64 indices); input "
                         f"'{graph.inputs[0]}' of network '{net.name}' is {dtype}")
    if net.params == 0:
        raise SpeccError(f"network '{net.name}' has no trainable parameters: there is nothing "
                         "to train (check or export it instead)")


def append_metrics(run: Path, row: dict, plot: bool = True, fields: list = FIELDS) -> None:
    """`fields`: the columns (an adversarial run has its own, train/adversarial.py)."""
    path = run / "metrics.csv"
    rows = read_metrics(run)
    rows = [r for r in rows if _before(r, row)] + [row]

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in fields})
    replace_atomically(path, write)
    if plot:
        from .curves import plot_curves
        plot_curves(run, rows)


def _before(old: dict, new: dict) -> bool:
    """Rows written before `new` in a run's history (a resumed run rewrites what follows its
    checkpoint); rows of older runs carry no step."""
    if old.get("step") not in (None, ""):
        return int(old["step"]) < new["step"]
    return int(old["epoch"]) < new["epoch"]


def read_metrics(run: Path) -> list[dict]:
    """metrics.csv's rows, each checked (a run folder may have been edited): `epoch` a count,
    `step` a count or empty, every other field a number or empty."""
    path = run / "metrics.csv"
    if not os.path.lexists(path):
        return []
    data = read_regular(path, "metrics file", limit=MAX_METRICS_BYTES)
    try:
        rows = list(csv.DictReader(data.decode("utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as e:
        raise SpeccError(f"{path} is not a readable metrics file: {printable(str(e))[:120]}") \
            from None
    for n, row in enumerate(rows, 2):
        if not _metrics_row(row):
            raise SpeccError(f"{path}:{n}: not a metrics row (epoch and step are counts, the "
                             "other fields numbers)")
    return rows


MAX_METRICS_BYTES = 1 << 26  # 64 MiB: a million evaluations


def _metrics_row(row: dict) -> bool:
    def count(v):
        return isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 19

    def number(v):
        try:
            float(v)
            return True
        except (TypeError, ValueError):
            return False
    return count(row.get("epoch")) and (row.get("step") in (None, "") or count(row["step"])) \
        and all(row.get(k) in (None, "") or number(row[k]) for k in row
                if k not in FIELDS[:2])  # every column after the two counts
