"""Predictions written in checkpointed chunks, so a killed job loses at most the chunk in flight.

While a job runs, its rows go to a work folder beside the output, `.OUT.specc-predict/`: each
chunk is one part file (written under a temporary name, then renamed), and `progress.json`
(replaced atomically after each part) says how many items are done and which parts hold
them. A resumed job drops any part that progress.json does not list and continues after the
last item done, so no row is written twice. When every item is done the parts are joined into
the output (through a staging folder and a rename: the output is complete or absent) and the
work folder is removed.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..core.files import staging

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}
WORK_SUFFIX = ".specc-predict"
MAX_LISTED = 1000  # unreadable items named in progress.json (all are counted)


def format_of(out: Path, given: str | None) -> str:
    if given:
        return given
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise SpeccError(f"--out {out}: cannot tell the format from '{out.suffix}'",
                         notes=("name it .parquet, .csv or .jsonl, or give --format",))
    return fmt


class PredictionWriter:
    def __init__(self, out: Path, fmt: str, job: dict, resume: bool, force: bool):
        self.out, self.fmt, self.job = out, fmt, job
        self.work = out.parent / f".{out.name}{WORK_SUFFIX}"
        self.done, self.parts, self.skipped, self.bad = 0, [], 0, []
        self.finished = False
        self.kinds: dict = {}  # column -> str, int, float, floats (Parquet's types)
        if fmt == "parquet":
            _pyarrow()
        if self.work.exists():
            if force:
                shutil.rmtree(self.work)
            elif resume:
                self._resume()
            else:
                raise SpeccError(f"an unfinished prediction job into {out} is in {self.work}",
                                 notes=("--resume continues it; --force starts over",))
        elif resume and out.exists():
            self.finished = True  # a finished job: nothing to do
            return
        elif out.exists() and not force:
            raise SpeccError(f"{out} exists; refusing to overwrite it",
                             notes=("--force writes over it; --resume continues an "
                                    "interrupted job",))
        if not self.work.exists():
            self.work.mkdir()
            self._save()

    def _resume(self) -> None:
        try:
            state = json.loads((self.work / "progress.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SpeccError(f"cannot resume from {self.work}: its progress.json is "
                             f"unreadable ({e})", notes=("--force starts over",)) from None
        differ = [k for k in self.job if state.get("job", {}).get(k) != self.job[k]]
        if differ:
            raise SpeccError(f"--resume: the interrupted job into {self.out} had another "
                             f"{', '.join(differ)}", notes=("--force starts over",))
        self.done, self.parts = int(state["done"]), list(state["parts"])
        self.skipped, self.bad = int(state["skipped"]), list(state["bad"])
        keep = set(self.parts) | {"progress.json"}
        for f in self.work.iterdir():  # the chunk in flight when the job was killed
            if f.name not in keep:
                f.unlink()

    def _save(self) -> None:
        state = {"job": self.job, "done": self.done, "parts": self.parts,
                 "skipped": self.skipped, "bad": self.bad}
        tmp = self.work / "progress.json.tmp"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        _sync(tmp)
        os.replace(tmp, self.work / "progress.json")

    def append(self, columns: dict, done: int, bad: list) -> None:
        """A chunk: `columns` (name -> list of values, one per row) for the items up to
        `done` (exclusive), of which `bad` [(key, why)] could not be read."""
        if any(len(v) for v in columns.values()):
            name = f"part-{len(self.parts):06d}.{self.fmt}"
            tmp = self.work / (name + ".tmp")
            _write_part(tmp, self.fmt, columns, self.kinds)
            _sync(tmp)
            os.replace(tmp, self.work / name)
            self.parts.append(name)
        self.done = done
        self.skipped += len(bad)
        self.bad += [list(b) for b in bad][:max(0, MAX_LISTED - len(self.bad))]
        self._save()

    def finish(self, header: list[str]) -> None:
        """Join the parts into the output and remove the work folder."""
        with staging(self.out) as tmp:
            staged = tmp / self.out.name
            _join(staged, self.fmt, [self.work / p for p in self.parts], header, self.kinds)
            os.replace(staged, self.out)
        shutil.rmtree(self.work, ignore_errors=True)


def _sync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise SpeccError("Parquet output needs pyarrow", notes=(
            "pip install 'specc[deploy]' (or pyarrow), or write .csv or .jsonl",)) from None
    return pq


def _schema(kinds: dict):
    import pyarrow as pa
    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(),
             "floats": pa.list_(pa.float32())}
    return pa.schema([(k, types[v]) for k, v in kinds.items()])


def _write_part(path: Path, fmt: str, columns: dict, kinds: dict) -> None:
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    if fmt == "parquet":
        import pyarrow as pa
        _pyarrow().write_table(pa.table(columns, schema=_schema(kinds)), path)
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(json.dumps({k: columns[k][i] for k in names}) + "\n")
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for i in range(n):
            w.writerow([_cell(columns[k][i]) for k in names])
        path.write_text(buf.getvalue(), encoding="utf-8")


def _cell(v):
    if isinstance(v, list):  # logits in a CSV cell: space-separated numbers
        return " ".join(repr(float(x)) for x in v)
    return v


def _join(target: Path, fmt: str, parts: list[Path], header: list[str], kinds: dict) -> None:
    if fmt == "parquet":
        pq = _pyarrow()
        with pq.ParquetWriter(target, _schema(kinds)) as writer:
            for p in parts:  # one part in memory at a time
                writer.write_table(pq.read_table(p))
        return
    with open(target, "wb") as out:
        if fmt == "csv":
            out.write((",".join(header) + "\n").encode())
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
