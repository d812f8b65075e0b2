"""Suppression comments: ``# noqa``, ``# noqa: SL101``, ``# sessionlint: ignore[SL101]``.

A comment silences a finding when it sits on the reported line or on the first line of the
statement that holds it (a multi-line call or assignment). Every case is checked against the
same code without the comment, so a test cannot pass because the rule stopped firing.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from sessionlint.api import lint_file_in_project, lint_source
from sessionlint.engine import _statement_line
from sessionlint.model.project import SourceFile, parse_source

SHARED = "from sqlalchemy.orm import Session\n\nsession = Session(){comment}\n"

BLOCKING = """\
from sqlalchemy import text
from sqlalchemy.orm import Session


async def handler(db: Session):
    return db.execute(text("select 1")){comment}
"""

MULTILINE = """\
from sqlalchemy import text
from sqlalchemy.orm import Session


async def handler(db: Session):
    rows = ({first}
        db.execute(text("select 1"))
    ){last}
    return rows
"""


def findings(source: str) -> list[tuple[str, int]]:
    return [(d.code, d.line) for d in lint_source(source, "app/example.py")]


def test_the_findings_exist_without_comments() -> None:
    assert findings(SHARED.format(comment="")) == [("SL101", 3)]
    assert findings(BLOCKING.format(comment="")) == [("SL301", 6)]
    assert findings(MULTILINE.format(first="", last="")) == [("SL301", 7)]


@pytest.mark.parametrize(
    "comment",
    [
        "  # noqa: SL101",
        "  # noqa",
        "  # NOQA",
        "  # noqa:SL101,SL301",
        "  # noqa: SL301, SL101",
        "  #noqa:SL101",
        "  # noqa: SL1",  # a prefix, as in flake8
        "  # sessionlint: ignore[SL101]",
        "  # sessionlint: ignore[SL301, SL101]",
        "  # type: ignore  # noqa: SL101",
        "  # noqa: this is fine",  # no valid code after the colon: a bare noqa (as in flake8)
        # Other tools' codes next to ours (one comment shared with flake8 and ruff).
        "  # noqa: E501, SL101",
        "  # noqa:E501 SL101",
        "  # noqa: B008, PLR0913, SL101",
        "  # noqa: SLF001, SL101",
        "  # sessionlint: ignore[E501, SL101]",
    ],
)
def test_comment_on_the_reported_line_silences(comment: str) -> None:
    assert findings(SHARED.format(comment=comment)) == []


@pytest.mark.parametrize(
    "comment",
    [
        "  # noqa: SL301",
        "  # noqa: SL1010",
        "  # noqa: E501",
        "  # noqa: E501, W291",
        "  # noqa: SLF001",  # ruff's flake8-self, not a prefix of ours
        "  # noqa: S101",
        "  # sessionlint: ignore[SL301]",
        "  # sessionlint: ignore[]",
        "  # sessionlint: ignore",
        "  # sessionlint ignore[SL101]",
    ],
)
def test_comment_for_other_codes_does_not_silence(comment: str) -> None:
    assert findings(SHARED.format(comment=comment)) == [("SL101", 3)]


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    source = "from sqlalchemy.orm import Session\n\nsession = Session(info={'why': '# noqa'})\n"
    assert findings(source) == [("SL101", 3)]


def test_noqa_on_another_line_does_not_silence() -> None:
    source = "from sqlalchemy.orm import Session\n\n# noqa: SL101\nsession = Session()\n"
    assert findings(source) == [("SL101", 4)]


@pytest.mark.parametrize(
    "comment",
    ["  # noqa: SL301", "  # noqa", "  # noqa:SL101,SL301", "  # sessionlint: ignore[SL301]"],
)
def test_second_rule_is_silenced_by_its_code(comment: str) -> None:
    assert findings(BLOCKING.format(comment=comment)) == []


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("  # noqa: SL301", "", []),
        ("  # sessionlint: ignore[SL301]", "", []),
        ("  # noqa", "", []),
        ("  # noqa: SL101", "", [("SL301", 7)]),
        # The closing line is neither the reported line nor the statement's first line.
        ("", "  # noqa: SL301", [("SL301", 7)]),
    ],
)
def test_multiline_statement_first_line(
    first: str, last: str, expected: list[tuple[str, int]]
) -> None:
    assert findings(MULTILINE.format(first=first, last=last)) == expected


def test_statement_line_of_reported_nodes() -> None:
    """The "first line of the enclosing statement" that may carry the comment: a decorator
    and an ``except`` clause count as statements of their own, so a comment on the ``def``
    or the ``try`` line does not silence what is reported on them."""
    source = """\
@router.get(
    "/items",
    dependencies=[Depends(check)],
)
def handler():
    try:
        rows = (
            load()
        )
    except (
        ValueError
    ):
        pass
"""
    file = parse_source(source, path=None, display_path="app/x.py")
    assert isinstance(file, SourceFile)
    positions = MetadataWrapper(file.module, unsafe_skip_copy=True).resolve(PositionProvider)
    calls = {
        cst.ensure_type(c.func, cst.Name).value: c
        for c in file.index.nodes(cst.Call)
        if isinstance(c.func, cst.Name)
    }
    handler = file.index.nodes(cst.ExceptHandler)[0]
    assert _statement_line(file, calls["Depends"], positions) == 1
    assert _statement_line(file, calls["load"], positions) == 7
    assert _statement_line(file, handler, positions) == 10
    assert _statement_line(file, handler.type, positions) == 10  # type: ignore[arg-type]


def test_flake8_mode_leaves_noqa_to_flake8(tmp_path: Path) -> None:
    """``noqa=False`` (the flake8 plugin): flake8 applies ``# noqa`` itself, so the API
    reports those findings; ``# sessionlint: ignore[...]``, which flake8 does not know, is
    still honoured."""
    path = tmp_path / "app" / "db.py"
    path.parent.mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    for comment, in_flake8, in_cli in [
        ("  # noqa: SL101", [("SL101", 3)], []),
        ("  # noqa", [("SL101", 3)], []),
        ("  # sessionlint: ignore[SL101]", [], []),
        ("  # sessionlint: ignore[SL301]", [("SL101", 3)], [("SL101", 3)]),
    ]:
        source = SHARED.format(comment=comment)
        path.write_text(source, encoding="utf-8")
        flake8_mode = lint_file_in_project(path, source, noqa=False)
        assert [(d.code, d.line) for d in flake8_mode.diagnostics] == in_flake8, comment
        cli_mode = lint_file_in_project(path, source)
        assert [(d.code, d.line) for d in cli_mode.diagnostics] == in_cli, comment
