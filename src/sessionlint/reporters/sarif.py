"""``--format sarif``: a SARIF 2.1.0 log that GitHub code scanning accepts.

One run; ``tool.driver.rules`` lists every registered rule (its docstring is the help text),
and every result points into it by ``ruleId`` and ``ruleIndex``. Locations are relative POSIX
URIs against ``%SRCROOT%``: the current directory, or the deepest folder holding every
reported file when some lie outside it (never ``../``), declared in ``originalUriBaseIds``.
One ``invocations`` entry carries the exit status. Regions use 1-based lines and columns
counted in Unicode code points (``columnKind: unicodeCodePoints``), with the end column
exclusive, as in the JSON output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import sessionlint
from sessionlint.diagnostics import Diagnostic, Severity

if TYPE_CHECKING:
    from sessionlint.reporters import ReportContext
    from sessionlint.rule import Rule

__all__ = ["INFORMATION_URI", "SARIF_SCHEMA", "SARIF_VERSION", "build_log", "render"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/sessionlint/sessionlint"
TAGS = ("sessionlint", "fastapi", "sqlalchemy")
#: The key of our own partial fingerprint (GitHub adds its ``primaryLocationLineHash``).
FINGERPRINT_KEY = "sessionlint/v1"

_SECTION = re.compile(r"^##\s+What it does\s*$(.*?)(?=^##\s|\Z)", re.MULTILINE | re.DOTALL)


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def rule_doc(rule: type[Rule]) -> str:
    """The rule's docs page (its docstring, dedented)."""
    import inspect

    return inspect.cleandoc(rule.__doc__ or "")


def _full_description(rule: type[Rule], doc: str) -> str:
    """The "What it does" section as one paragraph of text, else the summary."""
    match = _SECTION.search(doc)
    if match:
        text = " ".join(match.group(1).split())
        if text:
            return text
    return rule.summary


def _descriptor(rule: type[Rule]) -> dict[str, Any]:
    doc = rule_doc(rule)
    level = _level(rule.severity)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _full_description(rule, doc)},
        "helpUri": rule.url(),
        "help": {"text": doc or rule.summary, "markdown": doc or rule.summary},
        "defaultConfiguration": {"level": level},
        "properties": {
            "tags": list(TAGS),
            "precision": "high",
            "problem.severity": level,
        },
    }


def _fallback_descriptor(d: Diagnostic) -> dict[str, Any]:
    """A descriptor for a finding whose code no registered rule has."""
    level = _level(d.severity)
    descriptor: dict[str, Any] = {
        "id": d.code,
        "name": d.name,
        "shortDescription": {"text": d.name},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": list(TAGS), "precision": "high", "problem.severity": level},
    }
    if d.url:
        descriptor["helpUri"] = d.url
    return descriptor


def source_root(paths: Sequence[str]) -> Path:
    """``%SRCROOT%``: the current directory, or, when some file lies outside it, the deepest
    folder that holds every reported file (so no URI starts with ``../``)."""
    cwd = Path.cwd()
    folders = [Path(os.path.abspath(p)).parent for p in paths]
    if all(f == cwd or cwd in f.parents for f in folders):
        return cwd
    return Path(os.path.commonpath([cwd, *folders]))


def artifact_location(path: str, root: Path | None = None) -> dict[str, str]:
    """``path`` as a SARIF artifactLocation relative to ``%SRCROOT%`` (``root``, by default
    the current directory); an absolute ``file:`` URI when it is not below it."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(root if root is not None else Path.cwd())
    except ValueError:
        return {"uri": absolute.as_uri()}
    posix = relative.as_posix()  # backslashes on Windows -> "/"
    return {"uri": quote(posix, safe="/"), "uriBaseId": "%SRCROOT%"}


def _region(d: Diagnostic) -> dict[str, int]:
    start_line = max(d.line, 1)
    start_column = max(d.column, 1)
    region = {"startLine": start_line, "startColumn": start_column}
    if d.end_line > start_line or (d.end_line == start_line and d.end_column >= start_column):
        region["endLine"] = d.end_line
        region["endColumn"] = max(d.end_column, 1)
    return region


def _fingerprint(d: Diagnostic, line_text: str, occurrence: int) -> str:
    key = "\0".join((d.path.replace(os.sep, "/"), d.code, line_text.strip()))
    return f"{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}:{occurrence}"


def build_log(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> dict[str, Any]:
    """The SARIF log as plain JSON data."""
    rules = ctx.rules
    if rules is None:
        from sessionlint.registry import ALL_RULES

        rules = ALL_RULES
    descriptors = [_descriptor(rule) for rule in rules]
    root = source_root([d.path for d in diagnostics])
    index = {rule.code: i for i, rule in enumerate(rules)}
    seen: dict[tuple[str, str, str], int] = {}
    results: list[dict[str, Any]] = []
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        if d.code not in index:
            index[d.code] = len(descriptors)
            descriptors.append(_fallback_descriptor(d))
        line_text = ctx.read_line(d.path, d.line) if d.line >= 1 else None
        key = (d.path, d.code, (line_text or "").strip())
        seen[key] = seen.get(key, 0) + 1
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": _level(d.severity),
                "message": {"text": d.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": artifact_location(d.path, root),
                            "region": _region(d),
                        }
                    }
                ],
                "partialFingerprints": {
                    FINGERPRINT_KEY: _fingerprint(d, line_text or "", seen[key]),
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sessionlint",
                        "version": sessionlint.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": ctx.exit_code in (0, 1),
                        "exitCode": ctx.exit_code,
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(diagnostics: Sequence[Diagnostic], ctx: ReportContext) -> None:
    ctx.out.write(json.dumps(build_log(diagnostics, ctx), indent=2) + "\n")
