"""Request-lifecycle rules (SL105, SL204, SL401, SL402) beyond what fixtures show: partial
runs over a project, the shared semantic queries they use, path-based exemptions and the
SL402 fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.fixes import fix_source
from sessionlint.model.project import Project, SourceFile, parse_source
from sessionlint.model.semantic import Model

PROJECTS = Path(__file__).resolve().parent / "fixtures" / "projects"
NEWEST = PROJECTS / "lifecycle_newest"


def _found(paths: list[Path], code: str) -> set[tuple[str, int]]:
    result = lint_paths(paths, select=[code])
    assert not result.internal_errors
    return {(Path(d.path).name, d.line) for d in result.diagnostics}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _codes(source: str, code: str, path: str = "app/example.py", **kwargs: str) -> list[int]:
    diagnostics = lint_source(textwrap.dedent(source), path, select=[code], **kwargs)
    return [d.line for d in diagnostics if d.code == code]


# -- cross-module: only part of the project is linted -----------------------------------------


def test_sl204_finds_the_router_when_only_deps_is_linted() -> None:
    # get_uow's default-scope Depends lives in routers/items.py (through the UowDep alias in
    # deps.py), its scope="function" one in routers/admin.py; get_tx is only used with
    # scope="function".
    assert _found([NEWEST / "app" / "deps.py"], "SL204") == {("deps.py", 15)}


def test_sl401_finds_the_dependency_when_only_db_is_linted() -> None:
    assert _found([NEWEST / "app" / "db.py"], "SL401") == {("db.py", 15)}


def test_sl402_resolves_constants_of_another_module() -> None:
    assert _found([NEWEST / "app" / "db.py"], "SL402") == {("db.py", 7)}


def test_sl105_scope_of_a_dependency_in_another_module() -> None:
    # admin.py: the dependency (another module) is used with scope="function", so it closes
    # the session before the background task runs. items.py: default scope on FastAPI >= 0.118,
    # the teardown runs after the tasks (spec v2): not flagged.
    result = lint_paths([NEWEST / "app" / "routers"], select=["SL105"])
    assert sorted((Path(d.path).name, d.line, d.severity.value) for d in result.diagnostics) == [
        ("admin.py", 18, "error"),
    ]


def test_sl204_silent_when_every_use_is_function_scoped(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "api"\ndependencies = ["fastapi>=0.121"]\n',
            "app/__init__.py": "",
            "app/deps.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.orm import sessionmaker

                SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))


                def get_uow():
                    with SessionLocal() as db:
                        yield db
                        db.commit()
            """,
            "app/a.py": """
                from fastapi import APIRouter, Depends
                from app.deps import get_uow

                router = APIRouter()


                @router.post("/a")
                def a(db=Depends(get_uow, scope="function")):
                    return {}
            """,
            "app/b.py": """
                from typing import Annotated
                from fastapi import APIRouter, Depends
                from app import deps

                router = APIRouter()
                Uow = Annotated[object, Depends(deps.get_uow, scope="function")]


                @router.post("/b")
                def b(db: Uow):
                    return {}
            """,
        },
    )
    assert _found([tmp_path / "app" / "deps.py"], "SL204") == set()
    # One default-scope use anywhere in the project is enough.
    _write(
        tmp_path,
        {
            "app/c.py": """
                from fastapi import APIRouter, Depends
                from app.deps import get_uow as uow

                router = APIRouter()


                @router.post("/c")
                def c(db=Depends(uow)):
                    return {}
            """
        },
    )
    assert _found([tmp_path / "app" / "deps.py"], "SL204") == {("deps.py", 11)}


# -- the semantic queries ---------------------------------------------------------------------


def _model(source: str) -> tuple[Model, SourceFile]:
    parsed = parse_source(textwrap.dedent(source), path=None, display_path="app/example.py")
    assert isinstance(parsed, SourceFile)
    project = Project(None)
    project.add(parsed)
    return Model(project), parsed


def _function(file: SourceFile, name: str) -> cst.FunctionDef:
    return next(f for f in file.index.nodes(cst.FunctionDef) if f.name.value == name)


