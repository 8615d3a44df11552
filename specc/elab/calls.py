"""Calls: ops from the registry, blocks (a call is a naming scope) and builtins."""
from __future__ import annotations

import difflib
from dataclasses import replace

from ..lang import ast as A
from ..core.diagnostics import FatalError, SpeccError
from ..ir.graph import Init
from ..ir.sym import Sym
from ..ops import registry
from ..ops.registry import REQUIRED
from ..rules.elab import KEYWORD as LEARN
from ..rules.elab import record, rule_value
from ..lang.values import POISON, BlockRef, Builtin, NetworkRef, OpRef, Tensor, show, type_name
from . import builtins
from .builder import MAX_DEPTH
from .expr import Hint
from .scope import Frame
from .types import check_value


class ReturnSignal(Exception):
    def __init__(self, value):
        self.value = value


class CallEval:
    """Mixin: needs ExprEval's `eval`/`lookup`, `self.builder` and StmtExec's `exec_body`."""

    def _eval_ExprCall(self, e: A.ExprCall, frame: Frame, hint: Hint | None):
        callee = self._callee(e.callee, frame)
        self._check_keywords(callee, e.args, frame)
        args, kwargs = self._args(e.args, frame)
        return self.invoke(callee, args, kwargs, e, frame, hint)

    def call_stage(self, stage: A.Expr, value, frame: Frame, hint: Hint | None):
        """One stage of `value |> stage`: the value becomes the first argument."""
        if isinstance(stage, A.ExprCall):
            callee = self._callee(stage.callee, frame)
            self._check_keywords(callee, stage.args, frame)
            args, kwargs = self._args(stage.args, frame)
            return self.invoke(callee, [value] + args, kwargs, stage, frame, hint)
        callee = self._callee(stage, frame)
        return self.invoke(callee, [value], {}, stage, frame, hint)

    def _check_keywords(self, callee, args: tuple[A.Arg, ...], frame: Frame) -> None:
        """A keyword the op or block does not take is the mistake to report, named and
        underlined alone, before anything is evaluated or found missing."""
        if isinstance(callee, OpRef):
            what, name, names = "op", callee.name, [a.name for a in registry.get(callee.name).args]
        elif isinstance(callee, BlockRef):
            what, name, names = "block", callee.defn.name, [p.name for p in callee.defn.params]
        else:
            return
        errors = []
        for a in args:
            if a.name is not None and a.name not in names and a.name != LEARN:
                from ..core.suggest import did_you_mean
                span = frame.span(a.span)
                span = replace(span, end_line=span.line, end_col=span.col + len(a.name))
                errors.append(SpeccError(f"{what} '{name}' has no argument '{a.name}'"
                                         f"{did_you_mean(a.name, names)}", span,
                                         (f"{what} '{name}' takes: {', '.join(names)}",)))
        if errors:  # every misspelt keyword of the call at once
            raise errors[0] if len(errors) == 1 else SpeccError.many(errors)

    def _callee(self, e: A.Expr, frame: Frame):
        if isinstance(e, A.ExprName):
            return self.lookup(e.name, frame, e.span, call=True)
        return self.eval(e, frame)

    def _args(self, args: tuple[A.Arg, ...], frame: Frame):
        positional, named = [], {}
        for a in args:
            v = rule_value(self, a.value, frame) if a.name == LEARN else self.eval(a.value, frame)
            if a.name is None:
                if named:
                    raise SpeccError("a positional argument follows a keyword argument",
                                     frame.span(a.span))
                positional.append(v)
            elif a.name in named:
                raise SpeccError(f"argument '{a.name}' is given twice", frame.span(a.span))
            else:
                named[a.name] = v
        return positional, named

    def invoke(self, callee, args, kwargs, e, frame: Frame, hint):
        span = frame.span(e.span)
        if callee is POISON or POISON in args or POISON in kwargs.values():
            return POISON
        if isinstance(callee, OpRef):
            return self.call_op(callee.name, args, kwargs, span, frame, hint)
        if isinstance(callee, BlockRef):
            return self.call_block(callee, args, kwargs, span, frame, hint)
        if isinstance(callee, Builtin):
            if registry.get(callee.name) and any(
                    isinstance(v, Tensor) for v in list(args) + list(kwargs.values())):
                return self.call_op(callee.name, args, kwargs, span, frame, hint)  # max(x, ...)
            return builtins.call(callee, args, kwargs, span)
        if isinstance(callee, Init):
            return builtins.call_init(callee, args, kwargs, span)
        if isinstance(callee, NetworkRef):
            raise SpeccError(f"network '{callee.display}' cannot be called inside a network; "
                             "use a block", span)
        raise SpeccError(f"{type_name(callee)} {show(callee)} is not callable", span)

    # ------------------------------------------------------------------- ops
    def call_op(self, name, args, kwargs, span, frame: Frame, hint):
        op = registry.get(name)
        kwargs = dict(kwargs)
        learn = kwargs.pop(LEARN, None)
        values = bind_args(name, "op", [(a.name, a.default, a.kind) for a in op.args],
                           args, kwargs, span)
        inputs, attrs = [], {}
        for a in op.args:
            v = values[a.name]
            if a.kind == "tensor" and _is_number(v):
                v = self.number_tensor(v, [x for x in args if isinstance(x, Tensor)], frame, span)
            v = coerce(name, a.name, a.kind, v, span, optional=a.default is None)
            if a.kind == "param":  # a parameter given, else none: the op owns its own
                if v is not None:
                    attrs[a.name] = self.builder.param_ref(v, f"argument '{a.name}' of {name}",
                                                           span)
                continue
            if a.kind == "tensor" and v is not None:
                inputs.append(v)
            elif a.kind == "tensors":
                inputs.extend(v)
            else:
                attrs[a.name] = v
        path = hint.path if hint else frame.path(name)
        if frame.own and hint and path == frame.prefix:
            path = self.builder.take_scope(frame.own, name, span)
        elif path == "" or path.endswith("."):
            raise SpeccError(f"op '{name}' needs a name; 'as \"\"' only inlines a block call "
                             "or names the op by the block call it is in", span)
        out = self.builder.add_op(name, inputs, attrs, path, span)
        if learn is not None:
            record(self.builder.graph, out.name, learn, learn.span or span)
        return out

    # ---------------------------------------------------------------- blocks
    def call_block(self, ref: BlockRef, args, kwargs, span, frame: Frame, hint):
        d = ref.defn
        if frame.depth >= MAX_DEPTH:
            raise FatalError(f"block '{d.name}' expands without end (more than {MAX_DEPTH} "
                             "nested block calls); does it call itself?", span)
        params = [(p.name, p.default if p.default is not None else REQUIRED, p) for p in d.params]
        bound = bind_args(d.name, "block", [(n, dflt, None) for n, dflt, _ in params],
                          args, kwargs, span)
        own = ""
        if hint and (hint.path == "" or hint.path.endswith(".")):
            prefix = hint.path  # inlined: the block's names join the caller's scope
        else:
            own = self.builder.claim(hint.path if hint else frame.path(d.name))
            prefix = own + "."
        inner = Frame(ref.module, prefix=prefix, call_span=span,
                      context=f"block '{d.name}'", depth=frame.depth + 1, kind="block", own=own)
        for name, default, p in params:
            value = bound[name]
            if value is DEFAULT:
                value = self.eval(p.default, inner)
            if p.type is not None and value is not POISON:
                check_value(self, value, p.type, inner, f"argument '{name}' of block '{d.name}'",
                            span)
            inner.vars[name] = value
        before = self.errors.count
        try:
            self.exec_body(d.body, inner)
        except ReturnSignal as r:
            return r.value
        if self.errors.count > before:
            return POISON  # its body failed; the error is already reported
        raise SpeccError(f"block '{d.name}' ends without 'return'", span)


