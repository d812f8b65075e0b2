"""SL204 commit-after-response."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.rule import Report, Rule

_FIX = Fix(
    Applicability.DISPLAY_ONLY,
    'Commit in the route handler, or use `Depends(..., scope="function")` so the exit code '
    "runs before the response is sent",
)


class CommitAfterResponse(Rule):
    """## What it does
    Flags a request-scoped generator dependency that commits after its `yield`: a
    `commit()` call after the `yield`, or a `with <factory>.begin() as s:` /
    `async with s.begin():` block around the `yield` (it commits when the block ends).
    Reported at the `commit()` call, or at the `with` line for the implicit commit.

    The finding depends on the FastAPI version the project targets: it is reported for
    FastAPI 0.118 and later (and when the version is unknown, which means the newest), and
    for FastAPI before 0.106, where the exit code also ran after the response was sent. It
    is not reported for FastAPI 0.106 to 0.117, which ran the exit code before sending the
    response.

    ## Why is this bad?
    Since FastAPI 0.118 the code after the `yield` of a dependency runs after the response
    has been sent. When that commit fails (a constraint violation, a serialization failure,
    a lost connection) the data is rolled back, but the client already got its `200 OK` and
    believes the change was saved.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    from app.models import Item

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db
            db.commit()


    @app.post("/items")
    def create_item(item: Item, db: Session = Depends(get_db)):
        db.add(item)
        return item
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    from app.models import Item

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.post("/items")
    def create_item(item: Item, db: Session = Depends(get_db)):
        db.add(item)
        db.commit()
        db.refresh(item)
        return item
    ```

    Or keep the unit of work in the dependency and declare every use of it with
    `Depends(get_db, scope="function")` (FastAPI 0.121+), which runs the exit code before the
    response is sent.

    ## Known problems
    Not flagged: dependencies whose every `Depends(...)` reference passes
    `scope="function"` (all references in the project are collected, across modules); exit
    code that only rolls back or closes; generators that are not used as dependencies
    (plain `@contextmanager` functions); FastAPI targets 0.106 to 0.117. A `Depends` written
    in a module that is neither linted nor mentions `Depends` is not seen. No automatic fix:
    the finding suggests `scope="function"` or committing in the handler.

    ## References
    - [FastAPI: dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
    - [FastAPI release notes (0.106.0, 0.118.0, 0.121.0)](https://fastapi.tiangolo.com/release-notes/)
    """

    code = "SL204"
    name = "commit-after-response"
    summary = "A dependency commits after `yield`, after the response was sent"
    severity = Severity.WARNING
    fix_applicability = Applicability.DISPLAY_ONLY

    def check(self, ctx: FileContext) -> Iterator[Report]:
        if ctx.versions.fastapi_in("0.106", "0.118"):
            return  # the exit code runs before the response is sent
        file, model, index = ctx.file, ctx.model, ctx.index
        for function in index.nodes(cst.FunctionDef):
            if not model.is_dependency(file, function):
                continue
            info = model.function_info(file, function)
            if not info.is_generator or not info.unit_of_work:
                continue
            if not self._request_scoped(ctx, function):
                continue
            name = function.name.value
            for call in info.commits_after_yield:
                yield Report(
                    call,
                    f"`{name}` commits after `yield`, once the response is sent: a failed "
                    "commit is never reported",
                    fix=_FIX,
                )
            for block in info.begin_blocks:
                yield Report(
                    block,
                    f"`{name}` yields inside `begin()`, which commits once the response is sent: "
                    "a failed commit is never reported",
                    fix=_FIX,
                )

    @staticmethod
    def _request_scoped(ctx: FileContext, function: cst.FunctionDef) -> bool:
        """Some ``Depends`` of the function keeps the default (request) scope."""
        model = ctx.model
        return any(
            model.depends_scope(call) != "function" for _, call in model.depends_calls_for(function)
        )
