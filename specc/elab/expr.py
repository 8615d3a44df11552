"""Evaluating expressions: compile-time arithmetic, names, pipes and tensor arithmetic."""
from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass

from ..lang import ast as A
from ..core.diagnostics import FatalError, SpeccError
from ..core.nesting import MAX_NESTING, too_deep
from ..ops import registry
from ..ir.cond import compare, Cond
from ..ir.sym import Sym
from ..lang.values import (MAX_INT, POISON, BlockRef, Builtin, check_caps, Conds, joined,
                           NetworkRef, OpRef, show, Tensor, type_name, ValueLimit)
from . import builtins
from .scope import Frame

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_TENSOR_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "//": "floor_div",
               "%": "mod", "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def callable_by_name(op) -> bool:
    """Constants and declared parameters are made by the compiler, not called in a spec."""
    return not op.traits & {registry.Trait.INTERNAL, registry.Trait.DECLARATION}


@dataclass(frozen=True)
class Hint:
    """The path the outermost op or block call of an expression is named with."""

    path: str


def is_chain(e: A.Expr) -> bool:
    if isinstance(e, A.ExprPipe):
        return True
    if isinstance(e, A.ExprTernary):
        return is_chain(e.then) or is_chain(e.other)
    return False


def callable_value(v) -> bool:
    return isinstance(v, (BlockRef, NetworkRef, OpRef, Builtin))


_METHODS: dict[tuple, object] = {}  # (evaluator, AST class) -> its _eval_ method


