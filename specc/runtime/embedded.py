"""The network an exported model carries, rebuilt from its metadata (its spec files, by
relative name, checked against their hash): `specc bench` needs no spec file.

A model may come from a stranger, and everything in its metadata is untrusted input: before
anything is written or built, the spec files' names are checked as path segments (no NUL,
no `..`, no name that is both a file and a folder, none longer than a file system takes),
every field has its type (text where text belongs, a name where a name belongs), sizes have
limits, the entry's sha256 matches, its inputs and outputs must be the graph's, and what is
rebuilt is the network's inference view (what the export wrote), within budgets measured on
the graph the file ships with: its parameters no more than the weights the file stores, its
values per sample no more than twice what the graph computes. Nothing is allocated before
all of this holds."""
from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path

from ..compile.embed import sha256
from ..compile.pipeline import UnknownOverride
from .. import passes
from ..core.defaults import MAX_PARAMS
from ..core.diagnostics import SpeccError
from ..core.source import printable
from ..lang.parse import MAX_SPEC_BYTES
from ..network import Network, load
from .model import describe_spec, input_specs
from .graph_size import graph_activations, stored_values

MAX_FILES = 256  # files of one embedded spec (ResNet's has 2)
MAX_SEGMENT_BYTES = 255  # a file or folder name, as file systems take it
MAX_NAME_CHARS = 1024  # a relative name in all
MAX_OVERRIDES = 256
PARAM_SLACK = 1024  # parameters the export may store differently (beside one-value counters)
ACTIVATION_SLACK = 1_000_000  # values per sample beside twice the graph's


class EmbeddedError(SpeccError):
    """The spec a model carries is damaged or does not describe the model's graph."""


def load_embedded(meta: dict, model=None, path: str = "model", max_params: int | None = None):
    """The Network an exported model was made from, rebuilt from its metadata; None when the
    model carries no spec (made by another tool, or by an older specc). `model`: the
    ModelProto the metadata came from, whose graph the network must match."""
    if "specc.spec_files" not in meta and "specc.spec" not in meta:
        return None
    where = printable(str(path))
    files, entry, network, overrides = checked_fields(meta, where)
    with tempfile.TemporaryDirectory(prefix="specc-spec-") as tmp:
        root = Path(tmp)
        for name, text in files.items():
            target = root.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            net = load(root / entry, network, max_params=max_params or MAX_PARAMS,
                       overrides=overrides or None)
        except UnknownOverride as e:
            raise EmbeddedError(f"{where}: its spec's --set values do not fit it: {e.message}")
        except SpeccError as e:
            raise EmbeddedError(f"{where}: the spec it carries does not check", notes=tuple(
                printable(x.render().replace(str(root) + "/", "").splitlines()[0])[:600]
                for x in e.errors[:4]))  # each error's located first line
    inference = Network(passes.run(net.graph, passes.INFERENCE))
    if model is not None:
        same_interface(inference, model, where)
        within_budgets(inference, model, path, where)
    return inference


def checked_fields(meta: dict, where: str) -> tuple[dict, str, str | None, dict]:
    """(files, entry, network, overrides), each of its type and within its limits."""
    files, entry = meta.get("specc.spec_files"), meta.get("specc.spec")
    if not isinstance(files, dict) or not 0 < len(files) <= MAX_FILES:
        raise EmbeddedError(f"{where}: specc.spec_files must map 1 to {MAX_FILES} file names "
                            "to their text")
    total = 0
    for name, text in files.items():
        problem = name_problem(name)
        if problem:
            raise EmbeddedError(f"{where}: spec file name {printable(repr(name[:80]))}: {problem}")
        if not isinstance(text, str):
            raise EmbeddedError(f"{where}: spec file {printable(name)} holds "
                                f"{type(text).__name__}, not text")
        total += len(text.encode("utf-8", "surrogatepass"))
        if total > MAX_SPEC_BYTES:
            raise EmbeddedError(f"{where}: its spec files hold more than {MAX_SPEC_BYTES:,} bytes")
    clash = folders_and_files(files)
    if clash:
        raise EmbeddedError(f"{where}: {printable(clash)} names a spec file and a folder")
    if not isinstance(entry, str) or entry not in files:
        raise EmbeddedError(f"{where}: specc.spec must name one of its spec files")
    recorded = meta.get("specc.spec_sha256")
    if recorded not in (None, "") and recorded != sha256(files[entry]):
        raise EmbeddedError(f"{where}: the spec it carries does not match its recorded sha256 "
                            "(edited after export?)")
    network = meta.get("specc.network")
    if network is not None and not (isinstance(network, str) and network.isidentifier()
                                    and len(network) <= 256):
        raise EmbeddedError(f"{where}: specc.network must be a network's name")
    overrides = meta.get("specc.overrides") or {}
    if not (isinstance(overrides, dict) and len(overrides) <= MAX_OVERRIDES and all(
            isinstance(k, str) and k.isidentifier() and len(k) <= 256 and isinstance(v, str)
            and 0 < len(v) <= 100_000 for k, v in overrides.items())):
        raise EmbeddedError(f"{where}: specc.overrides must map parameter names to spec "
                            "expressions (text)")
    return files, entry, network, overrides


