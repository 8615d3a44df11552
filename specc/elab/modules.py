"""Loading `.net` files: parsing, imports (relative, then the bundled library), top-level names."""
from __future__ import annotations

from pathlib import Path

from ..lang import ast as A
from ..core.diagnostics import Collector, SpeccError
from ..core.nesting import MAX_NESTING, room
from ..lang.limits import check_size
from ..lang.parse import parse_module, read_source
from ..core.resources import specs_dir
from ..core.source import SourceFile
from ..lang.values import BlockRef, NetworkRef
from .scope import ModuleScope

SUPPORTED_VERSIONS = (1,)


class Loader:
    """Loads modules once each and refuses import cycles.

    What `import` may reach: a relative path to a `.net` file, looked up beside the importing
    file, then in the bundled library; the file found must lie in the folder tree of the spec
    that was loaded first (its folder and below) or in the bundled library. Absolute paths,
    and `..` or links that leave those trees, are refused: loading a spec never reads files
    elsewhere on the machine."""

    def __init__(self):
        self.cache: dict[Path, ModuleScope] = {}
        self.stack: list[Path] = []
        self.roots: list[Path] = []  # the first spec's folder, then the bundled library
        self.loaded = 0  # bytes of spec text loaded (the spec and its imports)

    def load_path(self, path: str | Path) -> ModuleScope:
        self._set_roots(Path(path))
        return self._load(Path(path), read_source(path))

    def load_text(self, text: str, path: str = "<spec>", parsed: A.Module | None = None
                  ) -> ModuleScope:
        """`parsed`: the text's AST when the caller has parsed it already (not again)."""
        self._set_roots(Path(path))
        source = parsed.span.source if parsed is not None else SourceFile(path, text)
        return self._load(Path(path), source, parsed)

    def _set_roots(self, path: Path) -> None:
        if not self.roots:
            self.roots = [path.resolve().parent, specs_dir().resolve()]

    def _load(self, path: Path, source: SourceFile, parsed=None) -> ModuleScope:
        key = path.resolve()
        if key in self.cache:
            return self.cache[key]
        check_size(source, self.loaded)  # the spec and its imports together
        self.loaded += len(source.text.encode("utf-8", "surrogatepass"))
        with room():
            return self._load_deep(key, source, parsed)

    def _load_deep(self, key: Path, source: SourceFile, parsed=None) -> ModuleScope:
        module_ast = parsed if parsed is not None else parse_module(source)
        scope = ModuleScope(source, version=module_ast.version)
        errors = Collector()
        if module_ast.version is not None and module_ast.version not in SUPPORTED_VERSIONS:
            errors.add(SpeccError(f"unsupported language version {module_ast.version} (this "
                                  f"specc reads version 1)", module_ast.span))
        self.stack.append(key)
        try:
            for item in module_ast.items:
                try:
                    self._define(scope, item, key)
                except SpeccError as e:
                    errors.add(e)
        finally:
            self.stack.pop()
        errors.raise_if_any()
        self.cache[key] = scope
        return scope

    def _define(self, scope: ModuleScope, item, key: Path) -> None:
        if isinstance(item, A.Import):
            self._import(scope, item, key)
        elif isinstance(item, A.BlockDef):
            _bind(scope, item.name, BlockRef(item, scope), item)
        elif isinstance(item, A.NetworkDef):
            _bind(scope, item.name, NetworkRef(item, scope, (), item.name), item)
        elif isinstance(item, A.NetworkPreset):
            from .network import evaluate_preset
            _bind(scope, item.name, evaluate_preset(scope, item), item)
        elif isinstance(item, A.ConstDef):
            from .network import evaluate_const
            _bind(scope, item.name, evaluate_const(scope, item), item)

    def _import(self, scope: ModuleScope, item: A.Import, key: Path) -> None:
        check_import_name(item.path, item.span)
        target = resolve_import(item.path, key.parent)
        if target is not None and not any(_inside(target.resolve(), r) for r in self.roots):
            raise SpeccError(f"import \"{item.path}\" reaches outside the spec's folder "
                             f"({self.roots[0]}) and the bundled library", item.span,
                             ("copy the file into the spec's folder and import it from there",))
        if target is None:
            raise SpeccError(f"cannot find import \"{item.path}\" (looked beside this file and "
                             "in the bundled spec library)", item.span)
        resolved = target.resolve()
        if resolved == key:
            raise SpeccError(f"\"{item.path}\" imports itself", item.span)
        if len(self.stack) >= MAX_NESTING:
            raise SpeccError(f"imports nest more than {MAX_NESTING:,} files deep", item.span)
        if resolved in self.stack:
            cycle = " -> ".join(p.name for p in self.stack[self.stack.index(resolved):])
            raise SpeccError(f"import cycle: {cycle} -> {resolved.name}", item.span)
        imported = self.load_path(target)
        scope.imports.append(imported)
        scope.import_names.append(item.path)
        for name in imported.local:
            scope.names.setdefault(name, imported.names[name])


def check_import_name(name: str, span) -> None:
    if not name.endswith(".net"):
        raise SpeccError(f"import \"{name}\": imports name .net files", span)
    if Path(name).is_absolute() or name.startswith("~"):
        raise SpeccError(f"import \"{name}\": an absolute path is refused; imports are "
                         "relative to the importing file", span,
                         ("copy the file into the spec's folder and import it from there",))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def resolve_import(name: str, base: Path) -> Path | None:
    for folder in (base, specs_dir()):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def _bind(scope: ModuleScope, name: str, value, item) -> None:
    if name in scope.local:
        raise SpeccError(f"'{name}' is defined twice in this file", item.span)
    scope.names[name] = value
    scope.local.append(name)
