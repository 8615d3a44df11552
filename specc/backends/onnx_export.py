"""`specc export`: weights -> ONNX (direct emission) -> verification -> atomic write."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from .. import __version__, passes
from ..diagnostics import SpeccError
from ..ops.registry import LoweringError
from .onnx_build import DEFAULT_OPSET, build_model
from .onnx_verify import verify_model

TWO_GB = 2 ** 31


@dataclass
class ExportResult:
    path: str
    sha256: str
    max_rel_error: float | None
    seconds: float
    external_data: bool


def weights_from_module(module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def model_metadata(net) -> dict:
    r = net.recipe
    pre = {k: r[k] for k in ("pixel_range", "mean", "std") if k in r}
    return {"specc.network": net.name, "specc.spec": net.graph.meta.get("spec_path", ""),
            "specc.spec_sha256": net.graph.meta.get("spec_sha256", ""),
            "specc.version": __version__, "specc.preprocessing": pre,
            "specc.labels": r.get("labels", []),
            "specc.outputs": list(net.graph.outputs)}


def export(net, path, weights=None, opset: int = DEFAULT_OPSET, fp16: bool = False,
           external_data: bool | None = None, verify: bool = True, seed: int = 0) -> ExportResult:
    """Write `net` as ONNX at `path`. `weights`: None (seeded fresh init), a checkpoint path,
    or a state dict of tensors/arrays."""
    start = time.perf_counter()
    module = _module_with_weights(net, weights, seed)
    arrays = weights_from_module(module)
    graph = passes.run(net.graph, passes.INFERENCE)
    try:
        model = build_model(graph, arrays, opset=opset, fp16_weights=fp16,
                            metadata=model_metadata(net))
    except LoweringError as e:
        raise SpeccError(str(e)) from None
    size = sum(a.nbytes for a in arrays.values())
    external = external_data if external_data is not None else size > TWO_GB - 2 ** 26
    max_rel = None
    if verify:
        max_rel = verify_model(model, graph, module, fp16=fp16, big=external)
    digest = _save(model, Path(path), external)
    return ExportResult(str(path), digest, max_rel, time.perf_counter() - start, external)


def _module_with_weights(net, weights, seed):
    module = net.to_torch(seed=seed)
    if weights is None:
        return module.eval()
    if isinstance(weights, (str, Path)):
        from ..train.checkpoint import load_model_weights
        load_model_weights(module, weights)
    else:
        from ..train.checkpoint import load_state
        load_state(module, dict(weights), source="the given weights")
    return module.eval()


def _save(model: onnx.ModelProto, path: Path, external: bool) -> str:
    """Write through a temporary file in the same folder, then rename: never half a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SpeccError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SpeccError(f"output folder {folder} is not writable")
    if not external:
        data = model.SerializeToString(deterministic=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return hashlib.sha256(data).hexdigest()
    location = path.name + ".data"
    tmpdir = Path(tempfile.mkdtemp(dir=folder, prefix=f".{path.name}."))
    try:
        onnx.save_model(model, tmpdir / path.name, save_as_external_data=True,
                        all_tensors_to_one_file=True, location=location, size_threshold=1024)
        os.replace(tmpdir / location, folder / location)
        os.replace(tmpdir / path.name, path)
    finally:
        for f in tmpdir.iterdir():
            f.unlink()
        tmpdir.rmdir()
    h = hashlib.sha256(path.read_bytes())
    h.update((folder / location).read_bytes())
    return h.hexdigest()


def describe(result: ExportResult) -> str:
    err = "not verified" if result.max_rel_error is None else \
        f"max relative error {result.max_rel_error:.2e}"
    return (f"wrote {result.path} ({err}, {result.seconds:.2f} s"
            + (", external data" if result.external_data else "") + ")")


def as_json(result: ExportResult) -> str:
    return json.dumps({"path": result.path, "sha256": result.sha256,
                       "max_rel_error": result.max_rel_error, "seconds": result.seconds})
