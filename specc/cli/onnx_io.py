"""Reading exported models and feeding them: metadata, inputs from files, shape checks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..diagnostics import SpeccError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
NP_OF_ONNX = {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 9: np.bool_}


def read_model(path: str):
    import onnx
    from google.protobuf.message import DecodeError
    p = Path(path)
    if not p.is_file():
        raise SpeccError(f"no such file: {path}")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise SpeccError(f"{path} is not a readable ONNX model (truncated or corrupt?): "
                         f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    if not model.graph.node or not model.graph.input:
        raise SpeccError(f"{path} is not an ONNX model (no graph)")
    return model


def metadata(model) -> dict:
    out = {}
    for prop in model.metadata_props:
        try:
            out[prop.key] = json.loads(prop.value)
        except ValueError:
            out[prop.key] = prop.value
    return out


def input_specs(model) -> list[tuple[str, list, int]]:
    inits = {i.name for i in model.graph.initializer}
    specs = []
    for v in model.graph.input:
        if v.name in inits:
            continue
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        specs.append((v.name, dims, t.elem_type))
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
        batch = np.concatenate([_image(f, dims, meta) for f in files])
        return {name: fit_array(name, batch, dims, elem)}
    feeds = {}
    for f in files:
        p = Path(f)
        if not p.is_file():
            raise SpeccError(f"no such file: {f}")
        try:
            data = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise SpeccError(f"cannot read {f} as .npy/.npz: {str(e).splitlines()[0]}") from None
        if isinstance(data, np.lib.npyio.NpzFile):
            for name, dims, elem in specs:
                if name in data.files:
                    feeds[name] = fit_array(name, data[name], dims, elem)
        else:
            name, dims, elem = specs[len(feeds)] if len(feeds) < len(specs) else specs[-1]
            feeds[name] = fit_array(name, data, dims, elem)
    missing = [n for n, _, _ in specs if n not in feeds]
    if missing:
        raise SpeccError(f"no data for input {', '.join(repr(m) for m in missing)}")
    return feeds


def _image(path: str, dims: list, meta: dict) -> np.ndarray:
    import torch
    from PIL import Image, UnidentifiedImageError

    from ..data.images import fit_images
    from ..data.registry import InputSpec
    try:
        img = Image.open(path).convert("RGB")
    except FileNotFoundError:
        raise SpeccError(f"no such file: {path}") from None
    except (UnidentifiedImageError, OSError) as e:
        raise SpeccError(f"cannot read image {path}: {e}") from None
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    pre = meta.get("specc.preprocessing", {}) or {}
    want = InputSpec(tuple(dims[1:]), pre.get("pixel_range"), pre.get("mean"), pre.get("std"))
    return fit_images(x, want, path).numpy()
