"""Graph IR -> torch.fx GraphModule: a readable `forward` (one line per node, with its shape),
parameters and buffers under the spec's hierarchical names."""
from __future__ import annotations

import json
import operator
import re
import threading

import torch
import torch.fx as fx

from ..core.diagnostics import SpeccError
from ..core.weights import check_fit, model_state, read_checkpoint
from ..ir.graph import Graph
from ..ir.cond import lower, require_sizes
from ..ir.sym import Sym
from ..ops import registry
from ..core.dtypes import torch_dtype
from .torch_init import fill_tensor, init_tensor


class TorchBuilder:
    """What a registry op's torch lowering sees: emit calls into the fx graph."""

    torch = torch
    F = torch.nn.functional

    def __init__(self, graph: fx.Graph, root: torch.nn.Module):
        self.g, self.root = graph, root
        self._attrs: dict[str, fx.Node] = {}
        self.types, self.outs = [], []
        self.overwritable = False  # may the op overwrite its first input in place?
        self.symbols: dict[str, tuple[fx.Node, int]] = {}  # symbol -> (input, axis)
        self._dims: dict[str, fx.Node] = {}
        self.unsaved: set[str] = set()  # buffers that stay out of the state dict

    def call(self, fn, *args, **kwargs) -> fx.Node:
        return self.g.call_function(fn, args, kwargs or None)

    def attr(self, name: str) -> fx.Node:
        if name not in self._attrs:
            self._attrs[name] = self.g.get_attr(name)
        return self._attrs[name]

    def constant(self, name: str, tensor: torch.Tensor) -> fx.Node:
        """A tensor the lowering needs (not a parameter): a non-persistent buffer, so it moves
        with the module between devices but stays out of the state dict."""
        owner, leaf = _owner(self.root, name)
        owner.register_buffer(leaf, tensor, persistent=False)
        self.unsaved.add(name)
        return self.attr(name)

    def dim(self, d):
        """A dim's value in the forward pass: an int as it is, a symbolic dim computed from
        the sizes of the inputs that declare its names (once per expression)."""
        if isinstance(d, int):
            return d
        key = str(d)
        if key not in self._dims:
            self._dims[key] = lower(d, _TorchDims(self))
        return self._dims[key]

    def size(self, symbol: str) -> fx.Node:
        key = f"size:{symbol}"
        if key not in self._dims:
            if symbol not in self.symbols:
                raise registry.LoweringError(f"'{symbol}' is not a dim of any input")
            node, axis = self.symbols[symbol]
            self._dims[key] = self.call(size_of, node, axis)
        return self._dims[key]

    @property
    def training(self) -> fx.Node:
        return self.attr("training")


class _TorchDims:
    """ir.sym.lower's operations on Python ints and fx nodes."""

    def __init__(self, b: TorchBuilder):
        self.b = b

    def const(self, v):
        return v

    def name(self, n):
        return self.b.size(n)

    def add(self, x, y):
        return self._op(operator.add, x, y)

    def mul(self, x, y):
        return self._op(operator.mul, x, y)

    def floordiv(self, x, k, nonneg):
        return self._op(operator.floordiv, x, k)

    def mod(self, x, k):
        return self._op(operator.mod, x, k)

    def _op(self, fn, x, y):
        if isinstance(x, int) and isinstance(y, int):
            return fn(x, y)
        return self.b.call(fn, x, y)


class ShapeComments(fx.graph.CodeGen):
    """fx code generation plus a comment with the spec's shape on every line."""

    def __init__(self, comments: dict[str, str]):
        super().__init__()
        self.comments = comments

    def _gen_python_code(self, *args, **kwargs):
        code = super()._gen_python_code(*args, **kwargs)
        code.src = re.sub(r"^(    (\w+) = .*)$", self._comment, code.src, flags=re.M)
        return code

    def _comment(self, m: re.Match) -> str:
        note = self.comments.get(m.group(2))
        return f"{m.group(1)}  # {note}" if note else m.group(1)


def size_of(x, axis: int) -> int:
    return x.shape[axis]


def python_name(name: str) -> str:
    return re.sub(r"\W", "_", name)


def init_weights(graph: Graph, seed: int | None = None) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, initialised in graph order from one generator: exactly the
    tensors build_module(graph, seed) holds (export uses them without building a module)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return {p.name: init_tensor(p, gen) for p in graph.params.values()}