def test_depends_calls_for_collects_every_reference() -> None:
    model, file = _model(
        """
        from typing import Annotated
        from fastapi import Depends, FastAPI, Security

        app = FastAPI()


        def get_db(): ...


        class Repo:
            def __init__(self): ...


        Db = Annotated[object, Depends(get_db, scope="function")]


        @app.get("/", dependencies=[Security(get_db)])
        def index(db: Db, other=Depends(get_db), repo: Repo = Depends(Repo)):
            return {}


        def unused(): ...
        """
    )
    calls = model.depends_calls_for(_function(file, "get_db"))
    assert [model.depends_scope(call) for _, call in calls] == ["function", None, None]
    assert len(model.depends_calls_for(_function(file, "__init__"))) == 1
    assert model.depends_calls_for(_function(file, "unused")) == []


def test_per_request_functions_stop_at_caches_and_lazy_singletons() -> None:
    model, _file = _model(
        """
        from functools import lru_cache
        from fastapi import Depends, FastAPI

        app = FastAPI()
        _cache = None


        def leaf(): ...
        def helper(): leaf()
        def cached_leaf(): ...


        @lru_cache
        def cached(): cached_leaf()


        def lazy_leaf(): ...


        def lazy():
            global _cache
            _cache = lazy_leaf()


        class Service:
            def __init__(self): helper()


        def get_dep(): return Service()


        @app.get("/")
        def index(dep=Depends(get_dep)):
            cached()
            lazy()
            return {}


        def unreachable(): leaf()
        """
    )
    reached = {fn.name.value for fn in model.per_request_functions()}  # type: ignore[attr-defined]
    assert reached == {"index", "get_dep", "__init__", "helper", "leaf", "lazy"}
    roots = {
        fn.name.value: root.name.value  # type: ignore[attr-defined]
        for fn, (_, root) in model.per_request_functions().items()
    }
    assert roots["leaf"] in ("index", "get_dep")


# -- path-based exemptions and project conditions ---------------------------------------------

ENGINE_IN_DEPENDENCY = """\
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

app = FastAPI()


def override_get_db():
    engine = create_engine("postgresql://localhost/test")
    with Session(engine) as db:
        yield db


@app.get("/")
def index(db: Session = Depends(override_get_db)):
    return {}
"""


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        ("app/deps.py", [9]),
        ("tests/conftest.py", []),
        ("tests/test_api.py", []),
        ("app/api_test.py", []),
    ],
)
def test_sl401_skips_test_files(path: str, lines: list[int]) -> None:
    assert _codes(ENGINE_IN_DEPENDENCY, "SL401", path=path) == lines


def test_sl402_only_in_fastapi_projects(tmp_path: Path) -> None:
    source = 'from sqlalchemy import create_engine\nengine = create_engine("sqlite://")\n'
    assert _codes(source, "SL402") == []
    assert _codes("import fastapi\n" + source, "SL402") == [3]
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "api"\n',
            "app/__init__.py": "",
            "app/db.py": source,
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
    )
    assert _found([tmp_path / "app"], "SL402") == {("db.py", 2)}
    (tmp_path / "app" / "main.py").write_text("app = object()\n", encoding="utf-8")
    assert _found([tmp_path / "app"], "SL402") == set()


# -- SL105: waiting for the hand-off ----------------------------------------------------------

ASYNC_HEADER = """\
import asyncio
from typing import Annotated
from fastapi import Depends, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

factory = async_sessionmaker(create_async_engine("postgresql+asyncpg://h/db"))
app = FastAPI()


async def get_session():
    async with factory() as session:
        yield session


Db = Annotated[AsyncSession, Depends(get_session)]


async def audit(session: AsyncSession) -> None:
    await session.execute(select(1))
"""


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ("asyncio.create_task(audit(db))", True),
        ("task = asyncio.create_task(audit(db))", True),
        ("task = asyncio.create_task(audit(db))\n    await task", False),
        ("await asyncio.create_task(audit(db))", False),
        ("tasks = [asyncio.create_task(audit(db))]\n    await asyncio.gather(*tasks)", False),
        ("tasks = [asyncio.create_task(audit(db))]\n    for t in tasks:\n        await t", False),
        ("done = asyncio.create_task(audit(db))\n    print(done)", True),
        # awaited before it is created does not count
        ("task = None\n    if task: await task\n    task = asyncio.create_task(audit(db))", True),
        ("asyncio.create_task(audit(factory()))", False),
        ("asyncio.create_task(audit(db.bind))", False),
    ],
)
def test_sl105_fire_and_forget_tasks(body: str, flagged: bool) -> None:
    source = ASYNC_HEADER + f"\n\n@app.post('/x')\nasync def handler(db: Db):\n    {body}\n"
    lines = _codes(source, "SL105")
    assert bool(lines) is flagged, lines


