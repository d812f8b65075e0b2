"""SL402 sqlite-thread-config."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.project import SourceFile
from sessionlint.model.semantic import Def
from sessionlint.rule import Report, Rule

#: SQLite URL schemes of the sync drivers (``sqlite+aiosqlite`` is async: not checked).
_SYNC_SCHEMES = frozenset({"sqlite", "sqlite+pysqlite", "sqlite+pysqlcipher"})
_MAX_CONSTANT_DEPTH = 8


@dataclass(frozen=True)
class _Url:
    memory: bool
    #: ``check_same_thread`` given in the URL's query string: True/False, or None.
    check_same_thread: bool | None


@dataclass(frozen=True)
class _ConnectArgs:
    #: The ``connect_args=`` keyword argument, if written.
    arg: cst.Arg | None
    #: Its literal ``{...}`` / ``dict(...)`` when written inline (a fix can edit it).
    inline: cst.Dict | cst.Call | None
    #: ``check_same_thread``: True/False, or None when not given.
    check_same_thread: bool | None


class SqliteThreadConfig(Rule):
    """## What it does
    In a project that uses FastAPI, flags a sync SQLite engine (`create_engine("sqlite...")`)
    configured so that it breaks under FastAPI's threadpool:

    - an in-memory database (`sqlite://`, `sqlite:///:memory:`, also with the `+pysqlite`
      driver) without both `poolclass=StaticPool` and
      `connect_args={"check_same_thread": False}`;
    - an explicit `check_same_thread=True` (in `connect_args` or in the URL's query string);
    - when the project targets SQLAlchemy < 2.0, a file database without
      `check_same_thread: False`.

    The URL and `connect_args` may be module-level constants (also imported from another
    module of the project); when they cannot be resolved (an f-string, an environment
    variable, settings) the engine is not checked. Reported at the `create_engine` call.

    ## Why is this bad?
    FastAPI runs sync endpoints and dependencies in a threadpool, so one request's session
    may open a connection on one thread and use it on another. `sqlite3` refuses that
    (`ProgrammingError: SQLite objects created in a thread can only be used in that same
    thread`) unless `check_same_thread=False`. An in-memory database lives inside one
    connection: with the default pool every thread gets its own empty database ("no such
    table"), so all threads must share a single connection (`StaticPool`).

    ## Example
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    app = FastAPI()
    ```

    ## Use instead
    ```python
    from fastapi import FastAPI
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    app = FastAPI()
    ```

    ## Fix safety
    The fix adds the missing `connect_args={"check_same_thread": False}` (or the missing
    key, or turns an explicit `True` into `False`) and, for an in-memory database,
    `poolclass=StaticPool` with its import. It is unsafe: with `StaticPool` all threads share
    one connection (and one transaction state), which is what an in-memory database needs
    but serialises access, and turning off the thread check hands the responsibility for not
    using one connection concurrently to the pool. No fix is offered when `connect_args` is
    a named constant or the setting is in the URL's query string.

    ## Known problems
    Not flagged: projects that do not import FastAPI; file databases on SQLAlchemy >= 2.0
    (it sets `check_same_thread=False` itself for them); `sqlite+aiosqlite` and
    `create_async_engine`; shared-cache URIs (`file::memory:?cache=shared&uri=true`, a file
    database for SQLAlchemy); engines whose URL, `connect_args` or `poolclass` sessionlint
    cannot resolve, or that receive `**kwargs`.

    ## References
    - [SQLAlchemy: pysqlite threading and pooling](https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#threading-pooling-behavior)
    - [FastAPI: SQL databases](https://fastapi.tiangolo.com/tutorial/sql-databases/)
    - [FastAPI: testing a database](https://fastapi.tiangolo.com/advanced/testing-database/)
    """

    code = "SL402"
    name = "sqlite-thread-config"
    summary = "A SQLite engine configured so that it breaks under FastAPI's threadpool"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.UNSAFE

    def check(self, ctx: FileContext) -> Iterator[Report]:
        file, model, index = ctx.file, ctx.model, ctx.index
        calls = [
            call
            for call in index.nodes(cst.Call)
            if model.callee_qualname(file, call) in names.CREATE_ENGINE
        ]
        if not calls or not model.uses_fastapi(ctx.versions):
            return
        for call in calls:
            report = self._check_call(ctx, call)
            if report is not None:
                yield report

    def _check_call(self, ctx: FileContext, call: cst.Call) -> Report | None:
        if any(arg.star for arg in call.args):
            return None  # ``**options`` may hold anything
        keywords = {a.keyword.value: a for a in call.args if a.keyword is not None}
        positional = [a for a in call.args if a.keyword is None]
        url_arg = positional[0] if positional else keywords.get("url")
        if url_arg is None:
            return None
        url = _parse_url(_constant(ctx, url_arg.value))
        if url is None:
            return None
        connect = self._connect_args(ctx, keywords.get("connect_args"))
        if connect is None:
            return None
        pool_arg = keywords.get("poolclass")
        static_pool = pool_arg is not None and self._is_static_pool(ctx, pool_arg.value)
        if pool_arg is not None and not static_pool and not self._is_known_pool(ctx, pool_arg):
            return None
        explicit = connect.check_same_thread
        if explicit is None:
            explicit = url.check_same_thread
        problems: list[str] = []
        if explicit is True:
            problems.append("`check_same_thread=True` refuses other threadpool threads")
        if url.memory:
            needs = []
            if not static_pool:
                needs.append("`StaticPool`")
            if explicit is None:
                needs.append("`check_same_thread=False`")
            if needs:
                problems.append("an in-memory database needs " + " and ".join(needs))
        elif explicit is None and ctx.versions.sqlalchemy_below("2.0"):
            problems.append("before SQLAlchemy 2.0 a file database needs `check_same_thread=False`")
        if not problems:
            return None
        message = "SQLite engine breaks in FastAPI's threads: " + "; ".join(problems)
        fix = self._fix(call, url, connect, pool_arg, need_pool=url.memory and not static_pool)
        return Report(call, message, fix=fix)

    # -- arguments ---------------------------------------------------------------------------
    def _connect_args(self, ctx: FileContext, arg: cst.Arg | None) -> _ConnectArgs | None:
        """What ``connect_args`` says about ``check_same_thread``; None when unknown."""
        if arg is None:
            return _ConnectArgs(None, None, None)
        inline = arg.value if isinstance(arg.value, cst.Dict | cst.Call) else None
        value = _constant(ctx, arg.value)
        entries: dict[str, cst.BaseExpression] | None = None
        if isinstance(value, cst.Dict):
            entries = {}
            for element in value.elements:
                if not isinstance(element, cst.DictElement):
                    return None  # ``**other``
                key = element.key
                if not isinstance(key, cst.SimpleString):
                    return None
                text = key.evaluated_value
                if not isinstance(text, str):
                    return None
                entries[text] = element.value
        elif (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value == "dict"
            and ctx.model.callee_qualname(ctx.file, value) == "builtins.dict"
        ):
            entries = {}
            for a in value.args:
                if a.keyword is None:
                    return None
                entries[a.keyword.value] = a.value
        if entries is None:
            return None
        if inline is not None and inline is not value:
            inline = None
        given = entries.get("check_same_thread")
        if given is None:
            return _ConnectArgs(arg, inline, None)
        flag = _bool(given)
        if flag is None:
            return None
        return _ConnectArgs(arg, inline, flag)

    @staticmethod
    def _is_static_pool(ctx: FileContext, expr: cst.BaseExpression) -> bool:
        return ctx.model.qualname(ctx.file, expr) in names.STATIC_POOL

    @staticmethod
    def _is_known_pool(ctx: FileContext, arg: cst.Arg) -> bool:
        """``poolclass=`` names some SQLAlchemy pool (not StaticPool): the engine is checked."""
        qualname = ctx.model.qualname(ctx.file, arg.value)
        return qualname is not None and qualname.startswith(("sqlalchemy.", "sqlmodel."))

    # -- the fix -----------------------------------------------------------------------------
    def _fix(
        self,
        call: cst.Call,
        url: _Url,
        connect: _ConnectArgs,
        pool_arg: cst.Arg | None,
        *,
        need_pool: bool,
    ) -> Fix | None:
        if url.check_same_thread is not None and connect.check_same_thread is None:
            return None  # the setting sits in the URL's query string
        args = list(call.args)
        added: list[cst.Arg] = []
        changes: list[str] = []
        if connect.arg is None:
            added.append(_keyword("connect_args", _check_same_thread_dict()))
            changes.append('`connect_args={"check_same_thread": False}`')
        elif connect.check_same_thread is not False:
            if connect.inline is None:
                return None  # a named constant: editing it may change other engines
            position = next(i for i, a in enumerate(args) if a is connect.arg)
            args[position] = connect.arg.with_changes(value=_with_false(connect.inline))
            changes.append('`"check_same_thread": False`')
        if need_pool:
            if pool_arg is None:
                added.append(_keyword("poolclass", cst.Name("StaticPool")))
            else:
                position = next(i for i, a in enumerate(args) if a is pool_arg)
                args[position] = pool_arg.with_changes(value=cst.Name("StaticPool"))
            changes.append("`poolclass=StaticPool`")
        if not changes:
            return None
        new_call = _append_args(call.with_changes(args=args), added)
        return Fix(
            Applicability.UNSAFE,
            "Use " + " and ".join(changes),
            replacements=((call, new_call),),
            imports=(("sqlalchemy.pool", "StaticPool"),) if need_pool else (),
        )


# -- constants -----------------------------------------------------------------------------


def _constant(ctx: FileContext, expr: cst.BaseExpression) -> cst.BaseExpression:
    """Follow a Name bound once to a value (module constants, also imported from a project
    module) to that value; anything else is returned as is."""
    file: SourceFile = ctx.file
    for _ in range(_MAX_CONSTANT_DEPTH):
        if not isinstance(expr, cst.Name):
            return expr
        target = ctx.model.resolve(file, expr)
        if not isinstance(target, Def):
            return expr
        binding = target.binding
        if (
            len(binding.scope.bindings.get(binding.name, [])) != 1
            or not isinstance(binding.node, cst.Assign | cst.AnnAssign)
            or binding.value is None
        ):
            return expr
        file, expr = target.file, binding.value
    return expr


def _string(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _parse_url(expr: cst.BaseExpression) -> _Url | None:
    """A sync SQLite URL: memory or file database, and the query's ``check_same_thread``."""
    text = _string(expr)
    if text is None or "://" not in text:
        return None
    scheme, rest = text.split("://", 1)
    if scheme.lower() not in _SYNC_SCHEMES:
        return None
    path, _, query = rest.partition("?")
    database = path[1:] if path.startswith("/") else path
    options = dict(parse_qsl(query))
    check: bool | None = None
    raw = options.get("check_same_thread")
    if raw is not None:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes", "on"):
            check = True
        elif lowered in ("false", "0", "no", "off"):
            check = False
        else:
            return None
    if options.get("mode") == "memory":
        return None  # a named (often shared-cache) memory database: pooling is the user's call
    return _Url(memory=database in ("", ":memory:"), check_same_thread=check)


def _bool(expr: cst.BaseExpression) -> bool | None:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    if isinstance(expr, cst.Integer):
        return expr.value != "0"
    return None


# -- building the fix ----------------------------------------------------------------------


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _check_same_thread_element() -> cst.DictElement:
    return cst.DictElement(cst.SimpleString('"check_same_thread"'), cst.Name("False"))


def _check_same_thread_dict() -> cst.Dict:
    return cst.Dict([_check_same_thread_element()])


def _with_false(inline: cst.Dict | cst.Call) -> cst.Dict | cst.Call:
    """The inline ``connect_args`` with ``check_same_thread`` set to False (added or changed)."""
    if isinstance(inline, cst.Dict):
        elements = list(inline.elements)
        for i, element in enumerate(elements):
            key = element.key if isinstance(element, cst.DictElement) else None
            if isinstance(key, cst.SimpleString) and key.evaluated_value == "check_same_thread":
                elements[i] = element.with_changes(value=cst.Name("False"))
                return inline.with_changes(elements=elements)
        if elements:
            last = elements[-1]
            if not isinstance(last.comma, cst.Comma):
                elements[-1] = last.with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
        elements.append(_check_same_thread_element())
        return inline.with_changes(elements=elements)
    args = list(inline.args)
    for i, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == "check_same_thread":
            args[i] = arg.with_changes(value=cst.Name("False"))
            return inline.with_changes(args=args)
    return _append_args(inline, [_keyword("check_same_thread", cst.Name("False"))])


def _append_args(call: cst.Call, added: list[cst.Arg]) -> cst.Call:
    """``call`` with ``added`` appended, keeping its layout (one line, or one argument per
    line with or without a trailing comma)."""
    if not added:
        return call
    args = list(call.args)
    if not args:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        tail: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
        tail_space: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace("")
    else:
        last = args[-1]
        if isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
            separator = cst.Comma(whitespace_after=call.whitespace_before_args)
        elif len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
            separator = args[-2].comma
        else:
            separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        tail, tail_space = last.comma, last.whitespace_after_arg
        args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
    for i, arg in enumerate(added):
        final = i == len(added) - 1
        args.append(
            arg.with_changes(
                comma=tail if final else separator,
                whitespace_after_arg=tail_space if final else cst.SimpleWhitespace(""),
            )
        )
    return call.with_changes(args=args)
