"""SL501 raw-sql-interpolation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import libcst as cst

from sessionlint.context import FileContext
from sessionlint.diagnostics import Applicability, Severity
from sessionlint.model import names
from sessionlint.model.index import Binding
from sessionlint.model.semantic import Def, External, call_args, dotted_name, method_call
from sessionlint.rule import Report, Rule

_UPPER = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_MAX_DEPTH = 8
#: How deep SL501 follows a value through calls of project functions (each step through a
#: local assignment counts too).
_MAX_CALL_DEPTH = 6
#: Calls whose result cannot carry SQL text (a number or a bool).
_NUMERIC_CALLS = frozenset({"builtins.int", "builtins.float", "builtins.bool", "builtins.len"})
#: Parameter annotations whose values cannot carry SQL text once FastAPI validated them.
_CONSTRAINED_TYPES = frozenset(
    {
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "uuid.UUID",
        "decimal.Decimal",
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
    }
)
_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag"})
_LITERAL = frozenset({"typing.Literal", "typing_extensions.Literal"})
#: Values that come from outside the program (besides route and dependency parameters).
_OUTSIDE_VALUES = {"sys.argv": "`sys.argv`", "os.environ": "`os.environ`"}
_OUTSIDE_CALLS = {
    "builtins.input": "`input()`",
    "os.getenv": "`os.getenv()`",
    "os.environ.get": "`os.environ`",
}


@dataclass(frozen=True)
class Built:
    """SQL text built from non-constant values."""

    #: The expression that builds it (deduplicates sinks that receive the same string).
    origin: cst.CSTNode
    #: How: "an f-string", "`%` formatting", "`.format()`", "`+` concatenation".
    how: str
    #: The non-constant values interpolated into it.
    holes: tuple[cst.BaseExpression, ...]


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
    parameter (query, path, header and body values, the `Request`), `sys.argv`, `input()`,
    `os.environ` / `os.getenv()`; through local variables, string operations,
    module-level names of other project modules and calls of project functions. The message
    names the source and the calls it went through. Values of
    unknown origin (a helper's parameter, what a dependency returns, a value read from the
    database) are not reported: SQL assembled from internal values is common and legitimate
    in migrations and reporting code. With `sql-interpolation = "strict"` in
    `[tool.sessionlint]`, every non-constant value is reported too, as a warning. Like every
    rule about request-time harm, it is silent in test code, migrations and scripts.

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
    (value,))`: no `%` operator); literals, module-level string constants (UPPER_CASE names
    bound once to a literal, also imported ones) and local names bound once to a literal;
    `Model.__tablename__` and `Model.__table__...`; f-strings used as bound values
    (`.bindparams(x=f"...")`, `execute(stmt, {"x": f"..."})`); values that cannot carry SQL
    text (numbers, `int(...)`, `float(...)`, `len(...)`, and parameters annotated `int`,
    `float`, `bool`, `UUID`, `Decimal`, a date, a `Literal[...]` or an `Enum` — also inside
    `Annotated`/`Optional` — and their attributes such as `sort.value`); a `text` that is not
    SQLAlchemy's (also a local `def text` shadowing the import); `cursor.execute()` of a DBAPI
    driver (not a session); SQL strings passed in as parameters of a helper.
    Also not flagged: a parameter checked against a collection before use (`if sort not in
    SORTABLE: raise ...`). A helper's parameter is followed to the helper's callers in the
    project (plain functions, across modules, several calls deep: a route passing `q` to a
    service that passes it to the function building the SQL is reported there); methods'
    parameters are not followed. In strict mode, dynamic identifiers
    (a column name checked against an allow-list elsewhere), `WHERE` clauses joined from
    constant fragments and generated placeholder lists are warnings; prefer `select()`
    constructs, `bindparam(..., expanding=True)`, or `# noqa: SL501` with a comment.

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
    suggestion = 'Use bound parameters: `text("... WHERE name = :name")` with `{"name": value}`'

    def check(self, ctx: FileContext) -> Iterator[Report]:
        reported: set[cst.CSTNode] = set()
        for call in ctx.index.nodes(cst.Call):  # source order: the first receiver wins
            sink = self._sink(ctx, call)
            if sink is None:
                continue
            label, statement = sink
            built = self._built(ctx, statement, 0)
            if built is None or built.origin in reported:
                continue
            reported.add(built.origin)
            source = self._outside_source(ctx, built.holes)
            if source is not None:
                yield Report(
                    call,
                    f"SQL injection: {source} flows into {built.how} passed to `{label}`; "
                    "use bound parameters",
                )
            elif ctx.model.strict_sql:
                yield Report(
                    call,
                    f"SQL built with {built.how} from non-constant values is passed to "
                    f'`{label}`: use bound parameters (`text("... :name")` with a dict '
                    "of values)",
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
        if isinstance(expr, cst.FormattedString | cst.ConcatenatedString):
            holes = tuple(h for h in self._fstring_values(expr) if not self._safe(ctx, h, 0))
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
                holes = tuple(v for v in values if not self._safe(ctx, v, 0))
                return Built(expr, "`%` formatting", holes) if holes else None
            if isinstance(expr.operator, cst.Add):
                operands = self._add_operands(expr)
                if not any(model.is_string(file, o) for o in operands):
                    return None
                holes = tuple(o for o in operands if not self._safe(ctx, o, 0))
                return Built(expr, "`+` concatenation", holes) if holes else None
            return None
        if isinstance(expr, cst.Call):
            method = method_call(expr)
            if method is None or method[1] != "format" or not model.is_string(file, method[0]):
                return None
            holes = tuple(a.value for a in expr.args if not self._safe(ctx, a.value, 0))
            return Built(expr, "`.format()`", holes) if holes else None
        if isinstance(expr, cst.Name):
            return self._built_name(ctx, expr, depth)
        return None

    def _built_name(self, ctx: FileContext, name: cst.Name, depth: int) -> Built | None:
        """A local (or module-level) variable holding built SQL text."""
        index = ctx.index
        bindings = index.lookup(name.value, name)
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
        for aug in self._augmented(ctx, bindings[0]):
            if (
                isinstance(aug.operator, cst.AddAssign)
                and not self._safe(ctx, aug.value, 0)
                and any(self._is_string_binding(ctx, b) for b in bindings)
            ):
                built = self._built(ctx, aug.value, depth + 1)
                holes = built.holes if built is not None else (aug.value,)
                return Built(aug, "`+` concatenation", holes)
            if isinstance(aug.operator, cst.ModuloAssign) and not self._safe(ctx, aug.value, 0):
                return Built(aug, "`%` formatting", (aug.value,))
        return None

    def _is_string_binding(self, ctx: FileContext, binding: Binding) -> bool:
        return binding.value is not None and ctx.model.is_string(ctx.file, binding.value)

    @staticmethod
    def _augmented(ctx: FileContext, binding: Binding) -> list[cst.AugAssign]:
        """``name += ...`` statements in the scope of ``binding``."""
        index = ctx.index
        scope_node = binding.scope.node
        function = scope_node if isinstance(scope_node, cst.FunctionDef | cst.Lambda) else None
        if function is None and binding.scope.kind != "module":
            return []
        return [
            aug
            for aug in index.own_nodes(function, cst.AugAssign)
            if isinstance(aug.target, cst.Name) and aug.target.value == binding.name
        ]

    @staticmethod
    def _fstring_values(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(expr, cst.ConcatenatedString):
            return [
                *RawSqlInterpolation._fstring_values(expr.left),
                *RawSqlInterpolation._fstring_values(expr.right),
            ]
        if isinstance(expr, cst.FormattedString):
            return [
                part.expression
                for part in expr.parts
                if isinstance(part, cst.FormattedStringExpression)
            ]
        return []

    @staticmethod
    def _add_operands(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return [
                *RawSqlInterpolation._add_operands(expr.left),
                *RawSqlInterpolation._add_operands(expr.right),
            ]
        return [expr]

    # -- constants ---------------------------------------------------------------------------
    def _safe(self, ctx: FileContext, expr: cst.BaseExpression, depth: int) -> bool:
        """``expr`` is a constant (or cannot carry SQL text): interpolating it is not
        injection."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.SimpleString | cst.Integer | cst.Float | cst.Imaginary):
            return True
        if isinstance(expr, cst.FormattedString | cst.ConcatenatedString):
            return all(self._safe(ctx, v, depth + 1) for v in self._fstring_values(expr))
        if isinstance(expr, cst.Tuple | cst.List):
            return all(self._safe(ctx, e.value, depth + 1) for e in expr.elements)
        if isinstance(expr, cst.BinaryOperation):
            return self._safe(ctx, expr.left, depth + 1) and self._safe(ctx, expr.right, depth + 1)
        if isinstance(expr, cst.UnaryOperation):
            return self._safe(ctx, expr.expression, depth + 1)
        if isinstance(expr, cst.Call):
            method = method_call(expr)
            if method is not None and method[1] == "join" and len(expr.args) == 1:
                # ``", ".join(COLUMNS)``, ``", ".join(f":id{i}" for i in range(n))``
                return self._safe(ctx, method[0], depth + 1) and self._safe(
                    ctx, expr.args[0].value, depth + 1
                )
            return ctx.model.callee_qualname(ctx.file, expr) in _NUMERIC_CALLS
        if isinstance(expr, cst.IfExp):  # ``"DESC" if desc else "ASC"``
            return self._safe(ctx, expr.body, depth + 1) and self._safe(ctx, expr.orelse, depth + 1)
        if isinstance(expr, cst.Subscript):  # ``SORT_COLUMNS[sort]``: a value of a constant
            return self._safe(ctx, expr.value, depth + 1)
        if isinstance(expr, cst.GeneratorExp | cst.ListComp):
            return self._safe(ctx, expr.elt, depth + 1)
        if isinstance(expr, cst.Name):
            return self._safe_name(ctx, expr, depth)
        if isinstance(expr, cst.Attribute):
            chain = dotted_name(expr)
            if chain is None:
                return False
            parts = chain.split(".")
            if "__tablename__" in parts or "__table__" in parts:
                return True
            root: cst.BaseExpression = expr
            while isinstance(root, cst.Attribute):
                root = root.value
            if isinstance(root, cst.Name) and self._constrained_param(ctx, root):
                return True  # ``sort.value`` of an Enum parameter
            target = ctx.model.resolve(ctx.file, expr)
            if isinstance(target, Def):
                return self._constant_binding(ctx, target.binding, depth)
            return bool(_UPPER.match(parts[-1]))
        return False

    def _safe_name(self, ctx: FileContext, name: cst.Name, depth: int) -> bool:
        if name.value in ("True", "False", "None"):
            return True
        bindings = ctx.index.lookup(name.value, name)
        if len(bindings) > 1:  # ``for t in (...)`` twice: every loop must be over constants
            return all(
                isinstance(b.node, cst.For | cst.CompFor) and self._constant_binding(ctx, b, depth)
                for b in bindings
            )
        if not bindings:
            return False
        binding = bindings[0]
        if binding.imported is not None:
            target = ctx.model.resolve(ctx.file, name)
            if isinstance(target, Def):
                return self._constant_binding(ctx, target.binding, depth)
            # A constant of a module sessionlint cannot see: stay silent.
            return isinstance(target, External) and bool(_UPPER.match(name.value))
        if isinstance(binding.node, cst.Param):
            return self._constrained_param(ctx, name)
        if self._augmented(ctx, binding):
            return False
        return self._constant_binding(ctx, binding, depth)

    def _constrained_param(self, ctx: FileContext, name: cst.Name) -> bool:
        """``name`` is a parameter annotated with a type whose values cannot carry SQL text:
        a number, a bool, a UUID, a date, a ``Literal[...]`` or an ``Enum`` (also inside
        ``Annotated``/``Optional``/``| None``)."""
        bindings = ctx.index.lookup(name.value, name)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return False
        annotation = bindings[0].annotation
        return annotation is not None and self._constrained_type(
            ctx, annotation, bindings[0].node, 0
        )

    def _constrained_type(
        self, ctx: FileContext, annotation: cst.BaseExpression, at: cst.CSTNode, depth: int
    ) -> bool:
        if depth > _MAX_DEPTH:
            return False
        model, file = ctx.model, ctx.file
        if isinstance(annotation, cst.Name) and annotation.value == "None":
            return True
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            return self._constrained_type(
                ctx, annotation.left, at, depth + 1
            ) and self._constrained_type(ctx, annotation.right, at, depth + 1)
        if isinstance(annotation, cst.Subscript):
            base = model.qualname(file, annotation.value, at)
            elements = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
            if base in _LITERAL:
                return True
            if not elements:
                return False
            if base in names.ANNOTATED or base in names.OPTIONAL:
                return self._constrained_type(ctx, elements[0], at, depth + 1)
            if base in names.UNION:
                return all(self._constrained_type(ctx, e, at, depth + 1) for e in elements)
            return False
        if not isinstance(annotation, cst.Name | cst.Attribute):
            return False
        if model.qualname(file, annotation, at) in _CONSTRAINED_TYPES:
            return True
        target = model.resolve(file, annotation, at)
        if isinstance(target, Def) and isinstance(target.binding.node, cst.ClassDef):
            cls = target.binding.node
            return any(
                model.qualname(target.file, base.value, cls) in _ENUM_BASES for base in cls.bases
            )
        return False

    def _constant_binding(self, ctx: FileContext, binding: Binding, depth: int) -> bool:
        """A name bound once to a literal: a module-level UPPER_CASE constant or a local; or
        the target of a ``for`` over a literal tuple/list or over such a constant."""
        if isinstance(binding.node, cst.For | cst.CompFor):
            return self._constant_loop_target(ctx, binding, depth)
        if not isinstance(binding.node, cst.Assign | cst.AnnAssign) or binding.value is None:
            return False
        if len(binding.scope.bindings.get(binding.name, [])) != 1:
            return False
        if binding.scope.kind == "module":
            return bool(_UPPER.match(binding.name)) and self._literal(binding.value, depth)
        # A local bound once: constant when its value is (``placeholders = ", ".join(...)``).
        return self._safe(ctx, binding.value, depth + 1)

    def _constant_loop_target(self, ctx: FileContext, binding: Binding, depth: int) -> bool:
        """A ``for`` (or comprehension) target that only takes constant values: the loop
        runs over a literal tuple/list (of literals or of tuples of literals, unpacked or
        not), over such a constant, or over ``range(...)`` (integers)."""
        node = binding.node
        assert isinstance(node, cst.For | cst.CompFor)
        iterable = node.iter
        if isinstance(iterable, cst.Call):
            qualname = ctx.model.callee_qualname(ctx.file, iterable)
            if qualname == "builtins.range":
                return True
            if qualname == "builtins.enumerate" and isinstance(node.target, cst.Tuple):
                # ``for i, v in enumerate(xs)``: only the index is an integer.
                first = node.target.elements[0].value if node.target.elements else None
                return isinstance(first, cst.Name) and first.value == binding.name
            if qualname == "builtins.reversed" and iterable.args:
                iterable = iterable.args[0].value
        if isinstance(iterable, cst.Tuple | cst.List):
            return self._literal(iterable, depth + 1)
        if isinstance(iterable, cst.Name):
            found = ctx.index.lookup(iterable.value, node)
            return len(found) == 1 and self._constant_binding(ctx, found[0], depth + 1)
        return False

    def _literal(self, expr: cst.BaseExpression, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.SimpleString | cst.Integer | cst.Float):
            return True
        if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
            return True
        if isinstance(expr, cst.Dict):
            return all(
                isinstance(e, cst.DictElement) and self._literal(e.value, depth + 1)
                for e in expr.elements
            )
        if isinstance(expr, cst.ConcatenatedString):
            return self._literal(expr.left, depth + 1) and self._literal(expr.right, depth + 1)
        if isinstance(expr, cst.FormattedString):
            return not any(isinstance(p, cst.FormattedStringExpression) for p in expr.parts)
        if isinstance(expr, cst.Tuple | cst.List):
            return all(self._literal(e.value, depth + 1) for e in expr.elements)
        return False

    # -- taint -------------------------------------------------------------------------------
    def _outside_source(
        self, ctx: FileContext, holes: tuple[cst.BaseExpression, ...]
    ) -> str | None:
        """A description of a value from outside the program that flows into ``holes``."""
        seen: set[int] = set()
        for hole in holes:
            found = self._tainted(ctx, hole, seen, 0)
            if found is not None:
                return found
        return None

    def _tainted(
        self, ctx: FileContext, expr: cst.CSTNode, seen: set[int], depth: int
    ) -> str | None:
        if depth > _MAX_DEPTH:
            return None
        found = self._outside_value(ctx, expr)
        if found is not None:
            return found
        for name in _names_in(expr):
            if id(name) in seen:
                continue
            seen.add(id(name))
            for binding in ctx.index.lookup(name.value, name):
                if binding.imported is not None:
                    # A value of another project module (``from app.settings import X``).
                    target = ctx.model.resolve(ctx.file, name)
                    if not isinstance(target, Def):
                        continue
                    binding_ctx = replace(ctx, file=target.file)
                    found = self._binding_tainted(binding_ctx, target.binding, seen, depth + 1)
                else:
                    found = self._binding_tainted(ctx, binding, seen, depth)
                if found is not None:
                    return found
        return None

    def _caller_taint(
        self,
        ctx: FileContext,
        function: cst.FunctionDef,
        name: str,
        seen: set[int],
        depth: int,
    ) -> str | None:
        """A value from outside that some project caller of ``function`` (a plain function,
        not a method) passes to its parameter ``name``: followed through calls, across
        modules, as deep as ``_MAX_CALL_DEPTH``."""
        index, model = ctx.index, ctx.model
        if depth >= _MAX_CALL_DEPTH or index.scope_of(function).kind == "class":
            return None
        for other in model.files_mentioning(function.name.value):
            other_ctx = replace(ctx, file=other)
            for call in other.index.nodes(cst.Call):
                found = model.function_def(other, call.func)
                if found is None or found[1] is not function:
                    continue
                argument = _argument_for(function, call, name)
                if argument is None:
                    continue
                hit = self._tainted(other_ctx, argument, seen, depth + 1)
                if hit is not None:
                    step = f"`{function.name.value}()`"
                    return f"{hit} → {step}" if " via " in hit else f"{hit} via {step}"
        return None

    @staticmethod
    def _outside_value(ctx: FileContext, expr: cst.CSTNode) -> str | None:
        """``sys.argv``, ``os.environ``, ``input()``, ``os.getenv()`` inside ``expr``."""
        stack: list[cst.CSTNode] = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Attribute):
                qualname = ctx.model.qualname(ctx.file, node)
                if qualname in _OUTSIDE_VALUES:
                    return _OUTSIDE_VALUES[qualname]
            elif isinstance(node, cst.Call):
                qualname = ctx.model.callee_qualname(ctx.file, node)
                if qualname in _OUTSIDE_CALLS:
                    return _OUTSIDE_CALLS[qualname]
            if isinstance(node, cst.Lambda | cst.FunctionDef):
                continue
            stack.extend(node.children)
        return None

    def _binding_tainted(
        self, ctx: FileContext, binding: Binding, seen: set[int], depth: int
    ) -> str | None:
        node = binding.node
        file, model = ctx.file, ctx.model
        if isinstance(node, cst.Param):
            function = binding.scope.node
            if not isinstance(function, cst.FunctionDef) or model.param_dependency(file, node):
                return None
            if _allow_listed(function, binding.name):
                return None
            if model.is_route_handler(file, function):
                return f"the route parameter `{binding.name}`"
            if model.is_dependency(file, function):
                return f"the dependency parameter `{binding.name}`"
            return self._caller_taint(ctx, function, binding.name, seen, depth)
        sources: list[cst.CSTNode] = []
        value = binding.value
        if isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr) and value is not None:
            sources.append(value)
        elif isinstance(node, cst.For | cst.CompFor):
            sources.append(node.iter)
        elif isinstance(node, cst.WithItem):
            sources.append(node.item)
        sources.extend(a.value for a in self._augmented(ctx, binding))
        for source in sources:
            found = self._tainted(ctx, source, seen, depth + 1)
            if found is not None:
                return found
        return None