def name_problem(name) -> str | None:
    """Why `name` is not a relative spec file name made of safe path segments, or None."""
    if not isinstance(name, str):
        return "not text"
    if not name or len(name) > MAX_NAME_CHARS:
        return f"empty or longer than {MAX_NAME_CHARS} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name:
        return "holds a control character or a backslash"
    parts = name.split("/")
    if ".." in parts:
        return "'..' would leave the spec's folder"
    if name.startswith("/") or posixpath.normpath(name) != name or "" in parts or "." in parts:
        return "not a plain relative path (absolute, '.' or '//')"
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for p in parts):
        return f"a file or folder name longer than {MAX_SEGMENT_BYTES} bytes"
    if not name.endswith(".net"):
        return "a spec file name ends in .net"
    return None


def folders_and_files(files: dict) -> str | None:
    """A name that is both a file and a folder of another name (`a.net`, `a.net/b.net`)."""
    folders = {posixpath.dirname(n) for n in files}
    folders |= {posixpath.dirname(f) for f in folders if f}
    while True:
        more = {posixpath.dirname(f) for f in folders if f} - folders
        if not more:
            break
        folders |= more
    return next((n for n in files if n in folders), None)


def within_budgets(net, model, path, where: str) -> None:
    """The network holds no more parameters than the weights the file stores (each tensor
    of one value, such as a batch-norm counter, aside) and computes no more than twice the
    values per sample that the graph does."""
    graph = net.graph
    params = sum(p.numel for p in graph.params.values())
    stored = stored_values(model, path)
    if params > stored + len(graph.params) + PARAM_SLACK:
        raise EmbeddedError(f"{where}: the spec it carries holds {params:,} parameters, but the "
                            f"model stores {stored:,} weights")
    measured = graph_activations(model)
    values = sum(_at_ones(v.type.per_sample()) for v in graph.values.values())
    if measured is not None and values > 2 * measured + ACTIVATION_SLACK:
        raise EmbeddedError(f"{where}: the spec it carries computes {values:,} values per "
                            f"sample, but the model's graph {measured:,}")


def _at_ones(n) -> int:
    """A per-sample count with every open size at 1, as graph_activations counts the
    model's symbolic dims (a formula cannot be compared with a number for every size)."""
    if isinstance(n, int):
        return n
    try:
        return max(int(n.evaluate({name: 1 for name in n.names()})), 0)
    except (ValueError, ZeroDivisionError):
        return 0


def same_interface(net, model, where: str) -> None:
    """The network's inputs and (exported) outputs are the graph's: names, dtypes, shapes."""
    graph = net.graph
    ours = [(n, str(graph.values[n].type)) for n in graph.inputs]
    theirs = [(n, describe_spec(dims, elem)) for n, dims, elem in input_specs(model)]
    _same("inputs", ours, theirs, where)
    dropped = set(graph.meta.get("train_outputs", []))
    ours = [(n, str(graph.values[v].type)) for n, v in graph.outputs.items() if n not in dropped]
    theirs = [(o.name, describe_spec(_dims(o), o.type.tensor_type.elem_type))
              for o in model.graph.output]
    _same("outputs", ours, theirs, where)


def _dims(value) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value.type.tensor_type.shape.dim]


def _same(what: str, ours: list, theirs: list, where: str) -> None:
    if ours != theirs:
        def show(items):
            return ", ".join(f"{printable(n[:80])}: {t}" for n, t in items[:8]) or "none"
        raise EmbeddedError(f"{where}: the spec it carries does not describe its graph: "
                            f"{what} differ", notes=(f"the spec's: {show(ours)}",
                                                     f"the graph's: {show(theirs)}"))