# -- the SL402 fix ----------------------------------------------------------------------------


def _fixed(source: str, sqlalchemy: str | None = None) -> str:
    outcome = fix_source(
        textwrap.dedent(source),
        "app/db.py",
        unsafe=True,
        select=["SL402"],
        target_sqlalchemy=sqlalchemy,
    )
    assert not outcome.dropped
    assert outcome.remaining == [], "the fixed code must no longer trigger SL402"
    return outcome.output_text


def test_sl402_fix_is_unsafe_and_not_applied_by_default() -> None:
    source = (
        'import fastapi\nfrom sqlalchemy import create_engine\ne = create_engine("sqlite://")\n'
    )
    (diagnostic,) = lint_source(source, "app/db.py", select=["SL402"])
    assert diagnostic.fix is not None and diagnostic.fix.applicability.value == "unsafe"
    assert diagnostic.fix.imports == (("sqlalchemy.pool", "StaticPool"),)
    assert fix_source(source, "app/db.py", select=["SL402"]).output_text == source


def test_sl402_fix_memory_database_one_line() -> None:
    assert _fixed(
        """\
        import fastapi
        from sqlalchemy import create_engine

        engine = create_engine("sqlite://", echo=True)
        """
    ) == textwrap.dedent(
        """\
        import fastapi
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        engine = create_engine("sqlite://", echo=True, connect_args={"check_same_thread": False}, poolclass=StaticPool)
        """  # noqa: E501
    )


def test_sl402_fix_keeps_a_multiline_layout_and_edits_connect_args() -> None:
    assert _fixed(
        """\
        import fastapi
        from sqlalchemy import create_engine
        from sqlalchemy.pool import SingletonThreadPool

        engine = create_engine(
            "sqlite:///:memory:",
            connect_args={"timeout": 30},
            poolclass=SingletonThreadPool,
        )
        other = create_engine(
            "sqlite+pysqlite://",
            connect_args={"check_same_thread": True}
        )
        """
    ) == textwrap.dedent(
        """\
        import fastapi
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool, SingletonThreadPool

        engine = create_engine(
            "sqlite:///:memory:",
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=StaticPool,
        )
        other = create_engine(
            "sqlite+pysqlite://",
            connect_args={"check_same_thread": False},
            poolclass=StaticPool
        )
        """
    )


def test_sl402_fix_file_database_on_sqlalchemy_14() -> None:
    assert _fixed(
        """\
        import fastapi
        from sqlalchemy import create_engine

        engine = create_engine("sqlite:///./app.db")
        strict = create_engine("sqlite:///./app.db", connect_args=dict(check_same_thread=True))
        """,
        sqlalchemy="1.4",
    ) == textwrap.dedent(
        """\
        import fastapi
        from sqlalchemy import create_engine

        engine = create_engine("sqlite:///./app.db", connect_args={"check_same_thread": False})
        strict = create_engine("sqlite:///./app.db", connect_args=dict(check_same_thread=False))
        """
    )


def test_sl402_no_fix_for_a_named_constant_or_a_query_string() -> None:
    source = textwrap.dedent(
        """\
        import fastapi
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        ARGS = {"check_same_thread": True}
        a = create_engine("sqlite://", connect_args=ARGS, poolclass=StaticPool)
        b = create_engine("sqlite:///./app.db?check_same_thread=true")
        """
    )
    diagnostics = lint_source(source, "app/db.py", select=["SL402"])
    assert [(d.line, d.fix) for d in diagnostics] == [(6, None), (7, None)]


def test_sl402_fix_is_idempotent() -> None:
    once = _fixed(
        'import fastapi\nfrom sqlalchemy import create_engine\ne = create_engine("sqlite://")\n'
    )
    outcome = fix_source(once, "app/db.py", unsafe=True, select=["SL402"])
    assert outcome.output_text == once
