"""The fixes of SL202 (insert a rollback) and SL203 (wrap in ``text()``, drop ``autocommit``).

Each fix goes through the shared fix engine (:func:`sessionlint.fixes.fix_source`): the result
must be the expected code, parse, no longer trigger the rule, and not change when fixed again.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from sessionlint.api import lint_source
from sessionlint.diagnostics import Applicability, Diagnostic
from sessionlint.fixes import fix_source

PATH = "app/example.py"


def _findings(source: str, code: str) -> list[Diagnostic]:
    return [d for d in lint_source(source, PATH) if d.code == code]


def fix(source: str, code: str, *, unsafe: bool = True) -> str:
    before = _findings(source, code)
    assert before, f"{code} does not trigger"
    outcome = fix_source(source, PATH, unsafe=unsafe, select=[code])
    assert isinstance(outcome.output_text, str)
    assert outcome.dropped == []
    assert len(outcome.fixed) == len(before), "every finding has a fix that was applied"
    return outcome.output_text


def assert_fixed(before: str, after: str, code: str, *, unsafe: bool = True) -> None:
    before, after = textwrap.dedent(before), textwrap.dedent(after)
    fixed = fix(before, code, unsafe=unsafe)
    assert fixed == after
    cst.parse_module(fixed)  # still valid Python
    assert _findings(fixed, code) == []
    again = fix_source(fixed, PATH, unsafe=True, select=[code])
    assert again.output_text == fixed  # idempotent


# -- SL202 -----------------------------------------------------------------------------------
SL202_HEADER = """\
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

"""


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            def import_users(db: Session, users: list) -> None:
                for user in users:
                    db.add(user)
                    try:
                        db.commit()
                    except IntegrityError:
                        # a duplicate: skip it
                        continue
            """,
            """
            def import_users(db: Session, users: list) -> None:
                for user in users:
                    db.add(user)
                    try:
                        db.commit()
                    except IntegrityError:
                        db.rollback()
                        # a duplicate: skip it
                        continue
            """,
            id="loop",
        ),
        pytest.param(
            """
            async def add_tag(session: AsyncSession, tag) -> bool:
                session.add(tag)
                try:
                    await session.flush()
                except Exception:
                    return False
                return True
            """,
            """
            async def add_tag(session: AsyncSession, tag) -> bool:
                session.add(tag)
                try:
                    await session.flush()
                except Exception:
                    await session.rollback()
                    return False
                return True
            """,
            id="async-helper",
        ),
        pytest.param(
            """
            def save(db: Session, obj) -> None:
                try:
                    db.commit()
                except: pass
                db.refresh(obj)
            """,
            """
            def save(db: Session, obj) -> None:
                try:
                    db.commit()
                except: db.rollback(); pass
                db.refresh(obj)
            """,
            id="one-line-handler",
        ),
        pytest.param(
            """
            class Repository:
                session: Session

                def save(self, obj) -> None:
                    try:
                        self.session.commit()
                    except IntegrityError:
                        pass
                    self.session.refresh(obj)
            """,
            """
            class Repository:
                session: Session

                def save(self, obj) -> None:
                    try:
                        self.session.commit()
                    except IntegrityError:
                        self.session.rollback()
                        pass
                    self.session.refresh(obj)
            """,
            id="declared-attribute",
        ),
    ],
)
def test_sl202_inserts_rollback_first_in_the_handler(before: str, after: str) -> None:
    before = SL202_HEADER + textwrap.dedent(before)
    assert_fixed(before, SL202_HEADER + textwrap.dedent(after), "SL202")


def test_sl202_fix_is_unsafe_only() -> None:
    source = SL202_HEADER + textwrap.dedent(
        """
        def save(db: Session, obj) -> None:
            try:
                db.commit()
            except IntegrityError:
                pass
            db.refresh(obj)
        """
    )
    (finding,) = _findings(source, "SL202")
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    assert fix_source(source, PATH, unsafe=False, select=["SL202"]).output_text == source


# -- SL203 -----------------------------------------------------------------------------------
def test_sl203_wraps_raw_sql_in_text_and_imports_it() -> None:
    assert_fixed(
        """\
        from sqlalchemy.orm import Session

        COUNT = "SELECT count(*) FROM users"


        def count(db: Session) -> int:
            db.execute("SELECT 1")
            return db.execute(COUNT).scalar_one()
        """,
        """\
        from sqlalchemy.orm import Session
        from sqlalchemy import text

        COUNT = "SELECT count(*) FROM users"


        def count(db: Session) -> int:
            db.execute(text("SELECT 1"))
            return db.execute(text(COUNT)).scalar_one()
        """,
        "SL203",
        unsafe=False,  # a safe fix
    )


def test_sl203_reuses_an_existing_text_import() -> None:
    assert_fixed(
        """\
        import sqlalchemy as sa
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import AsyncSession


        async def ping(session: AsyncSession) -> None:
            await session.execute(statement="SELECT 1")
            await session.execute(text("SELECT 2"))
        """,
        """\
        import sqlalchemy as sa
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import AsyncSession


        async def ping(session: AsyncSession) -> None:
            await session.execute(statement=text("SELECT 1"))
            await session.execute(text("SELECT 2"))
        """,
        "SL203",
        unsafe=False,
    )


def test_sl203_no_text_fix_when_text_means_something_else() -> None:
    source = textwrap.dedent(
        """\
        from sqlalchemy.orm import Session


        def run(db: Session, text: str) -> None:
            db.execute("SELECT 1")
        """
    )
    (finding,) = _findings(source, "SL203")
    assert finding.fix is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "SessionLocal = sessionmaker(autocommit=True, autoflush=False, bind=engine)\n",
            "SessionLocal = sessionmaker(autoflush=False, bind=engine)\n",
            id="first",
        ),
        pytest.param(
            "SessionLocal = sessionmaker(bind=engine, autocommit=True)\n",
            "SessionLocal = sessionmaker(bind=engine)\n",
            id="last",
        ),
        pytest.param(
            "SessionLocal = sessionmaker(\n    bind=engine,\n    autocommit=True,\n)\n",
            "SessionLocal = sessionmaker(\n    bind=engine,\n)\n",
            id="multi-line-trailing-comma",
        ),
        pytest.param(
            "db = Session(autocommit=True)\n",
            "db = Session()\n",
            id="only",
        ),
    ],
)
def test_sl203_removes_autocommit_true(before: str, after: str) -> None:
    header = (
        "from sqlalchemy import create_engine\n"
        "from sqlalchemy.orm import Session, sessionmaker\n\n"
        'engine = create_engine("sqlite:///app.db")\n'
    )
    assert_fixed(header + before, header + after, "SL203")


def test_sl203_autocommit_fix_is_unsafe() -> None:
    source = "from sqlalchemy.orm import sessionmaker\n\nFactory = sessionmaker(autocommit=True)\n"
    (finding,) = _findings(source, "SL203")
    assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    assert fix_source(source, PATH, unsafe=False, select=["SL203"]).output_text == source
