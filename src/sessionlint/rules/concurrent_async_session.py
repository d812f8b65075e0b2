"""SL303 concurrent-async-session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.index import FunctionNode, ModuleIndex
from sessionlint.model.names import Kind
from sessionlint.model.semantic import call_args, dotted_name, is_load, method_call
from sessionlint.rule import Report, Rule

#: A session's identity: the scope that binds the name and the name (or a dotted chain).
SessionKey = tuple[int, str]

_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp)
_LOOPS = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_JUMPS = (cst.Return, cst.Raise, cst.Break, cst.Continue)


@dataclass(frozen=True)
class _Spawn:
    """A task started with ``create_task``/``ensure_future``/``start_soon``."""

    call: cst.Call
    function: FunctionNode | None
    sessions: dict[SessionKey, str]
    #: The ``async with TaskGroup() as tg`` block when the task belongs to a task group.
    group: cst.With | None


class ConcurrentAsyncSession(Rule):
    """## What it does
    Flags one `AsyncSession` used by coroutines that run at the same time:
    `asyncio.gather(f(session), g(session))`, `asyncio.gather(session.scalar(a),
    session.scalar(b))`, `asyncio.gather(*[session.refresh(o) for o in objs])`,
    `asyncio.gather(*(fetch(session, i) for i in ids))`, `asyncio.gather(*map(partial(fetch,
    session), ids))` (also `map(lambda i: fetch(session, i), ids)` and `map(session.refresh,
    objs)`; also `asyncio.wait` and `asyncio.as_completed`) where every element works on the
    same session (a parameter, `self.session`, a local); `create_task(...)` called in a loop
    with the same session; two `create_task` calls with the same session in one `TaskGroup` or
    one function while the first task still runs. Reported at the `gather` call, at the
    `create_task` call in the loop, or at the second and later `create_task` calls.

    ## Why is this bad?
    An `AsyncSession` is not safe for concurrent tasks: it holds one connection and one
    transaction. Two tasks that interleave on it fail with "This session is provisioning a new
    connection; concurrent operations are not permitted" or `InvalidRequestError`/
    `IllegalStateChangeError`, or, worse, corrupt each other's unit of work.

    ## Example
    ```python
    import asyncio

    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession


    async def dashboard(session: AsyncSession, user_stmt, order_stmt):
        users, orders = await asyncio.gather(
            session.scalars(user_stmt), session.scalars(order_stmt)
        )
        return users.all(), orders.all()
    ```

    ## Use instead
    ```python
    import asyncio

    from sqlalchemy.ext.asyncio import async_sessionmaker


    async def count(factory: async_sessionmaker, stmt):
        async with factory() as session:
            return await session.scalar(stmt)


    async def dashboard(factory: async_sessionmaker, user_stmt, order_stmt):
        return await asyncio.gather(count(factory, user_stmt), count(factory, order_stmt))
    ```

    ## Known problems
    Not flagged: sequential `await`s on one session; each task opening its own session
    (`async with factory() as s` inside the coroutine, or a session created inside the loop);
    passing the factory; a single task; a task awaited before the next one starts (any use of
    the variable holding it, or for untracked tasks any `await`, between the two
    `create_task` calls counts as waiting for it); calls in exclusive branches (`if`/`else`,
    `match` cases, a `try` body and its `except` handler) or separated by
    `return`/`raise`/`break`/`continue`; a comprehension over sessions (`[f(s) for s in
    sessions]`: one session per element). Only sessions passed directly to the
    coroutine (`f(session)`, `f(db=session)`, `session.scalar(...)`, or a variable assigned
    such a call), bound by `functools.partial` or used in a `lambda` body are seen: a session
    wrapped in another object (`Repository(session)`) is not.
    The main coroutine using the session while a task it started still runs is not flagged.

    ## References
    - [SQLAlchemy: Using AsyncSession with concurrent tasks](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-asyncsession-with-concurrent-tasks)
    - [SQLAlchemy: Is the Session thread-safe? Is AsyncSession safe to share in concurrent tasks?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#is-the-session-thread-safe-is-asyncsession-safe-to-share-in-concurrent-tasks)
    """

    code = "SL303"
    name = "concurrent-async-session"
    summary = "One AsyncSession used by coroutines that run at the same time"
    severity = Severity.ERROR
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = (
        "Await the calls one after another, or give each task its own session from the factory"
    )

    def check(self, ctx: FileContext) -> Iterator[Report]:
        index = ctx.index
        spawns: list[_Spawn] = []
        for call in index.nodes(cst.Call):
            qualname = ctx.model.callee_qualname(ctx.file, call)
            if qualname in names.CONCURRENT_RUNNERS:
                shared = self._gathered_session(ctx, call, qualname)
                if shared is not None:
                    runner = qualname.rsplit(".", 1)[-1]
                    yield Report(
                        call,
                        f"`{runner}()` runs several coroutines at the same time on the one "
                        f"AsyncSession `{shared}`",
                    )
                continue
            spawn = _spawn(ctx, call, qualname)
            if spawn is not None and spawn.sessions:
                spawns.append(spawn)
        for position, spawn in enumerate(spawns):
            looped = _loop_sharing(ctx, spawn)
            if looped is not None:
                yield Report(
                    spawn.call,
                    f"Each iteration of the loop starts a task on AsyncSession `{looped}`: the "
                    "tasks run at the same time on it",
                )
                continue
            for earlier in spawns[:position]:
                shared = _running_together(ctx, earlier, spawn)
                if shared is not None:
                    yield Report(
                        spawn.call,
                        f"This task uses AsyncSession `{shared}` while a task started earlier "
                        "with it may still run",
                    )
                    break

    def _gathered_session(self, ctx: FileContext, call: cst.Call, qualname: str) -> str | None:
        """The session shared by two or more of the awaitables ``call`` runs together."""
        counts: dict[SessionKey, int] = {}
        spelled: dict[SessionKey, str] = {}
        for sessions, many in _awaitables(ctx, call, qualname):
            for key, text in sessions.items():
                counts[key] = counts.get(key, 0) + (2 if many else 1)
                spelled[key] = text
        for key, count in counts.items():
            if count >= 2:
                return spelled[key]
        return None


def _awaitables(
    ctx: FileContext, call: cst.Call, qualname: str
) -> Iterator[tuple[dict[SessionKey, str], bool]]:
    """The sessions of each awaitable a gather/wait/as_completed call runs, and whether the
    awaitable stands for many (a comprehension's element, a ``map``)."""
    if qualname.endswith("gather"):
        for arg in call.args:
            if arg.keyword is not None or arg.star == "**":
                continue
            if arg.star == "*":
                yield from _elements(ctx, arg.value)
            else:
                yield _sessions_used(ctx, arg.value), False
        return
    positional, keywords = call_args(call)
    first = positional[0] if positional else keywords.get("fs") or keywords.get("aws")
    if first is not None:
        yield from _elements(ctx, first)


def _elements(
    ctx: FileContext, expr: cst.BaseExpression, depth: int = 0
) -> Iterator[tuple[dict[SessionKey, str], bool]]:
    """The sessions of the awaitables of a collection expression (a literal, a comprehension,
    ``map(f, ...)``, or a local variable bound once to one of these)."""
    if isinstance(expr, cst.List | cst.Tuple | cst.Set):
        for element in expr.elements:
            if isinstance(element, cst.Element):
                yield _sessions_used(ctx, element.value), False
    elif isinstance(expr, _COMPREHENSIONS):
        yield _sessions_used(ctx, expr.elt), True
    elif isinstance(expr, cst.Call) and ctx.model.callee_qualname(ctx.file, expr) == "builtins.map":
        positional, _ = call_args(expr)
        if positional:
            yield _callable_sessions(ctx, positional[0]), True
    elif isinstance(expr, cst.Name) and depth == 0:
        value = _local_value(ctx.index, expr)
        if value is not None:
            yield from _elements(ctx, value, depth + 1)


def _local_value(index: ModuleIndex, name: cst.Name) -> cst.BaseExpression | None:
    """The value of a function-local variable assigned exactly once."""
    bindings = index.lookup(name.value, name)
    if len(bindings) != 1:
        return None
    binding = bindings[0]
    if binding.scope.kind != "function" or not isinstance(binding.node, cst.Assign):
        return None
    return binding.value


def _sessions_used(
    ctx: FileContext, expr: cst.BaseExpression, depth: int = 0
) -> dict[SessionKey, str]:
    """The async sessions a coroutine expression works on: the receiver of
    ``session.method(...)`` or a session passed as a direct argument."""
    if isinstance(expr, cst.Name) and depth == 0:
        value = _local_value(ctx.index, expr)
        return _sessions_used(ctx, value, depth + 1) if isinstance(value, cst.Call) else {}
    if not isinstance(expr, cst.Call):
        return {}
    candidates: list[cst.BaseExpression] = []
    method = method_call(expr)
    if method is not None:
        candidates.append(method[0])
    candidates.extend(arg.value for arg in expr.args if not arg.star)
    return _keyed(ctx, candidates)


def _callable_sessions(ctx: FileContext, func: cst.BaseExpression) -> dict[SessionKey, str]:
    """The async sessions every coroutine made by calling ``func`` works on: the body of a
    ``lambda``, the bound arguments of ``functools.partial(f, session)``, the receiver of a
    bound method (``session.refresh``); also through a local assigned one of these once."""
    if isinstance(func, cst.Name):  # ``fetch = partial(load, session)`` ... ``map(fetch, ids)``
        value = _local_value(ctx.index, func)
        if isinstance(value, cst.Call | cst.Lambda):
            func = value
    if isinstance(func, cst.Lambda):
        return _sessions_used(ctx, func.body, depth=1)
    candidates: list[cst.BaseExpression] = []
    if isinstance(func, cst.Call) and ctx.model.callee_qualname(ctx.file, func) in (
        "functools.partial",
    ):
        positional, keywords = call_args(func)
        if not positional:
            return {}
        candidates.extend(positional[1:])
        candidates.extend(keywords.values())
        func = positional[0]
    if isinstance(func, cst.Attribute):
        candidates.append(func.value)
    return _keyed(ctx, candidates)


def _keyed(ctx: FileContext, candidates: list[cst.BaseExpression]) -> dict[SessionKey, str]:
    """The async sessions among ``candidates``, each with its source text."""
    found: dict[SessionKey, str] = {}
    for candidate in candidates:
        key = _session_key(ctx, candidate)
        if key is not None:
            found[key] = ctx.file.module.code_for_node(candidate)
    return found


def _session_key(ctx: FileContext, expr: cst.BaseExpression) -> SessionKey | None:
    if ctx.model.session_kind(ctx.file, expr) is not Kind.ASYNC:
        return None
    if isinstance(expr, cst.Name):
        bindings = ctx.index.lookup(expr.value, expr)
        scope = bindings[0].scope.node if bindings else ctx.index.module
        return id(scope), expr.value
    dotted = dotted_name(expr)
    if dotted is None:
        return None
    return id(ctx.index.enclosing_function(expr)), dotted


def _spawn(ctx: FileContext, call: cst.Call, qualname: str | None) -> _Spawn | None:
    """A task-starting call and the sessions its coroutine uses."""
    method = method_call(call)
    positional, _ = call_args(call)
    sessions: dict[SessionKey, str] = {}
    if qualname in names.TASK_SPAWNERS or (method is not None and method[1] == "create_task"):
        if not positional:
            return None
        sessions = _sessions_used(ctx, positional[0])
    elif method is not None and method[1] == "start_soon":
        for arg in positional[1:]:
            key = _session_key(ctx, arg)
            if key is not None:
                sessions[key] = ctx.file.module.code_for_node(arg)
    else:
        return None
    group = _task_group(ctx, method[0], call) if method is not None else None
    return _Spawn(call, ctx.index.enclosing_function(call), sessions, group)


def _task_group(ctx: FileContext, receiver: cst.BaseExpression, call: cst.Call) -> cst.With | None:
    """The innermost ``async with TaskGroup() as tg`` block around ``call`` that binds
    ``receiver``."""
    if not isinstance(receiver, cst.Name):
        return None
    index = ctx.index
    found: cst.With | None = None
    for binding in index.lookup(receiver.value, receiver):
        item = binding.node
        block = index.parent(item)
        if (
            isinstance(item, cst.WithItem)
            and isinstance(item.item, cst.Call)
            and isinstance(block, cst.With)
            and index.is_inside(call, block)
            and ctx.model.callee_qualname(ctx.file, item.item) in names.TASK_GROUPS
            and (found is None or index.is_inside(block, found))
        ):
            found = block
    return found


def _loop_sharing(ctx: FileContext, spawn: _Spawn) -> str | None:
    """The session bound outside a loop that a task started in every iteration uses."""
    index = ctx.index
    loop = None
    for anc in index.ancestors(spawn.call):
        if anc is spawn.function:
            break
        if isinstance(anc, _LOOPS) and not _in_iterable(index, spawn.call, anc):
            loop = anc
            break
    if loop is None or _joined_in_iteration(index, spawn.call, loop):
        return None
    for jump in (cst.Break, cst.Return, cst.Raise):
        for node in index.own_nodes(spawn.function, jump):
            if index.is_inside(node, loop) and index.order[node] > index.order[spawn.call]:
                return None  # the loop may stop after starting one task
    for text in spawn.sessions.values():
        if _bound_outside(ctx, text, spawn.call, loop):
            return text
    return None


def _in_iterable(index: ModuleIndex, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
    """``node`` is in the part of the loop evaluated once (a ``for``'s iterable)."""
    if isinstance(loop, cst.For):
        return node is loop.iter or index.is_inside(node, loop.iter)
    if isinstance(loop, (*_COMPREHENSIONS, cst.DictComp)):
        first = loop.for_in.iter
        return node is first or index.is_inside(node, first)
    return False


def _joined_in_iteration(index: ModuleIndex, call: cst.Call, loop: cst.CSTNode) -> bool:
    """The task is awaited in the iteration that starts it: ``await create_task(...)`` or
    ``t = create_task(...)`` with ``t`` used again in the loop."""
    parent = index.parent(call)
    if isinstance(parent, cst.Await):
        return True
    name = _assigned_name(index, call)
    if name is None:
        return False
    return any(
        is_load(index, n) and index.is_inside(n, loop) and index.order[n] > index.order[call]
        for n in index.nodes(cst.Name)
        if n.value == name
    )


def _bound_outside(ctx: FileContext, text: str, call: cst.Call, loop: cst.CSTNode) -> bool:
    """Every binding of the session name lies outside ``loop``."""
    root = text.split(".", 1)[0]
    bindings = ctx.index.lookup(root, call)
    return bool(bindings) and all(
        b.node is not loop and not ctx.index.is_inside(b.node, loop) for b in bindings
    )


def _assigned_name(index: ModuleIndex, call: cst.Call) -> str | None:
    parent = index.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
        return target.value if isinstance(target, cst.Name) else None
    if isinstance(parent, cst.AnnAssign) and isinstance(parent.target, cst.Name):
        return parent.target.value
    return None


def _running_together(ctx: FileContext, first: _Spawn, second: _Spawn) -> str | None:
    """The session both tasks use when ``first`` may still run when ``second`` starts."""
    index = ctx.index
    if first.function is not second.function:
        return None
    shared = [text for key, text in second.sessions.items() if key in first.sessions]
    if not shared:
        return None
    a, b = first.call, second.call
    if _exclusive(index, a, b):
        return None
    start, end = index.order[a], index.order[b]
    function = first.function
    for jump in _JUMPS:
        for node in index.own_nodes(function, jump):
            if start < index.order[node] < end:
                return None
    if isinstance(index.parent(a), cst.Await):
        return None
    name = _assigned_name(index, a)
    if first.group is not None:
        if not index.is_inside(b, first.group):
            return None  # the group waited for its tasks when its block ended
    elif (
        name is None
        and not isinstance(index.parent(a), cst.Expr)
        and any(start < index.order[n] < end for n in index.own_nodes(function, cst.Await))
    ):
        return None  # stored somewhere we do not follow: an await in between may wait for it
    if name is not None and any(
        n.value == name and is_load(index, n) and start < index.order[n] < end
        for n in index.nodes(cst.Name)
    ):
        return None
    return shared[0]


def _exclusive(index: ModuleIndex, a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """``a`` and ``b`` sit in branches that exclude each other: ``if``/``else``, two ``match``
    cases, or a ``try`` body and one of its ``except`` handlers."""
    a_ancestors = {id(anc) for anc in index.ancestors(a)}
    for anc in index.ancestors(b):
        if id(anc) not in a_ancestors:
            continue
        if isinstance(anc, cst.If):
            in_body_a = index.is_inside(a, anc.body)
            in_body_b = index.is_inside(b, anc.body)
            if anc.orelse is not None and in_body_a != in_body_b:
                return True
        if isinstance(anc, cst.Match):
            for case in anc.cases:
                if index.is_inside(a, case) != index.is_inside(b, case):
                    return True
        if isinstance(anc, cst.IfExp):
            return index.is_inside(a, anc.body) != index.is_inside(b, anc.body)
        if isinstance(anc, cst.Try | cst.TryStar):
            in_body_a = index.is_inside(a, anc.body)
            in_body_b = index.is_inside(b, anc.body)
            in_handler = any(
                index.is_inside(a if in_body_b else b, handler) for handler in anc.handlers
            )
            return in_body_a != in_body_b and in_handler
        return False
    return False
