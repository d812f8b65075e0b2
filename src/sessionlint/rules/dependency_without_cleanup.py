"""SL102 dependency-without-cleanup."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Replacement, Severity
from sessionlint.edits import call_statement, is_method_call_statement, statement_in_block
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.model.names import Kind
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
    The fix wraps the `yield` and the statements after it in the same block in `try:` /
    `finally: db.close()` (`await db.close()` for an `AsyncSession` in an async generator). A
    `db.close()` that ended the block becomes the `finally` body; a `try` around the `yield`
    that has `except` handlers but no `finally` gets the `finally` (the handlers still run
    before the close); a bare `db.close` in `finally` is called; `yield SessionLocal()` is first
    bound to a name. It is safe: on the normal path the same statements run in the same order,
    and closing a session twice is harmless. A `yield` inside a loop or on a one-line suite,
    and an async session in a sync generator, get a suggestion only.

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
                    kind = model.creation_kind(file, value)
                    if kind is not None:
                        yield Report(
                            node,
                            "Session created in a `yield` is never closed",
                            fix=_created_in_yield_fix(ctx, function, node, value, kind),
                        )
                    continue
                if not isinstance(value, cst.Name):
                    continue
                problem = self._problem(ctx, function, node, value)
                if problem is not None:
                    yield Report(node, problem, fix=_cleanup_fix(ctx, function, node, value.value))

    def _problem(
        self, ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: cst.Name
    ) -> str | None:
        model, index = ctx.model, ctx.index
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


# -- the fix ------------------------------------------------------------------------------------
#
# The yield's statement and the statements after it in the same block go into
# ``try:`` / ``finally: <name>.close()``. A trailing ``<name>.close()`` of that block becomes the
# ``finally`` body instead of being repeated; when the ``yield`` sits directly in a ``try`` that
# has handlers but no ``finally``, the ``finally`` is added to that ``try`` (its handlers keep
# running before the close). Inside a loop, or on a one-line suite, the fix is a suggestion only.


def _display(name: str) -> Fix:
    return Fix(
        Applicability.DISPLAY_ONLY,
        f"Close `{name}` in a `finally:` around the `yield`, or create it with "
        f"`with ... as {name}:`",
    )


def _close_awaited(function: cst.FunctionDef, kind: Kind | None) -> bool | None:
    """Whether the close must be awaited; None when no correct close can be written here."""
    if kind is Kind.SYNC:
        return False
    if kind is Kind.ASYNC and function.asynchronous is not None:
        return True
    return None


def _created_kind(
    ctx: FileContext, function: cst.FunctionDef, at: cst.CSTNode, name: str
) -> Kind | None:
    kinds: set[Kind | None] = set()
    for binding in ctx.index.lookup(name, at):
        if binding.scope.node is not function or not _creates(ctx, binding):
            continue
        value = binding.value
        kinds.add(ctx.model.creation_kind(ctx.file, value) if isinstance(value, cst.Call) else None)
    return kinds.pop() if len(kinds) == 1 else None


def _cleanup_fix(ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: str) -> Fix:
    awaited = _close_awaited(function, _created_kind(ctx, function, node, name))
    if awaited is None:
        return _display(name)
    close = "await " if awaited else ""
    repaired = _call_bare_close(ctx, function, node, name, awaited)
    if repaired is not None:
        return Fix(
            Applicability.SAFE,
            f"Call `{close}{name}.close()` in `finally`",
            replacements=((repaired, _close_call(name, awaited)),),
        )
    replacements = _wrap(ctx, function, node, name, awaited)
    if replacements is None:
        return _display(name)
    return Fix(
        Applicability.SAFE,
        f"Wrap the `yield` in `try`/`finally: {close}{name}.close()`",
        replacements=replacements,
    )


def _close_call(name: str, awaited: bool) -> cst.BaseExpression:
    call = cst.Call(func=cst.Attribute(value=cst.Name(name), attr=cst.Name("close")))
    return cst.Await(expression=call) if awaited else call


def _call_bare_close(
    ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: str, awaited: bool
) -> cst.Attribute | None:
    """A bare ``name.close`` statement in a ``finally`` around the yield (to be called)."""
    index = ctx.index
    for anc in index.ancestors(node):
        if anc is function:
            return None
        if not (isinstance(anc, cst.Try) and anc.finalbody is not None):
            continue
        for attr in index.nodes(cst.Attribute):
            if (
                attr.attr.value == "close"
                and isinstance(attr.value, cst.Name)
                and attr.value.value == name
                and isinstance(index.parent(attr), cst.Expr)
                and index.is_inside(attr, anc.finalbody)
                and index.enclosing_function(attr) is function
            ):
                return attr
    return None


def _wrap(
    ctx: FileContext,
    function: cst.FunctionDef,
    node: cst.Yield,
    name: str,
    awaited: bool,
    assignment: cst.SimpleStatementLine | None = None,
) -> tuple[tuple[cst.CSTNode, Replacement], ...] | None:
    index = ctx.index
    found = statement_in_block(index, node)
    if found is None:
        return None
    block, statement = found
    for anc in index.ancestors(statement):
        if anc is function:
            break
        if isinstance(anc, cst.For | cst.While):
            return None  # closing inside a loop body would change what later iterations see
    position = next(i for i, s in enumerate(block.body) if s is statement)
    parent = index.parent(block)
    if (
        assignment is None
        and isinstance(parent, cst.Try)
        and parent.body is block
        and parent.finalbody is None
        and parent.handlers
    ):
        return _add_finally(ctx, parent, name, awaited)
    wrapped = list(block.body[position:])
    last = wrapped[-1]
    if len(wrapped) > 1 and is_method_call_statement(last, name, "close", awaited=awaited):
        wrapped.pop()
        assert isinstance(last, cst.SimpleStatementLine)
        final_lines = last.leading_lines
        close = last.with_changes(leading_lines=())
    else:
        final_lines, close = (), call_statement(name, "close", awaited=awaited)
    first = wrapped[0]
    assert isinstance(first, cst.SimpleStatementLine)
    lines = first.leading_lines
    if assignment is not None:
        lines = ()
    attempt = cst.Try(
        body=cst.IndentedBlock(
            body=[first.with_changes(leading_lines=()), *wrapped[1:]], indent=block.indent
        ),
        finalbody=cst.Finally(
            body=cst.IndentedBlock(body=[close], indent=block.indent), leading_lines=final_lines
        ),
        leading_lines=lines,
    )
    before = list(block.body[:position])
    if assignment is not None:
        before.append(assignment.with_changes(leading_lines=first.leading_lines))
    return ((block, block.with_changes(body=[*before, attempt])),)


def _add_finally(
    ctx: FileContext, node: cst.Try, name: str, awaited: bool
) -> tuple[tuple[cst.CSTNode, Replacement], ...]:
    """``finally: name.close()`` on a ``try`` that only has handlers; a ``name.close()`` right
    after that ``try`` moves into the ``finally``."""
    outer = ctx.index.parent(node)
    following: cst.BaseStatement | None = None
    if isinstance(outer, cst.IndentedBlock):
        position = next(i for i, s in enumerate(outer.body) if s is node)
        if position + 1 < len(outer.body) and is_method_call_statement(
            outer.body[position + 1], name, "close", awaited=awaited
        ):
            following = outer.body[position + 1]
    indent = node.body.indent if isinstance(node.body, cst.IndentedBlock) else None
    if isinstance(following, cst.SimpleStatementLine):
        close = following.with_changes(leading_lines=())
        final = cst.Finally(
            body=cst.IndentedBlock(body=[close], indent=indent),
            leading_lines=following.leading_lines,
        )
        return ((node, node.with_changes(finalbody=final)), (following, cst.RemovalSentinel.REMOVE))
    final = cst.Finally(
        body=cst.IndentedBlock(body=[call_statement(name, "close", awaited=awaited)], indent=indent)
    )
    return ((node, node.with_changes(finalbody=final)),)


def _free_name(ctx: FileContext, function: cst.FunctionDef) -> str | None:
    """A name for the session that nothing in or around ``function`` uses."""
    index = ctx.index
    used = {n.value for n in index.nodes(cst.Name) if index.is_inside(n, function)}
    scope = index.scopes[function]
    for candidate in ("db", "session", "db_session"):
        if candidate not in used and not index.lookup(candidate, scope):
            return candidate
    return None


def _created_in_yield_fix(
    ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, call: cst.Call, kind: Kind
) -> Fix:
    """``yield SessionLocal()`` -> ``db = SessionLocal()`` / ``try: yield db`` / ``finally:``."""
    name = _free_name(ctx, function)
    awaited = _close_awaited(function, kind)
    parent = ctx.index.parent(node)
    if (
        name is None
        or awaited is None
        or not isinstance(parent, cst.Expr)
        or not isinstance(ctx.index.parent(parent), cst.SimpleStatementLine)
    ):
        return _display(name or "the session")
    statement = ctx.index.parent(parent)
    assert isinstance(statement, cst.SimpleStatementLine)
    if len(statement.body) != 1:
        return _display(name)
    assignment = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=call)]
    )
    renamed = statement.with_changes(
        body=[parent.with_changes(value=node.with_changes(value=cst.Name(name)))]
    )
    replacements = _wrap(ctx, function, node, name, awaited, assignment)
    if replacements is None:
        return _display(name)
    # The wrapped statement is the renamed one: swap it in the new block.
    ((block, new_block),) = replacements
    assert isinstance(new_block, cst.IndentedBlock)
    attempt = new_block.body[-1]
    assert isinstance(attempt, cst.Try) and isinstance(attempt.body, cst.IndentedBlock)
    body = [renamed.with_changes(leading_lines=()), *attempt.body.body[1:]]
    attempt = attempt.with_changes(body=attempt.body.with_changes(body=body))
    new_block = new_block.with_changes(body=[*new_block.body[:-1], attempt])
    close = "await " if awaited else ""
    return Fix(
        Applicability.SAFE,
        f"Bind the session to `{name}` and close it in `finally: {close}{name}.close()`",
        replacements=((block, new_block),),
    )
