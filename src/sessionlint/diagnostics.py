"""Plain data returned by the API: findings, fixes and their safety."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a finding read from the cache must not cost importing LibCST
    import libcst as cst

__all__ = ["Applicability", "Diagnostic", "Fix", "Replacement", "Severity"]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


class Applicability(str, enum.Enum):
    """How much a fix can be trusted (ruff's model)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


if TYPE_CHECKING:
    #: What an old node is replaced with: a node, a removal, or several statements.
    Replacement = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]
else:

    def __getattr__(name: str) -> object:
        """``Replacement`` for the modules that build fixes, without importing LibCST here."""
        if name == "Replacement":
            import libcst as cst

            return cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Fix:
    """A fix offered for a finding.

    ``applicability`` says when it is applied; ``message`` says what it does. ``replacements``
    are (old node -> new node) pairs: the old node is a node of the tree the rule saw
    (matched by identity), the new one a node, ``cst.RemovalSentinel.REMOVE`` or a
    ``cst.FlattenSentinel`` (to insert statements next to a statement). The engine
    (:mod:`sessionlint.fixes`) merges non-overlapping fixes into one pass. A display-only
    fix has no replacements: its message is the suggestion.
    """

    applicability: Applicability
    message: str
    replacements: tuple[tuple[cst.CSTNode, Replacement], ...] = ()
    imports: tuple[tuple[str, str | None], ...] = ()
    """Imports the fix needs, as (module, name) pairs (name ``None`` for ``import module``)."""
    #: A detached copy (:meth:`detached`) of a fix that had replacements.
    applies: bool = field(default=False, compare=False)

    @property
    def is_applicable(self) -> bool:
        if self.applicability is Applicability.DISPLAY_ONLY:
            return False
        return self.applies or bool(self.replacements)

    def detached(self) -> Fix:
        """The fix without its tree nodes (to send a finding to another process or store
        it): it still says whether it applies, but only the process that holds the tree can
        apply it."""
        return Fix(self.applicability, self.message, applies=self.is_applicable)

    def to_dict(self) -> dict[str, Any]:
        return {"applicability": self.applicability.value, "message": self.message}


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where, which rule, what is wrong, and the fix offered (if any).

    Lines and columns are 1-based, like every editor and the JSON output.
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    severity: Severity
    message: str
    url: str | None = None
    fix: Fix | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)

    def detached(self) -> Diagnostic:
        """This finding with a :meth:`Fix.detached` fix (picklable, no tree nodes)."""
        if self.fix is None or not (self.fix.replacements or self.fix.imports):
            return self
        return replace(self, fix=self.fix.detached())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "url": self.url,
            "fix": self.fix.to_dict() if self.fix is not None else None,
        }
