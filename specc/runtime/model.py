"""Reading exported models and feeding them: metadata, inputs from files, shape checks.

Every file is the user's, and may be anything; each is opened through the file gate
(specc.core.files: regular files only, never waited on): .npy headers are checked against
the file's size before an array is allocated, .npz members against what their compressed
bytes can expand to (a zip bomb declares sizes it cannot back), objects (pickles) are
refused, and images beyond Pillow's decompression-bomb limit are refused with the figure."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.dtypes import from_onnx, numpy_dtype
from ..core.files import claim, open_regular, pinned, unpacked_limit
from ..core.images import is_image
from ..core.source import printable
from .graph_size import stored_values

MAX_MODEL_BYTES = 2 ** 31  # protobuf's own limit: larger models keep their weights outside
MAX_INPUT_BYTES = 2 ** 32  # one input array (4 GiB)


def read_model(path: str):
    import onnx
    from google.protobuf.message import DecodeError
    shown = printable(str(path))
    with pinned(path, "model") as (own, size):
        if size > MAX_MODEL_BYTES:
            raise SpeccError(f"{shown} is larger than an ONNX model file can be (2 GiB); a "
                             "large model keeps its weights in an external data file")
        try:
            model = onnx.load(own, load_external_data=False)
        except (DecodeError, ValueError, RuntimeError, OSError) as e:
            why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
            raise SpeccError(f"{shown} is not a readable ONNX model (truncated or corrupt?): "
                             f"{printable(why)}") from None
    if not model.graph.node or not model.graph.input:
        raise SpeccError(f"{shown} is not an ONNX model (no graph)")
    stored_values(model, path)  # every weight backed by bytes; external data beside the model
    return model


def metadata(model) -> dict:
    """specc's metadata, each value checked for the type specc reads it as: a model from
    elsewhere (or edited) may hold anything there."""
    out = {}
    for prop in model.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except (ValueError, RecursionError):
            out[prop.key] = prop.value
    pre = out.get("specc.preprocessing")
    out["specc.preprocessing"] = {k: v for k, v in pre.items() if k in ("pixel_range", "mean",
                                  "std") and _numbers(v)} if isinstance(pre, dict) else {}
    out["specc.eval"] = _eval_record(out.get("specc.eval"))
    labels = out.get("specc.labels")
    out["specc.labels"] = [printable(x) for x in labels] if isinstance(labels, list) and all(
        isinstance(x, str) for x in labels) else []
    out["specc.assumes"] = _assumes(out.get("specc.assumes"))
    sizes = out.get("specc.sizes")
    out["specc.sizes"] = {k: v for k, v in sizes.items() if isinstance(k, str) and len(k) < 64
                          and isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2 ** 31
                          } if isinstance(sizes, dict) else {}
    return out


def _eval_record(v) -> dict | None:
    """The recipe's evaluation transform as the model states it, if it names a registered
    evaluation transform with known parameters of plain values; else None."""
    from ..recipes.augment import AUGMENTATIONS
    if not isinstance(v, dict) or not isinstance(v.get("name"), str):
        return None
    entry = AUGMENTATIONS.get(v["name"])
    if entry is None or not entry.evaluation or set(v) - {"name", *entry.params}:
        return None
    if any(not (x is None or (isinstance(x, int) and not isinstance(x, bool) and 0 < x < 2 ** 16))
           for k, x in v.items() if k != "name"):
        return None
    return dict(v)


def input_spec_of(model, views: tuple = (), trust=None):
    """What the model's first input wants, as a data set reader takes it: per-sample shape
    (an open size at the size the model states, else None), the recipe's pixel range, mean and std, its output width, and its evaluation transform
    (`views` replaces it: ten crops); `trust`: where the data source's name came from
    (specc.recipes.sources; a file's, the strictest, by default). The one place `run --data`, `predict` and int8
    calibration learn how to feed a model."""
    from ..data.registry import InputSpec
    name, dims, _ = input_specs(model)[0]
    meta = metadata(model)
    pre = meta["specc.preprocessing"]
    outs = model.graph.output[0].type.tensor_type.shape.dim if model.graph.output else []
    width = outs[-1].dim_value if len(outs) == 2 and outs[-1].HasField("dim_value") else None
    channels = outs[1].dim_value if len(outs) > 2 and outs[1].HasField("dim_value") else None
    record = meta["specc.eval"]
    sizes = meta["specc.sizes"]  # an open size at the one the model states (its recipe's)
    shape = tuple(sizes.get(d) if isinstance(d, str) else d for d in dims[1:])
    return InputSpec(shape, pre.get("pixel_range"), pre.get("mean"), pre.get("std"),
                     (), width, eval_transform=views or ((record,) if record else ()),
                     out_channels=channels or None,
                     **({} if trust is None else {"trust": trust}))


def _assumes(items) -> list:
    """The network's assumptions on its sizes ([condition, message, where] each): those that
    read as conditions; anything else in a stranger's file is dropped."""
    from ..ir.cond import parse_cond
    if not isinstance(items, list):
        return []
    out = []
    for item in items[:256]:
        if isinstance(item, list) and len(item) == 3 and all(
                isinstance(x, str) and len(x) <= 1000 for x in item):
            try:
                parse_cond(item[0])
            except (ValueError, TypeError, RecursionError):
                continue
            out.append([item[0], printable(item[1]), printable(item[2])])
    return out


def check_sizes(model, feeds: dict, meta: dict) -> None:
    """The feeds' sizes against the network's stated assumptions (T <= 64, H % 32 == 0):
    a clear error before onnxruntime sees them."""
    from ..ir.cond import check_sizes as broken
    if not meta.get("specc.assumes"):
        return
    sizes = {}
    for name, dims, _ in input_specs(model):
        if name in feeds:
            for d, s in zip(dims, feeds[name].shape):
                if isinstance(d, str) and d.isidentifier():
                    sizes.setdefault(d, int(s))
    problem = broken(meta["specc.assumes"], sizes)
    if problem:
        raise SpeccError(f"the inputs do not fit the network: {problem}")


def _numbers(v) -> bool:
    return isinstance(v, list) and 0 < len(v) <= 16 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in v)


