"""Qualified names of the SQLAlchemy, SQLModel, FastAPI and stdlib APIs sessionlint knows.

Identity is by qualified name, never by spelling: ``from sqlalchemy.orm import Session as S``
and ``import sqlalchemy.orm as orm; orm.Session`` both resolve to ``sqlalchemy.orm.Session``.
Public re-export paths and the defining modules are both listed.
"""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    """Which kind of session an expression holds."""

    SYNC = "sync"
    ASYNC = "async"


SESSION_CLASSES: dict[str, Kind] = {
    "sqlalchemy.orm.Session": Kind.SYNC,
    "sqlalchemy.orm.session.Session": Kind.SYNC,
    "sqlmodel.Session": Kind.SYNC,
    "sqlmodel.orm.session.Session": Kind.SYNC,
    "sqlalchemy.ext.asyncio.AsyncSession": Kind.ASYNC,
    "sqlalchemy.ext.asyncio.session.AsyncSession": Kind.ASYNC,
    "sqlmodel.ext.asyncio.session.AsyncSession": Kind.ASYNC,
}

#: Calling one of these builds a session *factory* (calling the factory gives a session).
SESSIONMAKERS: dict[str, Kind] = {
    "sqlalchemy.orm.sessionmaker": Kind.SYNC,
    "sqlalchemy.orm.session.sessionmaker": Kind.SYNC,
    "sqlalchemy.ext.asyncio.async_sessionmaker": Kind.ASYNC,
    "sqlalchemy.ext.asyncio.session.async_sessionmaker": Kind.ASYNC,
}

#: Calling one of these builds a scoped *registry* (calling the registry gives a session).
SCOPED_SESSIONS: dict[str, Kind] = {
    "sqlalchemy.orm.scoped_session": Kind.SYNC,
    "sqlalchemy.orm.scoping.scoped_session": Kind.SYNC,
    "sqlalchemy.ext.asyncio.async_scoped_session": Kind.ASYNC,
    "sqlalchemy.ext.asyncio.scoping.async_scoped_session": Kind.ASYNC,
}

CREATE_ENGINE = frozenset(
    {
        "sqlalchemy.create_engine",
        "sqlalchemy.engine.create_engine",
        "sqlalchemy.engine.create.create_engine",
        "sqlmodel.create_engine",
    }
)
CREATE_ASYNC_ENGINE = frozenset(
    {
        "sqlalchemy.ext.asyncio.create_async_engine",
        "sqlalchemy.ext.asyncio.engine.create_async_engine",
    }
)

