"""``--format json``: the machine-readable contract (see the spec's "Output contract").

A JSON array, indented by two spaces, one object per finding (``Diagnostic.to_dict()``),
sorted by path, line, column and code; ``[]`` when there is nothing to report. Non-ASCII text
is escaped, so the output is plain ASCII whatever the encoding of the stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from sessionlint.reporters import ReportContext

__all__ = ["render"]


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> None:
    findings = [d.to_dict() for d in sorted(diagnostics, key=lambda d: d.sort_key)]
    ctx.out.write(json.dumps(findings, indent=2) + "\n")