def _argument_for(
    function: cst.FunctionDef, call: cst.Call, name: str
) -> cst.BaseExpression | None:
    """The argument of ``call`` that ``function``'s parameter ``name`` receives, if sure."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    for position, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value == name:
                return arg.value
        elif position < len(positional) and positional[position] == name:
            return arg.value
    return None


def _allow_listed(function: cst.FunctionDef, name: str) -> bool:
    """``name`` is checked against a collection in an ``if`` test of ``function``
    (``if sort not in ALLOWED: raise ...``, ``if column in COLUMNS: ...``): validated."""
    stack: list[cst.CSTNode] = [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.If):
            for comparison in _comparisons(node.test):
                if (
                    isinstance(comparison.left, cst.Name)
                    and comparison.left.value == name
                    and any(
                        isinstance(t.operator, cst.In | cst.NotIn) for t in comparison.comparisons
                    )
                ):
                    return True
        if not isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            stack.extend(node.children)
    return False


def _comparisons(test: cst.BaseExpression) -> Iterator[cst.Comparison]:
    stack: list[cst.CSTNode] = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Comparison):
            yield node
        elif isinstance(node, cst.BooleanOperation | cst.UnaryOperation):
            stack.extend(node.children)


def _names_in(node: cst.CSTNode) -> Iterator[cst.Name]:
    """The Name nodes read in an expression (not attribute names, keywords or the
    bodies of nested lambdas' parameters)."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            yield current
            continue
        if isinstance(current, cst.Attribute):
            stack.append(current.value)
            continue
        if isinstance(current, cst.Arg):
            stack.append(current.value)
            continue
        stack.extend(current.children)
