"""The semantic model every rule queries.

It answers, through qualified names resolved across the project's modules:

* what an expression refers to (:meth:`Model.resolve`, :meth:`Model.qualname`);
* whether an expression holds a sync or an async session (:meth:`Model.session_kind`), whether
  a call creates a new one (:meth:`Model.creation_kind`), whether a name is a session factory
  (:meth:`Model.factory_kind`), what kind of session an annotation or type alias denotes
  (:meth:`Model.annotation_kind`);
* whether an expression holds an engine or a connection (:meth:`Model.engine_kind`,
  :meth:`Model.is_engine`, :meth:`Model.connection_kind`), or certainly a ``str``
  (:meth:`Model.is_string`);
* which functions are route handlers, dependencies, ``@contextmanager`` functions, pytest
  fixtures or cached functions; what a dependency provides, whether it commits after ``yield``
  (:meth:`Model.function_info`);
* what kind of code a file is: application code, test code, a migration or a script
  (:meth:`Model.code_kind`, :mod:`sessionlint.model.codekind`); whether the project runs on
  FastAPI (:meth:`Model.uses_fastapi`);
* which project helpers do blocking I/O on a session they receive (:meth:`Model.helper_does_io`).

Answers are memoised per node; recursive questions (aliases of aliases, helpers calling helpers,
import cycles) are cut by a guard and answer "unknown", which rules treat as "stay silent".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import libcst as cst

from sessionlint.model import names
from sessionlint.model.codekind import CodeKind, CodeKinds, in_main_block
from sessionlint.model.index import Binding, FunctionNode, ModuleIndex, dotted_name
from sessionlint.model.names import Kind
from sessionlint.model.project import Project, SourceFile, TextQuery
from sessionlint.versions import TargetVersions

if TYPE_CHECKING:
    from sessionlint.model.effects import Effects
    from sessionlint.model.taint import Origins

__all__ = [
    "Def",
    "External",
    "FunctionInfo",
    "Model",
    "ModuleRef",
    "Target",
    "call_args",
    "dotted_name",
    "method_call",
]

T = TypeVar("T")
_MAX_DEPTH = 12


@dataclass(frozen=True)
class External:
    """A name defined outside the project (a library, the stdlib, a builtin)."""

    qualname: str


@dataclass(frozen=True)
class ModuleRef:
    """A module of the project."""

    file: SourceFile


@dataclass(frozen=True)
class Def:
    """A binding in a file of the project (a function, class, assignment, parameter...)."""

    file: SourceFile
    binding: Binding


Target = External | ModuleRef | Def


@dataclass
class FunctionInfo:
    """What a function provides and how it behaves, for dependency- and helper-level rules."""

    file: SourceFile
    node: cst.FunctionDef
    is_async: bool
    is_generator: bool
    yields: list[cst.Yield] = field(default_factory=list)
    #: The session kind it yields (generator) or returns (plain function), if any.
    provides: Kind | None = None
    #: ``commit()`` calls on a session that run after the first ``yield``.
    commits_after_yield: list[cst.Call] = field(default_factory=list)
    #: ``with <factory>.begin() as s:`` / ``with s.begin():`` blocks that enclose a ``yield``.
    begin_blocks: list[cst.With] = field(default_factory=list)

    @property
    def unit_of_work(self) -> bool:
        """It commits for the caller (after ``yield`` or through ``begin()``)."""
        return bool(self.commits_after_yield or self.begin_blocks)


def call_args(call: cst.Call) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
    """Positional and keyword argument expressions of a call (``*``/``**`` are skipped)."""
    positional: list[cst.BaseExpression] = []
    keywords: dict[str, cst.BaseExpression] = {}
    for arg in call.args:
        if arg.star:
            continue
        if arg.keyword is not None:
            keywords[arg.keyword.value] = arg.value
        else:
            positional.append(arg.value)
    return positional, keywords


def method_call(node: cst.CSTNode) -> tuple[cst.BaseExpression, str] | None:
    """``(receiver, method)`` for ``receiver.method(...)``, else None."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value
    return None


def is_load(index: ModuleIndex, node: cst.Name) -> bool:
    """``node`` reads a variable: it is not a binding target (assignment, ``for``, ``with``,
    ``except``, walrus), a declared name (``def``, ``class``, parameter, import, ``global``),
    a keyword argument's name or an attribute's name."""
    parent = index.parent(node)
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    if isinstance(parent, cst.Arg) and parent.keyword is node:
        return False
    if isinstance(parent, cst.AssignTarget):
        return False
    return getattr(parent, "name", None) is not node and getattr(parent, "target", None) is not node


