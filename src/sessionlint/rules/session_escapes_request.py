"""SL105 session-escapes-request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.model.project import SourceFile
from sessionlint.model.semantic import Def, call_args, method_call
from sessionlint.rule import Report, Rule

#: Methods that block until a task, future or thread is done.
_WAIT_METHODS = frozenset({"result", "join", "exception"})
#: Methods that put an object into a container held by a local name.
_STORE_METHODS = frozenset({"append", "add", "extend", "insert", "appendleft"})


@dataclass(frozen=True)
class _Session:
    """A parameter holding a request-scoped session, and the ``Depends(...)`` providing it."""

    param: cst.Param
    depends: cst.Call


@dataclass(frozen=True)
class _Handoff:
    what: str
    session: str
    #: ``BackgroundTasks.add_task`` / ``BackgroundTask``: harmful only when the dependency's
    #: exit code runs before the background tasks (see :meth:`SessionEscapesRequest._closed_first`).
    background: bool = False


class SessionEscapesRequest(Rule):
    """## What it does
    Flags a request-scoped session (a parameter whose session comes from `Depends`) handed
    to work that outlives the request: `BackgroundTasks.add_task(...)` /
    `BackgroundTask(...)` (as a positional or keyword argument), a fire-and-forget
    `asyncio.create_task(...)` / `ensure_future(...)` (also when the session is an argument
    of the coroutine: `create_task(work(db))`), `threading.Thread(target=..., args=(db,))`,
    `executor.submit(fn, db)` and `loop.run_in_executor(None, fn, db)` that are not awaited
    (or `.result()`-ed / `.join()`-ed) before the handler returns. A `lambda`,
    `functools.partial` or nested function that captures the session counts as handing it
    over. Reported at the hand-off call.

    `BackgroundTasks` hand-offs are flagged only when the dependency's exit code runs before
    the background tasks: when the project targets FastAPI 0.106 to 0.117 (the dependency
    closes the session before the response is sent), or when the dependency is declared with
    `Depends(..., scope="function")`. On FastAPI < 0.106 and >= 0.118 with the default scope
    the teardown runs after the tasks, so they are not flagged. The other hand-offs are
    always flagged. Like every rule about request-time harm, it is silent in test code,
    migrations and scripts.

    ## Why is this bad?
    The session belongs to the request: the dependency closes it when the request ends. Work
    that runs later either finds it closed (`DetachedInstanceError`, "This session is
    closed"), or, with FastAPI 0.118+, keeps the request's session and connection checked
    out until the background work ends, while the handler and the task may use the one
    session concurrently, which a `Session` does not support.

    ## Example
    ```python
    from fastapi import BackgroundTasks, Depends, FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    ORDERS = text("SELECT count(*) FROM orders WHERE user_id = :user_id")
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    def send_report(db: Session, user_id: int) -> None:
        orders = db.execute(ORDERS, {"user_id": user_id}).scalar_one()
        ...  # mail the report


    @app.post("/reports/{user_id}")
    def request_report(
        user_id: int,
        background_tasks: BackgroundTasks,
        db: Session = Depends(get_db, scope="function"),
    ):
        background_tasks.add_task(send_report, db, user_id)
        return {"queued": True}
    ```

    ## Use instead
    ```python
    from fastapi import BackgroundTasks, Depends, FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
    ORDERS = text("SELECT count(*) FROM orders WHERE user_id = :user_id")
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    def send_report(user_id: int) -> None:
        with SessionLocal() as db:  # the task opens its own session
            orders = db.execute(ORDERS, {"user_id": user_id}).scalar_one()
            ...  # mail the report


    @app.post("/reports/{user_id}")
    def request_report(
        user_id: int,
        background_tasks: BackgroundTasks,
        db: Session = Depends(get_db, scope="function"),
    ):
        background_tasks.add_task(send_report, user_id)
        return {"queued": True}
    ```

    ## Known problems
    Not flagged: ids and other plain data, the session factory or the engine (pass those and
    open a new session in the task); hand-offs awaited inside the handler
    (`await asyncio.create_task(...)`, a task or future stored in a local name and later
    awaited, `.result()`-ed or `.join()`-ed, also through a list and `asyncio.gather`);
    `executor.submit(...)` on an executor opened by a `with` block of the handler (the block
    waits for it); `run_in_threadpool` / `asyncio.to_thread` (always awaited); TaskGroup
    tasks. Only executors whose type sessionlint can see (`ThreadPoolExecutor(...)`, an
    `Executor` annotation) are considered; sessions reached through attributes are out of
    scope.

    ## References
    - [FastAPI: background tasks](https://fastapi.tiangolo.com/tutorial/background-tasks/)
    - [FastAPI: dependencies with yield and background tasks](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/)
    - [SQLAlchemy: is the Session thread-safe?](https://docs.sqlalchemy.org/en/20/orm/session_basics.html#is-the-session-thread-safe-is-asyncsession-safe-to-share-in-concurrent-tasks)
    """

    code = "SL105"
    name = "session-escapes-request"
    summary = "A request-scoped session is handed to work that outlives the request"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = "Hand over ids or plain data and open a new session inside the background work"

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for function in ctx.index.nodes(cst.FunctionDef):
            sessions = self._request_sessions(ctx, function)
            if not sessions:
                continue
            checker = _FunctionChecker(ctx, function, sessions)
            for call in ctx.index.own_nodes(function, cst.Call):
                handoff = checker.handoff(call)
                if handoff is None or checker.waited(call):
                    continue
                session = sessions[handoff.session]
                if handoff.background and not self._closed_first(ctx, session):
                    continue  # the session is closed after the background tasks ran
                yield Report(call, self._message(ctx, handoff, session))

    @staticmethod
    def _request_sessions(ctx: FileContext, function: cst.FunctionDef) -> dict[str, _Session]:
        file, model = ctx.file, ctx.model
        found: dict[str, _Session] = {}
        for name, bindings in ctx.index.scopes[function].bindings.items():
            if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
                continue
            param = bindings[0].node
            dependency = model.param_dependency(file, param)
            if dependency is None or model.binding_kind(file, bindings[0]) is None:
                continue
            found[name] = _Session(param, dependency[1])
        return found

    @staticmethod
    def _closed_first(ctx: FileContext, session: _Session) -> bool:
        """The dependency's exit code closes the session before the background tasks run:
        FastAPI 0.106 to 0.117, or ``Depends(..., scope="function")``."""
        return (
            ctx.versions.fastapi_in("0.106", "0.118")
            or ctx.model.depends_scope(session.depends) == "function"
        )

    @staticmethod
    def _message(ctx: FileContext, handoff: _Handoff, session: _Session) -> str:
        if ctx.model.depends_scope(session.depends) == "function":
            why = 'the task runs after its `scope="function"` dependency closed it'
        elif ctx.versions.fastapi_in("0.106", "0.118"):
            why = "on FastAPI 0.106-0.117 the task runs after the session is closed"
        else:
            why = "the session is closed when the request ends"
        return f"Request session `{handoff.session}` goes to {handoff.what}: {why}"


class _FunctionChecker:
    """Hand-off questions about the calls of one function."""

    def __init__(
        self, ctx: FileContext, function: cst.FunctionDef, sessions: dict[str, _Session]
    ) -> None:
        self.ctx = ctx
        self.file: SourceFile = ctx.file
        self.function = function
        self.sessions = sessions

    # -- which expressions carry the session -------------------------------------------------
    def _session_name(self, expr: cst.BaseExpression) -> str | None:
        """``expr`` is a Name that refers to one of the session parameters."""
        if not isinstance(expr, cst.Name) or expr.value not in self.sessions:
            return None
        bindings = self.ctx.index.lookup(expr.value, expr)
        if len(bindings) == 1 and bindings[0].node is self.sessions[expr.value].param:
            return expr.value
        return None

    def _captured(self, node: cst.CSTNode) -> str | None:
        """A session parameter referenced anywhere inside ``node`` (a lambda or nested def)."""
        if isinstance(node, cst.Name):
            return self._session_name(node)
        for child in node.children:
            found = self._captured(child)
            if found is not None:
                return found
        return None

    def carried(self, expr: cst.BaseExpression) -> str | None:
        """The session handed over by an argument: the session itself, in a tuple/list/dict
        literal, bound by ``functools.partial``, or captured by a lambda or nested def."""
        if isinstance(expr, cst.Name):
            name = self._session_name(expr)
            if name is not None:
                return name
            nested = self._nested_function(expr)
            return self._captured(nested.body) if nested is not None else None
        if isinstance(expr, cst.Lambda):
            return self._captured(expr.body)
        if isinstance(expr, cst.Tuple | cst.List | cst.Set):
            for element in expr.elements:
                found = self.carried(element.value)
                if found is not None:
                    return found
            return None
        if isinstance(expr, cst.Dict):
            for entry in expr.elements:
                if isinstance(entry, cst.DictElement):
                    found = self.carried(entry.value)
                    if found is not None:
                        return found
            return None
        if (
            isinstance(expr, cst.Call)
            and self.ctx.model.callee_qualname(self.file, expr) in names.PARTIAL
        ):
            return self._first_carried([a.value for a in expr.args])
        return None

    def _first_carried(self, exprs: list[cst.BaseExpression]) -> str | None:
        for expr in exprs:
            found = self.carried(expr)
            if found is not None:
                return found
        return None

    def _nested_function(self, name: cst.Name) -> cst.FunctionDef | None:
        bindings = self.ctx.index.lookup(name.value, name)
        if len(bindings) != 1:
            return None
        node = bindings[0].node
        if isinstance(node, cst.FunctionDef) and self.ctx.index.is_inside(node, self.function):
            return node
        return None

    def _coroutine_carries(self, expr: cst.BaseExpression | None) -> str | None:
        """``work(db)`` / ``db.execute(...)`` given to ``create_task``."""
        if not isinstance(expr, cst.Call):
            return None
        method = method_call(expr)
        if method is not None:
            name = self._session_name(method[0])
            if name is not None:
                return name
        return self._first_carried([a.value for a in expr.args])

    # -- hand-offs ---------------------------------------------------------------------------
    def handoff(self, call: cst.Call) -> _Handoff | None:
        model, file = self.ctx.model, self.file
        positional, keywords = call_args(call)
        qualname = model.callee_qualname(file, call)
        method = method_call(call)
        session: str | None = None
        what = ""
        if qualname in names.TASK_SPAWNERS or (
            method is not None
            and method[1] in ("create_task", "ensure_future")
            and self._is_event_loop(method[0])
        ):
            coro = positional[0] if positional else keywords.get("coro")
            session, what = self._coroutine_carries(coro), "a task that is never awaited"
        elif qualname in names.BACKGROUND_TASK or (
            method is not None and method[1] == "add_task" and self._is_background_tasks(method[0])
        ):
            session = self._first_carried([*positional, *keywords.values()])
            what = "a background task"
            if session is not None:
                return _Handoff(what, session, background=True)
        elif qualname in names.THREADS:
            session, what = self._thread_carries(qualname, positional, keywords), "a thread"
        elif method is not None and method[1] == "submit" and self._is_executor(method[0]):
            session = self._first_carried([*positional, *keywords.values()])
            what = "an executor job that is not waited for"
        elif method is not None and method[1] == "run_in_executor":
            session = self._first_carried(positional[1:])
            what = "an executor job that is not awaited"
        if session is None:
            return None
        return _Handoff(what, session)

    def _thread_carries(
        self,
        qualname: str | None,
        positional: list[cst.BaseExpression],
        keywords: dict[str, cst.BaseExpression],
    ) -> str | None:
        if qualname is not None and qualname.endswith("Timer"):
            slots = {"function": 1, "args": 2, "kwargs": 3}
        else:
            slots = {"target": 1, "args": 3, "kwargs": 4}
        exprs: list[cst.BaseExpression] = []
        for keyword, position in slots.items():
            if keyword in keywords:
                exprs.append(keywords[keyword])
            elif position < len(positional):
                exprs.append(positional[position])
        return self._first_carried(exprs)

    def _bindings(self, expr: cst.BaseExpression) -> list[tuple[SourceFile, Binding]]:
        """The bindings of a Name (through imports of project modules)."""
        if not isinstance(expr, cst.Name):
            return []
        target = self.ctx.model.resolve(self.file, expr)
        if not isinstance(target, Def):
            return []
        if target.file is self.file:
            return [(self.file, b) for b in self.ctx.index.lookup(expr.value, expr)]
        return [(target.file, target.binding)]

    def _typed_as(self, expr: cst.BaseExpression, wanted: frozenset[str]) -> bool:
        """Every binding of ``expr`` is annotated as, or built by calling, one of ``wanted``."""
        model = self.ctx.model
        bindings = self._bindings(expr)
        if not bindings:
            return False
        for file, binding in bindings:
            if (
                binding.annotation is not None
                and model.qualname(file, binding.annotation, binding.node) in wanted
            ):
                continue
            value = binding.value
            if isinstance(value, cst.Call) and model.callee_qualname(file, value) in wanted:
                continue
            return False
        return True

    def _is_background_tasks(self, expr: cst.BaseExpression) -> bool:
        return self._typed_as(expr, names.BACKGROUND_TASKS)

    def _is_executor(self, expr: cst.BaseExpression) -> bool:
        """A ``concurrent.futures`` executor that the handler does not wait for: not one
        opened by a ``with`` block of this function (leaving the block waits for its jobs)."""
        if not self._typed_as(expr, names.EXECUTORS):
            return False
        return not any(
            isinstance(b.node, cst.WithItem) and self.ctx.index.is_inside(b.node, self.function)
            for _, b in self._bindings(expr)
        )

    def _is_event_loop(self, expr: cst.BaseExpression) -> bool:
        model = self.ctx.model
        if isinstance(expr, cst.Call):
            return model.callee_qualname(self.file, expr) in names.EVENT_LOOP_GETTERS
        return self._typed_as(expr, names.EVENT_LOOP_GETTERS)

    # -- waiting -----------------------------------------------------------------------------
    def waited(self, call: cst.Call) -> bool:
        """The hand-off is awaited, ``.result()``-ed or ``.join()``-ed in this function."""
        if self._waiting_use(call):
            return True
        return any(self._name_waited(name, call) for name in self._holders(call))

    def _waiting_use(self, node: cst.CSTNode) -> bool:
        """``node`` is used in a way that waits for it: under ``await``, ``.result()`` /
        ``.join()`` on it, or inside a ``concurrent.futures.wait``/``as_completed`` call."""
        index, model = self.ctx.index, self.ctx.model
        parent = index.parent(node)
        if (
            isinstance(parent, cst.Attribute)
            and parent.value is node
            and parent.attr.value in _WAIT_METHODS
            and isinstance(index.parent(parent), cst.Call)
        ):
            return True
        for anc in index.ancestors(node):
            if anc is self.function or isinstance(anc, cst.BaseStatement):
                break
            if isinstance(anc, cst.Await):
                return True
            if (
                isinstance(anc, cst.Call)
                and model.callee_qualname(self.file, anc) in names.FUTURE_WAITERS
            ):
                return True
        return False

    def _holders(self, call: cst.Call) -> list[str]:
        """Local names the hand-off's result is stored in (directly, in a list or set, or
        through ``tasks.append(...)``)."""
        index = self.ctx.index
        node: cst.CSTNode = call
        while True:
            parent = index.parent(node)
            if isinstance(parent, cst.Element | cst.List | cst.Tuple | cst.Set):
                node = parent
                continue
            if isinstance(parent, cst.ListComp | cst.SetComp | cst.GeneratorExp) and (
                parent.elt is node
            ):
                node = parent
                continue
            if isinstance(parent, cst.Assign) and parent.value is node:
                return [t.target.value for t in parent.targets if isinstance(t.target, cst.Name)]
            if isinstance(parent, cst.AnnAssign | cst.NamedExpr) and parent.value is node:
                target = parent.target
                return [target.value] if isinstance(target, cst.Name) else []
            if isinstance(parent, cst.Arg):
                owner = index.parent(parent)
                method = method_call(owner) if owner is not None else None
                if (
                    method is not None
                    and method[1] in _STORE_METHODS
                    and isinstance(method[0], cst.Name)
                ):
                    return [method[0].value]
            return []

    def _name_waited(self, name: str, after: cst.CSTNode, depth: int = 0) -> bool:
        if depth > 3:
            return False
        index = self.ctx.index
        start = index.order[after]
        for use in index.own_nodes(self.function, cst.Name):
            if use.value != name or index.order[use] <= start:
                continue
            if self._waiting_use(use):
                return True
            parent = index.parent(use)
            if isinstance(parent, cst.For | cst.CompFor) and parent.iter is use:
                target = parent.target
                if isinstance(target, cst.Name) and self._name_waited(target.value, use, depth + 1):
                    return True
        return False
