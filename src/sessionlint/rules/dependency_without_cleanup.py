"""SL102 dependency-without-cleanup."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Replacement, Severity
from sessionlint.edits import call_statement, is_method_call_statement, statement_in_block
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.model.names import Kind
from sessionlint.model.semantic import dotted_name
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
    The fix wraps the `yield` and the statements after it in `try:` / `finally: db.close()`
    (`await db.close()` for an `AsyncSession` in an async generator). A `db.close()` that ended
    the wrapped code becomes the `finally` body; a `try` around the `yield` that has `except`
    handlers but no `finally` gets the `finally` (the handlers still run before the close); a
    bare `db.close` in `finally` is called; `yield SessionLocal()` is first bound to a name.
    It is safe: on the normal path the same statements run in the same order and the close
    comes last. When code follows the block of the `yield` (after an `if`, in the `else:` of
    a `try`...), the `try` also covers that code, so nothing that ran after the `yield` runs
    after the close. It is a suggestion only when the `yield` is inside a loop or on a
    one-line suite, when the name is bound more than once or not by an assignment that runs
    before the `yield`'s block, and for an async session in a sync generator.

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
                    if kind is not None and not _finally_calls(
                        ctx, function, node, _closers(ctx, None, value)
                    ):
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
        index = ctx.index
        bindings = [b for b in index.lookup(name.value, node) if b.scope.node is function]
        created = [b for b in bindings if _creates(ctx, b)]
        if not created:
            return None
        if any(isinstance(b.node, cst.WithItem) for b in created):
            return None  # ``with SessionLocal() as db: yield db``
        closers: set[tuple[str, str]] = set()
        for binding in created:
            if isinstance(binding.value, cst.Call):
                closers |= _closers(ctx, name.value, binding.value)
        finally_uncalled = False
        for anc in index.ancestors(node):
            if anc is function:
                break
            if isinstance(anc, cst.Try) and anc.finalbody is not None:
                state = _closes(ctx, anc.finalbody, closers)
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
        return (
            f"`{name.value}` is yielded without `try`/`finally: {name.value}.close()`: the "
            "session leaks when the request fails"
        )

    def _with_protects(
        self, ctx: FileContext, function: cst.FunctionDef, node: cst.With, name: str
    ) -> bool:
        file, model = ctx.file, ctx.model
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


def _closers(ctx: FileContext, name: str | None, creation: cst.Call) -> set[tuple[str, str]]:
    """The calls that release a session: ``name.close()``, and for a session handed out by
    a ``scoped_session`` registry (``db = Scoped()``), ``Scoped.remove()``."""
    closers = {(name, "close")} if name is not None else set()
    if ctx.model.from_scoped_registry(ctx.file, creation):
        registry = dotted_name(creation.func)
        if registry is not None:
            closers.add((registry, "remove"))
    return closers


def _finally_calls(
    ctx: FileContext, function: cst.FunctionDef, node: cst.CSTNode, closers: set[tuple[str, str]]
) -> bool:
    """A ``finally:`` around ``node`` (inside ``function``) calls one of ``closers``."""
    for anc in ctx.index.ancestors(node):
        if anc is function:
            return False
        if (
            isinstance(anc, cst.Try)
            and anc.finalbody is not None
            and _closes(ctx, anc.finalbody, closers) == "called"
        ):
            return True
    return False


def _closes(ctx: FileContext, block: cst.Finally, closers: set[tuple[str, str]]) -> str | None:
    """'called' if the block calls one of ``closers`` (``(receiver, method)``); 'uncalled' if
    it only mentions one (``finally: db.close`` without the call)."""
    index = ctx.index
    mentioned = False
    start, end = index.order[block], index.end_order(block)
    for attr in index.nodes(cst.Attribute):
        if not start < index.order[attr] < end:
            continue
        if (dotted_name(attr.value), attr.attr.value) not in closers:
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
# The statements from the yield's statement to the end of its block go into ``try:`` /
# ``finally: <name>.close()``; a trailing ``<name>.close()`` of that range becomes the ``finally``
# body instead of being repeated. The wrapped range must be the last code of the function on
# every normal path: when code follows (after an enclosing ``if``, in the ``else:``/``finally:``
# of an enclosing ``try``...) the range grows to the enclosing statement, so that nothing runs
# after the close that ran after the ``yield`` before. A ``try`` around the ``yield`` that has
# handlers but no ``finally`` (and is followed by nothing, or by ``<name>.close()`` only) gets
# the ``finally`` itself. The session must be bound once in the function, by the assignment
# that creates it, and that assignment must run before the ``try``: then the ``finally`` always
# closes that session. Inside a loop, or on a one-line suite, the fix is a suggestion only.


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


def _sole_creation(
    ctx: FileContext, function: cst.FunctionDef, name: str
) -> tuple[cst.SimpleStatementLine, Kind | None] | None:
    """The statement ``name = <new session>`` and the session kind, when that assignment is
    the name's only binding in the function and a statement of an indented block."""
    index = ctx.index
    bindings = index.scopes[function].bindings.get(name, [])
    if len(bindings) != 1 or not _creates(ctx, bindings[0]):
        return None
    binding = bindings[0]
    line = index.parent(binding.node)
    if not (
        isinstance(binding.node, cst.Assign | cst.AnnAssign)
        and isinstance(binding.value, cst.Call)
        and isinstance(line, cst.SimpleStatementLine)
        and isinstance(index.parent(line), cst.IndentedBlock)
    ):
        return None
    return line, ctx.model.creation_kind(ctx.file, binding.value)


