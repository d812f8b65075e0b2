"""SL301 blocking-session-in-async."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.names import Kind
from sessionlint.model.semantic import method_call
from sessionlint.rule import Report, Rule


class BlockingSessionInAsync(Rule):
    """## What it does
    Inside an `async def` (the nearest enclosing function), flags each call of an I/O method
    of a *sync* session (`execute`, `exec`, `scalars`, `scalar`, `get`, `get_one`, `query`,
    `commit`, `flush`, `refresh`, `rollback`, `close`, `delete`, `merge`, `connection`,
    `begin_nested`, `bulk_*`), and each call of a project function that receives the sync
    session and does such I/O on it (directly or through further calls). Reported at each call.

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


    @app.get("/health")
    async def health(db: Session = Depends(get_db)):
        db.execute(text("SELECT 1"))
        return {"ok": True}
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


    @app.get("/health")
    def health(db: Session = Depends(get_db)):
        db.execute(text("SELECT 1"))
        return {"ok": True}
    ```

    ## Fix safety
    The fix turns `async def` into `def` (FastAPI then runs the endpoint in its threadpool).
    It is unsafe: callers that `await` the function break, and it is only offered when the
    function contains no `await`, `async for` or `async with`.

    ## Known problems
    Not flagged: sync `def` functions (FastAPI runs them in a threadpool); code in a nested
    sync `def`, `lambda` or `functools.partial` handed to `run_in_threadpool`,
    `asyncio.to_thread`, `anyio.to_thread.run_sync` or `AsyncSession.run_sync`; `add`,
    `add_all`, `expunge`, `expire` (no I/O); `AsyncSession` calls.

    ## References
    - [FastAPI: async and sync path operation functions](https://fastapi.tiangolo.com/async/#path-operation-functions)
    - [SQLAlchemy: asyncio extension](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html)
    """

    code = "SL301"
    name = "blocking-session-in-async"
    summary = "A sync session doing I/O inside async def blocks the event loop"
    severity = Severity.ERROR
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index

        def is_sync_session(expr: cst.BaseExpression) -> bool:
            return model.session_kind(file, expr) is Kind.SYNC

        for function in index.nodes(cst.FunctionDef):
            if function.asynchronous is None:
                continue
            for call in index.own_nodes(function, cst.Call):
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
                        )
                        break
