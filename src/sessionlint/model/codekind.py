"""What kind of code a module is: application code, test code, a migration or a script.

Rules about request-time harm stay silent outside application code (see
:attr:`sessionlint.rule.Rule.request_time_harm`); the classification is made here, once per
file, and queried through :meth:`sessionlint.model.semantic.Model.code_kind`.

* **Test code**: files named ``test_*.py``, ``*_test.py`` or ``conftest.py``, and every file
  under a directory named ``tests`` or ``test``.
* **Migrations**: files under a directory named ``alembic`` or ``migrations``, or under a
  ``versions`` directory that sits next to an ``env.py``; and any module that imports
  ``alembic.op`` or ``alembic.context`` (``from alembic import op``, ``import alembic.context``,
  ``from alembic import context as ctx``...).
* **Scripts**: modules with a module-level ``if __name__ == "__main__":`` block that define no
  FastAPI app or router, no route handler and no dependency, and that no module of the project
  imports.

Directory names are judged relative to the project root, so a project that lives under
``/home/me/tests/shop`` is not test code as a whole. Without a project root (linting source
text), the directories of a relative path count and an absolute path counts by its file name
only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import libcst as cst

from sessionlint.model import names
from sessionlint.model.index import dotted_name
from sessionlint.model.project import SourceFile, TextQuery

if TYPE_CHECKING:
    from sessionlint.model.semantic import Model

__all__ = ["CodeKind", "CodeKinds", "has_main_block", "in_main_block", "is_main_guard"]

TEST_DIRECTORIES = frozenset({"tests", "test"})
MIGRATION_DIRECTORIES = frozenset({"alembic", "migrations"})
#: Importing one of these (or something inside them) makes a module a migration.
ALEMBIC_MODULES = ("alembic.op", "alembic.context")
_APP_CLASSES = names.FASTAPI_APPS | names.FASTAPI_ROUTERS


class CodeKind(enum.Enum):
    """What a module is, for the rules about request-time harm."""

    APP = "application code"
    TEST = "test code"
    MIGRATION = "a migration"
    SCRIPT = "a script"


def is_main_guard(node: cst.CSTNode) -> bool:
    """``node`` is ``if __name__ == "__main__":`` (either operand order, any quotes)."""
    if not isinstance(node, cst.If) or not isinstance(node.test, cst.Comparison):
        return False
    test = node.test
    if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    operands = (test.left, test.comparisons[0].comparator)
    names = [o for o in operands if isinstance(o, cst.Name) and o.value == "__name__"]
    strings = [
        o
        for o in operands
        if isinstance(o, cst.SimpleString) and o.evaluated_value in ("__main__", b"__main__")
    ]
    return len(names) == 1 and len(strings) == 1


def has_main_block(file: SourceFile) -> bool:
    """The module has an ``if __name__ == "__main__":`` block at module level."""
    return any(is_main_guard(statement) for statement in file.module.body)


def in_main_block(file: SourceFile, node: cst.CSTNode) -> bool:
    """``node`` sits under an ``if __name__ == "__main__":`` block."""
    return any(is_main_guard(anc) for anc in file.index.ancestors(node))


def _relative_directories(file: SourceFile, root: Path | None) -> tuple[str, ...]:
    """The directory names of ``file``'s path below the project root."""
    if file.path is not None and root is not None:
        try:
            return file.path.resolve().relative_to(root).parts[:-1]
        except ValueError:
            return ()
    given = PurePath(file.path if file.path is not None else file.display_path)
    if given.is_absolute():
        return ()
    return tuple(p for p in given.parts[:-1] if p not in (".", ".."))


def _path_kind(file: SourceFile, root: Path | None) -> CodeKind | None:
    name = file.name
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return CodeKind.TEST
    directories = _relative_directories(file, root)
    if TEST_DIRECTORIES.intersection(directories):
        return CodeKind.TEST
    if MIGRATION_DIRECTORIES.intersection(directories):
        return CodeKind.MIGRATION
    if "versions" in directories and file.path is not None:
        depth = len(directories) - directories.index("versions")
        versions_dir = file.path.resolve().parents[depth - 1]
        if (versions_dir.parent / "env.py").is_file():
            return CodeKind.MIGRATION
    return None


