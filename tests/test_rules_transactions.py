"""SL202, SL203 and SL501 behaviour that single-file fixtures cannot show: severities, messages,
test files, and facts resolved across the modules of a project."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sessionlint.api import lint_paths, lint_source
from sessionlint.config import Config
from sessionlint.diagnostics import Diagnostic, Severity


def _lint(source: str, code: str, path: str = "app/example.py") -> list[Diagnostic]:
    return lint_source(textwrap.dedent(source), path, select=[code])


def _write(root: Path, files: dict[str, str]) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n', encoding="utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _found(root: Path, code: str) -> set[tuple[str, int]]:
    result = lint_paths([root], select=[code])
    assert not result.internal_errors
    return {(Path(d.path).name, d.line) for d in result.diagnostics}


# -- SL202 -----------------------------------------------------------------------------------
HELPER_IN_TESTS = """
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def test_duplicate_email(db: Session) -> None:
    db.add(object())
    try:
        db.commit()
    except IntegrityError:
        pass


def test_duplicate_then_query(db: Session) -> None:
    try:
        db.commit()
    except IntegrityError:
        pass
    db.execute("SELECT 1")
"""


def test_sl202_test_functions_do_not_return_to_an_owner() -> None:
    # pytest owns the fixture's session: only a use after the swallow is reported.
    lines = [d.line for d in _lint(HELPER_IN_TESTS, "SL202", "tests/test_users.py")]
    assert lines == [17]


def test_sl202_the_same_functions_outside_tests_are_helpers() -> None:
    lines = [d.line for d in _lint(HELPER_IN_TESTS, "SL202", "app/users.py")]
    assert lines == [10, 17]


def test_sl202_message_names_the_session_and_the_reason() -> None:
    used, returned = _lint(
        """
        from sqlalchemy.exc import IntegrityError
        from sqlalchemy.orm import Session


        def used(db: Session) -> None:
            try:
                db.flush()
            except IntegrityError:
                pass
            db.commit()


        def returned(session: Session) -> bool:
            try:
                session.commit()
            except (IntegrityError, OSError):
                return False
            return True
        """,
        "SL202",
    )
    assert used.line == 9 and used.severity is Severity.ERROR
    assert "`except IntegrityError`" in used.message
    assert "`db.flush()`" in used.message and "uses `db` again" in used.message
    assert returned.line == 17
    assert "`session.commit()`" in returned.message and "returns `session` broken" in (
        returned.message
    )
    assert used.fix is not None and used.fix.applicability.value == "unsafe"


def test_sl202_sync_session_in_async_def_gets_a_plain_rollback() -> None:
    (finding,) = _lint(
        """
        from sqlalchemy.orm import Session


        async def save(db: Session) -> None:
            try:
                db.commit()
            except Exception:
                pass
            db.execute("SELECT 1")
        """,
        "SL202",
    )
    assert finding.fix is not None
    assert finding.fix.message == "Insert `db.rollback()` first in the handler"


def test_sl202_resolves_helpers_across_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shop/db.py": """
                from sqlalchemy.orm import Session


                def reset(session: Session) -> None:
                    session.rollback()


                def lookup(session: Session, email: str):
                    return session.get(object, email)
            """,
            "shop/users.py": """
                from sqlalchemy.exc import IntegrityError
                from sqlalchemy.orm import Session

                from shop.db import lookup, reset


                def create_reset(db: Session, email: str):
                    try:
                        db.commit()
                    except IntegrityError:
                        reset(db)
                    return db.get(object, email)


                def create_lookup(db: Session, email: str):
                    try:
                        db.commit()
                    except IntegrityError:
                        return lookup(db, email)
                    return None
            """,
        },
    )
    # reset() rolls back: handled. lookup() queries the broken session: a use.
    assert _found(tmp_path, "SL202") == {("users.py", 19)}


# -- SL203 -----------------------------------------------------------------------------------
def test_sl203_engine_imported_from_another_module(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shop/db.py": """
                from sqlalchemy import create_engine

                engine = create_engine("postgresql+psycopg://localhost/shop")
            """,
            "shop/report.py": """
                from shop import db
                from shop.db import engine


                def totals():
                    first = engine.execute("SELECT sum(total) FROM orders").scalar()
                    second = db.engine.execute("SELECT count(*) FROM orders").scalar()
                    return first, second
            """,
        },
    )
    assert _found(tmp_path, "SL203") == {("report.py", 7), ("report.py", 8)}


def test_sl203_pinned_project_versions(tmp_path: Path) -> None:
    source = """
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker(autocommit=True)
    """
    for pin, expected in (("sqlalchemy==1.3.24", []), ("sqlalchemy>=1.4,<2", ["warning"])):
        root = tmp_path / pin.replace("=", "").replace(",", "").replace("<", "").replace(">", "")
        root.mkdir()
        (root / "pyproject.toml").write_text(
            f'[project]\nname = "legacy"\ndependencies = ["{pin}"]\n', encoding="utf-8"
        )
        (root / "db.py").write_text(textwrap.dedent(source), encoding="utf-8")
        result = lint_paths([root], select=["SL203"])
        assert [d.severity.value for d in result.diagnostics] == expected, pin


# -- SL501 -----------------------------------------------------------------------------------
SEVERITIES = """
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session