def foreign_note(model, path: str) -> str | None:
    """What `run` and `bench` say about a model specc did not write: whose it is, the inputs
    it takes as it declares them, and that its classes have no labels."""
    if any(p.key == "specc.network" for p in model.metadata_props):
        return None
    who = " ".join(x for x in (model.producer_name, model.producer_version) if x) or \
        "another tool"
    ins = ", ".join(f"{n}: {describe_spec(d, e)}" for n, d, e in input_specs(model))
    return (f"{path} was not written by specc (producer: {who}); it takes {ins} as it "
            "declares them, has no labels (classes are shown by index) and no preprocessing "
            "(give inputs ready to feed)")


def input_specs(model) -> list[tuple[str, list, int]]:
    inits = {i.name for i in model.graph.initializer}
    specs = []
    for v in model.graph.input:
        if v.name in inits:
            continue
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        specs.append((v.name, dims, t.elem_type))
    if not specs:
        raise SpeccError("the model has no inputs to feed")
    return specs


def describe_spec(dims, elem) -> str:
    dt = from_onnx(elem) or str(elem)
    return f"{dt}[{', '.join(str(d) for d in dims)}]"


def fit_array(name: str, arr: np.ndarray, dims: list, elem: int,
              source: str | None = None) -> np.ndarray:
    """Check (and batch) one input; wrong shapes or dtypes name what the model expects.
    `source`: the file the array came from, named in the message."""
    want = numpy_dtype(from_onnx(elem) or "f32")
    if arr.ndim == len(dims) - 1:
        arr = arr[None]
    expected = describe_spec(dims, elem)
    if arr.ndim != len(dims) or any(isinstance(d, int) and d > 0 and d != s
                                    for d, s in zip(dims, arr.shape)):
        raise SpeccError(f"input '{name}' expects {expected}, got an array of shape "
                         f"{list(arr.shape)}")
    problem = dtype_problem(name, elem, arr.dtype, source)
    if problem:
        raise problem
    return arr.astype(want, copy=False)


KINDS = {"f": "floating point", "i": "integer", "u": "integer", "b": "bool"}
CONVERT = {"floating point": "x.astype(np.float32)", "integer": "x.astype(np.int64)",
           "bool": "x.astype(bool)"}