def _imports(file: SourceFile) -> Iterator[tuple[cst.CSTNode, str]]:
    """Every import statement of the module (also inside functions) with each dotted name it
    imports: ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a.b`` (relative imports
    keep their leading dots)."""
    for node in file.index.nodes(cst.Import):
        for alias in node.names:
            dotted = dotted_name(alias.name)
            if dotted is not None:
                yield node, dotted
    for imp in file.index.nodes(cst.ImportFrom):
        base = "." * len(imp.relative)
        if imp.module is not None:
            module = dotted_name(imp.module)
            if module is None:
                continue
            base += module
        if isinstance(imp.names, cst.ImportStar):
            yield imp, base
            continue
        for alias in imp.names:
            if isinstance(alias.name, cst.Name):
                sep = "" if base.endswith(".") else "."
                yield imp, f"{base}{sep}{alias.name.value}"


def imports_alembic_api(file: SourceFile) -> bool:
    """The module imports ``alembic.op`` or ``alembic.context`` (or a name inside them)."""
    if "alembic" not in file.text:
        return False
    return any(
        dotted == wanted or dotted.startswith(wanted + ".")
        for _, dotted in _imports(file)
        for wanted in ALEMBIC_MODULES
    )


class CodeKinds:
    """The classification of the project's files, computed once per file."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._kinds: dict[SourceFile, CodeKind] = {}

    def kind(self, file: SourceFile) -> CodeKind:
        if file not in self._kinds:
            self._kinds[file] = self._kind(file)
        return self._kinds[file]

    def _kind(self, file: SourceFile) -> CodeKind:
        by_path = _path_kind(file, self.model.project.root)
        if by_path is not None:
            return by_path
        if imports_alembic_api(file):
            return CodeKind.MIGRATION
        if self._is_script(file):
            return CodeKind.SCRIPT
        return CodeKind.APP

    # -- scripts ----------------------------------------------------------------------------
    def _is_script(self, file: SourceFile) -> bool:
        if not has_main_block(file) or self._serves_requests(file):
            return False
        return not self._imported_by_project(file)

    def _serves_requests(self, file: SourceFile) -> bool:
        """The module creates a FastAPI app or router, or defines a route handler or a
        dependency."""
        model = self.model
        for node in file.index.nodes(cst.Call):
            if model.callee_qualname(file, node) in _APP_CLASSES:
                return True
        dependencies = model.dependencies()
        return any(
            fn in dependencies or model.is_route_handler(file, fn)
            for fn in file.index.nodes(cst.FunctionDef)
        )

    def _imported_by_project(self, file: SourceFile) -> bool:
        """Some other module of the project imports ``file`` (resolved, not guessed: the
        text search for the module's name only picks the files worth resolving)."""
        if file.path is None:
            return False
        stem = file.path.parent.name if file.name == "__init__.py" else file.path.stem
        project = self.model.project
        target = file.path.resolve()
        candidates = project.files_matching(TextQuery(("import", stem), rf"\b{re.escape(stem)}\b"))
        for other in candidates:
            if other is file or other.path is None or other.path.resolve() == target:
                continue
            for _, dotted in _imports(other):
                if stem not in dotted:
                    continue
                for name in _prefixes(dotted):
                    found = project.find_module(name, other)
                    if (
                        found is not None
                        and found[0].path is not None
                        and found[0].path.resolve() == target
                    ):
                        return True
        return False


def _prefixes(dotted: str) -> Iterator[str]:
    """``a.b.c`` -> ``a.b.c``, ``a.b``, ``a`` (importing a submodule imports its packages);
    leading dots of a relative import are kept."""
    level = len(dotted) - len(dotted.lstrip("."))
    parts = dotted[level:].split(".")
    for k in range(len(parts), 0, -1):
        yield "." * level + ".".join(parts[:k])