def _cleanup_fix(ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: str) -> Fix:
    creation = _sole_creation(ctx, function, name)
    if creation is None:
        return _display(name)
    statement, kind = creation
    awaited = _close_awaited(function, kind)
    if awaited is None:
        return _display(name)
    close = "await " if awaited else ""
    repaired = _call_bare_close(ctx, function, node, name)
    if repaired is not None:
        return Fix(
            Applicability.SAFE,
            f"Call `{close}{name}.close()` in `finally`",
            replacements=((repaired, _close_call(name, awaited)),),
        )
    replacements = _wrap(ctx, function, node, name, awaited, creation=statement)
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
    ctx: FileContext, function: cst.FunctionDef, node: cst.Yield, name: str
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


def _compound(ctx: FileContext, block: cst.IndentedBlock) -> cst.BaseCompoundStatement | None:
    """The compound statement ``block`` is a clause of (None for the function's body)."""
    for anc in ctx.index.ancestors(block):
        if isinstance(anc, cst.FunctionDef):
            return None
        if isinstance(anc, cst.BaseCompoundStatement):
            return anc
    return None


def _more_runs_after(compound: cst.BaseCompoundStatement, block: cst.IndentedBlock) -> bool:
    """Clauses of ``compound`` may run after ``block`` (the handlers, ``else`` and
    ``finally`` of a ``try``)."""
    if not isinstance(compound, cst.Try | cst.TryStar):
        return False
    if compound.finalbody is not None and block is compound.finalbody.body:
        return False
    if block is compound.body:
        return bool(compound.handlers or compound.orelse or compound.finalbody)
    return compound.finalbody is not None


def _ends_function(ctx: FileContext, function: cst.FunctionDef, block: cst.IndentedBlock) -> bool:
    """No code of the function runs after ``block`` on a normal path."""
    while block is not function.body:
        compound = _compound(ctx, block)
        if compound is None or isinstance(compound, cst.For | cst.While):
            return False
        if _more_runs_after(compound, block):
            return False
        parent = ctx.index.parent(compound)
        if not isinstance(parent, cst.IndentedBlock) or parent.body[-1] is not compound:
            return False
        block = parent
    return True


Replacements = tuple[tuple[cst.CSTNode, Replacement], ...]


def _wrap(
    ctx: FileContext,
    function: cst.FunctionDef,
    node: cst.Yield,
    name: str,
    awaited: bool,
    *,
    creation: cst.SimpleStatementLine | None = None,
    assignment: cst.SimpleStatementLine | None = None,
) -> Replacements | None:
    """Where and how to wrap: see the comment above."""
    index = ctx.index
    found = statement_in_block(index, node)
    if found is None:
        return None
    block: cst.IndentedBlock = found[0]
    statement: cst.BaseStatement = found[1]
    while True:
        if creation is not None:
            # The assignment runs before the ``try``: it is earlier, in this block or an
            # enclosing one.
            creation_block = index.parent(creation)
            if creation_block is None or index.order[creation] > index.order[statement]:
                return None
            if not (creation_block is block or index.is_inside(block, creation_block)):
                return None
        compound = _compound(ctx, block)
        if isinstance(compound, cst.For | cst.While):
            return None  # closing inside a loop body would change what later iterations see
        if _ends_function(ctx, function, block):
            return _wrap_tail(block, statement, name, awaited, assignment)
        if assignment is not None or compound is None:
            return None
        if (
            isinstance(compound, cst.Try)
            and block is compound.body
            and compound.finalbody is None
            and compound.handlers
        ):
            added = _add_finally(ctx, function, compound, name, awaited)
            if added is not None:
                return added
        parent = index.parent(compound)
        if not isinstance(parent, cst.IndentedBlock):
            return None
        block, statement = parent, compound


