"""The fix engine: ruff's fix loop over LibCST node replacements.

A rule offers a :class:`~sessionlint.diagnostics.Fix` made of node replacements (old node of
the tree it saw -> new node, ``RemovalSentinel.REMOVE`` or a ``FlattenSentinel``) and the
imports the new code needs. One *round* of the loop, for one file:

1. collect the applicable fixes of the file's findings (safe ones; unsafe ones too with
   ``unsafe=True``; display-only fixes are never applied);
2. choose a non-overlapping set, outermost first: a fix whose old node is (inside) the old
   node of a fix already chosen waits for the next round; a fix identical to one already
   chosen is applied once and counts for both findings;
3. apply the chosen replacements in ONE transformer pass, matching nodes by identity, then add
   the imports with LibCST's ``AddImportsVisitor`` (merged into an existing
   ``from module import ...`` line when there is one);
4. regenerate the code and RE-PARSE it. A result that does not parse (or no longer compiles,
   or cannot be encoded in the file's encoding) is never kept: each fix of the round is then
   tried alone, the culprits are dropped and reported, and the others are applied.

Then the whole run is linted again with a fresh semantic model over the updated project (so
cross-module facts stay right), and the loop goes on until no file changes, at most
:data:`MAX_ROUNDS` rounds. Running the fixes again therefore changes nothing.

Only what a fix names changes: LibCST regenerates every untouched byte as it was (comments,
blank lines, quotes, line endings, indentation); new code is built with the module's own
newline and indentation; the file's encoding (a PEP 263 cookie) and its UTF-8 BOM are kept.
Files are written atomically (a temporary file in the same directory, then ``os.replace``)
with their mode kept; a file that cannot be written gets a per-file error and the other files
are still fixed.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from sessionlint import api
from sessionlint.config import Config
from sessionlint.diagnostics import Applicability, Diagnostic, Fix, Replacement
from sessionlint.engine import InternalError
from sessionlint.model.project import ParseFailure, Project, SourceFile, parse_source
from sessionlint.model.semantic import Model
from sessionlint.rule import Rule
from sessionlint.versions import TargetVersions

__all__ = [
    "MAX_ROUNDS",
    "STALE_AFTER_SECONDS",
    "DroppedFix",
    "FixOutcome",
    "FixResult",
    "fix_paths",
    "fix_source",
    "is_applied",
    "remove_stale_temporary_files",
    "unified_diff",
    "write_fixes",
]

#: The loop stops after this many rounds even if fixes are still offered (ruff does the same).
MAX_ROUNDS = 10

_BOM = b"\xef\xbb\xbf"


def is_applied(fix: Fix | None, *, unsafe: bool) -> bool:
    """Whether the fix loop applies ``fix`` (safe fixes; unsafe ones only with ``unsafe``)."""
    if fix is None or not fix.is_applicable:
        return False
    return fix.applicability is Applicability.SAFE or (
        unsafe and fix.applicability is Applicability.UNSAFE
    )


@dataclass(frozen=True)
class DroppedFix:
    """A fix the loop refused to apply, and why (its finding stays among the remaining)."""

    diagnostic: Diagnostic
    reason: str

    def describe(self) -> str:
        d = self.diagnostic
        return f"{d.path}:{d.line}:{d.column}: {d.code} fix not applied: {self.reason}"


@dataclass
class FixOutcome:
    """What the fix loop did to one file.

    ``original``/``output`` are bytes for files (and for bytes given to :func:`fix_source`),
    text otherwise; ``original_text``/``output_text`` are always the decoded text. ``fixed``
    are the findings whose fix was applied (positions as in the round they were fixed),
    ``remaining`` the findings of the final text. ``error`` says why a file was not written.
    """

    path: str
    original: str | bytes
    output: str | bytes
    original_text: str
    output_text: str
    fixed: list[Diagnostic] = field(default_factory=list)
    remaining: list[Diagnostic] = field(default_factory=list)
    dropped: list[DroppedFix] = field(default_factory=list)
    error: str | None = None
    #: The findings of the file as read (kept for a file that cannot be written).
    initial: list[Diagnostic] = field(default_factory=list, repr=False)
    #: The file's location on disk (None for :func:`fix_source`).
    file_path: Path | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        return self.output != self.original

    def diff(self) -> str:
        """The unified diff from the original to the fixed text ('' when unchanged)."""
        return unified_diff(self.path, self.original_text, self.output_text)


@dataclass
class FixResult:
    """A fix run over files: one outcome per file, and the remaining findings as a
    :class:`~sessionlint.api.LintResult` (what the reporters print)."""

    outcomes: list[FixOutcome]
    lint: api.LintResult

    @property
    def fixed_count(self) -> int:
        return sum(len(o.fixed) for o in self.outcomes)

    @property
    def changed(self) -> list[FixOutcome]:
        return [o for o in self.outcomes if o.changed]

    @property
    def errors(self) -> list[FixOutcome]:
        return [o for o in self.outcomes if o.error is not None]


def unified_diff(path: str, before: str, after: str) -> str:
    """A ``diff -u`` style patch of one file (``\\ No newline at end of file`` included)."""
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


# -- one round on one file ---------------------------------------------------------------------


class _Replacer(cst.CSTTransformer):
    """Replaces nodes by identity, in one pass; never descends into a replaced node."""

    def __init__(self, mapping: dict[cst.CSTNode, Replacement]) -> None:
        super().__init__()
        self.mapping = mapping
        self.hits = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node not in self.mapping

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> Replacement:
        new = self.mapping.get(original_node)
        if new is None:
            return updated_node
        self.hits += 1
        return new


def _same_new(a: Replacement, b: Replacement) -> bool:
    if a is b:
        return True
    if isinstance(a, cst.CSTNode) and isinstance(b, cst.CSTNode):
        return a.deep_equals(b)
    if isinstance(a, cst.FlattenSentinel) and isinstance(b, cst.FlattenSentinel):
        return len(a.nodes) == len(b.nodes) and all(
            x.deep_equals(y) for x, y in zip(a.nodes, b.nodes, strict=True)
        )
    return False


def _same_edit(a: Fix, b: Fix) -> bool:
    """The two fixes make the same change (two findings, one fix: e.g. one ``async def``)."""
    return (
        len(a.replacements) == len(b.replacements)
        and all(
            old_a is old_b and _same_new(new_a, new_b)
            for (old_a, new_a), (old_b, new_b) in zip(a.replacements, b.replacements, strict=True)
        )
        and set(a.imports) == set(b.imports)
    )


def _overlap(file: SourceFile, a: Fix, b: Fix) -> bool:
    index = file.index
    for old_a, _ in a.replacements:
        for old_b, _ in b.replacements:
            if old_a is old_b or index.is_inside(old_a, old_b) or index.is_inside(old_b, old_a):
                return True
    return False


def _compiles(text: str) -> bool:
    """Whether CPython compiles ``text`` (catches what parses but cannot run, such as
    ``await`` outside ``async def``); its warnings (invalid escapes...) are not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<sessionlint-fix>", "exec", dont_inherit=True)
        except Exception:  # SyntaxError, ValueError, RecursionError on absurd nesting...
            return False
    return True


