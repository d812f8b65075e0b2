"""Cross-module behaviour of the async rules (SL302-SL305) that single-file fixtures cannot show."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sessionlint.api import lint_paths, lint_source

PROJECT = Path(__file__).resolve().parent / "fixtures" / "projects" / "async_app"


def _found(paths: list[Path], code: str) -> set[tuple[str, int]]:
    result = lint_paths(paths, select=[code])
    assert not result.internal_errors
    return {(Path(d.path).name, d.line) for d in result.diagnostics}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_sl305_finds_remove_in_a_module_outside_the_run() -> None:
    # only db.py is linted: the remove() of ScopedSession lives in middleware.py, which
    # mentions neither Depends nor the registry's module directly (it imports an alias)
    assert _found([PROJECT / "app" / "db.py"], "SL305") == {("db.py", 22)}


def test_sl302_resolves_the_dependency_when_only_the_routes_are_linted() -> None:
    assert _found([PROJECT / "app" / "routes.py"], "SL302") == {
        ("routes.py", 19),
        ("routes.py", 26),
        ("routes.py", 33),
    }


def test_sl305_silent_without_fastapi(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "worker"\n',
            "worker/db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.orm import scoped_session, sessionmaker

                Session = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
            """,
        },
    )
    assert _found([tmp_path], "SL305") == set()


def test_sl305_fastapi_imported_elsewhere_in_the_project(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "api"\n',
            "api/db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.orm import scoped_session, sessionmaker

                Session = scoped_session(sessionmaker(bind=create_engine("sqlite://")))
            """,
            "api/main.py": """
                from fastapi import Depends, FastAPI

                from api.db import Session

                app = FastAPI()
            """,
        },
    )
    assert _found([tmp_path / "api" / "db.py"], "SL305") == {("db.py", 5)}


def test_sl305_silent_in_test_files() -> None:
    source = textwrap.dedent(
        """
        from fastapi.testclient import TestClient
        from sqlalchemy.orm import scoped_session, sessionmaker

        TestSession = scoped_session(sessionmaker())
        """
    )
    assert [d.code for d in lint_source(source, "tests/conftest.py", select=["SL305"])] == []
    assert [d.code for d in lint_source(source, "app/testing.py", select=["SL305"])] == ["SL305"]


def test_sl304_configure_in_another_module(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "api"\n',
            "api/db.py": """
                from sqlalchemy.ext.asyncio import async_sessionmaker

                SessionLocal = async_sessionmaker()
                Other = async_sessionmaker()
            """,
            "api/startup.py": """
                from sqlalchemy.ext.asyncio import create_async_engine

                from api import db


                def configure(url):
                    db.SessionLocal.configure(bind=create_async_engine(url), expire_on_commit=False)
                    db.Other.configure(bind=create_async_engine(url))
            """,
        },
    )
    assert _found([tmp_path / "api" / "db.py"], "SL304") == {("db.py", 5)}


def test_one_file_of_a_fastapi_project_knows_the_project_uses_fastapi(tmp_path: Path) -> None:
    """SL305/SL402 apply "in a project that uses FastAPI": linting only `db.py`, where
    FastAPI is not imported, must answer like linting the whole project."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "db.py").write_text(
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.orm import scoped_session, sessionmaker\n"
        'engine = create_engine("sqlite://")\n'
        "Registry = scoped_session(sessionmaker(bind=engine))\n"
    )
    (tmp_path / "main.py").write_text(
        "from fastapi import FastAPI\nfrom db import Registry\napp = FastAPI()\n"
    )
    alone = lint_paths([tmp_path / "db.py"], isolated=True)
    whole = lint_paths([tmp_path], isolated=True)
    assert sorted((d.line, d.code) for d in alone.diagnostics) == [(3, "SL402"), (4, "SL305")]
    assert sorted((Path(d.path).name, d.line, d.code) for d in whole.diagnostics) == [
        ("db.py", 3, "SL402"),
        ("db.py", 4, "SL305"),
    ]
