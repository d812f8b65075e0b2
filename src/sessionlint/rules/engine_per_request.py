"""SL401 engine-per-request."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.rule import Report, Rule

_CREATE_ENGINE = names.CREATE_ENGINE | names.CREATE_ASYNC_ENGINE


class EnginePerRequest(Rule):
    """## What it does
    Flags `create_engine(...)` / `create_async_engine(...)` called in a route handler, in a
    dependency (also the `__init__` of a class used as `Depends()`), or in a function of the
    project that a handler or dependency calls, directly or through further calls.
    Reported at the call.

    ## Why is this bad?
    An engine owns a connection pool. Building one per request opens a new database
    connection (TCP, TLS, authentication) for every request, defeats pooling, and — since
    nothing disposes the engine — leaks the pool's connections until the database refuses new
    ones. Create the engine once, at import time or in the lifespan, and share it.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    app = FastAPI()


    def get_db():
        engine = create_engine("postgresql://localhost/app")
        with Session(engine) as db:
            yield db


    @app.get("/items")
    def list_items(db: Session = Depends(get_db)):
        return []
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("postgresql://localhost/app")
    app = FastAPI()


    def get_db():
        with Session(engine) as db:
            yield db


    @app.get("/items")
    def list_items(db: Session = Depends(get_db)):
        return []
    ```

    ## Known problems
    Not flagged: module-level engines; lifespan functions and startup/shutdown handlers
    (they run once); `@lru_cache` / `@cache` functions and everything only they call; lazy
    singletons (`global _engine` and `if _engine is None: _engine = create_engine(...)`, or
    an attribute or dict entry checked by an `if` of the same function); pytest fixtures and
    test files; `main()` functions and CLI entry points; a `sessionmaker` rebuilt per
    request over a shared engine (cheap). Calls through attributes (`self.helper()`,
    `service.build()`) are not followed; route handlers are looked for in the linted files
    and in the project files that mention `Depends`.

    ## References
    - [SQLAlchemy: engine configuration](https://docs.sqlalchemy.org/en/20/core/engines.html)
    - [SQLAlchemy: connection pooling](https://docs.sqlalchemy.org/en/20/core/pooling.html)
    - [FastAPI: lifespan events](https://fastapi.tiangolo.com/advanced/events/)
    """

    code = "SL401"
    name = "engine-per-request"
    summary = "An engine (and its connection pool) is created on every request"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = "Create the engine once (module level or the lifespan) and reuse it"

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        calls = [
            call
            for call in index.nodes(cst.Call)
            if model.callee_qualname(file, call) in _CREATE_ENGINE
        ]
        if not calls:
            return
        per_request = model.per_request_functions()
        for call in calls:
            function = index.enclosing_function(call)
            if function is None or function not in per_request:
                continue
            if model.is_lazy_init(file, call):
                continue
            assert isinstance(function, cst.FunctionDef)
            yield Report(call, self._message(ctx, call, function, per_request[function][1]))

    @staticmethod
    def _message(
        ctx: FileContext, call: cst.Call, function: cst.FunctionDef, root: cst.FunctionDef
    ) -> str:
        callee = ctx.file.module.code_for_node(call.func)
        where = f"`{function.name.value}`"
        if root is not function:
            where += f" (per request via `{root.name.value}`)"
        return f"`{callee}()` in {where} builds a new engine on every request"
