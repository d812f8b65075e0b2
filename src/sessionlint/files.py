"""Which files a run lints.

:func:`discover` expands the paths of the command line like ruff: folders are walked for
``*.py`` files (sorted, deduplicated), skipping the default excludes, the configured
``exclude``/``extend-exclude`` patterns and whatever ``.gitignore`` files ignore (read
directly, ``git`` is never run). Excluded folders are never entered, symlinked folders are
never followed, and files named on the command line are always linted.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec
from pathspec.pattern import RegexPattern

from sessionlint.config import Config

__all__ = [
    "DEFAULT_EXCLUDES",
    "ROOT_MARKERS",
    "UsageError",
    "discover",
    "find_project_root",
    "is_excluded",
    "is_project_root",
]

logger = logging.getLogger(__name__)

#: Skipped unless ``exclude`` is set (``extend-exclude`` adds to them). Gitignore-style
#: patterns without ``/``, so each matches a file or folder of that name at any depth.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    ".venv",
    "venv",
    ".env",
    ".direnv",
    "site-packages",
    "__pypackages__",
    "node_modules",
    "build",
    "dist",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".pytype",
    ".ipynb_checkpoints",
    ".eggs",
    "*.egg-info",
)


class UsageError(Exception):
    """A bad command-line path, e.g. ``path does not exist: foo/bar``."""


# -- helpers --------------------------------------------------------------------------------


def _absolute(path: Path | str) -> str:
    """``path`` absolute and normalised, symlinks left alone."""
    return os.path.abspath(path)


def _relative(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with ``/`` separators ("" when equal), or None."""
    if path == base:
        return ""
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _is_under(path: str, base: str) -> bool:
    return _relative(path, base) is not None


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class _Patterns:
    """Gitignore-style patterns (``pathspec``'s :class:`GitIgnoreSpec`).

    When no pattern is negated, the result is simply "does any pattern match", so the
    patterns are merged into one regular expression: walking big trees stays fast.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self._spec = GitIgnoreSpec.from_lines(lines)
        active = [p for p in self._spec.patterns if p.include is not None]
        self.empty = not active
        self._combined: re.Pattern[str] | None = None
        if active and all(
            p.include and isinstance(p, RegexPattern) and p.regex is not None for p in active
        ):
            parts = [
                _NAMED_GROUP.sub("(?:", p.regex.pattern)
                for p in active
                if isinstance(p, RegexPattern) and p.regex is not None
            ]
            self._combined = re.compile("|".join(f"(?:{part})" for part in parts))

    def check(self, rel: str) -> bool | None:
        """True: ``rel`` (``/``-separated, a trailing ``/`` for a folder) is matched; False:
        it is re-included by a ``!pattern``; None: no pattern matches."""
        if self._combined is not None:
            return True if self._combined.match(rel) else None
        return self._spec.check_file(rel).include


@functools.lru_cache(maxsize=64)
def _spec(patterns: tuple[str, ...]) -> _Patterns:
    return _Patterns(patterns)


def _exclude_patterns(config: Config) -> tuple[str, ...]:
    base = DEFAULT_EXCLUDES if config.exclude is None else config.exclude
    return (*base, *config.extend_exclude)


def _pattern_base(path: str, config: Config) -> str | None:
    """The folder exclusion patterns are relative to, for ``path``."""
    if config.root is not None:
        root = _absolute(config.root)
        if _is_under(path, root):
            return root
    return None


@dataclass(frozen=True)
class _Excluder:
    """The exclusion patterns, anchored at ``base``."""

    base: str
    spec: _Patterns

    def matches(self, path: str, *, is_dir: bool) -> bool:
        rel = _relative(path, self.base)
        if not rel:
            return False
        return bool(self.spec.check(rel + "/" if is_dir else rel))


@dataclass(frozen=True)
class _IgnoreFile:
    """One ``.gitignore`` (or ``.git/info/exclude``), anchored at the folder it applies to."""

    base: str
    spec: _Patterns


def _read_ignore_file(path: str, base: str) -> _IgnoreFile | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    patterns = _Patterns(lines)
    return None if patterns.empty else _IgnoreFile(base, patterns)


def _repo_ignores(repo: str) -> list[_IgnoreFile]:
    """The ignore files of a repository root: ``.git/info/exclude`` and ``.gitignore``."""
    stack: list[_IgnoreFile] = []
    for name in (os.path.join(".git", "info", "exclude"), ".gitignore"):
        ignore = _read_ignore_file(os.path.join(repo, name), repo)
        if ignore is not None:
            stack.append(ignore)
    return stack


def _gitignored(stack: Sequence[_IgnoreFile], path: str, *, is_dir: bool) -> bool:
    """Whether the ignore files ignore ``path``; deeper files take precedence, and within a
    file the last matching pattern wins (``!pattern`` re-includes)."""
    for ignore in reversed(stack):
        rel = _relative(path, ignore.base)
        if not rel:
            continue
        include = ignore.spec.check(rel + "/" if is_dir else rel)
        if include is not None:
            return include
    return False


def _ignore_root(directory: str) -> str:
    """Where ``.gitignore`` files start to apply: the repository root (nearest ancestor with
    ``.git``); outside a repository, the project root (:func:`find_project_root`), so that
    "the project's .gitignore" is honoured in an exported tree too."""
    current = directory
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return str(find_project_root(Path(directory)))
        current = parent


def _initial_stack(directory: str) -> list[_IgnoreFile] | None:
    """The ignore files that apply inside ``directory`` from the folders above it, from the
    repository root (nearest ancestor with ``.git``) or, outside a repository, the project
    root down.

    ``directory``'s own ``.gitignore`` is left out (the walk reads it)."""
    top = _ignore_root(directory)
    chain: list[str] = []
    current = directory
    while current != top:
        parent = os.path.dirname(current)
        if parent == current:
            return None
        chain.append(parent)
        current = parent
    # `current` is the top; `chain` holds directory's ancestors up to it.
    if current == directory:
        return []
    stack = _repo_ignores(current)
    for folder in reversed(chain[:-1]):
        ignore = _read_ignore_file(os.path.join(folder, ".gitignore"), folder)
        if ignore is not None:
            stack.append(ignore)
    return stack


