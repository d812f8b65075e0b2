"""One traversal per file: parents, pre-order positions, nodes by type, scopes and bindings.

This replaces LibCST's ScopeProvider / QualifiedNameProvider / ParentNodeProvider, which cost
about nine times a bare parse on a real project. The index records only what the semantic model
needs: where each name is bound (parameters, assignments, ``with ... as``, imports, ``def``,
``class``, PEP 695 ``type``), with the value or annotation it was bound to. Name lookup follows
Python's LEGB rule (class bodies are not visible from nested functions). Comprehension targets
are bound in the enclosing scope, a harmless approximation for this linter's questions.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import libcst as cst

ScopeKind = Literal["module", "class", "function", "lambda"]
FunctionNode = cst.FunctionDef | cst.Lambda
N = TypeVar("N", bound=cst.CSTNode)


@dataclass(eq=False)
class Binding:
    """One place where ``name`` is bound.

    ``node`` is the binding construct: a ``Param``, ``Assign``, ``AnnAssign``, ``WithItem``,
    ``For``, ``ImportAlias``, ``FunctionDef``, ``ClassDef``, ``NamedExpr``, ``TypeAlias``,
    ``ExceptHandler`` or ``CompFor``. ``imported`` holds the dotted name an import binds
    (relative imports keep their leading dots).
    """

    name: str
    node: cst.CSTNode
    scope: Scope
    value: cst.BaseExpression | None = None
    annotation: cst.BaseExpression | None = None
    imported: str | None = None


@dataclass(eq=False)
class Scope:
    kind: ScopeKind
    node: cst.CSTNode
    parent: Scope | None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)

    def add(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)


_SKIPPED_FIELDS = frozenset(
    {
        "leading_lines",
        "lines_after_decorators",
        "lpar",
        "rpar",
        "semicolon",
        "header",
        "footer",
        "trailing_whitespace",
        "newline",
        "equal",
        "colon",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "dot",
        "relative",
    }
)
_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}
_IS_NODE: dict[type, bool] = {}


def _fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    names = [
        f.name
        for f in dataclasses.fields(kind)
        if f.name not in _SKIPPED_FIELDS
        and not f.name.startswith("whitespace")
        and not f.name.endswith("comma")
    ]
    if kind in (cst.FunctionDef, cst.ClassDef):  # source order: decorators first, body last
        names.sort(key=lambda n: (n != "decorators", n == "body"))
    _FIELDS[kind] = tuple(names)
    return _FIELDS[kind]


def children_of(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes that matter to the model, in source order, without whitespace."""
    kind = type(node)
    names = _FIELDS.get(kind) or _fields(kind)
    out: list[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        value_type = type(value)
        if value_type is list or value_type is tuple:
            for item in value:
                item_type = type(item)
                is_node = _IS_NODE.get(item_type)
                if is_node is None:
                    is_node = _IS_NODE[item_type] = issubclass(item_type, cst.CSTNode)
                if is_node:
                    out.append(item)
            continue
        is_node = _IS_NODE.get(value_type)
        if is_node is None:
            is_node = _IS_NODE[value_type] = issubclass(value_type, cst.CSTNode)
        if is_node:
            out.append(value)
    return out


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


class ModuleIndex:
    """Everything rules and the model need to know about one parsed module's shape."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self.order: dict[cst.CSTNode, int] = {}
        self.by_type: defaultdict[type[cst.CSTNode], list[cst.CSTNode]] = defaultdict(list)
        self.scopes: dict[cst.CSTNode, Scope] = {}
        self.module_scope = Scope("module", module, None)
        self.scopes[module] = self.module_scope
        self._own: dict[type[cst.CSTNode], dict[cst.CSTNode | None, list[cst.CSTNode]]] = {}
        self._scope_cache: dict[cst.CSTNode, Scope] = {}
        _Indexer(self).walk(module)

    # -- node queries -------------------------------------------------------------------
    def nodes(self, kind: type[N]) -> list[N]:
        """All nodes of exactly this type, in source order."""
        return self.by_type.get(kind, [])  # type: ignore[return-value]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self.parents.get(node)
        while parent is not None:
            yield parent
            parent = self.parents.get(parent)

    def is_inside(self, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
        return any(a is ancestor for a in self.ancestors(node))

    def before(self, a: cst.CSTNode, b: cst.CSTNode) -> bool:
        """``a`` starts before ``b`` in the source."""
        return self.order[a] < self.order[b]

    def end_order(self, node: cst.CSTNode) -> int:
        """The pre-order index just past ``node``'s last descendant."""
        cur: cst.CSTNode | None = node
        while cur is not None:
            parent = self.parents.get(cur)
            if parent is None:
                return len(self.order)
            siblings = children_of(parent)
            i = next(k for k, c in enumerate(siblings) if c is cur)
            if i + 1 < len(siblings):
                return self.order[siblings[i + 1]]
            cur = parent
        return len(self.order)

    # -- scopes -------------------------------------------------------------------------
    def scope_of(self, node: cst.CSTNode) -> Scope:
        """The scope in which names used at ``node`` are looked up.

        A node is in its parent's scope, except the body of a ``def``/``class``/``lambda``
        (and a lambda's parameters), which is in the scope that node opens. Decorators,
        defaults and annotations stay outside. Answers are memoised along the climb.
        """
        cache = self._scope_cache
        found = cache.get(node)
        if found is not None:
            return found
        chain: list[cst.CSTNode] = []
        current: cst.CSTNode = node
        scope = self.module_scope
        while True:
            found = cache.get(current)
            if found is not None:
                scope = found
                break
            parent = self.parents.get(current)
            if parent is None:
                break
            chain.append(current)
            if isinstance(parent, cst.FunctionDef | cst.ClassDef | cst.Lambda) and (
                parent.body is current
                or (isinstance(parent, cst.Lambda) and parent.params is current)
            ):
                scope = self.scopes[parent]
                break
            current = parent
        for item in chain:
            cache[item] = scope
        return scope

    def enclosing_function(self, node: cst.CSTNode) -> FunctionNode | None:
        """The nearest function (``def`` or ``lambda``) whose body contains ``node``."""
        scope: Scope | None = self.scope_of(node)
        while scope is not None and scope.kind == "class":
            scope = scope.parent
        if scope is None or scope.kind == "module":
            return None
        assert isinstance(scope.node, cst.FunctionDef | cst.Lambda)
        return scope.node

    def lookup(self, name: str, at: cst.CSTNode | Scope) -> list[Binding]:
        """Bindings of ``name`` visible at ``at`` (LEGB; class bodies skipped from inside)."""
        scope: Scope | None = at if isinstance(at, Scope) else self.scope_of(at)
        first = True
        while scope is not None:
            if first or scope.kind != "class":
                found = scope.bindings.get(name)
                if found:
                    return found
            first = False
            scope = scope.parent
        return []

    def own_nodes(self, function: FunctionNode | None, kind: type[N]) -> list[N]:
        """Nodes of ``kind`` whose nearest enclosing function is ``function``."""
        grouped = self._own.get(kind)
        if grouped is None:
            grouped = defaultdict(list)
            for node in self.nodes(kind):
                grouped[self.enclosing_function(node)].append(node)
            self._own[kind] = grouped
        return grouped.get(function, [])  # type: ignore[return-value]


def module_bindings(module: cst.Module) -> Scope:
    """The module scope alone, from the top-level statements (also inside module-level
    ``if``/``try``/``with``/``for``), without walking function or class bodies.

    Other modules of the project only need this to answer "what does ``app.deps.get_db``
    name?", at a fraction of the cost of a full :class:`ModuleIndex`.
    """
    scope = Scope("module", module, None)
    binder = _Binder(scope)
    pending: list[cst.CSTNode] = list(module.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                handler = _HANDLERS.get(type(small))
                if handler is not None:
                    getattr(binder, handler)(small)
        elif isinstance(node, cst.FunctionDef | cst.ClassDef):
            scope.add(Binding(node.name.value, node, scope))
        elif isinstance(node, cst.If | cst.Try | cst.TryStar | cst.With | cst.For | cst.While):
            if isinstance(node, cst.With):
                binder.visit_with(node)
            for child in node.children:
                if isinstance(child, cst.IndentedBlock | cst.SimpleStatementSuite):
                    pending.extend(child.body)
                elif isinstance(
                    child,
                    cst.If | cst.Else | cst.Finally | cst.ExceptHandler | cst.ExceptStarHandler,
                ):
                    pending.append(child)
        elif isinstance(node, cst.Else | cst.Finally | cst.ExceptHandler | cst.ExceptStarHandler):
            body = node.body
            if isinstance(body, cst.IndentedBlock | cst.SimpleStatementSuite):
                pending.extend(body.body)
    return scope


class _Binder:
    """Records bindings into the current scope."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def visit_function(self, node: cst.FunctionDef) -> None:
        self.scope.add(Binding(node.name.value, node, self.scope))

    def visit_class(self, node: cst.ClassDef) -> None:
        self.scope.add(Binding(node.name.value, node, self.scope))

    def visit_lambda(self, node: cst.Lambda) -> None:
        pass

    def bind_target(
        self,
        target: cst.BaseExpression,
        node: cst.CSTNode,
        value: cst.BaseExpression | None,
        annotation: cst.BaseExpression | None = None,
    ) -> None:
        if isinstance(target, cst.Name):
            self.scope.add(Binding(target.value, node, self.scope, value, annotation))
        elif isinstance(target, cst.Tuple | cst.List):
            for element in target.elements:
                self.bind_target(element.value, node, None)
        elif isinstance(target, cst.StarredElement):
            self.bind_target(target.value, node, None)

    def visit_assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.bind_target(target.target, node, node.value)

    def visit_ann_assign(self, node: cst.AnnAssign) -> None:
        self.bind_target(node.target, node, node.value, node.annotation.annotation)

    def visit_with(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                self.bind_target(item.asname.name, item, item.item)

    def visit_for(self, node: cst.For) -> None:
        self.bind_target(node.target, node, None)

    def visit_comp_for(self, node: cst.CompFor) -> None:
        self.bind_target(node.target, node, None)

    def visit_named_expr(self, node: cst.NamedExpr) -> None:
        self.bind_target(node.target, node, node.value)

    def visit_except(self, node: cst.ExceptHandler | cst.ExceptStarHandler) -> None:
        if node.name is not None:
            self.bind_target(node.name.name, node, None)

    def visit_type_alias(self, node: cst.TypeAlias) -> None:
        self.scope.add(Binding(node.name.value, node, self.scope, node.value))

    def visit_import(self, node: cst.Import) -> None:
        for alias in node.names:
            dotted = dotted_name(alias.name)
            if dotted is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.scope.add(Binding(alias.asname.name.value, alias, self.scope, imported=dotted))
            else:
                top = dotted.split(".", 1)[0]
                self.scope.add(Binding(top, alias, self.scope, imported=top))

    def visit_import_from(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        base = "." * len(node.relative)
        if node.module is not None:
            dotted = dotted_name(node.module)
            if dotted is None:
                return
            base += dotted
        for alias in node.names:
            if not isinstance(alias.name, cst.Name):
                continue
            name = alias.name.value
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            sep = "" if base.endswith(".") or not base else "."
            self.scope.add(Binding(local, alias, self.scope, imported=f"{base}{sep}{name}"))


class _Indexer(_Binder):
    """The full traversal: parents, order, nodes by type, every scope.

    LibCST's ``visit`` rebuilds every node it passes (its own TODO says so), which costs
    more than the parse; this walk reads the dataclass fields instead and skips whitespace.
    """

    def __init__(self, index: ModuleIndex) -> None:
        super().__init__(index.module_scope)
        self.ix = index

    def walk(self, root: cst.CSTNode) -> None:
        parents, order, by_type = self.ix.parents, self.ix.order, self.ix.by_type
        handlers = _HANDLERS
        stack: list[tuple[cst.CSTNode | None, cst.CSTNode | None]] = [(root, None)]
        counter = 0
        while stack:
            node, parent = stack.pop()
            if node is None:  # leaving a scope
                assert self.scope.parent is not None
                self.scope = self.scope.parent
                continue
            if parent is not None:
                parents[node] = parent
            order[node] = counter
            counter += 1
            kind = type(node)
            by_type[kind].append(node)
            handler = handlers.get(kind)
            if handler is not None:
                before = self.scope
                getattr(self, handler)(node)
                if self.scope is not before:
                    stack.append((None, node))
            children = children_of(node)
            for child in reversed(children):
                stack.append((child, node))

    def push(self, kind: ScopeKind, node: cst.CSTNode) -> Scope:
        scope = Scope(kind, node, self.scope)
        self.ix.scopes[node] = scope
        self.scope = scope
        return scope

    def visit_function(self, node: cst.FunctionDef) -> None:
        super().visit_function(node)
        self.bind_params(node.params, self.push("function", node))

    def visit_lambda(self, node: cst.Lambda) -> None:
        self.bind_params(node.params, self.push("lambda", node))

    def visit_class(self, node: cst.ClassDef) -> None:
        super().visit_class(node)
        self.push("class", node)

    @staticmethod
    def bind_params(params: cst.Parameters, scope: Scope) -> None:
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        for extra in (params.star_arg, params.star_kwarg):
            if isinstance(extra, cst.Param):
                every.append(extra)
        for param in every:
            annotation = param.annotation.annotation if param.annotation else None
            scope.add(Binding(param.name.value, param, scope, param.default, annotation))


_HANDLERS: dict[type[cst.CSTNode], str] = {
    cst.FunctionDef: "visit_function",
    cst.Lambda: "visit_lambda",
    cst.ClassDef: "visit_class",
    cst.Assign: "visit_assign",
    cst.AnnAssign: "visit_ann_assign",
    cst.With: "visit_with",
    cst.For: "visit_for",
    cst.CompFor: "visit_comp_for",
    cst.NamedExpr: "visit_named_expr",
    cst.ExceptHandler: "visit_except",
    cst.ExceptStarHandler: "visit_except",
    cst.TypeAlias: "visit_type_alias",
    cst.Import: "visit_import",
    cst.ImportFrom: "visit_import_from",
}
