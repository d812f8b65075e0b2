"""Which FastAPI and SQLAlchemy versions the linted project runs on.

Several rules behave differently depending on the versions in use. They are read from the
project itself, per linted file:

* ``uv.lock`` / ``poetry.lock`` give exact versions;
* otherwise the lowest version admitted by the constraint in ``pyproject.toml``
  (``[project]`` dependencies, ``[tool.poetry.dependencies]``, then
  ``[project.optional-dependencies]``, poetry groups and ``[tool.poetry.dev-dependencies]``);
* otherwise ``requirements*.txt`` / ``requirements/*.txt`` (following ``-r`` includes).

For a linted file the nearest directory above it (the file's own directory included) that gives
a version for a package wins; within one directory lock files beat ``pyproject.toml``, which beats
requirements files. Each package is looked up independently.

``[tool.sessionlint] target-fastapi = "0.115"`` / ``target-sqlalchemy = "1.4"`` (in the nearest
``pyproject.toml`` that has a ``[tool.sessionlint]`` table) and the command-line options
(``--target-fastapi`` / ``--target-sqlalchemy``, given to :class:`VersionDetector`) override
detection, the command line first.

Whether FastAPI is a *runtime* dependency of the project (:attr:`TargetVersions.fastapi_runtime`)
is read from the same files, in the nearest directory that has dependency metadata: runtime
sources are ``[project] dependencies``, ``[project.optional-dependencies]`` extras whose name is
not a development one (``dev``, ``test``, ``docs``, ``lint``, ``typing``...),
``[tool.poetry.dependencies]`` and requirements files whose name is not a development one
(``requirements.txt``, ``requirements/base.txt``; not ``requirements-dev.txt``,
``requirements/test.txt``). Poetry groups, ``[dependency-groups]`` and development extras do not
count. ``setup.py`` / ``setup.cfg`` that mention FastAPI cannot be read reliably: unknown.

Unknown (``None``) means the newest behaviour: FastAPI >= 0.121, SQLAlchemy >= 2.0. The
predicates on :class:`TargetVersions` (``fastapi_at_least`` ...) take that into account.

Nothing here raises on a malformed project file: unreadable, undecodable or invalid files and
lines are treated as giving no information.

Approximations (documented):

* ``>X`` is treated as admitting ``X`` (the real lowest version is "just above X"; no rule
  distinguishes the two).
* Environment markers are not evaluated (the target interpreter is unknown): every requirement
  line is an alternative, and the lowest bound among the lines of one section/file is used.
* A specifier without a lower bound (``<2.0``, none at all, a direct URL) gives no information.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "NEWEST_FASTAPI",
    "NEWEST_SQLALCHEMY",
    "UNKNOWN",
    "UNKNOWN_SOURCE",
    "TargetVersions",
    "VersionDetector",
    "lowest_admitted_version",
    "parse_version_override",
]

#: The behaviour assumed when a version is unknown.
NEWEST_FASTAPI = Version("0.121")
NEWEST_SQLALCHEMY = Version("2.0")

#: Source text of an unknown version.
UNKNOWN_SOURCE = "unknown (assuming newest)"

FASTAPI = "fastapi"
SQLALCHEMY = "sqlalchemy"
_PACKAGES = (FASTAPI, SQLALCHEMY)
_DISPLAY = {FASTAPI: "FastAPI", SQLALCHEMY: "SQLAlchemy"}

#: Files larger than this are not read (a lock file is a few hundred KB at most).
_MAX_FILE_BYTES = 16 * 1024 * 1024
#: Bounds on ``-r`` includes: nesting depth and number of files read from one top-level file.
_MAX_INCLUDE_DEPTH = 8
_MAX_INCLUDED_FILES = 64


def _as_version(value: str | Version) -> Version:
    return value if isinstance(value, Version) else Version(value)


@dataclass(frozen=True)
class TargetVersions:
    """The FastAPI / SQLAlchemy versions a file is linted against.

    ``None`` means unknown, which means the newest behaviour (FastAPI >= 0.121,
    SQLAlchemy >= 2.0). The ``*_source`` fields say, for humans, where a version came from
    (file path and section, or the option that set it).
    """

    fastapi: Version | None
    sqlalchemy: Version | None
    fastapi_source: str
    sqlalchemy_source: str
    #: FastAPI is a runtime dependency (True), the dependency metadata does not list it as
    #: one (False: absent, or only in a dev/test/docs extra or group), or there is no
    #: dependency metadata / it cannot be read (None).
    fastapi_runtime: bool | None = None
    #: The dependency metadata files that decided :attr:`fastapi_runtime` (for ``-v``; not
    #: part of equality: it changes no answer).
    fastapi_runtime_source: str = field(default="", compare=False)

    @classmethod
    def of(
        cls,
        fastapi: str | Version | None = None,
        sqlalchemy: str | Version | None = None,
        *,
        source: str = "given",
        fastapi_runtime: bool | None = None,
    ) -> TargetVersions:
        """Build from version strings (handy in tests): ``TargetVersions.of(fastapi="0.110")``."""
        fa = None if fastapi is None else _as_version(fastapi)
        sa = None if sqlalchemy is None else _as_version(sqlalchemy)
        return cls(
            fastapi=fa,
            sqlalchemy=sa,
            fastapi_source=UNKNOWN_SOURCE if fa is None else source,
            sqlalchemy_source=UNKNOWN_SOURCE if sa is None else source,
            fastapi_runtime=fastapi_runtime,
        )

    # -- FastAPI -------------------------------------------------------------------------------

    def fastapi_at_least(self, version: str | Version) -> bool:
        """``fastapi >= version``; unknown counts as newest, so True."""
        return _at_least(self.fastapi, version)

    def fastapi_below(self, version: str | Version) -> bool:
        """``fastapi < version``; unknown counts as newest, so False."""
        return _below(self.fastapi, version)

    def fastapi_in(self, low: str | Version, high: str | Version | None = None) -> bool:
        """``low <= fastapi < high`` (no upper limit when ``high`` is None).

        Unknown counts as newest: True only when ``high`` is None (consistent with
        :meth:`fastapi_at_least`), False when there is an upper limit.
        """
        return _in(self.fastapi, low, high)

    # -- SQLAlchemy ----------------------------------------------------------------------------

    def sqlalchemy_at_least(self, version: str | Version) -> bool:
        """``sqlalchemy >= version``; unknown counts as newest, so True."""
        return _at_least(self.sqlalchemy, version)

    def sqlalchemy_below(self, version: str | Version) -> bool:
        """``sqlalchemy < version``; unknown counts as newest, so False."""
        return _below(self.sqlalchemy, version)

    def sqlalchemy_in(self, low: str | Version, high: str | Version | None = None) -> bool:
        """``low <= sqlalchemy < high``; unknown counts as newest (see :meth:`fastapi_in`)."""
        return _in(self.sqlalchemy, low, high)

    # -- display -------------------------------------------------------------------------------

    def describe(self) -> str:
        """Two lines for ``sessionlint check -v``."""
        return "\n".join(
            [
                _describe_one("FastAPI", self.fastapi, self.fastapi_source, NEWEST_FASTAPI),
                _describe_one(
                    "SQLAlchemy", self.sqlalchemy, self.sqlalchemy_source, NEWEST_SQLALCHEMY
                ),
            ]
        )

    def describe_runtime(self, uses_fastapi: bool) -> str:
        """One line for ``sessionlint check -v``: whether the project counts as running on
        FastAPI (SL305 and SL402 apply only then) and why."""
        verdict = "yes" if uses_fastapi else "no"
        where = self.fastapi_runtime_source or "the dependency metadata"
        if self.fastapi_runtime is True:
            why = f"a runtime dependency in {where}"
        elif self.fastapi_runtime is False:
            why = f"not a runtime dependency in {where} (absent, or development only)"
        else:
            metadata = (
                f"{where} cannot tell" if self.fastapi_runtime_source else "no dependency metadata"
            )
            found = "imports" if uses_fastapi else "does not import"
            why = f"{metadata}; application code {found} fastapi"
        return f"Runs on FastAPI: {verdict} ({why})"


def _at_least(current: Version | None, version: str | Version) -> bool:
    return current is None or current >= _as_version(version)


def _below(current: Version | None, version: str | Version) -> bool:
    return current is not None and current < _as_version(version)


def _in(current: Version | None, low: str | Version, high: str | Version | None) -> bool:
    if current is None:
        return high is None
    if current < _as_version(low):
        return False
    return high is None or current < _as_version(high)


def _describe_one(label: str, version: Version | None, source: str, newest: Version) -> str:
    if version is None:
        return f"{label}: unknown, assuming the newest behaviour (>= {newest})"
    return f"{label}: {version} (from {source})"


UNKNOWN = TargetVersions(
    fastapi=None,
    sqlalchemy=None,
    fastapi_source=UNKNOWN_SOURCE,
    sqlalchemy_source=UNKNOWN_SOURCE,
)


def parse_version_override(text: str) -> Version:
    """Parse a target version such as ``"0.115"``, ``"1.4"`` or ``"2.0.3"``.

    Raises :class:`ValueError` with a readable message on anything else (including specifiers
    such as ``">=0.115"``).
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid target version {text!r}: expected a string such as '0.115'")
    stripped = text.strip()
    if not stripped:
        raise ValueError("invalid target version '': expected a version such as '0.115'")
    try:
        return Version(stripped)
    except InvalidVersion:
        raise ValueError(
            f"invalid target version {text!r}: expected a version such as '0.115', '1.4' or '2.0.3'"
        ) from None


