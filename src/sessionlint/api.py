"""The public Python API: plain data in, plain data out.

The CLI, the flake8 plugin and the pre-commit hooks are thin layers over these functions.

>>> from sessionlint.api import lint_source
>>> [d.code for d in lint_source("from sqlalchemy.orm import Session\\ns = Session()\\n")]
['SL101']
"""

from __future__ import annotations

import functools
import gc
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sessionlint.config import Config, ConfigError, is_foreign_code, load_config
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import discover, find_project_root
from sessionlint.model.guard import read_source
from sessionlint.model.trace import Trace

if TYPE_CHECKING:
    from sessionlint.cache import FileFindings

    # LibCST, the semantic model and the rules are imported by the functions that check
    # files: a run answered from the findings cache imports none of them.
    from sessionlint.engine import InternalError
    from sessionlint.model.project import ParseFailure, Project, SourceFile
    from sessionlint.model.semantic import Model
    from sessionlint.rule import Rule
    from sessionlint.versions import TargetVersions, VersionDetector

__all__ = [
    "LintResult",
    "clear_project_cache",
    "lint_file_in_project",
    "lint_paths",
    "lint_source",
    "selected_rules",
]


@dataclass
class LintResult:
    """What a run found."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)
    files_checked: int = 0
    #: The target versions assumed, per project root (for ``-v``).
    versions: dict[str, TargetVersions] = field(default_factory=dict)
    #: Per project root, for ``-v``: whether it counts as running on FastAPI
    #: (:meth:`Model.uses_fastapi`), and how many checked files are test code, migrations,
    #: scripts or application code (``"app"``, ``"test"``, ``"migration"``, ``"script"``).
    uses_fastapi: dict[str, bool] = field(default_factory=dict)
    code_kinds: dict[str, Counter[str]] = field(default_factory=dict)
    #: The findings come from the cache (an earlier run with the same inputs).
    from_cache: bool = False
    #: Findings silenced by a ``noqa`` comment: not reported, kept in the findings cache for
    #: the flake8 plugin (which leaves ``noqa`` comments to flake8).
    noqa_silenced: list[Diagnostic] = field(default_factory=list)
    #: What the analysis looked into (the findings cache stores it; see ``Trace``).
    trace: Trace = field(default_factory=Trace, repr=False, compare=False)
    #: Files not analysed although CPython accepts them (LibCST cannot parse them): not a
    #: finding, printed as a warning (``path:line:column: not analysed: reason``).
    notices: list[str] = field(default_factory=list)


def selected_rules(config: Config) -> list[type[Rule]]:
    """The rules the configuration enables, in code order.

    Raises :class:`ConfigError` for a selector that names no rule (``SL999``): a typo in
    ``--select`` must not silently turn every rule off. Other tools' codes (``E501``) are
    left alone (:func:`sessionlint.config.is_foreign_code`). ``SL001`` is always selected
    unless ``ignore`` names it in full (:data:`sessionlint.config.ALWAYS_ON`).
    """
    from sessionlint.registry import ALL_RULES

    rules = ALL_RULES
    for key, selectors in (
        ("select", config.select or ()),
        ("extend-select", config.extend_select),
        ("ignore", config.ignore),
        ("extend-ignore", config.extend_ignore),
    ):
        for selector in selectors:
            if selector == "ALL" or is_foreign_code(selector):
                continue
            if not any(r.code.startswith(selector) for r in rules):
                raise ConfigError(
                    f"{key}: {selector!r} matches no rule (see `sessionlint rules`)",
                    path=config.source,
                    key=key,
                )
    return [r for r in rules if config.is_selected(r.code, default_enabled=r.default_enabled)]


def _make_config(
    config: Config | None,
    select: Sequence[str] | None,
    ignore: Sequence[str],
    target_fastapi: str | None,
    target_sqlalchemy: str | None,
) -> Config:
    base = config if config is not None else Config()
    return base.merged(
        select=list(select) if select is not None else None,
        ignore=list(ignore) if ignore else None,
        target_fastapi=target_fastapi,
        target_sqlalchemy=target_sqlalchemy,
    )


def _new_project(root: Path, config: Config) -> Project:
    """A project whose file list is the run's own discovery (same excludes)."""
    from sessionlint.model.project import Project

    return Project(root, list_files=lambda folder: discover([folder], config))


def _model(project: Project, config: Config) -> Model:
    from sessionlint.model.semantic import Model

    return Model(
        project,
        session_factories=config.session_factories,
        async_session_factories=config.async_session_factories,
        session_dependencies=config.session_dependencies,
        async_session_dependencies=config.async_session_dependencies,
        strict_sql=config.sql_interpolation == "strict",
    )


