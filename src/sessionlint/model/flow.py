"""A small, shared control-flow helper: a forward "may" analysis over a function body.

Rules describe *facts* (a pending write, an open session...) and a transfer function that
updates the set of facts for one *unit* (a small statement, or the header of a compound
statement: an ``if`` test, a ``for`` iterable, the items of a ``with``). The helper walks the
statements with Python's structure — branches join, loops run zero or more times, ``return``
ends a path normally, ``raise`` ends it abnormally (not counted), ``try`` handlers start from
no facts (exception paths do not count), ``finally`` applies to what flows through and to
the ``return``/``break``/``continue`` that leave through it — and
returns the facts that reach each normal exit (every ``return`` and the fall-through end).

Because the facts are joined by union, "some normal path ends with fact F" is exactly
"F is in the exit set": enough for the gen/kill questions of SL104 and SL201/SL202.

A rule that asks about an exception path seeds it with ``handler_entry``: the facts an
``except`` handler starts from (SL202: "this handler swallowed a flush error"). A rule that asks
"is X used again after this point on some path" records, in its transfer function, the units it
sees while the fact holds: every unit reachable from the point is visited with the fact (a
``break`` leaves the loop; only the end of the body and ``continue`` go round again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import libcst as cst

from sessionlint.model.index import ModuleIndex

F = TypeVar("F")
Facts = frozenset[F]
Transfer = Callable[[cst.CSTNode, frozenset[F]], frozenset[F]]
HandlerEntry = Callable[[cst.ExceptHandler | cst.ExceptStarHandler], frozenset[F]]


@dataclass
class FlowResult(Generic[F]):
    #: (the ``return`` statement, or None for the fall-through end, facts there)
    exits: list[tuple[cst.Return | None, frozenset[F]]] = field(default_factory=list)

    def exit_facts(self) -> frozenset[F]:
        result: frozenset[F] = frozenset()
        for _, facts in self.exits:
            result |= facts
        return result


def unit_of(index: ModuleIndex, node: cst.CSTNode) -> cst.CSTNode | None:
    """The flow unit containing ``node``: its small statement, or the compound statement
    whose header holds it. None when ``node`` sits in a nested function or class."""
    prev = node
    for anc in index.ancestors(node):
        if isinstance(anc, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            return prev
        if isinstance(anc, cst.If | cst.While) and prev is anc.test:
            return anc
        if isinstance(anc, cst.For) and (prev is anc.iter or prev is anc.target):
            return anc
        if isinstance(anc, cst.With) and prev is not anc.body:
            return anc
        if isinstance(anc, cst.Match) and prev is anc.subject:
            return anc
        if isinstance(anc, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            return None
        prev = anc
    return None


class _Walker(Generic[F]):
    def __init__(self, transfer: Transfer[F], handler_entry: HandlerEntry[F] | None = None) -> None:
        self.transfer = transfer
        self.handler_entry = handler_entry
        self.result: FlowResult[F] = FlowResult()
        #: Per enclosing loop: facts at its ``break`` statements, and at its ``continue``s.
        self.loop_breaks: list[list[frozenset[F]]] = []
        self.loop_continues: list[list[frozenset[F]]] = []
        #: The ``finally:`` blocks around the current statement, outermost first, and for
        #: each enclosing loop how many of them were already open when it started.
        self.finally_blocks: list[cst.Finally] = []
        self.loop_finally_depth: list[int] = []

    def block(
        self, body: Sequence[cst.BaseStatement] | cst.BaseSuite, facts: frozenset[F] | None
    ) -> frozenset[F] | None:
        statements: Sequence[cst.CSTNode]
        if isinstance(body, cst.IndentedBlock):
            statements = body.body
        elif isinstance(body, cst.SimpleStatementSuite):
            statements = [body]
        else:
            statements = body  # type: ignore[assignment]
        for statement in statements:
            if facts is None:
                return None
            facts = self.statement(statement, facts)
        return facts

    def statement(self, node: cst.CSTNode, facts: frozenset[F]) -> frozenset[F] | None:
        if isinstance(node, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            for small in node.body:
                facts = self.transfer(small, facts)
                if isinstance(small, cst.Return):
                    leaving = self.through_finally(facts, 0)
                    if leaving is not None:
                        self.result.exits.append((small, leaving))
                    return None
                if isinstance(small, cst.Raise):
                    return None
                if isinstance(small, cst.Break | cst.Continue):
                    is_break = isinstance(small, cst.Break)
                    exits = self.loop_breaks if is_break else self.loop_continues
                    if exits:
                        leaving = self.through_finally(facts, self.loop_finally_depth[-1])
                        if leaving is not None:
                            exits[-1].append(leaving)
                    return None
            return facts
        if isinstance(node, cst.If):
            head = self.transfer(node, facts)
            then = self.block(node.body, head)
            if node.orelse is None:
                other: frozenset[F] | None = head
            elif isinstance(node.orelse, cst.If):
                other = self.statement(node.orelse, head)
            else:
                other = self.block(node.orelse.body, head)
            return _join(then, other)
        if isinstance(node, cst.For | cst.While):
            return self.loop(node, facts)
        if isinstance(node, cst.With):
            return self.block(node.body, self.transfer(node, facts))
        if isinstance(node, cst.Try | cst.TryStar):
            return self.try_(node, facts)
        if isinstance(node, cst.Match):
            head = self.transfer(node, facts)
            # No case may match, unless one is irrefutable (``case _:``, ``case x:``).
            out: frozenset[F] | None = None if any(map(_irrefutable, node.cases)) else head
            for case in node.cases:
                out = _join(out, self.block(case.body, head))
            return out
        return facts  # nested def/class: no effect on this function's facts

    def loop(self, node: cst.For | cst.While, facts: frozenset[F]) -> frozenset[F] | None:
        head = self.transfer(node, facts)
        infinite = (
            isinstance(node, cst.While)
            and isinstance(node.test, cst.Name)
            and node.test.value == "True"
        )
        self.loop_breaks.append([])
        self.loop_continues.append([])
        self.loop_finally_depth.append(len(self.finally_blocks))
        current = head
        for _ in range(3):  # facts only grow: a few rounds reach the fixpoint
            after_body = self.block(node.body, current)
            joined = _join(head, after_body)
            for exit_facts in self.loop_continues[-1]:  # ``continue`` goes round again
                joined = _join(joined, exit_facts)
            assert joined is not None
            if joined == current:
                break
            current = joined
        breaks = self.loop_breaks.pop()
        self.loop_continues.pop()
        self.loop_finally_depth.pop()
        out: frozenset[F] | None = None if infinite else current
        if node.orelse is not None and out is not None:
            out = self.block(node.orelse.body, out)
        for exit_facts in breaks:
            out = _join(out, exit_facts)
        return out

    def through_finally(self, facts: frozenset[F], depth: int) -> frozenset[F] | None:
        """Facts after the ``finally:`` blocks a jump leaves (innermost first), down to
        ``depth``; None when one of them raises."""
        saved = self.finally_blocks
        try:
            for i in range(len(saved) - 1, depth - 1, -1):
                self.finally_blocks = saved[:i]
                result = self.block(saved[i].body, facts)
                if result is None:
                    return None
                facts = result
        finally:
            self.finally_blocks = saved
        return facts

    def try_(self, node: cst.Try | cst.TryStar, facts: frozenset[F]) -> frozenset[F] | None:
        if node.finalbody is not None:
            self.finally_blocks.append(node.finalbody)
        body = self.block(node.body, facts)
        if node.orelse is not None and body is not None:
            body = self.block(node.orelse.body, body)
        out = body
        for handler in node.handlers:
            # Exception paths do not count: a handler starts from no facts (or from what
            # the rule seeds it with).
            start: frozenset[F] = (
                self.handler_entry(handler) if self.handler_entry is not None else frozenset()
            )
            out = _join(out, self.block(handler.body, start))
        if node.finalbody is not None:
            self.finally_blocks.pop()
            if out is not None:
                out = self.block(node.finalbody.body, out)
        return out


def _irrefutable(case: cst.MatchCase) -> bool:
    pattern = case.pattern
    return case.guard is None and isinstance(pattern, cst.MatchAs) and pattern.pattern is None


def _join(a: frozenset[F] | None, b: frozenset[F] | None) -> frozenset[F] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def analyze(
    function: cst.FunctionDef,
    transfer: Transfer[F],
    entry: frozenset[F] = frozenset(),
    *,
    handler_entry: HandlerEntry[F] | None = None,
) -> FlowResult[F]:
    """Run ``transfer`` over ``function``'s body; return the facts at each normal exit.

    ``handler_entry(handler)`` gives the facts an ``except`` handler starts from (default:
    none — exception paths do not count)."""
    walker: _Walker[F] = _Walker(transfer, handler_entry)
    end = walker.block(function.body, entry)
    if end is not None:
        walker.result.exits.append((None, end))
    return walker.result
