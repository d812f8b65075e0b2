"""SL301 blocking-session-in-async."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.names import Kind
from sessionlint.model.semantic import method_call
from sessionlint.rule import Report, Rule


class BlockingSessionInAsync(Rule):
    """## What it does
    Inside an `async def` (the nearest enclosing function), flags each call of an I/O method
    of a *sync* session (`execute`, `exec`, `scalars`, `scalar`, `get`, `get_one`, `query`,
    `commit`, `flush`, `refresh`, `rollback`, `close`, `merge`, `connection`, `bulk_*`),
    and each call of a project function that receives the sync
    session and does such I/O on it (directly or through further calls). Reported at each call.

    The session may be a parameter (annotated, `Annotated[Session, Depends(...)]`, a type
    alias, or a default such as `db=SessionDep` where `SessionDep = Depends(get_db)`), a local,
    `self.<name>` (or `cls.<name>` in a `@classmethod`) that the class or a project base class
    declares (`session: Session`, `ClassVar[Session]`), assigns a session in its body
    (`session = SessionLocal()`) or stores in a method (`self.session = db` with
    `db: Session`, `cls.session = SessionLocal()`), or request state — `request.state.<name>`,
    `request.scope["state"]["<name>"]`, `scope["state"]["<name>"]` — when an HTTP middleware,
    a pure ASGI middleware (`async def __call__(self, scope, receive, send)`) or a dependency
    of the project stores a sync session there (so a `request.state.db.close()` in an `async
    def` middleware is reported too). The request is a parameter annotated `Request` (also
    `HTTPConnection`, `WebSocket`; any import spelling), or an unannotated parameter named
    `request`/`req` of a route handler, middleware or dependency: `thing.state.db` of any
    other object is not request state. Like every rule about request-time harm, it is silent
    in test code, migrations and scripts.

    ## Why is this bad?
    A sync session talks to the database on the calling thread. Inside `async def` that thread
    runs the event loop: while the query waits for the database, no other request of the
    worker makes progress. Under load every request stalls behind the slowest query.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.get("/orders/count")
    async def count_orders(db: Session = Depends(get_db)):
        return db.execute(text("SELECT count(*) FROM orders")).scalar_one()
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.get("/orders/count")
    def count_orders(db: Session = Depends(get_db)):
        return db.execute(text("SELECT count(*) FROM orders")).scalar_one()
    ```

    ## Fix safety
    The fix turns `async def` into `def` (FastAPI then runs the endpoint in its threadpool).
    It is unsafe: code that expects a coroutine function breaks. It is only offered when the
    function contains no `await`, `async for`, `async with` or async comprehension of its own,
    is neither an `@asynccontextmanager` nor a special method, and is not called in the same
    file; otherwise the suggestion is to use an `AsyncSession` or to move the blocking work
    out of the `async def`.

    ## Known problems
    Not flagged: sync `def` functions (FastAPI runs them in a threadpool); code in a nested
    sync `def`, `lambda` or `functools.partial` handed to `run_in_threadpool`,
    `asyncio.to_thread`, `anyio.to_thread.run_sync` or `AsyncSession.run_sync`; `add`,
    `add_all`, `expunge`, `expire`, `delete` and `begin_nested` (no I/O of their own: the
    `flush`, `commit` or query after them is reported); `AsyncSession` calls.

    ## References
    - [FastAPI: async and sync path operation functions](https://fastapi.tiangolo.com/async/#path-operation-functions)
    - [SQLAlchemy: asyncio extension](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html)
    """

    code = "SL301"
    name = "blocking-session-in-async"
    summary = "A sync session doing I/O inside async def blocks the event loop"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index

        def is_sync_session(expr: cst.BaseExpression) -> bool:
            return model.session_kind(file, expr) is Kind.SYNC

        for function in index.nodes(cst.FunctionDef):
            if function.asynchronous is None:
                continue
            fix: Fix | None = None
            for call in index.own_nodes(function, cst.Call):
                if fix is None:
                    fix = _sync_def_fix(ctx, function)
                method = method_call(call)
                if (
                    method is not None
                    and method[1] in names.SYNC_IO_METHODS
                    and is_sync_session(method[0])
                ):
                    receiver = file.module.code_for_node(method[0])
                    yield Report(
                        call,
                        f"`{receiver}.{method[1]}()` on a sync session blocks the event loop "
                        f"inside `async def {function.name.value}`",
                        fix=fix,
                    )
                    continue
                for callee_file, callee, param in model.session_arguments(
                    file, call, is_sync_session
                ):
                    if model.helper_does_io(callee_file, callee, param):
                        yield Report(
                            call,
                            f"`{callee.name.value}()` does blocking I/O on the sync session "
                            f"it receives, inside `async def {function.name.value}`",
                            fix=fix,
                        )
                        break


def _sync_def_fix(ctx: FileContext, function: cst.FunctionDef) -> Fix:
    """``async def`` -> ``def`` when nothing in the function needs the event loop."""
    name = function.name.value
    display = Fix(
        Applicability.DISPLAY_ONLY,
        f"Use an `AsyncSession`, or move the blocking work out of `async def {name}` "
        "(a sync `def`, or `run_in_threadpool`)",
    )
    if function.asynchronous is None or _needs_async(ctx, function):
        return display
    return Fix(
        Applicability.UNSAFE,
        f"Make `{name}` a sync `def` (FastAPI runs it in a threadpool)",
        replacements=((function.asynchronous, cst.RemovalSentinel.REMOVE),),
    )


def _needs_async(ctx: FileContext, function: cst.FunctionDef) -> bool:
    """The function awaits, iterates or enters asynchronously, is an async context manager or
    a special method (``__aenter__``...), or is called in this file (its callers expect a
    coroutine): turning it into ``def`` would break those."""
    file, model, index = ctx.file, ctx.model, ctx.index
    if index.own_nodes(function, cst.Await):
        return True
    if (
        any(n.asynchronous is not None for n in index.own_nodes(function, cst.For))
        or any(n.asynchronous is not None for n in index.own_nodes(function, cst.With))
        or any(n.asynchronous is not None for n in index.own_nodes(function, cst.CompFor))
    ):
        return True
    name = function.name.value
    if model.is_contextmanager(file, function) or (name.startswith("__") and name.endswith("__")):
        return True
    for call in index.nodes(cst.Call):
        func = call.func
        if (isinstance(func, cst.Name) and func.value == name) or (
            isinstance(func, cst.Attribute) and func.attr.value == name
        ):
            return True
    return False
