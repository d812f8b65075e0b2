"""SL203 removed-in-sqlalchemy-2."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.names import Kind
from sessionlint.model.semantic import External, call_args, method_call
from sessionlint.rule import Report, Rule


class RemovedInSqlalchemy2(Rule):
    """## What it does
    Flags APIs that SQLAlchemy 2.0 removed:

    - `autocommit=True` passed to `sessionmaker(...)`, `Session(...)`, `AsyncSession(...)`, a
      session factory call or `factory.configure(...)`;
    - `execute()` of a raw SQL string (a string literal, or a local or module constant bound
      only to strings) on a session or on a connection;
    - `engine.execute(...)` on an engine (a name bound to `create_engine(...)` or annotated
      `Engine`; also imported from another module of the project).

    Reported at the call. It is an error when the SQLAlchemy target is 2.0 or newer (also when
    the version is unknown), a warning on 1.4 (where these APIs are deprecated and emit
    `RemovedIn20Warning`), and silent below 1.4, where they are the documented API.

    ## Why is this bad?
    On SQLAlchemy 2.0 this code fails at run time: `sessionmaker(autocommit=True)` raises
    `TypeError`, `session.execute("SELECT 1")` raises `ArgumentError` ("Textual SQL expression
    should be explicitly declared as text()"), `connection.execute("...")` raises
    `ObjectNotExecutableError` and `engine.execute` no longer exists. An upgrade that looks
    fine at import time breaks the first request that reaches these lines.

    ## Example
    ```python
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite:///app.db")


    def count_users(db: Session) -> int:
        return db.execute("SELECT count(*) FROM users").scalar_one()
    ```

    ## Use instead
    ```python
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite:///app.db")


    def count_users(db: Session) -> int:
        return db.execute(text("SELECT count(*) FROM users")).scalar_one()
    ```

    ## Fix safety
    Wrapping the raw string of `session.execute(...)` in `text()` (and importing
    `from sqlalchemy import text`) is safe: SQLAlchemy 1.x coerced the string to `text()`
    itself, so the statement and its `:name` parameters mean the same. It is offered only
    when the name `text` is free or already SQLAlchemy's. Removing `autocommit=True` is unsafe:
    the session then runs every statement in a transaction that must be committed, so code
    that relied on autocommit stops persisting its changes until `commit()` calls are added.
    `engine.execute(...)` and `connection.execute("...")` get no automatic fix (the
    replacement is `with engine.connect() as conn:` and `conn.exec_driver_sql(...)` or
    `conn.execute(text(...))`, whose parameter styles differ).

    ## Known problems
    Not flagged: `autocommit=False` (a harmless no-op); `isolation_level="AUTOCOMMIT"` (the
    2.0 way to autocommit); `exec_driver_sql()`; `execute(text(...))`; a string that reaches
    `execute()` through a parameter, an attribute or a function call; receivers whose type
    sessionlint cannot see (`self.engine`, `get_engine()` of a library); the
    SQLAlchemy 1.x "bound metadata" and `Query` APIs that 2.0 also removed.

    ## References
    - [SQLAlchemy 2.0 migration: library-level changes](https://docs.sqlalchemy.org/en/20/changelog/migration_20.html)
    - [SQLAlchemy 2.0 migration: autocommit mode removed](https://docs.sqlalchemy.org/en/20/changelog/migration_20.html#library-level-but-not-driver-level-autocommit-removed-from-both-core-and-orm)
    - [SQLAlchemy 2.0 migration: execute() with textual SQL](https://docs.sqlalchemy.org/en/20/changelog/migration_20.html#execute-method-more-strict-execution-options-are-more-prominent)
    """

    code = "SL203"
    name = "removed-in-sqlalchemy-2"
    summary = "An API that SQLAlchemy 2.0 removed"
    severity = Severity.ERROR
    fix_applicability = Applicability.SAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        versions = ctx.versions
        if versions.sqlalchemy_below("1.4"):
            return  # the documented API of SQLAlchemy 1.3 and older
        removed = versions.sqlalchemy_at_least("2.0")
        severity = None if removed else Severity.WARNING
        status = (
            "was removed in SQLAlchemy 2.0" if removed else "is deprecated since SQLAlchemy 1.4"
        )
        for call in ctx.index.nodes(cst.Call):
            found = self._autocommit(ctx, call) or self._execute(ctx, call)
            if found is not None:
                what, fix = found
                yield Report(call, what.format(status=status), fix=fix, severity=severity)

    # -- autocommit=True -------------------------------------------------------------------
    def _autocommit(self, ctx: FileContext, call: cst.Call) -> tuple[str, Fix | None] | None:
        arg = next(
            (a for a in call.args if a.keyword is not None and a.keyword.value == "autocommit"),
            None,
        )
        if arg is None or not (isinstance(arg.value, cst.Name) and arg.value.value == "True"):
            return None
        file, model = ctx.file, ctx.model
        qualname = model.callee_qualname(file, call)
        method = method_call(call)
        is_session_api = (
            qualname in names.SESSION_CLASSES
            or qualname in names.SESSIONMAKERS
            or model.creation_kind(file, call) is not None
            or (
                method is not None
                and method[1] == "configure"
                and model.factory_kind(file, method[0]) is not None
            )
        )
        if not is_session_api:
            return None
        return (
            '`autocommit=True` {status}: use `isolation_level="AUTOCOMMIT"` or commit',
            Fix(
                Applicability.UNSAFE,
                "Remove `autocommit=True`",
                replacements=((call, self._without(call, arg)),),
            ),
        )

    @staticmethod
    def _without(call: cst.Call, removed: cst.Arg) -> cst.Call:
        args = list(call.args)
        position = next(i for i, a in enumerate(args) if a is removed)
        del args[position]
        if args and position == len(args):
            # The removed argument was the last: its comma (or none) becomes the new last's.
            args[-1] = args[-1].with_changes(comma=removed.comma)
        return call.with_changes(args=args)

    # -- execute(...) ----------------------------------------------------------------------
    def _execute(self, ctx: FileContext, call: cst.Call) -> tuple[str, Fix | None] | None:
        method = method_call(call)
        if method is None or method[1] != "execute":
            return None
        file, model = ctx.file, ctx.model
        receiver = method[0]
        if model.engine_kind(file, receiver) is Kind.SYNC:
            return (
                "`Engine.execute()` {status}: use `engine.connect()` and `conn.execute(text(...))`",
                None,
            )
        positional, keywords = call_args(call)
        statement = positional[0] if positional else keywords.get("statement")
        if statement is None or not model.is_string(file, statement):
            return None
        if model.session_kind(file, receiver) is not None:
            return (
                "`execute()` of a raw SQL string {status}: wrap it in `text()`",
                self._text_fix(ctx, call, statement),
            )
        if model.connection_kind(file, receiver) is not None:
            return (
                "`Connection.execute()` of a raw SQL string {status}: use `text()`",
                None,
            )
        return None

    @staticmethod
    def _text_fix(ctx: FileContext, call: cst.Call, statement: cst.BaseExpression) -> Fix | None:
        bindings = ctx.index.lookup("text", call)
        imports: tuple[tuple[str, str | None], ...] = (("sqlalchemy", "text"),)
        if bindings:
            target = ctx.model.resolve(ctx.file, cst.Name("text"), call)
            if not (
                isinstance(target, External)
                and target.qualname in names.TEXT
                and all(b.imported is not None for b in bindings)
            ):
                return None  # ``text`` means something else here
            imports = ()
        wrapped = cst.Call(func=cst.Name("text"), args=[cst.Arg(statement)])
        return Fix(
            Applicability.SAFE,
            "Wrap the SQL string in `text()`",
            replacements=((statement, wrapped),),
            imports=imports,
        )
