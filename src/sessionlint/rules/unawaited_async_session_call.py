"""SL302 unawaited-async-session-call."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.index import ModuleIndex
from sessionlint.model.names import Kind
from sessionlint.model.semantic import is_load, method_call
from sessionlint.rule import Report, Rule

#: Builtins that use their argument right away: a coroutine passed to them is a bug.
_EAGER_BUILTINS = frozenset(
    f"builtins.{name}"
    for name in (
        "list",
        "tuple",
        "set",
        "len",
        "print",
        "sorted",
        "next",
        "iter",
        "enumerate",
        "bool",
        "str",
    )
)
#: Attributes of a coroutine object itself: using them is deliberate, not a forgotten await.
_COROUTINE_ATTRIBUTES = frozenset({"close", "send", "throw", "__await__"})
#: Statements where ``await <call>`` / ``<call>`` can be swapped without other changes.
_FIXABLE_PARENTS = (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)


class UnawaitedAsyncSessionCall(Rule):
    """## What it does
    Flags a coroutine method of an `AsyncSession` (`execute`, `exec`, `scalars`, `scalar`,
    `get`, `get_one`, `stream`, `stream_scalars`, `commit`, `flush`, `refresh`, `rollback`,
    `close`, `delete`, `merge`, `run_sync`, `connection`, `invalidate`) called without
    `await`, and `await` on one of its plain methods (`add`, `add_all`, `expunge`,
    `expunge_all`, `expire`, `expire_all`, `in_transaction`). Reported at the call.

    A call counts as "without `await`" when its coroutine is discarded (an expression
    statement), assigned to a name that is never awaited or handed on, or used as if it were
    the result: `session.execute(q).scalars()`, `session.execute(q)[0]`,
    `for row in session.execute(q)`, `if session.get(User, 1):`, a comparison, or an argument
    of `list()`, `len()`, `print()` and similar builtins.

    ## Why is this bad?
    Calling a coroutine method only creates a coroutine object: nothing is sent to the
    database. `session.commit()` without `await` silently commits nothing (Python only prints
    "coroutine was never awaited" when the object is garbage-collected), and
    `session.execute(q).scalars()` fails with `AttributeError: 'coroutine' object has no
    attribute 'scalars'`. The other way round, `await session.add(obj)` raises
    `TypeError: object NoneType can't be used in 'await' expression` after adding the object.

    ## Example
    ```python
    from sqlalchemy.ext.asyncio import AsyncSession


    async def rename(session: AsyncSession, user, name: str) -> None:
        user.name = name
        session.commit()


    async def register(session: AsyncSession, user) -> None:
        await session.add(user)
        await session.commit()
    ```

    ## Use instead
    ```python
    from sqlalchemy.ext.asyncio import AsyncSession


    async def rename(session: AsyncSession, user, name: str) -> None:
        user.name = name
        await session.commit()


    async def register(session: AsyncSession, user) -> None:
        session.add(user)
        await session.commit()
    ```

    ## Fix safety
    The fix adds the missing `await` (inside an `async def`, when the call is an expression
    statement or the value of an assignment), or removes the `await` in front of a plain
    method (when it is an expression statement or the value of an assignment or `return`).
    It is safe: the code as written never does what it says. No fix is offered elsewhere
    (`session.execute(q).scalars()` needs parentheses around the `await`; a sync `def` or a
    `lambda` cannot `await`).

    ## Known problems
    Not flagged, because the coroutine is handed to something that may await it:
    a coroutine passed to `asyncio.gather`, `create_task`, `ensure_future`, `wait`,
    `wait_for`, `shield`, `TaskGroup.create_task` or to any other function (a helper of the
    project may await it); a coroutine returned (from a sync helper that the caller awaits,
    or from a `lambda`) or yielded; a coroutine stored in a variable that is later awaited,
    returned, passed on or stored; `async with session.begin()` (`begin()` is not a
    coroutine method); `session.sync_session` and sync sessions (see SL301). An `async def`
    that returns `session.get(...)` without `await` hands its caller a coroutine that must be
    awaited twice; it is not flagged. Calls through attributes whose type is not declared
    (`self.session` without an annotation) and methods called directly on an
    `async_scoped_session` registry (`Scoped.commit()`) are not checked.

    ## References
    - [SQLAlchemy: asyncio extension](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html)
    - [Python: coroutines and tasks](https://docs.python.org/3/library/asyncio-task.html#coroutines)
    """

    code = "SL302"
    name = "unawaited-async-session-call"
    summary = "An AsyncSession coroutine method called without await, or await on a plain method"
    severity = Severity.ERROR
    fix_applicability = Applicability.SAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        for call in index.nodes(cst.Call):
            method = method_call(call)
            if method is None:
                continue
            receiver, attr = method
            coroutine = attr in names.ASYNC_COROUTINE_METHODS
            if not coroutine and attr not in names.ASYNC_SYNC_METHODS:
                continue
            if model.session_kind(file, receiver) is not Kind.ASYNC:
                continue
            parent = index.parent(call)
            spelled = f"{file.module.code_for_node(receiver)}.{attr}()"
            if not coroutine:
                if isinstance(parent, cst.Await):
                    yield Report(
                        call,
                        f"`{spelled}` is not a coroutine: `await` on its result raises "
                        "TypeError; remove the `await`",
                        fix=_remove_await(index, parent),
                    )
                continue
            if isinstance(parent, cst.Await):
                continue
            problem = _misuse(ctx, call, parent)
            if problem is None:
                continue
            function = index.enclosing_function(call)
            in_async = isinstance(function, cst.FunctionDef) and function.asynchronous is not None
            advice = "" if in_async else "; `await` it from an `async def`"  # else: the fix
            yield Report(
                call,
                f"`{spelled}` is a coroutine and is not awaited: {problem}{advice}",
                fix=_add_await(call, parent) if in_async else None,
            )


def _misuse(ctx: FileContext, call: cst.Call, parent: cst.CSTNode | None) -> str | None:
    """Why the un-awaited coroutine ``call`` is a bug, or None when it may be awaited."""
    index = ctx.index
    if isinstance(parent, cst.Expr):
        return "the call does nothing"
    if isinstance(parent, cst.Assign | cst.AnnAssign) and parent.value is call:
        target = _single_name_target(parent)
        if target is None or _handed_on(index, parent, target):
            return None
        return f"`{target}` holds a coroutine, not the result"
    if isinstance(parent, cst.Attribute) and parent.value is call:
        if parent.attr.value in _COROUTINE_ATTRIBUTES:
            return None
        return f"`.{parent.attr.value}` is looked up on the coroutine, not on the result"
    if isinstance(parent, cst.Subscript) and parent.value is call:
        return "the coroutine is indexed, not the result"
    if isinstance(parent, cst.For) and parent.iter is call:
        return "the loop iterates over the coroutine, not the result"
    if isinstance(parent, cst.If | cst.While | cst.IfExp) and parent.test is call:
        return "a coroutine is always true"
    if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
        return "a coroutine is always true"
    if isinstance(parent, cst.Comparison | cst.ComparisonTarget):
        return "the coroutine is compared, not the result"
    if isinstance(parent, cst.Arg) and parent.star == "":
        outer = index.parent(parent)
        if (
            isinstance(outer, cst.Call)
            and ctx.model.callee_qualname(ctx.file, outer) in _EAGER_BUILTINS
        ):
            return "the coroutine is passed where its result is needed"
    return None


def _single_name_target(statement: cst.Assign | cst.AnnAssign) -> str | None:
    if isinstance(statement, cst.AnnAssign):
        target = statement.target
    elif len(statement.targets) == 1:
        target = statement.targets[0].target
    else:
        return None
    return target.value if isinstance(target, cst.Name) else None


def _handed_on(index: ModuleIndex, statement: cst.Assign | cst.AnnAssign, name: str) -> bool:
    """Whether the coroutine stored in ``name`` by ``statement`` is used in a way that may
    await it (awaited, passed, returned, stored...): any use other than treating it as the
    result (``name.attr``, ``name[i]``, ``for x in name``)."""
    function = index.enclosing_function(statement)
    for node in index.nodes(cst.Name):
        if node.value != name:
            continue
        if function is not None and not index.is_inside(node, function):
            continue
        parent = index.parent(node)
        if parent is None or not is_load(index, node):
            continue
        if not any(b.node is statement for b in index.lookup(name, node)):
            continue
        if isinstance(parent, cst.Attribute) and parent.value is node:
            if parent.attr.value in _COROUTINE_ATTRIBUTES:
                return True
            continue
        if isinstance(parent, cst.Subscript) and parent.value is node:
            continue
        if isinstance(parent, cst.For) and parent.iter is node:
            continue
        return True
    return False


def _add_await(call: cst.Call, parent: cst.CSTNode | None) -> Fix | None:
    """Only for an expression statement or an assignment's value inside ``async def``."""
    if not isinstance(parent, cst.Expr | cst.Assign | cst.AnnAssign):
        return None
    return Fix(
        Applicability.SAFE,
        "Add `await`",
        replacements=((call, cst.Await(expression=call)),),
    )


def _remove_await(index: ModuleIndex, node: cst.Await) -> Fix | None:
    if not isinstance(index.parent(node), _FIXABLE_PARENTS):
        return None
    expression = node.expression
    if node.lpar and not getattr(expression, "lpar", None):
        expression = expression.with_changes(lpar=node.lpar, rpar=node.rpar)
    return Fix(Applicability.SAFE, "Remove `await`", replacements=((node, expression),))
