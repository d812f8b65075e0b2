"""SL102 dependency-without-cleanup."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.rule import Report, Rule


class DependencyWithoutCleanup(Rule):
    """## What it does
    Flags a generator — a FastAPI dependency, or a `@contextmanager` /
    `@asynccontextmanager` function — that creates a session and yields it, where the `yield`
    is neither inside a `try:` whose `finally:` *calls* `close()` on it, nor inside a
    `with` / `async with` over the session (or over `contextlib.closing(...)`, an `ExitStack`
    it was entered into, or `<factory>.begin()`). `finally: db.close` without the call is a
    finding too. Reported at the `yield`.

    ## Why is this bad?
    When the request raises, FastAPI throws the exception into the generator at the `yield`:
    the code after it never runs, and the pooled connection is never returned. After a few
    failing requests the pool is exhausted and every request waits for `pool_timeout`.

    ## Example
    ```python
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def get_db():
        db = SessionLocal()
        yield db
        db.close()
    ```

    ## Use instead
    ```python
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def get_db():
        with SessionLocal() as db:
            yield db
    ```

    ## Fix safety
    The fix wraps the `yield` and the code after it in `try:` / `finally: db.close()`. It is
    safe: closing a session twice is harmless, and on the normal path the same statements run
    in the same order.

    ## Known problems
    Not flagged: `@pytest.fixture` generators (pytest always runs the teardown); generators
    that yield something other than the session they created (a repository wrapping an
    injected session, the factory itself).

    ## References
    - [FastAPI: dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
    - [SQLAlchemy: opening and closing a session](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session)
    """

    code = "SL102"
    name = "dependency-without-cleanup"
    summary = "A session-yielding dependency that does not close the session when the request fails"
    severity = Severity.ERROR
    fix_applicability = Applicability.SAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        for function in index.nodes(cst.FunctionDef):
            yields = index.own_nodes(function, cst.Yield)
            if not yields or model.is_pytest_fixture(file, function):
                continue
            for node in yields:
                value = node.value
                if value is None or isinstance(value, cst.From):
                    continue
                if isinstance(value, cst.Call):
                    if model.creation_kind(file, value) is not None:
                        yield Report(node, "Session created in a `yield` is never closed")
                    continue
                if not isinstance(value, cst.Name):
                    continue
                problem = self._problem(ctx, function, node, value)
                if problem is not None:
                    yield Report(node, problem)

    def _problem(
        self, ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: cst.Name
    ) -> str | None:
        file, model, index = ctx.file, ctx.model, ctx.index
        bindings = [b for b in index.lookup(name.value, node) if b.scope.node is function]
        created = [b for b in bindings if _creates(ctx, b)]
        if not created:
            return None
        if any(isinstance(b.node, cst.WithItem) for b in created):
            return None  # ``with SessionLocal() as db: yield db``
        finally_uncalled = False
        for anc in index.ancestors(node):
            if anc is function:
                break
            if isinstance(anc, cst.Try) and anc.finalbody is not None:
                state = _closes(ctx, anc.finalbody, name.value)
                if state == "called":
                    return None
                finally_uncalled = finally_uncalled or state == "uncalled"
            if isinstance(anc, cst.With) and self._with_protects(ctx, function, anc, name.value):
                return None
        if finally_uncalled:
            return (
                f"`finally` mentions `{name.value}.close` but never calls it: the session "
                "leaks when the request fails"
            )
        del model
        return (
            f"`{name.value}` is yielded without `try`/`finally: {name.value}.close()`: the "
            "session leaks when the request fails"
        )

    def _with_protects(
        self, ctx: FileContext, function: cst.FunctionDef, node: cst.With, name: str
    ) -> bool:
        file, model, index = ctx.file, ctx.model, ctx.index
        for item in node.items:
            expr = item.item
            if isinstance(expr, cst.Name) and expr.value == name:
                return True
            if isinstance(expr, cst.Call):
                qualname = model.callee_qualname(file, expr)
                if qualname in names.CLOSING and any(
                    isinstance(a.value, cst.Name) and a.value.value == name for a in expr.args
                ):
                    return True
                if model.is_begin_with(file, node):
                    return True
                if qualname in names.EXIT_STACKS and item.asname is not None:
                    stack = item.asname.name
                    if isinstance(stack, cst.Name) and _entered(ctx, function, stack.value, name):
                        return True
        del index
        return False


def _creates(ctx: FileContext, binding: Binding) -> bool:
    node = binding.node
    if isinstance(node, cst.WithItem):
        return isinstance(node.item, cst.Call) and (
            ctx.model.with_item_kind(ctx.file, node) is not None
        )
    value = binding.value
    return (
        isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr)
        and isinstance(value, cst.Call)
        and ctx.model.creation_kind(ctx.file, value) is not None
    )


def _closes(ctx: FileContext, block: cst.Finally, name: str) -> str | None:
    """'called' if the block calls ``name.close()``; 'uncalled' if it only mentions it."""
    index = ctx.index
    mentioned = False
    for attr in index.nodes(cst.Attribute):
        if not (
            attr.attr.value == "close"
            and isinstance(attr.value, cst.Name)
            and attr.value.value == name
            and index.is_inside(attr, block)
        ):
            continue
        parent = index.parent(attr)
        if isinstance(parent, cst.Call) and parent.func is attr:
            return "called"
        mentioned = True
    return "uncalled" if mentioned else None


def _entered(ctx: FileContext, function: cst.FunctionDef, stack: str, name: str) -> bool:
    """``stack.enter_context(name)`` or ``stack.callback(name.close)`` in the function."""
    for call in ctx.index.own_nodes(function, cst.Call):
        func = call.func
        if not (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == stack
        ):
            continue
        for arg in call.args:
            value = arg.value
            if isinstance(value, cst.Name) and value.value == name:
                return True
            if (
                isinstance(value, cst.Attribute)
                and isinstance(value.value, cst.Name)
                and value.value.value == name
            ):
                return True
    return False