TEXT = frozenset(
    {"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "sqlmodel.text"}
)

#: Other functions that build an engine (their result is an engine, like ``create_engine``).
ENGINE_FROM_CONFIG = frozenset(
    {
        "sqlalchemy.engine_from_config",
        "sqlalchemy.engine.engine_from_config",
        "sqlalchemy.engine.create.engine_from_config",
    }
)
ASYNC_ENGINE_FROM_CONFIG = frozenset(
    {
        "sqlalchemy.ext.asyncio.async_engine_from_config",
        "sqlalchemy.ext.asyncio.engine.async_engine_from_config",
    }
)
#: Engine and connection classes (annotations that make a name an engine / a connection).
ENGINE_CLASSES: dict[str, Kind] = {
    "sqlalchemy.Engine": Kind.SYNC,
    "sqlalchemy.engine.Engine": Kind.SYNC,
    "sqlalchemy.engine.base.Engine": Kind.SYNC,
    "sqlalchemy.future.Engine": Kind.SYNC,
    "sqlalchemy.future.engine.Engine": Kind.SYNC,
    "sqlalchemy.ext.asyncio.AsyncEngine": Kind.ASYNC,
    "sqlalchemy.ext.asyncio.engine.AsyncEngine": Kind.ASYNC,
}
CONNECTION_CLASSES: dict[str, Kind] = {
    "sqlalchemy.Connection": Kind.SYNC,
    "sqlalchemy.engine.Connection": Kind.SYNC,
    "sqlalchemy.engine.base.Connection": Kind.SYNC,
    "sqlalchemy.future.Connection": Kind.SYNC,
    "sqlalchemy.future.engine.Connection": Kind.SYNC,
    "sqlalchemy.ext.asyncio.AsyncConnection": Kind.ASYNC,
    "sqlalchemy.ext.asyncio.engine.AsyncConnection": Kind.ASYNC,
}
#: Modules whose exceptions SQLAlchemy raises from ``flush()``/``commit()`` (SL202).
SQLALCHEMY_EXCEPTION_MODULES = ("sqlalchemy.exc.", "sqlalchemy.orm.exc.")
#: Session methods that end a failed transaction (``rollback()`` or a reset) (SL202).
SESSION_RESET_METHODS = frozenset({"rollback", "close", "invalidate", "reset"})

#: DML statement constructors: ``execute(insert(...))`` is a write.
DML_CONSTRUCTORS = frozenset(
    {
        f"{mod}.{fn}"
        for mod in ("sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression", "sqlmodel")
        for fn in ("insert", "update", "delete")
    }
    | {
        "sqlalchemy.dialects.postgresql.insert",
        "sqlalchemy.dialects.sqlite.insert",
        "sqlalchemy.dialects.mysql.insert",
    }
)

FASTAPI_APPS = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI"})
FASTAPI_ROUTERS = frozenset({"fastapi.APIRouter", "fastapi.routing.APIRouter"})
#: The request objects whose ``.state`` a middleware or dependency can fill.
REQUESTS = frozenset(
    {
        "fastapi.Request",
        "fastapi.requests.Request",
        "starlette.requests.Request",
        "fastapi.requests.HTTPConnection",
        "starlette.requests.HTTPConnection",
        "fastapi.WebSocket",
        "fastapi.websockets.WebSocket",
        "starlette.websockets.WebSocket",
    }
)
#: Unannotated parameter names taken for the request in handlers, middleware and dependencies.
REQUEST_PARAM_NAMES = frozenset({"request", "req"})
DEPENDS = frozenset(
    {
        "fastapi.Depends",
        "fastapi.Security",
        "fastapi.params.Depends",
        "fastapi.params.Security",
        "fastapi.param_functions.Depends",
        "fastapi.param_functions.Security",
    }
)
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route", "websocket"}
)
ADD_ROUTE_METHODS = frozenset({"add_api_route", "add_api_websocket_route"})

ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
#: ``ClassVar[X]`` in a class body declares a class attribute of type X.
CLASSVAR = frozenset({"typing.ClassVar", "typing_extensions.ClassVar"})
UNION = frozenset({"typing.Union", "typing_extensions.Union"})
TYPE_ALIAS = frozenset({"typing.TypeAlias", "typing_extensions.TypeAlias"})
GENERATOR_TYPES = frozenset(
    {
        f"{mod}.{name}"
        for mod in ("typing", "typing_extensions", "collections.abc")
        for name in (
            "Generator",
            "Iterator",
            "Iterable",
            "AsyncGenerator",
            "AsyncIterator",
            "AsyncIterable",
        )
    }
)

CONTEXTMANAGERS = frozenset({"contextlib.contextmanager", "contextlib.asynccontextmanager"})
CLOSING = frozenset({"contextlib.closing", "contextlib.aclosing"})
EXIT_STACKS = frozenset({"contextlib.ExitStack", "contextlib.AsyncExitStack"})
PYTEST_FIXTURES = frozenset({"pytest.fixture", "pytest_asyncio.fixture", "pytest.yield_fixture"})
CACHES = frozenset({"functools.lru_cache", "functools.cache"})

#: Callables that run a sync function in a worker thread: code handed to them may block.
THREAD_OFFLOADERS = frozenset(
    {
        "starlette.concurrency.run_in_threadpool",
        "fastapi.concurrency.run_in_threadpool",
        "asyncio.to_thread",
        "anyio.to_thread.run_sync",
        "asyncer.asyncify",
    }
)
PARTIAL = frozenset({"functools.partial"})

