"""specc as an ONNX backend (onnx.backend.base.Backend), so that ONNX's own test suite
(`onnx.backend.test`) measures the import: `prepare` imports the model into specc's IR and
lowers it to a torch module (`SpeccBackend`), or lowers it back to ONNX and runs it in
onnxruntime (`SpeccOnnxBackend`). A model whose ops or types specc cannot map is skipped
with the reason (BackendIsNotSupposedToImplementIt); one it maps but refuses to read is a
failure."""
from __future__ import annotations

import numpy as np
from onnx.backend.base import Backend, BackendRep
from onnx.backend.test.runner import BackendIsNotSupposedToImplementIt

from ..core.diagnostics import SpeccError
from . import import_graph, load_imported
from .build import ImportRefused
from .read import Unsupported, from_proto


class _Rep(BackendRep):
    """An imported network; `run` takes the model's inputs in order."""

    def __init__(self, imported, net, weights):
        self.imported, self.net, self.weights = imported, net, weights
        names = imported.graph.inputs
        self.feeds = dict(imported.input_names)  # ONNX input -> spec input
        self.weight_inputs = {k: v for k, v in imported.weights.items() if isinstance(v, tuple)}
        self.spec_inputs = [n for n in net.graph.inputs]
        del names

    def _values(self, inputs) -> tuple[dict, dict]:
        """(spec input -> array, parameter -> array) for one run."""
        onnx_inputs = self.imported.onnx_inputs
        given = dict(zip(onnx_inputs, inputs))
        feeds = {self.feeds[k]: np.asarray(v) for k, v in given.items() if k in self.feeds}
        params = {}
        for pname, (_, spec_input, fn) in self.weight_inputs.items():
            arr = feeds[spec_input]
            params[pname] = fn(arr) if fn else arr
        return feeds, params


class TorchRep(_Rep):
    def __init__(self, imported, net, weights):
        super().__init__(imported, net, weights)
        import torch

        from ..core.dtypes import torch_dtype
        from ..backends.torch_module import build_module
        tensors = {}
        for p in net.graph.params.values():
            if p.name in weights:
                tensors[p.name] = _tensor(weights[p.name])
            else:
                tensors[p.name] = torch.zeros(tuple(p.shape), dtype=torch_dtype(p.dtype))
        self.tensors = tensors
        self.module = build_module(net.graph, weights=tensors).eval()

    def run(self, inputs, **kwargs):
        import torch
        feeds, params = self._values(inputs)
        with torch.no_grad():
            for name, arr in params.items():
                self.tensors[name].copy_(_tensor(arr))
            args = [_tensor(feeds[n]) for n in self.spec_inputs]
            out = self.module(*args)
        outs = out if isinstance(out, tuple) else (out,)
        return tuple(_array(o) for o in outs)


def _tensor(arr):
    """numpy -> torch; bfloat16 (ml_dtypes in numpy) through its bits."""
    import torch
    arr = np.array(arr)
    if arr.dtype.name == "bfloat16":
        return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    return torch.as_tensor(arr)


def _array(t):
    import torch
    if not hasattr(t, "numpy"):
        return np.asarray(t)
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


class OnnxRep(_Rep):
    def run(self, inputs, **kwargs):
        from .. import passes
        from ..backends.onnx_build import build_model
        from ..backends.ort import open_session
        feeds, params = self._values(inputs)
        weights = dict(self.weights)
        weights.update(params)
        graph = passes.run(self.net.graph, passes.INFERENCE)
        model = build_model(graph, weights)
        sess, _, _ = open_session(model.SerializeToString(), "cpu", threads=1)
        names = [i.name for i in sess.get_inputs()]
        return tuple(sess.run(None, {n: feeds[n] for n in names}))


class BoundRep(BackendRep):
    """A model that gives specc's static arguments (axes, a shape, pads) as inputs: each run
    binds those inputs to its values, as constants, and imports the model for them (a
    backend that compiles shapes statically specialises on them)."""

    def __init__(self, backend, model, bound: list[str]):
        self.backend, self.model, self.bound = backend, model, bound

    def run(self, inputs, **kwargs):
        names = [v.name for v in self.model.graph.input
                 if v.name not in {t.name for t in self.model.graph.initializer}]
        given = dict(zip(names, inputs))
        bound = set(self.bound)
        while True:  # a rule may need a second input once the first is bound
            try:
                rep = self.backend.imported_rep(_bind(self.model, given, bound))
                break
            except (ImportRefused, Unsupported) as e:
                more = getattr(e, "problems", None) and e.problems.needed - bound
                if not more or not more <= set(names):
                    raise _status(e) from None
                bound |= more
        return rep.run([given[n] for n in names if n not in bound])


def _status(e) -> BackendIsNotSupposedToImplementIt:
    """onnx's runner counts this as skipped; the reason says which kind: `not in specc`
    (an op or type the language lacks) or `refused` (a mapped op will not read the node)."""
    if e.unsupported:
        return BackendIsNotSupposedToImplementIt(f"not in specc: {e.unsupported}")
    return BackendIsNotSupposedToImplementIt(f"refused: {e.notes[0] if e.notes else e.message}")


def _bind(model, given: dict, bound: set):
    """The model with the inputs in `bound` made initializers holding the run's values."""
    from onnx import numpy_helper
    out = type(model)()
    out.CopyFrom(model)
    keep = [v for v in out.graph.input if v.name not in bound]
    del out.graph.input[:]
    out.graph.input.extend(keep)
    out.graph.initializer.extend(numpy_helper.from_array(np.asarray(given[n]), n)
                                 for n in sorted(bound))
    return out


class SpeccBackend(Backend):
    rep = TorchRep

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs):
        """Import (statuses for onnx's runner: a model outside specc's language is skipped as
        `not in specc: ...`, one it maps but will not read as `refused: ...`)."""
        super().prepare(model, device, **kwargs)
        try:
            return cls.imported_rep(model)
        except (ImportRefused, Unsupported) as e:
            problems = getattr(e, "problems", None)
            inputs = {v.name for v in model.graph.input}
            if not e.unsupported and problems is not None and problems.needed and \
                    problems.needed <= inputs:
                return BoundRep(cls, model, sorted(problems.needed))
            raise _status(e) from None

    @classmethod
    def imported_rep(cls, model):
        imported = import_graph(from_proto(model), "model", weight_inputs=True, layout=False)
        net, weights = load_imported(imported)
        return cls.rep(imported, net, weights)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"


class SpeccOnnxBackend(SpeccBackend):
    rep = OnnxRep


__all__ = ["SpeccBackend", "SpeccOnnxBackend", "SpeccError"]
