"""Reading WebDataset tar shards: where they are, opening them, and their samples.

A shard is opened by specc itself, never by webdataset's `gopen` (which opens `pipe:` with a
shell, reads standard input for `-`, and runs curl for URLs): a local path through the file
gate (regular files only, without blocking), an http(s) URL with urllib (no process; only
when the user typed it), and a `pipe:` command with webdataset's own pipe opener only when
the user typed it and added --allow-pipe (specc.recipes.sources says what each origin may
name). webdataset groups the members into samples (`group_by_keys`). Every member's size is
checked before it is read: at most MAX_MEMBER_BYTES (a `.cls` label at most
MAX_LABEL_BYTES), and within a local shard's real size; labels lie in [0, MAX_CLASSES)."""
from __future__ import annotations

import contextlib
import os
import tarfile
from pathlib import Path

from ..core.defaults import MAX_CLASSES
from ..core.diagnostics import SpeccError
from ..core.files import DECODE_ERRORS, decode_failure, open_regular
from ..core.images import IMAGE_EXTS
from ..core.source import printable
from ..recipes.sources import FILE, WEB, Trust, scheme, source_problem
from .images import MAX_IMAGE_BYTES

LABEL_EXT = "cls"
MAX_SHARDS = 100_000  # shards one pattern may expand to (ImageNet in 1,024 is usual)
MAX_MEMBER_BYTES = MAX_IMAGE_BYTES
MAX_LABEL_BYTES = 64  # a class index in ASCII digits
WEB_TIMEOUT_S = 60


def shard_urls(arg: str, trust: Trust = FILE) -> tuple[list[str], list[str]]:
    """(training shards, validation shards or [])."""
    if not arg:
        raise SpeccError("data set 'webdataset' needs shards: --data webdataset:PATH_OR_PATTERN")
    p = Path(arg)
    if os.path.isdir(arg):  # os.path's tests never raise (a name too long is no folder)
        def find(name):
            return sorted(str(f) for f in p.glob(f"{name}*.tar")) or \
                sorted(str(f) for f in (p / name).glob("*.tar"))
        train, val = find("train"), find("val") or find("test")
        if not train and not val:
            train = sorted(str(f) for f in p.glob("*.tar"))
        if not train:
            raise SpeccError(f"webdataset: no .tar shards in {printable(arg)}",
                             notes=("expected train*.tar (and val*.tar), train/ and val/ "
                                    "folders of shards, or *.tar",))
        return train, val
    urls = expand(arg)
    for url in urls:  # braces may spell a scheme the pattern did not show whole
        problem = source_problem(f"webdataset:{url}", trust)
        if problem:
            raise SpeccError(f"webdataset: shard {printable(url[:200])}: {problem}")
    if len(urls) == 1 and scheme(urls[0]) is None and not os.path.lexists(urls[0]):
        raise SpeccError(f"webdataset: cannot open shard {printable(urls[0])}: no such file")
    return urls, []


def expand(pattern: str) -> list[str]:
    """webdataset's shard pattern (`::`-joined parts, each brace-expanded) without its
    environment-variable substitution (a spec must not read the environment), at most
    MAX_SHARDS shards, counted before any is made (braceexpand builds every range and
    alternative of a part in full before it yields the first name)."""
    import braceexpand
    parts = pattern.split("::")
    try:
        total = sum(expansion_size(part) for part in parts)
    except (ValueError, RecursionError):
        total = None
    if total is None or total > MAX_SHARDS:
        raise SpeccError(f"webdataset: the pattern {printable(pattern[:200])} "
                         + ("expands to more than " if total else "is not a pattern of at most ")
                         + f"{MAX_SHARDS:,} shards")
    try:
        return [url for part in parts for url in braceexpand.braceexpand(part)]
    except ValueError as e:  # braceexpand's UnbalancedBracesError
        raise SpeccError(f"webdataset: the pattern {printable(pattern[:200])}: {e}") from None


def expansion_size(pattern: str, depth: int = 0) -> int:
    """How many names braceexpand makes of `pattern`, counted the way it parses (a product of
    literals, ranges and comma alternatives; escapes with a backslash), capped just above
    MAX_SHARDS. Raises ValueError for unbalanced braces or nesting beyond 50 levels."""
    if depth > 50:
        raise ValueError("braces nest too deeply")
    size, start, level, pos = 1, 0, 0, 0
    while pos < len(pattern):
        c = pattern[pos]
        if c == "\\":
            pos += 2
            continue
        if c == "{":
            start = pos if level == 0 else start
            level += 1
        elif c == "}":
            level -= 1
            if level == 0:
                size = min(size * _expression_size(pattern[start + 1:pos], depth),
                           MAX_SHARDS + 1)
        pos += 1
    if level:
        raise ValueError("unbalanced braces")
    return size


def _expression_size(expr: str, depth: int) -> int:
    import braceexpand as b
    m = b.int_range_re.match(expr)
    if m:
        first, last, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1) or 1
        return abs(last - first) // step + 1
    m = b.char_range_re.match(expr)
    if m:
        return len(b.make_char_range(*m.groups()))
    parts, start, level, pos = [], 0, 0, 0
    while pos < len(expr):
        c = expr[pos]
        if c == "\\":
            pos += 2
            continue
        level += (c == "{") - (c == "}")
        if c == "," and level == 0:
            parts.append(expr[start:pos])
            start = pos + 1
        pos += 1
    if level or not parts:  # not alternatives: the braces stay, around what is inside
        return expansion_size(expr, depth + 1)
    return min(sum(expansion_size(p, depth + 1) for p in parts + [expr[start:]]),
               MAX_SHARDS + 1)


