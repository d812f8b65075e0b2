"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=app.py,line=3,col=5,endLine=3,endColumn=9,title=SL101 shared-session::message``
(``::warning`` for warnings). Escaping follows the Actions runner: ``%``, ``\\r`` and ``\\n`` in
the message; additionally ``:`` and ``,`` in property values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionlint.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from sessionlint.reporters import ReportContext

__all__ = ["escape_data", "escape_property", "format_annotation", "render"]


def escape_data(value: str) -> str:
    """Escape a workflow command's message."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _posix(path: str) -> str:
    return path.replace(os.sep, "/") if os.sep != "/" else path


def format_annotation(diagnostic: Diagnostic) -> str:
    """One workflow command line (without the newline)."""
    d = diagnostic
    command = "error" if d.severity is Severity.ERROR else "warning"
    line = max(d.line, 1)
    column = max(d.column, 1)
    props = [f"file={escape_property(_posix(d.path))}", f"line={line}", f"col={column}"]
    if d.end_line >= line:
        props.append(f"endLine={d.end_line}")
        if d.end_line > line or d.end_column >= column:
            props.append(f"endColumn={max(d.end_column, 1)}")
    props.append(f"title={escape_property(f'{d.code} {d.name}')}")
    return f"::{command} {','.join(props)}::{escape_data(d.message)}"


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> None:
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        ctx.out.write(format_annotation(d) + "\n")
