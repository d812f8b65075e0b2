"""Run a rule's docs example as a real application.

The code under test is the rule's own docstring example ("Example" / "Use instead", extracted
the way :mod:`sessionlint.docgen` does), so the docs, the linter and this runtime evidence
cannot drift apart. An example is executed as the module ``app.example`` in a fresh namespace;
:class:`Harness` points the database URLs of the docs (``sqlite:///app.db``,
``postgresql://localhost/app``, ``postgresql+asyncpg://localhost/app``) at a SQLite file in the
test's ``tmp_path`` and gives the engines a tiny pool, by wrapping the real
``sqlalchemy.create_engine`` / ``create_async_engine`` while the test runs. Nothing else is
replaced: the sessions, FastAPI and its test clients are the real ones.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import types
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy
import sqlalchemy.ext.asyncio
from packaging.version import Version

from sessionlint.api import lint_source
from sessionlint.docgen import code_blocks, section
from sessionlint.fixes import fix_source
from sessionlint.registry import ALL_RULES

T = TypeVar("T")
RULES = {rule.code: rule for rule in ALL_RULES}
EXAMPLE_PATH = "app/example.py"

#: The database URLs the docs examples use, and the tmp file each is pointed at.
_SYNC_URLS = ("sqlite:///app.db", "postgresql://localhost/app")
_ASYNC_URLS = ("postgresql+asyncpg://localhost/app", "sqlite+aiosqlite:///app.db")


def example(code: str, title: str = "Example") -> str:
    """The single code block of one section of a rule's docs."""
    (source,) = code_blocks(section(RULES[code], title))
    return source


def use_instead(code: str) -> str:
    return example(code, "Use instead")


def fixed(code: str, source: str | None = None, **targets: str) -> str:
    """The Example after ``sessionlint``'s own fix (unsafe fixes included, this rule only).

    Fails unless the finding was there, was fixed, and is gone from the result."""
    source = example(code) if source is None else source
    outcome = fix_source(source, EXAMPLE_PATH, unsafe=True, select=[code], **targets)
    assert code in {d.code for d in outcome.fixed}, f"sessionlint did not fix {code}"
    assert code not in {d.code for d in outcome.remaining}, outcome.output_text
    return outcome.output_text


def flagged(code: str, source: str, **targets: str) -> bool:
    return code in {d.code for d in lint_source(source, EXAMPLE_PATH, **targets)}


def versions() -> dict[str, str]:
    """The installed versions, as sessionlint targets."""
    import fastapi

    return {"target_fastapi": fastapi.__version__, "target_sqlalchemy": sqlalchemy.__version__}


def fastapi_version() -> Version:
    import fastapi

    return Version(fastapi.__version__)


