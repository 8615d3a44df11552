"""The one gate for files specc did not just write itself, and the way outputs are written.

Every reader of a user's file (specs, run folders, checkpoints, ONNX models, arrays, images,
IDX, CIFAR batches, tar shards) opens it here: only regular files (a FIFO, a device or a
socket is refused without blocking: the file is opened with O_NONBLOCK and checked with
fstat), sizes checked before anything is read, what a header claims checked against the
bytes that back it before anything is allocated (`claim`), links resolved and kept inside
a folder where specc promises that (`confined`). Errors name the file, never its bytes; only
specs are ever quoted (specc.lang.parse judges that by the file's real name: `real_name`).

Outputs go through a staging folder beside the target, so that the target is either the
complete new file or untouched, whatever happens (an error, Ctrl-C, SIGKILL)."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import threading
import zlib
from pathlib import Path

from .diagnostics import SpeccError
from .source import printable

STAGING_SUFFIX = ".specc-tmp"
_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
          | getattr(os, "O_CLOEXEC", 0))
# what a stream may decode to, per compressed byte: deflate's own ceiling is 1032:1
DEFLATE_RATIO = 1032


def _shown(path) -> str:
    return printable(os.fsdecode(path) if isinstance(path, bytes) else str(path))


def _not_regular(path, mode: int, what: str) -> SpeccError:
    a = "an" if what[:1].lower() in "aeiou" else "a"
    if stat.S_ISDIR(mode):
        return SpeccError(f"{_shown(path)} is a folder, not {a} {what}")
    return SpeccError(f"{_shown(path)} is not a regular file (a pipe, socket or device); "
                      f"specc reads {a} {what} only from a regular file")


def _os_error(path, e: OSError, what: str) -> SpeccError:
    if isinstance(e, FileNotFoundError):
        return SpeccError(f"no such file: {_shown(path)}")
    if isinstance(e, IsADirectoryError):
        return SpeccError(f"{_shown(path)} is a folder, not a {what}")
    return SpeccError(f"cannot read {_shown(path)}: {e.strerror or type(e).__name__}")


def check_regular(path: str | Path, what: str = "file") -> Path:
    """`path` as a Path after checking that it names a regular file (stat never blocks)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        raise _os_error(path, e if isinstance(e, OSError) else OSError(str(e)), what) from None
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode, what)
    return Path(path)


def folder_named(path: str | Path, what: str) -> Path:
    """A folder the user named (through links), or a clear error: no such folder, a name the
    system cannot take (too long, a link loop), no permission. stat never blocks."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SpeccError(f"{what}: no such folder {_shown(path)}") from None
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else "not a usable name"
        raise SpeccError(f"{what}: cannot use {_shown(path)}: {why}") from None
    if not stat.S_ISDIR(mode):
        raise SpeccError(f"{what}: {_shown(path)} is not a folder")
    return Path(path)


def is_regular(path: str | Path) -> bool:
    """Does `path` (through links) name a regular file? For scans that skip what is not
    one; stat never blocks, and reading still goes through open_regular."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def open_regular(path: str | Path, what: str = "file", limit: int | None = None):
    """(binary file, its size in bytes) of a regular file: opened without blocking (a FIFO
    named like a data file would wait for a writer forever), checked with fstat on the open
    descriptor (so a file swapped after a check cannot slip through), and refused when it
    holds more than `limit` bytes."""
    try:
        fd = os.open(path, _FLAGS)
    except (OSError, ValueError) as e:
        raise _os_error(path, e if isinstance(e, OSError) else OSError(str(e)), what) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode, what)
        if limit is not None and info.st_size > limit:
            raise SpeccError(f"{_shown(path)} holds {info.st_size:,} bytes, more than a {what} "
                             f"may ({limit:,})")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, info.st_size


def read_regular(path: str | Path, what: str = "file", limit: int | None = None) -> bytes:
    """The bytes of a regular file (see open_regular), at most `limit` of them."""
    with open_regular(path, what, limit) as (f, size):
        try:
            data = f.read() if limit is None else f.read(limit + 1)
        except OSError as e:
            raise _os_error(path, e, what) from None
    if limit is not None and len(data) > limit:
        raise SpeccError(f"{_shown(path)} holds more bytes than a {what} may ({limit:,})")
    return data


