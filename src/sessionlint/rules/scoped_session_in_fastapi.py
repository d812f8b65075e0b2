"""SL305 scoped-session-in-fastapi."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.index import FunctionNode
from sessionlint.model.names import Kind
from sessionlint.model.semantic import call_args, dotted_name, is_load
from sessionlint.rule import Report, Rule


class ScopedSessionInFastapi(Rule):
    """## What it does
    In a project that uses FastAPI, flags a `scoped_session(...)` registry with the default
    thread-local scope (no `scopefunc`, `scopefunc=None`, or a thread identity such as
    `threading.get_ident`), and an `async_scoped_session(...)` or
    `scoped_session(..., scopefunc=...)` registry on which the project never calls (or
    references) `remove()`. Reported at the call that creates the registry.

    ## Why is this bad?
    Thread-local scoping does not match FastAPI's request lifecycle: a sync dependency and
    its endpoint may run on different threadpool threads (each gets its own session, or a
    thread reuses the session of an earlier request), and all `async def` handlers share the
    event loop's thread, so concurrent requests share one session. With a custom `scopefunc`
    the registry keeps one session per scope key until `remove()` is called: without
    `remove()`, every request's session (and its connection and identity map) is kept
    forever.

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import scoped_session, sessionmaker

    engine = create_engine("postgresql://localhost/app")
    Session = scoped_session(sessionmaker(bind=engine))
    app = FastAPI()
    ```

    ## Use instead
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    engine = create_engine("postgresql://localhost/app")
    SessionLocal = sessionmaker(bind=engine)
    app = FastAPI()


    def get_db():
        with SessionLocal() as session:
            yield session
    ```

    ## Known problems
    Not flagged: projects that do not import FastAPI; test files (factory-boy needs a
    `scoped_session`); a registry created inside a function that does not outlive the call:
    kept in a local variable, or `remove()`d in the function's `finally:` (only registries
    created at module level or in a class body, or that a function returns or stores on an
    attribute — `app.state`, `self` —, in a container or in a global, count); a registry with
    an explicit `scopefunc` (a context variable's `.get`, `asyncio.current_task`, ...) when
    the project calls or references `<registry>.remove` anywhere — in a middleware, a
    dependency or a shutdown hook, in any module that imports it; a registry built with
    `**kwargs`; a registry with a `scopefunc` that is not bound to a module-level name (its
    `remove()` calls cannot be found). The rule does not check that the `scopefunc` is really
    bound to the request. "Uses FastAPI" is decided for the whole project: a thread-local
    registry in a worker module (Celery, cron) of a FastAPI project is flagged too; suppress
    it there with `# noqa: SL305`.

    ## References
    - [SQLAlchemy: Contextual/Thread-local Sessions](https://docs.sqlalchemy.org/en/20/orm/contextual.html)
    - [SQLAlchemy: Using asyncio scoped session](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-asyncio-scoped-session)
    - [FastAPI: SQL databases](https://fastapi.tiangolo.com/tutorial/sql-databases/)
    """

    code = "SL305"
    name = "scoped-session-in-fastapi"
    summary = "A scoped_session registry whose scope does not follow FastAPI requests"
    severity = Severity.WARNING
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = (
        "Use a dependency that yields one session per request, "
        "or `remove()` the registry at the end of each request"
    )

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        if not model.uses_fastapi(ctx.versions):
            return
        for call in index.nodes(cst.Call):
            qualname = model.callee_qualname(file, call)
            if qualname not in names.SCOPED_SESSIONS or any(arg.star for arg in call.args):
                continue
            if not _outlives_call(ctx, call):
                continue
            short = qualname.rsplit(".", 1)[-1]
            positional, keywords = call_args(call)
            scopefunc = keywords.get("scopefunc")
            if scopefunc is None and len(positional) > 1:
                scopefunc = positional[1]
            if isinstance(scopefunc, cst.Name) and scopefunc.value == "None":
                scopefunc = None
            if names.SCOPED_SESSIONS[qualname] is Kind.SYNC and (
                scopefunc is None or model.qualname(file, scopefunc) in names.THREAD_SCOPEFUNCS
            ):
                yield Report(
                    call,
                    f"`{short}()` scopes sessions per thread, which does not follow FastAPI "
                    "requests (a dependency and its endpoint may run on different threads; "
                    "async handlers share one thread); use a per-request dependency",
                )
                continue
            if scopefunc is None:
                continue
            registry = _module_name(ctx, call)
            if registry is None or model.attribute_uses(file, registry, "remove"):
                continue
            yield Report(
                call,
                f"The project never calls `{registry}.remove()`: `{short}()` keeps every "
                "scope's session forever",
            )


def _module_name(ctx: FileContext, call: cst.Call) -> str | None:
    """The module-level name the registry is assigned to."""
    statement = ctx.index.parent(call)
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target = statement.targets[0].target
    elif isinstance(statement, cst.AnnAssign):
        target = statement.target
    else:
        return None
    if not isinstance(target, cst.Name) or ctx.index.scope_of(statement).kind != "module":
        return None
    return target.value


def _outlives_call(ctx: FileContext, call: cst.Call) -> bool:
    """The registry built by ``call`` lives longer than one call of the function creating it:
    it is created at module level or in a class body, or a function returns it, yields it,
    stores it on an attribute (``app.state``, ``self``), in a container or in a global. A
    registry that stays in a local variable, or that the function ``remove()``s in a
    ``finally:``, ends with the call."""
    index = ctx.index
    function = index.enclosing_function(call)
    if function is None:
        return True
    parent = index.parent(call)
    if isinstance(parent, cst.Return | cst.Yield):
        return True
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
    elif isinstance(parent, cst.AnnAssign) and parent.value is call:
        target = parent.target
    else:
        return False
    if not isinstance(target, cst.Name):
        return True  # ``app.state.Session = scoped_session(...)``, ``self.registry = ...``
    name = target.value
    if any(
        isinstance(n, cst.NameItem) and n.name.value == name
        for g in index.own_nodes(function, cst.Global)
        for n in g.names
    ):
        return True
    if _removed_in_finally(ctx, function, name):
        return False
    for use in index.own_nodes(function, cst.Name):
        if use.value != name or not is_load(index, use):
            continue
        holder = index.parent(use)
        if isinstance(holder, cst.Return | cst.Yield | cst.Element | cst.DictElement):
            return True
        if (
            isinstance(holder, cst.Assign)
            and holder.value is use
            and any(not isinstance(t.target, cst.Name) for t in holder.targets)
        ):
            return True
    return False


def _removed_in_finally(ctx: FileContext, function: FunctionNode, name: str) -> bool:
    """``function`` calls ``<name>.remove()`` inside a ``finally:`` block."""
    index = ctx.index
    for call in index.own_nodes(function, cst.Call):
        func = call.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "remove"
            and dotted_name(func.value) == name
        ):
            continue
        for anc in index.ancestors(call):
            if anc is function:
                break
            if isinstance(anc, cst.Finally):
                return True
    return False