# -- public API -----------------------------------------------------------------------------


#: What makes a folder a project root (besides a ``requirements*.txt`` file).
ROOT_MARKERS: tuple[str, ...] = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "uv.lock",
    "poetry.lock",
    ".git",
)


def is_project_root(directory: Path | str) -> bool:
    """Whether ``directory`` holds ``pyproject.toml``, ``setup.py``, ``setup.cfg``,
    ``requirements*.txt``, ``uv.lock``, ``poetry.lock`` or ``.git`` (a folder, or the file a
    git worktree or submodule has)."""
    folder = str(directory)
    for name in ROOT_MARKERS:
        if os.path.exists(os.path.join(folder, name)):
            return True
    try:
        with os.scandir(folder) as it:
            for entry in it:
                lower = entry.name.lower()
                if lower.startswith("requirements") and lower.endswith(".txt") and entry.is_file():
                    return True
    except OSError:
        return False
    return False


def find_project_root(
    path: Path, given: Sequence[Path] = (), memo: dict[Path, Path | None] | None = None
) -> Path:
    """The project root of ``path`` (a file, or a folder): the nearest folder at or above
    it that :func:`is_project_root`. If there is none, the path given on the command line
    that holds ``path`` (a folder among ``given``), else ``path``'s own folder. Always
    absolute.

    The root depends on the file alone whenever a marker exists, so every way of naming the
    file (``check .``, ``check app``, the file itself, the pre-commit hook, flake8) gives it
    the same root; a file below a nearer marker than the path given gets that nearer root.

    ``memo`` remembers, across calls of one run, the nearest marked folder at or above each
    folder looked at (None: none), so sibling folders do not test their ancestors again."""
    start = Path(_absolute(path))
    if not start.is_dir():
        start = start.parent
    marked = _marked_ancestor(start, {} if memo is None else memo)
    if marked is not None:
        return marked
    for folder in given:
        root = Path(_absolute(folder))
        if root.is_dir() and _is_under(str(start), str(root)):
            return root
    return start


def _marked_ancestor(start: Path, memo: dict[Path, Path | None]) -> Path | None:
    """The nearest folder at or above ``start`` that :func:`is_project_root`, or None."""
    climbed: list[Path] = []
    found: Path | None = None
    for directory in (start, *start.parents):
        if directory in memo:
            found = memo[directory]
            break
        climbed.append(directory)
        if is_project_root(directory):
            found = directory
            break
    for directory in climbed:
        memo[directory] = found
    return found


