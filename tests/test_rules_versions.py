"""Version-dependent rules: the same source linted against different FastAPI / SQLAlchemy
targets, and fixture projects whose versions come from pyproject.toml, uv.lock and
requirements.txt.

* SL105 session-escapes-request: a session given to ``BackgroundTasks.add_task`` is reported
  on FastAPI 0.106-0.117 (or with ``Depends(..., scope="function")``), where the dependency
  closes it before the background tasks run; not on < 0.106 and >= 0.118 (unknown = newest).
  Other hand-offs (``create_task``, threads, executors) are reported on every version.
* SL204 commit-after-response: reported for FastAPI >= 0.118 (unknown = newest) and below
  0.106 (exit code also ran after the response), never for 0.106-0.117.
* SL402 sqlite-thread-config: file databases only when SQLAlchemy < 2.0; in-memory databases
  and an explicit ``check_same_thread=True`` on every version.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.diagnostics import Diagnostic

PROJECTS = Path(__file__).resolve().parent / "fixtures" / "projects"


def _lint(
    source: str,
    code: str,
    *,
    fastapi: str | None = None,
    sqlalchemy: str | None = None,
) -> list[Diagnostic]:
    diagnostics = lint_source(
        textwrap.dedent(source),
        "app/example.py",
        select=[code],
        target_fastapi=fastapi,
        target_sqlalchemy=sqlalchemy,
    )
    assert all(d.code == code for d in diagnostics), diagnostics
    return diagnostics


def _verdicts(diagnostics: list[Diagnostic]) -> list[tuple[int, str]]:
    return [(d.line, d.severity.value) for d in diagnostics]


# -- SL105 ------------------------------------------------------------------------------------

BACKGROUND_TASK = """\
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
app = FastAPI()


def get_db():
    with SessionLocal() as db:
        yield db


def reindex(db: Session, item_id: int) -> None: ...


@app.post("/items/{item_id}")
def update_item(item_id: int, tasks: BackgroundTasks, db: Session = Depends(get_db{scope})):
    tasks.add_task(reindex, db, item_id)
    return {"id": item_id}
"""


@pytest.mark.parametrize(
    ("fastapi", "verdicts"),
    [
        ("0.100", []),  # exit code after the background tasks: the session is still open
        ("0.105.1", []),
        ("0.106", [(19, "error")]),  # exit code before the response: a closed session
        ("0.110", [(19, "error")]),
        ("0.117.1", [(19, "error")]),
        ("0.118", []),  # exit code after the response (and the background tasks) again
        ("0.121", []),
        (None, []),  # unknown means newest
    ],
)
def test_sl105_background_task_follows_fastapi_version(
    fastapi: str | None, verdicts: list[tuple[int, str]]
) -> None:
    source = BACKGROUND_TASK.replace("{scope}", "")
    assert _verdicts(_lint(source, "SL105", fastapi=fastapi)) == verdicts


@pytest.mark.parametrize("fastapi", ["0.100", "0.118", "0.121", None])
def test_sl105_background_task_with_function_scope(fastapi: str | None) -> None:
    function_scoped = BACKGROUND_TASK.replace("{scope}", ', scope="function"')
    request_scoped = BACKGROUND_TASK.replace("{scope}", ', scope="request"')
    assert _verdicts(_lint(function_scoped, "SL105", fastapi=fastapi)) == [(19, "error")]
    assert _verdicts(_lint(request_scoped, "SL105", fastapi=fastapi)) == []


THREAD_HANDOFF = BACKGROUND_TASK.replace(
    "tasks.add_task(reindex, db, item_id)",
    "threading.Thread(target=reindex, args=(db, item_id)).start()",
).replace("from fastapi import", "import threading\nfrom fastapi import")


@pytest.mark.parametrize("fastapi", ["0.100", "0.110", "0.118", None])
def test_sl105_other_handoffs_on_every_version(fastapi: str | None) -> None:
    source = THREAD_HANDOFF.replace("{scope}", "")
    assert "threading.Thread" in source
    assert _verdicts(_lint(source, "SL105", fastapi=fastapi)) == [(20, "error")]


def test_sl105_message_says_why() -> None:
    (closed,) = _lint(BACKGROUND_TASK.replace("{scope}", ""), "SL105", fastapi="0.110")
    assert "on FastAPI 0.106-0.117 the task runs after the session is closed" in closed.message
    (scoped,) = _lint(BACKGROUND_TASK.replace("{scope}", ', scope="function"'), "SL105")
    assert "`db`" in scoped.message and 'scope="function"' in scoped.message


# -- SL204 ------------------------------------------------------------------------------------

UNIT_OF_WORK = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
app = FastAPI()


def get_uow():
    with SessionLocal() as db:
        yield db
        db.commit()


def get_tx():
    with SessionLocal.begin() as db:
        yield db


@app.post("/items")
def create_item(item: dict, db: Session = Depends(get_uow), tx: Session = Depends(get_tx)):
    return item
"""


