"""Output formats: every reporter renders a list of findings onto a text stream.

All reporters share one signature (:data:`Renderer`): they take the findings, in any order, and
a :class:`ReportContext` that says where to write and what the CLI decided (colour, source
lines, statistics...). Reporters never read the file system themselves: source lines come from
``ReportContext.read_line``, so tests and the API can supply them from memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from sessionlint.diagnostics import Diagnostic

# The submodules import ReportContext for type checking only: no import cycle at run time.
from sessionlint.reporters import github, json, sarif, text

if TYPE_CHECKING:  # reporting cached findings must not import the rules (and LibCST)
    from sessionlint.rule import Rule

__all__ = ["REPORTERS", "Renderer", "ReportContext"]


@dataclass(frozen=True)
class ReportContext:
    """Everything a reporter needs besides the findings."""

    out: TextIO
    #: ``False`` when not a terminal or ``NO_COLOR`` is set (the CLI decides).
    color: bool
    #: ``(path, 1-based line) -> that source line without its newline``, or ``None``.
    read_line: Callable[[str, int], str | None]
    #: The rules SARIF lists (None: every registered rule, imported only when needed).
    rules: Sequence[type[Rule]] | None
    files_checked: int = 0
    show_source: bool = True
    #: ``--statistics``: counts per code instead of the findings.
    statistics: bool = False
    #: ``--quiet``: the text format prints only the findings, no summary.
    quiet: bool = False
    #: ``--unsafe-fixes`` is on: unsafe fixes count as fixable.
    unsafe_fixes: bool = False
    #: ``--fix`` fixed this many findings (the findings given are the remaining ones).
    fixed: int = 0
    #: The exit status the run ends with (SARIF's ``invocations``).
    exit_code: int = 0


Renderer = Callable[[Sequence[Diagnostic], ReportContext], None]

REPORTERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json.render,
    "sarif": sarif.render,
    "github": github.render,
}