def dtype_problem(name: str, elem: int, got, source: str | None = None) -> SpeccError | None:
    """An array of another kind of number than the input's (floats for integer indices,
    integers for floats, anything for bool, or bool for numbers), as an error naming the
    input, both dtypes and the conversion; None when the array's values keep their meaning
    (any float to a float input, any integer to an integer input: cast as numpy casts)."""
    spec = from_onnx(elem) or "f32"
    want_kind = KINDS.get(numpy_dtype(spec).kind, "floating point")
    got = np.dtype(got)
    got_kind = KINDS.get(got.kind, str(got))
    if want_kind == got_kind:
        return None
    held = f"{printable(source)} holds" if source else "the array is"
    how = CONVERT[want_kind]
    if want_kind == "integer" and got_kind == "floating point":
        how = f"x.round().astype(np.int64) if the values are whole numbers ({how} truncates)"
    shown = f"{got} ({got_kind})" if got_kind != str(got) else str(got)
    return SpeccError(f"input '{name}' is {spec} in the spec ({want_kind}), but {held} "
                      f"{shown}; specc does not convert between kinds of number",
                      notes=(f"convert the array first, e.g. {how}, and save it again",))


def load_inputs(files: list[str], model, notes: list | None = None) -> dict[str, np.ndarray]:
    """The feeds for `files` (arrays, or images fitted to the first input); what an image
    needed to fit (resized, channels) goes to `notes` once per kind of change."""
    specs = input_specs(model)
    meta = metadata(model)
    if not files:
        raise SpeccError("give input files (.npy, .npz or images) or --data NAME")
    if any(is_image(f) for f in files):
        name, dims, elem = specs[0]
        images = [image_array(f, dims, meta, notes) for f in files]
        sizes = {a.shape[2:] for a in images}
        if len(sizes) > 1:  # open sizes: each image kept its own, and a batch needs one
            shown = ", ".join(f"{printable(f)} {a.shape[3]}x{a.shape[2]}"
                              for f, a in zip(files[:4], images[:4]))
            raise SpeccError(f"the model's input {name} has open sizes and the images differ "
                             f"({shown}): one batch holds one size",
                             notes=("run them one at a time, or resize them to one size "
                                    "first",))
        feeds = {name: fit_array(name, np.concatenate(images), dims, elem)}
        check_sizes(model, feeds, meta)
        return feeds
    feeds = {}
    for f in files:
        arrays = read_arrays(f)
        if isinstance(arrays, dict):
            for name, dims, elem in specs:
                if name in arrays:
                    feeds[name] = fit_array(name, arrays[name], dims, elem, f"{f}:{name}")
        else:
            name, dims, elem = specs[len(feeds)] if len(feeds) < len(specs) else specs[-1]
            feeds[name] = fit_array(name, arrays, dims, elem, f)
    missing = [n for n, _, _ in specs if n not in feeds]
    if missing:
        raise SpeccError(f"no data for input {', '.join(repr(m) for m in missing)}")
    check_sizes(model, feeds, meta)
    return feeds


def read_arrays(f: str):
    """One array (.npy) or a dict of them (.npz), each checked before it is read."""
    shown = printable(str(f))
    with open_regular(f, ".npy/.npz file") as (fh, size):
        magic = fh.read(6)
        fh.seek(0)
        try:
            if magic.startswith(b"PK"):
                return _npz(fh, size, shown)
            if magic != b"\x93NUMPY":
                raise SpeccError(f"{shown} is neither a .npy nor a .npz file")
            return _npy(fh, size, shown)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
                NotImplementedError, RuntimeError, OverflowError, TypeError, SyntaxError) as e:
            why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
            raise SpeccError(f"cannot read {shown} as .npy/.npz: {printable(why)}") from None


MAX_MEMBERS = 1024  # arrays in one .npz: a model has a few inputs


def _npz(fh, size: int, shown: str) -> dict:
    """The .npy members of a zip, each claimed size checked against what its compressed
    bytes can expand to, and all of them together against MAX_INPUT_BYTES, before any is
    read."""
    with zipfile.ZipFile(fh) as z:
        infos = [m for m in z.infolist() if m.filename.endswith(".npy")]
        if len(infos) > MAX_MEMBERS:
            raise SpeccError(f"{shown} holds {len(infos):,} arrays, more than specc reads "
                             f"({MAX_MEMBERS:,})")
        for m in infos:
            room = m.compress_size if m.compress_type == zipfile.ZIP_STORED \
                else unpacked_limit(m.compress_size)
            claim(f"{shown}:{printable(m.filename)}", m.file_size, min(room, size),
                  packed=None if m.compress_type == zipfile.ZIP_STORED else m.compress_size)
        claim(shown, sum(m.file_size for m in infos), MAX_INPUT_BYTES)
        return {Path(m.filename).stem: _member(z, m, shown) for m in infos}


