"""SL107 manual-dependency-call."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import flow
from sessionlint.model.ownership import is_reference
from sessionlint.rule import Report, Rule

#: Advancing a generator by hand: ``next(gen)`` and the methods behind it.
_ADVANCE_FUNCTIONS = {False: frozenset({"builtins.next"}), True: frozenset({"builtins.anext"})}
_ADVANCE_METHODS = {False: frozenset({"__next__", "send"}), True: frozenset({"__anext__", "asend"})}


class ManualDependencyCall(Rule):
    """## What it does
    Flags a session generator — a generator function that yields a session, like FastAPI's
    `get_db` dependency — run by hand in a way that leaves it suspended at its `yield`:
    `next(get_db())`, `get_db().__next__()`, `await anext(get_async_db())`,
    `gen = get_db()` followed by a single `next(gen)` and nothing else done with `gen`, or a
    `for db in get_db():` loop left early by `break` or `return`. Reported at the call of the
    generator function.

    A `for` loop that runs to its end (no `break`, no `return` in its body) exhausts the
    generator, so the code after `yield` runs: it is not flagged. Test modules are checked
    too: a test that leaks its session leaves a transaction open that can block the next
    test's `drop_all()`.

    ## Why is this bad?
    The code after `yield` is meant to run when you are done with the session, and by hand it
    does not. The generator object of `next(get_db())` is dropped at once, so CPython closes
    it right away: a `finally:`/`with` cleanup closes the session *before* you use it (it then
    silently opens a new transaction that nothing closes), and code after `yield` outside
    `finally` — a commit — never runs. Kept in a variable or left by `break`, the generator
    is only cleaned up whenever it is garbage-collected.

    ## Example
    ```python
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def get_db():
        with SessionLocal() as db:
            yield db


    def purge_expired() -> None:
        db = next(get_db())
        db.execute(text("DELETE FROM tokens WHERE expires_at < CURRENT_TIMESTAMP"))
        db.commit()
    ```

    ## Use instead
    ```python
    from contextlib import contextmanager

    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


    def get_db():
        with SessionLocal() as db:
            yield db


    def purge_expired() -> None:
        with contextmanager(get_db)() as db:
            db.execute(text("DELETE FROM tokens WHERE expires_at < CURRENT_TIMESTAMP"))
            db.commit()
    ```

    ## Known problems
    Not flagged: `with contextmanager_fn() as db:` and `with contextmanager(get_db)() as db:`
    (the `with` runs the cleanup); `yield from get_db()` (the outer generator runs it to the
    end); `gen = get_db()` when `gen` is used in any other way than one `next(gen)` (a later
    `gen.close()`, a second `next(gen, None)`, passing it on); `@contextmanager` functions and
    pytest fixtures called by hand (they are not plain generators); `for` loops left by
    `raise` (exception paths do not count); a session taken with `db = next(get_db())` that
    the same function closes (`db.close()`) on every normal path, as in
    `try: ... finally: db.close()`. Like every rule about request-time harm, it is silent in
    test code, migrations and scripts.

    ## References
    - [FastAPI: dependencies with yield](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
    - [Python: generator-iterator methods](https://docs.python.org/3/reference/expressions.html#generator-iterator-methods)
    - [contextlib.contextmanager](https://docs.python.org/3/library/contextlib.html#contextlib.contextmanager)
    """

    code = "SL107"
    name = "manual-dependency-call"
    summary = "A session generator dependency run by hand, so its cleanup does not run"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = (
        "Let FastAPI call it with `Depends(...)`, or use `with contextmanager(dependency)() as db:`"
    )

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        for call in index.nodes(cst.Call):
            found = model.function_def(file, call.func)
            if found is None:
                continue
            gen_file, generator = found
            info = model.function_info(gen_file, generator)
            if (
                not info.is_generator
                or info.provides is None
                or model.is_contextmanager(gen_file, generator)
                or model.is_pytest_fixture(gen_file, generator)
            ):
                continue
            manual = self._manual_use(ctx, call, info.is_async)
            if manual is not None:
                how, advance = manual
                if advance is not None and _closed_on_every_path(ctx, advance):
                    continue
                # ``next(get_db())``: the hand-made call is ``next(...)``; report where it starts.
                parent = ctx.index.parent(call)
                outer = ctx.index.parent(parent) if isinstance(parent, cst.Arg) else None
                yield Report(
                    outer if isinstance(outer, cst.Call) else call,
                    f"`{generator.name.value}()` is run by hand ({how}): the code after its "
                    "`yield` (the cleanup) never runs",
                )

    def _manual_use(
        self, ctx: FileContext, call: cst.Call, is_async: bool
    ) -> tuple[str, cst.Call | None] | None:
        """How the generator object made by ``call`` is left suspended, and the call that
        hands out its session (``next(...)``), or None."""
        index = ctx.index
        parent = index.parent(call)
        if isinstance(parent, cst.Arg) and self._advances(ctx, parent, is_async):
            outer = index.parent(parent)
            assert isinstance(outer, cst.Call)
            return "`next()` on it", outer
        if isinstance(parent, cst.Attribute) and parent.value is call:
            grand = index.parent(parent)
            if (
                isinstance(grand, cst.Call)
                and grand.func is parent
                and parent.attr.value in _ADVANCE_METHODS[is_async]
            ):
                return f"`.{parent.attr.value}()` on it", grand
            return None
        if isinstance(parent, cst.For) and parent.iter is call:
            if (parent.asynchronous is not None) == is_async and self._leaves_early(ctx, parent):
                return "a `for` loop left before the generator ends", None
            return None
        if (
            isinstance(parent, cst.Assign)
            and parent.value is call
            and len(parent.targets) == 1
            and isinstance(parent.targets[0].target, cst.Name)
        ):
            return self._kept_and_advanced_once(ctx, parent, parent.targets[0].target, is_async)
        return None

    @staticmethod
    def _advances(ctx: FileContext, arg: cst.Arg, is_async: bool) -> bool:
        """``arg`` is the iterator argument of ``next(...)``/``anext(...)``."""
        outer = ctx.index.parent(arg)
        return (
            isinstance(outer, cst.Call)
            and bool(outer.args)
            and outer.args[0] is arg
            and arg.keyword is None
            and not arg.star
            and ctx.model.callee_qualname(ctx.file, outer) in _ADVANCE_FUNCTIONS[is_async]
        )

    @staticmethod
    def _leaves_early(ctx: FileContext, loop: cst.For) -> bool:
        """The loop body holds a ``break`` of this loop or a ``return`` of this function."""
        index = ctx.index
        function = index.enclosing_function(loop)
        for kind in (cst.Break, cst.Return):
            for node in index.own_nodes(function, kind):
                if not index.is_inside(node, loop.body):
                    continue
                if isinstance(node, cst.Return):
                    return True
                innermost = next(
                    a for a in index.ancestors(node) if isinstance(a, cst.For | cst.While)
                )
                if innermost is loop:
                    return True
        return False

    def _kept_and_advanced_once(
        self, ctx: FileContext, assign: cst.Assign, target: cst.Name, is_async: bool
    ) -> tuple[str, cst.Call | None] | None:
        """``gen = get_db()`` whose only use is a single ``next(gen)``."""
        index = ctx.index
        scope = index.scope_of(assign)
        bindings = scope.bindings.get(target.value, [])
        if len(bindings) != 1:
            return None
        uses = [
            n
            for n in index.nodes(cst.Name)
            if n.value == target.value
            and n is not target
            and is_reference(index, n)
            and any(b is bindings[0] for b in index.lookup(n.value, n))
        ]
        if len(uses) != 1:
            return None
        use = uses[0]
        parent = index.parent(use)
        how = f"`{target.value}` is advanced once and never closed"
        if isinstance(parent, cst.Arg) and self._advances(ctx, parent, is_async):
            outer = index.parent(parent)
            assert isinstance(outer, cst.Call)
            return how, outer
        if isinstance(parent, cst.Attribute) and parent.value is use:
            grand = index.parent(parent)
            if (
                isinstance(grand, cst.Call)
                and grand.func is parent
                and parent.attr.value in _ADVANCE_METHODS[is_async]
            ):
                return how, grand
        return None


def _closed_on_every_path(ctx: FileContext, advance: cst.Call) -> bool:
    """The session handed out by ``advance`` (``db = next(get_db())``, also awaited) is
    bound to a local name that the enclosing function closes (``db.close()``) on every
    normal path after the assignment."""
    index = ctx.index
    node: cst.CSTNode = advance
    parent = index.parent(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, index.parent(parent)
    if not (
        isinstance(parent, cst.Assign)
        and parent.value is node
        and len(parent.targets) == 1
        and isinstance(parent.targets[0].target, cst.Name)
    ):
        return False
    name = parent.targets[0].target.value
    function = index.enclosing_function(advance)
    if not isinstance(function, cst.FunctionDef):
        return False
    opening = flow.unit_of(index, advance)
    closing = set()
    for call in index.own_nodes(function, cst.Call):
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "close"
            and isinstance(func.value, cst.Name)
            and func.value.value == name
        ):
            unit = flow.unit_of(index, call)
            if unit is not None:
                closing.add(unit)
    if opening is None or not closing:
        return False

    def transfer(unit: cst.CSTNode, facts: frozenset[str]) -> frozenset[str]:
        if unit is opening:
            facts = facts | {"open"}
        if unit in closing:
            facts = facts - {"open"}
        return facts

    return "open" not in flow.analyze(function, transfer).exit_facts()