@dataclass
class _Attempt:
    text: str | None = None
    module: cst.Module | None = None
    failure: str | None = None


def _attempt(file: SourceFile, fixes: Sequence[Fix], original_compiles: bool | None) -> _Attempt:
    """Apply ``fixes`` (non-overlapping) to ``file`` and check the result."""
    mapping: dict[cst.CSTNode, Replacement] = {}
    imports: list[tuple[str, str | None]] = []
    for fix in fixes:
        for old, new in fix.replacements:
            mapping[old] = new
        imports.extend(i for i in fix.imports if i not in imports)
    replacer = _Replacer(mapping)
    try:
        module = file.module.visit(replacer)
        if imports:
            # Imported here: libcst.codemod pulls in libcst.matchers (~0.4 s at start-up),
            # which only a run that adds an import needs.
            from libcst.codemod import CodemodContext
            from libcst.codemod.visitors import AddImportsVisitor

            context = CodemodContext()
            for module_name, name in imports:
                AddImportsVisitor.add_needed_import(context, module_name, name)
            module = AddImportsVisitor(context).transform_module(module)
        text = module.code
    except Exception as exc:  # a rule built a replacement LibCST cannot use
        return _Attempt(failure=f"the fix could not be applied ({type(exc).__name__}: {exc})")
    if replacer.hits != len(mapping):
        return _Attempt(failure="the code the fix replaces is not in the file")
    if text == file.text:
        return _Attempt(failure="the fix changes nothing")
    try:
        reparsed = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        reason = " ".join(exc.message.split()) or "invalid syntax"
        return _Attempt(failure=f"the fixed code does not parse (line {exc.raw_line}: {reason})")
    except Exception as exc:
        return _Attempt(failure=f"the fixed code does not parse ({type(exc).__name__}: {exc})")
    if original_compiles and not _compiles(text):
        return _Attempt(failure="the fixed code does not compile")
    if not _round_trips(text, file.encoding):
        return _Attempt(failure=f"the fixed code cannot be encoded as {file.encoding}")
    return _Attempt(text=text, module=reparsed)