def _detector(config: Config) -> VersionDetector:
    from sessionlint.versions import VersionDetector

    return VersionDetector(
        override_fastapi=config.target_fastapi,
        override_sqlalchemy=config.target_sqlalchemy,
        override_source="--target" if config.source is None else "[tool.sessionlint] or --target",
    )


def _lint_one(
    file: SourceFile | ParseFailure,
    display: str,
    path: Path | None,
    model: Model | None,
    versions: TargetVersions,
    config: Config,
    rules: Sequence[type[Rule]],
    *,
    noqa: bool = True,
    silenced: list[Diagnostic] | None = None,
) -> tuple[list[Diagnostic], list[InternalError]]:
    from sessionlint.engine import check_file, parse_failure_diagnostic
    from sessionlint.model.project import ParseFailure

    active = [r for r in rules if path is None or not config.is_ignored_for(r.code, path)]
    if isinstance(file, ParseFailure):
        if file.valid:
            return [], []  # see not_analysed(): a notice, not a finding
        wanted = any(r.code == "SL001" for r in active)
        return ([parse_failure_diagnostic(display, file)] if wanted else []), []
    assert model is not None
    return check_file(file, model, versions, active, noqa=noqa, silenced=silenced)


def lint_source(
    source: str | bytes,
    path: str = "<string>",
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    target_fastapi: str | None = None,
    target_sqlalchemy: str | None = None,
    config: Config | None = None,
) -> list[Diagnostic]:
    """Lint one module given as text (or bytes, decoded per PEP 263).

    The module is its own project: names imported from other modules stay unresolved. The
    ``path`` is used for display and for path-based decisions (test files, per-file ignores)
    but is never read. Without target versions, the newest behaviour is assumed.
    """
    from sessionlint.model.project import Project, SourceFile, parse_source
    from sessionlint.versions import TargetVersions

    cfg = _make_config(config, select, ignore, target_fastapi, target_sqlalchemy)
    rules = selected_rules(cfg)
    parsed = parse_source(source, path=None, display_path=path)
    project = Project(None)
    versions = TargetVersions.of(cfg.target_fastapi, cfg.target_sqlalchemy, source="given")
    model = _model(project, cfg)
    if isinstance(parsed, SourceFile):
        project.add(parsed)
    diagnostics, errors = _lint_one(
        parsed, path, Path(path) if path != "<string>" else None, model, versions, cfg, rules
    )
    if errors:
        diagnostics = diagnostics + [_internal_error_diagnostic(e) for e in errors]
    return diagnostics


def not_analysed(display: str, file: SourceFile | ParseFailure) -> str | None:
    """The notice for a file CPython accepts but that could not be analysed, else None."""
    from sessionlint.model.project import ParseFailure

    if isinstance(file, ParseFailure) and file.valid:
        return f"{display}:{file.line}:{file.column}: not analysed: {file.reason}"
    return None


def _internal_error_diagnostic(error: InternalError) -> Diagnostic:
    from sessionlint.diagnostics import Severity

    return Diagnostic(
        error.path, 1, 1, 1, 1, "SL000", "internal-error", Severity.ERROR, error.describe()
    )


def _load_file(
    path: Path,
    projects: dict[Path, tuple[Project, Model]],
    cfg: Config,
    given: Sequence[Path] = (),
    roots: _Roots | None = None,
) -> tuple[SourceFile | ParseFailure, Project | None, Model | None, bytes | None]:
    """Read and parse one file of a run into the project of its root (one project and one
    model per root, shared by every file of the run: ``lint_paths`` and the fix loop).

    Returns the parsed file (or why it failed), its project and model (None when the file
    cannot be read) and the bytes read.
    """
    from sessionlint.model.project import SourceFile, parse_source

    root = (roots or _Roots(given)).of(path)
    if root not in projects:
        project = _new_project(root, cfg)
        projects[root] = (project, _model(project, cfg))
    project, model = projects[root]
    try:
        data = read_source(path)
    except OSError as exc:
        return _unreadable(exc), None, None, None
    source = parse_source(data, path=path.resolve(), display_path=str(path))
    if isinstance(source, SourceFile):
        project.add(source)
    return source, project, model, data


def _unreadable(exc: OSError) -> ParseFailure:
    """SL001 for a file that cannot be read."""
    from sessionlint.model.project import ParseFailure

    return ParseFailure(1, 1, f"cannot read file: {exc.strerror or exc}")


