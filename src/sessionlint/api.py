"""The public Python API: plain data in, plain data out.

The CLI, the flake8 plugin and the pre-commit hooks are thin layers over these functions.

>>> from sessionlint.api import lint_source
>>> [d.code for d in lint_source("from sqlalchemy.orm import Session\\ns = Session()\\n")]
['SL101']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sessionlint.config import Config, load_config
from sessionlint.diagnostics import Diagnostic
from sessionlint.engine import InternalError, check_file, parse_failure_diagnostic
from sessionlint.files import discover, find_project_root
from sessionlint.model.project import ParseFailure, Project, SourceFile, parse_source
from sessionlint.model.semantic import Model
from sessionlint.registry import ALL_RULES
from sessionlint.rule import Rule
from sessionlint.versions import TargetVersions, VersionDetector

__all__ = ["LintResult", "lint_paths", "lint_source", "selected_rules"]


@dataclass
class LintResult:
    """What a run found."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_errors: list[InternalError] = field(default_factory=list)
    files_checked: int = 0
    #: The target versions assumed, per project root (for ``-v``).
    versions: dict[str, TargetVersions] = field(default_factory=dict)


def selected_rules(config: Config) -> list[type[Rule]]:
    """The rules the configuration enables, in code order."""
    return [r for r in ALL_RULES if config.is_selected(r.code, default_enabled=r.default_enabled)]


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


def _model(project: Project, config: Config) -> Model:
    return Model(
        project,
        session_factories=config.session_factories,
        async_session_factories=config.async_session_factories,
        session_dependencies=config.session_dependencies,
        async_session_dependencies=config.async_session_dependencies,
    )


def _detector(config: Config) -> VersionDetector:
    return VersionDetector(
        override_fastapi=config.target_fastapi,
        override_sqlalchemy=config.target_sqlalchemy,
        override_source="[tool.sessionlint]" if config.source is not None else "--target",
    )


def _lint_one(
    file: SourceFile | ParseFailure,
    display: str,
    path: Path | None,
    model: Model | None,
    versions: TargetVersions,
    config: Config,
    rules: Sequence[type[Rule]],
) -> tuple[list[Diagnostic], list[InternalError]]:
    active = [r for r in rules if path is None or not config.is_ignored_for(r.code, path)]
    if isinstance(file, ParseFailure):
        wanted = any(r.code == "SL001" for r in active)
        return ([parse_failure_diagnostic(display, file)] if wanted else []), []
    assert model is not None
    return check_file(file, model, versions, active)


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


def _internal_error_diagnostic(error: InternalError) -> Diagnostic:
    from sessionlint.diagnostics import Severity

    return Diagnostic(error.path, 1, 1, 1, 1, "SL000", "internal-error", Severity.ERROR,
                      error.describe())


def lint_paths(
    paths: Sequence[str | Path],
    *,
    config: Config | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    target_fastapi: str | None = None,
    target_sqlalchemy: str | None = None,
    isolated: bool = False,
) -> LintResult:
    """Lint files and directories (recursively, with the default excludes and .gitignore).

    Without an explicit ``config``, the nearest ``pyproject.toml`` with ``[tool.sessionlint]``
    above the first path is read (unless ``isolated``). Raises
    :class:`sessionlint.files.UsageError` for a path that does not exist and
    :class:`sessionlint.config.ConfigError` for a bad configuration.
    """
    given = [Path(p) for p in paths] or [Path(".")]
    if config is None:
        config = load_config(given[0], isolated=isolated)
    cfg = _make_config(config, select, ignore, target_fastapi, target_sqlalchemy)
    rules = selected_rules(cfg)
    files = discover(given, cfg)
    detector = _detector(cfg)
    result = LintResult(files_checked=len(files))

    projects: dict[Path, tuple[Project, Model]] = {}
    parsed: list[tuple[Path, SourceFile | ParseFailure, Project | None, Model | None]] = []
    for path in files:
        root = find_project_root(path)
        if root not in projects:
            project = Project(root)
            projects[root] = (project, _model(project, cfg))
        project, model = projects[root]
        try:
            data = path.read_bytes()
        except OSError as exc:
            failure = ParseFailure(1, 1, f"cannot read file: {exc.strerror or exc}")
            parsed.append((path, failure, None, None))
            continue
        source = parse_source(data, path=path.resolve(), display_path=str(path))
        if isinstance(source, SourceFile):
            project.add(source)
        parsed.append((path, source, project, model))

    for path, source, project, model in parsed:
        versions = detector.for_path(path)
        if project is not None and project.root is not None:
            result.versions.setdefault(str(project.root), versions)
        diagnostics, errors = _lint_one(source, str(path), path, model, versions, cfg, rules)
        result.diagnostics.extend(diagnostics)
        result.internal_errors.extend(errors)
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result
