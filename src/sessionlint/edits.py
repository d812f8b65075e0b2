"""Small helpers for rules that build fixes (node replacements, see :mod:`sessionlint.fixes`).

New code is built from LibCST constructors, never from source text with ``\\n`` and four
spaces: a ``Newline()`` and an ``IndentedBlock(indent=None)`` render with the module's own
line ending and indentation (CRLF stays CRLF, tabs stay tabs).
"""

from __future__ import annotations

import libcst as cst

from sessionlint.model.index import ModuleIndex

__all__ = [
    "call_statement",
    "is_method_call_statement",
    "method_call_expr",
    "statement_in_block",
    "top_statement",
]


def method_call_expr(receiver: str, method: str, *, awaited: bool = False) -> cst.BaseExpression:
    """``receiver.method()`` (``await receiver.method()`` when ``awaited``)."""
    call = cst.Call(func=cst.Attribute(value=cst.Name(receiver), attr=cst.Name(method)))
    return cst.Await(expression=call) if awaited else call


def call_statement(receiver: str, method: str, *, awaited: bool = False) -> cst.SimpleStatementLine:
    """The statement ``receiver.method()`` on a line of its own."""
    expr = method_call_expr(receiver, method, awaited=awaited)
    return cst.SimpleStatementLine(body=[cst.Expr(expr)])


def is_method_call_statement(
    statement: cst.CSTNode, receiver: str, method: str, *, awaited: bool = False
) -> bool:
    """``statement`` is exactly ``receiver.method()`` (or ``await receiver.method()``)."""
    if not (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
    ):
        return False
    value = statement.body[0].value
    if awaited:
        if not isinstance(value, cst.Await):
            return False
        value = value.expression
    return (
        isinstance(value, cst.Call)
        and not value.args
        and isinstance(value.func, cst.Attribute)
        and isinstance(value.func.value, cst.Name)
        and value.func.value.value == receiver
        and value.func.attr.value == method
    )


def statement_in_block(
    index: ModuleIndex, node: cst.CSTNode
) -> tuple[cst.IndentedBlock, cst.SimpleStatementLine] | None:
    """The simple statement line holding ``node`` and the indented block it sits in (None for a
    one-line suite such as ``if x: yield db``)."""
    for anc in (node, *index.ancestors(node)):
        if isinstance(anc, cst.SimpleStatementLine):
            parent = index.parent(anc)
            return (parent, anc) if isinstance(parent, cst.IndentedBlock) else None
        if isinstance(anc, cst.BaseCompoundStatement | cst.SimpleStatementSuite):
            return None
    return None


def top_statement(index: ModuleIndex, node: cst.CSTNode, block: cst.IndentedBlock) -> int | None:
    """The position in ``block.body`` of the statement that holds ``node`` (None if outside)."""
    prev: cst.CSTNode = node
    for anc in index.ancestors(node):
        if anc is block:
            for position, statement in enumerate(block.body):
                if statement is prev:
                    return position
            return None
        prev = anc
    return None
