"""Session-lifecycle rules (SL103, SL104, SL106, SL107) beyond what the fixtures show: target
versions, path-based exemptions, partial runs over a project, and the ownership questions
(`model/ownership.py`) SL103 and SL104 share."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.model.ownership import Fate, Ownership
from sessionlint.model.project import Project, SourceFile, parse_source
from sessionlint.model.semantic import Model

PROJECTS = Path(__file__).resolve().parent / "fixtures" / "projects"
LIFECYCLE = PROJECTS / "lifecycle"

HEADER = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("postgresql+psycopg://localhost/app"))
app = FastAPI()
"""


def _lines(source: str, code: str, path: str = "app/example.py", **kwargs: str) -> list[int]:
    diagnostics = lint_source(HEADER + textwrap.dedent(source), path, select=[code], **kwargs)
    return [d.line - HEADER.count("\n") for d in diagnostics if d.code == code]


def _found(paths: list[Path], code: str) -> set[tuple[str, int]]:
    result = lint_paths(paths, select=[code], isolated=True)
    assert not result.internal_errors
    return {(Path(d.path).name, d.line) for d in result.diagnostics}


# -- SL106: only from FastAPI 0.110 on -----------------------------------------------------------
SWALLOWING = """
def get_db():
    db = SessionLocal()
    try:
        yield db
    except Exception:
        db.rollback()
    finally:
        db.close()


@app.get("/")
def index(db: Session = Depends(get_db)) -> None:
    pass
"""


@pytest.mark.parametrize(
    ("target", "lines"),
    [("0.109", []), ("0.109.2", []), ("0.110", [6]), ("0.115", [6]), (None, [6])],
)
def test_sl106_depends_on_the_fastapi_target(target: str | None, lines: list[int]) -> None:
    kwargs = {"target_fastapi": target} if target is not None else {}
    assert _lines(SWALLOWING, "SL106", **kwargs) == lines


def test_sl106_pinned_project_below_0110_is_silent() -> None:
    assert _found([PROJECTS / "lifecycle_fastapi_0109"], "SL106") == set()


# -- SL104: where it does not look ---------------------------------------------------------------
LEAK = """
def count() -> int:
    db = SessionLocal()
    return db.execute(text("SELECT 1")).scalar_one()
"""


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        ("app/service.py", [3]),
        ("tests/test_service.py", []),
        ("tests/service_test.py", []),
        ("tests/conftest.py", []),
        ("alembic/versions/0001_init.py", []),
    ],
)
def test_sl104_skips_tests_and_migrations(path: str, lines: list[int]) -> None:
    assert _lines(LEAK, "SL104", path) == lines


def test_sl104_one_finding_per_creation() -> None:
    source = """
    def two() -> None:
        a = SessionLocal()
        b = SessionLocal()
        a.execute(text("SELECT 1"))
        b.close()
    """
    assert _lines(source, "SL104") == [3]


def test_sl104_reassignment_keeps_the_first_session_open() -> None:
    source = """
    def two() -> None:
        db = SessionLocal()
        db.execute(text("SELECT 1"))
        db = SessionLocal()
        db.close()
    """
    # ``db.close()`` closes the second session; the first is never closed, but a close of
    # the name counts for every session it held (precision first): silent.
    assert _lines(source, "SL104") == []


# -- SL103 / SL106 / SL107 across modules --------------------------------------------------------
def test_sl103_finds_the_router_when_only_deps_is_linted() -> None:
    # ``Depends(get_db)`` lives in app/routers/users.py: the project scan finds it.
    assert _found([LIFECYCLE / "app" / "deps.py"], "SL103") == {("deps.py", 15)}


def test_sl106_dependency_only_through_a_router() -> None:
    # ``audit_trail`` yields no session: it is a dependency only because of the router's
    # ``dependencies=[Depends(audit_trail)]``.
    assert _found([LIFECYCLE / "app" / "deps.py"], "SL106") == {("deps.py", 28), ("deps.py", 36)}


def test_sl106_session_generator_without_visible_depends() -> None:
    # Linted alone, nothing references get_db with Depends; it yields a session: still checked.
    source = """
    def get_db():
        db = SessionLocal()
        try:
            yield db
        except Exception:
            db.rollback()
        finally:
            db.close()
    """
    assert _lines(source, "SL106") == [6]


def test_sl107_generator_in_another_module() -> None:
    assert _found([LIFECYCLE / "scripts" / "cleanup.py"], "SL107") == {("cleanup.py", 9)}


def test_sl107_is_silent_in_test_code(tmp_path: Path) -> None:
    # Spec v2: SL107 is about request-time harm; test code is not application code.
    assert _found([LIFECYCLE / "tests"], "SL107") == set()
    # The same code in an application module is reported.
    project = tmp_path / "lifecycle"
    shutil.copytree(LIFECYCLE, project)
    (project / "tests" / "test_users.py").rename(project / "app" / "user_counts.py")
    assert ("user_counts.py", 7) in _found([project / "app"], "SL107")


def test_sl104_factory_helper_of_another_module() -> None:
    # ``make_session`` (app/deps.py) returns a new session: its caller owns it.
    assert _found([LIFECYCLE / "scripts" / "cleanup.py"], "SL104") == {("cleanup.py", 15)}


# -- the ownership questions -------------------------------------------------------------------
def _file(source: str) -> tuple[Model, SourceFile]:
    parsed = parse_source(HEADER + textwrap.dedent(source), path=None, display_path="app/x.py")
    assert isinstance(parsed, SourceFile)
    project = Project(None)
    project.add(parsed)
    return Model(project), parsed


def _function(file: SourceFile, name: str) -> cst.FunctionDef:
    return next(f for f in file.index.nodes(cst.FunctionDef) if f.name.value == name)


HELPERS = """
def closes(db):
    db.close()


def closes_later(db):
    closes(db)


def keeps(db, registry):
    registry.append(db)


def wraps(db):
    return Wrapper(db)


def borrows(db):
    return db.execute(text("SELECT 1")).scalar_one()


def borrows_twice(db):
    return borrows(db) + borrows(db)


def recursive(db, n):
    return recursive(db, n - 1) if n else 0


class Wrapper:
    def __init__(self, db):
        self.db = db
"""


@pytest.mark.parametrize(
    ("helper", "fate"),
    [
        ("closes", Fate.CLOSE),
        ("closes_later", Fate.CLOSE),
        ("keeps", Fate.ESCAPE),
        ("wraps", Fate.ESCAPE),
        ("borrows", Fate.USE),
        ("borrows_twice", Fate.USE),
        ("recursive", Fate.ESCAPE),  # a cycle cannot be followed: assume it keeps it
    ],
)
def test_param_fate(helper: str, fate: Fate) -> None:
    model, file = _file(HELPERS)
    assert Ownership(model, file).param_fate(file, _function(file, helper), "db") is fate


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ("closes(db)", False),
        ("closes_later(db)", False),
        ("keeps(db, [])", False),
        ("keeps(registry=[], db=db)", False),
        ("wraps(db)", False),
        ("borrows(db)", True),
        ("borrows(*[db])", False),  # a starred argument: cannot tell where it goes
        ("print(db)", True),
        ("isinstance(db, Session)", True),
        ("setattr(app.state, 'db', db)", False),
        ("Wrapper(db)", False),
    ],
)
def test_sl104_what_happens_to_the_session(body: str, flagged: bool) -> None:
    source = HELPERS + f"\n\ndef work() -> None:\n    db = SessionLocal()\n    {body}\n"
    assert bool(_lines(source, "SL104")) is flagged
