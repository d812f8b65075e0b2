"""sessionlint as a flake8 plugin: ``flake8 --select SL``.

flake8 hands the plugin one file at a time; sessionlint's findings may need facts from other
modules of the project (a ``get_db`` dependency defined in ``app/deps.py`` used by a route in
``app/routers/items.py``). :func:`sessionlint.api.lint_file_in_project` lints the file inside
its project: the project root is the one the command line gives the file (the nearest folder
with ``pyproject.toml``, ``setup.py``, ``setup.cfg``, ``requirements*.txt``, ``uv.lock``,
``poetry.lock`` or ``.git``; else the folder flake8 was given that holds it), the other
modules are read and parsed lazily, once per process (flake8's ``-j`` workers each keep their
own), and the configuration is the one the command line would use (the nearest
``[tool.sessionlint]``, with its rule selection, ``per-file-ignores`` and target versions).
So ``flake8 --select SL`` reports the same (file, line, code) findings as
``sessionlint check --format json`` on the same tree, with these differences by design:

- ``# noqa`` comments are applied by flake8 (so ``--disable-noqa`` works); the plugin still
  honours ``# sessionlint: ignore[SL101]``, which flake8 does not know.
- Which files are checked is flake8's business (its ``exclude``/``extend-exclude``), not
  sessionlint's ``exclude`` patterns or ``.gitignore``.
- A file Python cannot parse gets flake8's ``E999`` and no ``SL001``: flake8 runs plugins only
  on files it parsed. ``SL001`` comes only from a file too large or too deeply nested to
  analyse. A file Python accepts and LibCST cannot parse is not analysed and gets no finding
  (the command line prints a notice for it).
- A rule that crashes on a file is reported there as ``SL000`` (the command line prints it
  and exits with status 2). An invalid configuration stops flake8 with the error.
- The plugin never fixes: run ``sessionlint check --fix`` for that.

The plugin shares ``sessionlint check``'s findings cache (``.sessionlint_cache`` at the project
root, or ``$SESSIONLINT_CACHE_DIR``): a file whose project did not change since a check (by
either tool) is answered from it. ``--sessionlint-no-cache`` (or ``sessionlint-no-cache = true``
in flake8's configuration) turns that off.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sessionlint import __version__
from sessionlint.api import lint_file_in_project
from sessionlint.config import Config, load_config

__all__ = ["Plugin"]


@functools.lru_cache(maxsize=256)
def _config_for(directory: Path) -> Config:
    """The configuration of the files in ``directory`` (read once per folder)."""
    return load_config(directory)


class Plugin:
    """The flake8 checker (entry point ``SL`` in ``flake8.extension``)."""

    name = "sessionlint"
    version = __version__
    #: ``--sessionlint-no-cache`` was given.
    no_cache = False
    #: The paths flake8 was given: a file with no project marker above it belongs to the
    #: folder among them that holds it, as with ``sessionlint check`` (then the current
    #: directory).
    given: tuple[Path, ...] = ()

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        option_manager.add_option(
            "--sessionlint-no-cache",
            action="store_true",
            default=False,
            parse_from_config=True,
            help="Do not read or write sessionlint's findings cache.",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.no_cache = bool(getattr(options, "sessionlint_no_cache", False))
        cls.given = tuple(Path(name) for name in getattr(options, "filenames", None) or ())

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        # flake8 classifies plugins by their parameters: ``tree`` makes this an AST plugin
        # (run once per file). sessionlint parses with LibCST, so the tree is not used.
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        path = Path(self.filename)
        config = _config_for(Path(path.absolute().parent))
        result = lint_file_in_project(
            path,
            "".join(self.lines),
            config=config,
            noqa=False,
            cache=True,
            use_cache=not self.no_cache,
            given=self.given,
        )
        for d in result.diagnostics:
            # flake8 columns are 0-based (it adds 1 when it prints them); ours are 1-based.
            yield d.line, max(d.column - 1, 0), f"{d.code} {d.message}", type(self)
        for error in result.internal_errors:
            yield 1, 0, f"SL000 sessionlint {error.describe()}", type(self)
