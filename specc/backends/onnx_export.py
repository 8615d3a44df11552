"""`specc export`: weights -> ONNX (direct emission, streamed) -> verification -> rename.

The file is written into a temporary folder beside the target, verified there, and only then
moved into place: a failed export leaves nothing behind."""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import passes
from ..core.version import __version__
from ..core.defaults import ONNX_OPSET
from ..core.diagnostics import SpeccError
from ..core.files import staging
from ..ops import registry
from ..ops.registry import LoweringError, Trait
from ..recipes.registry import DEFAULT_LOSS, GAMES, LOSSES
from ..compile.sizes import free_symbols, sample_sizes, stated_sizes
from .onnx_build import build_skeleton
from .onnx_compare import Reference
from .onnx_verify import verify_file
from .onnx_write import write_model

TWO_GB = 2 ** 31


@dataclass
class ExportResult:
    path: str
    max_rel_error: float | None
    seconds: float
    external_data: bool
    compared: str = ""  # what verification compared, in words ("" when not verified)
    # of `seconds`, from the file written to verification done (torch's reference forward
    # starts earlier, beside the writing: part of its time is not counted here)
    verify_seconds: float = 0.0
    _sha256: str | None = None

    @property
    def sha256(self) -> str:
        """Of the .onnx file (and its external data file, if any); computed when asked."""
        if self._sha256 is None:
            files = [Path(self.path)]
            if self.external_data:
                files.append(Path(self.path + ".data"))
            self._sha256 = _hash_files(*files)
        return self._sha256


def weights_from_module(module) -> dict[str, np.ndarray]:
    """The state dict and the constants (non-persistent buffers), which ONNX also stores."""
    tensors = dict(module.named_buffers())
    tensors.update(module.state_dict())
    return {k: v.detach().cpu().numpy() for k, v in tensors.items()}


def model_metadata(net, trained: list | tuple = ()) -> dict:
    """The one place the model's metadata is built. The spec travels inside (its text and its
    imports, by relative name, with the entry's sha256), never a local path. The labels are
    the recipe's, else `trained`: those of the data the weights were trained on."""
    from ..compile.embed import sha256, spec_files
    r = net.recipe
    pre = {k: r[k] for k in ("pixel_range", "mean", "std") if k in r}
    entry = net.graph.meta.get("entry") or net.graph.meta.get("spec_path", "")
    files = net.graph.meta.get("spec_files")
    if files is None:
        files = spec_files(entry) if entry and Path(entry).is_file() else {}
    name = Path(entry).name if entry else ""
    meta = {"specc.network": net.name, "specc.spec": name,
            "specc.spec_sha256": sha256(files[name]) if name in files else "",
            "specc.spec_files": files, "specc.version": __version__,
            "specc.preprocessing": pre, "specc.labels": r.get("labels") or list(trained),
            "specc.outputs": list(net.graph.outputs), "specc.output_kind": output_kind(net)}
    if r.get("eval"):  # the recipe's evaluation transform: predict and calibration use it
        meta["specc.eval"] = r["eval"]
    if net.graph.meta.get("overrides"):
        meta["specc.overrides"] = net.graph.meta["overrides"]
    if net.graph.assumptions:
        meta["specc.assumes"] = net.graph.assumes()
    if free_symbols(net.graph):  # the size to run at where none is given (specc bench)
        meta["specc.sizes"] = stated_sizes(net.graph) or {
            k: v for k, v in sample_sizes(net.graph)[0].items() if k in free_symbols(net.graph)}
    return meta


def output_kind(net) -> str:
    """'logits' when the recipe's loss reads the first output as logits (softmax gives
    probabilities), 'probabilities' when the network ends in softmax, 'detections' when it
    ends in rows of boxes (nms), else 'scores'."""
    if "output_kind" in net.graph.meta:  # an ensemble averages its members' probabilities
        return net.graph.meta["output_kind"]
    first = next(iter(net.graph.outputs.values()), None)
    producer = net.graph.values[first].producer if first else None
    traits = registry.get(net.graph.node(producer).op).traits if producer else frozenset()
    if Trait.DISTRIBUTION in traits:
        return "probabilities"
    if Trait.DETECTIONS in traits:
        return "detections"
    if "adversary" in net.recipe:  # a generator: its game says how its samples read
        return GAMES[net.recipe["adversary"]["name"]].output
    return LOSSES[net.recipe.get("loss", DEFAULT_LOSS)].output


def export(net, path, weights=None, opset: int = ONNX_OPSET, fp16: bool = False,
           external_data: bool | None = None, verify: bool = True, seed: int = 0,
           progress=None, half: str | None = None) -> ExportResult:
    """Write `net` as ONNX at `path`. `weights`: None (seeded fresh init), a checkpoint path
    or run folder, or a state dict of tensors/arrays. `progress(stage)` hears each stage.
    `half`: "compute" (an fp16 graph, float32 inputs and outputs) or "io" (fp16 throughout),
    see specc.backends.onnx_half; `fp16` only stores the weights in half precision."""
    start = time.perf_counter()
    say = progress or (lambda stage: None)
    say("building the weights" if weights is None else "loading the weights")
    arrays, module, filling, trained = _weights(net, weights, seed, verify)
    try:
        result = emit(net, arrays, path, opset, fp16, external_data, module, say, filling, half,
                      trained)
    except BaseException:
        if filling is not None:
            filling.cancel()
        raise
    result.seconds = time.perf_counter() - start
    return result


