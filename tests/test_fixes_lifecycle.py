"""The fixes of the session-lifecycle rules: SL103 (return -> yield with try/finally), SL104
(`with <factory>() as name:`) and SL106 (add `raise` to the handler).

Each fix goes through the shared fix engine (:func:`sessionlint.fixes.fix_source`, which applies
`Fix.replacements` and the fix's imports, then re-lints): the result must be the expected code,
parse, no longer trigger the rule, and not change when fixed again. Where the fix is only
displayed, the finding must carry a display-only fix and the code must stay as it was.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from sessionlint.api import lint_source
from sessionlint.diagnostics import Applicability, Diagnostic
from sessionlint.fixes import fix_source

PATH = "app/example.py"

SYNC_HEADER = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("postgresql+psycopg://localhost/app"))
app = FastAPI()
"""

ASYNC_HEADER = """\
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://localhost/app")
AsyncSessionLocal = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()
"""


def _findings(source: str, code: str, **kwargs: str) -> list[Diagnostic]:
    return [d for d in lint_source(source, PATH, **kwargs) if d.code == code]


def fix(source: str, code: str, **kwargs: str) -> str:
    """Apply every fix of rule ``code`` to ``source`` (unsafe ones too); return the new text."""
    before = _findings(source, code, **kwargs)
    assert before, f"{code} does not trigger"
    assert all(d.fix is not None and d.fix.applicability is Applicability.UNSAFE for d in before)
    outcome = fix_source(source, PATH, unsafe=True, select=[code], **kwargs)
    assert isinstance(outcome.output_text, str)
    assert outcome.dropped == []
    assert len(outcome.fixed) == len(before), "every finding has a fix that was applied"
    return outcome.output_text


def assert_fixed(
    before: str, after: str, code: str, header: str = SYNC_HEADER, **kwargs: str
) -> None:
    before = header + textwrap.dedent(before)
    after = header + textwrap.dedent(after)
    fixed = fix(before, code, **kwargs)
    assert fixed == after
    cst.parse_module(fixed)  # still valid Python
    compile(fixed, PATH, "exec")  # ``yield``/``await`` where they are allowed
    assert _findings(fixed, code, **kwargs) == []
    again = fix_source(fixed, PATH, unsafe=True, select=[code], **kwargs)
    assert again.output_text == fixed  # idempotent


def assert_display_only(source: str, code: str, header: str = SYNC_HEADER, **kwargs: str) -> None:
    source = header + textwrap.dedent(source)
    findings = _findings(source, code, **kwargs)
    assert findings, f"{code} does not trigger"
    for finding in findings:
        assert finding.fix is not None
        assert finding.fix.applicability is Applicability.DISPLAY_ONLY
        assert finding.fix.replacements == ()
    outcome = fix_source(source, PATH, unsafe=True, select=[code], **kwargs)
    assert outcome.output_text == source


