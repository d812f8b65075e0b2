"""Where a value comes from: a constant, outside the program, or unknown (SL501's question).

:class:`Origins` answers, for an expression of a project file:

- :meth:`Origins.is_constant`: the value is a constant, or cannot carry text that changes
  the meaning of SQL: literals, module-level UPPER_CASE constants (also imported ones),
  class constants, enum members and their ``.value``, locals bound once to such values,
  dict/tuple/list literals and lookups in them, loops over literal containers or
  ``range()``, numbers (``int(...)``, ``len(...)``), parameters annotated with a type whose
  values FastAPI validates (``int``, ``float``, ``bool``, ``UUID``, ``Decimal``, dates,
  ``Enum`` subclasses, ``Literal[...]``; also inside ``Annotated``/``Optional``/``| None``),
  the ``int``/enum/... fields of a request-body model, and identifiers from SQLAlchemy
  metadata (``__tablename__``, ``Model.__table__.name``, ``Table.name`` of
  ``metadata.sorted_tables`` / ``metadata.tables``, the keys of ``metadata.tables``).
- :meth:`Origins.outside`: a value from outside the program flows into the expression, and
  which one (a :class:`Source`): a parameter of a route handler or of a dependency that is
  not a ``Depends`` parameter, of type ``str`` (or unannotated, a container of ``str``, a
  ``str`` field of a request-body model); ``request.query_params`` / ``.headers`` /
  ``.path_params`` / ``.cookies`` / ``await request.json()`` / ``.form()`` / ``.body()``;
  ``sys.argv``, ``input()``, ``os.environ`` / ``os.getenv()``. The value is followed
  through local assignments, string operations, module-level names of other project
  modules, and the parameters of project functions and methods to their callers (a join
  over every call site in the project, memoised per parameter, recursion-guarded, at most
  :data:`MAX_CALL_DEPTH` calls deep). A name checked against a collection in an ``if`` of
  its function (``if sort not in ALLOWED: raise``, ``if sort in ALLOWED: ...``) is
  validated: the flow stops there.

Everything else is of unknown origin (``origin`` answers ``UNKNOWN``): what a dependency
returns, a database value, ``self.<attr>``, a helper parameter no caller feeds from outside.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from sessionlint.model import names
from sessionlint.model.index import Binding, Scope, dotted_name
from sessionlint.model.project import SourceFile

if TYPE_CHECKING:
    from sessionlint.model.semantic import Model

__all__ = ["MAX_CALL_DEPTH", "Origin", "Origins", "Source", "augmented", "fstring_values"]

_UPPER = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_MAX_DEPTH = 8
#: How many calls of project functions a value is followed through, from the function that
#: builds the SQL text up to the route (the spec asks for at least 2).
MAX_CALL_DEPTH = 4
#: Calls whose result cannot carry SQL text (a number or a bool).
_NUMERIC_CALLS = frozenset({"builtins.int", "builtins.float", "builtins.bool", "builtins.len"})
#: Annotations whose values cannot carry SQL text once FastAPI validated them.
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
        "datetime.timedelta",
    }
)
_ENUM_BASES = frozenset({"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag"})
_LITERAL = frozenset({"typing.Literal", "typing_extensions.Literal"})
_STR = frozenset({"builtins.str", "typing.Any", "typing.AnyStr", "pydantic.constr"})
#: Generic containers whose elements FastAPI fills from the request (``list[str]``).
_CONTAINERS = frozenset(
    {
        "builtins.list",
        "builtins.set",
        "builtins.frozenset",
        "builtins.tuple",
        "builtins.dict",
        "typing.List",
        "typing.Set",
        "typing.FrozenSet",
        "typing.Tuple",
        "typing.Dict",
        "typing.Sequence",
        "typing.Iterable",
        "typing.Mapping",
        "collections.abc.Sequence",
        "collections.abc.Iterable",
        "collections.abc.Mapping",
    }
)
_REQUESTS = frozenset(
    {
        "fastapi.Request",
        "fastapi.requests.Request",
        "starlette.requests.Request",
        "starlette.requests.HTTPConnection",
        "fastapi.WebSocket",
        "fastapi.websockets.WebSocket",
        "starlette.websockets.WebSocket",
    }
)
#: ``request.<attr>`` that hold request data, and ``await request.<method>()``.
_REQUEST_ATTRS = frozenset({"query_params", "headers", "path_params", "cookies"})
_REQUEST_METHODS = frozenset({"json", "form", "body"})
#: FastAPI parameter markers, and what the message calls such a parameter.
_PARAM_MARKERS = {
    "Query": "query parameter",
    "Path": "path parameter",
    "Header": "header",
    "Cookie": "cookie",
    "Body": "body field",
    "Form": "form field",
}
_OUTSIDE_VALUES = {"sys.argv": "`sys.argv`", "os.environ": "`os.environ`"}
_OUTSIDE_CALLS = {
    "builtins.input": "`input()`",
    "os.getenv": "`os.getenv()`",
    "os.environ.get": "`os.environ`",
}
#: Calls and ``str`` methods whose result carries the text of their arguments.
_TEXT_CALLS = frozenset({"builtins.str", "builtins.repr", "builtins.format"})
_TEXT_METHODS = frozenset({"join", "format", "format_map", "replace"})
_ITERATING_CALLS = frozenset(
    {"builtins.reversed", "builtins.sorted", "builtins.list", "builtins.tuple"}
)
#: Parts of an attribute chain that name SQLAlchemy metadata (table and column objects).
_METADATA_PARTS = frozenset({"__table__", "sorted_tables", "tables", "columns", "c"})
_IDENTIFIER_ATTRS = frozenset({"name", "key", "fullname", "schema", "__tablename__"})


class Origin(Enum):
    CONSTANT = "constant"
    OUTSIDE = "outside"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Source:
    """A value from outside the program, and the project functions it went through."""

    #: ``query parameter `q` of route `GET /users` (app/routers/users.py:12)``, ``sys.argv``...
    description: str
    #: The functions it was passed through, from the source towards the SQL text.
    via: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.via:
            return self.description
        return f"{self.description} (via {' → '.join(f'`{f}()`' for f in self.via)})"

    def through(self, function: str) -> Source:
        return Source(self.description, (*self.via, function))


class Origins:
    """Value-origin questions about the files of one :class:`Model`'s project."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._params: dict[tuple[cst.FunctionDef, str], Source | None] = {}
        self._constant_params: dict[tuple[cst.FunctionDef, str], bool] = {}
        self._stack: list[tuple[cst.FunctionDef, str]] = []
        self._cut = False
        self._lines: dict[SourceFile, dict[cst.CSTNode, int]] = {}

    # -- the three-valued answer -------------------------------------------------------------
    def origin(self, file: SourceFile, expr: cst.BaseExpression) -> Origin:
        if self.is_constant(file, expr):
            return Origin.CONSTANT
        if self.outside(file, expr) is not None:
            return Origin.OUTSIDE
        return Origin.UNKNOWN

    # -- constants -----------------------------------------------------------------------------
    def is_constant(self, file: SourceFile, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """``expr`` is a constant (or cannot carry SQL text)."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.SimpleString | cst.Integer | cst.Float | cst.Imaginary):
            return True
        if isinstance(expr, cst.FormattedString | cst.ConcatenatedString):
            return all(self.is_constant(file, v, depth + 1) for v in fstring_values(expr))
        if isinstance(expr, cst.Tuple | cst.List | cst.Set):
            return all(self.is_constant(file, e.value, depth + 1) for e in expr.elements)
        if isinstance(expr, cst.Dict):
            return all(
                isinstance(e, cst.DictElement)
                and self.is_constant(file, e.key, depth + 1)
                and self.is_constant(file, e.value, depth + 1)
                for e in expr.elements
            )
        if isinstance(expr, cst.BinaryOperation):
            return self.is_constant(file, expr.left, depth + 1) and self.is_constant(
                file, expr.right, depth + 1
            )
        if isinstance(expr, cst.UnaryOperation):
            return self.is_constant(file, expr.expression, depth + 1)
        if isinstance(expr, cst.Comparison):
            return True  # a bool
        if isinstance(expr, cst.BooleanOperation):
            return self.is_constant(file, expr.left, depth + 1) and self.is_constant(
                file, expr.right, depth + 1
            )
        if isinstance(expr, cst.Call):
            return self._constant_call(file, expr, depth)
        if isinstance(expr, cst.IfExp):  # ``"DESC" if desc else "ASC"``
            return self.is_constant(file, expr.body, depth + 1) and self.is_constant(
                file, expr.orelse, depth + 1
            )
        if isinstance(expr, cst.Subscript):  # ``SORT_COLUMNS[sort]``: a value of a constant
            return self.is_constant(file, expr.value, depth + 1)
        if isinstance(expr, cst.GeneratorExp | cst.ListComp | cst.SetComp):
            return self.is_constant(file, expr.elt, depth + 1)
        if isinstance(expr, cst.Name):
            return self._constant_name(file, expr, depth)
        if isinstance(expr, cst.Attribute):
            return self._constant_attribute(file, expr, depth)
        return False

    def _constant_call(self, file: SourceFile, call: cst.Call, depth: int) -> bool:
        model = self.model
        method = _method(call)
        if method is not None:
            receiver, attr = method
            if attr == "join" and len(call.args) == 1:
                # ``", ".join(COLUMNS)``, ``", ".join(f":id{i}" for i in range(n))``
                return self.is_constant(file, receiver, depth + 1) and self.is_constant(
                    file, call.args[0].value, depth + 1
                )
            if attr == "get" and call.args:
                # ``SORT_COLUMNS.get(sort, "id")``: a value of a constant mapping.
                return self.is_constant(file, receiver, depth + 1) and all(
                    self.is_constant(file, a.value, depth + 1) for a in call.args[1:]
                )
            if attr in ("upper", "lower", "strip", "title", "capitalize") and not call.args:
                return self.is_constant(file, receiver, depth + 1)
            if attr in ("keys", "values", "items") and not call.args:
                return self.is_constant(file, receiver, depth + 1) or self._metadata(
                    file, receiver, depth + 1
                )
        qualname = model.callee_qualname(file, call)
        if qualname in _TEXT_CALLS and len(call.args) == 1:  # ``str(page)``
            return self.is_constant(file, call.args[0].value, depth + 1)
        return qualname in _NUMERIC_CALLS

    def _constant_attribute(self, file: SourceFile, expr: cst.Attribute, depth: int) -> bool:
        from sessionlint.model.semantic import Def

        model = self.model
        chain = dotted_name(expr)
        if chain is None:
            return expr.attr.value in _IDENTIFIER_ATTRS and self._metadata(
                file, expr.value, depth + 1
            )
        parts = chain.split(".")
        if "__tablename__" in parts or "__table__" in parts:
            return True
        root: cst.BaseExpression = expr
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and self._constrained_param(file, root):
            return True  # ``sort.value`` of an Enum parameter
        if isinstance(root, cst.Name) and self._constrained_field(file, root, parts[1]):
            return True  # ``payload.limit`` of a body model's ``int`` field
        if expr.attr.value in _IDENTIFIER_ATTRS and self._metadata(file, expr.value, depth + 1):
            return True  # ``table.name`` for a table of ``metadata.sorted_tables``
        if expr.attr.value in ("value", "name") and (
            self._enum_member(file, expr.value) or self.is_constant(file, expr.value, depth + 1)
        ):
            return True  # ``Status.ACTIVE.value``, ``level.value`` of a loop over enums
        if self._enum_member(file, expr):
            return True
        target = model.resolve(file, expr)
        if isinstance(target, Def):
            return self._constant_binding(target.file, target.binding, depth)
        if isinstance(expr.value, cst.Name) and expr.value.value in ("self", "cls"):
            return self._class_constant(file, expr, depth)
        return bool(_UPPER.match(parts[-1]))

    def _enum_member(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` is ``SomeEnum.MEMBER`` for a project ``Enum`` subclass."""
        if not isinstance(expr, cst.Attribute):
            return False
        cls = self._class_of(file, expr.value)
        return cls is not None and self._is_enum_class(*cls)

    def _class_constant(self, file: SourceFile, expr: cst.Attribute, depth: int) -> bool:
        """``self.TABLE`` / ``cls.table`` bound once to a literal in the body of the enclosing
        class or of a project base class, and never assigned through an attribute in those
        classes; ``self.value`` / ``self.name`` in a method of an ``Enum`` subclass."""
        scope: Scope | None = file.index.scope_of(expr)
        while scope is not None and scope.kind != "class":
            scope = scope.parent
        if scope is None or not isinstance(scope.node, cst.ClassDef):
            return False
        attr = expr.attr.value
        if attr in ("value", "name") and self._is_enum_class(file, scope.node):
            return True  # ``self.value`` of an enum member
        found = self._class_binding(file, scope.node, attr, 0)
        if found is None:
            return False
        owner_file, owner, binding = found
        if binding.value is None or not self._literal(binding.value, depth + 1):
            return False
        for where, cls in ((file, scope.node), (owner_file, owner)):
            for assign in where.index.nodes(cst.Assign):
                if not where.index.is_inside(assign, cls):
                    continue
                for target in assign.targets:
                    if (
                        isinstance(target.target, cst.Attribute)
                        and target.target.attr.value == attr
                    ):
                        return False
        return True

    def _class_binding(
        self, file: SourceFile, cls: cst.ClassDef, attr: str, depth: int
    ) -> tuple[SourceFile, cst.ClassDef, Binding] | None:
        """The only binding of ``attr`` in the body of ``cls`` or of its nearest project base
        class that binds it."""
        if depth > _MAX_DEPTH:
            return None
        bindings = file.index.scopes[cls].bindings.get(attr)
        if bindings:
            return (file, cls, bindings[0]) if len(bindings) == 1 else None
        for base in cls.bases:
            parent = self._class_of(file, base.value)
            if parent is not None:
                found = self._class_binding(*parent, attr, depth + 1)
                if found is not None:
                    return found
        return None

    def _metadata(self, file: SourceFile, expr: cst.BaseExpression, depth: int) -> bool:
        """``expr`` is a SQLAlchemy metadata object (a table, a column, a collection of them):
        ``Model.__table__``, ``metadata.sorted_tables``, ``metadata.tables[...]``,
        ``table.c``/``table.columns``, a ``Table(...)``, or a loop target over those."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Call):
            method = _method(expr)
            if method is not None and method[1] in ("values", "keys", "items"):
                return self._metadata(file, method[0], depth + 1)
            qualname = self.model.callee_qualname(file, expr)
            if qualname in _ITERATING_CALLS and expr.args:
                return self._metadata(file, expr.args[0].value, depth + 1)
            return qualname in ("sqlalchemy.Table", "sqlalchemy.schema.Table")
        if isinstance(expr, cst.Subscript):
            return self._metadata(file, expr.value, depth + 1)
        chain = dotted_name(expr)
        if chain is not None and len(chain.split(".")) > 1:
            parts = chain.split(".")
            if "__table__" in parts or "sorted_tables" in parts:
                return True
            if any(p in _METADATA_PARTS for p in parts[1:]) and (
                "metadata" in parts or self._metadata(file, _root(expr), depth + 1)
            ):
                return True
        if isinstance(expr, cst.Name):
            bindings = file.index.lookup(expr.value, expr)
            if len(bindings) != 1:
                return False
            node = bindings[0].node
            if isinstance(node, cst.For | cst.CompFor):
                return self._metadata(file, node.iter, depth + 1)
            if isinstance(node, cst.Assign | cst.AnnAssign) and bindings[0].value is not None:
                return self._metadata(file, bindings[0].value, depth + 1)
        return False

    def _constant_name(self, file: SourceFile, name: cst.Name, depth: int) -> bool:
        from sessionlint.model.semantic import Def, External

        if name.value in ("True", "False", "None"):
            return True
        bindings = file.index.lookup(name.value, name)
        if len(bindings) > 1:  # ``for t in (...)`` twice: every loop must be over constants
            return all(
                isinstance(b.node, cst.For | cst.CompFor) and self._constant_binding(file, b, depth)
                for b in bindings
            )
        if not bindings:
            return False
        binding = bindings[0]
        if binding.imported is not None:
            target = self.model.resolve(file, name)
            if isinstance(target, Def):
                return self._constant_binding(target.file, target.binding, depth)
            # A constant of a module sessionlint cannot see: stay silent.
            return isinstance(target, External) and bool(_UPPER.match(name.value))
        if isinstance(binding.node, cst.Param):
            function = binding.scope.node
            return self._constrained_param(file, name) or (
                isinstance(function, cst.FunctionDef)
                and self.param_constant(file, function, binding.node)
            )
        if augmented(file, binding):
            return False
        return self._constant_binding(file, binding, depth)

    def _constrained_param(self, file: SourceFile, name: cst.Name) -> bool:
        """``name`` is a parameter annotated with a type whose values cannot carry SQL text."""
        bindings = file.index.lookup(name.value, name)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return False
        annotation = bindings[0].annotation
        return annotation is not None and self.constrained_type(file, annotation, bindings[0].node)

    def _constrained_field(self, file: SourceFile, name: cst.Name, field: str) -> bool:
        """``name`` is a parameter annotated with a project class (a request-body model) whose
        ``field`` is annotated with a constrained type."""
        found = self._field_annotation(file, name, field)
        return found is not None and self.constrained_type(*found)

    def _field_annotation(
        self, file: SourceFile, name: cst.Name, field: str
    ) -> tuple[SourceFile, cst.BaseExpression, cst.CSTNode] | None:
        bindings = file.index.lookup(name.value, name)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return None
        annotation = bindings[0].annotation
        if annotation is None:
            return None
        cls = self._class_of(file, _unwrap(self.model, file, annotation, bindings[0].node))
        if cls is None:
            return None
        return self._class_field(*cls, field, 0)

    def _class_field(
        self, file: SourceFile, cls: cst.ClassDef, field: str, depth: int
    ) -> tuple[SourceFile, cst.BaseExpression, cst.CSTNode] | None:
        """The annotation of ``field`` in ``cls`` or a project base class."""
        if depth > _MAX_DEPTH:
            return None
        for binding in file.index.scopes[cls].bindings.get(field, []):
            if binding.annotation is not None:
                return file, binding.annotation, binding.node
        for base in cls.bases:
            parent = self._class_of(file, base.value)
            if parent is not None:
                found = self._class_field(*parent, field, depth + 1)
                if found is not None:
                    return found
        return None

    def _class_of(
        self, file: SourceFile, expr: cst.BaseExpression
    ) -> tuple[SourceFile, cst.ClassDef] | None:
        from sessionlint.model.semantic import Def

        if not isinstance(expr, cst.Name | cst.Attribute):
            return None
        target = self.model.resolve(file, expr)
        if isinstance(target, Def) and isinstance(target.binding.node, cst.ClassDef):
            return target.file, target.binding.node
        return None

    def _is_enum_class(self, file: SourceFile, cls: cst.ClassDef, depth: int = 0) -> bool:
        if depth > _MAX_DEPTH:
            return False
        for base in cls.bases:
            if self.model.qualname(file, base.value, cls) in _ENUM_BASES:
                return True
            parent = self._class_of(file, base.value)
            if parent is not None and self._is_enum_class(*parent, depth + 1):
                return True
        return False

    def constrained_type(
        self, file: SourceFile, annotation: cst.BaseExpression, at: cst.CSTNode, depth: int = 0
    ) -> bool:
        """Values of ``annotation`` cannot carry SQL text: a number, a bool, a UUID, a date,
        a ``Literal[...]`` or an ``Enum`` (also inside ``Annotated``/``Optional``/``| None``)."""
        if depth > _MAX_DEPTH:
            return False
        model = self.model
        if isinstance(annotation, cst.Name) and annotation.value == "None":
            return True
        if isinstance(annotation, cst.Ellipsis):  # ``tuple[int, ...]``
            return True
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            return self.constrained_type(
                file, annotation.left, at, depth + 1
            ) and self.constrained_type(file, annotation.right, at, depth + 1)
        if isinstance(annotation, cst.Subscript):
            base = model.qualname(file, annotation.value, at)
            elements = _elements(annotation)
            if base in _LITERAL:
                return True
            if not elements:
                return False
            if base in names.ANNOTATED or base in names.OPTIONAL:
                return self.constrained_type(file, elements[0], at, depth + 1)
            if base in names.UNION or base in _CONTAINERS:  # ``list[int]``
                return all(self.constrained_type(file, e, at, depth + 1) for e in elements)
            return False
        if not isinstance(annotation, cst.Name | cst.Attribute):
            return False
        if model.qualname(file, annotation, at) in _CONSTRAINED_TYPES:
            return True
        cls = self._class_of(file, annotation)
        return cls is not None and self._is_enum_class(*cls)

    def _stringy_type(
        self, file: SourceFile, annotation: cst.BaseExpression | None, at: cst.CSTNode, depth: int
    ) -> bool:
        """Values of ``annotation`` can carry any text: ``str`` (also unannotated), or a
        container, ``Optional``/``Union``/``Annotated`` of it."""
        if annotation is None:
            return True
        if depth > _MAX_DEPTH:
            return False
        model = self.model
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            return self._stringy_type(file, annotation.left, at, depth + 1) or self._stringy_type(
                file, annotation.right, at, depth + 1
            )
        if isinstance(annotation, cst.Subscript):
            base = model.qualname(file, annotation.value, at)
            elements = _elements(annotation)
            if not elements:
                return False
            if base in names.ANNOTATED:
                return self._stringy_type(file, elements[0], at, depth + 1)
            if base in names.OPTIONAL or base in names.UNION or base in _CONTAINERS:
                return any(self._stringy_type(file, e, at, depth + 1) for e in elements)
            return False
        if isinstance(annotation, cst.SimpleString):  # ``"str"``
            return annotation.evaluated_value == "str"
        if not isinstance(annotation, cst.Name | cst.Attribute):
            return False
        return model.qualname(file, annotation, at) in _STR

    def _constant_binding(self, file: SourceFile, binding: Binding, depth: int) -> bool:
        """A name bound once to a constant value: a module-level UPPER_CASE constant or a
        local; or the target of a ``for`` over constants."""
        if isinstance(binding.node, cst.For | cst.CompFor):
            return self._constant_loop_target(file, binding, depth)
        if not isinstance(binding.node, cst.Assign | cst.AnnAssign) or binding.value is None:
            return False
        if len(binding.scope.bindings.get(binding.name, [])) != 1:
            return False
        if binding.scope.kind == "module":
            return bool(_UPPER.match(binding.name)) and self._literal(binding.value, depth)
        if binding.scope.kind == "class":
            return self._literal(binding.value, depth)
        # A local bound once: constant when its value is (``placeholders = ", ".join(...)``).
        return self.is_constant(file, binding.value, depth + 1)

    def _constant_loop_target(self, file: SourceFile, binding: Binding, depth: int) -> bool:
        """A ``for`` (or comprehension) target that only takes constant values: the loop
        runs over a literal tuple/list (of literals or of tuples of literals, unpacked or
        not), over such a constant, over ``range(...)``, or over the table names of
        ``metadata.tables``."""
        node = binding.node
        assert isinstance(node, cst.For | cst.CompFor)
        iterable = node.iter
        if isinstance(iterable, cst.Call):
            qualname = self.model.callee_qualname(file, iterable)
            if qualname == "builtins.range":
                return True
            if qualname == "builtins.enumerate" and isinstance(node.target, cst.Tuple):
                # ``for i, v in enumerate(xs)``: only the index is an integer.
                first = node.target.elements[0].value if node.target.elements else None
                return isinstance(first, cst.Name) and first.value == binding.name
            if qualname in ("builtins.reversed", "builtins.sorted") and iterable.args:
                iterable = iterable.args[0].value
        if isinstance(iterable, cst.Tuple | cst.List | cst.Set):
            return self._literal(iterable, depth + 1)
        if isinstance(iterable, cst.Attribute):
            chain = dotted_name(iterable)
            if chain is not None and chain.endswith("metadata.tables"):
                return isinstance(node.target, cst.Name)  # the keys: table names
        # ``settings.TABLES``, ``Report.COLUMNS``, ``SORTS.keys()``
        return self.is_constant(file, iterable, depth + 1)
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
        if isinstance(expr, cst.Tuple | cst.List | cst.Set):
            return all(self._literal(e.value, depth + 1) for e in expr.elements)
        return False

    # -- values from outside -------------------------------------------------------------------
    def outside(self, file: SourceFile, expr: cst.BaseExpression) -> Source | None:
        """The value from outside the program that flows into ``expr``, if one is proven."""
        return self._tainted(file, expr, set(), 0)

    def _tainted(
        self, file: SourceFile, expr: cst.CSTNode, seen: set[int], depth: int
    ) -> Source | None:
        if depth > _MAX_DEPTH:
            return None
        stack: list[cst.CSTNode] = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.BaseExpression) and self.is_constant(file, node):
                continue  # ``COLUMNS.get(sort, "id")``, ``len(q)``, ``SORT[sort]``
            found = self._outside_value(file, node)
            if found is not None:
                return found
            if isinstance(node, cst.Name):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                found = self._name_tainted(file, node, seen, depth)
                if found is not None:
                    return found
                continue
            if isinstance(node, cst.Call):
                # A method call passes its receiver's text on (``q.strip()``); a call of a
                # project function's result is of unknown origin.
                if isinstance(node.func, cst.Attribute):
                    stack.append(node.func.value)
                    if node.func.attr.value in _TEXT_METHODS:
                        stack.extend(a.value for a in reversed(node.args))
                elif self.model.callee_qualname(file, node) in _TEXT_CALLS:
                    stack.extend(a.value for a in reversed(node.args))
                continue
            if isinstance(node, cst.Attribute):
                # A data attribute: a request-body field, a project module's name; the
                # attributes of other objects (``request.state.x``) are of unknown origin.
                found = self._attribute_tainted(file, node, seen, depth)
                if found is not None:
                    return found
                continue
            if isinstance(node, cst.Lambda | cst.FunctionDef | cst.ClassDef):
                continue
            stack.extend(reversed(node.children))
        return None

    def _attribute_tainted(
        self, file: SourceFile, node: cst.Attribute, seen: set[int], depth: int
    ) -> Source | None:
        from sessionlint.model.semantic import Def, ModuleRef

        if isinstance(node.value, cst.Name):
            found = self._field_source(file, node)
            if found is not None:
                return found
        base = (
            self.model.resolve(file, node.value)
            if isinstance(node.value, cst.Name | cst.Attribute)
            else None
        )
        if isinstance(base, ModuleRef):  # ``settings.TENANT_SCHEMA``
            target = self.model.resolve(file, node)
            if isinstance(target, Def):
                return self._binding_tainted(target.file, target.binding, seen, depth + 1)
        return None

    def _name_tainted(
        self, file: SourceFile, name: cst.Name, seen: set[int], depth: int
    ) -> Source | None:
        from sessionlint.model.semantic import Def

        for binding in file.index.lookup(name.value, name):
            if binding.imported is not None:
                # A value of another project module (``from app.settings import X``).
                target = self.model.resolve(file, name)
                if not isinstance(target, Def):
                    continue
                found = self._binding_tainted(target.file, target.binding, seen, depth + 1)
            else:
                found = self._binding_tainted(file, binding, seen, depth)
            if found is not None:
                return found
        return None

    def _binding_tainted(
        self, file: SourceFile, binding: Binding, seen: set[int], depth: int
    ) -> Source | None:
        node = binding.node
        function = binding.scope.node
        if isinstance(function, cst.FunctionDef) and allow_listed(function, binding.name):
            return None  # validated against a collection
        if isinstance(node, cst.Param):
            if not isinstance(function, cst.FunctionDef):
                return None
            return self.param_source(file, function, node)
        sources: list[cst.CSTNode] = []
        value = binding.value
        if isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr) and value is not None:
            sources.append(value)
        elif isinstance(node, cst.For | cst.CompFor):
            sources.append(node.iter)
        elif isinstance(node, cst.WithItem):
            sources.append(node.item)
        sources.extend(a.value for a in augmented(file, binding))
        for source in sources:
            found = self._tainted(file, source, seen, depth + 1)
            if found is not None:
                return found
        return None

    def _outside_value(self, file: SourceFile, node: cst.CSTNode) -> Source | None:
        """``sys.argv``, ``os.environ``, ``input()``, ``os.getenv()``, ``request.headers``,
        ``await request.json()``... at ``node`` itself, with where it is read."""
        found = self._outside_kind(file, node)
        if found is None:
            return None
        return Source(f"{found} ({self._where(file, node)})")

    def _outside_kind(self, file: SourceFile, node: cst.CSTNode) -> str | None:
        model = self.model
        if isinstance(node, cst.Attribute):
            qualname = model.qualname(file, node)
            if qualname in _OUTSIDE_VALUES:
                return _OUTSIDE_VALUES[qualname]
            if node.attr.value in _REQUEST_ATTRS and self._is_request(file, node.value):
                return f"`{dotted_name(node) or node.attr.value}`"
        elif isinstance(node, cst.Call):
            qualname = model.callee_qualname(file, node)
            if qualname in _OUTSIDE_CALLS:
                return _OUTSIDE_CALLS[qualname]
            method = _method(node)
            if (
                method is not None
                and method[1] in _REQUEST_METHODS
                and self._is_request(file, method[0])
            ):
                shown = dotted_name(method[0]) or "request"
                return f"`await {shown}.{method[1]}()`"
        return None

    def _is_request(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` is a Starlette/FastAPI ``Request`` (annotated so, or a parameter named
        ``request``/``req`` without annotation, as in middleware)."""
        if not isinstance(expr, cst.Name):
            return False
        bindings = file.index.lookup(expr.value, expr)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return False
        annotation = bindings[0].annotation
        if annotation is None:
            return expr.value in ("request", "req")
        annotation = _unwrap(self.model, file, annotation, bindings[0].node)
        return self.model.qualname(file, annotation, bindings[0].node) in _REQUESTS

    # -- parameters ----------------------------------------------------------------------------
    def param_source(
        self, file: SourceFile, function: cst.FunctionDef, param: cst.Param
    ) -> Source | None:
        """The value from outside a parameter receives: request data for a route handler's
        or dependency's parameter of a text type; for any other function, what some project
        caller passes to it (memoised; cycles and chains deeper than
        :data:`MAX_CALL_DEPTH` answer None)."""
        model = self.model
        if model.param_dependency(file, param) is not None:
            return None  # what a dependency returns: unknown origin
        annotation = param.annotation.annotation if param.annotation is not None else None
        if annotation is not None and self.constrained_type(file, annotation, param):
            return None
        name = param.name.value
        if model.is_route_handler(file, function) or model.is_dependency(file, function):
            if not self._stringy_type(file, annotation, param, 0):
                return None
            return Source(self._describe_param(file, function, param, None))
        key = (function, name)
        if key in self._params:
            return self._params[key]
        if key in self._stack or len(self._stack) >= MAX_CALL_DEPTH:
            self._cut = True
            return None
        self._stack.append(key)
        outer_cut, self._cut = self._cut, False
        try:
            found = self._caller_source(file, function, param)
        finally:
            self._stack.pop()
        if found is not None or not self._cut:
            self._params[key] = found  # a cut answer is not final: do not keep it
        self._cut = self._cut or outer_cut
        return found

    def param_constant(self, file: SourceFile, function: cst.FunctionDef, param: cst.Param) -> bool:
        """Every project caller of a plain function (not a route handler, a dependency or a
        method) passes a constant to ``param`` (or leaves its constant default), and the
        function is only ever called, never passed around. Memoised; cycles and chains
        deeper than :data:`MAX_CALL_DEPTH` answer False."""
        model = self.model
        if file.index.scope_of(function).kind == "class" or param.star:
            return False
        if model.is_route_handler(file, function) or model.is_dependency(file, function):
            return False
        key = (function, param.name.value)
        if key in self._constant_params:
            return self._constant_params[key]
        if key in self._stack or len(self._stack) >= MAX_CALL_DEPTH:
            self._cut = True
            return False
        self._stack.append(key)
        outer_cut, self._cut = self._cut, False
        try:
            found = self._callers_pass_constants(file, function, param)
        finally:
            self._stack.pop()
        if found or not self._cut:
            self._constant_params[key] = found
        self._cut = self._cut or outer_cut
        return found

    def _callers_pass_constants(
        self, file: SourceFile, function: cst.FunctionDef, param: cst.Param
    ) -> bool:
        if self._escapes(file, function):
            return False
        calls = 0
        for other, call, bound in self.callers(file, function):
            calls += 1
            argument = _argument_for(function, call, param.name.value, bound)
            if argument is None:
                if any(a.star for a in call.args) or param.default is None:
                    return False
                argument, other = param.default, file
            if not self.is_constant(other, argument):
                return False
        return calls > 0

    def _escapes(self, file: SourceFile, function: cst.FunctionDef) -> bool:
        """``function`` is referred to other than by calling it (a callback, ``Depends(f)``,
        ``partial(f, ...)``, stored in a mapping): its callers cannot all be seen."""
        name = function.name.value
        model = self.model
        for other in model.files_mentioning(name):
            index = other.index
            refs: list[cst.BaseExpression] = [n for n in index.nodes(cst.Name) if n.value == name]
            refs.extend(a for a in index.nodes(cst.Attribute) if a.attr.value == name)
            for ref in refs:
                parent = index.parent(ref)
                if isinstance(parent, cst.Call) and parent.func is ref:
                    continue
                if isinstance(parent, cst.Attribute | cst.FunctionDef | cst.ImportAlias):
                    continue  # ``module.f`` (checked as itself), the def, an import
                found = model.function_def(other, ref)
                if found is not None and found[1] is function:
                    return True
        return False

    def _caller_source(
        self, file: SourceFile, function: cst.FunctionDef, param: cst.Param
    ) -> Source | None:
        """A value from outside that some project caller passes to ``param``."""
        for other, call, bound in self.callers(file, function):
            argument = _argument_for(function, call, param.name.value, bound)
            if argument is None:
                continue
            found = self._tainted(other, argument, set(), 0)
            if found is not None:
                return found.through(function.name.value)
        return None

    def callers(
        self, file: SourceFile, function: cst.FunctionDef
    ) -> Iterator[tuple[SourceFile, cst.Call, bool]]:
        """The calls of ``function`` in the project: (file, call, the first parameter is bound
        to the receiver). Plain functions by name (also imported or as ``module.f``); methods
        as ``self.m()``/``cls.m()`` in their class, ``Class.m()``, ``Class().m()``, and
        ``x.m()`` on a name annotated with or bound to the class."""
        model = self.model
        scope = file.index.scope_of(function)
        cls = scope.node if scope.kind == "class" else None
        static = any(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
            for d in function.decorators
        )
        name = function.name.value
        for other in model.files_mentioning(name):
            for call in other.index.nodes(cst.Call):
                func = call.func
                if cls is None:
                    found = model.function_def(other, func)
                    if found is not None and found[1] is function:
                        yield other, call, False
                    continue
                if not (isinstance(func, cst.Attribute) and func.attr.value == name):
                    continue
                if not isinstance(cls, cst.ClassDef):
                    continue
                owner = self._receiver_class(other, func.value, call)
                if owner is None or owner[1] is not cls:
                    continue
                yield other, call, not static and owner[0]

    def _receiver_class(
        self, file: SourceFile, receiver: cst.BaseExpression, at: cst.CSTNode
    ) -> tuple[bool, cst.ClassDef] | None:
        """The project class a method is called on, and whether the call binds ``self``."""
        if isinstance(receiver, cst.Name) and receiver.value in ("self", "cls"):
            scope: Scope | None = file.index.scope_of(at)
            while scope is not None and scope.kind != "class":
                scope = scope.parent
            if scope is not None and isinstance(scope.node, cst.ClassDef):
                return True, scope.node
            return None
        if isinstance(receiver, cst.Call):  # ``Service().method(...)``
            cls = self._class_of(file, receiver.func)
            return (True, cls[1]) if cls is not None else None
        direct = self._class_of(file, receiver)
        if direct is not None:  # ``Service.method(...)``: unbound
            return False, direct[1]
        if isinstance(receiver, cst.Name):
            bindings = file.index.lookup(receiver.value, receiver)
            if len(bindings) != 1:
                return None
            binding = bindings[0]
            if binding.annotation is not None:
                cls = self._class_of(
                    file, _unwrap(self.model, file, binding.annotation, binding.node)
                )
                return (True, cls[1]) if cls is not None else None
            if isinstance(binding.value, cst.Call):
                cls = self._class_of(file, binding.value.func)
                return (True, cls[1]) if cls is not None else None
        return None

    def _field_source(self, file: SourceFile, attr: cst.Attribute) -> Source | None:
        """``payload.name`` of a route's (or dependency's) body-model parameter whose
        ``name`` field is text."""
        assert isinstance(attr.value, cst.Name)
        bindings = file.index.lookup(attr.value.value, attr.value)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return None
        param = bindings[0].node
        function = bindings[0].scope.node
        if not isinstance(function, cst.FunctionDef):
            return None
        model = self.model
        if not (model.is_route_handler(file, function) or model.is_dependency(file, function)):
            return None
        if model.param_dependency(file, param) is not None:
            return None
        found = self._field_annotation(file, attr.value, attr.attr.value)
        if found is None or not self._stringy_type(found[0], found[1], found[2], 0):
            return None
        if allow_listed(function, attr.value.value):
            return None
        return Source(self._describe_param(file, function, param, attr.attr.value))

    # -- descriptions --------------------------------------------------------------------------
    def _describe_param(
        self, file: SourceFile, function: cst.FunctionDef, param: cst.Param, field: str | None
    ) -> str:
        model = self.model
        name = param.name.value
        where = self._where(file, param)
        if model.is_route_handler(file, function):
            route = self._route_label(file, function)
            # A route is found by its method and path; a handler or dependency by its file.
            owner = f"route `{route}`" if route else f"route handler `{function.name.value}`"
            where = "" if route else f" ({where})"
        else:
            owner = f"dependency `{function.name.value}`"
            where = f" ({where})"
        if field is not None:
            return f"body field `{name}.{field}` of {owner}{where}"
        kind = self._param_kind(file, function, param)
        return f"{kind} `{name}` of {owner}{where}"

    def _param_kind(self, file: SourceFile, function: cst.FunctionDef, param: cst.Param) -> str:
        markers: list[cst.BaseExpression] = []
        if param.default is not None:
            markers.append(param.default)
        if param.annotation is not None:
            annotation = param.annotation.annotation
            if isinstance(annotation, cst.Subscript):
                markers.extend(_elements(annotation)[1:])
        for marker in markers:
            if isinstance(marker, cst.Call):
                qualname = self.model.callee_qualname(file, marker) or ""
                short = qualname.rsplit(".", 1)[-1]
                if qualname.startswith("fastapi.") and short in _PARAM_MARKERS:
                    return _PARAM_MARKERS[short]
        if self.model.is_route_handler(file, function):
            path = self._route_path(file, function)
            pattern = r"\{" + re.escape(param.name.value) + r"(:|\})"
            if path is not None and re.search(pattern, path):
                return "path parameter"
            return "query parameter"
        return "parameter"

    def _route_decorator(self, file: SourceFile, function: cst.FunctionDef) -> cst.Call | None:
        for decorator in function.decorators:
            expr = decorator.decorator
            if (
                isinstance(expr, cst.Call)
                and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value in names.ROUTE_METHODS
            ):
                return expr
        return None

    def _route_path(self, file: SourceFile, function: cst.FunctionDef) -> str | None:
        decorator = self._route_decorator(file, function)
        if decorator is None:
            return None
        args = decorator.args
        first = args[0].value if args and args[0].keyword is None else None
        for arg in decorator.args:
            if arg.keyword is not None and arg.keyword.value == "path":
                first = arg.value
        path = _string(first)
        if path is None:
            return None
        assert isinstance(decorator.func, cst.Attribute)
        return (self._router_prefix(file, decorator.func.value) or "") + path

    def _router_prefix(self, file: SourceFile, router: cst.BaseExpression) -> str | None:
        from sessionlint.model.semantic import Def

        target = self.model.resolve(file, router)
        if not isinstance(target, Def) or not isinstance(target.binding.value, cst.Call):
            return None
        for arg in target.binding.value.args:
            if arg.keyword is not None and arg.keyword.value == "prefix":
                return _string(arg.value)
        return None

    def _route_label(self, file: SourceFile, function: cst.FunctionDef) -> str | None:
        decorator = self._route_decorator(file, function)
        path = self._route_path(file, function)
        if decorator is None or path is None:
            return None
        assert isinstance(decorator.func, cst.Attribute)
        method = decorator.func.attr.value
        if method == "api_route":
            return path
        return f"{method.upper()} {path}"

    def _where(self, file: SourceFile, node: cst.CSTNode) -> str:
        """``path:line`` of ``node``."""
        lines = self._lines.get(file)
        if lines is None:
            positions = MetadataWrapper(file.module, unsafe_skip_copy=True).resolve(
                PositionProvider
            )
            lines = {n: r.start.line for n, r in positions.items()}
            self._lines[file] = lines
        line = lines.get(node)
        path = file.display_path.replace("\\", "/")
        root = self.model.project.root
        if file.path is not None and root is not None:
            # Relative to the project root: the same message however the run was started.
            with contextlib.suppress(ValueError):  # a file outside the root
                path = file.path.resolve().relative_to(root).as_posix()
        return f"{path}:{line}" if line is not None else path


# -- helpers -----------------------------------------------------------------------------------
def augmented(file: SourceFile, binding: Binding) -> list[cst.AugAssign]:
    """``name += ...`` statements in the scope of ``binding``."""
    scope_node = binding.scope.node
    function = scope_node if isinstance(scope_node, cst.FunctionDef | cst.Lambda) else None
    if function is None and binding.scope.kind != "module":
        return []
    return [
        aug
        for aug in file.index.own_nodes(function, cst.AugAssign)
        if isinstance(aug.target, cst.Name) and aug.target.value == binding.name
    ]


def fstring_values(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The expressions interpolated into an f-string (also one of an implicit concatenation)."""
    if isinstance(expr, cst.ConcatenatedString):
        return [*fstring_values(expr.left), *fstring_values(expr.right)]
    if isinstance(expr, cst.FormattedString):
        return [
            part.expression
            for part in expr.parts
            if isinstance(part, cst.FormattedStringExpression)
        ]
    return []


def allow_listed(function: cst.FunctionDef, name: str) -> bool:
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


def _argument_for(
    function: cst.FunctionDef, call: cst.Call, name: str, bound: bool
) -> cst.BaseExpression | None:
    """The argument of ``call`` that ``function``'s parameter ``name`` receives, if sure.
    ``bound``: the call binds the first parameter (``self``/``cls``) to its receiver."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    if bound:
        positional = positional[1:]
    for position, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value == name:
                return arg.value
        elif position < len(positional) and positional[position] == name:
            return arg.value
    return None


def _method(node: cst.CSTNode) -> tuple[cst.BaseExpression, str] | None:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value
    return None


def _elements(annotation: cst.Subscript) -> list[cst.BaseExpression]:
    return [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]


def _unwrap(
    model: Model, file: SourceFile, annotation: cst.BaseExpression, at: cst.CSTNode
) -> cst.BaseExpression:
    """``X`` for ``Annotated[X, ...]``, ``Optional[X]``, ``X | None``."""
    for _ in range(_MAX_DEPTH):
        if isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            if _is_none(annotation.right):
                annotation = annotation.left
                continue
            if _is_none(annotation.left):
                annotation = annotation.right
                continue
            break
        if isinstance(annotation, cst.Subscript):
            base = model.qualname(file, annotation.value, at)
            elements = _elements(annotation)
            if elements and (base in names.ANNOTATED or base in names.OPTIONAL):
                annotation = elements[0]
                continue
        break
    return annotation


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _root(expr: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr


def _string(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None
