"""SL501 raw-sql-interpolation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Fix, Severity
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.model.semantic import call_args, dotted_name, method_call
from sessionlint.model.taint import Source, augmented, fstring_values
from sessionlint.rule import Report, Rule

_MAX_DEPTH = 8
#: SQL text right before a value that makes the value an identifier (a table, a column, a
#: schema, a sort direction) rather than a literal value.
_IDENTIFIER_BEFORE = re.compile(
    r"""(?ix)
    (?:
        \b(?:from|join|into|update|table|truncate|schema|index|view|sequence|database
            |column|references|search_path\s+to|order\s+by|group\s+by|partition\s+by)
        (?:\s+if\s+(?:not\s+)?exists)?\s+(?:only\s+)?
      | \b(?:order|group)\s+by\s+[^;()]*,\s*
      | \border\s+by\s+[\w."]+\s+
      | \bselect\s+(?:distinct\s+)?
      | [\w"]\.
      | "
    )$
    """
)
_IDENTIFIER_AFTER = re.compile(r'^(?:\.[\w"]|"|\s*,\s*\w+\s+from\b|\s+from\b)', re.I)
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{[^{}]*\}")
_VALUE_FIX = 'Use bound parameters: `text("... WHERE name = :name")` with `{"name": value}`'
_IDENTIFIER_FIX = (
    "A table or column name cannot be a bound parameter: check it against an allow-list of "
    "known names (`if name not in ALLOWED: raise ...`), or quote it as an identifier "
    "(`quoted_name`, the dialect's `identifier_preparer.quote()`)"
)


@dataclass(frozen=True)
class Hole:
    """A value interpolated into SQL text, with the literal text around it (if known)."""

    expr: cst.BaseExpression
    before: str | None = None
    after: str | None = None

    @property
    def identifier(self) -> bool:
        """The value sits where an identifier goes (``FROM {table}``, ``ORDER BY {col}``)."""
        before, after = self.before or "", self.after or ""
        if before.count("'") % 2 == 1:
            return False  # inside a quoted SQL string: a value
        if _IDENTIFIER_BEFORE.search(before) or _IDENTIFIER_AFTER.match(after):
            return True
        # Glued to a name (``users_{region}``, ``{prefix}_users``).
        return bool(re.search(r"\w$", before) or re.match(r"^\w", after))


@dataclass(frozen=True)
class Built:
    """SQL text built from non-constant values."""

    #: The expression that builds it (deduplicates sinks that receive the same string).
    origin: cst.CSTNode
    #: How: "an f-string", "`%` formatting", "`.format()`", "`+` concatenation".
    how: str
    #: The non-constant values interpolated into it.
    holes: tuple[Hole, ...]


class RawSqlInterpolation(Rule):
    """## What it does
    Flags SQL text built from non-constant values — an f-string with placeholders, `%`
    formatting, `.format()` or `+` concatenation — and passed to `sqlalchemy.text()`,
    `exec_driver_sql()`, or the `execute()` of a session or a connection (`with
    engine.connect()/engine.begin() as conn`, `session.connection()`, a parameter annotated
    `Connection`/`AsyncConnection`), directly or through a local variable (also one extended
    with `+=`). Reported once, at the call that first receives the string (for
    `stmt = text(f"...")`, at the `text` call, not again at `execute(stmt)`).

    It is reported only when a value from outside the program flows into the string: a
    parameter of a route handler or of a dependency that is not itself a `Depends`
    parameter and whose type can carry text (`str`, unannotated, a container of `str`, a
    `str` field of a request-body model such as `payload.name`); `request.query_params`,
    `request.headers`, `request.path_params`, `request.cookies`, `await request.json()` /
    `.form()` / `.body()` (also in middleware); `sys.argv`, `input()`, `os.environ` /
    `os.getenv()`. The value is followed through local variables, string operations,
    module-level names of other project modules, and calls of project functions and methods
    (`self.m()`, `Repo(db).m()`, `repo.m()` on a local of a project class), across modules,
    up to 4 calls deep: a route passing `q` to `search_users(db, q)` in another module that
    builds `text(f"... {q}")` is reported in the helper, at the `text` call. The message
    names the source, its route and where it is read, and the functions it went through:
    "query parameter `q` of route `GET /users` (app/routers/users.py:12) (through
    `search_users()`)". When the value sits where an identifier goes (after `FROM`, `JOIN`,
    `INTO`, `UPDATE`, `TABLE`, in `ORDER BY`, glued to a name as in `users_{region}`), the
    suggestion is an allow-list (or quoting the identifier), since a table or column name
    cannot be a bound parameter.

    Values of unknown origin (a helper's parameter no caller feeds from outside, what a
    dependency returns, `request.state`, a value read from the database) are not reported:
    SQL assembled from internal values is common and legitimate in migrations and reporting
    code. With `sql-interpolation = "strict"` in `[tool.sessionlint]`, every non-constant
    value is reported too, as a warning. Like every rule about request-time harm, it is
    silent in test code, migrations and scripts.

    ## Why is this bad?
    Interpolating values into SQL text is SQL injection: a value like `' OR '1'='1` or
    `'; DROP TABLE users; --` becomes part of the statement. Bound parameters send the values
    separately from the SQL, so the database never parses them as SQL.

    ## Example
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.get("/users")
    def find_users(name: str, db: Session = Depends(get_db)):
        rows = db.execute(text(f"SELECT id FROM users WHERE name = '{name}'"))
        return [row.id for row in rows]
    ```

    ## Use instead
    ```python
    from fastapi import Depends, FastAPI
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session, sessionmaker

    SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))
    app = FastAPI()


    def get_db():
        with SessionLocal() as db:
            yield db


    @app.get("/users")
    def find_users(name: str, db: Session = Depends(get_db)):
        rows = db.execute(text("SELECT id FROM users WHERE name = :name"), {"name": name})
        return [row.id for row in rows]
    ```

    ## Known problems
    Not flagged: bound parameters (`text("... :name")` with a dict, `exec_driver_sql("... %s",
    (value,))`: no `%` operator); f-strings used as bound values (`.bindparams(x=f"...")`,
    `execute(stmt, {"x": f"..."})`); a `text` that is not SQLAlchemy's (also a local
    `def text` shadowing the import); `cursor.execute()` of a DBAPI driver (not a session).
    Constants, silent in both modes: literals; module-level UPPER_CASE constants bound once
    to a literal (also imported ones); class constants (`self.TABLE`, `cls.schema` bound once
    in the body of the class or of a project base class); enum members and their
    `.value`/`.name` (also `self.value` in a method of the enum); a plain function's
    parameter to which every project caller passes a constant (or leaves a constant
    default), when the function is never passed around as a callback; locals bound once to such
    values; dict, tuple and list literals and lookups in them (`SORTS[sort]`,
    `SORTS.get(sort, "id")`, `{"a": "x"}[key]`); loops over literal containers, `range()`
    or `dict.items()` of a literal; numbers (`int(...)`, `len(...)`); identifiers from
    SQLAlchemy metadata (`Model.__tablename__`, `Model.__table__.name`, `table.name` for a
    table of `metadata.sorted_tables` / `metadata.tables.values()` or a `Table(...)`, the keys
    of `metadata.tables`). Validated values: parameters annotated `int`, `float`, `bool`,
    `UUID`, `Decimal`, a date, a `Literal[...]`, an `Enum` (also inside `Annotated`,
    `Optional`, `| None`, `list[...]`) and such fields of a body model; a name checked
    against a collection in an `if` of its function (`if sort not in SORTABLE: raise ...`,
    or `if sort in SORTABLE:` around the use).
    Not followed: project functions' return values, attributes of objects (`self.x`,
    `request.state.x`), calls through `functools.partial` or callbacks, call chains longer
    than 4 calls. In strict mode, dynamic identifiers (a column name checked against an
    allow-list elsewhere), `WHERE` clauses joined from constant fragments and generated
    placeholder lists are warnings; prefer `select()` constructs,
    `bindparam(..., expanding=True)`, or `# noqa: SL501` with a comment.

    ## References
    - [SQLAlchemy: using textual SQL with bound parameters](https://docs.sqlalchemy.org/en/20/core/sqlelement.html#sqlalchemy.sql.expression.text)
    - [OWASP: SQL injection prevention](https://cheatsheetseries.owasp.org/cheatsheets/SQL_Injection_Prevention_Cheat_Sheet.html)
    """

    code = "SL501"
    name = "raw-sql-interpolation"
    summary = "SQL text built by string interpolation (SQL injection)"
    severity = Severity.ERROR
    request_time_harm = True
    fix_applicability = Applicability.DISPLAY_ONLY
    suggestion = _VALUE_FIX

    def check(self, ctx: FileContext) -> Iterator[Report]:
        reported: set[cst.CSTNode] = set()
        origins = ctx.model.origins
        for call in ctx.index.nodes(cst.Call):  # source order: the first receiver wins
            sink = self._sink(ctx, call)
            if sink is None:
                continue
            label, statement = sink
            built = self._built(ctx, statement, 0)
            if built is None or built.origin in reported:
                continue
            reported.add(built.origin)
            found: tuple[Hole, Source] | None = None
            for hole in built.holes:
                source = origins.outside(ctx.file, hole.expr)
                if source is not None:
                    found = hole, source
                    break
            if found is not None:
                hole, source = found
                where = " where a table or column name goes" if hole.identifier else ""
                yield Report(
                    call,
                    f"SQL injection: {source} reaches `{label}` in {built.how}{where}",
                    fix=_fix(hole),
                )
            elif ctx.model.strict_sql:
                hole = built.holes[0]
                yield Report(
                    call,
                    f"SQL built with {built.how} from non-constant values is passed to `{label}`",
                    fix=_fix(hole),
                    severity=Severity.WARNING,
                )

    # -- sinks -----------------------------------------------------------------------------
    def _sink(self, ctx: FileContext, call: cst.Call) -> tuple[str, cst.BaseExpression] | None:
        """(a label, the SQL argument) when ``call`` receives SQL text."""
        file, model = ctx.file, ctx.model
        positional, keywords = call_args(call)
        method = method_call(call)
        if method is not None:
            receiver, attr = method
            if attr == "exec_driver_sql":
                statement = positional[0] if positional else keywords.get("statement")
                return (f"{attr}()", statement) if statement is not None else None
            if attr == "execute" and (
                model.session_kind(file, receiver) is not None
                or model.connection_kind(file, receiver) is not None
            ):
                statement = positional[0] if positional else keywords.get("statement")
                if statement is None:
                    return None
                shown = dotted_name(receiver) or "..."
                return f"{shown}.execute()", statement
        if self._is_sqlalchemy_text(ctx, call):
            statement = positional[0] if positional else keywords.get("text")
            return ("text()", statement) if statement is not None else None
        return None

    @staticmethod
    def _is_sqlalchemy_text(ctx: FileContext, call: cst.Call) -> bool:
        """``call`` calls ``sqlalchemy.text`` (any spelling) and nothing else: a name that is
        also bound to a local ``def text`` (or any non-import) is not trusted."""
        func = call.func
        if isinstance(func, cst.Name):
            # Cheap filter first: only a name imported as ``...text`` can be it.
            bindings = ctx.index.lookup(func.value, call)
            if not bindings or not all(
                b.imported is not None and b.imported.rsplit(".", 1)[-1] == "text" for b in bindings
            ):
                return False
        elif not (isinstance(func, cst.Attribute) and func.attr.value == "text"):
            return False
        return ctx.model.callee_qualname(ctx.file, call) in names.TEXT

    # -- how the string is built -----------------------------------------------------------
    def _built(self, ctx: FileContext, expr: cst.BaseExpression, depth: int) -> Built | None:
        """How ``expr`` builds SQL text from non-constant values, or None."""
        if depth > _MAX_DEPTH:
            return None
        model, file = ctx.model, ctx.file
        constant = model.origins.is_constant
        if isinstance(expr, cst.FormattedString | cst.ConcatenatedString):
            holes = tuple(h for h in _fstring_holes(expr) if not constant(file, h.expr))
            return Built(expr, "an f-string", holes) if holes else None
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Modulo) and model.is_string(file, expr.left):
                right = expr.right
                values: list[cst.BaseExpression]
                if isinstance(right, cst.Tuple | cst.List):
                    values = [e.value for e in right.elements]
                elif isinstance(right, cst.Dict):
                    values = [e.value for e in right.elements if isinstance(e, cst.DictElement)]
                else:
                    values = [right]
                keys = _dict_keys(right)
                holes = tuple(
                    h
                    for h in _template_holes(expr.left, values, keys)
                    if not constant(file, h.expr)
                )
                return Built(expr, "`%` formatting", holes) if holes else None
            if isinstance(expr.operator, cst.Add):
                operands = self._add_operands(expr)
                if not any(model.is_string(file, o) for o in operands):
                    return None
                holes = tuple(
                    h for h in _concatenation_holes(operands) if not constant(file, h.expr)
                )
                return Built(expr, "`+` concatenation", holes) if holes else None
            return None
        if isinstance(expr, cst.Call):
            method = method_call(expr)
            if method is None or method[1] != "format" or not model.is_string(file, method[0]):
                return None
            positional = [a.value for a in expr.args if a.keyword is None and not a.star]
            keywords = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
            holes = tuple(
                h
                for h in _template_holes(method[0], positional, keywords)
                if not constant(file, h.expr)
            )
            starred = tuple(
                Hole(a.value) for a in expr.args if a.star and not constant(file, a.value)
            )
            holes = holes + starred
            return Built(expr, "`.format()`", holes) if holes else None
        if isinstance(expr, cst.Name):
            return self._built_name(ctx, expr, depth)
        return None

    def _built_name(self, ctx: FileContext, name: cst.Name, depth: int) -> Built | None:
        """A local (or module-level) variable holding built SQL text."""
        file = ctx.file
        constant = ctx.model.origins.is_constant
        bindings = file.index.lookup(name.value, name)
        for binding in bindings:
            if binding.imported is not None or binding.scope.kind == "class":
                return None
            if isinstance(binding.node, cst.Assign | cst.AnnAssign | cst.NamedExpr) and (
                binding.value is not None
            ):
                built = self._built(ctx, binding.value, depth + 1)
                if built is not None:
                    return built
        if not bindings:
            return None
        for aug in augmented(file, bindings[0]):
            if (
                isinstance(aug.operator, cst.AddAssign)
                and not constant(file, aug.value)
                and any(self._is_string_binding(ctx, b) for b in bindings)
            ):
                built = self._built(ctx, aug.value, depth + 1)
                holes = built.holes if built is not None else (Hole(aug.value),)
                return Built(aug, "`+` concatenation", holes)
            if isinstance(aug.operator, cst.ModuloAssign) and not constant(file, aug.value):
                return Built(aug, "`%` formatting", (Hole(aug.value),))
        return None

    def _is_string_binding(self, ctx: FileContext, binding: Binding) -> bool:
        return binding.value is not None and ctx.model.is_string(ctx.file, binding.value)

    @staticmethod
    def _add_operands(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return [
                *RawSqlInterpolation._add_operands(expr.left),
                *RawSqlInterpolation._add_operands(expr.right),
            ]
        return [expr]


def _fix(hole: Hole) -> Fix:
    return Fix(Applicability.DISPLAY_ONLY, _IDENTIFIER_FIX if hole.identifier else _VALUE_FIX)


def _literal_text(expr: cst.BaseExpression) -> str | None:
    """The text of a string literal (no placeholders), or None."""
    if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value  # None for a concatenation with an f-string
        return value if isinstance(value, str) else None
    return None


def _fstring_holes(expr: cst.BaseExpression) -> list[Hole]:
    """The values of an f-string (also inside an implicit concatenation), with the literal
    text right before and after each one."""
    parts: list[str | cst.BaseExpression] = []

    def collect(node: cst.BaseExpression) -> None:
        if isinstance(node, cst.ConcatenatedString):
            collect(node.left)
            collect(node.right)
        elif isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringText):
                    parts.append(part.value)
                elif isinstance(part, cst.FormattedStringExpression):
                    parts.append(part.expression)
        else:
            text = _literal_text(node)
            parts.append(text if text is not None else "")

    collect(expr)
    holes: list[Hole] = []
    for i, part in enumerate(parts):
        if isinstance(part, str):
            continue
        before = "".join(reversed(list(_text_run(parts[:i][::-1]))))
        after = "".join(_text_run(parts[i + 1 :]))
        holes.append(Hole(part, before, after))
    assert len(holes) == len(fstring_values(expr))
    return holes


def _text_run(parts: list[str | cst.BaseExpression]) -> Iterator[str]:
    """The literal text next to a value (up to the next value)."""
    for part in parts:
        if not isinstance(part, str):
            return
        yield part


def _concatenation_holes(operands: list[cst.BaseExpression]) -> list[Hole]:
    texts = [_literal_text(o) for o in operands]
    holes: list[Hole] = []
    for i, operand in enumerate(operands):
        if texts[i] is not None:
            continue
        before = texts[i - 1] if i > 0 else None
        after = texts[i + 1] if i + 1 < len(operands) else None
        holes.append(Hole(operand, before, after))
    return holes


def _dict_keys(expr: cst.BaseExpression) -> dict[str, cst.BaseExpression]:
    if not isinstance(expr, cst.Dict):
        return {}
    found: dict[str, cst.BaseExpression] = {}
    for element in expr.elements:
        if isinstance(element, cst.DictElement):
            key = _literal_text(element.key)
            if key is not None:
                found[key] = element.value
    return found


def _template_holes(
    template: cst.BaseExpression,
    positional: list[cst.BaseExpression],
    keywords: dict[str, cst.BaseExpression],
) -> list[Hole]:
    """The values of ``%`` formatting or ``.format()``, with the template text around
    each placeholder when the template is a literal."""
    text = _literal_text(template)
    if text is None:
        return [Hole(v) for v in [*positional, *keywords.values()]]
    holes: list[Hole] = []
    used: set[int] = set()
    matches = list(_PLACEHOLDER.finditer(text))
    position = 0
    for i, match in enumerate(matches):
        field = match.group(0)
        before = text[matches[i - 1].end() if i else 0 : match.start()]
        after = text[match.end() : matches[i + 1].start() if i + 1 < len(matches) else None]
        name = _field_name(field)
        value: cst.BaseExpression | None = None
        if name is None:
            if position < len(positional):
                value = positional[position]
            position += 1
        elif name.isdigit():
            if int(name) < len(positional):
                value = positional[int(name)]
        else:
            value = keywords.get(name)
        if value is not None and id(value) not in used:
            used.add(id(value))
            holes.append(Hole(value, before, after))
    seen = {id(h.expr) for h in holes}
    holes.extend(Hole(v) for v in [*positional, *keywords.values()] if id(v) not in seen)
    return holes


def _field_name(field: str) -> str | None:
    """``name`` of ``%(name)s`` / ``{name}`` / ``{name!r:>10}``; None for ``%s`` / ``{}``."""
    if field.startswith("%("):
        return field[2 : field.index(")")]
    if field.startswith("{"):
        name = re.split(r"[!:.\[]", field[1:-1], maxsplit=1)[0]
        return name or None
    return None
