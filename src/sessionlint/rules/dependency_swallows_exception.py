"""SL106 dependency-swallows-exception."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.rule import Report, Rule

Handler = cst.ExceptHandler | cst.ExceptStarHandler

#: Calls that never return (they raise ``SystemExit`` or end the process).
_NO_RETURN = frozenset({"sys.exit", "os._exit", "os.abort", "builtins.exit", "builtins.quit"})
#: What ``gen.close()`` raises at the ``yield``; FastAPI never throws it in, and returning
#: after catching it is allowed.
_GENERATOR_EXIT = frozenset({"builtins.GeneratorExit"})


class DependencySwallowsException(Rule):
    """## What it does
    Flags an `except` handler around the `yield` of a dependency with `yield` when the handler
    neither re-raises nor raises another exception. Reported at the `except`.

    A dependency with `yield` is a generator referenced by `Depends(...)`/`Security(...)`
    anywhere in the project, or a generator that yields a session (FastAPI's `get_db` shape,
    also when its `Depends` is in a module sessionlint does not see) that is not a
    `@contextmanager`/`@asynccontextmanager` function or a pytest fixture.

    Every `except` around the `yield` counts, whatever it catches: FastAPI throws whatever the
    endpoint raised into the dependency, so `except ValueError:` swallows the endpoint's
    `ValueError` just as `except Exception:` swallows all of them. Only a handler that catches
    nothing but `GeneratorExit` is exempt (that is how `close()` ends a generator; FastAPI never
    throws it in). Any `raise` statement inside the handler counts as raising, even under an
    `if` (precision first), and so does a call of a project function that contains a `raise`,
    or of `sys.exit()`.

    Only reported when the FastAPI target is 0.110 or newer: before 0.110 FastAPI raised the
    exception again itself after the dependency handled it.

    ## Why is this bad?
    Since FastAPI 0.110 an exception caught in a dependency with `yield` and not raised again
    is gone: the endpoint's error is never logged, exception handlers never see it (an
    `HTTPException(404)` becomes a 500), and FastAPI fails with "Response not awaited" after
    the fact. The client gets a broken response and the server has no trace of why.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        db = SessionLocal()
        try:
            yield db
        except Exception:
            db.rollback()
        finally:
            db.close()


    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        db = SessionLocal()
        try:
            yield db
        except Exception:
            db.rollback()
            raise
        finally:
            db.close()


    @app.get("/health")
    def health(db: Session = Depends(get_db)) -> dict[str, bool]:
        return {"ok": db.is_active}
    ```

    ## Fix safety
    The fix adds a bare `raise` at the end of the handler (it replaces a trailing `pass` or
    bare `return`). It is unsafe: the exception now reaches FastAPI's exception handlers, so
    the response the client gets changes (to the error the endpoint actually raised), and a
    handler that meant to turn the error into something else still has to be written.

    ## Known problems
    Not flagged: handlers that catch only `GeneratorExit`; `@contextmanager` functions and
    pytest fixtures (nothing throws a request's exception into them); generators that are not
    dependencies and do not yield a session; handlers of a `try` whose `yield` sits in `else:`
    or `finally:`; FastAPI targets before 0.110. `with contextlib.suppress(...)` around the
    `yield` swallows too, and is not reported.

    ## References
    - [FastAPI: dependencies with yield and except](https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/#dependencies-with-yield-and-except)
    - [FastAPI 0.110.0 release notes](https://fastapi.tiangolo.com/release-notes/#01100)
    """

    code = "SL106"
    name = "dependency-swallows-exception"
    summary = "A dependency with yield whose except handler swallows the request's exception"
    severity = Severity.ERROR
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        index = ctx.index
        if ctx.versions.fastapi_below("0.110"):
            return
        for function in index.nodes(cst.FunctionDef):
            yields = index.own_nodes(function, cst.Yield)
            if not yields or not self._is_yield_dependency(ctx, function):
                continue
            seen: set[int] = set()
            for node in yields:
                for handler in self._handlers_around(ctx, function, node):
                    if id(handler) in seen:
                        continue
                    seen.add(id(handler))
                    if self._catches_only_generator_exit(ctx, handler):
                        continue
                    if self._raises(ctx, function, handler):
                        continue
                    yield Report(
                        handler,
                        f"`except` around the `yield` of dependency `{function.name.value}` "
                        "swallows the request's exception",
                        fix=_raise_fix(handler),
                    )

    @staticmethod
    def _is_yield_dependency(ctx: FileContext, function: cst.FunctionDef) -> bool:
        file, model = ctx.file, ctx.model
        if model.is_contextmanager(file, function) or model.is_pytest_fixture(file, function):
            return False
        if model.is_dependency(file, function):
            return True
        return model.function_info(file, function).provides is not None

    @staticmethod
    def _handlers_around(
        ctx: FileContext, function: cst.FunctionDef, node: cst.Yield
    ) -> Iterator[Handler]:
        """The handlers of every ``try`` whose body holds ``node``."""
        index = ctx.index
        child: cst.CSTNode = node
        for anc in index.ancestors(node):
            if anc is function:
                return
            if isinstance(anc, cst.Try | cst.TryStar) and child is anc.body:
                yield from anc.handlers
            child = anc

    @staticmethod
    def _catches_only_generator_exit(ctx: FileContext, handler: Handler) -> bool:
        kind = handler.type
        if kind is None:
            return False
        elements = [e.value for e in kind.elements] if isinstance(kind, cst.Tuple) else [kind]
        return all(
            isinstance(e, cst.Name | cst.Attribute)
            and ctx.model.qualname(ctx.file, e) in _GENERATOR_EXIT
            for e in elements
        )

    @staticmethod
    def _raises(ctx: FileContext, function: cst.FunctionDef, handler: Handler) -> bool:
        """The handler contains a ``raise`` (any), or calls something that always raises or
        a project function that contains one."""
        file, model, index = ctx.file, ctx.model, ctx.index
        if any(index.is_inside(r, handler) for r in index.own_nodes(function, cst.Raise)):
            return True
        for call in index.own_nodes(function, cst.Call):
            if not index.is_inside(call, handler):
                continue
            if model.callee_qualname(file, call) in _NO_RETURN:
                return True
            callee = model.function_def(file, call.func)
            if callee is not None and callee[0].index.own_nodes(callee[1], cst.Raise):
                return True
        return False


def _raise_fix(handler: Handler) -> Fix:
    message = "End the handler with `raise`"
    body = handler.body
    raise_stmt = cst.Raise()
    if isinstance(body, cst.SimpleStatementSuite):
        smalls = list(body.body)
        if _ends_with_pass_or_return(smalls):
            smalls[-1] = raise_stmt
        else:
            smalls.append(raise_stmt)
        new_body: cst.BaseSuite = body.with_changes(body=smalls)
    else:
        assert isinstance(body, cst.IndentedBlock)
        statements = list(body.body)
        last = statements[-1] if statements else None
        if isinstance(last, cst.SimpleStatementLine) and _ends_with_pass_or_return(list(last.body)):
            smalls = list(last.body)
            smalls[-1] = raise_stmt
            statements[-1] = last.with_changes(body=smalls)
        else:
            statements.append(cst.SimpleStatementLine(body=[raise_stmt]))
        new_body = body.with_changes(body=statements)
    new_handler = handler.with_changes(body=new_body)
    return Fix(Applicability.UNSAFE, message, replacements=((handler, new_handler),))


def _ends_with_pass_or_return(smalls: list[cst.BaseSmallStatement]) -> bool:
    if not smalls:
        return False
    last = smalls[-1]
    return isinstance(last, cst.Pass) or (isinstance(last, cst.Return) and last.value is None)