@dataclass
class _Step:
    new: SourceFile | None = None
    fixed: list[Diagnostic] = field(default_factory=list)
    dropped: list[DroppedFix] = field(default_factory=list)


def _fix_round(file: SourceFile, diagnostics: Sequence[Diagnostic]) -> _Step:
    """Apply a non-overlapping set of the fixes of ``diagnostics`` (all applicable)."""
    index = file.index
    step = _Step()
    candidates: list[tuple[int, Diagnostic, Fix]] = []
    for d in diagnostics:
        fix = d.fix
        assert fix is not None
        if any(old not in index.order for old, _ in fix.replacements):
            step.dropped.append(DroppedFix(d, "the code the fix replaces is not in the file"))
            continue
        first = min(index.order[old] for old, _ in fix.replacements)
        candidates.append((first, d, fix))
    candidates.sort(key=lambda c: (c[0], c[1].sort_key))  # outermost (earliest) node first

    chosen: list[tuple[Diagnostic, Fix]] = []
    twins: list[tuple[Diagnostic, Fix]] = []  # (finding, the chosen fix it shares)
    for _, d, fix in candidates:
        twin = next((c for _, c in chosen if _same_edit(c, fix)), None)
        if twin is not None:
            twins.append((d, twin))
        elif not any(_overlap(file, c, fix) for _, c in chosen):
            chosen.append((d, fix))
        # else: overlaps a chosen fix; the next round re-lints and offers it again.
    if not chosen:
        return step

    compiles: bool | None = None

    def original_compiles() -> bool:
        nonlocal compiles
        if compiles is None:
            compiles = _compiles(file.text)
        return compiles

    result = _attempt(file, [f for _, f in chosen], original_compiles())
    applied = chosen
    if result.text is None:
        # Find the culprits: try each fix alone, keep the good ones.
        good: list[tuple[Diagnostic, Fix]] = []
        for d, fix in chosen:
            alone = _attempt(file, [fix], original_compiles()) if len(chosen) > 1 else result
            if alone.text is None:
                step.dropped.append(DroppedFix(d, alone.failure or "unknown failure"))
                step.dropped.extend(
                    DroppedFix(t, alone.failure or "unknown failure")
                    for t, twin in twins
                    if twin is fix
                )
            else:
                good.append((d, fix))
        applied = good
        result = _attempt(file, [f for _, f in good], original_compiles()) if good else _Attempt()
        if result.text is None and len(good) > 1:
            applied = good[:1]  # each works alone, not together: one now, the rest later
            result = _attempt(file, [good[0][1]], original_compiles())
        if result.text is None:
            return step
    assert result.text is not None and result.module is not None
    applied_fixes = [f for _, f in applied]
    step.fixed = [d for d, _ in applied] + [
        d for d, twin in twins if any(twin is f for f in applied_fixes)
    ]
    step.new = SourceFile(
        result.module,
        result.text,
        path=file.path,
        display_path=file.display_path,
        encoding=file.encoding,
        bom=file.bom,
    )
    return step


# -- the loop over a run -----------------------------------------------------------------------


@dataclass
class _State:
    """One file in the fix loop."""

    display: str
    path: Path | None
    original: str | bytes
    original_text: str
    source: SourceFile | ParseFailure
    project: Project | None
    versions: TargetVersions
    diagnostics: list[Diagnostic] = field(default_factory=list)
    initial: list[Diagnostic] = field(default_factory=list)
    errors: list[InternalError] = field(default_factory=list)
    fixed: list[Diagnostic] = field(default_factory=list)
    dropped: list[DroppedFix] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    stuck: bool = False

    def outcome(self) -> FixOutcome:
        text = self.source.text if isinstance(self.source, SourceFile) else self.original_text
        output: str | bytes
        if text == self.original_text:
            output = self.original
        elif isinstance(self.original, str):
            output = text
        else:
            assert isinstance(self.source, SourceFile)
            output = _encode(text, self.source.encoding, self.source.bom)
        return FixOutcome(
            path=self.display,
            original=self.original,
            output=output,
            original_text=self.original_text,
            output_text=text,
            fixed=list(self.fixed),
            remaining=list(self.diagnostics),
            dropped=list(self.dropped),
            initial=list(self.initial),
            file_path=self.path,
        )