# ---------------------------------------------------------------------------------------------
# Specifiers
# ---------------------------------------------------------------------------------------------

_LOWER_BOUND_OPERATORS = frozenset({">=", ">", "~=", "==", "==="})


def lowest_admitted_version(specifier: SpecifierSet | str) -> Version | None:
    """The lowest version a PEP 440 specifier admits, or ``None`` when it has no lower bound.

    ``>=0.110,<1`` -> 0.110; ``~=2.0.3`` -> 2.0.3; ``==0.115.*`` -> 0.115; ``>0.100`` -> 0.100
    (approximation); ``<2.0`` or empty -> None. Several lower bounds: the highest one wins
    (all of them must hold). Invalid text gives None.
    """
    if isinstance(specifier, str):
        try:
            specifier = SpecifierSet(specifier)
        except InvalidSpecifier:
            return None
    best: Version | None = None
    for spec in specifier:
        if spec.operator not in _LOWER_BOUND_OPERATORS:
            continue
        text = spec.version
        if spec.operator == "==" and text.endswith(".*"):
            text = text[:-2]
        try:
            bound = Version(text)
        except InvalidVersion:  # '===' admits arbitrary strings
            continue
        if best is None or bound > best:
            best = bound
    return best


# Poetry constraints: '^1.2', '~1.2', '~=1.2', '>=1.2,<2', '>= 1.2 < 2', '1.2.*', '1.2', '*',
# alternatives separated by '||'. Translated to PEP 440 specifiers, then handled by packaging.
_POETRY_TOKEN = re.compile(r"(\^|~=|~|===|==|!=|>=|<=|>|<|=)?\s*([^\s,^~=!<>|]+)")