#: Methods of a sync session that do I/O (block the event loop when called from async code).
#: Not ``add``/``delete``/``expunge``/``expire``/``begin_nested``: no I/O of their own (the
#: ``flush``/``commit``/query after them is what blocks).
SYNC_IO_METHODS = frozenset(
    {
        "execute",
        "exec",
        "scalars",
        "scalar",
        "get",
        "get_one",
        "query",
        "commit",
        "flush",
        "refresh",
        "rollback",
        "close",
        "merge",
        "connection",
        "bulk_save_objects",
        "bulk_insert_mappings",
        "bulk_update_mappings",
    }
)

#: Coroutine methods of an async session (must be awaited).
ASYNC_COROUTINE_METHODS = frozenset(
    {
        "execute",
        "scalars",
        "scalar",
        "get",
        "get_one",
        "stream",
        "stream_scalars",
        "commit",
        "flush",
        "refresh",
        "rollback",
        "close",
        "delete",
        "merge",
        "run_sync",
        "connection",
        "invalidate",
        "exec",
    }
)
#: Plain (non-coroutine) methods of an async session: ``await`` on them is a bug.
ASYNC_SYNC_METHODS = frozenset(
    {"add", "add_all", "expunge", "expunge_all", "expire", "expire_all", "in_transaction"}
)

#: Session methods that write (SL201).
WRITE_METHODS = frozenset(
    {
        "add",
        "add_all",
        "delete",
        "merge",
        "bulk_save_objects",
        "bulk_insert_mappings",
        "bulk_update_mappings",
    }
)
EXECUTE_METHODS = frozenset({"execute", "exec"})

#: Work that outlives the request (SL105): FastAPI/Starlette background tasks, threads,
#: executors, event-loop helpers.
BACKGROUND_TASKS = frozenset(
    {
        "fastapi.BackgroundTasks",
        "fastapi.background.BackgroundTasks",
        "starlette.background.BackgroundTasks",
    }
)
BACKGROUND_TASK = frozenset({"starlette.background.BackgroundTask"})
THREADS = frozenset({"threading.Thread", "threading.Timer"})
EXECUTORS = frozenset(
    {
        f"concurrent.futures.{cls}"
        for cls in ("Executor", "ThreadPoolExecutor", "ProcessPoolExecutor")
    }
    | {
        "concurrent.futures.thread.ThreadPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
        "concurrent.futures._base.Executor",
    }
)
EVENT_LOOP_GETTERS = frozenset(
    {
        "asyncio.get_running_loop",
        "asyncio.get_event_loop",
        "asyncio.events.get_running_loop",
        "asyncio.events.get_event_loop",
        "asyncio.new_event_loop",
    }
)
#: Functions that block until the futures they receive are done.
FUTURE_WAITERS = frozenset(
    {
        "concurrent.futures.wait",
        "concurrent.futures.as_completed",
        "concurrent.futures._base.wait",
        "concurrent.futures._base.as_completed",
    }
)

#: SQLAlchemy's StaticPool (SL402).
STATIC_POOL = frozenset(
    {
        "sqlalchemy.StaticPool",
        "sqlalchemy.pool.StaticPool",
        "sqlalchemy.pool.impl.StaticPool",
        "sqlmodel.StaticPool",
        "sqlmodel.pool.StaticPool",
    }
)

#: asyncio functions that run several awaitables at the same time (SL303).
CONCURRENT_RUNNERS = frozenset(
    {
        "asyncio.gather",
        "asyncio.tasks.gather",
        "asyncio.wait",
        "asyncio.tasks.wait",
        "asyncio.as_completed",
        "asyncio.tasks.as_completed",
    }
)
#: Functions that start a task running concurrently with the caller (SL303).
TASK_SPAWNERS = frozenset(
    {
        "asyncio.create_task",
        "asyncio.tasks.create_task",
        "asyncio.ensure_future",
        "asyncio.tasks.ensure_future",
    }
)
TASK_GROUPS = frozenset(
    {"asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup", "anyio.create_task_group"}
)
#: A ``scopefunc`` that scopes a registry per thread, like the default (SL305).
THREAD_SCOPEFUNCS = frozenset(
    {
        "threading.get_ident",
        "_thread.get_ident",
        "threading.current_thread",
        "threading.get_native_id",
    }
)