app = FastAPI()


def get_db():
    ...


def current_tenant() -> str:
    return "acme"


@app.get("/search")
def search(q: str, tenant: str = Depends(current_tenant), db: Session = Depends(get_db)):
    by_tenant = db.execute(text(f"SELECT * FROM {tenant}.items"))
    term = q.lower()
    pattern = "%" + term + "%"
    by_query = db.execute(text("SELECT * FROM items WHERE name LIKE '" + pattern + "'"))
    return by_tenant, by_query


def helper(db: Session, name: str):
    stmt = text(f"SELECT * FROM users WHERE name = '{name}'")
    return db.execute(stmt), db.execute(stmt)
"""


def test_sl501_reports_only_outside_input_by_default() -> None:
    found = [(d.line, d.severity) for d in _lint(SEVERITIES, "SL501")]
    # q -> term -> pattern -> the SQL text. What a dependency returns (line 19) and a
    # helper's parameter (line 27) are of unknown origin: silent by default (spec v2).
    assert found == [(22, Severity.ERROR)]


def test_sl501_strict_mode_warns_on_unknown_origin() -> None:
    strict = Config(sql_interpolation="strict")
    diagnostics = lint_source(textwrap.dedent(SEVERITIES), "app/x.py", config=strict)
    found = [(d.line, d.severity) for d in diagnostics if d.code == "SL501"]
    assert found == [
        (19, Severity.WARNING),  # from a Depends parameter
        (22, Severity.ERROR),  # proven outside input stays an error
        (27, Severity.WARNING),  # a helper's parameter
    ]


def test_sl501_names_the_route_parameter() -> None:
    by_line = {d.line: d.message for d in _lint(SEVERITIES, "SL501")}
    assert by_line[22] == (
        "SQL injection: query parameter `q` of route `GET /search` reaches `text()` in "
        "`+` concatenation"
    )


def test_sl501_module_constants_across_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shop/settings.py": """
                import os

                ORDERS_TABLE = "orders"
                TENANT_SCHEMA = os.environ["SCHEMA"]
            """,
            "shop/report.py": """
                from sqlalchemy import text
                from sqlalchemy.orm import Session

                from shop import settings
                from shop.settings import ORDERS_TABLE, TENANT_SCHEMA


                def totals(db: Session):
                    a = db.execute(text(f"SELECT count(*) FROM {ORDERS_TABLE}"))
                    b = db.execute(text(f"SELECT count(*) FROM {settings.ORDERS_TABLE}"))
                    c = db.execute(text(f"SELECT count(*) FROM {TENANT_SCHEMA}.orders"))
                    return a, b, c
            """,
        },
    )
    # A literal constant is fine; an UPPER_CASE name bound to os.environ (another module)
    # is outside input.
    assert _found(tmp_path, "SL501") == {("report.py", 12)}