class _Roots:
    """:func:`find_project_root` for the files of one run, remembered per folder (and the
    marked folders above them), so a run looks at each folder once, not once per file."""

    def __init__(self, given: Sequence[Path]) -> None:
        self.given = given
        self._folders: dict[Path, Path] = {}
        self._marked: dict[Path, Path | None] = {}

    def of(self, path: Path) -> Path:
        folder = path.parent
        root = self._folders.get(folder)
        if root is None:
            root = self._folders[folder] = find_project_root(path, self.given, self._marked)
        return root


_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a batch run.

    A run allocates millions of small, acyclic LibCST nodes that stay alive until the run ends,
    so the collector's generation scans find nothing to free and only cost time: measured on
    Netflix/dispatch (655 files, 72 kLOC), 11.1 s with the default thresholds against 7.4-7.7 s
    paused, with the same peak RSS (190 MB). Reference counting still frees everything. The
    previous state is restored afterwards, so a long-lived host (an editor server) keeps its GC.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def batch_run(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``function`` with the cyclic garbage collector paused (see :func:`cyclic_gc_paused`)."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cyclic_gc_paused():
            return function(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class _Run:
    """What a run over paths works with: the paths given, the effective configuration, the
    selected rules, the discovered files and the version detector."""

    given: list[Path]
    config: Config
    files: list[Path]

    @functools.cached_property
    def detector(self) -> VersionDetector:
        return _detector(self.config)

    @functools.cached_property
    def rules(self) -> list[type[Rule]]:
        """The selected rules, imported when a file is checked (a run answered from the
        cache imports none). A selector that names no rule raises ``ConfigError`` then;
        such a run stores nothing, so a cached run had a valid selection."""
        return selected_rules(self.config)


def _prepare(
    paths: Sequence[str | Path],
    config: Config | None,
    select: Sequence[str] | None,
    ignore: Sequence[str],
    target_fastapi: str | None,
    target_sqlalchemy: str | None,
    isolated: bool,
) -> _Run:
    """The set-up shared by ``lint_paths`` and ``fixes.fix_paths``."""
    given = [Path(p) for p in paths] or [Path(".")]
    if config is None:
        config = load_config(given[0], isolated=isolated)
    cfg = _make_config(config, select, ignore, target_fastapi, target_sqlalchemy)
    return _Run(given, cfg, discover(given, cfg))


@batch_run
def lint_paths(
    paths: Sequence[str | Path],
    *,
    config: Config | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    target_fastapi: str | None = None,
    target_sqlalchemy: str | None = None,
    isolated: bool = False,
    progress: Callable[[int, int], None] | None = None,
    jobs: int | None = 1,
    cache_dir: Path | None = None,
    use_cache: bool = False,
) -> LintResult:
    """Lint files and directories (recursively, with the default excludes and .gitignore).

    ``jobs``: how many processes check the files (``None``: the usable cores); with more
    than one, the files are shared among forked workers when there are enough of them
    (:data:`MIN_FILES_PER_JOB` per worker). The result is the same either way.

    ``use_cache``: reuse the findings of an earlier run with the same inputs, and store
    these (:mod:`sessionlint.cache`; in ``cache_dir``, by default ``.sessionlint_cache`` at
    the first file's project root). A run with internal errors is not stored.

    Without an explicit ``config``, the nearest ``pyproject.toml`` with ``[tool.sessionlint]``
    above the first path is read (unless ``isolated``). Raises
    :class:`sessionlint.files.UsageError` for a path that does not exist and
    :class:`sessionlint.config.ConfigError` for a bad configuration.

    ``progress(done, total)`` is called as the run advances; each file counts two steps
    (reading and parsing, then checking).
    """
    run = _prepare(paths, config, select, ignore, target_fastapi, target_sqlalchemy, isolated)
    if not use_cache or not run.files:
        return _lint_run(run, jobs, progress)
    return _lint_cached(run, jobs, progress, cache_dir)


def _lint_cached(
    run: _Run,
    jobs: int | None,
    progress: Callable[[int, int], None] | None,
    cache_dir: Path | None,
) -> LintResult:
    """``lint_paths`` with the findings cache (:mod:`sessionlint.cache`): the files whose
    stored findings still hold (:meth:`State.still_valid`: nothing they depend on changed)
    are not checked again; the others are checked and stored (not a file with an internal
    error). A file's findings do not depend on the other files of the run
    (``tests/test_cache.py`` checks it on every fixture project), so a run on some files of
    a project checked before, or after an edit, checks only what it must."""
    from sessionlint import cache

    where = _Roots(run.given)
    roots = sorted({where.of(path) for path in run.files})
    if {cache.real(path) for path in run.given} == {cache.real(root) for root in roots}:
        paths = list(run.files)  # the run is the projects (``check .``): one discovery
    else:
        paths = [p for root in roots for p in discover([root], run.config)] + run.files
    names = {path: cache.real(path) for path in paths}
    modules = {name: path for path, name in names.items()}
    directory = cache.cache_dir_for(roots[0], cache_dir)
    key = cache.shape_key(repr(run.config), modules, roots)
    digests = cache.Digests(directory)
    now = cache.content_hashes(modules, digests)
    digests.save()
    state = cache.State.load(directory, key)
    valid = state.still_valid(now, _read_text)
    missing = [path for path in run.files if names[path] not in valid]
    by_file: dict[str, tuple[list[Diagnostic], list[Diagnostic], list[str]]] = {
        str(p): ([], [], []) for p in missing
    }
    fresh: dict[str, cache.FileFindings] = {}
    if not missing:
        result = LintResult(from_cache=True)
    else:
        result = _lint_run(replace(run, files=missing), jobs, progress)
        for d in result.diagnostics:
            by_file[d.path][0].append(d)
        for d in result.noqa_silenced:
            by_file[d.path][1].append(d)
        for notice in result.notices:
            display = max((n for n in by_file if notice.startswith(f"{n}:")), key=len, default="")
            by_file.setdefault(display, ([], [], []))[2].append(notice)
        failed = {error.path for error in result.internal_errors}
        fresh = {
            names[path]: cache.FileFindings.of(str(path), *by_file[str(path)])
            for path in missing
            if str(path) not in failed
        }
    if fresh or now != state.hashes or valid != set(state.files):
        state.updated(now, valid, fresh, result.trace).store(directory, key)
    if len(missing) == len(run.files):
        return result
    # Findings and notices of every file, in the order one run over all of them gives.
    notices: list[str] = []
    for path in run.files:
        display = str(path)
        if display in by_file:
            notices.extend(by_file[display][2])
        else:
            findings = state.files[names[path]]
            result.diagnostics.extend(findings.diagnostics_for(display))
            notices.extend(findings.notices_for(display))
    result.diagnostics.sort(key=lambda d: d.sort_key)
    result.notices = notices
    result.files_checked = len(run.files)
    return result


def _read_text(name: str) -> str:
    """A module's text for the project-wide text queries (as ``Project.texts`` reads it)."""
    return Path(name).read_text(encoding="utf-8", errors="replace")


def _lint_run(
    run: _Run, jobs: int | None, progress: Callable[[int, int], None] | None
) -> LintResult:
    workers = min(jobs if jobs is not None else usable_cores(), len(run.files) // MIN_FILES_PER_JOB)
    if workers > 1 and _can_fork():
        return _lint_parallel(run, workers, progress)
    return _lint_files(run, run.files, progress).result(len(run.files))


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


#: Below this many files per worker process, starting processes costs more than it saves.
MIN_FILES_PER_JOB = 24


def usable_cores() -> int:
    """The CPUs this process may run on (``--jobs`` default)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class _Share:
    """What checking some of a run's files found, in a form another process can send back:
    findings with detached fixes, and per project root the first file (its position in the
    run) that set the root's versions and FastAPI verdict."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    noqa_silenced: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)
    notices: list[tuple[int, str]] = field(default_factory=list)
    trace: Trace = field(default_factory=Trace)
    roots: dict[str, tuple[int, TargetVersions, bool | None]] = field(default_factory=dict)
    code_kinds: dict[str, Counter[str]] = field(default_factory=dict)

    def merge(self, other: _Share) -> None:
        self.diagnostics.extend(other.diagnostics)
        self.noqa_silenced.extend(other.noqa_silenced)
        self.trace.merge(other.trace)
        self.internal_errors.extend(other.internal_errors)
        self.notices.extend(other.notices)
        for root, entry in other.roots.items():
            if root not in self.roots or entry[0] < self.roots[root][0]:
                self.roots[root] = entry
        for root, kinds in other.code_kinds.items():
            self.code_kinds.setdefault(root, Counter()).update(kinds)

    def result(self, files_checked: int) -> LintResult:
        result = LintResult(files_checked=files_checked)
        result.diagnostics = sorted(self.diagnostics, key=lambda d: d.sort_key)
        result.noqa_silenced = sorted(self.noqa_silenced, key=lambda d: d.sort_key)
        result.trace = self.trace
        result.internal_errors = sorted(self.internal_errors, key=lambda e: (e.path, e.code))
        result.notices = [notice for _, notice in sorted(self.notices)]
        for root, (_, versions, uses_fastapi) in sorted(self.roots.items()):
            result.versions[root] = versions
            if uses_fastapi is not None:
                result.uses_fastapi[root] = uses_fastapi
        result.code_kinds = {root: self.code_kinds[root] for root in sorted(self.code_kinds)}
        return result


_Parsed = tuple[Path, "SourceFile | ParseFailure", "Project | None", "Model | None"]


def _load_all(
    run: _Run, files: Sequence[Path], advance: Callable[[], None] | None = None
) -> list[_Parsed]:
    """Read and parse ``files`` into their projects (one project and model per root)."""
    projects: dict[Path, tuple[Project, Model]] = {}
    roots = _Roots(run.given)
    parsed: list[_Parsed] = []
    for path in files:
        if advance is not None:
            advance()
        source, project, model, _ = _load_file(path, projects, run.config, run.given, roots)
        parsed.append((path, source, project, model))
    return parsed


def _check_all(
    run: _Run,
    parsed: Iterable[tuple[int, _Parsed]],
    advance: Callable[[], None] | None = None,
) -> _Share:
    """Check parsed files, each given with its position in the run."""
    from sessionlint.model.project import SourceFile

    cfg, rules, detector = run.config, run.rules, run.detector
    share = _Share()
    for position, (path, source, owner, owner_model) in parsed:
        if advance is not None:
            advance()
        versions = detector.for_path(path)
        if owner is not None and owner.root is not None:
            root = str(owner.root)
            if root not in share.roots:
                share.roots[root] = (position, versions, None)
            first, first_versions, uses_fastapi = share.roots[root]
            if owner_model is not None and isinstance(source, SourceFile):
                if uses_fastapi is None:
                    uses_fastapi = owner_model.uses_fastapi(first_versions)
                    share.roots[root] = (first, first_versions, uses_fastapi)
                kind = owner_model.code_kind(source).name.lower()
                share.code_kinds.setdefault(root, Counter())[kind] += 1
        silenced: list[Diagnostic] = []
        diagnostics, errors = _lint_one(
            source, str(path), path, owner_model, versions, cfg, rules, silenced=silenced
        )
        if isinstance(source, SourceFile) and source.display_path != str(path):
            # Parsed earlier as another module's import: it carries the path it was found by.
            display = str(path)
            diagnostics = [replace(d, path=display) for d in diagnostics]
            silenced = [replace(d, path=display) for d in silenced]
            errors = [replace(e, path=display) for e in errors]
        share.noqa_silenced.extend(silenced)
        notice = not_analysed(str(path), source)
        if notice is not None:
            share.notices.append((position, notice))
        share.diagnostics.extend(diagnostics)
        share.internal_errors.extend(errors)
    return share


def _lint_files(
    run: _Run, files: Sequence[Path], progress: Callable[[int, int], None] | None = None
) -> _Share:
    """Read and parse every file, then check each: one process."""
    steps = 0

    def advance() -> None:
        nonlocal steps
        steps += 1
        if progress is not None:
            progress(steps, 2 * len(files))

    parsed = _load_all(run, files, advance)
    share = _check_all(run, enumerate(parsed), advance)
    for project in {id(p): p for _, _, p, _ in parsed if p is not None}.values():
        share.trace.merge(project.trace)
    return share


#: What forked workers check: the run, its projects (one per root, with their models) and
#: the roots of its folders (set in the parent right before the workers fork; they inherit
#: them, the modules parsed so far and the facts gathered included).
_WORKER_STATE: tuple[_Run, dict[Path, tuple[Project, Model]], _Roots] | None = None


def _shares(files: Sequence[Path], workers: int) -> list[list[int]]:
    """Split the run into ``workers`` runs of neighbouring files (in the run's order, so
    each share holds whole packages: a module's imports are mostly parsed by the process
    that checks it) of about the same size in bytes."""
    sizes: list[int] = []
    for path in files:
        try:
            sizes.append(path.stat().st_size + 1)
        except OSError:
            sizes.append(1)
    shares: list[list[int]] = [[] for _ in range(workers)]
    total, done = sum(sizes), 0
    for position, size in enumerate(sizes):
        shares[min(done * workers // total, workers - 1)].append(position)
        done += size
    return [share for share in shares if share]


def _check_worker(positions: list[int]) -> _Share:
    assert _WORKER_STATE is not None
    run, projects, roots = _WORKER_STATE
    gc.disable()  # as in the parent's batch run (see cyclic_gc_paused)

    def parsed() -> Iterator[tuple[int, _Parsed]]:
        for position in positions:
            path = run.files[position]
            project, model = projects[roots.of(path)]
            known = project.known(path)
            if known is not None:  # parsed in the parent for the project-wide facts
                yield position, (path, known, project, model)
            else:
                source, owner, owner_model, _ = _load_file(
                    path, projects, run.config, run.given, roots
                )
                yield position, (path, source, owner, owner_model)

    share = _check_all(run, parsed())
    for project, _ in projects.values():
        share.trace.merge(project.trace)
    share.diagnostics = [d.detached() for d in share.diagnostics]
    share.noqa_silenced = [d.detached() for d in share.noqa_silenced]
    return share


def _lint_parallel(
    run: _Run, workers: int, progress: Callable[[int, int], None] | None
) -> LintResult:
    """Gather the project-wide facts here, then read, parse and check the files in
    ``workers`` forked processes, each a share of the files (every ``workers``-th one, so
    shares are alike).

    The facts every file's check asks for (which functions are dependencies, what runs on
    each request, whether the project runs on FastAPI) are computed once, before the fork:
    that parses the modules they need (those that register dependencies or routes, and the
    modules those call), and the workers inherit them. Each worker parses the rest of its
    share itself, so most of the parsing happens in parallel. A file's findings do not
    depend on which process parsed it or which files it shares a process with
    (tests/test_jobs.py: the same findings as ``jobs=1``)."""
    global _WORKER_STATE
    total_steps = 2 * len(run.files)
    projects: dict[Path, tuple[Project, Model]] = {}
    roots = _Roots(run.given)
    for path in run.files:
        root = roots.of(path)
        if root not in projects:
            project = _new_project(root, run.config)
            projects[root] = (project, _model(project, run.config))
    for _, model in projects.values():
        model.dependencies()
        model.per_request_functions()
        model.uses_fastapi()
    if progress is not None:
        progress(len(run.files) // 2, total_steps)
    shares = _shares(run.files, workers)
    total = _Share()
    _WORKER_STATE = (run, projects, roots)
    try:
        import concurrent.futures
        import multiprocessing

        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for done, share in enumerate(pool.map(_check_worker, shares), start=1):
                total.merge(share)
                if progress is not None:
                    progress(total_steps * (done + 1) // (workers + 1), total_steps)
    finally:
        _WORKER_STATE = None
    for project, _ in projects.values():
        total.trace.merge(project.trace)
    return total.result(len(run.files))


# -- one file inside its project (the flake8 plugin, standard input) ----------------------------

#: The projects kept by ``lint_file_in_project(..., cache=True)`` in this process, keyed by
#: project root and configuration: the project (each module read and parsed once), its
#: semantic model and its version detector. flake8 with ``-j`` forks workers that each build
#: their own.
_PROJECTS: dict[tuple[Path, Config], tuple[Project, Model, VersionDetector]] = {}
#: The marked folders above the files linted with ``cache=True`` (see ``find_project_root``).
_MARKED: dict[Path, Path | None] = {}


def clear_project_cache() -> None:
    """Forget the projects kept by ``lint_file_in_project(..., cache=True)``."""
    _PROJECTS.clear()
    _STORED.clear()
    _MARKED.clear()


def _same_text(a: str, b: str) -> bool:
    """Equal up to line endings (flake8 reads files with universal newlines)."""

    def universal(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n")

    return a == b or universal(a) == universal(b)


def lint_file_in_project(
    path: str | Path,
    source: str | bytes | None = None,
    *,
    config: Config | None = None,
    display_path: str | None = None,
    noqa: bool = True,
    cache: bool = False,
    use_cache: bool = False,
    given: Sequence[Path] = (),
) -> LintResult:
    """Lint one file as a module of its project, with the facts ``lint_paths`` would use.

    ``source`` is the file's content (default: read from ``path``); ``path`` need not exist,
    so standard input can be linted as if it were that file. The project root is the one
    ``lint_paths`` gives the file (:func:`sessionlint.files.find_project_root`: the nearest
    folder above ``path`` with ``pyproject.toml``, ``setup.py``, ``setup.cfg``,
    ``requirements*.txt``, a lock file or ``.git``; else the folder among ``given`` (the
    paths a command line named) or the current directory that holds ``path``); the other
    modules are read, when a rule needs a fact from them, from disk.
    Without ``config``, the nearest ``[tool.sessionlint]`` above ``path`` applies
    (:class:`sessionlint.config.ConfigError` when it is invalid); the target versions are
    detected as in ``lint_paths``.

    ``cache=True`` keeps each project for the rest of the process (see :data:`_PROJECTS`),
    so linting many files of one project parses every module once; it assumes the files do
    not change meanwhile (:func:`clear_project_cache` forgets them). A ``source`` that differs
    from the file on disk is linted in a project of its own. ``noqa=False`` leaves
    ``# noqa`` comments to the caller (flake8 applies them itself).

    ``use_cache`` (with ``cache``) shares the findings cache of ``lint_paths(...,
    use_cache=True)``: the findings a ``sessionlint check`` of the project stored are
    returned without checking, and findings computed here are stored for both. Only a file
    linted as it is on disk uses it.
    """
    file_path = Path(path)
    display = display_path if display_path is not None else str(path)
    if config is None:
        config = load_config(file_path)
    root = find_project_root(file_path, [*given, Path.cwd()], _MARKED if cache else None)
    stored: _Stored | None = None
    if use_cache and cache:
        stored = _stored(root, config)
        hit = stored.lookup(file_path, source)
        if hit is not None:
            result = LintResult(files_checked=1, from_cache=True)
            result.diagnostics = hit.diagnostics_for(display, silenced=not noqa)
            result.notices = hit.notices_for(display)
            return result

    from sessionlint.model.project import SourceFile, parse_source

    rules = selected_rules(config)
    key = (root, config)
    if key not in _PROJECTS or not cache:
        project = _new_project(root, config)
        entry = (project, _model(project, config), _detector(config))
        if cache:
            _PROJECTS[key] = entry
    else:
        entry = _PROJECTS[key]
    project, model, detector = entry

    file: SourceFile | ParseFailure | None = None
    if cache and (source is None or isinstance(source, str)):
        known = project.load(file_path)
        if known is not None and (source is None or _same_text(known.text, source)):
            file = known
    as_on_disk = file is not None
    if file is None:
        if cache:  # the content differs from the cached module: a project of its own
            project = _new_project(root, config)
            model = _model(project, config)
        if source is None:
            try:
                source = read_source(file_path)
            except OSError as exc:
                file = _unreadable(exc)
        if file is None:
            assert source is not None
            file = parse_source(source, path=file_path.resolve(), display_path=display)
        if isinstance(file, SourceFile):
            project.add(file)

    versions = detector.for_path(file_path)
    result = LintResult(files_checked=1, versions={str(project.root): versions})
    silenced: list[Diagnostic] = []
    diagnostics, errors = _lint_one(
        file, display, file_path, model, versions, config, rules, silenced=silenced
    )
    if stored is not None and as_on_disk and not errors:
        notices = [n for n in [not_analysed(display, file)] if n is not None]
        stored.add(file_path, display, (diagnostics, silenced, notices), project.trace)
    if not noqa:
        diagnostics = sorted([*diagnostics, *silenced], key=lambda d: d.sort_key)
    # A module read earlier as another one's import carries the path it was found by.
    result.diagnostics = [d if d.path == display else replace(d, path=display) for d in diagnostics]
    result.internal_errors = [e if e.path == display else replace(e, path=display) for e in errors]
    notice = not_analysed(display, file)
    if notice is not None:
        result.notices.append(notice)
    return result


class _Stored:
    """The findings cache as one process checking single files sees it (the flake8 plugin):
    the state of the project's current shape, with the findings an edit made stale
    dropped, read once."""

    def __init__(self, root: Path, config: Config) -> None:
        from sessionlint import cache

        self.directory = cache.cache_dir_for(root)
        modules = {cache.real(path): path for path in discover([root], config)}
        self.key = cache.shape_key(
            repr(_make_config(config, None, (), None, None)), modules, [root]
        )
        digests = cache.Digests(self.directory)
        now = cache.content_hashes(modules, digests)
        digests.save()
        state = cache.State.load(self.directory, self.key)
        valid = state.still_valid(now, _read_text)
        if now != state.hashes or valid != set(state.files):
            state = state.updated(now, valid, {}, Trace())
            state.store(self.directory, self.key)
        self.state = state
        self._sent = Trace()

    def lookup(self, path: Path, source: str | bytes | None) -> FileFindings | None:
        from sessionlint import cache

        found = self.state.files.get(cache.real(path))
        if found is None or source is None:
            return found
        try:  # the text given must be the file on disk (the state hashed the disk)
            on_disk = read_source(path)
        except OSError:
            return None
        if isinstance(source, str):
            from sessionlint.model.guard import decode_source

            try:
                same = _same_text(decode_source(on_disk)[0], source)
            except (SyntaxError, UnicodeError, LookupError):
                same = False
        else:
            same = on_disk == source
        return found if same else None

    def add(
        self,
        path: Path,
        display: str,
        found: tuple[list[Diagnostic], list[Diagnostic], list[str]],
        trace: Trace,
    ) -> None:
        from sessionlint import cache

        findings = cache.FileFindings.of(display, *found)
        # Each one-file entry carries what the process's trace gained since the last one
        # (the state unites them all when it reads them).
        delta = trace.since(self._sent)
        self._sent.merge(delta)
        self.state.store_one(self.directory, self.key, cache.real(path), findings, delta)


#: The findings cache per (project root, configuration) for ``lint_file_in_project``.
_STORED: dict[tuple[Path, Config], _Stored] = {}


def _stored(root: Path, config: Config) -> _Stored:
    key = (root, config)
    if key not in _STORED:
        _STORED[key] = _Stored(root, config)
    return _STORED[key]


# -- long-running clients (the language server) --------------------------------------------


class EditorSession:
    """Lint files of projects that stay in memory across edits (``sessionlint server``).

    Each project is read once and kept: :meth:`update` swaps in the text of an edited or
    saved file (an unsaved editor buffer wins over the disk), so the facts other modules give
    (a ``get_db`` in ``deps.py``) follow the edits, and only changed files are parsed again.
    Each :meth:`lint` uses a fresh :class:`Model` (models cache facts about the trees).
    """

    def __init__(self, folders: Sequence[Path] = ()) -> None:
        self._projects: dict[tuple[Path, Config], tuple[Project, VersionDetector]] = {}
        self._texts: dict[Path, str] = {}
        #: The editor's workspace folders: a file with no project marker above it belongs to
        #: the folder that holds it (the current directory only when there is none).
        self.folders: list[Path] = [f.resolve() for f in folders]

    def _project(self, path: Path, config: Config) -> tuple[Project, VersionDetector]:
        from sessionlint.model.project import SourceFile, parse_source

        root = find_project_root(path, self.folders or [Path.cwd()])
        key = (root, config)
        if key not in self._projects:
            project = _new_project(root, config)
            for known, text in self._texts.items():  # open buffers of earlier edits
                parsed = parse_source(text, path=known, display_path=str(known))
                if isinstance(parsed, SourceFile):
                    project.add(parsed)
            self._projects[key] = (project, _detector(config))
        return self._projects[key]

    def update(self, path: str | Path, text: str) -> None:
        """The file at ``path`` now holds ``text`` (an editor buffer or a saved file)."""
        from sessionlint.model.project import SourceFile, parse_source

        key = Path(path).resolve()
        self._texts[key] = text
        parsed = parse_source(text, path=key, display_path=str(path))
        for project, _ in self._projects.values():
            old = project.known(key)
            if isinstance(parsed, SourceFile):
                if old is not None:
                    project.replace(old, parsed)
                else:
                    project.add(parsed)
                    project.forget_derived()
            elif old is not None:
                project.remove(key)

    def forget(self, path: str | Path) -> None:
        """The editor closed ``path``: read it from disk again from now on."""
        key = Path(path).resolve()
        self._texts.pop(key, None)
        for project, _ in self._projects.values():
            project.remove(key)

    def lint(self, path: str | Path, *, config: Config | None = None) -> LintResult:
        """Lint ``path`` (its buffer when :meth:`update` gave one) with its project's facts."""
        return self._lint(path, config)[0]

    def fixed_text(
        self, path: str | Path, code: str, line: int, column: int, *, config: Config | None = None
    ) -> str | None:
        """The text of ``path`` with the fix (safe or unsafe, never display-only) of its
        finding ``code`` at ``line``:``column`` applied; None when there is none to apply or
        the result would not parse."""
        from sessionlint.fixes import _fix_round, is_applied
        from sessionlint.model.project import SourceFile

        result, file = self._lint(path, config)
        if not isinstance(file, SourceFile):
            return None
        for d in result.diagnostics:
            if (d.code, d.line, d.column) == (code, line, column) and is_applied(
                d.fix, unsafe=True
            ):
                step = _fix_round(file, [d])
                return step.new.text if step.new is not None else None
        return None

    def _lint(
        self, path: str | Path, config: Config | None
    ) -> tuple[LintResult, SourceFile | ParseFailure]:
        from sessionlint.model.project import SourceFile, parse_source

        file_path = Path(path)
        key = file_path.resolve()
        if config is None:
            config = load_config(file_path)
        project, detector = self._project(file_path, config)
        file: SourceFile | ParseFailure | None = project.known(key)
        if file is None:
            try:
                text = self._texts.get(key)
                source = text if text is not None else read_source(key)
                file = parse_source(source, path=key, display_path=str(path))
            except OSError as exc:
                file = _unreadable(exc)
            if isinstance(file, SourceFile):
                project.add(file)
        versions = detector.for_path(file_path)
        result = LintResult(files_checked=1, versions={str(project.root): versions})
        diagnostics, errors = _lint_one(
            file,
            str(path),
            file_path,
            _model(project, config),
            versions,
            config,
            selected_rules(config),
        )
        result.diagnostics = [replace(d, path=str(path)) for d in diagnostics]
        result.internal_errors = [replace(e, path=str(path)) for e in errors]
        return result, file
