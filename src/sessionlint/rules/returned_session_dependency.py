"""SL103 returned-session-dependency."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Replacement, Severity
from sessionlint.model.names import Kind
from sessionlint.model.ownership import Ownership
from sessionlint.rule import Report, Rule

_ITERATORS = {
    False: (
        "Iterator",
        {f"{m}.Iterator" for m in ("typing", "typing_extensions", "collections.abc")},
    ),
    True: (
        "AsyncIterator",
        {f"{m}.AsyncIterator" for m in ("typing", "typing_extensions", "collections.abc")},
    ),
}


class ReturnedSessionDependency(Rule):
    """## What it does
    Flags a FastAPI dependency — a function referenced by `Depends(...)`/`Security(...)`
    anywhere in the project — that `return`s a session it created (`return SessionLocal()`, or
    `db = SessionLocal()` ... `return db`) instead of yielding it. Reported at the `return`.

    ## Why is this bad?
    FastAPI runs the exit code of a dependency only when the dependency is a generator: with
    `return`, nothing ever closes the session. Each request leaves a session behind whose
    connection stays checked out of the pool (with its transaction open) until the garbage
    collector finds it; under load the pool runs dry and requests fail with
    `QueuePool limit ... reached`.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db() -> Session:
        return SessionLocal()


    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    ## Use instead
    ```python
    from collections.abc import Iterator

    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db() -> Iterator[Session]:
        db = SessionLocal()
        try:
            yield db
        finally:
            db.close()


    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    ## Fix safety
    The fix turns the dependency into a generator: the `return` becomes
    `try: yield <name>` / `finally: <name>.close()` (`await <name>.close()` in an `async def`),
    a `return <factory>()` first binds the session to a name, and a return annotation `X`
    becomes `Iterator[X]` (`AsyncIterator[X]`, imported from `collections.abc`). It is offered
    only when that `return` is the function's only `return` and its last statement, and only
    displayed when the project also calls the function directly (those callers would receive a
    generator). It is unsafe: the session is now closed after the response, so code that kept
    ORM objects beyond the request (background work started from the handler) sees them
    detached.

    ## Known problems
    Not flagged: factory helpers that are not dependencies (their callers own the session,
    SL104 unclosed-session checks them); sessions from a `scoped_session` registry (the
    registry owns them); `@lru_cache`/`@cache` functions (SL101 shared-session); a session also
    stored elsewhere before it is returned (`request.state.db = db`: a middleware may close it);
    a session created by `with SessionLocal() as db:` and returned (closed already). A
    dependency whose `Depends(...)` sits in a module outside the linted project is not known to
    be one.

    ## References
    - [FastAPI: dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
    - [SQLAlchemy: opening and closing a session](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session)
    """

    code = "SL103"
    name = "returned-session-dependency"
    summary = "A dependency that returns a new session instead of yielding it"
    severity = Severity.ERROR
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        ownership = Ownership(model, file)
        for function in index.nodes(cst.FunctionDef):
            if (
                index.own_nodes(function, cst.Yield)
                or not model.is_dependency(file, function)
                or model.is_cached(file, function)
            ):
                continue
            for node in index.own_nodes(function, cst.Return):
                created = ownership.new_session(file, function, node)
                if created is None:
                    continue
                call, name = created
                yield Report(
                    node,
                    f"Dependency `{function.name.value}` returns a new session that nothing "
                    "closes: `yield` it and close it in `finally:`",
                    fix=self._fix(ctx, ownership, function, node, call, name),
                )

    # -- the fix ------------------------------------------------------------------------
    def _fix(
        self,
        ctx: FileContext,
        ownership: Ownership,
        function: cst.FunctionDef,
        node: cst.Return,
        call: cst.Call,
        name: str | None,
    ) -> Fix:
        message = "Turn the dependency into a generator: `try: yield ...` / `finally: ....close()`"
        display = Fix(Applicability.DISPLAY_ONLY, message)
        index, module = ctx.index, ctx.module
        line = index.parent(node)
        body = function.body
        if (
            not isinstance(line, cst.SimpleStatementLine)
            or len(line.body) != 1
            or not isinstance(body, cst.IndentedBlock)
            or body.body[-1] is not line
            or len(index.own_nodes(function, cst.Return)) != 1
        ):
            return display
        is_async = function.asynchronous is not None
        async_session = ownership.new_session_kind(ctx.file, call) is Kind.ASYNC
        if async_session and not is_async:
            return display
        if self._called_directly(ctx, function):
            return display
        replacements: list[tuple[cst.CSTNode, Replacement]] = []
        imports: tuple[tuple[str, str | None], ...] = ()
        if function.returns is not None:
            annotated = self._iterator_annotation(ctx, function.returns, is_async)
            if annotated is None:
                return display
            replacements.append((function.returns, annotated[0]))
            imports = annotated[1]
        bound = name
        if bound is None:
            bound = _free_name(ctx, function)
            if bound is None:
                return display
        close = f"await {bound}.close()" if async_session else f"{bound}.close()"
        template = f"try:\n    yield {bound}\nfinally:\n    {close}\n"
        try_node = cst.parse_statement(template, config=module.config_for_parsing)
        assert isinstance(try_node, cst.Try)
        if name is not None:
            try_node = try_node.with_changes(leading_lines=line.leading_lines)
            replacements.append((line, try_node))
        else:
            assign = cst.SimpleStatementLine(
                body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(bound))], value=call)],
                leading_lines=line.leading_lines,
                trailing_whitespace=line.trailing_whitespace,
            )
            replacements.append((line, cst.FlattenSentinel([assign, try_node])))
        return Fix(Applicability.UNSAFE, message, replacements=tuple(replacements), imports=imports)

    @staticmethod
    def _called_directly(ctx: FileContext, function: cst.FunctionDef) -> bool:
        """Some code of the project calls the dependency itself (it would get a generator)."""
        model = ctx.model
        for other in model.files_mentioning(function.name.value):
            for call in other.index.nodes(cst.Call):
                found = model.function_def(other, call.func)
                if found is not None and found[1] is function:
                    return True
        return False

    @staticmethod
    def _iterator_annotation(
        ctx: FileContext, returns: cst.Annotation, is_async: bool
    ) -> tuple[cst.Annotation, tuple[tuple[str, str | None], ...]] | None:
        """``-> X`` becomes ``-> Iterator[X]`` (the import it needs, if any); None when the
        name ``Iterator`` is taken by something else."""
        wanted, qualnames = _ITERATORS[is_async]
        imports: tuple[tuple[str, str | None], ...] = ()
        if ctx.index.module_scope.bindings.get(wanted):
            if ctx.model.qualname(ctx.file, cst.Name(wanted), ctx.module) not in qualnames:
                return None
        else:
            imports = (("collections.abc", wanted),)
        subscript = cst.Subscript(
            value=cst.Name(wanted),
            slice=[cst.SubscriptElement(slice=cst.Index(value=returns.annotation))],
        )
        return returns.with_changes(annotation=subscript), imports


def _free_name(ctx: FileContext, function: cst.FunctionDef) -> str | None:
    """A local name for the session that the function does not use yet."""
    used = {n.value for n in ctx.index.nodes(cst.Name) if ctx.index.is_inside(n, function)}
    return next((c for c in ("db", "session", "db_session") if c not in used), None)
