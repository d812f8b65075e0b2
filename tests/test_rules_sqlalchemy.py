"""SL203 across SQLAlchemy versions, and the engine / connection / string queries of the
semantic layer it (and SL501) rely on."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from sessionlint.api import lint_source
from sessionlint.diagnostics import Severity
from sessionlint.model.names import Kind
from sessionlint.model.project import Project, SourceFile, parse_source
from sessionlint.model.semantic import Model

PATH = "app/example.py"

REMOVED_APIS = textwrap.dedent(
    """\
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql+psycopg://localhost/app")
    SessionLocal = sessionmaker(bind=engine, autocommit=True)


    def legacy(db: Session) -> None:
        db.execute("SELECT 1")
        engine.execute("SELECT 1")
        with engine.connect() as conn:
            conn.execute("SELECT 1")
    """
)
REMOVED_LINES = [5, 9, 10, 12]


def _sl203(source: str, target: str | None) -> list[tuple[int, Severity]]:
    return [
        (d.line, d.severity)
        for d in lint_source(source, PATH, select=["SL203"], target_sqlalchemy=target)
    ]


@pytest.mark.parametrize("target", ["2.0", "2.0.36", None], ids=["2.0", "2.0.36", "unknown"])
def test_sl203_is_an_error_on_sqlalchemy_2_and_when_unknown(target: str | None) -> None:
    assert _sl203(REMOVED_APIS, target) == [(line, Severity.ERROR) for line in REMOVED_LINES]


@pytest.mark.parametrize("target", ["1.4", "1.4.54"])
def test_sl203_is_a_deprecation_warning_on_sqlalchemy_1_4(target: str) -> None:
    assert _sl203(REMOVED_APIS, target) == [(line, Severity.WARNING) for line in REMOVED_LINES]


@pytest.mark.parametrize("target", ["1.3", "1.3.24", "1.2"])
def test_sl203_is_silent_below_1_4(target: str) -> None:
    assert _sl203(REMOVED_APIS, target) == []


def test_sl203_messages_say_removed_or_deprecated() -> None:
    (new,) = lint_source(REMOVED_APIS, PATH, select=["SL203"], target_sqlalchemy="2.0")[:1]
    (old,) = lint_source(REMOVED_APIS, PATH, select=["SL203"], target_sqlalchemy="1.4")[:1]
    assert "removed in SQLAlchemy 2.0" in new.message
    assert "deprecated since SQLAlchemy 1.4" in old.message


def test_sl203_never_flags_autocommit_false_or_isolation_level() -> None:
    source = textwrap.dedent(
        """\
        from sqlalchemy import create_engine, text
        from sqlalchemy.orm import Session, sessionmaker

        engine = create_engine("postgresql+psycopg://localhost/app", isolation_level="AUTOCOMMIT")
        SessionLocal = sessionmaker(bind=engine, autocommit=False)
        db = Session(engine, autocommit=False)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            conn.execute(text("SELECT 1"))
        """
    )
    for target in ("1.4", "2.0", None):
        assert _sl203(source, target) == []


def test_sl203_fix_kinds() -> None:
    fixes = {d.line: d.fix for d in lint_source(REMOVED_APIS, PATH, select=["SL203"])}
    autocommit, raw_string = fixes[5], fixes[9]
    assert autocommit is not None and autocommit.applicability.value == "unsafe"
    assert raw_string is not None and raw_string.applicability.value == "safe"
    assert raw_string.imports == (("sqlalchemy", "text"),)
    assert fixes[10] is None  # engine.execute(): no automatic rewrite
    assert fixes[12] is None  # connection.execute("..."): parameter styles differ


# -- the semantic layer ------------------------------------------------------------------------
def _model(source: str) -> tuple[Model, SourceFile]:
    parsed = parse_source(textwrap.dedent(source), path=None, display_path=PATH)
    assert isinstance(parsed, SourceFile)
    project = Project(None)
    project.add(parsed)
    return Model(project), parsed


def _expr(file: SourceFile, name: str) -> cst.Name:
    """The last ``name`` read in the module (an argument of ``probe(...)``)."""
    calls = [
        c
        for c in file.index.nodes(cst.Call)
        if isinstance(c.func, cst.Name) and c.func.value == "probe"
    ]
    for call in reversed(calls):
        value = call.args[0].value
        if isinstance(value, cst.Name) and value.value == name:
            return value
    raise AssertionError(name)


ENGINES = """
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, engine_from_config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from functools import lru_cache

