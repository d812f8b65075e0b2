"""SL201 write-without-commit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.edits import call_statement, top_statement
from sessionlint.model import flow, names
from sessionlint.model.index import Binding
from sessionlint.model.names import Kind
from sessionlint.model.semantic import call_args, method_call
from sessionlint.rule import Report, Rule

#: A flow fact: (session name, the write call left uncommitted).
Pending = tuple[str, cst.Call]


class WriteWithoutCommit(Rule):
    """## What it does
    In a function that owns the transaction — a route handler whose session comes from a
    dependency that does not commit, or any function that created the session itself — flags a
    write (`add`, `add_all`, `delete`, `merge`, `bulk_*`, or `execute()`/`exec()` of an
    `insert`/`update`/`delete` statement) that some normal path leaves without `commit()`.
    Paths that leave by `raise` do not count. Reported at the first write that some path
    leaves uncommitted.

    A session bound to an existing connection (`Session(bind=conn)` inside
    `with engine.begin() as conn:`, `Session(bind=op.get_bind())`, `Session(bind=connection)` in
    an event listener) does not own the transaction: the connection's owner commits, so its
    writes are not flagged.

    ## Why is this bad?
    The session is closed at the end of the request and everything not committed is rolled
    back: the client gets a success response and the data is silently lost.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    from app.models import Item

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.post("/items")
    def create_item(item: Item, db: Session = Depends(get_db)):
        db.add(item)
        return item
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    from app.models import Item

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.post("/items")
    def create_item(item: Item, db: Session = Depends(get_db)):
        db.add(item)
        db.commit()
        db.refresh(item)
        return item
    ```

    ## Fix safety
    The fix inserts `db.commit()` (`await db.commit()` for an `AsyncSession`) after the last
    write statement of the session in the innermost block that holds every uncommitted write
    (after a loop, not inside it). It is offered only when that makes every path commit: no
    `return`, `break` or `continue` leaves the block between the first uncommitted write and
    the new commit, and no commit follows in that block; otherwise it is a suggestion. It is
    unsafe: committing earlier than the author meant can publish a half-finished change, and
    sessionlint cannot know where the unit of work ends. When an object added with
    `db.add(obj)` is read after the new commit (returned, serialised), the fix also inserts
    `db.refresh(obj)`: the commit expires the object, and a SQLModel or Pydantic response
    built from an expired object comes out empty (`{}`).

    ## Known problems
    Not flagged: writes inside `with s.begin():` / `with factory.begin() as s:`; sessions from
    a unit-of-work dependency (one that commits after `yield`, or yields from
    `factory.begin()`); functions that receive the session as a parameter and are not route
    handlers (CRUD helpers, repositories, services); writes through attribute chains
    (`self.session.add`); a session from a dependency sessionlint cannot see. Passing the
    session to another function after the write counts as a commit (that function may commit).

    ## References
    - [SQLAlchemy: committing](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#committing)
    - [FastAPI: SQL databases](https://fastapi.tiangolo.com/tutorial/sql-databases/)
    """

    code = "SL201"
    name = "write-without-commit"
    summary = "A write that some path never commits"
    severity = Severity.WARNING
    request_time_harm = True
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for function in ctx.index.nodes(cst.FunctionDef):
            owned = self._owned_sessions(ctx, function)
            if owned:
                yield from self._check_function(ctx, function, owned)

    def _owned_sessions(self, ctx: FileContext, function: cst.FunctionDef) -> set[str]:
        """Names of the sessions whose transaction this function owns."""
        file, model, index = ctx.file, ctx.model, ctx.index
        scope = index.scopes[function]
        owned: set[str] = set()
        route = model.is_route_handler(file, function)
        for name, bindings in scope.bindings.items():
            if len(bindings) != 1:
                continue
            binding = bindings[0]
            node = binding.node
            if isinstance(node, cst.Param):
                if not route or model.binding_kind(file, binding) is None:
                    continue
                dependency = model.dependency_function(file, node)
                if dependency is None:
                    continue
                dep_file, dep, _ = dependency
                if not model.function_info(dep_file, dep).unit_of_work:
                    owned.add(name)
            elif self._created_here(ctx, binding):
                owned.add(name)
        return owned

    @staticmethod
    def _created_here(ctx: FileContext, binding: Binding) -> bool:
        node, model, file = binding.node, ctx.model, ctx.file
        if isinstance(node, cst.WithItem):
            item = node.item
            return (
                isinstance(item, cst.Call)
                and model.creation_kind(file, item) is not None
                and not model.borrowed_creation(file, item)
            )
        value = binding.value
        return (
            isinstance(node, cst.Assign | cst.AnnAssign)
            and isinstance(value, cst.Call)
            and model.creation_kind(file, value) is not None
            and not model.borrowed_creation(file, value)
        )

    def _check_function(
        self, ctx: FileContext, function: cst.FunctionDef, owned: set[str]
    ) -> Iterator[Report]:
        index = ctx.index
        events: dict[cst.CSTNode, list[tuple[str, str, cst.Call]]] = {}
        for call in index.own_nodes(function, cst.Call):
            event = self._event(ctx, function, call, owned)
            if event is None:
                continue
            unit = flow.unit_of(index, call)
            if unit is not None:
                events.setdefault(unit, []).append(event)
        if not any(kind == "write" for unit in events.values() for kind, _, _ in unit):
            return

        def transfer(unit: cst.CSTNode, facts: frozenset[Pending]) -> frozenset[Pending]:
            for kind, name, call in sorted(events.get(unit, ()), key=lambda e: index.order[e[2]]):
                if kind == "write":
                    facts = facts | {(name, call)}
                else:
                    facts = frozenset(f for f in facts if f[0] != name)
            return facts

        pending = flow.analyze(function, transfer).exit_facts()
        first: dict[str, cst.Call] = {}
        for name, call in pending:
            if name not in first or index.order[call] < index.order[first[name]]:
                first[name] = call
        for name, call in sorted(first.items(), key=lambda item: index.order[item[1]]):
            method = method_call(call)
            assert method is not None
            uncommitted = [c for n, c in pending if n == name]
            yield Report(
                call,
                f"`{name}.{method[1]}()` is not committed on every path: the write is rolled "
                "back when the session closes",
                fix=_commit_fix(ctx, function, name, method[0], uncommitted, events),
            )

    def _event(
        self, ctx: FileContext, function: cst.FunctionDef, call: cst.Call, owned: set[str]
    ) -> tuple[str, str, cst.Call] | None:
        """('write' | 'commit', session name, call) for calls that matter, else None."""
        file, model = ctx.file, ctx.model
        method = method_call(call)
        if method is not None and isinstance(method[0], cst.Name) and method[0].value in owned:
            name, attr = method[0].value, method[1]
            if attr == "commit":
                return "commit", name, call
            is_write = attr in names.WRITE_METHODS or (
                attr in names.EXECUTE_METHODS and self._is_dml(ctx, call)
            )
            if is_write and model.enclosing_begin(file, call, function) is None:
                return "write", name, call
            return None
        # Handing the session to another function: it may commit; stay silent.
        for arg in call.args:
            if isinstance(arg.value, cst.Name) and arg.value.value in owned:
                return "commit", arg.value.value, call
        return None

    @staticmethod
    def _is_dml(ctx: FileContext, call: cst.Call) -> bool:
        positional, keywords = call_args(call)
        statement = positional[0] if positional else keywords.get("statement")
        seen = 0
        while statement is not None and seen < 50:
            seen += 1
            if isinstance(statement, cst.Name):
                bindings = ctx.index.lookup(statement.value, statement)
                if len(bindings) != 1 or bindings[0].value is None:
                    return False
                statement = bindings[0].value
                continue
            if not isinstance(statement, cst.Call):
                return False
            qualname = ctx.model.callee_qualname(ctx.file, statement)
            if qualname in names.DML_CONSTRUCTORS:
                return True
            func = statement.func
            statement = func.value if isinstance(func, cst.Attribute) else None
        return False


# -- the fix ------------------------------------------------------------------------------------
#
# ``<name>.commit()`` is inserted after the last write statement of the session in the innermost
# block (not a loop body: after the loop) that holds every uncommitted write. It is offered only
# when that makes every path commit: no ``return``, ``break`` or ``continue`` leaves the block
# between the first uncommitted write and the insertion point, and no commit of the session
# follows in the block (then some other path is the problem: a suggestion only).


def _commit_fix(
    ctx: FileContext,
    function: cst.FunctionDef,
    name: str,
    receiver: cst.BaseExpression,
    uncommitted: list[cst.Call],
    events: dict[cst.CSTNode, list[tuple[str, str, cst.Call]]],
) -> Fix:
    index = ctx.index
    kind = ctx.model.session_kind(ctx.file, receiver)
    awaited = kind is Kind.ASYNC
    display = Fix(
        Applicability.DISPLAY_ONLY,
        f"Call `{'await ' if awaited else ''}{name}.commit()` after the writes on every path",
    )
    if kind is None or (awaited and function.asynchronous is None):
        return display
    block = _common_block(ctx, function, uncommitted)
    if block is None:
        return display
    tops = [top_statement(index, call, block) for call in uncommitted]
    if any(t is None for t in tops):
        return display
    start = min(t for t in tops if t is not None)
    writes: list[int] = []
    commits: list[int] = []
    for unit_events in events.values():
        for event, session, call in unit_events:
            if session != name:
                continue
            position = top_statement(index, call, block)
            if position is not None:
                (writes if event == "write" else commits).append(position)
    end = max(p for p in writes if p >= start)
    if any(p > end for p in commits):
        return display
    span = block.body[start : end + 1]
    if _escapes(ctx, function, span):
        return display
    last = block.body[end]
    statements: list[cst.BaseStatement] = [last, call_statement(name, "commit", awaited=awaited)]
    refreshed = _used_after(ctx, function, last, _added_names(ctx, block, uncommitted))
    statements += [_refresh_statement(name, obj, awaited=awaited) for obj in refreshed]
    prefix = "await " if awaited else ""
    also = "".join(f", `{prefix}{name}.refresh({obj})`" for obj in refreshed)
    return Fix(
        Applicability.UNSAFE,
        f"Insert `{prefix}{name}.commit()`{also} after the last write",
        replacements=((last, cst.FlattenSentinel(statements)),),
    )


def _added_names(ctx: FileContext, block: cst.IndentedBlock, calls: list[cst.Call]) -> list[str]:
    """Objects passed to ``add(obj)`` in a statement of its own directly in ``block``.

    Those statements run on every path that reaches the commit, so the name is bound there."""
    added: list[str] = []
    for call in calls:
        method = method_call(call)
        positional, keywords = call_args(call)
        if method is None or method[1] != "add" or keywords or len(positional) != 1:
            continue
        obj = positional[0]
        expr = ctx.index.parent(call)
        line = ctx.index.parent(expr) if isinstance(expr, cst.Expr) else None
        if isinstance(obj, cst.Name) and line in block.body and obj.value not in added:
            added.append(obj.value)
    return added


def _used_after(
    ctx: FileContext, function: cst.FunctionDef, last: cst.CSTNode, candidates: list[str]
) -> list[str]:
    """The ``candidates`` read after ``last`` (returned, serialised, passed on)."""
    if not candidates:
        return []
    index = ctx.index
    after = index.end_order(last)
    used = {
        node.value
        for node in index.own_nodes(function, cst.Name)
        if node.value in candidates and index.order[node] >= after
    }
    return [c for c in candidates if c in used]


def _refresh_statement(session: str, obj: str, *, awaited: bool) -> cst.SimpleStatementLine:
    """``session.refresh(obj)``: commit expires ``obj``; reload it before it is read again."""
    call: cst.BaseExpression = cst.Call(
        func=cst.Attribute(value=cst.Name(session), attr=cst.Name("refresh")),
        args=[cst.Arg(cst.Name(obj))],
    )
    if awaited:
        call = cst.Await(expression=call)
    return cst.SimpleStatementLine(body=[cst.Expr(call)])


def _common_block(
    ctx: FileContext, function: cst.FunctionDef, calls: list[cst.Call]
) -> cst.IndentedBlock | None:
    """The innermost indented block of ``function`` holding every call, not a loop body."""
    index = ctx.index
    for anc in index.ancestors(calls[0]):
        if anc is function:
            return None
        if not isinstance(anc, cst.IndentedBlock):
            continue
        owner = index.parent(anc)
        if isinstance(owner, cst.For | cst.While) and owner.body is anc:
            continue
        if all(index.is_inside(call, anc) for call in calls[1:]):
            return anc
    return None


def _escapes(
    ctx: FileContext, function: cst.FunctionDef, span: Sequence[cst.BaseStatement]
) -> bool:
    """A ``return``, or a ``break``/``continue`` of a loop outside ``span``, inside ``span``."""
    index = ctx.index

    def inside(node: cst.CSTNode) -> bool:
        return any(node is s or index.is_inside(node, s) for s in span)

    if any(inside(node) for node in index.own_nodes(function, cst.Return)):
        return True
    jumps: list[cst.CSTNode] = [
        *index.own_nodes(function, cst.Break),
        *index.own_nodes(function, cst.Continue),
    ]
    for jump in jumps:
        if inside(jump):
            loop = next(
                (a for a in index.ancestors(jump) if isinstance(a, cst.For | cst.While)), None
            )
            if loop is None or not inside(loop):
                return True
    return False