def _poetry_lowest(constraint: str) -> Version | None:
    """Lowest version admitted by a Poetry constraint (caret / tilde / PEP 440-ish)."""
    lows: list[Version] = []
    for alternative in re.split(r"\|\|?", constraint):
        specs: list[Specifier] = []
        for match in _POETRY_TOKEN.finditer(alternative):
            op, version = match.group(1) or "", match.group(2)
            if version.startswith("*"):
                continue
            if op in ("^", "~"):
                op = ">="
            elif op in ("", "="):
                op = "=="
            try:
                specs.append(Specifier(f"{op}{version}"))
            except InvalidSpecifier:
                continue
        low = lowest_admitted_version(SpecifierSet(specs))
        if low is None:
            # One alternative without a lower bound: the constraint as a whole has none.
            return None
        lows.append(low)
    return min(lows) if lows else None


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes | None:
    """The content of a regular file of at most :data:`_MAX_FILE_BYTES`, else None.

    Opened without blocking and checked on the open descriptor, so a FIFO (``-r`` to a named
    pipe) does not hang the run and a device (``-r /dev/zero``) is not read at all."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_FILE_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= _MAX_FILE_BYTES else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _decode_lenient(data: bytes) -> str:
    """Decode a requirements file: UTF-32/16 with BOM, UTF-8 with or without BOM, else best effort.

    Undecodable bytes become U+FFFD (the lines holding them then fail to parse and are skipped).
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
        (codecs.BOM_UTF8, "utf-8-sig"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if len(data) >= 2 and data.count(0) * 3 >= len(data):
        # UTF-16 without a BOM (NULs are valid UTF-8, so check first): ASCII text then has a
        # NUL in every other byte.
        encoding = "utf-16-le" if data[1::2].count(0) >= data[0::2].count(0) else "utf-16-be"
        return data.decode(encoding, errors="replace")
    return data.decode("utf-8", errors="replace")


def _load_toml(path: Path) -> dict[str, object] | None:
    """Parse a TOML file; None when unreadable, not UTF-8 or invalid."""
    data = _read_bytes(path)
    if data is None:
        return None
    try:
        parsed: dict[str, object] = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None
    return parsed


def _table(value: object, *keys: str) -> Mapping[str, object]:
    """``value[k1][k2]...`` when all are tables, else an empty mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return {}
        value = value.get(key)
    return value if isinstance(value, Mapping) else {}


#: What one source says about one package: (version, human-readable source).
_Found = tuple[Version, str]
#: One entry in a group of requirements: (canonical name, lowest version or None, source text).
_Candidate = tuple[str, Version | None, str]


def _pick(groups: Iterable[list[_Candidate]], package: str) -> _Found | None:
    """The first group (in priority order) bounding ``package``; the lowest bound in it."""
    for group in groups:
        best: _Found | None = None
        for name, low, source in group:
            if name == package and low is not None and (best is None or low < best[0]):
                best = (low, source)
        if best is not None:
            return best
    return None


# -- lock files --------------------------------------------------------------------------------


def _lock_versions(path: Path) -> dict[str, _Found]:
    """Exact versions from ``uv.lock`` / ``poetry.lock`` (``[[package]]`` name + version)."""
    data = _load_toml(path)
    if data is None:
        return {}
    packages = data.get("package")
    if not isinstance(packages, list):
        return {}
    found: dict[str, _Found] = {}
    for entry in packages:
        if not isinstance(entry, Mapping):
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        package = canonicalize_name(name)
        if package not in _PACKAGES:
            continue
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        # Forked resolutions can lock a package twice: keep the lowest.
        if package not in found or parsed < found[package][0]:
            found[package] = (parsed, str(path))
    return found


# -- pyproject.toml ----------------------------------------------------------------------------


def _pep508_candidate(text: object, where: str) -> _Candidate | None:
    if not isinstance(text, str):
        return None
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    name = canonicalize_name(req.name)
    low = None if req.url else lowest_admitted_version(req.specifier)
    return (name, low, f"{where} {text.strip()}")


def _pep508_group(entries: object, where: str) -> list[_Candidate]:
    if not isinstance(entries, list):
        return []
    return [c for c in (_pep508_candidate(e, where) for e in entries) if c is not None]


def _poetry_group(deps: Mapping[str, object], where: str) -> list[_Candidate]:
    group: list[_Candidate] = []
    for key, spec in deps.items():
        name = canonicalize_name(key)
        if name not in _PACKAGES:
            continue
        # A string, a table with 'version', or a list of tables (multiple constraints).
        items = spec if isinstance(spec, list) else [spec]
        for item in items:
            constraint = item.get("version") if isinstance(item, Mapping) else item
            if isinstance(constraint, str):
                group.append((name, _poetry_lowest(constraint), f'{where} {key} = "{constraint}"'))
    return group


def _pyproject_groups(data: Mapping[str, object], path: Path) -> Iterator[list[_Candidate]]:
    """Groups of requirements in ``pyproject.toml``, main dependencies first."""
    project = _table(data, "project")
    poetry = _table(data, "tool", "poetry")
    yield _pep508_group(project.get("dependencies"), f"{path} [project]")
    yield _poetry_group(_table(poetry, "dependencies"), f"{path} [tool.poetry.dependencies]")
    for extra, entries in _table(project, "optional-dependencies").items():
        yield _pep508_group(entries, f"{path} [project.optional-dependencies] {extra}:")
    for group_name, group in _table(poetry, "group").items():
        yield _poetry_group(
            _table(group, "dependencies"), f"{path} [tool.poetry.group.{group_name}.dependencies]"
        )
    yield _poetry_group(
        _table(poetry, "dev-dependencies"), f"{path} [tool.poetry.dev-dependencies]"
    )


def _config_overrides(data: Mapping[str, object], path: Path) -> dict[str, _Found] | None:
    """``[tool.sessionlint] target-*``; None when the file has no ``[tool.sessionlint]`` table.

    Invalid or non-string values are ignored (``target-fastapi = 0.110`` is a float, which
    would read as 0.11, so only strings are accepted).
    """
    tool = _table(data, "tool")
    if not isinstance(tool.get("sessionlint"), Mapping):
        return None
    config = _table(tool, "sessionlint")
    found: dict[str, _Found] = {}
    for package in _PACKAGES:
        key = f"target-{package}"
        value = config.get(key)
        if not isinstance(value, str):
            continue
        try:
            found[package] = (parse_version_override(value), f"[tool.sessionlint] {key} ({path})")
        except ValueError:
            continue
    return found


# -- requirements files ------------------------------------------------------------------------

_COMMENT = re.compile(r"(^|\s)#.*$")
_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s*=\s*|\s*)(\S.*)$")
_TRAILING_OPTIONS = re.compile(r"\s+--?[A-Za-z]")


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with backslash continuations joined and comments removed."""
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            yield line
    if pending:
        line = _COMMENT.sub("", pending).strip()
        if line:
            yield line


def _requirement_lines(top: Path) -> Iterator[tuple[Path, str]]:
    """(file, requirement text) for a requirements file and its ``-r`` includes (bounded)."""
    seen: set[Path] = set()
    stack: list[tuple[Path, int]] = [(top, 0)]
    while stack and len(seen) < _MAX_INCLUDED_FILES:
        path, depth = stack.pop()
        key = Path(os.path.normcase(os.path.abspath(path)))
        if key in seen:
            continue
        seen.add(key)
        data = _read_bytes(path)
        if data is None:
            continue
        includes: list[tuple[Path, int]] = []
        for line in _logical_lines(_decode_lenient(data)):
            if line.startswith("-"):
                match = _INCLUDE.match(line)
                if match and depth < _MAX_INCLUDE_DEPTH:
                    target = match.group(1).strip().strip("'\"")
                    if "://" not in target:
                        includes.append((path.parent / target, depth + 1))
                continue  # other options (-e, -i, -c, --hash, ...)
            line = _TRAILING_OPTIONS.split(line, maxsplit=1)[0].strip()
            if line:
                yield path, line
        # Depth-first, in file order.
        stack.extend(reversed(includes))


def _requirements_group(top: Path) -> list[_Candidate]:
    group: list[_Candidate] = []
    for path, line in _requirement_lines(top):
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        if name not in _PACKAGES:
            continue
        low = None if req.url else lowest_admitted_version(req.specifier)
        group.append((name, low, f"{path}: {line}"))
    return group


def _is_requirements_name(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("requirements") and lower.endswith(".txt")


# -- runtime or development dependency -------------------------------------------------------

#: Words that make an extra, a group or a requirements file a development one.
_DEV_WORDS = frozenset(
    {
        "dev",
        "devel",
        "develop",
        "development",
        "test",
        "tests",
        "testing",
        "doc",
        "docs",
        "documentation",
        "lint",
        "linting",
        "linters",
        "typing",
        "types",
        "mypy",
        "ci",
        "qa",
        "check",
        "checks",
        "bench",
        "benchmark",
        "benchmarks",
        "coverage",
        "cov",
        "style",
        "format",
        "debug",
        "local",
        "tox",
        "nox",
        "precommit",
    }
)


def _is_dev_name(name: str) -> bool:
    """``dev``, ``test-extra``, ``requirements-dev.txt``, ``requirements/test.txt``..."""
    stem = name.lower()
    if stem.endswith(".txt"):
        stem = stem[:-4]
    if stem.startswith("requirements"):
        stem = stem[len("requirements") :]
    words = {w for w in re.split(r"[-_.\s/]+", stem) if w}
    return bool(words & _DEV_WORDS) or "pre-commit" in stem


def _lists_fastapi(group: Iterable[_Candidate]) -> bool:
    return any(name == FASTAPI for name, _, _ in group)


#: What one source says about FastAPI at runtime: True (listed as a runtime dependency),
#: False (the source lists runtime dependencies, FastAPI is not one of them), None (cannot tell).
_Runtime = bool | None


def _pyproject_runtime(data: Mapping[str, object], path: Path) -> list[_Runtime]:
    """Votes of ``pyproject.toml``; empty when it declares no dependencies at all."""
    votes: list[_Runtime] = []
    project = _table(data, "project")
    dynamic = project.get("dynamic")
    if isinstance(project.get("dependencies"), list):
        listed = _pep508_group(project.get("dependencies"), str(path))
        for extra, entries in _table(project, "optional-dependencies").items():
            if not _is_dev_name(extra):
                listed += _pep508_group(entries, str(path))
        votes.append(_lists_fastapi(listed))
    elif isinstance(dynamic, list) and "dependencies" in dynamic:
        votes.append(None)  # read from elsewhere by the build backend
    poetry = _table(data, "tool", "poetry")
    if isinstance(poetry.get("dependencies"), Mapping):
        votes.append(_lists_fastapi(_poetry_group(_table(poetry, "dependencies"), str(path))))
    return votes


def _requirements_runtime(paths: Iterable[Path]) -> list[_Runtime]:
    """Votes of requirements files that hold at least one valid requirement."""
    votes: list[_Runtime] = []
    for path in paths:
        names: set[str] = set()
        for _, line in _requirement_lines(path):
            try:
                names.add(canonicalize_name(Requirement(line).name))
            except InvalidRequirement:
                continue
        if not names:
            continue  # empty or unreadable: no information
        relative = path.name if path.parent.name != "requirements" else f"requirements/{path.name}"
        votes.append(FASTAPI in names and not _is_dev_name(relative))
    return votes


def _setup_runtime(directory: Path, has: Callable[[str], bool]) -> list[_Runtime]:
    """``setup.py`` / ``setup.cfg``: not parsed; one that mentions FastAPI cannot be told
    apart from one that lists it in ``tests_require`` or an extra."""
    votes: list[_Runtime] = []
    for name in ("setup.py", "setup.cfg"):
        if has(name):
            data = _read_bytes(directory / name)
            votes.append(None if data is None or b"fastapi" in data.lower() else False)
    return votes


def _combine(votes: list[_Runtime]) -> _Runtime:
    if any(v is True for v in votes):
        return True
    if any(v is None for v in votes):
        return None
    return False


# ---------------------------------------------------------------------------------------------
# Per-directory information and the detector
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DirInfo:
    #: Versions this directory's own files give, per canonical package name.
    detected: Mapping[str, _Found]
    #: ``[tool.sessionlint]`` overrides; None when there is no such table here.
    config: Mapping[str, _Found] | None
    #: This directory holds dependency metadata (which then decides ``fastapi_runtime``).
    metadata: bool = False
    fastapi_runtime: bool | None = None
    #: The files whose metadata voted on ``fastapi_runtime``.
    runtime_source: str = ""


_EMPTY_DIR = _DirInfo(detected={}, config=None)


def _requirements_dir_files(sub: Path) -> list[Path]:
    try:
        with os.scandir(sub) as it:
            names = [e.name for e in it if e.name.lower().endswith(".txt") and e.is_file()]
    except OSError:
        return []
    return [sub / n for n in sorted(names)]


def _scan_directory(directory: Path) -> _DirInfo:
    try:
        with os.scandir(directory) as it:
            files = {entry.name: entry.is_file() for entry in it}
    except OSError:
        return _EMPTY_DIR

    def has(name: str) -> bool:
        return files.get(name, False)

    detected: dict[str, _Found] = {}

    def fill(found: Mapping[str, _Found]) -> None:
        for package, value in found.items():
            detected.setdefault(package, value)

    # 1. Lock files: exact versions.
    for lock in ("uv.lock", "poetry.lock"):
        if has(lock):
            fill(_lock_versions(directory / lock))

    # 2. pyproject.toml: lowest admitted version; also the [tool.sessionlint] overrides.
    config: dict[str, _Found] | None = None
    votes: list[_Runtime] = []
    voters: list[str] = []
    if has("pyproject.toml"):
        path = directory / "pyproject.toml"
        data = _load_toml(path)
        if data is not None:
            groups = list(_pyproject_groups(data, path))
            fill({p: f for p in _PACKAGES if (f := _pick(groups, p)) is not None})
            config = _config_overrides(data, path)
            votes += _pyproject_runtime(data, path)
            if votes:
                voters.append(str(path))

    # 3. requirements*.txt (requirements.txt first), then requirements/*.txt.
    names = sorted(
        (n for n, is_file in files.items() if is_file and _is_requirements_name(n)),
        key=lambda n: (n.lower() != "requirements.txt", n),
    )
    paths = [directory / n for n in names]
    if files.get("requirements") is False:  # not a regular file: maybe a directory
        paths += _requirements_dir_files(directory / "requirements")
    missing = [p for p in _PACKAGES if p not in detected]
    if missing:
        groups = [_requirements_group(p) for p in paths]
        fill({p: f for p in missing if (f := _pick(groups, p)) is not None})
    for path in paths:
        found = _requirements_runtime([path])
        votes += found
        if found:
            voters.append(str(path))
    votes += _setup_runtime(directory, has)  # one vote per file present
    voters += [str(directory / n) for n in ("setup.py", "setup.cfg") if has(n)]

    return _DirInfo(
        detected=detected,
        config=config,
        metadata=bool(votes),
        fastapi_runtime=_combine(votes) if votes else None,
        runtime_source=", ".join(voters),
    )


class VersionDetector:
    """Finds the target versions for linted files, caching what each directory says.

    One detector is meant to serve a whole run (hundreds of files ask about the same
    directories). Call :meth:`clear_cache` (or use a new detector) after project files change.

    ``override_fastapi`` / ``override_sqlalchemy`` (e.g. from ``--target-fastapi``) beat
    everything; they are validated here and raise :class:`ValueError` when malformed. Their
    source text is ``f"{override_source}-fastapi"`` when ``override_source`` starts with
    ``--`` (``"--target-fastapi"``), else ``f"{override_source} target-fastapi"``.
    """

    def __init__(
        self,
        *,
        override_fastapi: str | None = None,
        override_sqlalchemy: str | None = None,
        override_source: str = "--target",
    ) -> None:
        self._overrides: dict[str, _Found] = {}
        for package, text in ((FASTAPI, override_fastapi), (SQLALCHEMY, override_sqlalchemy)):
            if text is None:
                continue
            label = (
                f"{override_source}-{package}"
                if override_source.startswith("--")
                else f"{override_source} target-{package}"
            )
            try:
                version = parse_version_override(text)
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
            self._overrides[package] = (version, label)
        self._dirs: dict[Path, _DirInfo] = {}
        self._results: dict[Path, TargetVersions] = {}

    def clear_cache(self) -> None:
        """Forget everything read from disk."""
        self._dirs.clear()
        self._results.clear()

    def for_path(self, path: Path | str) -> TargetVersions:
        """Target versions for a linted file (or for a directory)."""
        absolute = Path(os.path.abspath(path))
        start = absolute if absolute.is_dir() else absolute.parent
        cached = self._results.get(start)
        if cached is not None:
            return cached
        result = self._resolve(start)
        self._results[start] = result
        return result

    def _dir_info(self, directory: Path) -> _DirInfo:
        info = self._dirs.get(directory)
        if info is None:
            info = _scan_directory(directory)
            self._dirs[directory] = info
        return info

    def _resolve(self, start: Path) -> TargetVersions:
        detected: dict[str, _Found] = {}
        config: Mapping[str, _Found] | None = None
        runtime_decided = False
        runtime: bool | None = None
        runtime_source = ""
        for directory in (start, *start.parents):
            info = self._dir_info(directory)
            if config is None:
                config = info.config  # the nearest [tool.sessionlint] table
            for package, found in info.detected.items():
                detected.setdefault(package, found)  # the nearest directory giving a version
            if not runtime_decided and info.metadata:
                runtime_decided, runtime = True, info.fastapi_runtime
                runtime_source = info.runtime_source
            if config is not None and len(detected) == len(_PACKAGES) and runtime_decided:
                break

        def choose(package: str) -> _Found | None:
            if package in self._overrides:
                return self._overrides[package]
            if config is not None and package in config:
                return config[package]
            return detected.get(package)

        fa, sa = choose(FASTAPI), choose(SQLALCHEMY)
        return TargetVersions(
            fastapi=None if fa is None else fa[0],
            sqlalchemy=None if sa is None else sa[0],
            fastapi_source=UNKNOWN_SOURCE if fa is None else fa[1],
            sqlalchemy_source=UNKNOWN_SOURCE if sa is None else sa[1],
            fastapi_runtime=runtime,
            fastapi_runtime_source=runtime_source,
        )
