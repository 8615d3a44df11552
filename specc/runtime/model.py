"""Reading exported models and feeding them: metadata, inputs from files, shape checks.

Every file is the user's, and may be anything: only regular files are opened (a FIFO would
block), .npy headers are checked against the file's size before an array is allocated, .npz
members likewise (a zip bomb declares sizes it cannot back), objects (pickles) are refused,
and images beyond Pillow's decompression-bomb limit are refused with the figure."""
from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..core.diagnostics import SpeccError
from ..core.files import check_regular
from ..core.source import printable

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
NP_OF_ONNX = {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 9: np.bool_}
MAX_MODEL_BYTES = 2 ** 31  # protobuf's own limit: larger models keep their weights outside
MAX_INPUT_BYTES = 2 ** 32  # one input array (4 GiB)


def read_model(path: str):
    import onnx
    from google.protobuf.message import DecodeError
    p = check_regular(path, "model")
    if p.stat().st_size > MAX_MODEL_BYTES:
        raise SpeccError(f"{path} is larger than an ONNX model file can be (2 GiB); a large "
                         "model keeps its weights in an external data file")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise SpeccError(f"{path} is not a readable ONNX model (truncated or corrupt?): "
                         f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    if not model.graph.node or not model.graph.input:
        raise SpeccError(f"{path} is not an ONNX model (no graph)")
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


def input_spec_of(model, views: tuple = ()):
    """What the model's first input wants, as a data set reader takes it: per-sample shape,
    the recipe's pixel range, mean and std, its output width, and its evaluation transform
    (`views` replaces it: ten crops). The one place `run --data`, `predict` and int8
    calibration learn how to feed a model."""
    from ..data.registry import InputSpec
    name, dims, _ = input_specs(model)[0]
    meta = metadata(model)
    pre = meta["specc.preprocessing"]
    outs = model.graph.output[0].type.tensor_type.shape.dim if model.graph.output else []
    width = outs[-1].dim_value if len(outs) == 2 and outs[-1].HasField("dim_value") else None
    record = meta["specc.eval"]
    return InputSpec(tuple(dims[1:]), pre.get("pixel_range"), pre.get("mean"), pre.get("std"),
                     (), width, eval_transform=views or ((record,) if record else ()))


def _numbers(v) -> bool:
    return isinstance(v, list) and 0 < len(v) <= 16 and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) for x in v)


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
    dt = {1: "f32", 10: "f16", 11: "f64", 7: "i64", 6: "i32", 9: "bool"}.get(elem, str(elem))
    return f"{dt}[{', '.join(str(d) for d in dims)}]"


def fit_array(name: str, arr: np.ndarray, dims: list, elem: int) -> np.ndarray:
    """Check (and batch) one input; wrong shapes or dtypes name what the model expects."""
    want = NP_OF_ONNX.get(elem, np.float32)
    if arr.ndim == len(dims) - 1:
        arr = arr[None]
    expected = describe_spec(dims, elem)
    if arr.ndim != len(dims) or any(isinstance(d, int) and d > 0 and d != s
                                    for d, s in zip(dims, arr.shape)):
        raise SpeccError(f"input '{name}' expects {expected}, got an array of shape "
                         f"{list(arr.shape)}")
    if np.issubdtype(want, np.floating) and not np.issubdtype(arr.dtype, np.floating):
        raise SpeccError(f"input '{name}' expects {expected} (floating point), got {arr.dtype}")
    return arr.astype(want, copy=False)


def load_inputs(files: list[str], model) -> dict[str, np.ndarray]:
    specs = input_specs(model)
    meta = metadata(model)
    if not files:
        raise SpeccError("give input files (.npy, .npz or images) or --data NAME")
    if any(Path(f).suffix.lower() in IMAGE_SUFFIXES for f in files):
        name, dims, elem = specs[0]
        batch = np.concatenate([image_array(f, dims, meta) for f in files])
        return {name: fit_array(name, batch, dims, elem)}
    feeds = {}
    for f in files:
        arrays = read_arrays(f)
        if isinstance(arrays, dict):
            for name, dims, elem in specs:
                if name in arrays:
                    feeds[name] = fit_array(name, arrays[name], dims, elem)
        else:
            name, dims, elem = specs[len(feeds)] if len(feeds) < len(specs) else specs[-1]
            feeds[name] = fit_array(name, arrays, dims, elem)
    missing = [n for n, _, _ in specs if n not in feeds]
    if missing:
        raise SpeccError(f"no data for input {', '.join(repr(m) for m in missing)}")
    return feeds


def read_arrays(f: str):
    """One array (.npy) or a dict of them (.npz), each checked before it is read."""
    check_regular(f, ".npy/.npz file")
    with open(f, "rb") as fh:
        magic = fh.read(6)
    try:
        if magic.startswith(b"PK"):
            with zipfile.ZipFile(f) as z:
                return {Path(m.filename).stem: _member(z, m, f) for m in z.infolist()
                        if m.filename.endswith(".npy")}
        if magic != b"\x93NUMPY":
            raise SpeccError(f"{f} is neither a .npy nor a .npz file")
        with open(f, "rb") as fh:
            return _npy(fh, Path(f).stat().st_size, f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError, RuntimeError, OverflowError, TypeError, SyntaxError) as e:
        why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise SpeccError(f"cannot read {f} as .npy/.npz: {printable(why)}") from None


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
    if info.file_size > MAX_INPUT_BYTES:
        raise SpeccError(f"{f}: member {printable(info.filename)} would unpack to "
                         f"{info.file_size:,} bytes, more than an input may ({MAX_INPUT_BYTES:,})")
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


def image_array(path: str, dims: list, meta: dict) -> np.ndarray:
    """One image file fitted to the model's input [1, C, H, W] as `specc run IMAGE` reads it:
    converted to RGB, resized as it is to the input, channels fitted, normalised."""
    import torch
    from PIL import Image, UnidentifiedImageError

    from ..data.images import fit_images
    from ..data.registry import InputSpec
    check_regular(path, "image")
    try:
        with warnings.catch_warnings():  # beyond Pillow's pixel limit: refused, not warned
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            img = img.convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise SpeccError(f"{path} has more pixels than Pillow's decompression-bomb limit "
                         f"({Image.MAX_IMAGE_PIXELS:,}); specc refuses it") from None
    except FileNotFoundError:
        raise SpeccError(f"no such file: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise SpeccError(f"cannot read image {path}: {printable(str(e))[:200]}") from None
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    pre = meta.get("specc.preprocessing", {}) or {}
    want = InputSpec(tuple(dims[1:]), pre.get("pixel_range"), pre.get("mean"), pre.get("std"))
    return fit_images(x, want, path).numpy()