# -- SL103 returned-session-dependency ---------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            def get_db():
                db = SessionLocal()
                return db


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass
            """,
            """
            def get_db():
                db = SessionLocal()
                try:
                    yield db
                finally:
                    db.close()


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass
            """,
            id="return-name",
        ),
        pytest.param(
            """
            def get_db():
                # one session per request
                return SessionLocal()  # the factory


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass
            """,
            """
            def get_db():
                # one session per request
                db = SessionLocal()  # the factory
                try:
                    yield db
                finally:
                    db.close()


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass
            """,
            id="return-call",
        ),
        pytest.param(
            """
            def get_db(db: int = 0):
                return Session(bind=SessionLocal.kw["bind"])


            @app.get("/")
            def index(s: Session = Depends(get_db)) -> None:
                pass
            """,
            """
            def get_db(db: int = 0):
                session = Session(bind=SessionLocal.kw["bind"])
                try:
                    yield session
                finally:
                    session.close()


            @app.get("/")
            def index(s: Session = Depends(get_db)) -> None:
                pass
            """,
            id="name-db-taken",
        ),
    ],
)
def test_sl103_fix(before: str, after: str) -> None:
    assert_fixed(before, after, "SL103")


def test_sl103_fix_rewrites_the_return_annotation_and_imports_iterator() -> None:
    before = SYNC_HEADER + textwrap.dedent(
        """
        def get_db() -> Session:
            return SessionLocal()


        @app.get("/")
        def index(db: Session = Depends(get_db)) -> None:
            pass
        """
    )
    fixed = fix(before, "SL103")
    assert "from collections.abc import Iterator\n" in fixed
    assert "def get_db() -> Iterator[Session]:\n" in fixed
    assert "        yield db\n" in fixed
    compile(fixed, PATH, "exec")
    assert _findings(fixed, "SL103") == []
    assert fix_source(fixed, PATH, unsafe=True, select=["SL103"]).output_text == fixed


def test_sl103_fix_reuses_an_imported_iterator() -> None:
    header = "from typing import Iterator\n" + SYNC_HEADER
    assert_fixed(
        """
        def get_db() -> Session:
            return SessionLocal()


        @app.get("/")
        def index(db: Session = Depends(get_db)) -> None:
            pass
        """,
        """
        def get_db() -> Iterator[Session]:
            db = SessionLocal()
            try:
                yield db
            finally:
                db.close()


        @app.get("/")
        def index(db: Session = Depends(get_db)) -> None:
            pass
        """,
        "SL103",
        header,
    )


def test_sl103_fix_async_session_awaits_close() -> None:
    assert_fixed(
        """
        async def get_db() -> AsyncSession:
            return AsyncSessionLocal()


        @app.get("/")
        async def index(db: AsyncSession = Depends(get_db)) -> None:
            pass
        """,
        """
        async def get_db() -> AsyncIterator[AsyncSession]:
            db = AsyncSessionLocal()
            try:
                yield db
            finally:
                await db.close()


        @app.get("/")
        async def index(db: AsyncSession = Depends(get_db)) -> None:
            pass
        """,
        "SL103",
        "from collections.abc import AsyncIterator\n" + ASYNC_HEADER,
    )


def test_sl103_fix_sync_session_in_async_dependency_does_not_await() -> None:
    before = SYNC_HEADER + textwrap.dedent(
        """
        async def get_db():
            db = SessionLocal()
            return db


        @app.get("/")
        async def index(db: Session = Depends(get_db)) -> None:
            pass
        """
    )
    fixed = fix(before, "SL103")
    assert "        db.close()\n" in fixed
    assert "await db.close()" not in fixed
    compile(fixed, PATH, "exec")


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            """
            def get_db(readonly: bool = False):
                if readonly:
                    return SessionLocal()
                return SessionLocal()


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass
            """,
            id="two-returns",
        ),
        pytest.param(
            """
            def get_db():
                return SessionLocal()


            @app.get("/")
            def index(db: Session = Depends(get_db)) -> None:
                pass


            def script() -> None:
                get_db().execute(text("SELECT 1"))  # a direct caller would get a generator
            """,
            id="called-directly",
        ),
    ],
)
def test_sl103_fix_only_displayed(source: str) -> None:
    assert_display_only(source, "SL103")


def test_sl103_fix_is_not_applied_without_unsafe() -> None:
    source = SYNC_HEADER + textwrap.dedent(
        """
        def get_db():
            return SessionLocal()


        @app.get("/")
        def index(db: Session = Depends(get_db)) -> None:
            pass
        """
    )
    assert fix_source(source, PATH, select=["SL103"]).output_text == source


# -- SL104 unclosed-session ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            def count() -> int:
                print("start")
                # one session for the count
                db = SessionLocal()  # keep this comment
                n = db.execute(text("SELECT count(*) FROM users")).scalar_one()
                if n:
                    return n
                db.close()
                print("done")
                return 0
            """,
            """
            def count() -> int:
                print("start")
                # one session for the count
                with SessionLocal() as db:  # keep this comment
                    n = db.execute(text("SELECT count(*) FROM users")).scalar_one()
                    if n:
                        return n
                print("done")
                return 0
            """,
            id="early-return-and-trailing-close",
        ),
        pytest.param(
            """
            def serve(seed: bool) -> None:
                db = SessionLocal()
                if seed:
                    db.execute(text("SELECT k FROM settings")).all()
                    return
                db.execute(text("SELECT 1"))
                db.close()
                import uvicorn

                uvicorn.run(app, port=8000)
            """,
            """
            def serve(seed: bool) -> None:
                with SessionLocal() as db:
                    if seed:
                        db.execute(text("SELECT k FROM settings")).all()
                        return
                    db.execute(text("SELECT 1"))
                import uvicorn

                uvicorn.run(app, port=8000)
            """,
            id="block-ends-at-the-explicit-close-not-the-function-end",
        ),
        pytest.param(
            """
            def touch(ids: list[int]) -> None:
                for user_id in ids:
                    session = Session(bind=SessionLocal.kw["bind"])
                    session.execute(text("UPDATE t SET n = 1 WHERE id = :i"), {"i": user_id})
                    session.commit()
                    print(session.get(User, user_id))
            """,
            """
            def touch(ids: list[int]) -> None:
                for user_id in ids:
                    with Session(bind=SessionLocal.kw["bind"]) as session:
                        session.execute(text("UPDATE t SET n = 1 WHERE id = :i"), {"i": user_id})
                        session.commit()
                        print(session.get(User, user_id))
            """,
            id="inside-a-loop",
        ),
        pytest.param(
            """
            def emails() -> list[str]:
                db = SessionLocal()
                result = db.execute(text("SELECT email FROM users"))
                return [row.email for row in result]
            """,
            """
            def emails() -> list[str]:
                with SessionLocal() as db:
                    result = db.execute(text("SELECT email FROM users"))
                    return [row.email for row in result]
            """,
            id="result-read-after-the-last-use",
        ),
    ],
)
def test_sl104_fix(before: str, after: str) -> None:
    assert_fixed(before, after, "SL104")