@contextlib.contextmanager
def open_shard(url: str, trust: Trust):
    """(a binary stream of the shard, its size in bytes or None when streamed)."""
    kind = scheme(url)
    problem = source_problem(f"webdataset:{url}", trust)
    if problem:  # checked again where it is opened, whatever the caller checked
        raise SpeccError(f"webdataset: shard {printable(url[:200])}: {problem}")
    if kind is None:
        with open_local(url) as opened:
            yield opened
        return
    if kind in WEB:
        import urllib.request
        try:
            stream = urllib.request.urlopen(url, timeout=WEB_TIMEOUT_S)  # noqa: S310 - http(s) only
        except (OSError, ValueError) as e:
            raise SpeccError(f"webdataset: cannot open shard {printable(url)}: "
                             f"{printable(str(getattr(e, 'reason', e)))[:160]}",
                             notes=("is the address reachable from here?",)) from None
    else:  # `pipe:`, which the user typed and allowed
        from webdataset.gopen import gopen_pipe
        stream = gopen_pipe(url)
    try:
        yield stream, None
    except BaseException:
        with contextlib.suppress(OSError):
            stream.close()
        raise
    try:
        stream.close()  # a `pipe:` command's exit status is known here
    except OSError as e:
        raise decode_failure(f"shard {printable(url[:200])}",
                             OSError(f"the command failed ({str(e).rpartition('): ')[2][:60]})")
                             ) from None


def open_local(path: str):
    """A local shard through the file gate: (file, size)."""
    if not os.path.lexists(path):
        raise SpeccError(f"webdataset: cannot open shard {printable(path)}: no such file")
    return open_regular(path, "tar shard")


def members(stream, size: int | None, url: str):
    """{fname, data, __url__} of each regular member in order (what webdataset's grouping
    takes), each member's size checked before it is read."""
    where = printable(url)
    try:
        # a local shard is a plain tar (as counting it by random access needs); a streamed
        # one may be compressed
        tar = tarfile.open(fileobj=stream, mode="r|" if size is not None else "r|*")
        for info in tar:
            if info.isreg():
                check_member(info, size, where)
                yield {"fname": info.name, "data": tar.extractfile(info).read(), "__url__": url}
                tar.members = []  # a stream's members list would grow with the shard
    except SpeccError:
        raise
    except (tarfile.TarError, *DECODE_ERRORS) as e:
        raise decode_failure(f"shard {where}", e) from None


def check_member(info: tarfile.TarInfo, size: int | None, where: str) -> None:
    label = info.name.rpartition("/")[2].partition(".")[2].lower() == LABEL_EXT
    limit = MAX_LABEL_BYTES if label else MAX_MEMBER_BYTES
    if info.size > limit or (size is not None and info.offset_data + info.size > size):
        held = f"; the shard holds {size:,}" if size is not None else ""
        raise SpeccError(f"webdataset: {where}: member {printable(info.name[:200])} claims "
                         f"{info.size:,} bytes{held} (a {'label' if label else 'member'} is at "
                         f"most {limit:,})")


def read_samples(url: str, trust: Trust = FILE):
    """(key, image bytes, label) of every complete sample of one shard, in order: grouped
    into samples by webdataset itself."""
    from webdataset.tariterators import group_by_keys
    with open_shard(url, trust) as (stream, size):
        try:
            for sample in group_by_keys(members(stream, size, url)):
                parts = {k.lower(): v for k, v in sample.items() if not k.startswith("__")}
                ext = image_ext(parts)
                if LABEL_EXT in parts and ext is not None:
                    key = sample["__key__"]
                    yield key, parts[ext], label(parts[LABEL_EXT], url, key)
        except SpeccError:
            raise
        except ValueError as e:  # a member's name twice in one sample
            raise decode_failure(f"shard {printable(url)}", e) from None


def image_ext(parts: dict):
    return next((e for e in IMAGE_EXTS if e in parts), None)


def label(data: bytes, url: str, key: str) -> int:
    """A `.cls` member's class index, in [0, MAX_CLASSES)."""
    try:
        value = int(data.decode("ascii").strip())
    except ValueError:
        value = None
    if value is None or not 0 <= value < MAX_CLASSES:
        raise SpeccError(f"webdataset: {printable(url)}: {printable(key[:200])}.cls is not a "
                         f"class index from 0 to {MAX_CLASSES - 1:,}")
    return value


def _split(name: str) -> tuple[str, str]:
    folder, _, file = name.rpartition("/")
    stem, _, ext = file.partition(".")
    return (folder + "/" + stem if folder else stem), ext.lower()


def local_labels(path: str):
    """(key, None, label) of a local shard, reading headers and labels only: the tar is
    opened for random access, so the images are seeked past, never read."""
    where = printable(path)
    exts: dict = {}
    labels: dict = {}
    with open_local(path) as (f, size):
        try:
            with tarfile.open(fileobj=f, mode="r:") as tar:
                for member in tar:
                    if not member.isreg():
                        continue
                    check_member(member, size, where)
                    base, ext = _split(member.name)
                    exts.setdefault(base, set()).add(ext)
                    if ext == LABEL_EXT:
                        labels[base] = tar.extractfile(member).read()
                    tar.members = []
        except SpeccError:
            raise
        except (tarfile.TarError, *DECODE_ERRORS) as e:
            raise decode_failure(f"shard {where}", e) from None
    for key, found in exts.items():
        if key in labels and any(e in found for e in IMAGE_EXTS):
            yield key, None, label(labels[key], path, key)
