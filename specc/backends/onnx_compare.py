"""onnxruntime against torch, on seeded inputs: the numeric half of export verification.

The torch module runs two samples (the reference, and whether the outputs depend on the input
at all), in a thread started as soon as the weights exist; onnxruntime runs the written file,
unoptimised (the graph as written), on the first of them, on the cores torch leaves free.
When the outputs carry no signal (a
deep network whose logits equal its last bias), every intermediate value is compared instead,
so that a check which cannot fail is never reported as a pass. That the graph handles any
batch size is checked statically, by ONNX shape inference against specc's symbolic shapes.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
import onnx

from ..core.diagnostics import SpeccError
from ..ops import registry
from ..compile.sizes import sample_sizes
from .onnx_numbers import has_signal, max_rel_error, onnx_values, shared_float_values, within

FP16_TOLERANCE = 1e-2
SAMPLES = 2  # torch's batch: two samples, to tell signal from a constant


@dataclass
class Verified:
    max_rel_error: float
    compared: str  # what was compared, in words


def sample_inputs(graph, batch: int, seed: int = 0,
                  sizes: dict | None = None) -> dict[str, np.ndarray]:
    """Seeded inputs: normal floats; integers (indices) in 0..1; random booleans. Symbolic
    sizes take `sizes` (by default the first the network accepts, compile/sizes.py), the
    batch `batch`."""
    from ..core.dtypes import numpy_dtype
    rng = np.random.default_rng(seed)
    sizes = {**(sizes or sample_sizes(graph, batch)[0]), **{s: batch for s in graph.facts().batch}}
    out = {}
    for name in graph.inputs:
        t = graph.values[name].type
        shape = [d if isinstance(d, int) else d.evaluate(sizes) for d in t.shape]
        if t.dtype in ("i32", "i64"):
            out[name] = rng.integers(0, 2, shape).astype(numpy_dtype(t.dtype))
        elif t.dtype == "bool":
            out[name] = rng.random(shape) < 0.5
        else:
            out[name] = rng.standard_normal(shape).astype(numpy_dtype(t.dtype))
    return out


def tolerance(graph) -> float:
    return max((registry.get(n.op).tolerance for n in graph.nodes), default=1e-5)


def _batched(graph) -> bool:
    """Do all inputs and outputs lead with the symbolic batch dim (so sample 0 can be cut)?"""
    values = [graph.values[n].type for n in graph.inputs] + \
        [graph.values[v].type for v in graph.outputs.values()]
    return all(t.rank and not isinstance(t.shape[0], int) for t in values)


def cores() -> int:
    """The cores this process may run on (its affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Reference:
    """The torch module's outputs on the seeded inputs, computed in a background thread that
    starts as soon as the module exists and first waits for `after` (a background weight
    initialisation): the reference forward runs while the file is written, checked and
    loaded by onnxruntime, instead of after them. cancel() skips the forward when it has not
    begun and waits for it otherwise: a failing export must not leave the thread inside
    torch when the process exits (that aborts it)."""

    def __init__(self, module, graph, batch: int = SAMPLES, after=None):
        self.batch = batch
        self.sizes = sample_sizes(graph, batch)  # the first here; check_numerics runs the rest
        self.feeds = sample_inputs(graph, batch, sizes=self.sizes[0])
        self._result: list | None = None
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, args=(module, graph, after),
                                        daemon=True, name="specc-reference")
        self._thread.start()

    def _run(self, module, graph, after) -> None:
        import torch
        try:
            if after is not None:
                after()
            if self._cancelled:
                return
            with torch.inference_mode():
                out = module(*[torch.from_numpy(self.feeds[n]) for n in graph.inputs])
            by_name = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
            self._result = [by_name[name].numpy() for name in graph.outputs]
        except BaseException as e:  # re-raised by result() in the caller's thread
            self._error = e

    def result(self) -> list[np.ndarray]:
        self._thread.join()
        if isinstance(self._error, RuntimeError) and "ZeroDivisionError" in str(self._error):
            raise SpeccError("the torch module cannot run on the seeded inputs: an integer "
                             "division by zero",
                             notes=("--no-verify writes the model anyway",)) from None
        if self._error is not None:
            raise self._error
        return self._result

    def error(self, wait: bool = False) -> BaseException | None:
        """The exception the reference forward raised, if it ran and raised."""
        if wait:
            self._thread.join()
        return self._error

    def cancel(self, wait: bool = True) -> None:
        self._cancelled = True
        if wait:
            self._thread.join()