@pytest.mark.parametrize(
    ("fastapi", "reported"),
    [
        ("0.95", True),  # exit code ran after the response was sent (decision: reported)
        ("0.105.0", True),
        ("0.106", False),  # 0.106-0.117: exit code before the response is sent
        ("0.110", False),
        ("0.115.6", False),
        ("0.117.1", False),
        ("0.118", True),  # exit code after the response is sent again
        ("0.121", True),
        (None, True),  # unknown means newest
    ],
)
def test_sl204_follows_fastapi_version(fastapi: str | None, reported: bool) -> None:
    diagnostics = _lint(UNIT_OF_WORK, "SL204", fastapi=fastapi)
    expected = [(12, "warning"), (16, "warning")] if reported else []
    assert _verdicts(diagnostics) == expected


def test_sl204_offers_a_display_only_suggestion() -> None:
    diagnostics = _lint(UNIT_OF_WORK, "SL204")
    assert diagnostics
    for d in diagnostics:
        assert d.fix is not None
        assert d.fix.applicability.value == "display-only"
        assert not d.fix.is_applicable
        assert 'scope="function"' in d.fix.message


# -- SL402 ------------------------------------------------------------------------------------

SQLITE_ENGINES = """\
from fastapi import FastAPI
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

app = FastAPI()
file_db = create_engine("sqlite:///./app.db")
file_db_ok = create_engine("sqlite:///./app.db", connect_args={"check_same_thread": False})
memory = create_engine("sqlite:///:memory:")
memory_ok = create_engine(
    "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
)
strict = create_engine("sqlite:///./app.db", connect_args={"check_same_thread": True})
"""


@pytest.mark.parametrize(
    ("sqlalchemy", "lines"),
    [
        ("1.3", [6, 8, 12]),
        ("1.4", [6, 8, 12]),
        ("1.4.54", [6, 8, 12]),
        ("2.0", [8, 12]),  # file databases: SQLAlchemy 2.0 sets check_same_thread=False
        ("2.1", [8, 12]),
        (None, [8, 12]),  # unknown means newest
    ],
)
def test_sl402_file_databases_depend_on_sqlalchemy(
    sqlalchemy: str | None, lines: list[int]
) -> None:
    diagnostics = _lint(SQLITE_ENGINES, "SL402", sqlalchemy=sqlalchemy)
    assert _verdicts(diagnostics) == [(line, "error") for line in lines]


def test_sl402_does_not_depend_on_fastapi_version() -> None:
    for fastapi in ("0.95", "0.110", "0.121"):
        assert [d.line for d in _lint(SQLITE_ENGINES, "SL402", fastapi=fastapi)] == [8, 12]


# -- fixture projects: versions read from the project's files ---------------------------------


def _project(name: str) -> list[tuple[str, int, str, str]]:
    result = lint_paths([PROJECTS / name], select=["SL105", "SL204", "SL401", "SL402"])
    assert not result.internal_errors
    return sorted((Path(d.path).name, d.line, d.code, d.severity.value) for d in result.diagnostics)


def test_project_pinned_to_fastapi_0110_in_pyproject() -> None:
    # fastapi==0.110.0 and sqlalchemy==1.4.52 in [project] dependencies.
    assert _project("lifecycle_fastapi_0110") == [
        ("db.py", 5, "SL402", "error"),
        ("main.py", 17, "SL105", "error"),
    ]


def test_project_locked_to_fastapi_0118_in_uv_lock() -> None:
    # pyproject.toml admits fastapi>=0.100, but uv.lock locks 0.118.0 (and SQLAlchemy 2.0).
    assert _project("lifecycle_fastapi_0118_uvlock") == [
        ("deps.py", 11, "SL204", "warning"),
        ("deps.py", 15, "SL204", "warning"),
    ]


def test_project_pinned_to_fastapi_0105_in_requirements() -> None:
    assert _project("lifecycle_fastapi_0105_requirements") == [
        ("deps.py", 11, "SL204", "warning"),
        ("deps.py", 15, "SL204", "warning"),
    ]


def test_project_newest_with_function_scope_in_another_module() -> None:
    assert _project("lifecycle_newest") == [
        ("admin.py", 18, "SL105", "error"),  # Depends(deps.get_uow, scope="function")
        ("db.py", 7, "SL402", "error"),
        ("db.py", 15, "SL401", "error"),
        ("deps.py", 15, "SL204", "warning"),
    ]


def test_command_line_target_overrides_the_project() -> None:
    result = lint_paths(
        [PROJECTS / "lifecycle_fastapi_0110"],
        select=["SL105", "SL204"],
        target_fastapi="0.118",
    )
    assert sorted(
        (Path(d.path).name, d.line, d.code, d.severity.value) for d in result.diagnostics
    ) == [
        ("deps.py", 12, "SL204", "warning"),
        ("deps.py", 16, "SL204", "warning"),
    ]
