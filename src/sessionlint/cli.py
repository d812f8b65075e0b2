"""The command line: a thin layer over :mod:`sessionlint.api` and the reporters.

Exit status: 0 no findings, 1 findings, 2 usage or configuration error or an internal failure.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from rich.console import Console

from sessionlint import __version__
from sessionlint.api import LintResult, lint_file_in_project, lint_paths
from sessionlint.config import Config, ConfigError, load_config
from sessionlint.files import UsageError, is_excluded
from sessionlint.reporters import REPORTERS, ReportContext
from sessionlint.reporters.statistics import render_json as statistics_json
from sessionlint.reporters.text import is_fixable

if TYPE_CHECKING:
    # The fix loop and the rules are imported where they are used: a check answered from the
    # findings cache imports neither LibCST nor the semantic model (docs/performance.md).
    from sessionlint.fixes import FixResult

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split(values: Sequence[str]) -> list[str] | None:
    """``--select SL1,SL2 --select SL3`` -> ['SL1', 'SL2', 'SL3']; nothing -> None."""
    items = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return items or None


class _LineReader:
    """Source lines for the text reporter, read once per file."""

    def __init__(self) -> None:
        self._cache: dict[str, list[str] | None] = {}

    def add(self, path: str, text: str) -> None:
        self._cache[path] = text.splitlines()

    def __call__(self, path: str, line: int) -> str | None:
        if path not in self._cache:
            try:
                data = Path(path).read_bytes()
                from sessionlint.model.guard import decode_source

                self._cache[path] = decode_source(data)[0].splitlines()
            except (OSError, SyntaxError, UnicodeDecodeError, LookupError):
                self._cache[path] = None
        lines = self._cache[path]
        if lines is None or not 0 < line <= len(lines):
            return None
        return lines[line - 1]


def _use_color(stream: TextIO, choice: str = "auto") -> bool:
    """``--color``: ``always``/``never`` win; ``auto`` honours NO_COLOR, FORCE_COLOR and
    whether ``stream`` is a terminal."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _fail(message: str) -> None:
    click.echo(f"sessionlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


#: ``--cache-dir`` of ``check`` and ``clean`` (an unusable folder: the run goes on uncached).
_cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, readable=False),
    envvar="SESSIONLINT_CACHE_DIR",
    help="The findings cache folder (default: .sessionlint_cache at the project root; "
    "env SESSIONLINT_CACHE_DIR).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="sessionlint")
