"""``--format text`` (the default): ruff-style findings for people, rendered with rich.

Each finding is ``path:line:col: SL101 [*] message``; with ``show_source`` the source line and
a caret follow, then the fix's help text::

    app/db.py:3:11: SL101 [*] Session created at module scope is shared by all requests
      |
    3 | session = SessionLocal()
      |           ^^^^^^^^^^^^^^ SL101
      |
      = help: Create the session in a dependency

then a summary (``Found 3 errors and 1 warning in 2 files.`` / ``All checks passed!``) and, when
some findings are fixable, ruff's hint about ``--fix`` and ``--unsafe-fixes``.

User text (paths, messages, source) never goes through rich markup or emoji parsing: it is
appended to :class:`rich.text.Text` objects verbatim, so ``session[0]`` or ``:memo:`` print as
written. Without colour the console has no colour system at all, so no escape code is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from sessionlint.diagnostics import Applicability, Diagnostic, Severity

if TYPE_CHECKING:
    from sessionlint.reporters import ReportContext

__all__ = ["is_fixable", "is_hidden_fix", "make_console", "render", "summary_lines"]

#: Findings of these codes are about the file itself (parse errors): no source is shown.
NO_SOURCE_CODES = frozenset({"SL001"})
TAB = "    "

_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow"}
_GUTTER = "bold blue"


def make_console(ctx: ReportContext) -> Console:
    """A console on ``ctx.out`` that never wraps and writes no ANSI code unless ``ctx.color``."""
    return Console(
        file=ctx.out,
        force_terminal=ctx.color,
        force_jupyter=False,
        force_interactive=False,
        no_color=not ctx.color,
        color_system="standard" if ctx.color else None,  # only basic colours are used
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        legacy_windows=False,
    )


def is_fixable(diagnostic: Diagnostic, unsafe_fixes: bool) -> bool:
    """Whether ``--fix`` (with ``--unsafe-fixes`` when ``unsafe_fixes``) would apply the fix."""
    fix = diagnostic.fix
    if fix is None or not fix.is_applicable:
        return False
    return fix.applicability is Applicability.SAFE or unsafe_fixes


def is_hidden_fix(diagnostic: Diagnostic, unsafe_fixes: bool) -> bool:
    """An unsafe fix that only ``--unsafe-fixes`` would apply."""
    fix = diagnostic.fix
    return (
        not unsafe_fixes
        and fix is not None
        and fix.is_applicable
        and fix.applicability is Applicability.UNSAFE
    )


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _sanitize(text: str) -> str:
    """Tabs to spaces, line breaks to a space, other control characters to U+FFFD.

    Every other character keeps its width, so carets stay aligned and no control sequence
    from a user's file reaches the terminal.
    """
    out = []
    for char in text:
        if char == "\t":
            out.append(TAB)
        elif char in "\n\r\x0b\x0c":
            out.append(" ")
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


def _header(d: Diagnostic, ctx: ReportContext) -> Text:
    text = Text()
    text.append(_sanitize(d.path), style="bold")
    text.append(f":{d.line}:{d.column}: ")
    text.append(d.code, style=_SEVERITY_STYLE[d.severity])
    if is_fixable(d, ctx.unsafe_fixes):
        text.append(" ")
        text.append("[*]", style="cyan")
    text.append(" ")
    text.append(_sanitize(d.message))
    return text


def _caret_span(d: Diagnostic, line: str) -> tuple[int, int]:
    """(cells before the caret, caret width) for ``line`` as displayed."""
    start = max(d.column, 1) - 1
    prefix = _sanitize(line[:start])
    offset = cell_len(prefix) + max(start - len(line), 0)
    if d.end_line == d.line and d.end_column > d.column:
        covered = line[start : d.end_column - 1]
        width = cell_len(_sanitize(covered)) + max(d.end_column - 1 - max(len(line), start), 0)
    elif d.end_line > d.line:
        width = cell_len(_sanitize(line[start:].rstrip()))
    else:
        width = 1
    return offset, max(width, 1)


def _snippet(d: Diagnostic, ctx: ReportContext) -> list[Text]:
    lines: list[Text] = []
    gutter = len(str(d.line))
    blank = " " * gutter
    source = None
    if d.code not in NO_SOURCE_CODES and d.line >= 1:
        source = ctx.read_line(d.path, d.line)
    if source is not None:
        offset, width = _caret_span(d, source)
        lines.append(Text(f"{blank} |", style=_GUTTER))
        row = Text()
        row.append(f"{d.line} | ", style=_GUTTER)
        row.append(_sanitize(source))
        lines.append(row)
        caret = Text()
        caret.append(f"{blank} | ", style=_GUTTER)
        caret.append(" " * offset)
        caret.append("^" * width + " " + d.code, style=_SEVERITY_STYLE[d.severity])
        lines.append(caret)
        lines.append(Text(f"{blank} |", style=_GUTTER))
    if d.fix is not None and d.fix.message:
        help_line = Text()
        help_line.append(f"{blank} = ", style=_GUTTER)
        help_line.append("help", style="bold cyan")
        help_line.append(": " + _sanitize(d.fix.message))
        lines.append(help_line)
    return lines


def summary_lines(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> list[str]:
    """The closing lines: counts, then the fix hint (plain text, no styling)."""
    if not diagnostics:
        if ctx.fixed:
            return [f"Found {_plural(ctx.fixed, 'finding')} ({ctx.fixed} fixed, 0 remaining)."]
        return ["All checks passed!"]
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    parts = []
    if errors:
        parts.append(_plural(errors, "error"))
    if warnings:
        parts.append(_plural(warnings, "warning"))
    files = len({d.path for d in diagnostics})
    lines = [f"Found {' and '.join(parts)} in {_plural(files, 'file')}."]
    if ctx.fixed:
        total = len(diagnostics) + ctx.fixed
        lines = [
            f"Found {_plural(total, 'finding')} ({ctx.fixed} fixed, {len(diagnostics)} "
            f"remaining: {' and '.join(parts)} in {_plural(files, 'file')})."
        ]
    fixable = sum(1 for d in diagnostics if is_fixable(d, ctx.unsafe_fixes))
    hidden = sum(1 for d in diagnostics if is_hidden_fix(d, ctx.unsafe_fixes))
    hidden_hint = (
        f"{_plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with the "
        "`--unsafe-fixes` option"
    )
    if fixable and hidden:
        lines.append(f"[*] {fixable} fixable with the `--fix` option ({hidden_hint}).")
    elif fixable:
        lines.append(f"[*] {fixable} fixable with the `--fix` option.")
    elif hidden:
        what = "for the remaining findings " if ctx.fixed else ""
        lines.append(f"No fixes available {what}({hidden_hint}).")
    return lines


def _statistics(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> list[Text]:
    counts = Counter(d.code for d in diagnostics)
    by_code: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_code.setdefault(d.code, []).append(d)
    width = max(3, *(len(str(n)) for n in counts.values()))
    code_width = max(len(code) for code in counts)
    rows: list[Text] = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        group = by_code[code]
        severity = (
            Severity.ERROR if any(d.severity is Severity.ERROR for d in group) else Severity.WARNING
        )
        fixable = any(is_fixable(d, ctx.unsafe_fixes) for d in group)
        row = Text(f"{count:>{width}}  ")
        row.append(code.ljust(code_width), style=_SEVERITY_STYLE[severity])
        row.append("  ")
        row.append("[*]" if fixable else "[ ]", style="cyan" if fixable else "")
        row.append(" " + _sanitize(group[0].name))
        rows.append(row)
    return rows


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> None:
    console = make_console(ctx)
    ordered = sorted(diagnostics, key=lambda d: d.sort_key)
    separate = False
    if ctx.statistics:
        if ordered:
            for row in _statistics(ordered, ctx):
                console.print(row)
    else:
        for d in ordered:
            if separate:
                console.print()
            console.print(_header(d, ctx))
            if ctx.show_source:
                for line in _snippet(d, ctx):
                    console.print(line)
                separate = True  # a blank line between blocks, none at the very end
    if ctx.quiet:
        return
    if separate:
        console.print()
    lines = summary_lines(ordered, ctx)
    if not ordered:
        console.print(Text(lines[0], style="bold green"))
        return
    console.print(Text(lines[0]))
    for hint in lines[1:]:
        console.print(Text(hint, style="bold" if hint.startswith("[*]") else ""))
