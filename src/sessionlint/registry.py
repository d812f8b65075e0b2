"""The explicit, sorted tuple of every rule sessionlint knows."""

from __future__ import annotations

from sessionlint.rule import Rule

ALL_RULES: tuple[type[Rule], ...] = ()

RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