class Filling:
    """init_weights(graph, seed) running in a background thread, into tensors allocated up
    front (`tensors`, in graph order, the same draws): export writes each tensor as soon as
    it is filled and builds what it needs meanwhile, instead of waiting for all of them.
    wait(name) blocks until that tensor is ready; join() until all are; both re-raise an
    error of the initialisation. cancel() stops it after the tensor in hand: a failing export
    must not leave the thread inside torch when the process exits (that aborts it)."""

    def __init__(self, graph: Graph, seed: int | None = None):
        params = list(graph.params.values())
        self.tensors = {p.name: torch.empty(tuple(p.shape), dtype=torch_dtype(p.dtype))
                        for p in params}
        self._ready = {p.name: threading.Event() for p in params}
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._fill, args=(params, seed), daemon=True,
                                        name="specc-init")
        self._thread.start()

    def _fill(self, params, seed) -> None:
        try:
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            with torch.no_grad():
                for p in params:
                    if self._cancelled:
                        break
                    fill_tensor(p, gen, self.tensors[p.name])
                    self._ready[p.name].set()
        except BaseException as e:  # re-raised by wait / join in the caller's thread
            self._error = e
        finally:
            for event in self._ready.values():
                event.set()

    def wait(self, name: str) -> None:
        if name in self._ready:
            self._ready[name].wait()
        if self._error is not None:
            raise self._error

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        self._cancelled = True
        self._thread.join()


def empty_weights(graph: Graph) -> dict[str, torch.Tensor]:
    """Tensors of the parameters' shapes and dtypes to be filled from a checkpoint: left
    uninitialised, except constants, which no checkpoint holds (made from their values)."""
    return {p.name: torch.empty(tuple(p.shape), dtype=torch_dtype(p.dtype)) if p.saved
            else init_tensor(p, None) for p in graph.params.values()}


def build_module(graph: Graph, seed: int | None = None,
                 weights: dict[str, torch.Tensor] | None = None) -> fx.GraphModule:
    """The module, holding `weights` (shared, not copied) or a fresh seeded initialisation."""
    with graph.assumed():
        return _build_module(graph, seed, weights)


def _build_module(graph: Graph, seed, weights) -> fx.GraphModule:
    root = torch.nn.Module()
    tensors = weights if weights is not None else init_weights(graph, seed)
    g = fx.Graph()
    b = TorchBuilder(g, root)
    for p in graph.params.values():
        owner, leaf = _owner(root, p.name)
        tensor = tensors[p.name]
        if p.trainable:
            owner.register_parameter(leaf, torch.nn.Parameter(tensor))
        else:
            owner.register_buffer(leaf, tensor)
            if not p.saved:
                b.unsaved.add(p.name)
    env, comments = {}, {}
    users = {v: len(ns) for v, ns in graph.users().items()}
    outputs = set(graph.outputs.values())
    op_of = {n.name: n.op for n in graph.nodes}
    for name in graph.inputs:
        env[name] = g.placeholder(python_name(name))
        comments[python_name(name)] = str(graph.values[name].type)
        for axis, d in enumerate(graph.values[name].type.shape):
            if isinstance(d, Sym) and d.is_name():
                b.symbols.setdefault(str(d), (env[name], axis))
    _check_sizes(graph, b)
    problems = []
    for node in graph.nodes:
        op = registry.get(node.op)
        if any(i not in env for i in node.inputs):
            continue  # downstream of a node already reported
        if registry.Trait.DECLARATION in op.traits and not users[node.outputs[0]] \
                and node.outputs[0] not in outputs:
            continue  # a declared tensor nothing reads: held by the module, not in forward
        b.types = [graph.values[i].type for i in node.inputs]
        b.outs = [graph.values[o].type for o in node.outputs]
        b.overwritable = (registry.Trait.ELEMENTWISE in op.traits
                          and _overwritable(graph, node, users, outputs, op_of))
        ps = {role: b.attr(pname) for role, pname in node.params.items()}
        before = len(g.nodes)
        try:
            out = op.torch(b, node, [env[i] for i in node.inputs], ps)
        except registry.LoweringError as e:
            problems.append((node, str(e)))
            continue
        if isinstance(out, fx.Node) and len(g.nodes) > before and out.op == "call_function":
            out._rename(python_name(node.name))
            comments[out.name] = f"{b.outs[0]}  {node.op}"
        env[node.outputs[0]] = out
    if problems:
        raise registry.LoweringError.at_nodes(problems, "PyTorch")
    outs = [env[v] for v in graph.outputs.values()]
    g.output(outs[0] if len(outs) == 1 else tuple(outs))
    g.set_codegen(ShapeComments(comments))
    module = fx.GraphModule(root, g, class_name=python_name(graph.name))
    _hold_unread(module, graph, tensors, b.unsaved)
    for name in b.unsaved:  # GraphModule copies buffers as persistent ones
        owner, leaf = _owner(module, name)
        owner._non_persistent_buffers_set.add(leaf)
    quiet(module)
    _add_aliases(module, graph)
    module.specc_outputs = list(graph.outputs)
    # spec value -> fx node name, for verification that compares intermediate values
    module.specc_values = {v: n.name for v, n in env.items() if isinstance(n, fx.Node)}
    return module