class Harness:
    """Executes docs examples against a SQLite file of ``tmp_path``."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.db_file = tmp_path / "app.db"
        self.url = f"sqlite:///{self.db_file}"
        self.async_url = f"sqlite+aiosqlite:///{self.db_file}"
        #: Pool options given to every engine the example creates for a file database (a
        #: QueuePool from SQLAlchemy 2.0 on; 1.4 uses a NullPool for SQLite files).
        self.pool: dict[str, Any] = (
            {"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.5}
            if Version(sqlalchemy.__version__) >= Version("2.0")
            else {}
        )
        self.engines: list[Any] = []
        self._monkeypatch = monkeypatch
        real_sync = sqlalchemy.create_engine
        real_async = sqlalchemy.ext.asyncio.create_async_engine

        def create_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
            if str(url) in _SYNC_URLS:
                url, kwargs = self.url, {**self.pool, **kwargs}
            engine = real_sync(url, *args, **kwargs)
            self.engines.append(engine)
            return engine

        def create_async_engine(url: Any, *args: Any, **kwargs: Any) -> Any:
            if str(url) in _ASYNC_URLS:
                url, kwargs = self.async_url, {**self.pool, **kwargs}
            engine = real_async(url, *args, **kwargs)
            self.engines.append(engine)
            return engine

        monkeypatch.setattr(sqlalchemy, "create_engine", create_engine)
        monkeypatch.setattr(sqlalchemy.ext.asyncio, "create_async_engine", create_async_engine)
        self.plain_engine = real_sync(self.url)
        self.engines.append(self.plain_engine)

    def models(self) -> types.ModuleType:
        """``app.models`` (see :func:`models_module`), its tables created in the database."""
        module = models_module()
        module.metadata.create_all(self.plain_engine)
        return module

    def rows(self, table: str, column: str = "name") -> list[Any]:
        return [row[0] for row in self.sql(f"SELECT {column} FROM {table} ORDER BY id")]

    def sql(self, *statements: str) -> list[Any]:
        """Run statements on a connection of the harness's own (committed)."""
        rows: list[Any] = []
        with self.plain_engine.begin() as conn:
            for statement in statements:
                result = conn.exec_driver_sql(statement)
                if result.returns_rows:
                    rows = list(result)
        return rows

    def load(self, source: str, name: str = "app.example") -> dict[str, Any]:
        """Execute ``source`` as the module ``name`` and return its namespace."""
        module = types.ModuleType(name)
        module.__file__ = str(self.tmp_path / "example.py")
        self._monkeypatch.setitem(sys.modules, name, module)
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module.__dict__

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``asyncio.run(main())``, then dispose of the async engines' pools inside the same
        loop (their connections belong to it)."""

        async def wrapper() -> T:
            try:
                return await main()
            finally:
                # let tasks the code left behind (a failed gather's sibling) finish first
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if others:
                    await asyncio.wait(others, timeout=2)
                for engine in self.engines:
                    if hasattr(engine, "sync_engine"):
                        await engine.dispose()

        return asyncio.run(wrapper())

    def close(self) -> None:
        for engine in self.engines:
            if not hasattr(engine, "sync_engine"):
                engine.dispose()


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector.

    A leaked session sits in reference cycles (session <-> transaction, exception tracebacks):
    its connection goes back to the pool only when the cyclic collector happens to run. The
    harm is measured with the collector paused so that the outcome does not depend on when it
    runs; the fixed code must not rely on it at all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


def record(rule: str, case: str, harm: bool) -> None:
    """Append what a test saw to ``$SESSIONLINT_RUNTIME_EVIDENCE`` (used by matrix.py)."""
    target = os.environ.get("SESSIONLINT_RUNTIME_EVIDENCE")
    if not target:
        return
    import fastapi

    entry = {
        "rule": rule,
        "case": case,
        "harm": harm,
        "fastapi": fastapi.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }
    with open(target, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def models_module() -> types.ModuleType:
    """The module ``app.models`` some examples import: SQLModel table models (defined once:
    SQLModel keeps one metadata for the process)."""
    existing = sys.modules.get("app.models")
    if existing is not None:
        return existing
    from sqlmodel import Field, SQLModel

    package = sys.modules.setdefault("app", types.ModuleType("app"))
    package.__path__ = []  # type: ignore[attr-defined]
    module = types.ModuleType("app.models")

    class Item(SQLModel, table=True):
        __tablename__ = "items"
        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(unique=True)

    class User(SQLModel, table=True):
        __tablename__ = "users"
        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(unique=True)

    module.Item = Item  # type: ignore[attr-defined]
    module.User = User  # type: ignore[attr-defined]
    module.metadata = SQLModel.metadata  # type: ignore[attr-defined]
    sys.modules["app.models"] = module
    package.models = module  # type: ignore[attr-defined]
    return module


def drafts_app(app: Any, session_dependency: Callable[..., Any]) -> Any:
    """Two routes: one adds a row and then rejects the request without committing, the other
    adds a row and commits."""
    from fastapi import Depends, HTTPException

    Item = models_module().Item

    @app.post("/drafts")
    def draft(name: str, db: Any = Depends(session_dependency)) -> None:
        db.add(Item(name=name))
        raise HTTPException(status_code=422, detail="rejected")

    @app.post("/items")
    def create(name: str, db: Any = Depends(session_dependency)) -> dict[str, str]:
        db.add(Item(name=name))
        db.commit()
        return {"name": name}

    return app
