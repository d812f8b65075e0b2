"""The engine keeps going: a crashing rule is reported for its file, naming the rule."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.context import FileContext
from sessionlint.rule import Report
from sessionlint.rules.write_without_commit import WriteWithoutCommit

LEAKY = textwrap.dedent(
    """
    from sqlalchemy.orm import Session

    shared = Session()
    """
)


def _boom(self: object, ctx: FileContext) -> Iterator[Report]:
    raise RuntimeError("rule bug")
    yield  # pragma: no cover


def test_a_crashing_rule_is_reported_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(WriteWithoutCommit, "check", _boom)
    (tmp_path / "a.py").write_text(LEAKY)
    (tmp_path / "b.py").write_text(LEAKY)
    result = lint_paths([tmp_path], isolated=True)
    assert sorted((Path(d.path).name, d.code) for d in result.diagnostics) == [
        ("a.py", "SL101"),
        ("b.py", "SL101"),
    ]
    assert sorted((Path(e.path).name, e.code) for e in result.internal_errors) == [
        ("a.py", "SL201"),
        ("b.py", "SL201"),
    ]
    message = result.internal_errors[0].describe()
    assert "SL201" in message and "write-without-commit" in message and "rule bug" in message


def test_lint_source_reports_a_crash_as_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WriteWithoutCommit, "check", _boom)
    codes = [d.code for d in lint_source(LEAKY, "app/db.py")]
    assert codes == ["SL101", "SL000"]


def test_cli_exit_status_2_and_no_traceback_on_a_rule_crash(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(LEAKY)
    script = textwrap.dedent(
        """
        import sys
        from sessionlint.rules.write_without_commit import WriteWithoutCommit
        def boom(self, ctx):
            raise RuntimeError("rule bug")
        WriteWithoutCommit.check = boom
        from sessionlint.cli import run
        sys.argv = ["sessionlint", "check", "--isolated", sys.argv[1]]
        run()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "SL101" in done.stdout  # the other rules still reported
    assert "internal error in SL201 (write-without-commit)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_bug_outside_rules_is_one_line_exit_2(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import sessionlint.cli as cli
        def broken(*args, **kwargs):
            raise KeyError("reporter bug")
        cli.REPORTERS["text"] = broken
        sys.argv = ["sessionlint", "check", "--isolated", sys.argv[1]]
        cli.run()
        """
    )
    (tmp_path / "a.py").write_text("x = 1\n")
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "internal error: KeyError" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_pyproject_the_path_given_is_the_project_root(tmp_path: Path) -> None:
    """ "The project root is the nearest directory with pyproject.toml, else the path given":
    modules in sibling folders of a requirements.txt-only project still see each other."""
    tree = tmp_path / "svc"
    (tree / "app" / "db").mkdir(parents=True)
    (tree / "app" / "routers").mkdir(parents=True)
    (tree / "requirements.txt").write_text("fastapi>=0.115\nsqlalchemy>=2.0\n")
    (tree / "app" / "db" / "deps.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import create_engine
            from sqlalchemy.orm import sessionmaker

            SessionLocal = sessionmaker(bind=create_engine("postgresql://app@db/app"))


            def get_db():
                with SessionLocal() as db:
                    yield db
            """
        )
    )
    (tree / "app" / "routers" / "items.py").write_text(
        textwrap.dedent(
            """
            from fastapi import APIRouter, Depends
            from sqlalchemy import text

            from app.db.deps import get_db

            router = APIRouter()


            @router.get("/items")
            async def items(db=Depends(get_db)):
                return db.execute(text("SELECT 1")).all()
            """
        )
    )
    result = lint_paths([tree], isolated=True)
    assert [(Path(d.path).name, d.line, d.code) for d in result.diagnostics] == [
        ("items.py", 12, "SL301")
    ]
    assert list(result.versions) == [str(tree.resolve())]
