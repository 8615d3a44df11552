"""Scopes: a module's globals and the local frame of a network or block expansion."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.source import SourceFile, Span


@dataclass(eq=False)
class ModuleScope:
    """The top-level names of one `.net` file (its own definitions and what it imports)."""

    source: SourceFile
    names: dict = field(default_factory=dict)
    local: list = field(default_factory=list)  # names defined in this file, in order
    version: int | None = None
    imports: list = field(default_factory=list)  # the ModuleScopes this file imports
    import_names: list = field(default_factory=list)  # their import strings, as written

    def sources(self) -> list[SourceFile]:
        """This file and everything it imports, transitively, each once, this file first."""
        seen, order, todo = set(), [], [self]
        while todo:
            module = todo.pop(0)
            if id(module) in seen:
                continue
            seen.add(id(module))
            order.append(module.source)
            todo.extend(module.imports)
        return order


@dataclass(eq=False)
class Frame:
    """One expansion: a network body or a block call. `prefix` is the path of its scope."""

    module: ModuleScope
    prefix: str = ""
    vars: dict = field(default_factory=dict)
    call_span: Span | None = None
    context: str = ""
    depth: int = 0
    kind: str = "network"  # or "block"
    loop: list = field(default_factory=list)  # indices of the enclosing loops
    # a block called by name: that name (its prefix without the dot), which one op of its
    # body labelled `as ""` may take as its own (a block that wraps one configured op)
    own: str = ""

    def span(self, span: Span) -> Span:
        """An AST span seen through this frame's expansion chain."""
        return span.within(self.call_span, self.context)

    def path(self, name: str) -> str:
        return self.prefix + name
