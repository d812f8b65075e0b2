"""Parse once, index once, run the selected rules, turn reports into diagnostics.

Positions are the one expensive LibCST metadata we use, and only for files that have
findings: a rule reports a node, and the engine resolves ``PositionProvider`` for that file
once, after all rules ran. The tree is wrapped without a copy so the reported nodes are the
ones the positions are keyed by.
"""

from __future__ import annotations

import io
import re
import tokenize
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Diagnostic, Fix
from sessionlint.model.project import ParseFailure, SourceFile
from sessionlint.model.semantic import Model
from sessionlint.rule import Report, Rule
from sessionlint.versions import TargetVersions

__all__ = ["InternalError", "check_file", "parse_failure_diagnostic"]

PARSE_ERROR_CODE = "SL001"

#: Nodes whose first line may carry the ``noqa`` of what is reported inside them.
_STATEMENT_LIKE = (
    cst.SimpleStatementLine,
    cst.BaseCompoundStatement,
    cst.Decorator,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
)

_NOQA = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|sessionlint:\s*ignore\[(?P<ignored>[^\]]*)\])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class InternalError:
    """A rule crashed on a file: reported for that file, and the run goes on."""

    path: str
    code: str
    name: str
    error: str
    detail: str = field(default="", compare=False)

    def describe(self) -> str:
        return f"{self.path}: internal error in {self.code} ({self.name}): {self.error}"


def parse_failure_diagnostic(path: str, failure: ParseFailure) -> Diagnostic:
    from sessionlint.registry import RULES_BY_CODE

    rule = RULES_BY_CODE[PARSE_ERROR_CODE]
    return Diagnostic(
        path=path,
        line=failure.line,
        column=failure.column,
        end_line=failure.line,
        end_column=failure.column,
        code=rule.code,
        name=rule.name,
        severity=rule.severity,
        message=failure.reason,
        url=rule.url(),
    )


def check_file(
    file: SourceFile,
    model: Model,
    versions: TargetVersions,
    rules: Sequence[type[Rule]],
    *,
    noqa: bool = True,
    silenced: list[Diagnostic] | None = None,
) -> tuple[list[Diagnostic], list[InternalError]]:
    """Run ``rules`` on one parsed file. Never raises for anything in the user's code.

    ``noqa=False`` leaves ``# noqa`` comments to the caller (flake8 applies them itself);
    ``# sessionlint: ignore[...]`` comments are always honoured. The findings a ``# noqa``
    silenced are added to ``silenced`` when it is given (the cache keeps them for flake8).
    """
    ctx = FileContext(file, model, versions)
    reports: list[tuple[type[Rule], Report]] = []
    errors: list[InternalError] = []
    for rule in rules:
        try:
            if rule.request_time_harm and not model.is_application_code(file):
                continue  # test code, migrations and scripts (see Model.code_kind)
            reports.extend((rule, report) for report in rule().check(ctx))
        except Exception as exc:  # one rule's bug must not stop the run
            errors.append(
                InternalError(
                    file.display_path,
                    rule.code,
                    rule.name,
                    f"{type(exc).__name__}: {exc}",
                    traceback.format_exc(),
                )
            )
    if not reports:
        return [], errors
    positions = MetadataWrapper(file.module, unsafe_skip_copy=True).resolve(PositionProvider)
    seen: set[tuple[int, str]] = set()
    diagnostics: list[Diagnostic] = []
    comments = _comments(file)
    for rule, report in reports:
        where: CodeRange | None = positions.get(report.node)
        if where is None:
            continue
        line = where.start.line
        if (line, rule.code) in seen:
            continue  # one finding per (file, line, code)
        seen.add((line, rule.code))
        lines = (line, _statement_line(file, report.node, positions))
        if _suppressed(comments, rule.code, lines, noqa=False):
            continue
        kept = diagnostics
        if noqa and _suppressed(comments, rule.code, lines):
            if silenced is None:
                continue
            kept = silenced
        kept.append(
            Diagnostic(
                path=file.display_path,
                line=line,
                column=where.start.column + 1,
                end_line=where.end.line,
                end_column=where.end.column + 1,
                code=rule.code,
                name=rule.name,
                severity=report.severity or rule.severity,
                message=report.message,
                url=rule.url(),
                fix=report.fix or _suggestion(rule),
            )
        )
    diagnostics.sort(key=lambda d: d.sort_key)
    return diagnostics, errors


def _suggestion(rule: type[Rule]) -> Fix | None:
    if rule.suggestion is None:
        return None
    return Fix(Applicability.DISPLAY_ONLY, rule.suggestion)


def _statement_line(file: SourceFile, node: cst.CSTNode, positions: object) -> int | None:
    """The first line of the statement holding ``node`` (``noqa`` may sit there).

    A decorator and an ``except`` clause count as statements of their own: a comment on the
    ``def`` or ``try`` line does not silence what is reported on them."""
    for anc in (node, *file.index.ancestors(node)):
        if isinstance(anc, _STATEMENT_LIKE):
            where = positions.get(anc)  # type: ignore[attr-defined]
            return where.start.line if where is not None else None
    return None


def _comments(file: SourceFile) -> dict[int, str]:
    """Line -> the comment on it. Only real comments count: ``"# noqa"`` inside a string
    does not. When the tokenizer rejects what LibCST accepted (syntax newer than the running
    Python), every line that holds a ``#`` is taken as it is."""
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(file.text).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        return {n: text for n, text in enumerate(file.lines, start=1) if "#" in text}
    return comments


def _suppressed(
    comments: Mapping[int, str], code: str, lines: tuple[int, int | None], *, noqa: bool = True
) -> bool:
    """Whether a comment on one of ``lines`` silences ``code``.

    ``# noqa`` silences everything; ``# noqa: SL101,SL3`` and ``# sessionlint: ignore[SL101]``
    silence the codes listed and, like flake8, the codes that start with one of them. Other
    tools' codes in the same list (``# noqa: E501, SL101``) silence nothing of ours.
    """
    for line in lines:
        text = comments.get(line) if line is not None else None
        if text is None:
            continue
        for match in _NOQA.finditer(text):
            if match.group("ignored") is not None:
                listed = match.group("ignored")
            elif not noqa:
                continue
            elif match.group("codes") is None:
                return True  # a bare noqa, or one whose codes are not valid codes
            else:
                listed = match.group("codes")
            codes = {c.upper() for c in re.split(r"[\s,]+", listed) if c}
            if any(code.startswith(c) for c in codes):
                return True
    return False