def main() -> None:
    """sessionlint: finds database-session misuse in FastAPI + SQLAlchemy / SQLModel code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--output-format",
    "--format",
    "output_format",
    type=click.Choice(sorted(REPORTERS)),
    default="text",
    show_default=True,
    help="Output format (`--format` is the same option).",
)
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (comma-separated).")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option(
    "--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition."
)
@click.option(
    "--extend-ignore", multiple=True, help="Rule codes or prefixes to disable (as --ignore)."
)
@click.option(
    "--per-file-ignores",
    multiple=True,
    metavar="PATTERN:CODES",
    help="Ignore CODES (comma-separated) in files matching PATTERN, on top of the "
    "configuration's (for example `tests/*:SL101,SL104`).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Patterns to exclude, replacing the configuration's `exclude` (comma-separated).",
)
@click.option(
    "--extend-exclude",
    multiple=True,
    metavar="PATTERN",
    help="Patterns to exclude in addition to the configured ones (comma-separated).",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),  # checked by load_config: one clear line, exit 2
    help="Read the configuration from this file.",
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--target-fastapi", metavar="VERSION", help="The FastAPI version to assume.")
@click.option("--target-sqlalchemy", metavar="VERSION", help="The SQLAlchemy version to assume.")
@click.option("--statistics", is_flag=True, help="Show counts per rule instead of findings.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings only, no summary.")
@click.option(
    "-o",
    "--output-file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to this file instead of standard output.",
)
@click.option("--no-source", is_flag=True, help="Do not show the source line of each finding.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the text output (auto: on a terminal, unless NO_COLOR is set).",
)
@click.option("-v", "--verbose", is_flag=True, help="Say which versions were assumed and why.")
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="With `-` as the path (or no path): lint standard input as if it were this file.",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply the exclude patterns to files named on the command line too (pre-commit).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that check files (default: the usable cores; --fix runs in one).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the findings cache.")
@_cache_dir_option
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what remains.")
@click.option(
    "--fix-only",
    is_flag=True,
    help="Apply the fixes (as --fix) but do not report the remaining findings; exit 0.",
)
@click.option(
    "--unfixable",
    multiple=True,
    metavar="CODES",
    help="Rule codes or prefixes whose fixes are never applied (comma-separated).",
)
@click.option(
    "--add-noqa",
    is_flag=True,
    help="Append `# noqa: SLxxx` to every reported line (merged with existing noqa lists).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Report only the findings that are not in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the current findings to this baseline file and exit 0.",
)
@click.option(
    "--show-fixes",
    is_flag=True,
    help="List the fixes applied by --fix (or that --fix would apply), per file.",
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="Also apply unsafe fixes (with --fix or --diff) and count them as fixable.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print a unified diff of what --fix would change and write nothing "
    "(exit 1 when there is a diff).",
)
def check(
    paths: tuple[str, ...],
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    extend_ignore: tuple[str, ...],
    per_file_ignores: tuple[str, ...],
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    exit_zero: bool,
    config_file: Path | None,
    isolated: bool,
    target_fastapi: str | None,
    target_sqlalchemy: str | None,
    statistics: bool,
    quiet: bool,
    output_file: Path | None,
    no_source: bool,
    color: str,
    verbose: bool,
    stdin_filename: str | None,
    force_exclude: bool,
    jobs: int | None,
    no_cache: bool,
    cache_dir: Path | None,
    fix: bool,
    fix_only: bool,
    unfixable: tuple[str, ...],
    add_noqa: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    show_fixes: bool,
    unsafe_fixes: bool,
    diff: bool,
) -> None:
    """Check PATHS (files or directories; default: the current directory; `-`: standard input)."""
    given = list(paths) or (["-"] if stdin_filename else ["."])
    missing = [p for p in given if p != "-" and not os.path.lexists(p)]
    for path in missing:  # like ruff: say so, check the others, exit 2 at the end
        click.echo(f"sessionlint: error: {path}: No such file or directory", err=True)
    given = [p for p in given if p not in missing]
    if not given:
        sys.exit(EXIT_ERROR)
    fix = fix or fix_only
    if (add_noqa or write_baseline) and (fix or diff):
        _fail("--add-noqa and --write-baseline cannot be combined with --fix or --diff")
    reader = _LineReader()
    try:
        where = [stdin_filename] if given == ["-"] and stdin_filename else given
        config = _load(where, config_file, isolated).merged(
            select=_split(select),
            ignore=_split(ignore),
            extend_select=_split(extend_select),
            extend_ignore=_split(extend_ignore),
            per_file_ignores=_per_file_ignores(per_file_ignores),
            exclude=_split(exclude),
            extend_exclude=_split(extend_exclude),
            target_fastapi=target_fastapi,
            target_sqlalchemy=target_sqlalchemy,
        )
        fixing: FixRun | None = None
        if fix or diff:
            fixing = _fix(
                given,
                config,
                stdin_filename,
                force_exclude,
                unsafe_fixes,
                write=not diff,
                unfixable=_split(unfixable) or (),
            )
            result = fixing.result.lint
        else:
            with _progress_bar(not quiet and _is_terminal(sys.stderr)) as progress:
                cache = _CacheChoice(not no_cache and not verbose, cache_dir)
                result = _lint(
                    given, config, stdin_filename, force_exclude, reader, progress, jobs, cache
                )
    except (ConfigError, UsageError, ValueError) as exc:
        _fail(str(exc))
        return
    if fixing is not None:
        for outcome in fixing.result.outcomes:
            reader.add(outcome.path, outcome.output_text)
        if diff or fixing.stdin:
            code = _print_fixes(fixing, output_file, diff=diff, exit_zero=exit_zero or fix_only)
            sys.exit(EXIT_ERROR if missing else code)
    if verbose:
        _print_versions(result)
    if add_noqa or write_baseline is not None:
        sys.exit(_adopt(result, reader, add_noqa, write_baseline, missing=bool(missing)))
    if baseline is not None:
        from sessionlint.adopt import BaselineError, apply_baseline

        try:
            result.diagnostics = apply_baseline(baseline, result.diagnostics, reader)
        except BaselineError as exc:
            _fail(str(exc))
    with ExitStack() as stack:
        out: TextIO = sys.stdout
        if output_file is not None:
            out = stack.enter_context(output_file.open("w", encoding="utf-8", newline="\n"))
        fixed = fixing.result.fixed_count if fixing is not None else 0
        ctx = ReportContext(
            out=out,
            color=output_file is None and _use_color(sys.stdout, color),
            read_line=reader,
            rules=None,
            files_checked=result.files_checked,
            show_source=not no_source,
            statistics=statistics,
            quiet=quiet,
            unsafe_fixes=unsafe_fixes,
            fixed=fixed if output_format == "text" else 0,
            exit_code=_final_code(result, fixing, exit_zero or fix_only, missing=bool(missing)),
        )
        if show_fixes:
            _show_fixes(fixing.result if fixing is not None else None, result, ctx)
        if fix_only:
            if fixed and not quiet:
                click.echo(f"Fixed {_plural(fixed, 'finding')}.", file=out)
        elif statistics and output_format == "json":
            statistics_json(result.diagnostics, ctx)
        elif statistics:
            REPORTERS["text"](result.diagnostics, ctx)
        else:
            REPORTERS[output_format](result.diagnostics, ctx)
        if fixing is not None:
            _report_fixed(fixing.result, None if output_format == "text" else sys.stderr, quiet)
    for notice in result.notices:
        click.echo(f"sessionlint: warning: {notice}", err=True)
    for error in result.internal_errors:
        click.echo(f"sessionlint: {error.describe()}", err=True)
    sys.exit(_final_code(result, fixing, exit_zero or fix_only, missing=bool(missing)))


def _final_code(
    result: LintResult, fixing: FixRun | None, exit_zero: bool, *, missing: bool
) -> int:
    if (fixing is not None and fixing.result.errors) or missing:
        return EXIT_ERROR
    return _exit_code(result, exit_zero)


def _adopt(
    result: LintResult,
    reader: _LineReader,
    add_noqa: bool,
    write_baseline: Path | None,
    *,
    missing: bool,
) -> int:
    """``--add-noqa`` / ``--write-baseline``: mark or record the findings, exit 0 (2 when a
    file could not be written, a path was missing or a rule failed)."""
    status = EXIT_ERROR if missing or result.internal_errors else EXIT_CLEAN
    for error in result.internal_errors:
        click.echo(f"sessionlint: {error.describe()}", err=True)
    from sessionlint.adopt import add_noqa as add_noqa_comments
    from sessionlint.adopt import write_baseline as write_baselines

    if write_baseline is not None:
        count = write_baselines(write_baseline, result.diagnostics, reader)
        click.echo(f"Wrote {_plural(count, 'finding')} to {write_baseline}.")
        return status
    from sessionlint.fixes import FixOutcome, _encode, write_fixes
    from sessionlint.model.guard import decode_source

    originals: dict[str, tuple[bytes, str, str, bool]] = {}

    def read_text(path: str) -> str:
        data = Path(path).read_bytes()
        text, encoding, bom = decode_source(data)
        originals[path] = (data, text, encoding, bom)
        return text

    marked = add_noqa_comments(result.diagnostics, read_text)
    outcomes = []
    for path, text in marked.texts.items():
        data, old, encoding, bom = originals[path]
        outcome = FixOutcome(path, data, _encode(text, encoding, bom), old, text)
        outcome.file_path = Path(path)
        outcomes.append(outcome)
    write_fixes(outcomes)
    for outcome in outcomes:
        if outcome.error is not None:
            click.echo(f"sessionlint: error: {outcome.path}: {outcome.error}", err=True)
            status = EXIT_ERROR
    for d in marked.skipped:
        click.echo(
            f"sessionlint: warning: {d.path}:{d.line}: {d.code}: no noqa comment added "
            "(the line ends inside a string or continues with a backslash)",
            err=True,
        )
    click.echo(f"Added {_plural(marked.added, 'noqa directive')}.")
    return status


def _per_file_ignores(values: Sequence[str]) -> list[tuple[str, list[str]]] | None:
    """``--per-file-ignores 'tests/*:SL101,SL104'`` -> [('tests/*', ['SL101', 'SL104'])]."""
    pairs: list[tuple[str, list[str]]] = []
    for value in values:
        pattern, sep, codes = value.rpartition(":")
        if not sep or not pattern.strip():
            raise ConfigError(
                f"--per-file-ignores: expected PATTERN:CODES (for example tests/*:SL101), "
                f"got {value!r}"
            )
        pairs.append((pattern.strip(), [c.strip() for c in codes.split(",") if c.strip()]))
    return pairs or None


def _show_fixes(fixed: FixResult | None, result: LintResult, ctx: ReportContext) -> None:
    """``--show-fixes``: per file, the fixes applied (``--fix``) or that ``--fix`` would apply."""
    counts: dict[str, Counter[tuple[str, str]]] = {}
    if fixed is not None:
        for outcome in fixed.outcomes:
            for d in outcome.fixed:
                counts.setdefault(outcome.path, Counter())[(d.code, d.name)] += 1
        title = "Fixed"
    else:
        for d in result.diagnostics:
            if is_fixable(d, ctx.unsafe_fixes):
                counts.setdefault(d.path, Counter())[(d.code, d.name)] += 1
        title = "Would fix with `--fix`"
    total = sum(sum(c.values()) for c in counts.values())
    if not total:
        click.echo("No fixes " + ("applied." if fixed is not None else "available."), file=ctx.out)
        return
    click.echo(f"{title} {_plural(total, 'finding')}:", file=ctx.out)
    for path in sorted(counts):
        click.echo(f"- {path}:", file=ctx.out)
        for (code, name), count in sorted(counts[path].items()):
            click.echo(f"    {count} \u00d7 {code} ({name})", file=ctx.out)


# -- --fix / --unsafe-fixes / --diff ---------------------------------------------------------


@dataclass
class FixRun:
    result: FixResult
    #: Standard input was fixed: the fixed code goes to standard output.
    stdin: bool = False


def _fix(
    given: list[str],
    config: Config,
    stdin_filename: str | None,
    force_exclude: bool,
    unsafe: bool,
    *,
    write: bool,
    unfixable: Sequence[str] = (),
) -> FixRun:
    """Run the fix loop over the command line's paths (or standard input, as a module of its
    own). With ``write`` the fixed files are written; a file that cannot be written gets an
    error in its outcome and the others are still fixed."""
    from sessionlint.fixes import FixOutcome, FixResult, fix_paths, fix_source

    paths = _inputs(given, config, force_exclude)
    if paths is None:
        name = stdin_filename or "-"
        data = sys.stdin.buffer.read()
        if _stdin_excluded(config, stdin_filename, force_exclude):
            text = data.decode("utf-8", errors="replace")
            outcome = FixOutcome(name, data, data, text, text)
        else:
            outcome = fix_source(data, name, unsafe=unsafe, config=config, unfixable=unfixable)
        lint = LintResult(diagnostics=list(outcome.remaining), files_checked=1)
        return FixRun(FixResult([outcome], lint), stdin=True)
    if not paths:
        return FixRun(FixResult([], LintResult()))
    return FixRun(fix_paths(paths, config=config, unsafe=unsafe, write=write, unfixable=unfixable))


def _inputs(given: list[str], config: Config, force_exclude: bool) -> list[str] | None:
    """The paths to work on (``--force-exclude`` applied), or None for standard input."""
    if "-" in given and given != ["-"]:
        raise UsageError("`-` (standard input) cannot be combined with other paths")
    if given == ["-"]:
        return None
    if force_exclude:
        return [p for p in given if not is_excluded(Path(p), config)]
    return given


def _stdin_excluded(config: Config, stdin_filename: str | None, force_exclude: bool) -> bool:
    return bool(force_exclude and stdin_filename and is_excluded(Path(stdin_filename), config))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _report_problems(result: FixResult) -> None:
    for outcome in result.outcomes:
        for dropped in outcome.dropped:
            click.echo(f"sessionlint: warning: {dropped.describe()}", err=True)
        if outcome.error is not None:
            click.echo(f"sessionlint: error: {outcome.path}: {outcome.error}", err=True)


def _report_fixed(result: FixResult, out: TextIO | None, quiet: bool) -> None:
    """After ``--fix``: how many findings were fixed, on ``out`` (standard error for the
    machine formats; the text format's summary already says it: ``out`` is None), then the
    fixes that could not be applied."""
    fixed = result.fixed_count
    if fixed and not quiet and out is not None:
        files = len([o for o in result.outcomes if o.fixed])
        click.echo(f"Fixed {_plural(fixed, 'finding')} in {_plural(files, 'file')}.", file=out)
    _report_problems(result)


def _print_fixes(run: FixRun, output_file: Path | None, *, diff: bool, exit_zero: bool) -> int:
    """``--diff``: the unified diff (exit 1 when there is one); ``--fix`` on standard input:
    the fixed code on standard output (as bytes, in the input's encoding), the remaining
    findings on standard error."""
    result = run.result
    if diff:
        text = "".join(outcome.diff() for outcome in result.outcomes)
        if output_file is not None:
            output_file.write_text(text, encoding="utf-8", newline="")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    else:
        (outcome,) = result.outcomes
        data = outcome.output
        payload = data if isinstance(data, bytes) else data.encode("utf-8")
        if output_file is not None:
            output_file.write_bytes(payload)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(payload)
            sys.stdout.buffer.flush()
    if diff:
        count = sum(len(o.fixed) for o in result.changed)
        if count:
            click.echo(f"Would fix {_plural(count, 'finding')}.", err=True)
    else:
        for d in result.lint.diagnostics:
            click.echo(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}", err=True)
    _report_problems(result)
    for notice in result.lint.notices:
        click.echo(f"sessionlint: warning: {notice}", err=True)
    for error in result.lint.internal_errors:
        click.echo(f"sessionlint: {error.describe()}", err=True)
    if result.lint.internal_errors or result.errors:
        return EXIT_ERROR
    found = bool(result.changed) if diff else bool(result.lint.diagnostics)
    return EXIT_FINDINGS if found and not exit_zero else EXIT_CLEAN


def _load(given: list[str], config_file: Path | None, isolated: bool) -> Config:
    return load_config(Path(given[0]), config_file=config_file, isolated=isolated)


def _exit_code(result: LintResult, exit_zero: bool) -> int:
    if result.internal_errors:
        return EXIT_ERROR
    if result.diagnostics and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _print_versions(result: LintResult) -> None:
    for root, versions in sorted(result.versions.items()):
        click.echo(f"sessionlint: project {root}:", err=True)
        for line in versions.describe().splitlines():
            click.echo(f"  {line}", err=True)
        if root in result.uses_fastapi:
            click.echo(f"  {versions.describe_runtime(result.uses_fastapi[root])}", err=True)
        kinds = result.code_kinds.get(root)
        if kinds:
            counts = ", ".join(f"{kinds[k]} {k}" for k in ("app", "test", "migration", "script"))
            click.echo(f"  Files checked: {counts} (request-time rules skip all but app)", err=True)


# -- standard input, --force-exclude, the progress bar --------------------------------------

#: A progress bar is shown on stderr when more files than this are checked (and stderr is a
#: terminal).
PROGRESS_MIN_FILES = 20

Progress = Callable[[int, int], None]


def _is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A ``progress(done, total)`` callback drawing a transient rich bar on stderr once the
    run turns out to have more than :data:`PROGRESS_MIN_FILES` files; ``None`` if disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: list[TaskID] = []

    def update(done: int, total: int) -> None:
        # Each file counts two steps (see lint_paths): all are read, then all are checked.
        files = total // 2
        if files <= PROGRESS_MIN_FILES:
            return
        if not tasks:
            bar.start()
            tasks.append(bar.add_task("Reading", total=files))
        phase = "Reading" if done <= files else "Checking"
        bar.update(tasks[0], description=phase, completed=done if done <= files else done - files)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _lint(
    given: list[str],
    config: Config,
    stdin_filename: str | None,
    force_exclude: bool,
    reader: _LineReader,
    progress: Progress | None,
    jobs: int | None = None,
    cache: _CacheChoice | None = None,
) -> LintResult:
    """Lint the command line's paths, or standard input when the path is ``-``."""
    paths = _inputs(given, config, force_exclude)
    if paths is None:
        if _stdin_excluded(config, stdin_filename, force_exclude):
            return LintResult()
        return _lint_stdin(config, stdin_filename, reader)
    if not paths:
        return LintResult()
    use = cache is not None and cache.use
    where = cache.directory if cache is not None else None
    return lint_paths(
        paths, config=config, progress=progress, jobs=jobs, use_cache=use, cache_dir=where
    )


@dataclass(frozen=True)
class _CacheChoice:
    """``--no-cache`` / ``--cache-dir``: whether the run reads and writes the cache, and
    where (``-v`` runs bypass it: the versions they print come from a real run)."""

    use: bool
    directory: Path | None


def _lint_stdin(config: Config, stdin_filename: str | None, reader: _LineReader) -> LintResult:
    from sessionlint.model.guard import decode_source

    name = stdin_filename or "-"
    data = sys.stdin.buffer.read()
    with suppress(SyntaxError, UnicodeDecodeError, LookupError):  # SL001 reports it
        reader.add(name, decode_source(data)[0])
    return lint_file_in_project(name, data, config=config)


# -- sessionlint rules / sessionlint explain ---------------------------------------------------


@main.command("rules")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable too.")
@click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="Read this configuration."
)
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
def rules_command(
    output_format: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    config_file: Path | None,
    isolated: bool,
) -> None:
    """List the rules: code, name, severity, fix, and whether the configuration enables them.

    The configuration is the one `sessionlint check` would use in the current directory.
    """
    try:
        config = _load(["."], config_file, isolated).merged(
            select=_split(select), ignore=_split(ignore), extend_select=_split(extend_select)
        )
    except (ConfigError, ValueError) as exc:
        _fail(str(exc))
        return
    from sessionlint.registry import ALL_RULES

    rows = [
        {
            "code": rule.code,
            "name": rule.name,
            "summary": rule.summary,
            "severity": rule.severity.value,
            "fix": rule.fix_applicability.value if rule.fix_applicability is not None else None,
            "enabled": config.is_selected(rule.code, default_enabled=rule.default_enabled),
            "default_enabled": rule.default_enabled,
            "url": rule.url(),
        }
        for rule in ALL_RULES
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("Code", "Name", "Severity", "Fix", "Enabled"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["code"]),
            str(row["name"]),
            str(row["severity"]),
            str(row["fix"] or "-"),
            "yes" if row["enabled"] else "no",
            style=None if row["enabled"] else "dim",
        )
    console = _stdout_console()
    console.print(table)
    console.print(
        "\nFix: safe: applied by --fix. unsafe: applied with --fix --unsafe-fixes (it may "
        "change behaviour; review it). display-only: a suggestion shown on the finding's help "
        "line, never applied (the right change depends on code sessionlint cannot see).",
        soft_wrap=True,
    )


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Show the documentation of the rule CODE (for example SL101)."""
    from rich.markdown import Markdown

    from sessionlint.docgen import rule_page
    from sessionlint.registry import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.strip().upper())
    if rule is None:
        _fail(f"unknown rule code {code!r}; `sessionlint rules` lists them")
        return
    page = rule_page(rule)
    if not _is_terminal(sys.stdout):  # piped or redirected: the Markdown page, links as text
        click.echo(page, nl=False)
        return
    _stdout_console().print(Markdown(page))


@main.command()
@_cache_dir_option
def clean(cache_dir: Path | None) -> None:
    """Remove the findings cache."""
    from sessionlint.cache import cache_dir_for
    from sessionlint.cache import clean as remove
    from sessionlint.files import find_project_root

    directory = cache_dir_for(find_project_root(Path.cwd()), cache_dir)
    if remove(directory):
        click.echo(f"Removed {directory}")
    else:
        click.echo(f"No sessionlint cache at {directory}")


@main.command()
def server() -> None:
    """Run the language server (LSP over standard input/output) for editors.

    Needs the `lsp` extra: `pip install "sessionlint[lsp]"` (pygls). See docs/editors.md.
    """
    try:
        from sessionlint.server import main as serve
    except ImportError as exc:
        _fail(f"the language server needs pygls ({exc}): install `sessionlint[lsp]`")
        return
    sys.exit(serve())


def _stdout_console() -> Console:
    return Console(
        no_color=not _use_color(sys.stdout), highlight=False, emoji=False, soft_wrap=False
    )


def run() -> None:
    """The console entry point: ``main`` with a last guard, so that a bug in sessionlint
    itself ends with one line and exit status 2, never a traceback or status 1."""
    try:
        main()
    except Exception as exc:  # click handles its own errors; anything else is our bug
        click.echo(
            f"sessionlint: internal error: {type(exc).__name__}: {exc} "
            "(please report it; set SESSIONLINT_DEBUG=1 for the traceback)",
            err=True,
        )
        if os.environ.get("SESSIONLINT_DEBUG"):
            raise
        sys.exit(EXIT_ERROR)
