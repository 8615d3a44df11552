"""Files the user owns: read only regular files (a FIFO or a device would block or never end),
and write outputs through a staging folder beside the target, so that the target is either the
complete new file or untouched, whatever happens (an error, Ctrl-C, SIGKILL)."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import threading
from pathlib import Path

from .diagnostics import SpeccError

STAGING_SUFFIX = ".specc-tmp"


def check_regular(path: str | Path, what: str = "file") -> Path:
    """`path` as a Path after checking that it names a regular file (stat never blocks)."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise SpeccError(f"no such file: {path}") from None
    except OSError as e:
        raise SpeccError(f"cannot read {path}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise SpeccError(f"{path} is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        raise SpeccError(f"{path} is not a regular file (a pipe, socket or device); "
                         f"specc reads a {what} only from a regular file")
    return p


def read_regular(path: str | Path, what: str = "file", limit: int | None = None) -> bytes:
    """The bytes of a regular file, opened without blocking and checked after opening."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SpeccError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise SpeccError(f"{path} is a folder, not a {what}") from None
    except OSError as e:
        raise SpeccError(f"cannot read {path}: {e.strerror or e}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SpeccError(f"{path} is a folder, not a {what}")
        raise SpeccError(f"{path} is not a regular file (a pipe, socket or device); "
                         f"specc reads a {what} only from a regular file")
    with os.fdopen(fd, "rb") as f:
        if limit is not None and info.st_size > limit:
            raise SpeccError(f"{path} holds {info.st_size:,} bytes, more than a {what} may "
                             f"({limit:,})")
        try:
            data = f.read() if limit is None else f.read(limit + 1)
        except OSError as e:
            raise SpeccError(f"cannot read {path}: {e.strerror or e}") from None
        if limit is not None and len(data) > limit:
            raise SpeccError(f"{path} holds more bytes than a {what} may ({limit:,})")
        return data


# ------------------------------------------------------------------------------- outputs
def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists; it belongs to someone else
    except OSError:
        return False
    return True


def clean_stale(folder: Path, name: str) -> list[Path]:
    """Remove staging folders for `name` left by processes that no longer run (a killed
    export); those of running processes stay. Returns what was removed."""
    removed = []
    prefix = f".{name}."
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(STAGING_SUFFIX)):
            continue
        pid_text = entry.name[len(prefix):-len(STAGING_SUFFIX)].split(".")[0]
        if pid_text.isdigit() and not _alive(int(pid_text)) and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def staging(target: str | Path):
    """A fresh folder beside `target` (same file system, so a rename is atomic), named after
    this process; stale ones of dead processes are removed first. Removed on exit."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    clean_stale(folder, target.name)
    base = folder / f".{target.name}.{os.getpid()}"
    tmp, n = Path(f"{base}{STAGING_SUFFIX}"), 0
    with signals_held():  # a Ctrl-C between mkdir and the try below would leave the folder
        while True:
            try:
                tmp.mkdir()
                break
            except FileExistsError:
                n += 1
                tmp = Path(f"{base}.{n}{STAGING_SUFFIX}")
            except OSError as e:
                raise SpeccError(f"cannot write to {folder}: {e.strerror or e}") from None
    try:
        yield tmp
    finally:
        with signals_held():  # a Ctrl-C during the removal would leave half the folder
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait until the block is done and are raised right after it, to the
    handlers they would have reached (so Ctrl-C still stops the command, just not halfway
    through creating or removing a staging folder). A Python handler, not a signal mask: a
    process-directed signal reaches whichever thread does not block it (torch and
    onnxruntime run their own). Only the main thread can install handlers; elsewhere, and
    where a handler was set outside Python (it could not be put back), a no-op."""
    names = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or \
            any(signal.getsignal(s) is None for s in names):
        yield
        return
    caught: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in names}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])


def same_file(a: str | Path, b: str | Path) -> bool:
    """Do `a` and `b` name the same file (through links, `..` or hard links)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return Path(a).resolve() == Path(b).resolve()
        except (OSError, RuntimeError):
            return False