def _round_trips(text: str, encoding: str) -> bool:
    """Whether ``text`` survives encoding as ``encoding`` and decoding back unchanged (some
    codecs a coding cookie may name, such as ``idna`` or ``punycode``, raise a plain
    ``UnicodeError`` or change the text)."""
    try:
        return text.encode(encoding).decode(encoding) == text
    except (UnicodeError, LookupError):
        return False


def _encode(text: str, encoding: str, bom: bool) -> bytes:
    data = text.encode(encoding)
    return _BOM + data if bom else data


def _unwritable(file: SourceFile) -> str | None:
    """Why no fix may rewrite ``file`` at all (None: it may be rewritten)."""
    if file.lossy:
        return f"the file holds bytes that are not valid {file.encoding}: it is never rewritten"
    if not _round_trips(file.text, file.encoding):
        return f"the file's encoding ({file.encoding}) cannot be written back faithfully"
    return None


def _wanted(d: Diagnostic, unsafe: bool, unfixable: Sequence[str]) -> bool:
    """The loop applies this finding's fix: applicable, and its code not ``unfixable``."""
    return is_applied(d.fix, unsafe=unsafe) and not any(d.code.startswith(u) for u in unfixable)


def _run_loop(
    states: list[_State],
    first_models: dict[int, Model],
    make_model: Callable[[Project], Model],
    cfg: Config,
    rules: Sequence[type[Rule]],
    unsafe: bool,
    unfixable: Sequence[str] = (),
) -> None:
    """Lint, fix, re-parse and re-lint every file until nothing changes (bounded).

    Fixes of codes starting with one of ``unfixable`` (``--unfixable``) are left alone."""
    models = dict(first_models)
    for state in states:
        if isinstance(state.source, SourceFile):
            state.seen.add(state.source.text)
    for round_no in range(MAX_ROUNDS + 1):
        # Lint every file against one consistent snapshot of the project.
        for state in states:
            model = models.get(id(state.project)) if state.project is not None else None
            state.diagnostics, state.errors = api._lint_one(
                state.source, state.display, state.path, model, state.versions, cfg, rules
            )
            if round_no == 0:
                state.initial = list(state.diagnostics)
        for state in states:
            if round_no == 0 and isinstance(state.source, SourceFile) and not state.stuck:
                reason = _unwritable(state.source)
                if reason is not None:
                    state.stuck = True
                    found = [d for d in state.diagnostics if _wanted(d, unsafe, unfixable)]
                    state.dropped = [DroppedFix(d, reason) for d in found]
        pending = [
            (state, [d for d in state.diagnostics if _wanted(d, unsafe, unfixable)])
            for state in states
            if isinstance(state.source, SourceFile) and not state.stuck
        ]
        pending = [(state, found) for state, found in pending if found]
        # What was dropped is reported as of the latest attempt (positions of the final text).
        for state in states:
            if not state.stuck:
                state.dropped = []
        if round_no == MAX_ROUNDS:
            for state, found in pending:
                reason = f"fixes did not converge after {MAX_ROUNDS} rounds"
                state.dropped = [DroppedFix(d, reason) for d in found]
            return
        changed: list[tuple[_State, SourceFile]] = []
        for state, found in pending:
            assert isinstance(state.source, SourceFile)
            step = _fix_round(state.source, found)
            state.dropped = list(step.dropped)
            if step.new is None:
                continue
            if step.new.text in state.seen:  # the fixes undo each other: stop here
                state.stuck = True
                reason = "the fixes of this file undo each other"
                state.dropped.extend(DroppedFix(d, reason) for d in found)
                continue
            state.seen.add(step.new.text)
            state.fixed.extend(step.fixed)
            changed.append((state, step.new))
        if not changed:
            return
        for state, new in changed:
            assert state.project is not None and isinstance(state.source, SourceFile)
            state.project.replace(state.source, new)
            state.source = new
        # Models cache facts about the old trees: a fresh one per project for the next round.
        models = {}
        for state in states:
            if state.project is not None and id(state.project) not in models:
                models[id(state.project)] = make_model(state.project)


