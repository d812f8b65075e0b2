"""Adopting on legacy code: `--add-noqa` and baselines, through the command line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sessionlint.api import lint_source
from sessionlint.cli import main

HEADER = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
app = FastAPI()
"""

LEGACY = (
    HEADER
    + """

def get_db():
    db = SessionLocal()
    yield db


shared = Session()  # noqa: E501


def report():
    return text(\"\"\"
        SELECT 1
    \"\"\")
"""
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(LEGACY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--no-source", *args])


def found(result: Result) -> list[str]:
    return [d["code"] for d in json.loads(result.stdout)]


# -- --add-noqa --------------------------------------------------------------------------------


def test_add_noqa_marks_each_line_merges_lists_and_is_idempotent(project: Path) -> None:
    main_py = project / "app" / "main.py"
    os.chmod(main_py, 0o640)
    assert sorted(found(run("--format", "json", "."))) == ["SL101", "SL102"]
    added = run("--add-noqa", ".")
    assert added.exit_code == 0, added.output
    assert "Added 2 noqa directives." in added.stdout
    text = main_py.read_text()
    assert "    yield db  # noqa: SL102\n" in text
    assert "shared = Session()  # noqa: E501, SL101\n" in text  # merged, other tool's code kept
    assert stat.S_IMODE(main_py.stat().st_mode) == 0o640
    compile(text, "main.py", "exec")
    assert found(run("--format", "json", ".")) == []
    again = run("--add-noqa", ".")
    assert "Added 0 noqa directives." in again.stdout
    assert main_py.read_text() == text


def test_add_noqa_keeps_crlf_line_endings(project: Path) -> None:
    main_py = project / "app" / "main.py"
    main_py.write_bytes(LEGACY.replace("\n", "\r\n").encode())
    assert run("--add-noqa", ".").exit_code == 0
    data = main_py.read_bytes()
    assert b"    yield db  # noqa: SL102\r\n" in data
    assert data.count(b"\r\n") == data.count(b"\n")


def test_a_line_ending_inside_a_string_is_not_marked(project: Path) -> None:
    source = (
        HEADER
        + "\n\n@app.get('/')\nasync def h(db: Session = Depends(SessionLocal)):\n"
        + '    return db.execute(text("""\n        SELECT 1\n    """))\n'
    )
    (finding,) = lint_source(source, "app/main.py")
    assert finding.code == "SL301"
    assert source.splitlines()[finding.line - 1].endswith('text("""')  # opens the string
    (project / "app" / "main.py").write_text(source)
    result = run("--add-noqa", ".")
    assert result.exit_code == 0
    assert (project / "app" / "main.py").read_text() == source  # a comment would enter SQL
    assert f"app/main.py:{finding.line}: SL301: no noqa comment added" in result.stderr.replace(
        "\\", "/"
    )
    assert "Added 0 noqa directives." in result.stdout


# -- baselines ---------------------------------------------------------------------------------


def test_a_baseline_survives_lines_inserted_above_and_catches_new_findings(
    project: Path,
) -> None:
    written = run("--write-baseline", "baseline.json", ".")
    assert written.exit_code == 0, written.output
    data = json.loads((project / "baseline.json").read_text())
    assert [e["code"] for e in data["findings"]] == ["SL101", "SL102"]
    assert {e["path"] for e in data["findings"]} == {"app/main.py"}
    assert run("--baseline", "baseline.json", ".").exit_code == 0

    main_py = project / "app" / "main.py"
    shifted = LEGACY.replace(HEADER, HEADER + "\n# a comment\nCONSTANT = 1\n\n")
    main_py.write_text(shifted)
    assert found(run("--format", "json", "--baseline", "baseline.json", ".")) == []

    # a second leaking dependency (the same line, another function) is new
    main_py.write_text(shifted + "\n\ndef get_other_db():\n    db = SessionLocal()\n    yield db\n")
    new = run("--format", "json", "--baseline", "baseline.json", ".")
    assert new.exit_code == 1
    assert [(d["code"], d["line"]) for d in json.loads(new.stdout)] == [
        ("SL102", shifted.count("\n") + 5)
    ]


def test_identical_findings_in_one_function_are_counted(project: Path) -> None:
    body = "\n\ndef get_db():\n    db = SessionLocal()\n    yield db\n"
    (project / "app" / "main.py").write_text(HEADER + body)
    run("--write-baseline", "b.json", ".")
    (project / "app" / "other.py").write_text(HEADER + body)  # another file: new
    result = run("--format", "json", "--baseline", "b.json", ".")
    assert [Path(d["path"]).name for d in json.loads(result.stdout)] == ["other.py"]


def test_a_bad_baseline_is_one_line_and_exit_2(project: Path) -> None:
    (project / "b.json").write_text("[1, 2]")
    result = run("--baseline", "b.json", ".")
    assert result.exit_code == 2
    assert "not a sessionlint baseline" in result.stderr
    missing = run("--baseline", "nope.json", ".")
    assert missing.exit_code == 2 and "baseline file not found" in missing.stderr
