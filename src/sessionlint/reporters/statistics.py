"""``--statistics``: how many findings each rule made, and how many ``--fix`` would fix.

The text format prints a table (``reporters.text``); ``--format json`` prints a JSON array with
one object per code, most frequent first: ``{"code", "name", "count", "fixable_count"}``. The
other formats have no statistics form of their own and print the text table, as ruff does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sessionlint.diagnostics import Diagnostic
from sessionlint.reporters.text import is_fixable

if TYPE_CHECKING:
    from sessionlint.reporters import ReportContext

__all__ = ["render_json", "rows"]


def rows(diagnostics: Sequence[Diagnostic], unsafe_fixes: bool) -> list[dict[str, Any]]:
    """One row per code: most findings first, then by code."""
    by_code: dict[str, list[Diagnostic]] = {}
    for d in diagnostics:
        by_code.setdefault(d.code, []).append(d)
    ordered = sorted(by_code.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "code": code,
            "name": group[0].name,
            "count": len(group),
            "fixable_count": sum(1 for d in group if is_fixable(d, unsafe_fixes)),
        }
        for code, group in ordered
    ]


def render_json(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> None:
    ctx.out.write(json.dumps(rows(diagnostics, ctx.unsafe_fixes), indent=2) + "\n")