def check_npy(path) -> tuple:
    """The shape of a .npy file whose header has been checked against its size (numbers
    only, no pickles), without reading its data: for memory-mapping."""
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise SpeccError(f"{path} is not a .npy file")
        fh.seek(0)
        fmt = np.lib.format
        try:
            version = fmt.read_magic(fh)
            shape, _, dtype = (fmt.read_array_header_1_0(fh) if version == (1, 0) else
                               fmt.read_array_header_2_0(fh))
        except Exception as e:  # noqa: BLE001 - numpy parses the header with Python's tokenizer
            raise SpeccError(f"{path}: its .npy header cannot be read ({type(e).__name__})") \
                from None
        header = fh.tell()
    if dtype.hasobject or not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise SpeccError(f"{path} holds {dtype}; specc reads numbers only (no pickles)")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if any(d < 0 for d in shape) or header + count * dtype.itemsize > size:
        raise SpeccError(f"{path}: its header claims shape {list(shape)} but the file holds "
                         f"{size:,} bytes")
    return tuple(shape)


def _member(z: zipfile.ZipFile, info: zipfile.ZipInfo, f: str) -> np.ndarray:
    with z.open(info) as fh:
        return _npy(fh, info.file_size, f"{f}:{printable(info.filename)}")


def _npy(fh, size: int, where: str) -> np.ndarray:
    """Read a .npy stream whose header is checked against the bytes that back it."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise SpeccError(f"{where}: unknown .npy version {version}")
    read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(
        version, getattr(fmt, "_read_array_header", None))
    try:  # numpy parses the header with Python's tokenizer: anything may come out of it
        header = read_header(fh) if version != (3, 0) else read_header(fh, version)
    except Exception as e:  # noqa: BLE001 - a third-party parser of the user's bytes
        raise SpeccError(f"{where}: its .npy header cannot be read ({type(e).__name__})") from None
    shape, fortran, dtype = header
    if len(shape) > 32 or any(not isinstance(d, int) or d < 0 for d in shape):
        raise SpeccError(f"{where}: its header claims an impossible shape {list(shape)[:8]}")
    if dtype.hasobject:
        raise SpeccError(f"{where} holds Python objects; specc reads numbers only (no pickles)")
    count = 1
    for d in shape:
        count *= d
    need = count * dtype.itemsize
    if need > MAX_INPUT_BYTES or need > size:
        raise SpeccError(f"{where}: its header claims shape {list(shape)} ({need:,} bytes) but "
                         f"the file holds {size:,} bytes")
    data = fh.read(need)
    if len(data) != need:
        raise SpeccError(f"{where} is truncated ({len(data):,} of {need:,} bytes)")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape, order="F" if fortran else "C")


def image_array(path: str, dims: list, meta: dict, notes: list | None = None) -> np.ndarray:
    """One image file fitted to the model's input [1, C, H, W] as `specc run IMAGE` reads it:
    converted to RGB, resized as it is to the input, channels fitted, normalised. An open
    size (a symbolic H or W) is the image's own; the caller checks the model's assumptions."""
    import torch

    from ..data.images import BadImage, fit_images, read_image
    from ..data.registry import InputSpec
    try:
        img = read_image(path).convert("RGB")
    except BadImage as e:
        raise SpeccError(f"cannot read image {printable(str(path))}: {e}") from None
    except (OSError, ValueError) as e:  # converting a decoded image is Pillow's work too
        raise SpeccError(f"cannot read image {printable(str(path))}: "
                         f"{printable(str(e))[:200]}") from None
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    pre = meta.get("specc.preprocessing", {}) or {}
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in dims[1:])
    want = InputSpec(shape, pre.get("pixel_range"), pre.get("mean"), pre.get("std"))
    changes = []
    out = fit_images(x, want, path, notes=changes).numpy()
    if notes is not None:
        notes.extend(c for c in changes if c not in notes)
    return out