def quiet(module: fx.GraphModule) -> fx.GraphModule:
    """Calls that raise say nothing themselves: torch.fx's call wrapper prints a traceback of
    the generated forward to stderr before re-raising, and specc's errors carry no traceback
    unless --debug asks (the caller turns the exception into a message)."""
    type(module)._wrapped_call = staticmethod(_plain_call)
    return module


def _plain_call(module, *args, **kwargs):
    return torch.nn.Module.__call__(module, *args, **kwargs)


def _hold_unread(module, graph: Graph, tensors: dict, unsaved: set) -> None:
    """GraphModule copies only the tensors its forward reads: a declared tensor that no op
    reads is registered again, so that it is trained or saved as it was declared."""
    held = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
    for p in graph.params.values():
        if p.name in held:
            continue
        owner, leaf = _owner(module, p.name)
        if p.trainable:
            owner.register_parameter(leaf, torch.nn.Parameter(tensors[p.name]))
        else:
            owner.register_buffer(leaf, tensors[p.name], persistent=p.saved)


def _add_aliases(module: fx.GraphModule, graph: Graph) -> None:
    """A tied parameter (one tensor several ops use as their own) is registered under each
    of its names, so the state dict has the keys PyTorch users expect (`lm_head.weight` and
    `transformer.wte.weight`) while parameters() and the optimiser see it once."""
    module.specc_aliases = {}
    for p in graph.params.values():
        if not p.aliases or p.name not in dict(module.named_parameters()) | dict(
                module.named_buffers()):
            continue
        tensor = module.get_parameter(p.name) if p.trainable else module.get_buffer(p.name)
        for alias in p.aliases:
            owner, leaf = _owner(module, alias)
            if p.trainable:
                owner.register_parameter(leaf, tensor)
            else:
                owner.register_buffer(leaf, tensor, persistent=p.saved)
            module.specc_aliases[alias] = p.name


def own_state(module) -> dict:
    """The state dict without the aliases of tied parameters: each tensor once (what a
    checkpoint stores; safetensors refuses tensors that share memory)."""
    aliases = getattr(module, "specc_aliases", {})
    return {k: v for k, v in module.state_dict().items() if k not in aliases}


def _check_sizes(graph: Graph, b: TorchBuilder) -> None:
    """The forward starts by checking the input sizes against the network's assumptions
    (H % 32 == 0, T <= 64): a clear error instead of a shape error deep inside."""
    if not graph.assumptions:
        return
    names = tuple(sorted({n for a in graph.assumptions if isinstance(a.cond.expr, Sym)
                          for n in a.cond.expr.names()} & set(b.symbols)))
    if names:
        b.call(require_sizes, json.dumps(graph.assumes()), names, *(b.size(n) for n in names))


def _overwritable(graph: Graph, node, users: dict, outputs: set, op_of: dict) -> bool:
    """May `node` overwrite its first input in place? Only when it is that value's one user,
    the value is no output, and its producer's backward does not read it."""
    if not node.inputs:
        return False
    value = node.inputs[0]
    producer = graph.values[value].producer
    return (users[value] == 1 and value not in outputs and producer is not None
            and registry.Trait.BACKWARD_IGNORES_OUTPUT in registry.get(op_of[producer]).traits)


def _owner(root: torch.nn.Module, name: str):
    """The submodule that holds `a.b.c` as attribute `c`, created on demand."""
    *path, leaf = name.split(".")
    mod = root
    for seg in path:
        child = mod._modules.get(seg)
        if child is None:
            _free(mod, seg, name)
            child = torch.nn.Module()
            mod.add_module(seg, child)
        mod = child
    if leaf not in mod._parameters and leaf not in mod._buffers:
        _free(mod, leaf, name)
    return mod, leaf


def _free(mod: torch.nn.Module, segment: str, name: str) -> None:
    """torch.nn.Module's own attributes (`half`, `eval`, `training`...) cannot name tensors."""
    if hasattr(mod, segment) and segment not in mod._modules:
        raise SpeccError(f"'{name}' cannot be a PyTorch module path: '{segment}' is an "
                         "attribute of torch.nn.Module; rename it")


def load_state(module, state: dict, source: str) -> None:
    """Load a state dict (tensors or arrays), listing every missing, unexpected or
    mis-shaped tensor at once. A tied parameter may come under any of its names (a
    PyTorch state dict holds all of them, a specc checkpoint the first)."""
    own = own_state(module)
    state = dict(state)
    for alias, name in getattr(module, "specc_aliases", {}).items():
        if alias in state:
            value = state.pop(alias)
            state.setdefault(name, value)
    check_fit({k: tuple(v.shape) for k, v in own.items()}, state, source,
              {k: v.dtype for k, v in own.items()})
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(torch.as_tensor(state[k]).to(v.dtype))


def load_model_weights(module, path) -> dict:
    """A checkpoint's or run folder's model tensors into `module`; returns its metadata."""
    tensors, meta = read_checkpoint(path)
    load_state(module, model_state(tensors), str(path))
    return meta