def test_sl104_fix_async_session_uses_async_with() -> None:
    assert_fixed(
        """
        async def count() -> int:
            db = AsyncSessionLocal()
            result = await db.execute(text("SELECT count(*) FROM users"))
            return result.scalar_one()
        """,
        """
        async def count() -> int:
            async with AsyncSessionLocal() as db:
                result = await db.execute(text("SELECT count(*) FROM users"))
                return result.scalar_one()
        """,
        "SL104",
        ASYNC_HEADER,
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            def count(flag: bool) -> int:
                if flag:
                    db = SessionLocal()
                else:
                    db = Session(bind=SessionLocal.kw["bind"])
                # count the users
                n = db.execute(text("SELECT count(*) FROM users")).scalar_one()
                return n
            """,
            """
            def count(flag: bool) -> int:
                if flag:
                    db = SessionLocal()
                else:
                    db = Session(bind=SessionLocal.kw["bind"])
                # count the users
                try:
                    n = db.execute(text("SELECT count(*) FROM users")).scalar_one()
                    return n
                finally:
                    db.close()
            """,
            id="created-in-every-branch",
        ),
        pytest.param(
            """
            def count() -> int:
                db = SessionLocal(); n = db.execute(text("SELECT 1")).scalar_one()
                return n + db.execute(text("SELECT 2")).scalar_one()
            """,
            """
            def count() -> int:
                db = SessionLocal(); n = db.execute(text("SELECT 1")).scalar_one()
                try:
                    return n + db.execute(text("SELECT 2")).scalar_one()
                finally:
                    db.close()
            """,
            id="not-a-statement-of-its-own",
        ),
        pytest.param(
            """
            def serve() -> None:
                db = SessionLocal(); row = db.execute(text("SELECT port FROM settings")).first()
                if row is None:
                    return
                db.close()
                import uvicorn

                uvicorn.run(app, port=row.port)
            """,
            """
            def serve() -> None:
                db = SessionLocal(); row = db.execute(text("SELECT port FROM settings")).first()
                try:
                    if row is None:
                        return
                finally:
                    db.close()
                import uvicorn

                uvicorn.run(app, port=row.port)
            """,
            id="finally-ends-at-the-explicit-close-not-the-function-end",
        ),
    ],
)
def test_sl104_try_finally_fix(before: str, after: str) -> None:
    # Where ``with <factory>() as name:`` cannot be formed, the session is closed in
    # ``finally:``; the ``try`` holds the connection no longer than the original did.
    assert_fixed(before, after, "SL104")


def test_sl104_try_finally_fix_before_sqlalchemy_14() -> None:
    # Sessions became context managers in SQLAlchemy 1.4; ``try``/``finally`` works before.
    assert_fixed(
        """
        def count() -> int:
            db = SessionLocal()
            return db.execute(text("SELECT 1")).scalar_one()
        """,
        """
        def count() -> int:
            db = SessionLocal()
            try:
                return db.execute(text("SELECT 1")).scalar_one()
            finally:
                db.close()
        """,
        "SL104",
        target_sqlalchemy="1.3",
    )


def test_sl104_try_finally_fix_async_session_awaits_close() -> None:
    assert_fixed(
        """
        async def count(flag: bool) -> int:
            if flag:
                db = AsyncSessionLocal()
            else:
                db = AsyncSession(engine)
            result = await db.execute(text("SELECT count(*) FROM users"))
            return result.scalar_one()
        """,
        """
        async def count(flag: bool) -> int:
            if flag:
                db = AsyncSessionLocal()
            else:
                db = AsyncSession(engine)
            try:
                result = await db.execute(text("SELECT count(*) FROM users"))
                return result.scalar_one()
            finally:
                await db.close()
        """,
        "SL104",
        ASYNC_HEADER,
    )


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            """
            def count(flag: bool) -> None:
                if flag:
                    db = SessionLocal()
                    db.execute(text("SELECT 1"))
                print(db)
            """,
            id="used-outside-its-block",
        ),
        pytest.param(
            """
            def count(flag: bool) -> int:
                if flag:
                    db = SessionLocal()
                elif not flag:
                    db = SessionLocal()
                return db.execute(text("SELECT 1")).scalar_one()
            """,
            id="no-else-branch",
        ),
        pytest.param(
            """
            def count(ids: list[int]) -> int:
                for i in ids:
                    if i:
                        db = SessionLocal()
                    else:
                        db = SessionLocal()
                        continue
                    db.execute(text("SELECT 1"))
                return 0
            """,
            id="a-branch-leaves-early",
        ),
        pytest.param(
            """
            def count(flag: bool) -> int:
                db = SessionLocal()
                if flag:
                    db = SessionLocal()
                return db.execute(text("SELECT 1")).scalar_one()
            """,
            id="reassigned-in-a-branch",
        ),
    ],
)
def test_sl104_fix_only_displayed(source: str) -> None:
    assert_display_only(source, "SL104")


def test_sl104_fix_only_displayed_for_an_async_session_in_a_sync_function() -> None:
    # ``close()`` of an AsyncSession is a coroutine that a sync function cannot await.
    source = """
        def count() -> None:
            db = AsyncSessionLocal()
            db.sync_session.execute(text("SELECT 1"))
        """
    assert_display_only(source, "SL104", ASYNC_HEADER)


# -- SL106 dependency-swallows-exception -------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            def get_db():
                db = SessionLocal()
                try:
                    yield db
                except Exception:
                    db.rollback()
                finally:
                    db.close()
            """,
            """
            def get_db():
                db = SessionLocal()
                try:
                    yield db
                except Exception:
                    db.rollback()
                    raise
                finally:
                    db.close()
            """,
            id="append-raise",
        ),
        pytest.param(
            """
            def get_db():
                with SessionLocal() as db:
                    try:
                        yield db
                    except ValueError:
                        pass
                    except KeyError:
                        db.rollback()
                        return
            """,
            """
            def get_db():
                with SessionLocal() as db:
                    try:
                        yield db
                    except ValueError:
                        raise
                    except KeyError:
                        db.rollback()
                        raise
            """,
            id="replace-pass-and-bare-return",
        ),
        pytest.param(
            """
            def get_db():
                db = SessionLocal()
                try:
                    yield db
                except Exception: db.rollback()
                finally:
                    db.close()
            """,
            """
            def get_db():
                db = SessionLocal()
                try:
                    yield db
                except Exception: db.rollback(); raise
                finally:
                    db.close()
            """,
            id="one-line-handler",
        ),
    ],
)
def test_sl106_fix(before: str, after: str) -> None:
    assert_fixed(before, after, "SL106")
