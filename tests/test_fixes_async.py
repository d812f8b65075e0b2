"""The fixes of the async rules: SL302 (add/remove `await`) and SL304 (`expire_on_commit`).

Each fix goes through the shared fix engine (:func:`sessionlint.fixes.fix_source`, which applies
`Fix.replacements` and re-lints): the result must be the expected code, parse, no longer
trigger the rule, and not change when fixed again.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from sessionlint.api import lint_source
from sessionlint.diagnostics import Applicability, Diagnostic
from sessionlint.fixes import fix_source

HEADER = """\
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import sessionmaker

engine = create_async_engine("postgresql+asyncpg://localhost/app")
"""
PATH = "app/example.py"


def _findings(source: str, code: str) -> list[Diagnostic]:
    return [d for d in lint_source(source, PATH) if d.code == code]


def fix(source: str, code: str) -> str:
    """Apply every fix of rule ``code`` to ``source`` (unsafe ones too); return the new text."""
    before = _findings(source, code)
    assert before, f"{code} does not trigger"
    outcome = fix_source(source, PATH, unsafe=True, select=[code])
    assert isinstance(outcome.output_text, str)
    assert outcome.dropped == []
    assert len(outcome.fixed) == len(before), "every finding has a fix that was applied"
    assert not [d for d in outcome.remaining if d.code == code]
    return outcome.output_text


def assert_fixed(before: str, after: str, code: str) -> None:
    before = HEADER + textwrap.dedent(before)
    after = HEADER + textwrap.dedent(after)
    fixed = fix(before, code)
    assert fixed == after
    cst.parse_module(fixed)  # still valid Python
    assert _findings(fixed, code) == []
    again = fix_source(fixed, PATH, unsafe=True, select=[code])
    assert again.output_text == fixed  # idempotent


# -- SL302 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """
            async def save(session: AsyncSession, user):
                session.add(user)
                session.commit()
            """,
            """
            async def save(session: AsyncSession, user):
                session.add(user)
                await session.commit()
            """,
            id="expression-statement",
        ),
        pytest.param(
            """
            async def load(session: AsyncSession, user_id):
                user = session.get(User, user_id)
                return user.name
            """,
            """
            async def load(session: AsyncSession, user_id):
                user = await session.get(User, user_id)
                return user.name
            """,
            id="assignment",
        ),
        pytest.param(
            """
            async def load(session: AsyncSession, stmt):
                rows: ScalarResult = session.scalars(stmt)
                return rows.all()
            """,
            """
            async def load(session: AsyncSession, stmt):
                rows: ScalarResult = await session.scalars(stmt)
                return rows.all()
            """,
            id="annotated-assignment",
        ),
        pytest.param(
            """
            async def save(session: AsyncSession, user):
                await session.add(user)
                await session.commit()
            """,
            """
            async def save(session: AsyncSession, user):
                session.add(user)
                await session.commit()
            """,
            id="remove-from-statement",
        ),
        pytest.param(
            """
            async def busy(session: AsyncSession):
                return await session.in_transaction()
            """,
            """
            async def busy(session: AsyncSession):
                return session.in_transaction()
            """,
            id="remove-from-return",
        ),
        pytest.param(
            """
            async def busy(session: AsyncSession):
                active = (await session.in_transaction())
                return active
            """,
            """
            async def busy(session: AsyncSession):
                active = (session.in_transaction())
                return active
            """,
            id="remove-keeps-parentheses",
        ),
        pytest.param(
            """
            async def cleanup(session: AsyncSession, user):
                await session.expunge(user)
                session.rollback()
                session.close()
            """,
            """
            async def cleanup(session: AsyncSession, user):
                session.expunge(user)
                await session.rollback()
                await session.close()
            """,
            id="several-in-one-function",
        ),
    ],
)
def test_sl302_fix(before: str, after: str) -> None:
    assert_fixed(before, after, "SL302")


def test_sl302_fix_is_safe() -> None:
    source = HEADER + "async def f(s: AsyncSession):\n    s.commit()\n"
    (diagnostic,) = _findings(source, "SL302")
    assert diagnostic.fix is not None
    assert diagnostic.fix.applicability is Applicability.SAFE


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("def f(s: AsyncSession):\n    s.commit()\n", id="sync-def"),
        pytest.param(
            "async def f(s: AsyncSession, q):\n    return lambda: s.execute(q).all()\n",
            id="lambda",
        ),
        pytest.param(
            "async def f(s: AsyncSession, q):\n    return s.execute(q).scalars().all()\n",
            id="attribute-chain-needs-parentheses",
        ),
        pytest.param(
            "async def f(s: AsyncSession, q):\n    for row in s.execute(q):\n        print(row)\n",
            id="for-iterable",
        ),
    ],
)
def test_sl302_no_fix_where_await_does_not_fit(body: str) -> None:
    source = HEADER + body
    (diagnostic,) = _findings(source, "SL302")
    assert diagnostic.fix is None
    assert not fix_source(source, PATH, unsafe=True, select=["SL302"]).changed


# -- SL304 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "SessionLocal = async_sessionmaker(engine)\n",
            "SessionLocal = async_sessionmaker(engine, expire_on_commit=False)\n",
            id="one-argument",
        ),
        pytest.param(
            "SessionLocal = async_sessionmaker()\n",
            "SessionLocal = async_sessionmaker(expire_on_commit=False)\n",
            id="no-arguments",
        ),
        pytest.param(
            "SessionLocal = async_sessionmaker(engine, autoflush=False)\n",
            "SessionLocal = async_sessionmaker(engine, autoflush=False, expire_on_commit=False)\n",
            id="keywords",
        ),
        pytest.param(
            """
            SessionLocal = sessionmaker(
                engine,
                class_=AsyncSession,
            )
            """,
            """
            SessionLocal = sessionmaker(
                engine,
                class_=AsyncSession,
                expire_on_commit=False,
            )
            """,
            id="multi-line-trailing-comma",
        ),
        pytest.param(
            """
            SessionLocal = async_sessionmaker(
                engine,
            )
            """,
            """
            SessionLocal = async_sessionmaker(
                engine,
                expire_on_commit=False,
            )
            """,
            id="multi-line-one-argument",
        ),
        pytest.param(
            """
            SessionLocal = async_sessionmaker(
                engine,
                autoflush=False
            )
            """,
            """
            SessionLocal = async_sessionmaker(
                engine,
                autoflush=False,
                expire_on_commit=False
            )
            """,
            id="multi-line-no-trailing-comma",
        ),
        pytest.param(
            "SessionLocal = async_sessionmaker(engine, expire_on_commit=True)\n",
            "SessionLocal = async_sessionmaker(engine, expire_on_commit=False)\n",
            id="explicit-true",
        ),
        pytest.param(
            """
            async def work():
                async with AsyncSession(engine) as session:
                    await session.commit()
            """,
            """
            async def work():
                async with AsyncSession(engine, expire_on_commit=False) as session:
                    await session.commit()
            """,
            id="async-session",
        ),
    ],
)
def test_sl304_fix(before: str, after: str) -> None:
    assert_fixed(before, after, "SL304")


def test_sl304_fix_is_unsafe() -> None:
    source = HEADER + "SessionLocal = async_sessionmaker(engine)\n"
    (diagnostic,) = _findings(source, "SL304")
    assert diagnostic.fix is not None
    assert diagnostic.fix.applicability is Applicability.UNSAFE


def test_safe_fixes_leave_the_unsafe_one_alone() -> None:
    source = HEADER + textwrap.dedent(
        """
        SessionLocal = async_sessionmaker(engine)


        async def save(session: AsyncSession, user):
            await session.add(user)
            session.commit()
        """
    )
    outcome = fix_source(source, PATH, select=["SL302", "SL304"])
    assert sorted(d.code for d in outcome.fixed) == ["SL302", "SL302"]
    assert [d.code for d in outcome.remaining] == ["SL304"]
    assert "    session.add(user)\n    await session.commit()\n" in outcome.output_text