@contextlib.contextmanager
def pinned(path: str | Path, what: str = "file", limit: int | None = None):
    """(a path naming exactly the file opened and checked here, its size): for libraries
    that open files by name themselves (safetensors, onnx). Where the system offers
    /proc/self/fd, the name is the open descriptor's, so what they open is what was checked."""
    with open_regular(path, what, limit) as (f, size):
        own = f"/proc/self/fd/{f.fileno()}"
        yield (own if os.path.exists(own) else str(path)), size


def read_exact(f, count: int, where: str) -> bytes:
    """`count` bytes from `f` (a count already checked against the file's size)."""
    data = f.read(count)
    if len(data) != count:
        raise SpeccError(f"{where} is truncated ({len(data):,} of {count:,} bytes)")
    return data


def claim(where: str, claimed: int, available: int, limit: int | None = None,
          packed: int | None = None) -> None:
    """Refuse what a header claims (`claimed` bytes) before anything is allocated for it:
    more than the bytes that back it (`available`; for a compressed stream of `packed` bytes,
    the most those can expand to: unpacked_limit), or more than `limit`."""
    if claimed > available:
        held = (f"{packed:,} compressed bytes, which expand to at most {available:,}"
                if packed is not None else f"{available:,} bytes")
        raise SpeccError(f"{where}: its header claims {claimed:,} bytes but the file holds "
                         f"{held}")
    if limit is not None and claimed > limit:
        raise SpeccError(f"{where}: its header claims {claimed:,} bytes, more than specc reads "
                         f"from one file ({limit:,})")


def unpacked_limit(packed: int) -> int:
    """The most `packed` bytes of a deflate (gzip, zip) stream can expand to."""
    return packed * DEFLATE_RATIO + 1024


DECODE_ERRORS = (OSError, EOFError, zlib.error, ValueError)  # gzip, zlib, tarfile, zipfile


def decode_failure(where: str, e: BaseException) -> SpeccError:
    """A third-party decoder's failure on a user's file, as one line naming the file."""
    text = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror
    return SpeccError(f"cannot read {where}: {printable(text)}")


def confined(path: str | Path, root: str | Path, what: str = "file") -> Path:
    """`path` with its links resolved, refused unless it lies inside `root` (itself resolved):
    a run folder's spec copy that is a link to /etc/passwd is not read."""
    try:
        real, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    except (OSError, ValueError):  # a NUL in the name
        raise SpeccError(f"{_shown(path)} is not a usable file name") from None
    if real != top and top not in real.parents:
        raise SpeccError(f"{_shown(path)} leads outside {_shown(root)} (a link or '..'); "
                         f"specc reads a {what} there only from inside it")
    return real


def real_name(path: str | Path) -> str:
    """The name of the file `path` finally leads to (through links): what decides whether a
    file is a spec that may be quoted, not the name of a link to it."""
    try:
        return os.path.basename(os.path.realpath(path))
    except (OSError, ValueError):
        return os.path.basename(str(path))


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
    tmp, n, made = Path(f"{base}{STAGING_SUFFIX}"), 0, None
    try:
        # a Ctrl-C during the mkdir waits for it, and is raised at the end of this block:
        # inside the try, so the folder it made is removed below
        with signals_held():
            while True:
                try:
                    tmp.mkdir()
                    made = tmp
                    break
                except FileExistsError:
                    n += 1
                    tmp = Path(f"{base}.{n}{STAGING_SUFFIX}")
                except OSError as e:
                    raise SpeccError(f"cannot write to {folder}: {e.strerror or e}") from None
        yield made
    finally:
        if made is not None:
            with signals_held():  # a Ctrl-C during the removal would leave half the folder
                shutil.rmtree(made, ignore_errors=True)


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


def replace_atomically(path: str | Path, write) -> None:
    """Write `path` by `write(tmp)` into a fresh file beside it (created exclusively, so a
    FIFO or a link planted under a temporary's name is never opened) and rename it over
    `path`: the target is the complete new file or untouched."""
    import tempfile
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the output is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def same_file(a: str | Path, b: str | Path) -> bool:
    """Do `a` and `b` name the same file (through links, `..` or hard links)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        try:
            return Path(a).resolve() == Path(b).resolve()
        except (OSError, RuntimeError):
            return False