# -- public API --------------------------------------------------------------------------------


def fix_source(
    source: str | bytes,
    path: str = "<string>",
    *,
    unsafe: bool = False,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    target_fastapi: str | None = None,
    target_sqlalchemy: str | None = None,
    config: Config | None = None,
    unfixable: Sequence[str] = (),
) -> FixOutcome:
    """Fix one module given as text (returns text) or bytes (returns bytes, same encoding).

    Like :func:`sessionlint.api.lint_source`, the module is its own project and ``path`` is
    only used for display and path-based decisions. Nothing is written.
    """
    cfg = api._make_config(config, select, ignore, target_fastapi, target_sqlalchemy)
    rules = api.selected_rules(cfg)
    parsed = parse_source(source, path=None, display_path=path)
    if isinstance(source, bytes):
        if isinstance(parsed, SourceFile):
            text = parsed.text
        else:
            text = source.decode("utf-8", errors="replace")
    else:
        text = source
    project = Project(None)
    model = api._model(project, cfg)
    if isinstance(parsed, SourceFile):
        project.add(parsed)
    versions = TargetVersions.of(cfg.target_fastapi, cfg.target_sqlalchemy, source="given")
    state = _State(
        display=path,
        path=Path(path) if path != "<string>" else None,
        original=source,
        original_text=text,
        source=parsed,
        project=project,
        versions=versions,
    )
    _run_loop(
        [state], {id(project): model}, lambda p: api._model(p, cfg), cfg, rules, unsafe, unfixable
    )
    outcome = state.outcome()
    for error in state.errors:
        outcome.remaining.append(api._internal_error_diagnostic(error))
    return outcome


@api.batch_run
def fix_paths(
    paths: Sequence[str | Path],
    *,
    unsafe: bool = False,
    write: bool = True,
    config: Config | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    target_fastapi: str | None = None,
    target_sqlalchemy: str | None = None,
    isolated: bool = False,
    unfixable: Sequence[str] = (),
) -> FixResult:
    """Fix files and directories (discovered like :func:`sessionlint.api.lint_paths`).

    All files of a run share their project and its model, so cross-module facts hold while
    fixing. With ``write=False`` nothing is written (``--diff``); otherwise each changed file
    is written atomically (see :func:`write_fixes`). Raises like ``lint_paths``.
    """
    run = api._prepare(paths, config, select, ignore, target_fastapi, target_sqlalchemy, isolated)
    given, cfg, rules, files, detector = run.given, run.config, run.rules, run.files, run.detector
    lint = api.LintResult(files_checked=len(files))

    projects: dict[Path, tuple[Project, Model]] = {}
    states: list[_State] = []
    for path in files:
        source, project, _, data = api._load_file(path, projects, cfg, given)
        versions = detector.for_path(path)
        if project is not None and project.root is not None:
            lint.versions.setdefault(str(project.root), versions)
        if isinstance(source, SourceFile):
            text = source.text
        else:
            text = data.decode("utf-8", errors="replace") if data is not None else ""
        states.append(
            _State(
                display=str(path),
                path=path,
                original=data if data is not None else b"",
                original_text=text,
                source=source,
                project=project,
                versions=versions,
            )
        )
    first_models = {id(project): model for project, model in projects.values()}
    _run_loop(states, first_models, lambda p: api._model(p, cfg), cfg, rules, unsafe, unfixable)

    outcomes = [state.outcome() for state in states]
    if write:
        write_fixes(outcomes)
    for state, outcome in zip(states, outcomes, strict=True):
        notice = api.not_analysed(state.display, state.source)
        if notice is not None:
            lint.notices.append(notice)
        lint.diagnostics.extend(outcome.remaining)
        lint.internal_errors.extend(state.errors)
    lint.diagnostics.sort(key=lambda d: d.sort_key)
    return FixResult(outcomes, lint)


