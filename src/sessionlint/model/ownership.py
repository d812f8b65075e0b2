"""Where a session held in a local name goes: closed, handed over, or only used.

The lifecycle rules (SL103 returned-session-dependency, SL104 unclosed-session) ask, for each
place a function mentions a local name, what happens to the object it holds there:

* :attr:`Fate.CLOSE` — it is closed: ``name.close()``/``name.invalidate()`` (awaited or not),
  ``with name:``, ``with closing(name):``, ``name.close`` handed to someone as a callback
  (``stack.callback(name.close)``), or the name is passed to a project function that closes
  its parameter;
* :attr:`Fate.ESCAPE` — ownership leaves the function: the name is returned or yielded, stored
  (assigned to an attribute, an item, another name; put in a tuple, list, set or dict), passed to
  a class constructor (a project class, or an external name that starts with an upper-case
  letter), to a known ownership-taking callable (``functools.partial``, ``setattr``, builtin
  containers), to a project function that lets its parameter escape, or to anything sessionlint
  cannot see into (a method of an object, a callable held in a variable, ``*args``, a function
  of a library or of a module it could not resolve);
* :attr:`Fate.USE` — anything else that leaves the object where it is: a method call on it, a
  comparison, a truth test, and passing it to a plain function — a project function that
  neither keeps nor closes its parameter, a builtin, ``logging``/``warnings``/``pprint`` or a
  SQLAlchemy/SQLModel function (a borrow: the caller still owns it and still has to close it).

When the analysis cannot tell, the answer is ``ESCAPE``: the rules stay silent about a session
whose owner they cannot see. A name captured by a nested function, lambda or class, or declared
``global``/``nonlocal``, cannot be followed at all (:meth:`Ownership.occurrences` returns None).
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass

import libcst as cst

from sessionlint.model import names
from sessionlint.model.index import ModuleIndex, dotted_name
from sessionlint.model.names import Kind
from sessionlint.model.project import SourceFile
from sessionlint.model.semantic import Def, External, Model

__all__ = ["CLOSE_METHODS", "Fate", "Occurrence", "Ownership", "is_reference"]

#: Session methods that close it (``invalidate()`` closes it and discards the connection;
#: ``__exit__`` is what ``with`` calls).
CLOSE_METHODS = frozenset({"close", "invalidate", "__exit__", "__aexit__"})

#: Lower-case callables that keep what they receive (the class heuristic misses them).
_TAKES_OWNERSHIP = frozenset(
    {
        f"builtins.{name}"
        for name in (
            "list",
            "tuple",
            "set",
            "frozenset",
            "dict",
            "iter",
            "map",
            "filter",
            "zip",
            "enumerate",
            "reversed",
            "setattr",
            "super",
            "object",
            "property",
            "staticmethod",
            "classmethod",
        )
    }
    | {
        "functools.partial",
        "functools.partialmethod",
        "operator.setitem",
        "weakref.finalize",
        "copy.copy",
        "copy.deepcopy",
    }
)
#: Modules whose lower-case functions only look at what they receive.
_BORROWING_MODULES = frozenset(
    {"builtins", "logging", "warnings", "pprint", "sqlalchemy", "sqlmodel"}
)
_MAX_DEPTH = 4

#: Where a Name is a binding target rather than a reference.
_TARGET_PARENTS = (
    cst.AssignTarget,
    cst.AnnAssign,
    cst.AugAssign,
    cst.For,
    cst.CompFor,
    cst.NamedExpr,
    cst.AsName,
)
_UNPACKING = (cst.Element, cst.Tuple, cst.List, cst.StarredElement)


class Fate(enum.Enum):
    USE = "use"
    CLOSE = "close"
    ESCAPE = "escape"


@dataclass(frozen=True)
class Occurrence:
    """One reference to the name: what happens to the object there, and the node where it
    happens (the closing call, the ``with`` item, the ``return``...)."""

    name: cst.Name
    fate: Fate
    node: cst.CSTNode


def is_reference(index: ModuleIndex, node: cst.Name) -> bool:
    """``node`` reads a variable (it is not an attribute name, a keyword, a parameter, a
    ``def``/``class`` name, an import or a binding target)."""
    parent = index.parent(node)
    if isinstance(parent, cst.Attribute):
        return parent.value is node
    if isinstance(parent, cst.Arg):
        return parent.value is node
    if isinstance(
        parent, cst.Param | cst.FunctionDef | cst.ClassDef | cst.ImportAlias | cst.NameItem
    ):
        return False
    child: cst.CSTNode = node
    while isinstance(parent, _UNPACKING):
        child, parent = parent, index.parent(parent)
    if isinstance(parent, _TARGET_PARENTS):
        return getattr(parent, "target", getattr(parent, "name", None)) is not child
    return True


class Ownership:
    """Answers "what happens to the object this local name holds" for one file's functions
    (and, through calls, for the project functions they hand it to). One instance per rule
    run: it memoises the fate of helper parameters."""

    def __init__(self, model: Model, file: SourceFile) -> None:
        self.model = model
        self.file = file
        self._param_fates: dict[tuple[int, str], Fate] = {}
        self._orders: dict[int, list[int]] = {}
        self._keep: list[cst.CSTNode] = []

    # -- the references of a name -------------------------------------------------------
    def occurrences(
        self, file: SourceFile, function: cst.FunctionDef, name: str, depth: int = 0
    ) -> list[Occurrence] | None:
        """Every reference to the local ``name`` in ``function``'s own body, with its fate;
        None when the name cannot be followed (captured by a nested scope, or declared
        ``global``/``nonlocal``)."""
        index = file.index
        declared: list[cst.Global | cst.Nonlocal] = [
            *index.own_nodes(function, cst.Global),
            *index.own_nodes(function, cst.Nonlocal),
        ]
        if any(item.name.value == name for statement in declared for item in statement.names):
            return None
        scope = index.scopes[function]
        found: list[Occurrence] = []
        for node in self._names_inside(file, function):
            if node.value != name or not is_reference(index, node):
                continue
            owner = index.enclosing_function(node)
            if owner is function:
                fate, where = self._fate(file, node, depth)
                found.append(Occurrence(node, fate, where))
            elif (
                owner is not None
                and index.is_inside(node, function)
                and any(b.scope is scope for b in index.lookup(name, node))
            ):
                return None  # a closure captures it
        return found

    def _names_inside(self, file: SourceFile, function: cst.FunctionDef) -> list[cst.Name]:
        """The Name nodes inside ``function`` (nested scopes included), in source order."""
        index = file.index
        every = index.nodes(cst.Name)
        orders = self._orders.get(id(file))
        if orders is None:
            orders = [index.order[n] for n in every]
            self._orders[id(file)] = orders
            self._keep.append(file.module)
        start = bisect.bisect_left(orders, index.order[function])
        end = bisect.bisect_left(orders, index.end_order(function))
        return every[start:end]

    def bindings_are_plain(self, file: SourceFile, function: cst.FunctionDef, name: str) -> bool:
        """Every binding of ``name`` in ``function`` is a single-target assignment
        (``name = ...``, ``name: T = ...``, ``(name := ...)``)."""
        for binding in file.index.scopes[function].bindings.get(name, []):
            node = binding.node
            if isinstance(node, cst.Assign):
                if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
                    return False
            elif isinstance(node, cst.AnnAssign | cst.NamedExpr):
                if not isinstance(node.target, cst.Name):
                    return False
            else:
                return False
        return True

    # -- new sessions -------------------------------------------------------------------
    def new_session_kind(self, file: SourceFile, call: cst.Call) -> Kind | None:
        """The kind of the *new* session ``call`` gives its caller: a session class, a
        factory (not a ``scoped_session`` registry, which hands out the same session again),
        or a plain project function whose every ``return`` hands out a session it created
        (``def make_session(): return SessionLocal()``)."""
        model = self.model
        kind = model.creation_kind(file, call)
        if kind is not None:
            if model.from_scoped_registry(file, call) or model.borrowed_creation(file, call):
                return None
            return kind
        found = model.function_def(file, call.func) or model.instance_method_def(file, call.func)
        if found is None:
            return None
        helper_file, helper = found
        key = (id(helper), "#new")
        if key in self._param_fates:  # reuse the memo: USE = hands out new sessions
            fate = self._param_fates[key]
        else:
            self._param_fates[key] = Fate.ESCAPE  # provisional: cuts recursion
            self._keep.append(helper)
            fate = Fate.USE if self._hands_out_new(helper_file, helper) else Fate.ESCAPE
            self._param_fates[key] = fate
        return model.function_info(helper_file, helper).provides if fate is Fate.USE else None

    def constructed_sessions(self, file: SourceFile, call: cst.Call) -> list[str]:
        """The attributes that ``call``, a call of a project class, fills with a new session
        on construction: ``self.<attr> = <new session>`` in its ``__init__`` (``self.session =
        AsyncSession(engine)``, ``self.db = SessionLocal()``), or in a project base class's
        ``__init__`` that runs (no own ``__init__``, or one calling ``super().__init__``)."""
        target = self.model.callee(file, call)
        if not isinstance(target, Def) or not isinstance(target.binding.node, cst.ClassDef):
            return []
        return sorted(self._init_sessions(target.file, target.binding.node, 0))

    def _init_sessions(self, file: SourceFile, cls: cst.ClassDef, depth: int) -> set[str]:
        index = file.index
        found: set[str] = set()
        inherited = True
        init = index.scopes[cls].bindings.get("__init__")
        if init and isinstance(init[-1].node, cst.FunctionDef):
            function = init[-1].node
            assigns: list[cst.Assign | cst.AnnAssign] = [
                *index.own_nodes(function, cst.Assign),
                *index.own_nodes(function, cst.AnnAssign),
            ]
            for assign in assigns:
                value = assign.value
                if not isinstance(value, cst.Call) or self.new_session_kind(file, value) is None:
                    continue
                targets: list[cst.BaseExpression] = (
                    [t.target for t in assign.targets]
                    if isinstance(assign, cst.Assign)
                    else [assign.target]
                )
                for assigned in targets:
                    if (
                        isinstance(assigned, cst.Attribute)
                        and isinstance(assigned.value, cst.Name)
                        and assigned.value.value == "self"
                    ):
                        found.add(assigned.attr.value)
            inherited = any(
                isinstance(c.func, cst.Attribute)
                and c.func.attr.value == "__init__"
                and isinstance(c.func.value, cst.Call)
                and dotted_name(c.func.value.func) == "super"
                for c in index.own_nodes(function, cst.Call)
            )
        if not inherited or depth >= _MAX_DEPTH:
            return found
        for base in cls.bases:
            if base.keyword is not None:
                continue
            base_class = self.model.resolve(file, base.value, cls)
            if isinstance(base_class, Def) and isinstance(base_class.binding.node, cst.ClassDef):
                found |= self._init_sessions(base_class.file, base_class.binding.node, depth + 1)
        return found

    def _hands_out_new(self, file: SourceFile, function: cst.FunctionDef) -> bool:
        model, index = self.model, file.index
        if (
            index.own_nodes(function, cst.Yield)
            or function.asynchronous is not None
            or model.is_cached(file, function)
            or model.is_contextmanager(file, function)
        ):
            return False
        returns = index.own_nodes(function, cst.Return)
        return bool(returns) and all(self.new_session(file, function, r) for r in returns)

    def new_session(
        self, file: SourceFile, function: cst.FunctionDef, node: cst.Return
    ) -> tuple[cst.Call, str | None] | None:
        """(the creating call, the local name it was bound to) when ``node`` returns a
        session that ``function`` created and kept nowhere else; else None."""
        index = file.index
        value = node.value
        if isinstance(value, cst.Call):
            return (value, None) if self.new_session_kind(file, value) is not None else None
        if not isinstance(value, cst.Name):
            return None
        name = value.value
        bindings = index.scopes[function].bindings.get(name, [])
        if not bindings or not self.bindings_are_plain(file, function, name):
            return None
        calls = [b.value for b in bindings]
        created: list[cst.Call] = []
        for call in calls:
            if not isinstance(call, cst.Call) or self.new_session_kind(file, call) is None:
                return None
            created.append(call)
        found = self.occurrences(file, function, name)
        if found is None:
            return None
        # Closed, stored or handed over elsewhere (``request.state.db = db``): someone else
        # may close it.
        for occurrence in found:
            if occurrence.fate is Fate.CLOSE:
                return None
            if occurrence.fate is Fate.ESCAPE and not isinstance(occurrence.node, cst.Return):
                return None
        return created[-1], name

    # -- what happens at one reference ----------------------------------------------------
    def _fate(self, file: SourceFile, node: cst.Name, depth: int) -> tuple[Fate, cst.CSTNode]:
        index = file.index
        parent = index.parent(node)
        if parent is None:
            return Fate.ESCAPE, node
        if isinstance(parent, cst.Attribute):
            grand = index.parent(parent)
            if isinstance(grand, cst.Call) and grand.func is parent:
                if parent.attr.value in CLOSE_METHODS:
                    return Fate.CLOSE, grand
                return Fate.USE, grand
            if parent.attr.value in CLOSE_METHODS and isinstance(grand, cst.Arg):
                return Fate.CLOSE, grand  # ``stack.callback(db.close)``
            return Fate.USE, parent
        if isinstance(parent, cst.Arg):
            call = index.parent(parent)
            if not isinstance(call, cst.Call):
                return Fate.ESCAPE, parent
            return self._argument_fate(file, call, parent, depth)
        if isinstance(parent, cst.WithItem) and parent.item is node:
            return Fate.CLOSE, parent  # ``with db:`` closes it on exit
        if isinstance(
            parent,
            cst.Comparison
            | cst.ComparisonTarget
            | cst.Assert
            | cst.Del
            | cst.Expr
            | cst.FormattedStringExpression,
        ):
            return Fate.USE, parent
        if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
            return Fate.USE, parent
        if isinstance(parent, cst.If | cst.While | cst.IfExp) and parent.test is node:
            return Fate.USE, parent
        if isinstance(parent, cst.Subscript) and parent.value is node:
            return Fate.USE, parent
        if isinstance(parent, cst.Call) and parent.func is node:
            return Fate.USE, parent
        # Returned, yielded, awaited, put in a container, assigned, combined: it escapes.
        return Fate.ESCAPE, parent

    def _argument_fate(
        self, file: SourceFile, call: cst.Call, arg: cst.Arg, depth: int
    ) -> tuple[Fate, cst.CSTNode]:
        if arg.star:
            return Fate.ESCAPE, call
        index = file.index
        target = self.model.resolve(file, call.func, call)
        if isinstance(target, External):
            qualname = target.qualname
            if qualname in names.CLOSING:
                parent = index.parent(call)
                if isinstance(parent, cst.WithItem) and parent.item is call:
                    return Fate.CLOSE, parent  # ``with closing(db):``
                return Fate.ESCAPE, call
            module, _, last = qualname.rpartition(".")
            if last[:1].isupper() or qualname in _TAKES_OWNERSHIP:
                return Fate.ESCAPE, call  # a class constructor keeps it
            if module.split(".", 1)[0] in _BORROWING_MODULES:
                return Fate.USE, call  # ``print(db)``, ``logging.info("%r", db)``
            # Any other function outside the project — or a project module sessionlint could
            # not resolve — might keep or close it: unknown.
            return Fate.ESCAPE, call
        if isinstance(target, Def):
            node = target.binding.node
            if isinstance(node, cst.FunctionDef):
                param = _parameter_for(node, call, arg)
                if param is None:
                    return Fate.ESCAPE, call
                return self.param_fate(target.file, node, param, depth + 1), call
        # A project class, a callable held in a variable, a method of some object: unknown.
        return Fate.ESCAPE, call

    def lent_to_helper(self, file: SourceFile, call: cst.Call, arg: cst.Arg) -> bool:
        """``arg`` of ``call`` goes to a function of the project that only uses it: it
        neither closes nor keeps it (:meth:`param_fate` is USE), so the caller still owns
        it. Unknown callables, methods of objects and library functions answer False."""
        target = self.model.resolve(file, call.func, call)
        if not isinstance(target, Def) or not isinstance(target.binding.node, cst.FunctionDef):
            return False
        return self._argument_fate(file, call, arg, 0)[0] is Fate.USE

    def param_fate(
        self, file: SourceFile, function: cst.FunctionDef, param: str, depth: int = 0
    ) -> Fate:
        """What project function ``function`` does with what it receives in ``param``:
        CLOSE if it may close it, ESCAPE if it may keep it (or cannot be followed), else
        USE (a borrow)."""
        key = (id(function), param)
        if key in self._param_fates:
            return self._param_fates[key]
        if depth > _MAX_DEPTH:
            return Fate.ESCAPE
        self._param_fates[key] = Fate.ESCAPE  # provisional: cuts recursion
        self._keep.append(function)
        fate = Fate.ESCAPE
        info = self.model.function_info(file, function)
        bindings = file.index.scopes[function].bindings.get(param, [])
        if (
            not info.is_generator
            and info.provides is None
            and not self.model.is_contextmanager(file, function)
            and len(bindings) == 1
            and isinstance(bindings[0].node, cst.Param)
        ):
            found = self.occurrences(file, function, param, depth)
            if found is not None:
                fates = {o.fate for o in found}
                if Fate.ESCAPE in fates:
                    fate = Fate.ESCAPE
                elif Fate.CLOSE in fates:
                    fate = Fate.CLOSE
                else:
                    fate = Fate.USE
        self._param_fates[key] = fate
        return fate


def _parameter_for(function: cst.FunctionDef, call: cst.Call, arg: cst.Arg) -> str | None:
    """The parameter of ``function`` that receives ``arg`` in ``call`` (None if unsure)."""
    params = function.params
    if arg.keyword is not None:
        wanted = arg.keyword.value
        named = [*params.params, *params.kwonly_params]
        return wanted if any(p.name.value == wanted for p in named) else None
    positional = [*params.posonly_params, *params.params]
    position = 0
    for other in call.args:
        if other is arg:
            break
        if other.star:
            return None
        if other.keyword is None:
            position += 1
    return positional[position].name.value if position < len(positional) else None