def is_excluded(path: Path, config: Config) -> bool:
    """Whether ``exclude``/``extend-exclude`` (or the default excludes) match the file ``path``
    or a folder it is in. ``.gitignore`` files are not consulted.

    Patterns are relative to ``config.root``, or to the current directory when the file is
    not below the root; for a file below neither, only its name is matched."""
    absolute = _absolute(path)
    spec = _spec(_exclude_patterns(config))
    base = _pattern_base(absolute, config)
    if base is None:
        cwd = _absolute(Path.cwd())
        base = cwd if _is_under(absolute, cwd) else os.path.dirname(absolute)
    rel = _relative(absolute, base)
    return rel is not None and rel != "" and bool(spec.check(rel))


def discover(
    paths: Sequence[Path], config: Config, *, respect_gitignore: bool = True
) -> list[Path]:
    """The files to lint for the command-line ``paths``, sorted and without duplicates.

    Folders are walked for ``*.py`` files, skipping what the default excludes, ``exclude``,
    ``extend-exclude`` (gitignore-style, relative to ``config.root``, or to the folder given
    when it is not below the root) and, with ``respect_gitignore``, ``.gitignore`` files
    ignore. Excluded folders are not entered; symlinks met while walking are not followed.
    A file named in ``paths`` is always returned, whatever its name. A folder named in
    ``paths`` is walked even when it is itself excluded; the patterns then apply relative
    to it. The returned paths start with the path given (``src`` -> ``src/app/db.py``).

    Raises :class:`UsageError` for a path that does not exist.
    """
    spec = _spec(_exclude_patterns(config))
    found: list[tuple[Path, str]] = []
    for given in paths:
        absolute = _absolute(given)
        if not os.path.exists(absolute):
            raise UsageError(f"path does not exist: {given}")
        if not os.path.isdir(absolute):
            found.append((Path(given), os.path.realpath(absolute)))
            continue
        excluder = _Excluder(_pattern_base(absolute, config) or absolute, spec)
        stack = _initial_stack(absolute) if respect_gitignore else None
        itself_excluded = excluder.matches(absolute, is_dir=True)
        if itself_excluded or (stack and _gitignored(stack, absolute, is_dir=True)):
            # Named explicitly: walk it, matching the patterns relative to it.
            excluder = _Excluder(absolute, spec)
            stack = [] if stack is not None else None
        # Symlinks are not followed below `absolute`, so only it needs resolving.
        real = os.path.realpath(absolute)
        walked: list[tuple[Path, str]] = []
        _walk(absolute, Path(given), excluder, stack, respect_gitignore, walked)
        found.extend((display, real + path[len(absolute) :]) for display, path in walked)

    # A file reached twice keeps the spelling of the first path given that reaches it.
    seen: set[str] = set()
    result: list[Path] = []
    for display, key in found:
        if key not in seen:
            seen.add(key)
            result.append(display)
    return sorted(result, key=lambda p: p.parts)


def _walk(
    directory: str,
    display: Path,
    excluder: _Excluder,
    stack: list[_IgnoreFile] | None,
    respect_gitignore: bool,
    found: list[tuple[Path, str]],
) -> None:
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        logger.warning("cannot read folder %s: %s", display, exc.strerror or exc)
        return
    if respect_gitignore:
        names = {e.name for e in entries}
        if ".git" in names:  # a repository (or submodule) root: its own rules only
            stack = _repo_ignores(directory)
        elif stack is not None and ".gitignore" in names:
            own = _read_ignore_file(os.path.join(directory, ".gitignore"), directory)
            if own is not None:
                stack = [*stack, own]
    for entry in entries:
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and not (entry.name.endswith(".py") and entry.is_file()):
                continue
        except OSError:
            continue
        if is_dir and entry.name == ".git":
            continue
        if excluder.matches(entry.path, is_dir=is_dir):
            continue
        if stack and _gitignored(stack, entry.path, is_dir=is_dir):
            continue
        if is_dir:
            _walk(entry.path, display / entry.name, excluder, stack, respect_gitignore, found)
        else:
            found.append((display / entry.name, entry.path))
