"""The ruff-style flags of `sessionlint check`, through the command line (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sessionlint.cli import main

LEAKY = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    yield db
"""

SHARED = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

shared = Session(create_engine("sqlite://"))
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "deps.py").write_text(LEAKY)
    (app / "state.py").write_text(SHARED)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--no-source", *args])


def codes(result: Result) -> list[tuple[str, str]]:
    return sorted((Path(d["path"]).name, d["code"]) for d in json.loads(result.stdout))


def test_output_format_is_the_same_option_as_format(project: Path) -> None:
    assert run("--output-format", "json", ".").stdout == run("--format", "json", ".").stdout
    assert codes(run("--output-format", "json", ".")) == [
        ("deps.py", "SL102"),
        ("state.py", "SL101"),
    ]


def test_exclude_and_extend_exclude(project: Path) -> None:
    assert codes(run("--format", "json", "--extend-exclude", "app/state.py", ".")) == [
        ("deps.py", "SL102")
    ]
    assert codes(run("--format", "json", "--exclude", "deps.py", ".")) == [("state.py", "SL101")]


def test_extend_ignore_and_per_file_ignores(project: Path) -> None:
    assert codes(run("--format", "json", "--extend-ignore", "SL102", ".")) == [
        ("state.py", "SL101")
    ]
    ignored = run("--format", "json", "--per-file-ignores", "app/state.py:SL101,SL102", ".")
    assert codes(ignored) == [("deps.py", "SL102")]
    bad = run("--per-file-ignores", "SL101", ".")
    assert bad.exit_code == 2
    assert "expected PATTERN:CODES" in bad.stderr


def test_a_missing_path_is_reported_and_the_others_are_checked(project: Path) -> None:
    result = run("--format", "json", "nowhere.py", "app/deps.py")
    assert result.exit_code == 2
    assert "sessionlint: error: nowhere.py: No such file or directory" in result.stderr
    assert codes(result) == [("deps.py", "SL102")]
    only_missing = run("nowhere.py")
    assert only_missing.exit_code == 2 and only_missing.stdout == ""


def test_statistics_in_json(project: Path) -> None:
    result = run("--statistics", "--format", "json", ".")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows == [
        {"code": "SL101", "name": "shared-session", "count": 1, "fixable_count": 0},
        {"code": "SL102", "name": "dependency-without-cleanup", "count": 1, "fixable_count": 1},
    ]


@pytest.mark.parametrize("fmt", ["text", "github", "sarif"])
def test_statistics_in_the_other_formats_is_the_table(project: Path, fmt: str) -> None:
    result = run("--statistics", "--format", fmt, ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["1", "SL102"] and "[*]" in line for line in lines)
    assert any(line.split()[:2] == ["1", "SL101"] and "[ ]" in line for line in lines)


def test_color(project: Path) -> None:
    assert "\x1b[" in run("--color", "always", ".").stdout
    assert "\x1b[" not in run("--color", "never", ".").stdout


def test_fix_only_fixes_and_reports_nothing_else(project: Path) -> None:
    result = run("--fix-only", ".")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Fixed 1 finding.\n"
    assert "finally:\n        db.close()" in (project / "app" / "deps.py").read_text()


def test_unfixable_keeps_a_fix_from_being_applied(project: Path) -> None:
    result = run("--fix", "--unfixable", "SL1", ".")
    assert result.exit_code == 1
    assert (project / "app" / "deps.py").read_text() == LEAKY
    assert "SL102" in result.stdout


def test_show_fixes(project: Path) -> None:
    preview = run("--show-fixes", ".")
    assert "Would fix with `--fix` 1 finding:\n- app/deps.py:\n    1 \u00d7 SL102" in (
        preview.stdout.replace("\\", "/")
    )
    assert (project / "app" / "deps.py").read_text() == LEAKY
    fixed = run("--fix", "--show-fixes", ".")
    assert "Fixed 1 finding:\n- " in fixed.stdout
    assert "1 \u00d7 SL102 (dependency-without-cleanup)" in fixed.stdout
    assert "Found 2 findings (1 fixed, 1 remaining: 1 error in 1 file)." in fixed.stdout


def test_a_sessionlint_toml_is_found_from_the_checked_path(project: Path) -> None:
    (project / "sessionlint.toml").write_text('ignore = ["SL101"]\n')
    assert codes(run("--format", "json", "app")) == [("deps.py", "SL102")]