def _wrap_tail(
    block: cst.IndentedBlock,
    statement: cst.BaseStatement,
    name: str,
    awaited: bool,
    assignment: cst.SimpleStatementLine | None,
) -> Replacements:
    """``statement`` and the rest of ``block`` in ``try:`` / ``finally: name.close()``."""
    position = next(i for i, s in enumerate(block.body) if s is statement)
    wrapped = list(block.body[position:])
    last = wrapped[-1]
    final_lines: Sequence[cst.EmptyLine] = ()
    if len(wrapped) > 1 and is_method_call_statement(last, name, "close", awaited=awaited):
        assert isinstance(last, cst.SimpleStatementLine)
        wrapped.pop()
        final_lines, close = last.leading_lines, last.with_changes(leading_lines=())
    else:
        close = call_statement(name, "close", awaited=awaited)
    first = wrapped[0]
    assert isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    lines = first.leading_lines
    attempt = cst.Try(
        body=cst.IndentedBlock(
            body=[first.with_changes(leading_lines=()), *wrapped[1:]], indent=block.indent
        ),
        finalbody=cst.Finally(
            body=cst.IndentedBlock(body=[close], indent=block.indent), leading_lines=final_lines
        ),
        leading_lines=() if assignment is not None else lines,
    )
    before = list(block.body[:position])
    if assignment is not None:
        before.append(assignment.with_changes(leading_lines=lines))
    return ((block, block.with_changes(body=[*before, attempt])),)


def _add_finally(
    ctx: FileContext, function: cst.FunctionDef, node: cst.Try, name: str, awaited: bool
) -> Replacements | None:
    """``finally: name.close()`` on a ``try`` that only has handlers, when nothing but
    ``name.close()`` follows it (that close moves into the ``finally``)."""
    outer = ctx.index.parent(node)
    if not isinstance(outer, cst.IndentedBlock) or not _ends_function(ctx, function, outer):
        return None
    position = next(i for i, s in enumerate(outer.body) if s is node)
    rest = outer.body[position + 1 :]
    if len(rest) > 1 or (
        rest and not is_method_call_statement(rest[0], name, "close", awaited=awaited)
    ):
        return None
    indent = node.body.indent if isinstance(node.body, cst.IndentedBlock) else None
    if rest:
        following = rest[0]
        assert isinstance(following, cst.SimpleStatementLine)
        final = cst.Finally(
            body=cst.IndentedBlock(body=[following.with_changes(leading_lines=())], indent=indent),
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
    """``yield SessionLocal()`` -> ``db = SessionLocal()`` / ``try: yield db`` / ``finally:``,
    when the ``yield`` statement ends the function."""
    name = _free_name(ctx, function)
    awaited = _close_awaited(function, kind)
    expr = ctx.index.parent(node)
    statement = ctx.index.parent(expr) if expr is not None else None
    if (
        name is None
        or awaited is None
        or not isinstance(expr, cst.Expr)
        or not isinstance(statement, cst.SimpleStatementLine)
        or len(statement.body) != 1
    ):
        return _display(name or "the session")
    assignment = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=call)]
    )
    replacements = _wrap(ctx, function, node, name, awaited, assignment=assignment)
    if replacements is None:
        return _display(name)
    # Yield the new name: swap the renamed statement into the ``try``.
    renamed = statement.with_changes(
        body=[expr.with_changes(value=node.with_changes(value=cst.Name(name)))],
        leading_lines=(),
    )
    ((block, new_block),) = replacements
    assert isinstance(new_block, cst.IndentedBlock)
    attempt = new_block.body[-1]
    assert isinstance(attempt, cst.Try) and isinstance(attempt.body, cst.IndentedBlock)
    attempt = attempt.with_changes(
        body=attempt.body.with_changes(body=[renamed, *attempt.body.body[1:]])
    )
    close = "await " if awaited else ""
    return Fix(
        Applicability.SAFE,
        f"Bind the session to `{name}` and close it in `finally: {close}{name}.close()`",
        replacements=((block, new_block.with_changes(body=[*new_block.body[:-1], attempt])),),
    )