def check_numerics(model, graph, module, fp16: bool, batch: int = SAMPLES,
                   skeleton=None, weights=None, reference: Reference | None = None) -> Verified:
    """onnxruntime on `model` (a path or a ModelProto) against torch's `reference` (started
    here when not given); a network of symbolic sizes (H, W) is compared again at a second,
    different size."""
    reference = reference or Reference(module, graph, batch)
    verified = _check_numerics(model, graph, module, fp16, reference, skeleton, weights)
    if len(reference.sizes) < 2:
        return verified
    free = [s for s in graph.symbols() if s not in graph.facts().batch]
    first, second = (", ".join(f"{s}={sizes[s]}" for s in free) for sizes in reference.sizes)
    err, how = _other_size(model, graph, module, fp16, reference.sizes[1], reference.batch,
                           skeleton, weights)
    return Verified(max(verified.max_rel_error, err),
                    f"{verified.compared} at {first}, and {how} again at {second}")


def _other_size(model, graph, module, fp16: bool, sizes: dict, batch: int, skeleton=None,
                weights=None) -> tuple[float, str]:
    """The outputs of torch and onnxruntime at other sizes of the symbolic dims; where the
    weights make them ill-conditioned there too, every value node by node (as at the first
    size). Returns the error and what was compared."""
    import torch
    feeds = sample_inputs(graph, batch, seed=1, sizes=sizes)
    with torch.inference_mode():
        out = module(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    by_name = dict(zip(module.specc_outputs, out if isinstance(out, tuple) else (out,)))
    expected = [by_name[name].numpy() for name in graph.outputs]
    actual = _onnxruntime(model, graph, feeds)
    _finite(expected, "the torch module")
    _finite(actual, "onnxruntime")
    err = max_rel_error(expected, actual)
    shown = ", ".join(f"{k}={v}" for k, v in sizes.items())
    tol = FP16_TOLERANCE if fp16 else tolerance(graph)
    if not err <= tol and skeleton is not None and not fp16:
        shaky = _ill_conditioned(module, graph, feeds, expected, tol, tolerance(graph),
                                 skeleton, weights, err)
        if shaky is not None:
            return shaky.max_rel_error, "every value node by node (ill-conditioned weights)"
    within(err, tol, f"the outputs at {shown}")
    return err, "the outputs"


def _check_numerics(model, graph, module, fp16, reference, skeleton, weights) -> Verified:
    feeds, batch = reference.feeds, reference.batch
    tol = FP16_TOLERANCE if fp16 else tolerance(graph)
    signal_tol = tolerance(graph)  # what counts as signal does not depend on the storage
    cut = _batched(graph) and batch > 1
    ort_feeds = {k: v[:1] for k, v in feeds.items()} if cut else feeds
    try:
        actual = _onnxruntime(model, graph, ort_feeds)
    except Exception as ort_error:
        torch_error = reference.error(wait=True)  # does torch fault on these inputs too?
        if torch_error is None:
            raise  # torch runs it and onnxruntime does not: the exporter's fault
        raise _faults(torch_error, ort_error) from ort_error
    except BaseException:
        reference.cancel()
        raise
    torch_error = reference.error(wait=True)
    if torch_error is not None:
        raise _faults(torch_error, None) from torch_error
    expected = reference.result()
    _finite(expected, "the torch module")
    _finite(actual, "onnxruntime")
    err = max_rel_error([e[:1] for e in expected] if cut else expected, actual)
    if not err <= tol and skeleton is not None and not fp16:
        shaky = _ill_conditioned(module, graph, feeds, expected, tol, signal_tol, skeleton,
                                 weights, err)
        if shaky is not None:
            return shaky
    within(err, tol, "the outputs")
    names = ", ".join(graph.outputs)
    if any(has_signal(e, signal_tol) for e in expected):
        if cut:  # onnxruntime ran one sample; torch ran them all, to see the outputs vary
            return Verified(err, f"{names} on 1 seeded sample, after checking on {batch} "
                                 "that they vary with the input")
        return Verified(err, f"{names} on {batch} seeded samples")
    if skeleton is None:
        raise SpeccError(f"the outputs ({names}) barely vary with the input, so comparing them "
                         "proves nothing", notes=("--no-verify writes the model anyway",))
    verb = "varies" if len(graph.outputs) == 1 else "vary"
    count, inner, signal = _intermediates(graph, module, feeds, skeleton, weights, tol,
                                          signal_tol)
    if signal:
        return Verified(max(err, inner), f"{count} intermediate values on {batch} seeded "
                        f"samples, as {names} barely {verb} with the input")
    filled = None if fp16 else _filled(graph, module, weights)
    if filled is not None:  # the weights make every value constant (nothing learnt yet)
        probe_module, probe_weights, zeros = filled
        count, inner, signal = _intermediates(graph, probe_module, feeds, skeleton,
                                              probe_weights, tol, signal_tol)
        if signal:
            return Verified(max(err, inner), f"{count} intermediate values on {batch} seeded "
                            f"samples with its {zeros} all-zero weight tensors filled at random "
                            "(with its own weights every value is constant)")
    raise SpeccError("no value of the network varies with its input, so comparing "
                     "onnxruntime with torch proves nothing",
                     notes=("--no-verify writes the model anyway",))


def _ill_conditioned(module, graph, feeds, expected, tol, signal_tol, skeleton, weights,
                     err) -> Verified | None:
    """When the outputs disagree: is torch's float32 itself within a tenth of the tolerance
    of being off float64 (rounding alone then nears the tolerance)? Then check node by node
    (specc.backends.onnx_local), as strict a check; else None (a failure)."""
    from .onnx_local import local_check, reference_error
    if all(np.isfinite(e).all() for e in expected):
        own = reference_error(module, graph, feeds, expected)
        if own > tol / 10:
            count, worst, signal = local_check(graph, module, feeds, skeleton, weights, tol,
                                               signal_tol)
            if signal:
                return Verified(worst, f"{count} values on the seeded samples, each "
                                f"computed by torch from onnxruntime's inputs: the weights "
                                f"make the outputs ill-conditioned (torch float32 is "
                                f"{own:.1e} off float64, onnxruntime {err:.1e} off torch)")
    return None


def _onnxruntime(model, graph, feeds) -> list[np.ndarray]:
    """The written graph in onnxruntime, unoptimised, on the cores torch's reference (running
    meanwhile) leaves free, or on all of them when it leaves none."""
    import torch

    from .ort import open_session
    spare = cores() - torch.get_num_threads()
    source = model if isinstance(model, str) else model.SerializeToString()
    sess, _, _ = open_session(source, "cpu", threads=max(spare, 0), optimize=False)
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument
    try:
        return sess.run(list(graph.outputs), feeds)
    except (Fail, InvalidArgument) as e:  # the seeded inputs break an op (an integer / 0)
        raise SpeccError(f"onnxruntime cannot run the model on the seeded inputs: "
                         f"{_status(str(e))}",
                         notes=("--no-verify writes the model anyway",)) from None


def _status(text: str) -> str:
    """onnxruntime's message without its status-code preamble."""
    return text.split("Status Message: ", 1)[-1].splitlines()[0][:300]


def _faults(torch_error: BaseException, ort_error: BaseException | None) -> SpeccError:
    """The network itself faults on the seeded inputs (an integer division by a sampled 0, an
    index out of range): a user's matter, not the exporter's."""
    first = (str(torch_error).strip().splitlines() or [type(torch_error).__name__])[0]
    where = "torch and onnxruntime both fail" if ort_error is not None else "torch fails"
    return SpeccError(f"{where} on the seeded verification inputs ({first[:200]}); "
                      "the export cannot be verified",
                      notes=("integer inputs are sampled in 0..1, floats from N(0, 1)",
                             "--no-verify writes the model anyway"))


def _finite(values, who: str) -> None:
    if any(not np.isfinite(v).all() for v in values):
        raise SpeccError(f"{who} gives non-finite values (inf or NaN) on the seeded inputs; "
                         "the export cannot be verified",
                         notes=("--no-verify writes the model anyway",))


def _intermediates(graph, module, feeds, skeleton, weights, tol,
                   signal_tol) -> tuple[int, float]:
    """Compare every float value both sides name, on a copy of the model that outputs them
    all (both sides on every sample); at least one must carry signal."""
    import torch
    import torch.fx as fx
    torch_names = getattr(module, "specc_values", {})
    names = shared_float_values(graph, module, skeleton)
    seen: dict[str, np.ndarray] = {}
    wanted = {torch_names[v]: v for v in names}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n.name in wanted and torch.is_tensor(result):
                seen[wanted[n.name]] = result.detach().numpy().copy()
            return result
    with torch.inference_mode():
        Recorder(module).run(*[torch.from_numpy(feeds[n]) for n in graph.inputs])
    names = [v for v in names if v in seen]
    actual = onnx_values(skeleton, graph, names, weights, feeds)
    worst, signal = 0.0, 0
    for v in names:
        err = max_rel_error([seen[v]], [actual[v]])
        within(err, tol, f"'{v}'")
        worst = max(worst, err)
        signal += has_signal(seen[v], signal_tol)
    return len(names), worst, signal


def _filled(graph, module, weights):
    """A copy of the module and of the stored weights with every all-zero float weight filled
    with seeded normal values: a memory that has learnt nothing yet (Hebb's, all zeros) makes
    every value constant, and still its translation must be shown to compute the same thing.
    None when there is nothing to fill."""
    import torch

    from .torch_module import build_module
    gen = torch.Generator().manual_seed(0)
    tensors = {k: v.detach().clone() for k, v in
               list(module.named_buffers()) + list(module.named_parameters())}
    zeros = [k for k, v in tensors.items() if v.is_floating_point() and v.numel() and not v.any()]
    if not zeros or any(p not in tensors for p in graph.params):
        return None
    for k in zeros:
        tensors[k].normal_(0.0, 0.5, generator=gen)
    probe = build_module(graph, weights={p: tensors[p] for p in graph.params}).eval()
    if any(k not in tensors for k in weights):
        return None
    return probe, {k: tensors[k].numpy() for k in weights}, len(zeros)


