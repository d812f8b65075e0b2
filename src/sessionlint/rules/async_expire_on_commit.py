"""SL304 async-expire-on-commit."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.names import Kind
from sessionlint.model.semantic import call_args
from sessionlint.rule import Report, Rule

_OPTION = "expire_on_commit"


class AsyncExpireOnCommit(Rule):
    """## What it does
    Flags `async_sessionmaker(...)`, `sessionmaker(class_=AsyncSession)` and
    `AsyncSession(...)` calls that do not pass `expire_on_commit=False`, and an explicit
    `expire_on_commit=True`. Reported at the call.

    ## Why is this bad?
    With the default `expire_on_commit=True`, `commit()` expires every loaded object. The next
    attribute access (`user.name` after `await session.commit()`, or FastAPI serialising the
    returned object) must reload it from the database, which is implicit I/O: with an
    `AsyncSession` it raises `sqlalchemy.exc.MissingGreenlet` ("greenlet_spawn has not been
    called; can't call await_only() here").

    ## Example
    ```python
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://localhost/app")
    SessionLocal = async_sessionmaker(engine)
    ```

    ## Use instead
    ```python
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    engine = create_async_engine("postgresql+asyncpg://localhost/app")
    SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
    ```

    ## Fix safety
    The fix adds `expire_on_commit=False` (or turns an explicit `True` into `False`). It is
    unsafe: objects keep the values they had before the commit, so code that relied on
    reading database-side changes (triggers, server defaults, other transactions) after a
    commit now sees stale values until it calls `refresh()`.

    ## Known problems
    Not flagged: a call that passes `**kwargs` (the option may be in them) or more
    positional arguments than the session binding; `expire_on_commit` given as a variable;
    a factory on which the project calls `<factory>.configure(expire_on_commit=False)` (in
    any module that imports it); a `class_=` or `AsyncSession` subclass defined in the
    project (it may set the option itself). A factory whose every call passes
    `expire_on_commit=False` is still flagged at its definition.

    ## References
    - [SQLAlchemy: Preventing Implicit IO when Using AsyncSession](https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#asyncio-orm-avoid-lazyloads)
    - [SQLAlchemy: Session.commit and expire_on_commit](https://docs.sqlalchemy.org/en/20/orm/session_api.html#sqlalchemy.orm.Session.params.expire_on_commit)
    """

    code = "SL304"
    name = "async-expire-on-commit"
    summary = "An async session factory or session that expires objects on commit"
    severity = Severity.WARNING
    request_time_harm = True
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        for call in ctx.index.nodes(cst.Call):
            what = self._async_constructor(ctx, call)
            if what is None:
                continue
            if any(arg.star == "**" for arg in call.args):
                continue
            positional, keywords = call_args(call)
            if len(positional) > 1 or any(arg.star == "*" for arg in call.args):
                continue
            option = keywords.get(_OPTION)
            if option is not None:
                if isinstance(option, cst.Name) and option.value == "True":
                    yield Report(
                        call,
                        f"`{what}` sets `expire_on_commit=True`: attribute access after "
                        "commit does implicit I/O and raises MissingGreenlet; pass "
                        "`expire_on_commit=False`",
                        fix=Fix(
                            Applicability.UNSAFE,
                            "Set `expire_on_commit=False`",
                            replacements=((option, option.with_changes(value="False")),),
                        ),
                    )
                continue
            if self._configured_later(ctx, call):
                continue
            yield Report(
                call,
                f"`{what}` expires objects on commit (the default): attribute access after "
                "commit does implicit I/O and raises MissingGreenlet; pass "
                "`expire_on_commit=False`",
                fix=Fix(
                    Applicability.UNSAFE,
                    "Add `expire_on_commit=False`",
                    replacements=((call, _with_option(call)),),
                ),
            )

    @staticmethod
    def _async_constructor(ctx: FileContext, call: cst.Call) -> str | None:
        """``async_sessionmaker(...)``, ``sessionmaker(class_=AsyncSession)`` or
        ``AsyncSession(...)`` with a library session class: what to call it in messages."""
        file, model = ctx.file, ctx.model
        qualname = model.callee_qualname(file, call)  # also ``async_sessionmaker[T](...)``
        if qualname is None:
            return None
        short = qualname.rsplit(".", 1)[-1]
        if names.SESSION_CLASSES.get(qualname) is Kind.ASYNC:
            return f"{short}()"
        if qualname not in names.SESSIONMAKERS:
            return None
        _, keywords = call_args(call)
        class_ = keywords.get("class_")
        if class_ is None:
            return f"{short}()" if names.SESSIONMAKERS[qualname] is Kind.ASYNC else None
        if names.SESSION_CLASSES.get(model.qualname(file, class_) or "") is Kind.ASYNC:
            return f"{short}(class_={file.module.code_for_node(class_)})"
        return None

    @staticmethod
    def _configured_later(ctx: FileContext, call: cst.Call) -> bool:
        """``<factory>.configure(expire_on_commit=False)`` for the factory this call builds:
        anywhere in the project for a module-level factory, later in the same function for a
        local one."""
        index = ctx.index
        statement = index.parent(call)
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            target = statement.targets[0].target
        elif isinstance(statement, cst.AnnAssign):
            target = statement.target
        else:
            return False
        if not isinstance(target, cst.Name):
            return False
        scope = index.scope_of(statement)
        if scope.kind == "module":
            uses = ctx.model.attribute_uses(ctx.file, target.value, "configure")
        else:  # a local factory: ``.configure(...)`` later in the same function
            uses = [
                (ctx.file, attribute)
                for attribute in index.nodes(cst.Attribute)
                if attribute.attr.value == "configure"
                and isinstance(attribute.value, cst.Name)
                and attribute.value.value == target.value
                and index.scope_of(attribute) is scope
                and index.before(statement, attribute)
            ]
        for other, attribute in uses:
            configure = other.index.parent(attribute)
            if not isinstance(configure, cst.Call) or configure.func is not attribute:
                continue
            _, keywords = call_args(configure)
            value = keywords.get(_OPTION)
            if isinstance(value, cst.Name) and value.value == "False":
                return True
        return False


def _with_option(call: cst.Call) -> cst.Call:
    """``call`` with ``expire_on_commit=False`` appended, following its comma style."""
    new = cst.Arg(
        keyword=cst.Name(_OPTION),
        value=cst.Name("False"),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new])
    last = args[-1]
    if len(args) > 1 and isinstance(args[-2].comma, cst.Comma):
        separator = args[-2].comma
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        separator = cst.Comma(whitespace_after=call.whitespace_before_args)
    else:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
    args.append(new.with_changes(comma=last.comma, whitespace_after_arg=last.whitespace_after_arg))
    return call.with_changes(args=args)