sync_engine = create_engine("sqlite://")
aliased = sa.create_engine("sqlite://")
from_config = engine_from_config({})
async_engine = create_async_engine("sqlite+aiosqlite://")
maybe = None
maybe = create_engine("sqlite://")
not_an_engine = object()

@lru_cache
def get_engine():
    return create_engine("sqlite://")

def use(annotated: Engine, async_annotated: AsyncEngine | None, plain, cached=get_engine()):
    probe(sync_engine)
    probe(aliased)
    probe(from_config)
    probe(async_engine)
    probe(maybe)
    probe(not_an_engine)
    probe(annotated)
    probe(async_annotated)
    probe(plain)
    probe(cached)
    probe(made)

made = get_engine()
"""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sync_engine", Kind.SYNC),
        ("aliased", Kind.SYNC),
        ("from_config", Kind.SYNC),
        ("async_engine", Kind.ASYNC),
        ("maybe", Kind.SYNC),
        ("not_an_engine", None),
        ("annotated", Kind.SYNC),
        ("async_annotated", Kind.ASYNC),
        ("plain", None),
        ("cached", None),  # a parameter: only its annotation counts
        ("made", Kind.SYNC),  # the result of a project function returning an engine
    ],
)
def test_engine_kind(name: str, kind: Kind | None) -> None:
    model, file = _model(ENGINES)
    expr = _expr(file, name)
    assert model.engine_kind(file, expr) is kind
    assert model.is_engine(file, expr) is (kind is not None)


CONNECTIONS = """
from sqlalchemy import Connection, create_engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.orm import Session
import sqlite3

engine = create_engine("sqlite://")
async_engine = create_async_engine("sqlite+aiosqlite://")

async def use(db: Session, adb: AsyncSession, given: Connection, agiven: AsyncConnection, other):
    with engine.connect() as connected:
        probe(connected)
    with engine.begin() as begun:
        probe(begun)
    async with async_engine.connect() as aconnected:
        probe(aconnected)
    assigned = engine.connect()
    from_session = db.connection()
    from_async_session = await adb.connection()
    with_options = from_session.execution_options(isolation_level="SERIALIZABLE")
    dbapi = sqlite3.connect("x.db")
    begin_cm = engine.begin()
    probe(assigned)
    probe(from_session)
    probe(from_async_session)
    probe(with_options)
    probe(given)
    probe(agiven)
    probe(dbapi)
    probe(other)
    probe(begin_cm)
"""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("connected", Kind.SYNC),
        ("begun", Kind.SYNC),
        ("aconnected", Kind.ASYNC),
        ("assigned", Kind.SYNC),
        ("from_session", Kind.SYNC),
        ("from_async_session", Kind.ASYNC),
        ("with_options", Kind.SYNC),
        ("given", Kind.SYNC),
        ("agiven", Kind.ASYNC),
        ("dbapi", None),  # sqlite3.connect(): a DBAPI connection, not SQLAlchemy's
        ("other", None),
        ("begin_cm", None),  # engine.begin() outside ``with`` is a context manager
    ],
)
def test_connection_kind(name: str, kind: Kind | None) -> None:
    model, file = _model(CONNECTIONS)
    assert model.connection_kind(file, _expr(file, name)) is kind


STRINGS = """
QUERY = "SELECT 1"
PARTS = ["a", "b"]

def use(param: str, n: int):
    literal = "SELECT 2"
    formatted = f"SELECT {n}"
    percent = "SELECT %s" % n
    concatenated = "SELECT " + param
    reversed_concat = param + " FROM t"
    dotted = "SELECT {}".format(n)
    joined = ", ".join(PARTS)
    alias = literal
    number = n + 1
    mixed = "x" if n else None
    probe(QUERY)
    probe(literal)
    probe(formatted)
    probe(percent)
    probe(concatenated)
    probe(reversed_concat)
    probe(dotted)
    probe(joined)
    probe(alias)
    probe(param)
    probe(number)
    probe(mixed)
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("QUERY", True),
        ("literal", True),
        ("formatted", True),
        ("percent", True),
        ("concatenated", True),
        ("reversed_concat", True),
        ("dotted", True),
        ("joined", True),
        ("alias", True),
        ("param", False),  # annotations are not trusted: only values
        ("number", False),
        ("mixed", False),
    ],
)
def test_is_string(name: str, expected: bool) -> None:
    model, file = _model(STRINGS)
    assert model.is_string(file, _expr(file, name)) is expected