def _string_key(node: cst.Subscript) -> str | None:
    """``"<key>"`` of ``x["<key>"]`` (one plain string index), else None."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    key = node.slice[0].slice.value
    if isinstance(key, cst.SimpleString):
        value = key.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_none(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _mentions(node: cst.CSTNode, dotted: str) -> bool:
    """``node`` contains a Name/Attribute chain spelled ``dotted``."""
    if isinstance(node, cst.Name | cst.Attribute) and dotted_name(node) == dotted:
        return True
    return any(_mentions(child, dotted) for child in node.children)


class Model:
    """Semantic questions about the files of one :class:`Project`."""

    def __init__(
        self,
        project: Project,
        *,
        session_factories: Iterable[str] = (),
        async_session_factories: Iterable[str] = (),
        session_dependencies: Iterable[str] = (),
        async_session_dependencies: Iterable[str] = (),
        strict_sql: bool = False,
    ) -> None:
        self.project = project
        #: SL501's ``sql-interpolation = "strict"``: also warn on values of unknown origin.
        self.strict_sql = strict_sql
        self.extra_factories: dict[str, Kind] = {q: Kind.SYNC for q in session_factories}
        self.extra_factories.update({q: Kind.ASYNC for q in async_session_factories})
        self.extra_dependencies: dict[str, Kind] = {q: Kind.SYNC for q in session_dependencies}
        self.extra_dependencies.update({q: Kind.ASYNC for q in async_session_dependencies})
        self._memo: dict[tuple[str, int], object] = {}
        self._active: set[tuple[str, int]] = set()
        self._dependencies: set[cst.CSTNode] | None = None
        self._depends_calls: dict[cst.CSTNode, list[tuple[SourceFile, cst.Call]]] = {}
        #: The file of each dependency function (see :meth:`dependencies`).
        self._dependency_files: dict[cst.CSTNode, SourceFile] = {}
        self._per_request: dict[cst.CSTNode, tuple[SourceFile, cst.FunctionDef]] | None = None
        self._registered_routes: set[cst.CSTNode] | None = None
        self._uses_fastapi: bool | None = None
        self._code_kinds: CodeKinds | None = None
        self._helper_io: dict[tuple[cst.FunctionDef, str], bool] = {}
        self._module_names: dict[SourceFile, str | None] = {}
        self._attribute_uses: dict[
            tuple[int, str, str], list[tuple[SourceFile, cst.Attribute]]
        ] = {}
        self._effects: Effects | None = None
        self._origins: Origins | None = None
        self._state_kinds: dict[str, Kind | None] = {}

    @property
    def effects(self) -> Effects:
        """What calls of project functions do (raise on every path, reset a session)."""
        if self._effects is None:
            from sessionlint.model.effects import Effects  # a cycle: effects imports Model

            self._effects = Effects(self)
        return self._effects

    @property
    def origins(self) -> Origins:
        """Where values come from: constants, outside the program, unknown (SL501)."""
        if self._origins is None:
            from sessionlint.model.taint import Origins  # a cycle: taint imports Model

            self._origins = Origins(self)
        return self._origins

    # -- memoisation with a recursion guard --------------------------------------------------
    def _cached(self, tag: str, key: object, compute: Callable[[], T], default: T) -> T:
        k = (tag, id(key))
        if k in self._memo:
            return self._memo[k]  # type: ignore[return-value]
        if k in self._active or len(self._active) > 200:
            return default
        self._active.add(k)
        try:
            value = compute()
        finally:
            self._active.discard(k)
        self._memo[k] = value
        self._memo[("keep", id(key))] = key  # keep the key alive so its id stays unique
        return value

    # -- name resolution -------------------------------------------------------------------
    def resolve(
        self, file: SourceFile, expr: cst.BaseExpression, at: cst.CSTNode | None = None
    ) -> Target | None:
        """What ``expr`` (a Name or an Attribute chain) refers to, looked up at ``at``."""
        if isinstance(expr, cst.Name):
            bindings = file.index.lookup(expr.value, at if at is not None else expr)
            if not bindings:
                return External(f"builtins.{expr.value}")
            chosen = next((b for b in bindings if b.imported is not None), bindings[-1])
            if chosen.imported is not None:
                return self._resolve_dotted(file, chosen.imported, 0)
            return Def(file, chosen)
        if isinstance(expr, cst.Attribute):
            base = self.resolve(file, expr.value, at if at is not None else expr)
            attr = expr.attr.value
            if isinstance(base, External):
                return External(f"{base.qualname}.{attr}")
            if isinstance(base, ModuleRef):
                return self._member(base.file, [attr], 0)
            if isinstance(base, Def) and isinstance(base.binding.node, cst.ClassDef):
                # ``Service.method``: a function defined in the project class's body.
                members = base.file.index.scopes[base.binding.node].bindings.get(attr)
                if members and isinstance(members[-1].node, cst.FunctionDef):
                    return Def(base.file, members[-1])
        return None

    def _resolve_dotted(self, file: SourceFile, dotted: str, depth: int) -> Target | None:
        if depth > _MAX_DEPTH:
            return None
        found = self.project.find_module(dotted, file)
        if found is None:
            return None if dotted.startswith(".") else External(dotted)
        module_file, rest = found
        if not rest:
            return ModuleRef(module_file)
        return self._member(module_file, rest, depth + 1)

    def _member(self, file: SourceFile, attrs: list[str], depth: int) -> Target | None:
        bindings = file.module_scope.bindings.get(attrs[0])
        if not bindings:
            if file.name == "__init__.py":  # a submodule of a package
                return self._resolve_dotted(file, "." + ".".join(attrs), depth + 1)
            return None
        chosen = next((b for b in bindings if b.imported is not None), bindings[-1])
        target: Target | None
        if chosen.imported is not None:
            target = self._resolve_dotted(file, chosen.imported, depth + 1)
        else:
            target = Def(file, chosen)
        for attr in attrs[1:]:
            if isinstance(target, External):
                target = External(f"{target.qualname}.{attr}")
            elif isinstance(target, ModuleRef):
                target = self._member(target.file, [attr], depth + 1)
            else:
                return None
        return target

    def qualname(
        self, file: SourceFile, expr: cst.BaseExpression, at: cst.CSTNode | None = None
    ) -> str | None:
        """The qualified name of ``expr``: ``sqlalchemy.orm.Session`` for any spelling of it;
        ``app.db.SessionLocal`` for a module-level name of the project."""
        target = self.resolve(file, expr, at)
        if isinstance(target, External):
            return target.qualname
        if isinstance(target, Def) and target.binding.scope.kind == "module":
            module = self.module_name(target.file)
            return f"{module}.{target.binding.name}" if module else target.binding.name
        return None

    def module_name(self, file: SourceFile) -> str | None:
        """The dotted module name of a project file, relative to the project root."""
        if file not in self._module_names:
            self._module_names[file] = self._module_name(file)
        return self._module_names[file]

    def _module_name(self, file: SourceFile) -> str | None:
        if file.path is None or self.project.root is None:
            return None
        try:
            rel = file.path.resolve().relative_to(self.project.root)
        except ValueError:
            return None
        parts = list(rel.with_suffix("").parts)
        if parts and parts[0] == "src":
            parts = parts[1:]
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    @staticmethod
    def _callable(call: cst.Call) -> cst.BaseExpression:
        """What a call calls: ``X`` also for a generic alias ``X[T](...)``."""
        func = call.func
        return func.value if isinstance(func, cst.Subscript) else func

    def callee(self, file: SourceFile, call: cst.Call) -> Target | None:
        return self.resolve(file, self._callable(call), call)

    def callee_qualname(self, file: SourceFile, call: cst.Call) -> str | None:
        return self.qualname(file, self._callable(call), call)

    def function_def(
        self, file: SourceFile, expr: cst.BaseExpression
    ) -> tuple[SourceFile, cst.FunctionDef] | None:
        """The project function ``expr`` names, if any."""
        target = self.resolve(file, expr)
        if isinstance(target, Def) and isinstance(target.binding.node, cst.FunctionDef):
            return target.file, target.binding.node
        return None

    def instance_method_def(
        self, file: SourceFile, expr: cst.BaseExpression
    ) -> tuple[SourceFile, cst.FunctionDef] | None:
        """The method ``expr`` names when it is called on a new instance of a project class
        (``Database().get_session``), if any."""
        if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Call)):
            return None
        cls = self.resolve(file, expr.value.func)
        if isinstance(cls, Def) and isinstance(cls.binding.node, cst.ClassDef):
            members = cls.file.index.scopes[cls.binding.node].bindings.get(expr.attr.value)
            if members and isinstance(members[-1].node, cst.FunctionDef):
                return cls.file, members[-1].node
        return None

    # -- sessions -----------------------------------------------------------------------------
    def session_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        """The kind of session ``expr`` holds, or None when it is not (known to be) one."""
        return self._cached("session", expr, lambda: self._session_kind(file, expr), None)

    def _session_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Name):
            return self._name_kind(file, expr)
        if isinstance(expr, cst.Call):
            created = self.creation_kind(file, expr)
            if created is not None:
                return created
            fn = self.function_def(file, expr.func)
            if fn is not None:
                info = self.function_info(*fn)
                if not info.is_generator and not info.is_async:
                    return info.provides
            return None
        if isinstance(expr, cst.Attribute):
            return self._attribute_kind(file, expr)
        if isinstance(expr, cst.Subscript):
            name = self.request_state_name(file, expr)
            return self.request_state_kind(name) if name is not None else None
        return None

    def _name_kind(self, file: SourceFile, expr: cst.Name) -> Kind | None:
        return self._bound_kind(file, expr, self.binding_kind)

    def _attribute_kind(self, file: SourceFile, expr: cst.Attribute) -> Kind | None:
        target = self.resolve(file, expr)
        if isinstance(target, Def):
            return self.binding_kind(target.file, target.binding)
        if isinstance(expr.value, cst.Name) and expr.value.value in ("self", "cls"):
            return self._self_attribute_kind(file, expr)
        name = self.request_state_name(file, expr)
        if name is not None:
            return self.request_state_kind(name)
        return None

    # -- request state ----------------------------------------------------------------------
    def request_state_name(self, file: SourceFile, expr: cst.BaseExpression) -> str | None:
        """``<name>`` when ``expr`` is the per-request state slot ``<request>.state.<name>``,
        ``<request>.scope["state"]["<name>"]`` or ``<scope>["state"]["<name>"]`` (also
        ``<scope>.setdefault("state", {})["<name>"]``), where ``<request>`` is a request
        (:meth:`is_request`) and ``<scope>`` the ``scope`` parameter of an ASGI callable;
        else None. ``app.state`` and ``request.app.state`` are the app's shared state, not
        the request's, and ``thing.state.db`` of some other object is not request state."""
        if isinstance(expr, cst.Attribute):
            owner = expr.value
            if (
                isinstance(owner, cst.Attribute)
                and owner.attr.value == "state"
                and self.is_request(file, owner.value)
            ):
                return expr.attr.value
            return None
        if not isinstance(expr, cst.Subscript):
            return None
        name = _string_key(expr)
        state = expr.value
        if name is None:
            return None
        if isinstance(state, cst.Subscript):
            if _string_key(state) != "state":
                return None
            scope = state.value
        elif isinstance(state, cst.Call):
            method = method_call(state)
            positional, _ = call_args(state)
            if (
                method is None
                or method[1] != "setdefault"
                or not positional
                or not isinstance(positional[0], cst.SimpleString)
                or positional[0].evaluated_value != "state"
            ):
                return None
            scope = method[0]
        else:
            return None
        if isinstance(scope, cst.Attribute) and scope.attr.value == "scope":
            return name if self.is_request(file, scope.value) else None
        return name if self._is_asgi_scope(file, scope) else None

    def is_request(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` names a request: a parameter annotated ``Request`` / ``HTTPConnection`` /
        ``WebSocket`` of FastAPI or Starlette (any import spelling or alias), or an
        unannotated parameter named ``request`` / ``req`` of a route handler, an HTTP
        middleware or a dependency."""
        if not isinstance(expr, cst.Name):
            return False
        bindings = file.index.lookup(expr.value, expr)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return False
        binding = bindings[0]
        if binding.annotation is not None:
            annotation = binding.annotation
            if isinstance(annotation, cst.SimpleString):
                return False
            return self.qualname(file, annotation, binding.node) in names.REQUESTS
        function = binding.scope.node
        return (
            expr.value in names.REQUEST_PARAM_NAMES
            and isinstance(function, cst.FunctionDef)
            and (
                self.is_route_handler(file, function)
                or self._is_http_middleware(file, function)
                or self.is_dependency(file, function)
            )
        )

    def _is_asgi_scope(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` is the ``scope`` parameter of an ASGI callable: ``async def
        __call__(self, scope, receive, send)`` or ``async def app(scope, receive, send)``."""
        if not isinstance(expr, cst.Name):
            return False
        bindings = file.index.lookup(expr.value, expr)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return False
        function = bindings[0].scope.node
        return isinstance(function, cst.FunctionDef) and self._is_asgi_callable(
            function, expr.value
        )

    @staticmethod
    def _is_asgi_callable(fn: cst.FunctionDef, scope: str = "scope") -> bool:
        """``async def __call__(self, scope, receive, send)`` / ``async def app(scope,
        receive, send)``: a pure ASGI application or middleware."""
        if fn.asynchronous is None:
            return False
        params = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
        if params[:1] == ["self"]:
            params = params[1:]
        return len(params) == 3 and params[0] == scope and params[1:] == ["receive", "send"]

    def request_state_kind(self, name: str) -> Kind | None:
        """The session kind request state ``<name>`` holds in this project: the one kind of
        session that an HTTP middleware (``@app.middleware("http")``, a ``dispatch`` method),
        a pure ASGI middleware (``scope["state"]["<name>"] = ...`` in ``async def
        __call__(self, scope, receive, send)``) or a dependency of the project assigns to it
        (``None`` assignments aside); else None. Starlette keeps ``request.state`` in
        ``scope["state"]``, so both spellings name the same slot."""
        if name not in self._state_kinds:
            self._state_kinds[name] = None  # provisional: cuts recursion
            kinds: set[Kind | None] = set()
            for other in self.files_mentioning("state", name):
                for assign in other.index.nodes(cst.Assign):
                    if not any(
                        self.request_state_name(other, t.target) == name for t in assign.targets
                    ):
                        continue
                    value = assign.value
                    if isinstance(value, cst.Name) and value.value == "None":
                        continue
                    function = other.index.enclosing_function(assign)
                    if not isinstance(function, cst.FunctionDef) or not (
                        self._is_http_middleware(other, function)
                        or self._is_asgi_callable(function)
                        or self.is_dependency(other, function)
                    ):
                        continue
                    kinds.add(self.session_kind(other, value))
            self._state_kinds[name] = kinds.pop() if len(kinds) == 1 else None
        return self._state_kinds[name]

    def _is_http_middleware(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        """``@app.middleware("http")`` or a ``dispatch`` method (``BaseHTTPMiddleware``)."""
        if fn.name.value == "dispatch":
            body = file.index.parent(fn)
            if body is not None and isinstance(file.index.parent(body), cst.ClassDef):
                return True
        return any(
            isinstance(d.decorator, cst.Call)
            and isinstance(d.decorator.func, cst.Attribute)
            and d.decorator.func.attr.value == "middleware"
            and self.is_app_or_router(file, d.decorator.func.value)
            for d in fn.decorators
        )

    def _self_attribute_kind(self, file: SourceFile, expr: cst.Attribute) -> Kind | None:
        """``self.x`` (in a method) or ``cls.x`` (in a ``@classmethod``) whose type the class,
        or a project base class, gives: ``x: Session`` or ``x = SessionLocal()`` in the class
        body, ``self.x: Session = ...``, ``self.x = <a parameter annotated as a session>``,
        ``self.x = <a call that creates a session>`` (``cls.x = ...`` in a classmethod
        likewise). ``None`` assignments do not count; any other assignment makes it unknown."""
        receiver = expr.value
        assert isinstance(receiver, cst.Name)
        cls = self._receiver_class(file, receiver)
        if cls is None:
            return None
        kinds = self._class_attribute_kinds(file, cls, expr.attr.value, 0)
        return kinds.pop() if len(kinds) == 1 else None

    def _receiver_class(self, file: SourceFile, name: cst.Name) -> cst.ClassDef | None:
        """The class whose instance (``self``) or class (``cls``) ``name`` is: the first
        parameter of a method of that class (of a ``@classmethod`` for ``cls``), also read
        from a function or lambda nested in the method."""
        index = file.index
        bindings = index.lookup(name.value, name)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Param):
            return None
        fn = bindings[0].scope.node
        if not isinstance(fn, cst.FunctionDef):
            return None
        params = [*fn.params.posonly_params, *fn.params.params]
        if not params or params[0] is not bindings[0].node:
            return None
        if name.value == "cls" and "builtins.classmethod" not in self.decorator_qualnames(file, fn):
            return None
        if name.value not in ("self", "cls"):
            return None
        body = index.parent(fn)
        cls = index.parent(body) if body is not None else None
        return cls if isinstance(cls, cst.ClassDef) else None

    def _class_attribute_kinds(
        self, file: SourceFile, cls: cst.ClassDef, attr: str, depth: int
    ) -> set[Kind | None]:
        """The session kinds ``cls`` gives ``self.<attr>`` / ``cls.<attr>``; when the class
        itself neither declares nor assigns it, those of its project base classes
        (``class UserRepo(BaseRepo)`` where ``BaseRepo.__init__`` stores the session), across
        modules."""
        index = file.index
        kinds: set[Kind | None] = set()
        for binding in index.scopes[cls].bindings.get(attr, []):
            if binding.annotation is not None:
                kinds.add(self.annotation_kind(file, binding.annotation, binding.node))
            elif (
                isinstance(binding.node, cst.Assign)
                and binding.value is not None
                and not _is_none(binding.value)
            ):
                kinds.add(self._assigned_kind(file, binding.value))
        for assign in self._self_assignments(file, cls, attr):
            if isinstance(assign, cst.AnnAssign):
                kinds.add(self.annotation_kind(file, assign.annotation.annotation, assign))
            elif not _is_none(assign.value):
                kinds.add(self._assigned_kind(file, assign.value))
        if kinds or depth >= _MAX_DEPTH:
            return kinds
        for base in cls.bases:
            if base.keyword is not None:
                continue
            target = self.resolve(file, base.value, cls)
            if isinstance(target, Def) and isinstance(target.binding.node, cst.ClassDef):
                kinds |= self._class_attribute_kinds(
                    target.file, target.binding.node, attr, depth + 1
                )
        return kinds

    def _assigned_kind(self, file: SourceFile, value: cst.BaseExpression) -> Kind | None:
        """The session kind an attribute assignment stores: a name that holds a session (a
        parameter annotated as one) or a call that creates one; else None (unknown)."""
        if isinstance(value, cst.Name):
            return self.session_kind(file, value)
        if isinstance(value, cst.Call):
            return self.creation_kind(file, value)
        return None

    def _self_assignments(
        self, file: SourceFile, cls: cst.ClassDef, attr: str
    ) -> Iterator[cst.Assign | cst.AnnAssign]:
        """Assignments to ``self.<attr>`` in the methods of ``cls`` and to ``cls.<attr>`` in
        its classmethods."""
        index = file.index
        nodes: list[cst.Assign | cst.AnnAssign] = [
            *index.nodes(cst.Assign),
            *index.nodes(cst.AnnAssign),
        ]
        for node in nodes:
            if isinstance(node, cst.Assign):
                targets = [t.target for t in node.targets]
            else:
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, cst.Attribute)
                    and target.attr.value == attr
                    and isinstance(target.value, cst.Name)
                    and target.value.value in ("self", "cls")
                    and index.is_inside(node, cls)
                    and self._receiver_class(file, target.value) is cls
                ):
                    yield node

    def binding_kind(self, file: SourceFile, binding: Binding) -> Kind | None:
        """The session kind a binding gives its name."""
        return self._cached("binding", binding, lambda: self._binding_kind(file, binding), None)

    def _binding_kind(self, file: SourceFile, binding: Binding) -> Kind | None:
        node = binding.node
        if isinstance(node, cst.Param):
            if binding.annotation is not None:
                kind = self.annotation_kind(file, binding.annotation, node)
                if kind is not None:
                    return kind
            dependency = self.param_dependency(file, node)
            if dependency is not None:
                return self.dependency_kind(*dependency)
            return None
        if isinstance(node, cst.WithItem):
            return self.with_item_kind(file, node)
        if binding.annotation is not None:
            kind = self.annotation_kind(file, binding.annotation, node)
            if kind is not None:
                return kind
        if (
            isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr)
            and binding.value is not None
        ):
            return self.session_kind(file, binding.value)
        return None

    def with_item_kind(self, file: SourceFile, item: cst.WithItem) -> Kind | None:
        """The session kind bound by ``with <item> as name``."""
        expr = item.item
        if not isinstance(expr, cst.Call):
            return None
        created = self.creation_kind(file, expr)
        if created is not None:
            return created
        method = method_call(expr)
        if method is not None and method[1] == "begin":
            return self.factory_kind(file, method[0])  # ``with factory.begin() as s``
        if self.callee_qualname(file, expr) in names.CLOSING and expr.args:
            inner = expr.args[0].value
            return self.session_kind(file, inner)
        return None

    def creation_kind(self, file: SourceFile, call: cst.Call) -> Kind | None:
        """The kind of session this call creates: ``Session(engine)``, ``SessionLocal()``,
        ``scoped()``, ``AsyncSession(engine)`` or a configured factory; else None."""
        return self._cached("create", call, lambda: self._creation_kind(file, call), None)

    def _creation_kind(self, file: SourceFile, call: cst.Call) -> Kind | None:
        qualname = self.callee_qualname(file, call)
        if qualname is not None:
            if qualname in names.SESSION_CLASSES:
                return names.SESSION_CLASSES[qualname]
            if qualname in self.extra_factories:
                return self.extra_factories[qualname]
        target = self.callee(file, call)
        if isinstance(target, Def) and isinstance(target.binding.node, cst.ClassDef):
            return self._class_kind(target.file, target.binding.node)
        return self.factory_kind(file, call.func)

    def borrowed_creation(self, file: SourceFile, call: cst.Call) -> bool:
        """``call`` creates a session bound to an existing connection (``Session(bind=conn)``,
        ``Session(conn)``, ``Session(bind=op.get_bind())``): it owns neither a pooled
        connection nor the transaction (SL104 and SL201 never apply to it)."""
        if self.creation_kind(file, call) is None:
            return False
        bind = next(
            (a.value for a in call.args if a.keyword is not None and a.keyword.value == "bind"),
            None,
        )
        if bind is None and call.args and call.args[0].keyword is None and not call.args[0].star:
            bind = call.args[0].value
        return bind is not None and self._is_connection(file, bind)

    def _is_connection(self, file: SourceFile, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """``expr`` is a ``Connection``: ``op.get_bind()``, ``x.connection()``, the target of
        ``with engine.begin()/connect() as conn`` (sync or async), a name assigned one of
        these, or the ``connection`` parameter of an ``@event.listens_for`` handler."""
        if isinstance(expr, cst.Await):
            expr = expr.expression
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            attr = expr.func.attr.value
            if attr in ("connection", "connect"):
                return True
            return attr == "get_bind" and dotted_name(expr.func.value) == "op"
        if not isinstance(expr, cst.Name):
            return False
        bindings = file.index.lookup(expr.value, expr)
        if not bindings:
            return False
        binding = bindings[-1]
        node = binding.node
        if isinstance(node, cst.WithItem):
            item = node.item
            return (
                isinstance(item, cst.Call)
                and isinstance(item.func, cst.Attribute)
                and item.func.attr.value in ("begin", "connect")
                and self.factory_kind(file, item.func.value) is None
                and self.session_kind(file, item.func.value) is None
            )
        if isinstance(node, cst.Assign | cst.AnnAssign) and binding.value is not None:
            return depth < 4 and self._is_connection(file, binding.value, depth + 1)
        return isinstance(node, cst.Param) and expr.value in ("connection", "conn")

    def _class_kind(self, file: SourceFile, cls: cst.ClassDef) -> Kind | None:
        """A project class that subclasses a session class is a session class."""
        return self.annotation_kind(file, cls.name, cls)

    def factory_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        """The kind of session that calling ``expr`` creates, when ``expr`` is a session
        factory (``sessionmaker(...)``, ``async_sessionmaker(...)``, a ``scoped_session``
        registry), whatever the variable holding it is called."""
        return self._cached("factory", expr, lambda: self._factory_kind(file, expr), None)

    def _factory_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Call):
            qualname = self.callee_qualname(file, expr)
            if qualname in names.SESSIONMAKERS:
                _, keywords = call_args(expr)
                class_ = keywords.get("class_")
                if class_ is not None:
                    qn = self.qualname(file, class_)
                    if qn in names.SESSION_CLASSES:
                        return names.SESSION_CLASSES[qn]
                    if isinstance(self.resolve(file, class_), Def):
                        target = self.resolve(file, class_)
                        assert isinstance(target, Def)
                        if isinstance(target.binding.node, cst.ClassDef):
                            return self._class_kind(target.file, target.binding.node)
                    return None
                return names.SESSIONMAKERS[qualname]
            if qualname in names.SCOPED_SESSIONS:
                return names.SCOPED_SESSIONS[qualname]
            return None
        if not isinstance(expr, cst.Name | cst.Attribute):
            return None
        target = self.resolve(file, expr)
        if isinstance(target, External):
            return self.extra_factories.get(target.qualname)
        if not isinstance(target, Def):
            return None
        binding = target.binding
        qualname = self.qualname(file, expr)
        if qualname is not None and qualname in self.extra_factories:
            return self.extra_factories[qualname]
        if binding.annotation is not None:
            kind = self._factory_annotation_kind(target.file, binding.annotation, binding.node)
            if kind is not None:
                return kind
        if isinstance(binding.node, cst.Assign | cst.AnnAssign) and binding.value is not None:
            return self.factory_kind(target.file, binding.value)
        return None

    def _factory_annotation_kind(
        self, file: SourceFile, annotation: cst.BaseExpression, at: cst.CSTNode
    ) -> Kind | None:
        if isinstance(annotation, cst.Subscript):
            annotation = annotation.value
        qualname = self.qualname(file, annotation, at)
        if qualname in names.SESSIONMAKERS:
            return names.SESSIONMAKERS[qualname]
        if qualname in names.SCOPED_SESSIONS:
            return names.SCOPED_SESSIONS[qualname]
        return None

    def is_scoped_registry(self, file: SourceFile, call: cst.Call) -> bool:
        return self.callee_qualname(file, call) in names.SCOPED_SESSIONS

    def from_scoped_registry(self, file: SourceFile, call: cst.Call) -> bool:
        """``call`` asks a ``scoped_session``/``async_scoped_session`` registry for its
        current session (``Scoped()``, also through an alias or an import): the registry owns
        that session and may hand the same one out again, so it is not a new session."""
        expr: cst.BaseExpression = call.func
        for _ in range(_MAX_DEPTH):
            if isinstance(expr, cst.Call):
                return self.is_scoped_registry(file, expr)
            target = self.resolve(file, expr)
            if not isinstance(target, Def):
                return False
            file, binding = target.file, target.binding
            annotation = binding.annotation
            if isinstance(annotation, cst.Subscript):
                annotation = annotation.value
            if annotation is not None and (
                self.qualname(file, annotation, binding.node) in names.SCOPED_SESSIONS
            ):
                return True
            if not isinstance(binding.node, cst.Assign | cst.AnnAssign) or binding.value is None:
                return False
            expr = binding.value
        return False

    def annotation_kind(
        self,
        file: SourceFile,
        annotation: cst.BaseExpression,
        at: cst.CSTNode | None = None,
        classes: Mapping[str, Kind] = names.SESSION_CLASSES,
    ) -> Kind | None:
        """The kind an annotation denotes when it names one of ``classes`` (by default the
        session classes): directly, in ``Annotated[...]``, ``Optional``/``Union``/``| None``,
        a string annotation, a project subclass, or a type alias of any of these
        (``X = Annotated[...]``, ``X: TypeAlias = ...``, ``type X = ...``), also imported."""
        at_node = at if at is not None else annotation
        if isinstance(annotation, cst.SimpleString):
            text = annotation.evaluated_value
            if not isinstance(text, str):
                return None
            try:
                parsed = cst.parse_expression(text)
            except Exception:
                return None
            return self.annotation_kind(file, parsed, at_node, classes)
        elements: list[cst.BaseExpression]
        if isinstance(annotation, cst.Subscript):
            base = self.qualname(file, annotation.value, at_node)
            elements = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
            if not elements:
                return None
            if base in names.ANNOTATED or base in names.OPTIONAL or base in names.CLASSVAR:
                return self.annotation_kind(file, elements[0], at_node, classes)
            if base not in names.UNION:
                return None
        elif isinstance(annotation, cst.BinaryOperation) and isinstance(
            annotation.operator, cst.BitOr
        ):
            elements = [annotation.left, annotation.right]
        elif isinstance(annotation, cst.Name | cst.Attribute):
            target = self.resolve(file, annotation, at_node)
            if isinstance(target, External):
                return classes.get(target.qualname)
            if isinstance(target, Def):
                return self._cached(
                    f"alias-{id(classes)}",
                    target.binding,
                    lambda: self._alias_kind(target.file, target.binding, classes),
                    None,
                )
            return None
        else:
            return None
        kinds = {self.annotation_kind(file, e, at_node, classes) for e in elements}
        kinds.discard(None)
        return kinds.pop() if len(kinds) == 1 else None

    def _alias_kind(
        self, file: SourceFile, binding: Binding, classes: Mapping[str, Kind]
    ) -> Kind | None:
        node = binding.node
        if isinstance(node, cst.ClassDef):  # a project subclass
            for base in node.bases:
                kind = self.annotation_kind(file, base.value, node, classes)
                if kind is not None:
                    return kind
            return None
        if binding.value is None or binding.scope.kind == "function":
            return None
        if isinstance(node, cst.TypeAlias | cst.Assign | cst.AnnAssign):
            return self.annotation_kind(file, binding.value, node, classes)
        return None

    # -- engines and connections ----------------------------------------------------------
    def engine_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        """``SYNC`` when ``expr`` holds an ``Engine``, ``ASYNC`` for an ``AsyncEngine``, else
        None: a ``create_engine(...)``/``create_async_engine(...)``/``engine_from_config(...)``
        call (any spelling), a name bound to one (also imported from a project module), a name
        annotated ``Engine``/``AsyncEngine``, or a call of a project function returning one."""
        return self._cached("engine", expr, lambda: self._engine_kind(file, expr), None)

    def is_engine(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` holds a (sync or async) SQLAlchemy engine."""
        return self.engine_kind(file, expr) is not None

    def _engine_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Call):
            qualname = self.callee_qualname(file, expr)
            if qualname in names.CREATE_ENGINE or qualname in names.ENGINE_FROM_CONFIG:
                return Kind.SYNC
            if qualname in names.CREATE_ASYNC_ENGINE or qualname in names.ASYNC_ENGINE_FROM_CONFIG:
                return Kind.ASYNC
            fn = self.function_def(file, expr.func)
            if fn is None or fn[1].asynchronous is not None:
                return None
            fn_file, function = fn
            if function.returns is not None:
                kind = self.annotation_kind(
                    fn_file, function.returns.annotation, function, names.ENGINE_CLASSES
                )
                if kind is not None:
                    return kind
            returns = [r.value for r in fn_file.index.own_nodes(function, cst.Return)]
            if not returns or any(r is None for r in returns):
                return None
            kinds = {self.engine_kind(fn_file, r) for r in returns if r is not None}
            return kinds.pop() if len(kinds) == 1 else None
        return self._bound_kind(file, expr, self._engine_binding_kind)

    def _engine_binding_kind(self, file: SourceFile, binding: Binding) -> Kind | None:
        if binding.annotation is not None:
            kind = self.annotation_kind(
                file, binding.annotation, binding.node, names.ENGINE_CLASSES
            )
            if kind is not None:
                return kind
        node, value = binding.node, binding.value
        if isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr) and value is not None:
            return self.engine_kind(file, value)
        return None

    def connection_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        """``SYNC`` when ``expr`` holds a ``Connection``, ``ASYNC`` for an ``AsyncConnection``:
        ``with engine.connect()/engine.begin() as conn`` (also ``async with``), ``conn =
        engine.connect()``, ``session.connection()`` (also awaited), ``conn.execution_options(
        ...)``, or a name annotated ``Connection``/``AsyncConnection``; else None."""
        return self._cached("connection", expr, lambda: self._connection_kind(file, expr), None)

    def _connection_kind(self, file: SourceFile, expr: cst.BaseExpression) -> Kind | None:
        if isinstance(expr, cst.Await):
            expr = expr.expression
        if isinstance(expr, cst.Call):
            method = method_call(expr)
            if method is None:
                return None
            receiver, attr = method
            if attr == "connect":
                return self.engine_kind(file, receiver)
            if attr == "connection":
                return self.session_kind(file, receiver)
            if attr == "execution_options":
                return self.connection_kind(file, receiver)
            return None
        return self._bound_kind(file, expr, self._connection_binding_kind)

    def _connection_binding_kind(self, file: SourceFile, binding: Binding) -> Kind | None:
        node = binding.node
        if binding.annotation is not None:
            kind = self.annotation_kind(file, binding.annotation, node, names.CONNECTION_CLASSES)
            if kind is not None:
                return kind
        if isinstance(node, cst.WithItem):
            method = method_call(node.item)
            if method is not None and method[1] == "begin":
                return self.engine_kind(file, method[0])  # ``with engine.begin() as conn``
            return self.connection_kind(file, node.item)
        value = binding.value
        if isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr) and value is not None:
            return self.connection_kind(file, value)
        return None

    def _bound_kind(
        self,
        file: SourceFile,
        expr: cst.BaseExpression,
        per_binding: Callable[[SourceFile, Binding], Kind | None],
    ) -> Kind | None:
        """The kind every binding of a Name (or a project module attribute) agrees on."""
        if isinstance(expr, cst.Attribute):
            target = self.resolve(file, expr)
            return per_binding(target.file, target.binding) if isinstance(target, Def) else None
        if not isinstance(expr, cst.Name):
            return None
        kinds: set[Kind | None] = set()
        for binding in file.index.lookup(expr.value, expr):
            if binding.imported is not None:
                target = self._resolve_dotted(file, binding.imported, 0)
                if isinstance(target, Def):
                    kinds.add(per_binding(target.file, target.binding))
                else:
                    kinds.add(None)
                continue
            value = binding.value
            if (
                isinstance(binding.node, cst.Assign | cst.AnnAssign)
                and binding.annotation is None
                and isinstance(value, cst.Name)
                and value.value == "None"
            ):
                continue  # ``engine = None`` before ``engine = create_engine(...)``
            kinds.add(per_binding(file, binding))
        return kinds.pop() if len(kinds) == 1 else None

    # -- strings --------------------------------------------------------------------------
    def is_string(self, file: SourceFile, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """``expr`` certainly evaluates to a ``str``: a string literal or f-string, ``%``
        formatting or ``+`` concatenation of a string, ``"...".format(...)``/``.join(...)``,
        or a name every binding of which is such a value (a local, a module constant, also
        imported from a project module). Parameters and unknown names are not."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString):
            return True
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Modulo):
                return self.is_string(file, expr.left, depth + 1)
            if isinstance(expr.operator, cst.Add):
                return self.is_string(file, expr.left, depth + 1) or self.is_string(
                    file, expr.right, depth + 1
                )
            return False
        if isinstance(expr, cst.Call):
            method = method_call(expr)
            return (
                method is not None
                and method[1] in ("format", "join")
                and self.is_string(file, method[0], depth + 1)
            )
        if not isinstance(expr, cst.Name):
            return False
        bindings = file.index.lookup(expr.value, expr)
        if not bindings:
            return False
        for binding in bindings:
            if binding.imported is not None:
                target = self._resolve_dotted(file, binding.imported, 0)
                if not isinstance(target, Def):
                    return False
                value_file, value = target.file, target.binding.value
                node = target.binding.node
            else:
                value_file, value, node = file, binding.value, binding.node
            if not isinstance(node, cst.Assign | cst.AnnAssign | cst.NamedExpr) or value is None:
                return False
            if not self.is_string(value_file, value, depth + 1):
                return False
        return True

    # -- dependencies ---------------------------------------------------------------------
    def is_depends_call(self, file: SourceFile, node: cst.CSTNode) -> bool:
        if not isinstance(node, cst.Call):
            return False
        func = node.func
        short = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if short not in ("Depends", "Security"):
            return False
        return self.callee_qualname(file, node) in names.DEPENDS

    def param_dependency(
        self, file: SourceFile, param: cst.Param
    ) -> tuple[SourceFile, cst.Call] | None:
        """The ``Depends(...)`` call that provides a parameter (its default, or ``Annotated``
        metadata, directly or through a type alias), with the file it is written in."""
        if param.default is not None and self.is_depends_call(file, param.default):
            assert isinstance(param.default, cst.Call)
            return file, param.default
        if isinstance(param.default, cst.Name | cst.Attribute):
            # ``SessionDep = Depends(get_db)`` at module level, used as ``db=SessionDep``.
            target = self.resolve(file, param.default, param)
            if (
                isinstance(target, Def)
                and target.binding.scope.kind == "module"
                and target.binding.value is not None
                and self.is_depends_call(target.file, target.binding.value)
            ):
                assert isinstance(target.binding.value, cst.Call)
                return target.file, target.binding.value
        if param.annotation is not None:
            return self._annotation_dependency(file, param.annotation.annotation, param, 0)
        return None

    def _annotation_dependency(
        self, file: SourceFile, annotation: cst.BaseExpression, at: cst.CSTNode, depth: int
    ) -> tuple[SourceFile, cst.Call] | None:
        if depth > _MAX_DEPTH:
            return None
        if isinstance(annotation, cst.Subscript):
            if self.qualname(file, annotation.value, at) not in names.ANNOTATED:
                return None
            for element in annotation.slice[1:]:
                if isinstance(element.slice, cst.Index) and self.is_depends_call(
                    file, element.slice.value
                ):
                    value = element.slice.value
                    assert isinstance(value, cst.Call)
                    return file, value
            return None
        if isinstance(annotation, cst.Name | cst.Attribute):
            target = self.resolve(file, annotation, at)
            if (
                isinstance(target, Def)
                and target.binding.value is not None
                and target.binding.scope.kind == "module"
            ):
                return self._annotation_dependency(
                    target.file, target.binding.value, target.binding.node, depth + 1
                )
        return None

    def depends_target(
        self, file: SourceFile, call: cst.Call
    ) -> tuple[SourceFile, cst.FunctionDef | cst.ClassDef] | External | None:
        """The callable a ``Depends(...)`` call names."""
        positional, keywords = call_args(call)
        arg = positional[0] if positional else keywords.get("dependency")
        if arg is None:
            arg = self._annotated_class(file, call)  # ``svc: Service = Depends()``
            if arg is None:
                return None
        target = self.resolve(file, arg)
        if isinstance(target, Def) and isinstance(
            target.binding.node, cst.FunctionDef | cst.ClassDef
        ):
            return target.file, target.binding.node
        if isinstance(target, External):
            return target
        return None

    @staticmethod
    def _annotated_class(file: SourceFile, call: cst.Call) -> cst.BaseExpression | None:
        """For ``Depends()`` without a callable, the annotation FastAPI calls instead:
        ``p: Service = Depends()`` or ``p: Annotated[Service, Depends()]``."""
        index = file.index
        parent = index.parent(call)
        if isinstance(parent, cst.Param) and parent.default is call and parent.annotation:
            return parent.annotation.annotation
        if isinstance(parent, cst.Index):
            element = index.parent(parent)
            subscript = index.parent(element) if element is not None else None
            if isinstance(subscript, cst.Subscript) and subscript.slice:
                first = subscript.slice[0].slice
                if isinstance(first, cst.Index) and first is not parent:
                    return first.value
        return None

    def depends_scope(self, call: cst.Call) -> str | None:
        """The ``scope=`` a ``Depends(...)`` call passes, as a string."""
        _, keywords = call_args(call)
        scope = keywords.get("scope")
        if isinstance(scope, cst.SimpleString):
            value = scope.evaluated_value
            return value if isinstance(value, str) else None
        return None

    def dependency_kind(self, file: SourceFile, call: cst.Call) -> Kind | None:
        """The session kind a ``Depends(f)`` provides."""
        target = self.depends_target(file, call)
        if isinstance(target, External):
            return self.extra_dependencies.get(target.qualname)
        if target is None:
            return None
        dep_file, fn = target
        if not isinstance(fn, cst.FunctionDef):
            return None
        qualname = self._function_qualname(dep_file, fn)
        if qualname in self.extra_dependencies:
            return self.extra_dependencies[qualname]
        return self.function_info(dep_file, fn).provides

    def _function_qualname(self, file: SourceFile, fn: cst.FunctionDef) -> str | None:
        module = self.module_name(file)
        return f"{module}.{fn.name.value}" if module else None

    def dependency_function(
        self, file: SourceFile, param: cst.Param
    ) -> tuple[SourceFile, cst.FunctionDef, cst.Call] | None:
        """The project function that provides ``param`` through ``Depends``, if known."""
        dependency = self.param_dependency(file, param)
        if dependency is None:
            return None
        target = self.depends_target(*dependency)
        if isinstance(target, tuple) and isinstance(target[1], cst.FunctionDef):
            return target[0], target[1], dependency[1]
        return None

    def dependencies(self) -> set[cst.CSTNode]:
        """Every function (or class ``__init__``) referenced by ``Depends``/``Security``
        anywhere in the project."""
        if self._dependencies is None:
            found: set[cst.CSTNode] = set()
            for file in self.project.scan_files():
                for call in file.index.nodes(cst.Call):
                    if not self.is_depends_call(file, call):
                        continue
                    target = self.depends_target(file, call)
                    if not isinstance(target, tuple):
                        continue
                    node = target[1]
                    if isinstance(node, cst.ClassDef):
                        init = target[0].index.scopes[node].bindings.get("__init__")
                        if not init or not isinstance(init[-1].node, cst.FunctionDef):
                            continue
                        node = init[-1].node
                    found.add(node)
                    self._depends_calls.setdefault(node, []).append((file, call))
                    self._dependency_files[node] = target[0]
            self._dependencies = found
        return self._dependencies

    def depends_calls_for(self, fn: cst.CSTNode) -> list[tuple[SourceFile, cst.Call]]:
        """Every ``Depends(fn)``/``Security(fn)`` call of the project that names ``fn`` (a
        function, or the ``__init__`` of a class used as a dependency), with its file; found
        by the same project scan as :meth:`dependencies`. Empty when ``fn`` is no dependency."""
        self.dependencies()
        return self._depends_calls.get(fn, [])

    def is_dependency(self, file: SourceFile, fn: FunctionNode) -> bool:
        return fn in self.dependencies()

    def per_request_functions(self) -> dict[cst.CSTNode, tuple[SourceFile, cst.FunctionDef]]:
        """Functions that run on every request: route handlers, dependencies (functions and
        the ``__init__`` of class dependencies) and the project functions they call,
        transitively (plain calls of project functions; ``Cls(...)`` enters ``Cls.__init__``).
        Maps each one to (its file, the handler or dependency that reaches it).

        Not entered: ``@lru_cache``/``@cache`` functions, pytest fixtures and functions named
        ``main``; calls that initialise a lazy singleton (:meth:`is_lazy_init`) are not
        followed. Handlers are looked for in the files of the project-wide dependency and
        route scan (whatever else the run checks: a file's findings do not depend on which
        other files a run names)."""
        if self._per_request is None:
            reached: dict[cst.CSTNode, tuple[SourceFile, cst.FunctionDef]] = {}
            queue: deque[tuple[SourceFile, cst.FunctionDef, cst.FunctionDef]] = deque()
            dependencies = self.dependencies()
            roots: dict[cst.CSTNode, SourceFile] = {}
            for file in self.project.scan_files():
                for handler in file.index.nodes(cst.FunctionDef):
                    if self.is_route_handler(file, handler):
                        roots[handler] = file
            for dependency in dependencies:
                roots.setdefault(dependency, self._dependency_files[dependency])
            for node, owner in sorted(roots.items(), key=lambda item: self._root_order(*item)):
                if isinstance(node, cst.FunctionDef):
                    queue.append((owner, node, node))
            while queue:
                file, fn, root = queue.popleft()
                if fn in reached or not self._runs_on_each_call(file, fn):
                    continue
                reached[fn] = (file, root)
                for call in file.index.own_nodes(fn, cst.Call):
                    if self.is_lazy_init(file, call):
                        continue
                    callee = self._called_function(file, call)
                    if callee is not None and callee[1] not in reached:
                        queue.append((callee[0], callee[1], root))
            self._per_request = reached
        return self._per_request

    @staticmethod
    def _root_order(fn: cst.CSTNode, file: SourceFile) -> tuple[str, int]:
        """Roots are walked in source order (file, then position), so which root a function
        is reached from (named in messages) does not depend on the order files were read."""
        index = file.index
        return (str(file.path or file.display_path), index.order.get(fn, 0))

    def _runs_on_each_call(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        return not (
            fn.name.value == "main" or self.is_cached(file, fn) or self.is_pytest_fixture(file, fn)
        )

    def _called_function(
        self, file: SourceFile, call: cst.Call
    ) -> tuple[SourceFile, cst.FunctionDef] | None:
        """The project function a call runs: the function named, or ``Cls.__init__``."""
        target = self.resolve(file, call.func, call)
        if not isinstance(target, Def):
            return None
        node = target.binding.node
        if isinstance(node, cst.FunctionDef):
            return target.file, node
        if isinstance(node, cst.ClassDef):
            init = target.file.index.scopes[node].bindings.get("__init__")
            if init and isinstance(init[-1].node, cst.FunctionDef):
                return target.file, init[-1].node
        return None

    def is_lazy_init(self, file: SourceFile, call: cst.Call) -> bool:
        """The call's result is kept across calls and built once: it is assigned to a
        ``global``/``nonlocal`` name, or to an attribute or item that an ``if`` test of the
        same function checks (``if _engine is None:``, ``if not self._engine:``,
        ``if url not in _engines:``)."""
        index = file.index
        fn = index.enclosing_function(call)
        if not isinstance(fn, cst.FunctionDef):
            return False
        parent = index.parent(call)
        if isinstance(parent, cst.Assign) and parent.value is call:
            targets = [t.target for t in parent.targets]
        elif isinstance(parent, cst.AnnAssign) and parent.value is call:
            targets = [parent.target]
        else:
            return False
        declared: set[str] = set()
        scoped: list[cst.Global | cst.Nonlocal] = [
            *index.own_nodes(fn, cst.Global),
            *index.own_nodes(fn, cst.Nonlocal),
        ]
        for statement in scoped:
            declared.update(n.name.value for n in statement.names)
        for target in targets:
            if isinstance(target, cst.Name):
                if target.value in declared or self._cached_through_local(
                    file, fn, call, target.value
                ):
                    return True
                continue
            key = dotted_name(target.value if isinstance(target, cst.Subscript) else target)
            if key is None:
                continue
            for branch in index.own_nodes(fn, cst.If):
                if _mentions(branch.test, key):
                    return True
        return False

    @staticmethod
    def _cached_through_local(
        file: SourceFile, fn: cst.FunctionDef, call: cst.Call, name: str
    ) -> bool:
        """``engine = cache.get(k)`` / ``if engine is None: engine = <call>`` /
        ``cache[k] = engine``: built under an ``if`` that tests the local name, then kept in
        an item or attribute."""
        index = file.index
        guarded = any(  # the cheap ancestor test first: _mentions walks the test's tree
            index.is_inside(call, branch.body) and _mentions(branch.test, name)
            for branch in index.own_nodes(fn, cst.If)
        )
        if not guarded:
            return False
        return any(
            isinstance(assign.value, cst.Name)
            and assign.value.value == name
            and any(isinstance(t.target, cst.Subscript | cst.Attribute) for t in assign.targets)
            for assign in index.own_nodes(fn, cst.Assign)
        )

    # -- functions ------------------------------------------------------------------------
    def decorator_qualnames(self, file: SourceFile, fn: cst.FunctionDef) -> list[str]:
        result = []
        for decorator in fn.decorators:
            expr = decorator.decorator
            if isinstance(expr, cst.Call):
                expr = expr.func
            qualname = self.qualname(file, expr, fn)
            if qualname is not None:
                result.append(qualname)
        return result

    def is_contextmanager(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        return any(q in names.CONTEXTMANAGERS for q in self.decorator_qualnames(file, fn))

    def is_pytest_fixture(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        return any(q in names.PYTEST_FIXTURES for q in self.decorator_qualnames(file, fn))

    def is_cached(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        return any(q in names.CACHES for q in self.decorator_qualnames(file, fn))

    def is_app_or_router(self, file: SourceFile, expr: cst.BaseExpression) -> bool:
        """``expr`` is a ``FastAPI()`` or ``APIRouter()`` instance."""
        target = self.resolve(file, expr)
        if not isinstance(target, Def):
            return False
        binding = target.binding
        wanted = names.FASTAPI_APPS | names.FASTAPI_ROUTERS
        if (
            binding.annotation is not None
            and self.qualname(target.file, binding.annotation, binding.node) in wanted
        ):
            return True
        value = binding.value
        if isinstance(binding.node, cst.Param) or not isinstance(value, cst.Call):
            return False
        if self.callee_qualname(target.file, value) in wanted:
            return True
        fn = self.function_def(target.file, value.func)
        if fn is not None and fn[1].returns is not None:
            return self.qualname(fn[0], fn[1].returns.annotation, fn[1]) in wanted
        return False

    def is_route_handler(self, file: SourceFile, fn: FunctionNode) -> bool:
        """Decorated with ``@app.get(...)``/``@router.post(...)``... on a FastAPI app or
        router, or registered with ``add_api_route``."""
        if not isinstance(fn, cst.FunctionDef):
            return False
        return self._cached("route", fn, lambda: self._is_route_handler(file, fn), False)

    def _is_route_handler(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        for decorator in fn.decorators:
            expr = decorator.decorator
            if (
                isinstance(expr, cst.Call)
                and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value in names.ROUTE_METHODS
                and self.is_app_or_router(file, expr.func.value)
            ):
                return True
        return fn in self.registered_routes()

    def registered_routes(self) -> set[cst.CSTNode]:
        """Functions registered with ``app.add_api_route(path, endpoint)``."""
        if self._registered_routes is None:
            found: set[cst.CSTNode] = set()
            for file in self.project.scan_files():
                for call in file.index.nodes(cst.Call):
                    method = method_call(call)
                    if method is None or method[1] not in names.ADD_ROUTE_METHODS:
                        continue
                    positional, keywords = call_args(call)
                    endpoint = keywords.get("endpoint") or (
                        positional[1] if len(positional) > 1 else None
                    )
                    if endpoint is None:
                        continue
                    fn = self.function_def(file, endpoint)
                    if fn is not None and self.is_app_or_router(file, method[0]):
                        found.add(fn[1])
            self._registered_routes = found
        return self._registered_routes

    def uses_fastapi(self, versions: TargetVersions | None = None) -> bool:
        """The project runs on FastAPI.

        When the project's dependency metadata is known (``versions.fastapi_runtime``, read
        from ``pyproject.toml`` / ``requirements*.txt``), FastAPI must be a runtime
        dependency: one only in a dev/test/docs extra, a Poetry group or
        ``requirements-dev.txt`` does not count. Without dependency metadata: some module of
        application code imports FastAPI (the files of the run, and every project file whose
        text mentions ``fastapi``, so linting one file of a FastAPI project answers like
        linting all of it); tests, migrations and scripts do not count."""
        if versions is not None and versions.fastapi_runtime is not None:
            return versions.fastapi_runtime
        if self._uses_fastapi is None:
            self._uses_fastapi = any(
                self._imports_fastapi(f) and self.is_application_code(f)
                for f in self.project.files_matching(TextQuery(("fastapi",)))
            )
        return self._uses_fastapi

    def _imports_fastapi(self, file: SourceFile) -> bool:
        for bindings in file.module_scope.bindings.values():
            for binding in bindings:
                if binding.imported is not None and binding.imported.split(".")[0] == "fastapi":
                    return True
        return False

    def files_mentioning(self, *words: str) -> list[SourceFile]:
        """The files of the run, and every project file (read once per run), whose text
        contains all ``words``."""
        return self.project.files_matching(TextQuery(words))

    def attribute_uses(
        self, file: SourceFile, name: str, attr: str
    ) -> list[tuple[SourceFile, cst.Attribute]]:
        """Every ``<name>.<attr>`` expression of the project (called or not) whose ``<name>``
        is the module-level name ``name`` of ``file``: used in that module, imported into
        another one (also under an alias), or reached as ``module.name``. Searches the files
        of the run and every project file that mentions both words.

        ``attribute_uses(db_file, "ScopedSession", "remove")`` finds the ``remove()`` calls
        of a registry across the project."""
        key = (id(file), name, attr)
        if key not in self._attribute_uses:
            found: list[tuple[SourceFile, cst.Attribute]] = []
            for other in self.files_mentioning(name, attr):
                for node in other.index.nodes(cst.Attribute):
                    if node.attr.value != attr:
                        continue
                    target = self.resolve(other, node.value)
                    if (
                        isinstance(target, Def)
                        and target.file is file
                        and target.binding.name == name
                        and target.binding.scope.kind == "module"
                    ):
                        found.append((other, node))
            self._memo[("keep", id(file))] = file
            self._attribute_uses[key] = found
        return self._attribute_uses[key]

    def function_info(self, file: SourceFile, fn: cst.FunctionDef) -> FunctionInfo:
        cached = self._memo.get(("info", id(fn)))
        if isinstance(cached, FunctionInfo):
            return cached
        info = FunctionInfo(file, fn, fn.asynchronous is not None, False)
        self._memo[("info", id(fn))] = info  # provisional: cuts recursion
        self._memo[("keep", id(fn))] = fn
        index = file.index
        info.yields = [y for y in index.own_nodes(fn, cst.Yield)]
        info.is_generator = bool(info.yields)
        kinds: set[Kind | None] = set()
        if info.is_generator:
            for y in info.yields:
                if y.value is not None and not isinstance(y.value, cst.From):
                    kinds.add(self.session_kind(file, y.value))
        else:
            for ret in index.own_nodes(fn, cst.Return):
                if ret.value is not None:
                    kinds.add(self.session_kind(file, ret.value))
        kinds.discard(None)
        if len(kinds) == 1:
            info.provides = kinds.pop()
        elif not kinds and fn.returns is not None:
            info.provides = self._return_annotation_kind(file, fn, info.is_generator)
        if info.is_generator:
            first = min(index.order[y] for y in info.yields)
            for call in index.own_nodes(fn, cst.Call):
                method = method_call(call)
                if (
                    method is not None
                    and method[1] == "commit"
                    and index.order[call] > first
                    and self.session_kind(file, method[0]) is not None
                ):
                    info.commits_after_yield.append(call)
            for y in info.yields:
                block = self.enclosing_begin(file, y, fn)
                if block is not None and block not in info.begin_blocks:
                    info.begin_blocks.append(block)
        return info

    def _return_annotation_kind(
        self, file: SourceFile, fn: cst.FunctionDef, generator: bool
    ) -> Kind | None:
        assert fn.returns is not None
        annotation = fn.returns.annotation
        if generator:
            if not isinstance(annotation, cst.Subscript):
                return None
            if self.qualname(file, annotation.value, fn) not in names.GENERATOR_TYPES:
                return None
            first = annotation.slice[0].slice
            if not isinstance(first, cst.Index):
                return None
            return self.annotation_kind(file, first.value, fn)
        return self.annotation_kind(file, annotation, fn)

    def enclosing_begin(
        self,
        file: SourceFile,
        node: cst.CSTNode,
        stop: cst.CSTNode | None = None,
        *,
        savepoints: bool = False,
    ) -> cst.With | None:
        """The nearest ``with X.begin()`` block around ``node`` (inside ``stop``) where X is
        a session or a session factory: its body commits on exit. With ``savepoints``,
        ``with s.begin_nested()`` blocks count too (they roll back on an exception, but
        commit only the savepoint)."""
        for anc in file.index.ancestors(node):
            if anc is stop:
                return None
            if isinstance(anc, cst.With) and self.is_begin_with(file, anc, savepoints=savepoints):
                return anc
        return None

    def is_begin_with(
        self, file: SourceFile, with_node: cst.With, *, savepoints: bool = False
    ) -> bool:
        """``with X.begin()`` (or ``X.begin_nested()`` with ``savepoints``) on a session or
        a session factory."""
        wanted = ("begin", "begin_nested") if savepoints else ("begin",)
        for item in with_node.items:
            method = method_call(item.item)
            if method is None or method[1] not in wanted:
                continue
            receiver = method[0]
            if self.session_kind(file, receiver) is not None:
                return True
            if self.factory_kind(file, receiver) is not None:
                return True
        return False

    def helper_does_io(self, file: SourceFile, fn: cst.FunctionDef, param: str) -> bool:
        """Whether project function ``fn`` does blocking session I/O on its parameter
        ``param`` (directly, or by passing it to further such helpers)."""
        key = (fn, param)
        if key not in self._helper_io:
            self._helper_io[key] = False  # provisional: cuts recursion
            self._helper_io[key] = self._helper_does_io(file, fn, param)
        return self._helper_io[key]

    def _helper_does_io(self, file: SourceFile, fn: cst.FunctionDef, param: str) -> bool:
        index = file.index
        if fn.asynchronous is not None:
            return False
        for call in index.own_nodes(fn, cst.Call):
            method = method_call(call)
            if (
                method is not None
                and method[1] in names.SYNC_IO_METHODS
                and self._is_param(file, method[0], fn, param)
            ):
                return True
            for callee_file, callee, callee_param in self.session_arguments(
                file, call, lambda e: self._is_param(file, e, fn, param)
            ):
                if self.helper_does_io(callee_file, callee, callee_param):
                    return True
        return False

    def _is_param(
        self, file: SourceFile, expr: cst.BaseExpression, fn: cst.FunctionDef, param: str
    ) -> bool:
        if not isinstance(expr, cst.Name) or expr.value != param:
            return False
        bindings = file.index.lookup(param, expr)
        return bool(bindings) and all(
            isinstance(b.node, cst.Param) and b.scope.node is fn for b in bindings
        )

    def session_arguments(
        self,
        file: SourceFile,
        call: cst.Call,
        is_session: Callable[[cst.BaseExpression], bool],
    ) -> Iterator[tuple[SourceFile, cst.FunctionDef, str]]:
        """For a call of a project function, the (function, parameter name) pairs that
        receive an argument for which ``is_session`` holds."""
        fn = self.function_def(file, call.func)
        if fn is None:
            return
        callee_file, callee = fn
        params = callee.params
        positional_params = [*params.posonly_params, *params.params]
        if positional_params and positional_params[0].name.value in ("self", "cls"):
            positional_params = positional_params[1:]
        position = 0
        for arg in call.args:
            if arg.star:
                break
            if arg.keyword is not None:
                if is_session(arg.value):
                    yield callee_file, callee, arg.keyword.value
                continue
            if position < len(positional_params) and is_session(arg.value):
                yield callee_file, callee, positional_params[position].name.value
            position += 1

    # -- files --------------------------------------------------------------------------------
    def code_kind(self, file: SourceFile) -> CodeKind:
        """Application code, test code, a migration or a script (see
        :mod:`sessionlint.model.codekind`); computed once per file."""
        if self._code_kinds is None:
            self._code_kinds = CodeKinds(self)
        return self._code_kinds.kind(file)

    def is_application_code(self, file: SourceFile) -> bool:
        """Not test code, a migration or a script: request-time rules apply."""
        return self.code_kind(file) is CodeKind.APP

    @staticmethod
    def in_main_block(file: SourceFile, node: cst.CSTNode) -> bool:
        """``node`` sits under ``if __name__ == "__main__":``."""
        return in_main_block(file, node)
