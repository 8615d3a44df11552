"""Executing statements: assignments name what they bind; loops, conditionals, declarations."""
from __future__ import annotations

from ..lang import ast as A
from ..core.diagnostics import FatalError, SpeccError
from ..core.nesting import MAX_NESTING, too_deep
from ..ir.cond import Cond
from ..ir.sym import Sym
from ..lang.values import POISON, Conds, Tensor, show, type_name
from .calls import ReturnSignal, coerce
from .expr import Hint, is_chain
from .recipe import evaluate_recipe
from .reference import evaluate_reference
from .types import check_literal, tensor_type


class StmtExec:
    """Mixin: needs `self.eval`, `self.builder`, `self.errors` (a Collector) and `self.graph`."""

    def exec_body(self, stmts, frame) -> None:
        self.nesting += 1  # a body is a level of the one depth rule (core.nesting)
        try:
            if self.nesting > MAX_NESTING and stmts:
                raise FatalError(too_deep("evaluation") + ", counted through block calls",
                                 frame.span(stmts[0].span))
            self._exec_stmts(stmts, frame)
        finally:
            self.nesting -= 1

    def _exec_stmts(self, stmts, frame) -> None:
        for stmt in stmts:
            try:
                getattr(self, "_exec_" + type(stmt).__name__)(stmt, frame)
            except FatalError:
                raise
            except SpeccError as e:
                self.errors.add(e)
                for name in _targets(stmt):
                    frame.vars[name] = POISON
                if isinstance(e, AssertFailed):
                    return

    def _exec_StmtDoc(self, s, frame):
        pass

    def _path(self, target: str, label, value, frame) -> str:
        """The path an assignment names: its label, else its target (+ loop indices)."""
        if label is not None:
            path = self.label_path(label, value, frame)
            if path is POISON:
                raise _Silent()
            return path
        if frame.loop and not is_chain(value):
            return frame.path(target + "".join(f".{i}" for i in frame.loop))
        return frame.path(target)

    def _exec_StmtAssign(self, s, frame):
        path = self._path(s.target, s.label, s.value, frame)
        frame.vars[s.target] = self.eval(s.value, frame, Hint(path))

    def _exec_StmtDestructure(self, s, frame):
        value = self.eval(s.value, frame, Hint(self._path(s.targets[0], s.label, s.value, frame)))
        if value is POISON:
            raise _Silent()
        if not isinstance(value, tuple) or len(value) != len(s.targets):
            raise SpeccError(f"cannot unpack {type_name(value)} {show(value)} into "
                             f"{len(s.targets)} names", frame.span(s.span))
        frame.vars.update(zip(s.targets, value))

    def _exec_StmtInput(self, s, frame):
        if frame.kind != "network":
            raise SpeccError("'input' may only appear in a network, not in a block",
                             frame.span(s.span))
        t = tensor_type(self, s.type, frame)
        if t is POISON:
            raise _Silent()
        frame.vars[s.name] = self.builder.add_input(s.name, t, frame.span(s.span))
        for d in t.shape:  # the sizes it declares become names: assert H % 32 == 0
            if isinstance(d, Sym) and d.is_name():
                frame.vars.setdefault(str(d), d)

    def _exec_StmtOutput(self, s, frame):
        if frame.kind != "network":
            raise SpeccError("'output' may only appear in a network; blocks use 'return'",
                             frame.span(s.span))
        if s.value is None:
            value = self.lookup(s.name, frame, s.span)
        else:
            value = self.eval(s.value, frame, Hint(self._path(s.name, s.label, s.value, frame)))
            frame.vars[s.name] = value
        if value is POISON:
            return
        if not isinstance(value, Tensor):
            raise SpeccError(f"output '{s.name}' must be a tensor, got {type_name(value)}",
                             frame.span(s.span))
        if s.name in self.builder.graph.outputs:
            raise SpeccError(f"output '{s.name}' is declared twice", frame.span(s.span))
        if not self.builder.graph.outputs and s.train_only:
            raise SpeccError("the first output is the network's result; declare it before "
                             "training-only outputs", frame.span(s.span))
        self.builder.graph.outputs[s.name] = value.name
        if s.train_only:
            self.builder.graph.meta.setdefault("train_outputs", []).append(s.name)

    def _exec_StmtParam(self, s, frame):
        t = tensor_type(self, s.type, frame)
        init = self.eval(s.init, frame)
        if POISON in (t, init):
            raise _Silent()
        if any(isinstance(d, Sym) for d in t.shape):
            raise SpeccError(f"parameter '{s.name}' needs known dims, got {t}", frame.span(s.span))
        if isinstance(init, tuple):
            check_literal(init, t, s.name, frame.span(s.init.span))
        init = coerce("parameter", s.name, "init", init, frame.span(s.init.span))
        frame.vars[s.name] = self.builder.add_op(
            "parameter", [], {"shape": t.shape, "dtype": t.dtype, "init": init,
                              "trainable": s.trainable, "saved": s.saved},
            frame.path(s.name), frame.span(s.span))

    def _exec_StmtFor(self, s, frame):
        items = self.eval(s.iterable, frame)
        if items is POISON:
            return
        if not isinstance(items, tuple):
            raise SpeccError(f"'for' needs a list, got {type_name(items)}",
                             frame.span(s.iterable.span))
        for i, item in enumerate(items):
            self.builder.count_loop_step(frame.span(s.span))
            if s.var2 is not None:
                if not isinstance(item, tuple) or len(item) != 2:
                    raise SpeccError(f"cannot unpack {show(item)} into '{s.var}, {s.var2}'",
                                     frame.span(s.span))
                frame.vars[s.var], frame.vars[s.var2] = item
            else:
                frame.vars[s.var] = item
            frame.loop.append(i)
            try:
                self.exec_body(s.body, frame)
            finally:
                frame.loop.pop()

    def _exec_StmtIf(self, s, frame):
        cond = self.eval(s.cond, frame)
        if cond is POISON:
            return
        if not isinstance(cond, bool):
            self._need_bool(cond, s.cond, frame, "if")
        self.exec_body(s.then if cond else s.other, frame)

    def _exec_StmtAssert(self, s, frame):
        """A failed assert stops the body it stands in: what follows relies on it."""
        cond = self.eval(s.cond, frame)
        if cond is POISON:
            return
        if isinstance(cond, (Cond, Conds)):  # on symbolic sizes: assumed, checked at run time
            message = self.eval(s.message, frame) if s.message is not None else None
            for c in (cond.items if isinstance(cond, Conds) else (cond,)):
                self.builder.assume(c, message if isinstance(message, str) else "",
                                    frame.span(s.span))
            return
        if not isinstance(cond, bool):
            raise SpeccError(f"'assert' needs a bool, got {type_name(cond)}",
                             frame.span(s.cond.span))
        if not cond:
            message = self.eval(s.message, frame) if s.message is not None else None
            text = message if isinstance(message, str) else "assertion failed"
            raise AssertFailed(text, frame.span(s.span))

    def _exec_StmtReturn(self, s, frame):
        if frame.kind != "block":
            raise SpeccError("'return' may only appear in a block; networks use 'output'",
                             frame.span(s.span))
        hint = None
        if s.label is not None:
            if len(s.values) > 1:
                raise SpeccError("'as' names one returned value; name each before returning "
                                 "them together", frame.span(s.label.span))
            hint = Hint(self._path("", s.label, s.values[0], frame))
        values = tuple(self.eval(v, frame, hint) for v in s.values)
        raise ReturnSignal(values[0] if len(values) == 1 else
                           (POISON if POISON in values else values))

    def _exec_StmtTrain(self, s, frame):
        if frame.kind != "network":
            raise SpeccError("a 'train' recipe belongs in a network", frame.span(s.span))
        if self.builder.graph.recipe:
            raise SpeccError("a network has at most one 'train' recipe", frame.span(s.span))
        self.builder.graph.recipe = evaluate_recipe(self, s, frame,
                                                    self.builder.graph.recipe_spans)

    def _exec_StmtReference(self, s, frame):
        if frame.kind != "network":
            raise SpeccError("a 'reference' section belongs in a network or after a preset",
                             frame.span(s.span))
        if self.builder.graph.reference:
            raise SpeccError("a network has at most one 'reference' section", frame.span(s.span))
        self.builder.graph.reference = evaluate_reference(self, s, frame)


class AssertFailed(SpeccError):
    """An `assert` that does not hold."""


class _Silent(SpeccError):
    """An error already reported elsewhere (a poisoned operand): nothing new to say."""

    def __init__(self):
        super().__init__("")
        self.errors = []


def _targets(stmt) -> tuple[str, ...]:
    if isinstance(stmt, (A.StmtAssign, A.StmtParam, A.StmtInput, A.StmtOutput)):
        return (getattr(stmt, "target", None) or stmt.name,)
    if isinstance(stmt, A.StmtDestructure):
        return stmt.targets
    return ()