def write_fixes(outcomes: Sequence[FixOutcome]) -> None:
    """Write each changed file atomically; a file that cannot be written keeps its content,
    gets ``error`` set, and its findings and fixes go back to what they were.

    Temporary files that an earlier run left behind (a run killed with SIGKILL) in the
    folders of the files of this run are removed first: only sessionlint's own, and only stale
    ones (see :func:`remove_stale_temporary_files`)."""
    folders: set[Path] = set()
    for outcome in outcomes:
        if outcome.file_path is not None:
            folders.add(Path(os.path.realpath(outcome.file_path)).parent)
    for folder in sorted(folders):
        remove_stale_temporary_files(folder)
    for outcome in outcomes:
        if not outcome.changed or outcome.file_path is None:
            continue
        assert isinstance(outcome.output, bytes) and isinstance(outcome.original, bytes)
        try:
            _write_atomic(outcome.file_path, outcome.output, outcome.original)
        except OSError as exc:
            detail = exc.strerror or str(exc)
            outcome.error = f"cannot write the fixed file: {detail}"
        except _NotWritten as exc:
            outcome.error = f"cannot write the fixed file: {exc}"
        else:
            continue
        outcome.output = outcome.original
        outcome.output_text = outcome.original_text
        outcome.remaining = list(outcome.initial)
        outcome.fixed = []


class _NotWritten(Exception):
    """The file is read-only, not ours to replace, or changed while it was being fixed."""


#: A temporary file of the fix loop: ``.<name>.sl<pid>-<random>.sessionlint`` (older versions
#: wrote ``.<name>.<random>.sessionlint``, without the writer's process id).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:sl(?P<pid>[0-9]+)-)?[a-z0-9_]{8}\.sessionlint$")

#: A temporary file whose writer may still be alive is stale after this long.
STALE_AFTER_SECONDS = 15 * 60


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temporary_files(folder: Path) -> list[Path]:
    """Remove the temporary files a killed fix run left in ``folder``; returns them.

    Only files named like ours (``.<name>.sl<pid>-<random>.sessionlint``) next to an existing
    ``<name>``, regular files (not links), whose writer process is gone, or which are older
    than :data:`STALE_AFTER_SECONDS` (a recycled process id, or a name without one)."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or not (folder / match["name"]).exists():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        pid = int(match["pid"]) if match["pid"] is not None else None
        old = now - info.st_mtime > STALE_AFTER_SECONDS
        dead = pid is not None and pid != os.getpid() and not _alive(pid)
        if old or dead:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
    )


def _digest(path: Path) -> tuple[os.stat_result, str]:
    """The file's status and the SHA-256 of its content, read through one descriptor."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _NotWritten("not a regular file")
        digest = hashlib.sha256(handle.read()).hexdigest()
    return info, digest


def _write_atomic(path: Path, data: bytes, expected: bytes) -> None:
    """Replace ``path``'s content with ``data`` via a temporary file in the same directory,
    keeping the file's owner, group and mode, setuid/setgid bits included (the target of a
    symbolic link is written, the link kept).

    Refused when the file is read-only, when the user may not write it (``os.access``), when
    its owner cannot be kept, or when its content is not ``expected`` any more. The file's
    identity (device, inode, size, modification time) and content hash are checked again
    just before the rename; an edit saved in the microseconds between that check and
    ``os.replace`` is the one window left (documented in docs/integrations.md)."""
    target = Path(os.path.realpath(path))
    info = target.stat()  # FileNotFoundError when it vanished
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise _NotWritten("the file is read-only")
    if not os.access(target, os.W_OK):
        raise _NotWritten("permission denied: you may not write this file")
    wanted = hashlib.sha256(expected).hexdigest()
    before, digest = _digest(target)
    if digest != wanted:
        raise _NotWritten("the file changed while it was being fixed")
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.sl{os.getpid()}-", suffix=".sessionlint", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if hasattr(os, "chown"):
            mine = os.stat(tmp)
            if (mine.st_uid, mine.st_gid) != (before.st_uid, before.st_gid):
                try:
                    os.chown(tmp, before.st_uid, before.st_gid)
                except OSError:
                    raise _NotWritten(
                        "its owner or group cannot be kept (the file is not yours)"
                    ) from None
        # After chown, which clears the setuid/setgid bits.
        os.chmod(tmp, stat.S_IMODE(before.st_mode))
        now, digest = _digest(target)
        if not _same_file(before, now) or digest != wanted:
            raise _NotWritten("the file changed while it was being fixed")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
