"""What calls of project functions do: raise on every path, roll a session back.

Two facts rules ask about a call they find in an ``except`` handler (SL202):

* :meth:`Effects.call_always_raises` — the call names a project function (or a method of the
  enclosing class through ``self``) whose every path ends in ``raise`` (directly, or by calling
  another such function), so control never comes back;
* :meth:`Effects.call_resets` — the call rolls back or closes a given session: a project
  function that receives it (``rollback_and_log(db)``), a method of an object built with it
  (``repo = Repo(db)`` … ``repo.rollback()`` where the method calls ``self.db.rollback()``), or
  a method of the enclosing class that resets ``self.<attr>``.

Both follow further project calls, across modules, with a recursion guard (a function still
being analysed counts as "no").
"""

from __future__ import annotations

import libcst as cst

from sessionlint.model import names
from sessionlint.model.index import dotted_name
from sessionlint.model.project import SourceFile
from sessionlint.model.semantic import Def, Model

FunctionRef = tuple[SourceFile, cst.FunctionDef]


class Effects:
    """Memoised effect facts about the project functions of one :class:`Model`."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._raises: dict[cst.FunctionDef, bool] = {}
        self._resets: dict[tuple[cst.FunctionDef, str], bool] = {}

    # -- raising on every path -----------------------------------------------------------------
    def call_always_raises(self, file: SourceFile, call: cst.Call) -> bool:
        """``call`` calls a project function that raises on every path."""
        target = self.called_function(file, call)
        return target is not None and self.always_raises(*target)

    def always_raises(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        """Every path through ``fn`` ends in ``raise`` (no ``return``, no ``yield``, no
        fall-through at the end of the body)."""
        if fn not in self._raises:
            self._raises[fn] = False  # provisional: cuts recursion
            self._raises[fn] = self._always_raises(file, fn)
        return self._raises[fn]

    def _always_raises(self, file: SourceFile, fn: cst.FunctionDef) -> bool:
        index = file.index
        if any(index.own_nodes(fn, kind) for kind in (cst.Return, cst.Yield)):
            return False
        if not isinstance(fn.body, cst.IndentedBlock):
            return self._small_terminates(file, fn.body.body)
        return self._block_terminates(file, fn.body.body)

    def _block_terminates(self, file: SourceFile, body: object) -> bool:
        """No normal path falls through the end of these statements."""
        if isinstance(body, cst.IndentedBlock | cst.SimpleStatementSuite):
            body = body.body
        assert isinstance(body, list | tuple)
        return any(self._terminates(file, statement) for statement in body)

    def _small_terminates(self, file: SourceFile, small: object) -> bool:
        assert isinstance(small, list | tuple)
        for statement in small:
            if isinstance(statement, cst.Raise):
                return True
            if isinstance(statement, cst.Expr):
                value = statement.value
                if isinstance(value, cst.Await):
                    value = value.expression
                if isinstance(value, cst.Call) and self.call_always_raises(file, value):
                    return True
        return False

    def _terminates(self, file: SourceFile, statement: cst.CSTNode) -> bool:
        if isinstance(statement, cst.SimpleStatementLine):
            return self._small_terminates(file, statement.body)
        if isinstance(statement, cst.If):
            orelse = statement.orelse
            if orelse is None or not self._block_terminates(file, statement.body):
                return False
            if isinstance(orelse, cst.If):
                return self._terminates(file, orelse)
            return self._block_terminates(file, orelse.body)
        if isinstance(statement, cst.Try):
            if statement.finalbody is not None and self._block_terminates(
                file, statement.finalbody.body
            ):
                return True
            body_ends = self._block_terminates(file, statement.body) or (
                statement.orelse is not None and self._block_terminates(file, statement.orelse.body)
            )
            return body_ends and all(
                self._block_terminates(file, h.body) for h in statement.handlers
            )
        if isinstance(statement, cst.With):
            # ``with suppress(...)`` may swallow the raise: only plain context managers.
            if any(
                isinstance(item.item, cst.Call)
                and self.model.callee_qualname(file, item.item) == "contextlib.suppress"
                for item in statement.items
            ):
                return False
            return self._block_terminates(file, statement.body)
        return False

    # -- rolling a session back ----------------------------------------------------------------
    def call_resets(self, file: SourceFile, call: cst.Call, session: str) -> bool:
        """``call`` rolls back or closes the session spelled ``session`` (``db``,
        ``self.session``) in the function that contains ``call``."""
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in names.SESSION_RESET_METHODS
            and dotted_name(func.value) == session
        ):
            return True
        # The session passed to a project function that resets its parameter.
        for callee_file, callee, param in self.model.session_arguments(
            file, call, lambda e: dotted_name(e) == session
        ):
            if self.resets(callee_file, callee, param):
                return True
        if not isinstance(func, cst.Attribute):
            return False
        # ``self.reset_session()`` where the method resets ``self.<attr>``.
        if session.startswith("self.") and dotted_name(func.value) == "self":
            method = self._self_method(file, call, func.attr.value)
            if method is not None and self.resets(*method, session):
                return True
        # ``repo.rollback()`` where ``repo = Repo(db)`` and the method resets what it stored.
        built = self._built_with(file, func.value, session)
        if built is not None:
            class_file, cls, attrs = built
            found = _class_method(class_file, cls, func.attr.value)
            if found is not None:
                return any(self.resets(class_file, found, f"self.{attr}") for attr in attrs)
        return False

    def resets(self, file: SourceFile, fn: cst.FunctionDef, session: str) -> bool:
        """Project function ``fn`` rolls back or closes ``session`` (a parameter name, or
        ``self.<attr>``), directly or through further project calls."""
        key = (fn, session)
        if key not in self._resets:
            self._resets[key] = False  # provisional: cuts recursion
            self._resets[key] = any(
                self.call_resets(file, call, session) for call in file.index.own_nodes(fn, cst.Call)
            )
        return self._resets[key]

    # -- resolution helpers --------------------------------------------------------------------
    def called_function(self, file: SourceFile, call: cst.Call) -> FunctionRef | None:
        """The project function ``call`` calls: a name, ``module.f``, ``Class.f``, or
        ``self.f`` inside a method of the class defining ``f``."""
        found = self.model.function_def(file, call.func)
        if found is not None:
            return found
        func = call.func
        if isinstance(func, cst.Attribute) and dotted_name(func.value) == "self":
            return self._self_method(file, call, func.attr.value)
        return None

    @staticmethod
    def _self_method(file: SourceFile, node: cst.CSTNode, name: str) -> FunctionRef | None:
        index = file.index
        function = index.enclosing_function(node)
        if not isinstance(function, cst.FunctionDef):
            return None
        cls = index.parent(index.parent(function) or function)
        if not isinstance(cls, cst.ClassDef):
            return None
        method = _class_method(file, cls, name)
        return (file, method) if method is not None else None

    def _built_with(
        self, file: SourceFile, obj: cst.BaseExpression, session: str
    ) -> tuple[SourceFile, cst.ClassDef, list[str]] | None:
        """When ``obj`` is an instance of a project class built with ``session`` (``Repo(db)``
        or a local assigned that call once): the class and the ``self`` attributes its
        ``__init__`` stores the session in."""
        value: cst.BaseExpression | None = obj
        if isinstance(obj, cst.Name):
            bindings = file.index.lookup(obj.value, obj)
            if len(bindings) != 1 or not isinstance(bindings[0].node, cst.Assign):
                return None
            value = bindings[0].value
        if not isinstance(value, cst.Call):
            return None
        target = self.model.callee(file, value)
        if not isinstance(target, Def) or not isinstance(target.binding.node, cst.ClassDef):
            return None
        class_file, cls = target.file, target.binding.node
        init = _class_method(class_file, cls, "__init__")
        params: list[str] = []
        if init is not None:
            positional = [*init.params.posonly_params, *init.params.params][1:]
            position = 0
            for arg in value.args:
                if arg.star:
                    break
                if arg.keyword is not None:
                    if dotted_name(arg.value) == session:
                        params.append(arg.keyword.value)
                    continue
                if position < len(positional) and dotted_name(arg.value) == session:
                    params.append(positional[position].name.value)
                position += 1
            attrs = _stored_attributes(class_file, init, params)
        else:  # a dataclass-style class: ``Repo(session=db)`` stores ``self.session``
            attrs = [
                arg.keyword.value
                for arg in value.args
                if arg.keyword is not None and dotted_name(arg.value) == session
            ]
        return (class_file, cls, attrs) if attrs else None


def _class_method(file: SourceFile, cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    bindings = file.index.scopes[cls].bindings.get(name)
    if bindings and isinstance(bindings[-1].node, cst.FunctionDef):
        return bindings[-1].node
    return None


def _stored_attributes(file: SourceFile, init: cst.FunctionDef, params: list[str]) -> list[str]:
    """The ``self.<attr>`` that ``__init__`` assigns one of ``params`` to."""
    attrs = []
    for assign in file.index.own_nodes(init, cst.Assign):
        if not (isinstance(assign.value, cst.Name) and assign.value.value in params):
            continue
        for target in assign.targets:
            dotted = dotted_name(target.target)
            if dotted is not None and dotted.startswith("self.") and dotted.count(".") == 1:
                attrs.append(dotted.split(".", 1)[1])
    for ann in file.index.own_nodes(init, cst.AnnAssign):
        if isinstance(ann.value, cst.Name) and ann.value.value in params:
            dotted = dotted_name(ann.target)
            if dotted is not None and dotted.startswith("self.") and dotted.count(".") == 1:
                attrs.append(dotted.split(".", 1)[1])
    return attrs
