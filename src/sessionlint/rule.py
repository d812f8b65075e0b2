"""The Rule base class: one rule = one small class with its metadata and its docs.

A rule's class docstring *is* its documentation page (``docs/rules/<code>.md`` is generated
from it, see :mod:`sessionlint.docgen`). The metadata is validated when the subclass is defined,
so a malformed rule cannot load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

from sessionlint.diagnostics import Applicability, Fix, Severity

if TYPE_CHECKING:
    from sessionlint.context import FileContext

__all__ = ["DOCS_URL", "Report", "Rule"]

#: Where the rule pages are published; ``{code}`` is replaced by the rule code.
DOCS_URL = "https://github.com/sessionlint/sessionlint/blob/main/docs/rules/{code}.md"

_CODE = re.compile(r"^SL[0-9]{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


@dataclass(frozen=True)
class Report:
    """What a rule yields: the node to report at, the message, and optionally a fix.

    ``severity`` overrides the rule's default (version-aware rules use it).
    """

    node: cst.CSTNode
    message: str
    fix: Fix | None = None
    severity: Severity | None = None


class Rule:
    """Base class of every rule.

    Subclasses set the class attributes below and implement :meth:`check`, which queries the
    shared semantic model (``ctx.model``) and the per-file node index (``ctx.index``) and yields
    :class:`Report` objects. Rules never walk the tree themselves and never re-derive what a
    session, a dependency or a route handler is.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[Severity]
    #: The best fix the rule can offer (``None``: no fix at all).
    fix_applicability: ClassVar[Applicability | None] = None
    #: A display-only suggestion attached to findings that carry no fix of their own.
    suggestion: ClassVar[str | None] = None
    #: Enabled unless the user deselects it.
    default_enabled: ClassVar[bool] = True
    #: The harm happens while serving requests: the rule stays silent in test code,
    #: migrations and scripts (:meth:`sessionlint.model.semantic.Model.code_kind`); the
    #: engine skips it there.
    request_time_harm: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for attr in ("code", "name", "summary", "severity"):
            if attr not in cls.__dict__:
                raise TypeError(f"rule {cls.__name__} must define {attr!r}")
        if not _CODE.match(cls.code):
            raise TypeError(f"rule {cls.__name__}: bad code {cls.code!r}")
        if not _NAME.match(cls.name):
            raise TypeError(f"rule {cls.__name__}: name {cls.name!r} is not kebab-case")
        if not isinstance(cls.severity, Severity):
            raise TypeError(f"rule {cls.__name__}: severity must be a Severity")
        doc = cls.__doc__ or ""
        missing = [s for s in REQUIRED_SECTIONS if s not in doc]
        if missing:
            raise TypeError(f"rule {cls.code}: docstring lacks sections {missing}")

    @classmethod
    def url(cls) -> str:
        return DOCS_URL.format(code=cls.code)

    def check(self, ctx: FileContext) -> Iterator[Report]:
        raise NotImplementedError
