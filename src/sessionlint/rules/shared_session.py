"""SL101 shared-session."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model.ownership import Ownership
from sessionlint.rule import Report, Rule


class SharedSession(Rule):
    """## What it does
    Flags one session object shared by all requests and threads: a session created at
    module scope (also inside a module-level `if`/`try`, or as a parameter default, which is
    evaluated once), in a class body, stored on `app.state` / `request.app.state`, or returned
    from an `@lru_cache` / `@cache` function. The creating call is a session class or
    factory, or a project function or method whose every `return` hands out a new session
    (`session = make_session()`, `session = Database().get_session()`). Reported at the call
    that creates it.

    A module-level instance of a project class whose `__init__` (or a project base class's)
    stores a new session on it (`self.session = AsyncSession(engine)`, `self.db =
    SessionLocal()`) is such a session too when a function that runs on every request (a
    route handler, a dependency, or a project function they call) reads it
    (`db = AsyncDatabase()` ... `yield db.session`): reported at the module-level constructor
    call. Like every rule about request-time harm, it is silent in test code, migrations and
    scripts.

    ## Why is this bad?
    A `Session` is not thread-safe and holds one transaction: concurrent requests interleave
    their queries, see each other's uncommitted state, and one failed flush leaves the session
    unusable for everybody until it is rolled back. An `AsyncSession` must not be shared between
    concurrent tasks either.

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("postgresql://localhost/app")
    session = Session(engine)
    app = FastAPI()
    ```

    ## Use instead
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    engine = create_engine("postgresql://localhost/app")
    SessionLocal = sessionmaker(bind=engine)
    app = FastAPI()


    def get_db():
        with SessionLocal() as session:
            yield session
    ```

    ## Known problems
    Not flagged: factories (`sessionmaker`, `async_sessionmaker`), engines, `scoped_session`
    registries (see SL305), code under `if __name__ == "__main__":`, a module-level
    `with Session(engine) as s:` block (it is closed at its end), test files (`test_*.py`,
    `*_test.py`, `conftest.py`), alembic `env.py` and migration versions.

    ## References
    - [SQLAlchemy: Is the Session thread-safe?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#is-the-session-thread-safe-is-asyncsession-safe-to-share-in-concurrent-tasks)
    - [FastAPI: SQL databases](https://fastapi.tiangolo.com/tutorial/sql-databases/)
    """

    code = "SL101"
    name = "shared-session"
    summary = "A session shared by all requests and threads"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = (
        "Create one session per request in a dependency: `with SessionLocal() as db: yield db`"
    )

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        ownership = Ownership(model, file)
        for call in index.nodes(cst.Call):
            # A session class or factory called here, or a project function or method whose
            # every ``return`` hands out a new session (``Database().get_session()``).
            if (
                model.creation_kind(file, call) is None
                and ownership.new_session_kind(file, call) is None
            ):
                report = self._shared_instance(ctx, ownership, call)
                if report is not None:
                    yield report
                continue
            where = self._shared_where(ctx, call)
            if where is not None:
                yield Report(
                    call,
                    f"Session created {where} is shared by every request and thread",
                )

    def _shared_where(self, ctx: FileContext, call: cst.Call) -> str | None:
        file, model, index = ctx.file, ctx.model, ctx.index
        parent = index.parent(call)
        if isinstance(parent, cst.WithItem):
            return None  # ``with Session(engine) as s:`` closes it at the end of the block
        function = index.enclosing_function(call)
        if function is None:
            if model.in_main_block(file, call):
                return None
            if index.scope_of(call).kind == "class":
                return "in a class body"
            return "at module scope"
        if isinstance(parent, cst.Assign) and any(
            self._on_app_state(ctx, t.target) for t in parent.targets
        ):
            return "and stored on app.state"
        if (
            isinstance(function, cst.FunctionDef)
            and model.is_cached(file, function)
            and self._returned(ctx, call, function)
        ):
            return "in a cached function"
        return None

    @staticmethod
    def _shared_instance(ctx: FileContext, ownership: Ownership, call: cst.Call) -> Report | None:
        """``db = AsyncDatabase()`` at module scope, where constructing the project class
        stores a new session on the instance (``self.session = AsyncSession(engine)`` in
        ``__init__``) and ``db.session`` is read by a function that runs on every request."""
        file, model, index = ctx.file, ctx.model, ctx.index
        parent = index.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target: cst.BaseExpression = parent.targets[0].target
        elif isinstance(parent, cst.AnnAssign):
            target = parent.target
        else:
            return None
        if (
            not isinstance(target, cst.Name)
            or index.scope_of(call).kind != "module"
            or model.in_main_block(file, call)
        ):
            return None
        attrs = ownership.constructed_sessions(file, call)
        if not attrs:
            return None
        per_request = model.per_request_functions()
        for attr in attrs:
            for use_file, use in model.attribute_uses(file, target.value, attr):
                function = use_file.index.enclosing_function(use)
                if function is not None and function in per_request:
                    cls = ctx.module.code_for_node(call.func)
                    return Report(
                        call,
                        f"Session created at module scope by `{cls}()` (on "
                        f"`{target.value}.{attr}`) is shared by every request",
                    )
        return None

    @staticmethod
    def _on_app_state(ctx: FileContext, target: cst.BaseExpression) -> bool:
        """``app.state.db`` (``app`` a FastAPI app) or ``request.app.state.db``; not
        ``request.state.db``, which lives for one request."""
        if not (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Attribute)
            and target.value.attr.value == "state"
        ):
            return False
        owner = target.value.value
        if isinstance(owner, cst.Attribute):
            return owner.attr.value == "app"
        return ctx.model.is_app_or_router(ctx.file, owner)

    @staticmethod
    def _returned(ctx: FileContext, call: cst.Call, function: cst.FunctionDef) -> bool:
        index = ctx.index
        parent = index.parent(call)
        if isinstance(parent, cst.Return):
            return True
        if isinstance(parent, cst.Assign):
            names = {t.target.value for t in parent.targets if isinstance(t.target, cst.Name)}
            return any(
                isinstance(r.value, cst.Name) and r.value.value in names
                for r in index.own_nodes(function, cst.Return)
            )
        return False
