"""The explicit, sorted tuple of every rule sessionlint knows."""

from __future__ import annotations

from sessionlint.rule import Rule
from sessionlint.rules.blocking_session_in_async import BlockingSessionInAsync
from sessionlint.rules.dependency_without_cleanup import DependencyWithoutCleanup
from sessionlint.rules.parse_error import ParseError
from sessionlint.rules.shared_session import SharedSession
from sessionlint.rules.write_without_commit import WriteWithoutCommit

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        (
            ParseError,
            SharedSession,
            DependencyWithoutCleanup,
            WriteWithoutCommit,
            BlockingSessionInAsync,
        ),
        key=lambda rule: rule.code,
    )
)

RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}

if len(RULES_BY_CODE) != len(ALL_RULES):  # pragma: no cover - a packaging mistake
    raise RuntimeError("two rules share a code")