class ExprEval:
    """Mixin: needs `self.builder` and the call methods of CallEval."""

    observer = None  # called with (self, expr, frame, value) after each evaluation (LSP hover)
    nesting = 0  # expressions and bodies being evaluated, through block calls (core.nesting)

    def eval(self, e: A.Expr, frame: Frame, hint: Hint | None = None):
        """Every value an expression makes passes the size caps (specc.lang.values) here, so the
        error points at the expression that made a value too large."""
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                raise FatalError(too_deep("evaluation") + ", counted through block calls",
                                 frame.span(e.span))
            key = (type(self), type(e))
            method = _METHODS.get(key)
            if method is None:
                method = _METHODS[key] = getattr(type(self), "_eval_" + type(e).__name__)
            value = method(self, e, frame, hint)
        finally:
            self.nesting -= 1
        if type(value) is int and -MAX_INT <= value <= MAX_INT:
            pass  # the common case, within the caps
        elif isinstance(value, (int, float, str, tuple)):
            try:
                check_caps(value)
            except ValueLimit as err:
                raise SpeccError(str(err), frame.span(e.span)) from None
        if self.observer is not None:
            self.observer(self, e, frame, value)
        return value

    def _eval_ExprLit(self, e, frame, hint):
        return e.value

    def _eval_ExprList(self, e, frame, hint):
        items = tuple(self.eval(x, frame) for x in e.items)
        return POISON if POISON in items else items

    def _eval_ExprName(self, e, frame, hint):
        return self.lookup(e.name, frame, e.span)

    # ------------------------------------------------------------------ names
    def lookup(self, name: str, frame: Frame, span, call: bool = False):
        if name in frame.vars and (not call or callable_value(frame.vars[name])):
            return frame.vars[name]
        if name in frame.module.names:
            return frame.module.names[name]
        found = builtins.lookup(name)
        if found is not None:
            return found
        op = registry.get(name)
        if op is not None and callable_by_name(op):
            return OpRef(name)
        if call and name in frame.vars:
            raise SpeccError(f"'{name}' is not a block or op (it holds {type_name(frame.vars[name])})",
                             frame.span(span))
        raise SpeccError(f"unknown name '{name}'", frame.span(span), self._suggest(name, frame))

    def _suggest(self, name: str, frame: Frame) -> tuple[str, ...]:
        pool = list(frame.vars) + list(frame.module.names) + builtins.names() + [
            n for n, op in registry.all_ops().items() if callable_by_name(op)]
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.75)
        return (f"did you mean '{close[0]}'?",) if close else ()

    # ------------------------------------------------------------- operators
    def _eval_ExprBinary(self, e, frame, hint):
        a, b = self.eval(e.left, frame), self.eval(e.right, frame)
        if a is POISON or b is POISON:
            return POISON
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            return self._tensor_binary(e, a, b, frame, hint)
        if e.op in _COMPARE:
            return self._compare(e, a, b, frame)
        return self._arith(e, a, b, frame)

    def _compare(self, e, a, b, frame):
        if (isinstance(a, Sym) or isinstance(b, Sym)) and _dim(a) and _dim(b):
            return compare(a, e.op, b)  # a bool, or a Cond that only run time can decide
        if e.op in ("==", "!="):
            return _COMPARE[e.op](a, b)
        ok = (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))
        if not ok:
            raise SpeccError(f"cannot compare {type_name(a)} {e.op} {type_name(b)}",
                             frame.span(e.span))
        return _COMPARE[e.op](a, b)

    def _arith(self, e, a, b, frame):
        op = e.op
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
            return joined(a, b)
        if op == "*" and isinstance(a, tuple) and _int(b) or op == "*" and isinstance(b, tuple) and _int(a):
            n = b if isinstance(a, tuple) else a
            seq = a if isinstance(a, tuple) else b
            if len(seq) * max(n, 0) > builtins.MAX_LIST:
                raise SpeccError(f"a list of {len(seq) * n:,} items exceeds the limit of "
                                 f"{builtins.MAX_LIST:,}", frame.span(e.span))
            return seq * n
        if (isinstance(a, Sym) or isinstance(b, Sym)) and _dim(a) and _dim(b):
            return _dim_arith(op, a, b, frame.span(e.span))
        if not (_number(a) and _number(b)):
            raise SpeccError(f"cannot apply '{op}' to {type_name(a)} and {type_name(b)}",
                             frame.span(e.span))
        try:
            if op == "**" and abs(b) > 256:
                raise OverflowError
            result = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                      "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
                      "**": operator.pow}[op](a, b)
        except ZeroDivisionError:
            raise SpeccError(f"division by zero in '{op}'", frame.span(e.span)) from None
        except OverflowError:
            raise SpeccError("number too large", frame.span(e.span)) from None
        if isinstance(result, complex) or (isinstance(result, int) and abs(result) > MAX_INT) \
                or (isinstance(result, float) and result != result):
            raise SpeccError("number too large or not real", frame.span(e.span))
        return result

    def _tensor_binary(self, e, a, b, frame, hint):
        span = frame.span(e.span)
        if e.op not in _TENSOR_OPS:
            raise SpeccError(f"'{e.op}' is not defined for tensors", span)
        operands = []
        for v in (a, b):
            if isinstance(v, Tensor):
                operands.append(v)
            elif _number(v):
                operands.append(self.number_tensor(v, [a, b], frame, span))
            else:
                raise SpeccError(f"cannot apply '{e.op}' to a tensor and {type_name(v)}", span)
        path = hint.path if hint else frame.path(_TENSOR_OPS[e.op])
        return self.builder.add_op(_TENSOR_OPS[e.op], operands, {}, path, span)

    def number_tensor(self, v, others, frame, span):
        """A number among tensor operands becomes a rank-0 constant of their dtype (of the
        first that is not bool: a number is never a truth value, as in where(c, x, 0.0));
        beside bool tensors alone, an f32 (where(c, -1.0, 0.0) gives f32)."""
        tensors = [t for t in others if isinstance(t, Tensor)]
        dtype = next((t.type.dtype for t in tensors if t.type.dtype != "bool"), "f32")
        if dtype in ("i32", "i64") and not _int(v):
            raise SpeccError(f"the number {show(v)} in {dtype} tensor arithmetic must be an int",
                             span, ("cast the tensor to f32 first: cast(x, \"f32\")",))
        return self.builder.add_op("constant", [], {"value": float(v), "dtype": dtype},
                                   frame.path("const"), span)

    def _eval_ExprUnary(self, e, frame, hint):
        v = self.eval(e.operand, frame)
        if v is POISON:
            return POISON
        span = frame.span(e.span)
        if e.op == "not":
            if not isinstance(v, bool):
                raise SpeccError(f"'not' needs a bool, got {type_name(v)}", span)
            return not v
        if isinstance(v, Tensor) and e.op == "-":
            neg = self.builder.add_op("constant", [], {"value": -1.0, "dtype": v.type.dtype},
                                      frame.path("const"), span)
            return self.builder.add_op("mul", [v, neg], {}, hint.path if hint else
                                       frame.path("neg"), span)
        if not _number(v):
            raise SpeccError(f"'{e.op}' needs a number, got {type_name(v)}", span)
        return -v if e.op == "-" else v

    def _eval_ExprBool(self, e, frame, hint):
        a = self.eval(e.left, frame)
        if a is POISON:
            return POISON
        if e.op == "and" and isinstance(a, (Cond, Conds)):  # conditions an assert states
            b = self.eval(e.right, frame)
            if b is POISON or b is False:
                return b
            if b is True:
                return a
            if not isinstance(b, (Cond, Conds)):
                self._need_bool(b, e.right, frame, e.op)
            return Conds(_conds(a) + _conds(b))
        self._need_bool(a, e.left, frame, e.op)
        if (e.op == "and" and not a) or (e.op == "or" and a):
            return a
        b = self.eval(e.right, frame)
        if b is not POISON and not (e.op == "and" and isinstance(b, (Cond, Conds))):
            self._need_bool(b, e.right, frame, e.op)
        return b

    def _need_bool(self, v, e, frame, what):
        if isinstance(v, (Cond, Conds)):
            names = ", ".join(sorted({n for c in _conds(v) for n in _names(c.expr)}))
            raise SpeccError(f"'{what}' cannot decide {v} when the spec is compiled: it depends "
                             f"on the symbolic size{'s' if ', ' in names else ''} {names}",
                             frame.span(e.span),
                             ("`assert` states it (checked whenever the network runs), after "
                              "which it holds; or decide by a network parameter",))
        if not isinstance(v, bool):
            raise SpeccError(f"'{what}' needs a bool, got {type_name(v)} {show(v)}",
                             frame.span(e.span))

    def _eval_ExprTernary(self, e, frame, hint):
        cond = self.eval(e.cond, frame)
        if cond is POISON:
            return POISON
        self._need_bool(cond, e.cond, frame, "?")
        return self.eval(e.then if cond else e.other, frame, hint)

    # -------------------------------------------------------- index, attribute
    def _eval_ExprIndex(self, e, frame, hint):
        target, index = self.eval(e.target, frame), self.eval(e.index, frame)
        if POISON in (target, index):
            return POISON
        span = frame.span(e.span)
        if isinstance(target, Tensor):
            if not isinstance(index, Tensor):
                raise SpeccError(f"a tensor is indexed by an integer tensor, got "
                                 f"{type_name(index)}", span,
                                 ("slice(x, axis, start, end) takes a range of a dim",))
            return self.call_op("take", [target, index], {}, span, frame, hint)
        if not isinstance(target, (tuple, str)):
            raise SpeccError(f"cannot index {type_name(target)}", span)
        if not _int(index):
            raise SpeccError(f"an index must be an int, got {type_name(index)}", span)
        if not -len(target) <= index < len(target):
            raise SpeccError(f"index {index} is out of range for a list of {len(target)}", span)
        return target[index]

    def _eval_ExprAttr(self, e, frame, hint):
        target = self.eval(e.target, frame)
        if target is POISON:
            return POISON
        span = frame.span(e.span)
        if not isinstance(target, Tensor):
            raise SpeccError(f"{type_name(target)} has no attribute '{e.attr}'", span)
        t = target.type
        attrs = {"shape": lambda: tuple(t.shape), "rank": lambda: t.rank,
                 "dtype": lambda: t.dtype, "channels": lambda: t.shape[1],
                 "features": lambda: t.shape[-1], "height": lambda: t.shape[-2],
                 "width": lambda: t.shape[-1], "length": lambda: t.shape[-1]}
        if e.attr not in attrs:
            raise SpeccError(f"a tensor has no attribute '{e.attr}'", span,
                             (f"tensors have: {', '.join(attrs)}",))
        needs = {"channels": 2, "height": 4, "width": 4, "length": 3, "features": 1}
        if t.rank < needs.get(e.attr, 0):
            raise SpeccError(f"'{e.attr}' of a rank-{t.rank} tensor {t}", span)
        return attrs[e.attr]()

    # -------------------------------------------------------------- labels
    def label_path(self, label: A.Expr, value: A.Expr, frame: Frame, within: str | None = None):
        """The path `as LABEL` gives `value` (in the frame's scope, or inside the chain
        `within`); POISON when the label failed. `"name[K:]"` numbers a chain's stages from
        K (name.K, name.K+1, ...: torchvision's `block[1:]` keys, after a stage written on
        its own)."""
        text = self.eval(label, frame)
        if text is POISON:
            return POISON
        span = frame.span(label.span)
        if not isinstance(text, str):
            raise SpeccError(f"'as' needs a string name, got {type_name(text)}", span)
        offset = _OFFSET.match(text)
        if offset:
            if not is_chain(value):
                raise SpeccError(f"'{text}': [{offset.group(2)}:] numbers the stages of a chain "
                                 "(x |> f |> g), and this value is not one", span)
            text = offset.group(1)
        if text:  # `as ""` inlines a block call into this scope
            self.builder.check_label(text, span)
        if within is None:
            path = frame.path(text)
        else:
            path = f"{within}{text}" if within == "" or within.endswith(".") else \
                f"{within}.{text}"
        if offset:
            self.builder.counters[path] = int(offset.group(2))
        return path

    def _eval_ExprLabel(self, e, frame, hint):
        path = self.label_path(e.label, e.value, frame)
        return POISON if path is POISON else self.eval(e.value, frame, Hint(path))

    # -------------------------------------------------------------- pipes
    def _eval_ExprPipe(self, e, frame, hint):
        stages = []
        while isinstance(e, A.ExprPipe):
            stages.append(e.stage)
            e = e.source
        stages.reverse()
        value = self.eval(e, frame)  # the head is the chain's input, not one of its stages
        for stage in stages:
            if value is POISON:
                return POISON
            if isinstance(stage, A.ExprLabel):  # |> (f as "name"): named, not numbered
                path = self.label_path(stage.label, stage.value, frame,
                                       hint.path if hint else None)
                if path is POISON:
                    return POISON
                value = self.call_stage(stage.value, value, frame, Hint(path))
                continue
            value = self.call_stage(stage, value, frame, self._stage_hint(hint))
            if self.observer is not None:
                self.observer(self, stage, frame, value)
        return value

    def _stage_hint(self, hint: Hint | None) -> Hint | None:
        return Hint(self.builder.next_stage(hint.path)) if hint else None


_OFFSET = re.compile(r"^(.*)\[(\d{1,6}):\]$")


def _dim(v) -> bool:
    return isinstance(v, Sym) or _int(v)


def _conds(v) -> tuple:
    return v.items if isinstance(v, Conds) else (v,)


def _names(d) -> set[str]:
    return d.names() if isinstance(d, Sym) else set()


def _dim_arith(op: str, a, b, span):
    """Arithmetic on symbolic dims: + - * and // % by a positive int."""
    if op not in ("+", "-", "*", "//", "%"):
        hint = " (sizes divide with //)" if op == "/" else ""
        raise SpeccError(f"cannot apply '{op}' to {type_name(a)} {show(a)} and {type_name(b)} "
                         f"{show(b)}{hint}", span)
    if op in ("//", "%") and not (_int(b) and b > 0):
        raise SpeccError(f"a dim divides by a positive int, got {show(b)}", span)
    return {"+": operator.add, "-": operator.sub, "*": operator.mul,
            "//": operator.floordiv, "%": operator.mod}[op](a, b)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
