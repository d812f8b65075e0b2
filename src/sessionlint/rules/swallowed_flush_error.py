"""SL202 swallowed-flush-error."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import flow, names
from sessionlint.model.codekind import CodeKind
from sessionlint.model.names import Kind
from sessionlint.model.semantic import External, dotted_name
from sessionlint.rule import Report, Rule

#: Methods whose failure leaves the session needing ``rollback()``.
FLUSHING_METHODS = frozenset({"commit", "flush"})
#: Session methods that neither do I/O nor need a live transaction: not a "use".
BENIGN_METHODS = frozenset(
    {
        "expunge",
        "expunge_all",
        "expire",
        "expire_all",
        "in_transaction",
        "in_nested_transaction",
        "is_modified",
        "get_bind",
    }
)
_BROAD_EXCEPTIONS = frozenset({"builtins.Exception", "builtins.BaseException"})

Handler = cst.ExceptHandler | cst.ExceptStarHandler


@dataclass(frozen=True)
class Swallow:
    """A handler that swallows the failure of ``<key>.<method>()`` (the flow fact)."""

    handler: Handler
    key: str
    method: str
    kind: Kind
    #: The handler only ``pass``es/``continue``s around a ``commit()`` of the session.
    silent: bool = False


#: What a unit does with a session: ("use" | "reset", order, session key).
Event = tuple[str, int, str]


class SwallowedFlushError(Rule):
    """## What it does
    Flags an `except` handler around `commit()`/`flush()` on a session that catches what
    SQLAlchemy can raise (a bare `except`, `Exception`, `BaseException`, or an exception of
    `sqlalchemy.exc` / `sqlalchemy.orm.exc`, also inside a tuple) and neither raises nor calls
    `rollback()` (or `close()`) on that session, while the session is used again afterwards:
    inside the handler, after the `try`, or in the next iteration of a loop; or while the
    function is a helper that receives the session as a parameter (not a route handler) and
    returns normally to the caller that owns it. Also flags such a handler whose body only
    `pass`es, `continue`s or is `...` around a `commit()`: the write disappears without a trace,
    whatever happens to the session afterwards. Reported at the `except`.

    A call in the handler to a project function whose every path raises (`raise_conflict("email")`
    where the helper raises `HTTPException`, also through further helpers and across modules)
    counts as raising. A call that rolls back or closes that session counts as the rollback: a
    project function that receives it (`rollback_and_log(db)`), a method of an object built with
    it (`repo = Repo(db)` … `repo.rollback()` where the method calls `self.db.rollback()`), or a
    method of the enclosing class that rolls `self.session` back (`self._reset()`).

    ## Why is this bad?
    When a flush fails, the session's transaction is rolled back internally but the session
    stays in a failed state: every later use raises `PendingRollbackError` ("This Session's
    transaction has been rolled back due to a previous exception during flush") until
    `rollback()` is called. Swallowing the error turns one failed insert into a cascade of
    confusing errors later in the request — or in the next loop iteration, the next caller of
    the helper, the next request sharing the session.

    ## Example
    ```python
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session


    def import_users(db: Session, users: list) -> int:
        created = 0
        for user in users:
            db.add(user)
            try:
                db.commit()
                created += 1
            except IntegrityError:
                continue  # duplicate: skip it
        return created
    ```

    ## Use instead
    ```python
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session


    def import_users(db: Session, users: list) -> int:
        created = 0
        for user in users:
            db.add(user)
            try:
                db.commit()
                created += 1
            except IntegrityError:
                db.rollback()
                continue  # duplicate: skip it
        return created
    ```

    ## Fix safety
    The fix inserts `<name>.rollback()` (`await <name>.rollback()` for an `AsyncSession`) as
    the first statement of the handler. It is unsafe: the rollback also discards the other
    pending changes of the transaction (objects added before the failing flush), which the
    code after the handler may have counted on.

    ## Known problems
    Not flagged: `commit()`/`flush()` inside `with s.begin():` or `with s.begin_nested():`
    (the block rolls back itself; a savepoint is the right tool for "try this insert, skip it
    on conflict"); handlers that catch only exceptions SQLAlchemy does not raise
    (`except ValueError`); handlers that contain any `raise` or call a project function that
    raises on every path; a route handler that returns an error right away without touching
    the session (its dependency closes the session); a handler that passes the session to a
    function sessionlint cannot see (it may roll back); test functions and fixtures that
    return normally or only `pass` (pytest owns their session, and a swallowed commit there is
    usually the failure the test expects); `try` blocks at module level.
    A helper counts as raising only when no path returns: `if`/`else` chains, `try` and `with`
    blocks are followed, loops and `match` are not (such a helper does not count). The
    analysis does not follow conditions: a `rollback()` under an `if` after the `try` counts
    only on the paths through that `if`. Reading a plain attribute of the session
    (`db.is_active`) and `expunge`/`expire` are not uses.

    ## References
    - [SQLAlchemy FAQ: "This Session's transaction has been rolled back due to a previous
      exception during flush"][faq]
    - [SQLAlchemy: using SAVEPOINT](https://docs.sqlalchemy.org/en/20/orm/session_transaction.html#using-savepoint)

    [faq]: https://docs.sqlalchemy.org/en/20/faq/sessions.html#this-session-s-transaction-has-been-rolled-back-due-to-a-previous-exception-during-flush-or-similar
    """

    code = "SL202"
    name = "swallowed-flush-error"
    summary = "A failed commit/flush is swallowed without rolling the session back"
    severity = Severity.ERROR
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for function in ctx.index.nodes(cst.FunctionDef):
            swallows = self._swallows(ctx, function)
            if swallows:
                yield from self._check_function(ctx, function, swallows)

    # -- candidates -------------------------------------------------------------------------
    def _swallows(self, ctx: FileContext, function: cst.FunctionDef) -> list[Swallow]:
        """Handlers of this function that catch a failed commit/flush and do not raise,
        roll back or hand the session to an unknown function."""
        file, model, index = ctx.file, ctx.model, ctx.index
        guarded: dict[cst.CSTNode, dict[str, tuple[str, Kind]]] = {}
        committed: dict[cst.CSTNode, set[str]] = {}
        for call in index.own_nodes(function, cst.Call):
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in FLUSHING_METHODS:
                continue
            key = dotted_name(func.value)
            if key is None:
                continue
            kind = model.session_kind(file, func.value)
            if kind is None:
                continue
            if model.enclosing_begin(file, call, function, savepoints=True) is not None:
                continue  # the begin()/begin_nested() block rolls back itself
            prev: cst.CSTNode = call
            for anc in index.ancestors(call):
                if anc is function:
                    break
                if isinstance(anc, cst.Try | cst.TryStar) and prev is anc.body:
                    guarded.setdefault(anc, {}).setdefault(key, (func.attr.value, kind))
                    if func.attr.value == "commit":
                        committed.setdefault(anc, set()).add(key)
                prev = anc
        result: list[Swallow] = []
        for try_node in sorted(guarded, key=lambda t: index.order[t]):
            assert isinstance(try_node, cst.Try | cst.TryStar)
            for handler in try_node.handlers:
                if not self._catches_flush_errors(ctx, handler.type):
                    continue
                if self._raises(ctx, function, handler):
                    continue
                for key, (method, kind) in guarded[try_node].items():
                    if self._handled(ctx, function, handler, key):
                        continue
                    if (
                        key in committed.get(try_node, ())
                        and _does_nothing(handler)
                        and not _is_test_function(ctx, function)
                    ):
                        result.append(Swallow(handler, key, "commit", kind, silent=True))
                    else:
                        result.append(Swallow(handler, key, method, kind))
        return result

    def _catches_flush_errors(self, ctx: FileContext, caught: cst.BaseExpression | None) -> bool:
        if caught is None:
            return True  # bare ``except:``
        if isinstance(caught, cst.Tuple):
            return any(self._catches_flush_errors(ctx, e.value) for e in caught.elements)
        if not isinstance(caught, cst.Name | cst.Attribute):
            return False
        qualname = ctx.model.qualname(ctx.file, caught)
        if qualname is None:
            return False
        return qualname in _BROAD_EXCEPTIONS or qualname.startswith(
            names.SQLALCHEMY_EXCEPTION_MODULES
        )

    @staticmethod
    def _raises(ctx: FileContext, function: cst.FunctionDef, handler: Handler) -> bool:
        """The handler contains a ``raise``, or calls a project function that raises on
        every path (``raise_conflict("email")``)."""
        index = ctx.index
        if any(index.is_inside(r, handler) for r in index.own_nodes(function, cst.Raise)):
            return True
        return any(
            index.is_inside(call, handler) and ctx.model.effects.call_always_raises(ctx.file, call)
            for call in index.own_nodes(function, cst.Call)
        )

    def _handled(
        self, ctx: FileContext, function: cst.FunctionDef, handler: Handler, key: str
    ) -> bool:
        """The handler resets the session, or hands it to a function that may."""
        index = ctx.index
        for call in index.own_nodes(function, cst.Call):
            if not index.is_inside(call, handler):
                continue
            if ctx.model.effects.call_resets(ctx.file, call, key):
                return True
            for arg in call.args:
                if dotted_name(arg.value) == key and self._passing(ctx, call, arg.value) in (
                    "reset",
                    "unknown",
                ):
                    return True
        return False

    @staticmethod
    def _passing(ctx: FileContext, call: cst.Call, value: cst.BaseExpression) -> str:
        """What handing the session to ``call`` does: "reset" (a project function that rolls
        back or closes it), "use" (any other project function), "neutral" (a builtin such as
        ``isinstance``), "unknown" (a function sessionlint cannot see)."""
        file, model = ctx.file, ctx.model
        callees = list(model.session_arguments(file, call, lambda e: e is value))
        if not callees:
            target = model.callee(file, call)
            if isinstance(target, External) and target.qualname.startswith("builtins."):
                return "neutral"
            return "use" if model.function_def(file, call.func) is not None else "unknown"
        for callee_file, callee, param in callees:
            if model.effects.resets(callee_file, callee, param):
                return "reset"
        return "use"

    # -- flow ------------------------------------------------------------------------------------
    def _check_function(
        self, ctx: FileContext, function: cst.FunctionDef, swallows: list[Swallow]
    ) -> Iterator[Report]:
        index = ctx.index
        keys = {s.key for s in swallows}
        events = self._events(ctx, function, keys)
        hits: set[Swallow] = set()

        def transfer(unit: cst.CSTNode, facts: frozenset[Swallow]) -> frozenset[Swallow]:
            for kind, _, key in sorted(events.get(unit, ()), key=lambda e: (e[0] == "reset", e[1])):
                if kind == "use":
                    hits.update(f for f in facts if f.key == key)
                else:
                    facts = frozenset(f for f in facts if f.key != key)
            return facts

        def handler_entry(handler: Handler) -> frozenset[Swallow]:
            return frozenset(s for s in swallows if s.handler is handler)

        result = flow.analyze(function, transfer, handler_entry=handler_entry)
        owners_params = self._caller_owned(ctx, function, keys)
        returning = {s for s in result.exit_facts() if s.key in owners_params}
        reported: set[cst.CSTNode] = set()
        for swallow in sorted(swallows, key=lambda s: index.order[s.handler]):
            if swallow.handler in reported:
                continue
            if swallow.silent:
                reported.add(swallow.handler)
                yield Report(
                    swallow.handler,
                    f"{self._describe(ctx, swallow.handler)} silently discards a failed "
                    f"`{swallow.key}.commit()`: the write is lost and `{swallow.key}` needs "
                    "`rollback()`",
                    fix=self._fix(ctx, function, swallow),
                )
                continue
            if swallow in hits:
                why = f"and uses `{swallow.key}` again"
            elif swallow in returning:
                why = f"and returns `{swallow.key}` broken"
            else:
                continue
            reported.add(swallow.handler)
            yield Report(
                swallow.handler,
                f"{self._describe(ctx, swallow.handler)} swallows a failed "
                f"`{swallow.key}.{swallow.method}()` without `rollback()` {why}",
                fix=self._fix(ctx, function, swallow),
            )

    @staticmethod
    def _caller_owned(ctx: FileContext, function: cst.FunctionDef, keys: set[str]) -> set[str]:
        """The sessions among ``keys`` that this function receives as a parameter from a
        caller that owns them: a helper, not a route handler, test function or fixture."""
        file, model, index = ctx.file, ctx.model, ctx.index
        if model.is_route_handler(file, function) or _is_test_function(ctx, function):
            return set()
        params = set()
        for key in keys:
            bindings = index.scopes[function].bindings.get(key, [])
            if len(bindings) == 1 and isinstance(bindings[0].node, cst.Param):
                params.add(key)
        return params

    def _events(
        self, ctx: FileContext, function: cst.FunctionDef, keys: set[str]
    ) -> dict[cst.CSTNode, list[Event]]:
        """Per flow unit, the uses and resets of the sessions named ``keys``."""
        index = ctx.index
        events: dict[cst.CSTNode, list[Event]] = {}

        def add(node: cst.CSTNode, event: str, key: str) -> None:
            unit = flow.unit_of(index, node)
            if unit is not None:
                events.setdefault(unit, []).append((event, index.order[node], key))

        candidates: list[cst.BaseExpression] = [
            *(n for n in index.own_nodes(function, cst.Name) if n.value in keys),
            *(a for a in index.own_nodes(function, cst.Attribute) if dotted_name(a) in keys),
        ]
        for node in candidates:
            key = dotted_name(node)
            assert key is not None
            parent = index.parent(node)
            grand = index.parent(parent) if parent is not None else None
            if isinstance(parent, cst.Attribute) and parent.value is node:
                method = parent.attr.value
                if not (isinstance(grand, cst.Call) and grand.func is parent):
                    continue  # a plain attribute read (``db.is_active``)
                if method in names.SESSION_RESET_METHODS:
                    add(grand, "reset", key)
                elif method not in BENIGN_METHODS:
                    add(grand, "use", key)
            elif (
                isinstance(parent, cst.Arg) and parent.value is node and isinstance(grand, cst.Call)
            ):
                passing = self._passing(ctx, grand, node)
                if passing != "neutral":
                    add(grand, "reset" if passing == "reset" else "use", key)
            elif isinstance(parent, cst.AssignTarget | cst.AnnAssign | cst.AsName) and (
                getattr(parent, "target", None) is node or getattr(parent, "name", None) is node
            ):
                add(node, "reset", key)  # rebound to another session
        # Resets that do not name the session: ``repo.rollback()`` on an object built with
        # it, ``self.reset()`` on a method that rolls ``self.session`` back.
        for call in index.own_nodes(function, cst.Call):
            if isinstance(call.func, cst.Attribute):
                for key in keys:
                    if dotted_name(call.func.value) != key and ctx.model.effects.call_resets(
                        ctx.file, call, key
                    ):
                        add(call, "reset", key)
        return events

    # -- report ----------------------------------------------------------------------------------
    @staticmethod
    def _describe(ctx: FileContext, handler: Handler) -> str:
        if handler.type is None:
            return "A bare `except:`"
        return f"`except {ctx.module.code_for_node(handler.type)}`"

    @staticmethod
    def _fix(ctx: FileContext, function: cst.FunctionDef, swallow: Swallow) -> Fix | None:
        is_async = swallow.kind is Kind.ASYNC
        if is_async and function.asynchronous is None:
            return None
        code = f"{'await ' if is_async else ''}{swallow.key}.rollback()"
        receiver = cst.parse_expression(swallow.key)  # a dotted name: ``db``, ``self.db``
        call: cst.BaseExpression = cst.Call(
            func=cst.Attribute(value=receiver, attr=cst.Name("rollback"))
        )
        if is_async:
            call = cst.Await(expression=call)
        statement = cst.SimpleStatementLine(body=[cst.Expr(call)])
        body = swallow.handler.body
        new_body: cst.BaseSuite
        if isinstance(body, cst.IndentedBlock):
            new_body = body.with_changes(body=[statement, *body.body])
        elif isinstance(body, cst.SimpleStatementSuite):
            new_body = body.with_changes(body=[*statement.body, *body.body])
        else:
            return None
        return Fix(
            Applicability.UNSAFE,
            f"Insert `{code}` first in the handler",
            replacements=((body, new_body),),
        )


def _is_test_function(ctx: FileContext, function: cst.FunctionDef) -> bool:
    """A test function or fixture: pytest owns its session, and a swallowed commit there is
    usually the expected failure (``except IntegrityError: pass``)."""
    model = ctx.model
    return model.code_kind(ctx.file) is CodeKind.TEST and (
        function.name.value.startswith("test") or model.is_pytest_fixture(ctx.file, function)
    )


def _does_nothing(handler: Handler) -> bool:
    """The handler's body is only ``pass``, ``continue`` or ``...``."""
    body = handler.body
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    for line in lines:
        if not isinstance(line, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            return False
        for small in line.body:
            if isinstance(small, cst.Pass | cst.Continue):
                continue
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis):
                continue
            return False
    return True