DEFAULT = object()  # an argument left to its declared default


def bind_args(name: str, what: str, signature, args, kwargs, span) -> dict:
    """Match positional and keyword arguments to (name, default, kind) triples."""
    names = [n for n, _, _ in signature]
    if len(args) > len(names):
        raise SpeccError(f"{what} '{name}' takes at most {len(names)} arguments, "
                         f"got {len(args)}", span)
    out = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            note = (f"did you mean '{close[0]}'?",) if close else (
                f"{what} '{name}' takes: {', '.join(names)}",)
            raise SpeccError(f"{what} '{name}' has no argument '{key}'", span, note)
        if key in out:
            raise SpeccError(f"argument '{key}' of {what} '{name}' is given twice", span)
        out[key] = value
    for n, default, _ in signature:
        if n not in out:
            if default is REQUIRED:
                raise SpeccError(f"{what} '{name}' is missing argument '{n}'", span)
            out[n] = default if what == "op" else DEFAULT
    return out


def coerce(op: str, arg: str, kind: str, v, span, optional: bool = False):
    """Check `v` against the argument's kind (every kind of the registry is checked here);
    `none` is accepted only by an argument whose default is `none`."""
    def bad(want):
        shown = "" if isinstance(v, Tensor) or show(v) == type_name(v) else f" {show(v)}"
        return SpeccError(f"argument '{arg}' of {op} must be {want}, got {type_name(v)}{shown}",
                          span)

    if v is None and optional:
        return v
    if kind == "tensor":
        if not isinstance(v, Tensor):
            raise bad("a tensor")
    elif kind == "tensors":
        if not isinstance(v, tuple) or not all(isinstance(x, Tensor) for x in v):
            raise bad("a list of tensors")
    elif kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("an int")
    elif kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad("a number")
        v = float(v)
    elif kind == "bool":
        if not isinstance(v, bool):
            raise bad("true or false")
    elif kind == "str":
        if not isinstance(v, str):
            raise bad("a string")
    elif kind == "ints":
        ok = _is_int(v) or (isinstance(v, tuple) and all(_is_int(x) for x in v))
        if not ok:
            raise bad("an int or a list of ints")
    elif kind == "int_list":
        if _is_int(v):
            v = (v,)
        if not (isinstance(v, tuple) and all(_is_int(x) for x in v)):
            raise bad("a list of ints")
    elif kind == "floats":
        if _is_number(v):
            v = (v,)
        if not (isinstance(v, tuple) and all(_is_number(x) for x in v)):
            raise bad("a list of numbers")
        v = tuple(float(x) for x in v)
    elif kind == "dim":  # an int or a symbolic dim (x.shape[1])
        if not (_is_int(v) or isinstance(v, Sym)):
            raise bad("an int or a dim such as x.shape[1]")
    elif kind == "dims":  # ints, -1 and symbolic dims (x.shape[0])
        if _is_int(v) or isinstance(v, Sym):
            v = (v,)
        if not (isinstance(v, tuple) and all(_is_int(x) or isinstance(x, Sym) for x in v)):
            raise bad("a list of dims (ints or symbolic dims such as x.shape[0])")
    elif kind == "param":  # a declared parameter; the builder checks it is one
        if not isinstance(v, Tensor):
            raise bad("a declared parameter (param w: f32[...] = ...)")
    elif kind == "table":
        if not (isinstance(v, tuple) and all(isinstance(r, tuple) and all(_is_int(x) for x in r)
                                             for r in v)):
            raise bad("a list of lists of ints")
    elif kind == "init":
        if isinstance(v, tuple):
            try:
                v = builtins.FUNCTIONS["values"](v)
            except builtins.BuiltinError:
                raise bad("an initialiser or a nested list of numbers") from None
        elif _is_number(v):
            v = Init("constant", (float(v),))
        if not isinstance(v, Init):
            raise bad("an initialiser")
    else:
        raise AssertionError(f"argument kind {kind!r} is not checked")
    return v


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
