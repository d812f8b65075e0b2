"""What a run's analysis looked at, as plain data the findings cache can store.

Kept apart from :mod:`sessionlint.model.project` so that :mod:`sessionlint.cache` can read
and test it without importing LibCST (a run answered from the cache imports none of it).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

__all__ = ["TextQuery", "Trace"]


@dataclass(frozen=True)
class TextQuery:
    """A cheap test of a module's text, run before parsing it for a project-wide question:
    every word of ``words`` occurs and ``pattern`` (a regular expression, with
    ``re.MULTILINE``) matches. Plain data, so the findings cache can store the queries a run
    asked and test an edited file against them later."""

    words: tuple[str, ...] = ()
    pattern: str | None = None

    def __call__(self, text: str) -> bool:
        if not all(word in text for word in self.words):
            return False
        return self.pattern is None or _compiled(self.pattern).search(text) is not None


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


@dataclass
class Trace:
    """Where the facts of a run came from, for the findings cache (:mod:`sessionlint.cache`):
    every module one module's analysis looked into (an import resolved from ``importer`` to
    ``target``, by real path), the files a project-wide text query matched, and the
    queries. A file's findings can change only when a file reachable from it through
    ``edges`` changes, or a file the project-wide facts came from (``matched`` and what is
    reachable from them), or a file's text starts matching one of ``queries``."""

    edges: dict[str, set[str]] = field(default_factory=dict)
    matched: set[str] = field(default_factory=set)
    queries: set[TextQuery] = field(default_factory=set)

    def since(self, earlier: Trace) -> Trace:
        """What this trace holds that ``earlier`` does not."""
        edges = {}
        for source, targets in self.edges.items():
            new = targets - earlier.edges.get(source, set())
            if new:
                edges[source] = new
        return Trace(edges, self.matched - earlier.matched, self.queries - earlier.queries)

    def copy(self) -> Trace:
        return Trace(
            {s: set(t) for s, t in self.edges.items()}, set(self.matched), set(self.queries)
        )

    def merge(self, other: Trace) -> None:
        for source, targets in other.edges.items():
            self.edges.setdefault(source, set()).update(targets)
        self.matched |= other.matched
        self.queries |= other.queries
