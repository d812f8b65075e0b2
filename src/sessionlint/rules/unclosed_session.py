"""SL104 unclosed-session."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.edits import call_statement
from sessionlint.model import flow
from sessionlint.model.index import ModuleIndex
from sessionlint.model.names import Kind
from sessionlint.model.ownership import Fate, Occurrence, Ownership
from sessionlint.rule import Report, Rule

#: A flow fact: (the local name, the call that created the session it holds).
Open = tuple[str, cst.Call]
#: A flow event at one unit: ("gen" | "kill", name, creating call or None).
Event = tuple[str, str, cst.Call | None]


class UnclosedSession(Rule):
    """## What it does
    Flags a function that creates a session into a local name (`db = SessionLocal()`,
    `session = Session(engine)`, `db = AsyncSession(engine)`...) when some normal path — a
    `return` or the end of the function — leaves it without closing it. Paths that leave by
    `raise` do not count. Reported at the call that creates the session.

    A session is closed by `db.close()` (also `await db.close()`), `db.invalidate()`,
    `with db:` / `async with db:`, `with closing(db):`, a `finally:` that closes it (also under
    `if db is not None:`), or by passing it to a function of the project that closes its
    parameter. A path whose last use of the session is `commit()` or `rollback()` holds no
    connection at its end (it went back to the pool) and is not flagged; a use after them
    checks a connection out again.

    Ownership leaves the function — and the function is not flagged — when the session is
    returned or yielded, stored (assigned to an attribute, an item or another name, put in a
    tuple, list, set or dict, declared `global`, or captured by a nested function), passed to
    a class constructor, or passed to a callable sessionlint cannot see into. A class
    constructor is a call of a class of the project, or of an external name that starts with
    an upper-case letter (`UserRepository(db)`, `Thread(...)`); the callables it cannot see
    into are methods of some object (`service.process(db)`), callables held in variables,
    `functools.partial`, and functions of libraries or of modules it could not resolve.

    A new session passed straight to a function of the project that only uses it
    (`init_labels(SessionLocal(), app)` where `init_labels` neither closes nor keeps its
    parameter) is flagged too, in any function (also a generator such as a lifespan): nothing
    can close it afterwards. Silent when that function closes or keeps it, or when it is a
    library function, a method of some object or anything sessionlint cannot follow.

    Passing the session to a plain function is a borrow — the caller still has to close it:
    a function of the project that neither keeps nor closes its parameter
    (`crud.get_user(db, 1)`), a builtin (`print(db)`), or a `logging`, `warnings`, `pprint`,
    SQLAlchemy or SQLModel function. A project function that returns a new session it created
    (`def make_session(): return SessionLocal()`) creates one for its caller:
    `db = make_session()` is tracked like `db = SessionLocal()`.

    A session bound to an existing connection borrows it and is never flagged: the connection's
    owner closes it. Such a connection is `op.get_bind()`, `x.connection()`, `x.connect()`,
    the target of `with engine.begin() as conn` / `engine.connect()` (also `async with`), a
    name assigned one of these, or a parameter named `connection`/`conn` (an event listener's),
    passed as `bind=` or first argument (`Session(bind=conn)`, `AsyncSession(conn)`).

    Fix (unsafe): `with <factory>() as name:` around the statements from the creation on.
    When the last use is an explicit `name.close()`, the block ends there and that close is
    dropped (the `with` closes the session), so what follows runs after the connection went back
    to the pool, as in the original; otherwise the block runs to the end of the enclosing block
    (later statements may still read an unbuffered `Result`). Where that block cannot be formed,
    the statements after the creation go into `try:` with `finally: name.close()` (`await
    name.close()` for an async session), ending at the same place.

    ## Why is this bad?
    An unclosed session keeps its connection checked out of the pool (the transaction that
    the first query began stays open) until the garbage collector happens to find the session.
    Under load the pool runs dry: requests wait `pool_timeout` seconds and then fail with
    `QueuePool limit ... reached`, and the database sees idle-in-transaction connections that
    hold locks.

    ## Example
    ```python
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def count_users() -> int:
        db = SessionLocal()
        return db.execute(text("SELECT count(*) FROM users")).scalar_one()
    ```

    ## Use instead
    ```python
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def count_users() -> int:
        with SessionLocal() as db:
            return db.execute(text("SELECT count(*) FROM users")).scalar_one()
    ```

    ## Fix safety
    For the simple straight-line case — `db = <factory>()` as a statement of its own, every
    use of `db` in the statements that follow it in the same block, no other assignment to
    `db` — the fix turns the creation into `with <factory>() as db:` (`async with` for an
    async session) around the rest of the block, and drops a `db.close()` that is the last
    use (the `with` closes the session). The `with` form needs SQLAlchemy 1.4 or newer
    (sessions became context managers in 1.4).

    Otherwise — the creation shares its line with other statements (`db = SessionLocal(); n =
    ...`), the session is created in every branch of an `if`/`elif`/`else` that has an `else`
    and no `return`/`break`/`continue`, or the SQLAlchemy target is older than 1.4 — the
    creating statement stays and the statements after it, up to a `db.close()` that is the
    last use (moved into the `finally`) or else to the end of the block, become `try:` ...
    `finally: db.close()`. When neither form fits (a use outside the creating block, an `if`
    without `else`, another assignment to the name, an async session in a sync `def`, whose
    `close()` cannot be awaited) the fix is only displayed.

    It is unsafe: the session is now closed when the block ends, so ORM objects returned or
    kept from it are detached (lazy-loading their relationships raises
    `DetachedInstanceError`), and an unbuffered `Result` returned from the block can no longer
    be read.

    ## Known problems
    Not flagged: `with SessionLocal() as db:` (closed by the `with`); sessions created at
    module level (SL101 shared-session); generators (SL102 dependency-without-cleanup covers
    the sessions they yield); sessions from a `scoped_session` registry (the registry owns them
    and hands the same one out again; SL305 covers registries); test modules, `conftest.py` and
    alembic migrations; sessions that are never given a name (`SessionLocal().execute(...)`).
    A session handed to a method of some object (`service.process(db)`) or to a function
    sessionlint cannot resolve is treated as handed over, so a leak behind it is missed. A
    close anywhere in a `finally:` counts for the `return` statements inside its `try`.

    ## References
    - [SQLAlchemy: opening and closing a session](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#opening-and-closing-a-session)
    - [SQLAlchemy: when do I construct a Session, when do I commit it, and when do I close it?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#when-do-i-construct-a-session-when-do-i-commit-it-and-when-do-i-close-it)
    """

    code = "SL104"
    name = "unclosed-session"
    summary = "A session created in a function that some path never closes"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        ownership = Ownership(model, file)
        for function in index.nodes(cst.FunctionDef):
            yield from self._lent_unnamed(ctx, ownership, function)
            if index.own_nodes(function, cst.Yield):
                continue  # a generator: SL102's business
            tracked = self._tracked(ctx, ownership, function)
            if tracked:
                yield from self._check_function(ctx, ownership, function, tracked)

    def _lent_unnamed(
        self, ctx: FileContext, ownership: Ownership, function: cst.FunctionDef
    ) -> Iterator[Report]:
        """``process(SessionLocal())``: a new session passed straight to a project function
        that only uses it (neither closes nor keeps it); nothing can close it afterwards."""
        file, index = ctx.file, ctx.index
        for call in index.own_nodes(function, cst.Call):
            arg = index.parent(call)
            if not isinstance(arg, cst.Arg) or arg.value is not call or arg.star:
                continue
            outer = index.parent(arg)
            if not isinstance(outer, cst.Call) or outer.func is call:
                continue
            kind = ownership.new_session_kind(file, call)
            if kind is None or not ownership.lent_to_helper(file, outer, arg):
                continue
            factory = _short(ctx.module.code_for_node(call))
            helper = _short(ctx.module.code_for_node(outer.func))
            prefix = "async with" if kind is Kind.ASYNC else "with"
            message = f"Create the session with `{prefix} {factory} as db:` and pass `db`"
            yield Report(
                call,
                f"Session `{factory}` passed to `{helper}()` is never closed (the helper only "
                "uses it)",
                fix=Fix(Applicability.DISPLAY_ONLY, message),
            )

    def _tracked(
        self, ctx: FileContext, ownership: Ownership, function: cst.FunctionDef
    ) -> dict[str, tuple[list[cst.Call], list[Occurrence]]]:
        """Local names that receive a new session here: their creating calls and references."""
        file, index = ctx.file, ctx.index
        tracked: dict[str, tuple[list[cst.Call], list[Occurrence]]] = {}
        for name, bindings in index.scopes[function].bindings.items():
            creations = [
                b.value
                for b in bindings
                if isinstance(b.value, cst.Call)
                and ownership.new_session_kind(file, b.value) is not None
            ]
            if not creations or not ownership.bindings_are_plain(file, function, name):
                continue
            found = ownership.occurrences(file, function, name)
            if found is None:
                continue  # captured by a closure or declared global: cannot follow it
            tracked[name] = ([c for c in creations if isinstance(c, cst.Call)], found)
        return tracked

    def _check_function(
        self,
        ctx: FileContext,
        ownership: Ownership,
        function: cst.FunctionDef,
        tracked: dict[str, tuple[list[cst.Call], list[Occurrence]]],
    ) -> Iterator[Report]:
        index = ctx.index
        events: dict[cst.CSTNode, list[Event]] = {}

        def add(node: cst.CSTNode, event: Event) -> None:
            unit = flow.unit_of(index, node)
            if unit is not None:
                events.setdefault(unit, []).append(event)

        closes: dict[str, list[cst.CSTNode]] = {}
        for name, (creations, found) in tracked.items():
            for call in creations:
                add(call, ("gen", name, call))
            for occurrence in found:
                if occurrence.fate is not Fate.USE:
                    add(occurrence.node, ("kill", name, None))
                elif _releases(index, occurrence.name):
                    add(occurrence.name, ("release", name, None))
                else:
                    add(occurrence.name, ("use", name, None))
                if occurrence.fate is Fate.CLOSE:
                    closes.setdefault(name, []).append(occurrence.node)
        for branch in index.own_nodes(function, cst.If):
            guarded = _guarded_close(index, branch, closes)
            if guarded is not None:
                events.setdefault(branch, []).append(("kill", guarded, None))

        # A fact is (name, call) while the session holds a connection, ("~" + name, call)
        # once commit()/rollback() gave it back to the pool; a later use takes one again.
        def transfer(unit: cst.CSTNode, facts: frozenset[Open]) -> frozenset[Open]:
            todo = events.get(unit, ())
            for kind, name, _ in todo:
                if kind == "kill":
                    facts = frozenset(f for f in facts if f[0] not in (name, "~" + name))
            for kind, name, call in todo:
                if kind == "gen" and call is not None:
                    facts = facts | {(name, call)}
            if any(kind == "release" for kind, _, _ in todo):
                released = {
                    f for f in facts if any(f[0] == n for k, n, _ in todo if k == "release")
                }
                facts = (facts - released) | {("~" + n, c) for n, c in released}
            elif any(kind == "use" for kind, _, _ in todo):
                used = {n for k, n, _ in todo if k == "use"}
                back = {f for f in facts if f[0][:1] == "~" and f[0][1:] in used}
                facts = (facts - back) | {(n[1:], c) for n, c in back}
            return facts

        still_open = {
            f for f in flow.analyze(function, transfer).exit_facts() if not f[0].startswith("~")
        }
        for name, call in sorted(still_open, key=lambda f: index.order[f[1]]):
            factory = _short(ctx.module.code_for_node(call))
            kind = ownership.new_session_kind(ctx.file, call)
            prefix = "async with" if kind is Kind.ASYNC else "with"
            yield Report(
                call,
                f"Session `{name}` is not closed on every path: its connection stays checked "
                f"out; use `{prefix} {factory} as {name}:`",
                fix=self._fix(ctx, function, name, call, kind, tracked[name]),
            )

    # -- the fix ------------------------------------------------------------------------
    def _fix(
        self,
        ctx: FileContext,
        function: cst.FunctionDef,
        name: str,
        call: cst.Call,
        kind: Kind | None,
        tracked: tuple[list[cst.Call], list[Occurrence]],
    ) -> Fix:
        creations, found = tracked
        is_async = kind is Kind.ASYNC
        keyword = "async with" if is_async else "with"
        factory = _short(ctx.module.code_for_node(call))
        message = f"Create the session with `{keyword} {factory} as {name}:`"
        display = Fix(Applicability.DISPLAY_ONLY, message)
        if is_async and function.asynchronous is None:
            return display  # ``close()`` is a coroutine: nothing can await it here
        if not ctx.versions.sqlalchemy_below("1.4"):  # sessions are context managers
            replacement = _with_block(ctx, function, name, call, found, is_async)
            if replacement is not None:
                return Fix(Applicability.UNSAFE, message, replacements=(replacement,))
        replacement = _try_finally_block(ctx, function, name, creations, found, is_async)
        if replacement is None:
            return display
        close = f"await {name}.close()" if is_async else f"{name}.close()"
        return Fix(
            Applicability.UNSAFE,
            f"Close the session in `try:` ... `finally: {close}`",
            replacements=(replacement,),
        )


def _short(code: str) -> str:
    code = " ".join(code.split())
    return code if len(code) <= 60 else code[:57] + "..."


def _none_check(test: cst.BaseExpression) -> tuple[str, bool] | None:
    """``(name, positive)`` for ``name`` / ``name is not None`` (positive: the body runs
    when the name holds something) and ``not name`` / ``name is None`` (negative)."""
    if isinstance(test, cst.Name):
        return test.value, True
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = _none_check(test.expression)
        return (inner[0], not inner[1]) if inner is not None else None
    if (
        isinstance(test, cst.Comparison)
        and isinstance(test.left, cst.Name)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].comparator, cst.Name)
        and test.comparisons[0].comparator.value == "None"
    ):
        operator = test.comparisons[0].operator
        if isinstance(operator, cst.IsNot):
            return test.left.value, True
        if isinstance(operator, cst.Is):
            return test.left.value, False
    return None


def _guarded_close(
    index: ModuleIndex, branch: cst.If, closes: dict[str, list[cst.CSTNode]]
) -> str | None:
    """The name an ``if db is not None: db.close()`` closes (the other branch holds no
    session, so the ``if`` as a whole closes it)."""
    check = _none_check(branch.test)
    if check is None or check[0] not in closes:
        return None
    name, positive = check
    side: cst.CSTNode | None = branch.body if positive else branch.orelse
    if side is None:
        return None
    if any(index.is_inside(node, side) for node in closes[name]):
        return name
    return None


def _releases(index: ModuleIndex, name: cst.Name) -> bool:
    """``name.commit()`` / ``name.rollback()`` (awaited or not): the connection goes back."""
    attribute = index.parent(name)
    if not isinstance(attribute, cst.Attribute) or attribute.value is not name:
        return False
    call = index.parent(attribute)
    return (
        isinstance(call, cst.Call)
        and call.func is attribute
        and attribute.attr.value in ("commit", "rollback")
    )


def _with_block(
    ctx: FileContext,
    function: cst.FunctionDef,
    name: str,
    call: cst.Call,
    found: list[Occurrence],
    is_async: bool,
) -> tuple[cst.CSTNode, cst.CSTNode] | None:
    """(block, new block) where ``name = call`` and the statements after it become
    ``with call as name:``; None unless that is the straight-line case."""
    index = ctx.index
    assign = index.parent(call)
    if not isinstance(assign, cst.Assign | cst.AnnAssign) or assign.value is not call:
        return None
    line = index.parent(assign)
    block = index.parent(line) if line is not None else None
    if (
        not isinstance(line, cst.SimpleStatementLine)
        or len(line.body) != 1
        or not isinstance(block, cst.IndentedBlock)
        or len(index.scopes[function].bindings.get(name, [])) != 1
    ):
        return None
    statements = list(block.body)
    start = next(i for i, s in enumerate(statements) if s is line)
    guarded = _guarded_body(index, statements, start, found, name, uses_in_start=False)
    if guarded is None:
        return None
    body, end = guarded
    with_node = cst.With(
        items=[cst.WithItem(item=call, asname=cst.AsName(name=cst.Name(name)))],
        body=cst.IndentedBlock(body=body, header=line.trailing_whitespace),
        asynchronous=cst.Asynchronous() if is_async else None,
        leading_lines=line.leading_lines,
    )
    new_block = block.with_changes(body=[*statements[:start], with_node, *statements[end + 1 :]])
    return block, new_block


def _try_finally_block(
    ctx: FileContext,
    function: cst.FunctionDef,
    name: str,
    creations: list[cst.Call],
    found: list[Occurrence],
    is_async: bool,
) -> tuple[cst.CSTNode, cst.CSTNode] | None:
    """(block, new block) where the statements after the one that creates the session become
    ``try:`` ... ``finally: name.close()``; None when that cannot be formed safely.

    The creating statement ``S`` is a line of its own holding ``name = <creation>`` (maybe
    with other statements after a ``;``), or an ``if``/``elif``/``else`` chain with an ``else``
    whose every branch assigns the session on a line of its own (so ``name`` is bound after
    ``S`` on every normal path) and that leaves by no ``return``/``break``/``continue``. Every
    use of ``name`` is in ``S`` or in a later statement of the same block. The ``try`` ends
    at an explicit ``name.close()`` that is the last use (that close moves to the
    ``finally``), else at the end of the block, as the ``with`` fix does."""
    index = ctx.index
    bindings = index.scopes[function].bindings.get(name, [])
    lines: list[cst.SimpleStatementLine] = []
    for binding in bindings:
        node = binding.node
        line = index.parent(node)
        if (
            not isinstance(node, cst.Assign)
            or len(node.targets) != 1
            or not any(node.value is c for c in creations)
            or not isinstance(line, cst.SimpleStatementLine)
            or not isinstance(index.parent(line), cst.IndentedBlock)
        ):
            return None
        lines.append(line)
    if not lines:
        return None
    found_block = _common_statement(index, function, lines)
    if found_block is None:
        return None
    block, statement = found_block
    if isinstance(statement, cst.If):
        if not _binds_on_every_branch(statement, lines):
            return None
        if any(
            index.is_inside(node, statement)
            for kind in (cst.Return, cst.Break, cst.Continue)
            for node in index.own_nodes(function, kind)
        ):
            return None
    elif statement is not lines[0] or len(lines) != 1:
        return None
    statements = list(block.body)
    start = next(i for i, s in enumerate(statements) if s is statement)
    guarded = _guarded_body(index, statements, start, found, name, uses_in_start=True)
    if guarded is None:
        return None
    body, end = guarded
    first = body[0]
    leading = (
        first.leading_lines
        if isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement)
        else ()
    )
    try_node = cst.Try(
        body=cst.IndentedBlock(body=[first.with_changes(leading_lines=()), *body[1:]]),
        finalbody=cst.Finally(
            body=cst.IndentedBlock(body=[call_statement(name, "close", awaited=is_async)])
        ),
        leading_lines=leading,
    )
    new_block = block.with_changes(
        body=[*statements[: start + 1], try_node, *statements[end + 1 :]]
    )
    return block, new_block


def _common_statement(
    index: ModuleIndex, function: cst.FunctionDef, lines: list[cst.SimpleStatementLine]
) -> tuple[cst.IndentedBlock, cst.BaseStatement] | None:
    """The innermost block of ``function`` with one statement that holds every line."""
    for anc in (lines[0], *index.ancestors(lines[0])):
        if anc is function:
            return None
        block = index.parent(anc)
        if not isinstance(block, cst.IndentedBlock) or not isinstance(anc, cst.BaseStatement):
            continue
        if all(line is anc or index.is_inside(line, anc) for line in lines):
            return block, anc
    return None


def _binds_on_every_branch(statement: cst.If, lines: list[cst.SimpleStatementLine]) -> bool:
    """Every branch of an ``if``/``elif``/``else`` chain (an ``else`` is required) holds one
    of ``lines`` as a statement of its own block."""
    branch: cst.If | cst.Else | None = statement
    while branch is not None:
        body = branch.body
        if not isinstance(body, cst.IndentedBlock) or not any(
            s is line for s in body.body for line in lines
        ):
            return False
        if isinstance(branch, cst.Else):
            return True
        branch = branch.orelse
    return False


def _guarded_body(
    index: ModuleIndex,
    statements: list[cst.BaseStatement],
    start: int,
    found: list[Occurrence],
    name: str,
    *,
    uses_in_start: bool,
) -> tuple[list[cst.BaseStatement], int] | None:
    """The statements after ``statements[start]`` (where the session is created) that the
    fix puts under the session's guard, and the index of the last statement the guard
    replaces; None when the uses leave the block.

    When the last use is ``db.close()`` the guard ends there (that close is dropped: the
    ``with`` / ``finally`` closes the session), so the fix never holds the connection longer
    than the original did; what follows stays after it. Otherwise it runs to the end of the
    block: what follows the last use may still read results of the session (an unbuffered
    ``Result``), and the original never released the connection anyway. ``uses_in_start``:
    uses inside the creating statement itself are allowed (an ``if`` creating it on every
    branch)."""
    last = start
    for occurrence in found:
        position = next(
            (i for i, s in enumerate(statements) if index.is_inside(occurrence.name, s)), None
        )
        if position is None or position < start or (position == start and not uses_in_start):
            return None  # a use outside the block (or before the creation)
        last = max(last, position)
    if last == start:
        return None
    closed = _is_close_statement(statements[last], name)
    end = last if closed else len(statements) - 1
    body = [s for i, s in enumerate(statements) if start < i <= end and not (closed and i == last)]
    return (body, end) if body else None


def _is_close_statement(statement: cst.BaseStatement, name: str) -> bool:
    """``name.close()`` or ``await name.close()`` as a statement of its own."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Expr):
        return False
    value = small.value
    if isinstance(value, cst.Await):
        value = value.expression
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and isinstance(value.func.value, cst.Name)
        and value.func.value.value == name
        and value.func.attr.value == "close"
        and not value.args
    )