def emit(net, arrays: dict[str, np.ndarray], path, opset: int = ONNX_OPSET,
         fp16: bool = False, external_data: bool | None = None, module=None,
         say=lambda stage: None, filling=None, half: str | None = None,
         trained: list | tuple = ()) -> ExportResult:
    """Emit ONNX for `net` with these weights; verify against `module` when one is given.
    `trained`: the class names of the data the weights were trained on (model_metadata).
    `filling` (a torch_module.Filling) is still computing `arrays` in the background: each
    is written as soon as it is ready, and torch's reference forward for verification starts
    as soon as all are, while the file is still being written and checked."""
    start = time.perf_counter()
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not os.path.isdir(folder):  # os.path's tests never raise (a name too long)
        raise SpeccError(f"output folder {folder} does not exist")
    if os.path.isdir(path):
        raise SpeccError(f"{path} is a folder; name the .onnx file to write")
    graph = passes.run(net.graph, passes.INFERENCE)
    if filling is not None and (fp16 or half):
        filling.join()  # the fp16 copies are made from the values
    try:
        skeleton, stored = build_skeleton(graph, arrays, opset=opset,
                                          fp16_weights=fp16,
                                          metadata=model_metadata(net, trained))
    except LoweringError as e:
        raise SpeccError(str(e)) from None
    if half:
        from .onnx_half import to_half
        skeleton, stored = to_half(skeleton, stored, graph, io=half == "io")
        skeleton.metadata_props.add(key="specc.precision", value=f"fp16 ({half})")
    size = sum(a.nbytes for a in stored.values())
    external = external_data if external_data is not None else size > TWO_GB - 2 ** 26
    data_name = path.name + ".data" if external else None
    reference = None
    if module is not None:  # torch's reference forward, in the background from here on
        reference = Reference(module, graph, after=filling.join if filling else None)
    try:
        return _write_and_verify(path, folder, skeleton, stored, graph, module, fp16, external,
                                 data_name, size, say, filling, reference, start, half)
    except BaseException:
        _stop(filling, reference)
        raise


def _stop(filling, reference) -> None:
    """Stop a failing export's background work before its error goes on: a thread left
    inside torch when the process exits aborts it. The reference is told first, so that it
    does not begin once the initialisation it waits for is cut short."""
    if reference is not None:
        reference.cancel(wait=False)
    if filling is not None:
        filling.cancel()
    if reference is not None:
        reference.cancel()


def _write_and_verify(path, folder, skeleton, stored, graph, module, fp16, external, data_name,
                      size, say, filling, reference, start, half=None) -> ExportResult:
    """Write into a staging folder, verify there, move into place."""
    with staging(path) as tmp:
        say(f"writing {size / 1e6:.0f} MB of weights")
        try:
            write_model(tmp / path.name, skeleton, stored, data_name,
                        ready=filling.wait if filling and not fp16 else None)
        except OSError as e:
            raise SpeccError(f"cannot write {path}: {e.strerror or e}") from None
        if filling is not None:
            filling.join()
        verified, verify_start = None, time.perf_counter()
        if module is not None and half:
            from .onnx_half_verify import verify_half_file
            say("verifying the fp16 graph: onnx.checker, onnxruntime op by op against torch")
            verified = verify_half_file(tmp / path.name, skeleton, stored, graph, module,
                                        reference, io=half == "io")
        elif module is not None:
            say("verifying: onnx.checker, shape inference, onnxruntime against torch")
            verified = verify_file(tmp / path.name, skeleton, stored, graph, module, fp16,
                                   reference=reference)
        verify_seconds = time.perf_counter() - verify_start
        try:
            if external:  # the data first: the model that refers to it comes last
                os.replace(tmp / data_name, folder / data_name)
            os.replace(tmp / path.name, path)
        except OSError as e:
            raise SpeccError(f"cannot move the export into place at {path}: "
                             f"{e.strerror or e}") from None
    return ExportResult(str(path), verified and verified.max_rel_error,
                        time.perf_counter() - start, external,
                        verified.compared if verified else "", verify_seconds)


def _hash_files(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                h.update(block)
    return h.hexdigest()


def _weights(net, weights, seed, verify: bool):
    """(the arrays to export, the reference module or None, the Filling still computing the
    arrays or None, the class names the checkpoint was trained on or []), the weights made
    once: a seeded initialisation (the same as
    net.to_torch(seed)), in the background while the module (only when it is needed to
    verify) and the file are built, or a checkpoint / state dict loaded into a module built
    over uninitialised tensors and checked name by name and shape by shape. Nothing is
    initialised twice."""
    from .torch_module import Filling, build_module, empty_weights
    if weights is None:
        filling = Filling(net.graph, seed)
        tensors = filling.tensors
        try:
            module = build_module(net.graph, weights=tensors).eval() if verify else None
        except BaseException:
            filling.cancel()
            raise
        return {k: v.numpy() for k, v in tensors.items()}, module, filling, []
    module = build_module(net.graph, weights=empty_weights(net.graph))
    trained = []
    if isinstance(weights, (str, Path)):
        from ..core.weights import trained_labels
        from .torch_module import load_model_weights
        trained = trained_labels(load_model_weights(module, weights), weights)
    else:
        from .torch_module import load_state
        load_state(module, dict(weights), source="the given weights")
    return weights_from_module(module), module.eval() if verify else None, None, trained


def describe(result: ExportResult) -> str:
    err = "not verified" if result.max_rel_error is None else \
        f"max relative error {result.max_rel_error:.2e} over {result.compared}"
    return (f"wrote {result.path} ({err}, {result.seconds:.2f} s"
            + (", external data" if result.external_data else "") + ")")


def as_json(result: ExportResult) -> str:
    return json.dumps({"path": result.path, "sha256": result.sha256,
                       "max_rel_error": result.max_rel_error, "compared": result.compared,
                       "seconds": result.seconds})
