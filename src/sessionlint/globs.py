"""ruff-style globs for ``per-file-ignores``, matched in time linear in the pattern and path.

``*`` and ``?`` also match ``/`` (like ruff's globset), ``**/`` matches any number of folders,
``[...]`` is a character class (``[!...]``/``[^...]`` negated, ``a-z`` ranges) and ``{a,b}`` an
alternation. A backtracking regular expression takes exponential time on a pattern with many
``*`` (``*a*a*a*a*...b``): here the pattern is compiled once into tokens and matched by
simulating all positions at once (an NFA), so each match costs at most
``len(tokens) * len(path)`` steps.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

__all__ = ["MAX_ALTERNATIVES", "Glob", "GlobError", "compile_glob"]

#: A pattern whose ``{a,b}`` groups expand to more alternatives than this is refused.
MAX_ALTERNATIVES = 256


class GlobError(ValueError):
    """An invalid glob (a reversed range such as ``[z-a]``, too many alternatives)."""


# Tokens: ("lit", char) | ("any",) | ("class", negated, ranges) | ("star",) | ("dirs",)
_Token = tuple[object, ...]


def _expand(pattern: str) -> list[str]:
    """Expand ``{a,b}`` groups (nested too); a ``{`` without its ``}`` is literal."""

    def group_end(start: int) -> tuple[int, list[int]] | None:
        depth, i = 0, start
        commas: list[int] = []
        while i < len(pattern):
            c = pattern[i]
            if c == "\\":
                i += 2
                continue
            if c == "[":
                close = _class_end(pattern, i)
                if close is not None:
                    i = close + 1
                    continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return i, commas
            elif c == "," and depth == 1:
                commas.append(i)
            i += 1
        return None

    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            close = _class_end(pattern, i)
            if close is not None:
                i = close + 1
                continue
        if c == "{":
            found = group_end(i)
            if found is not None:
                end, commas = found
                bounds = [i, *commas, end]
                head, tail = pattern[:i], pattern[end + 1 :]
                results: list[str] = []
                for a, b in itertools.pairwise(bounds):
                    for option in _expand(pattern[a + 1 : b]):
                        for rest in _expand(tail):
                            results.append(head + option + rest)
                            if len(results) > MAX_ALTERNATIVES:
                                raise GlobError(
                                    f"its {{...}} groups expand to more than {MAX_ALTERNATIVES} "
                                    "alternatives"
                                )
                return results
        i += 1
    return [pattern]


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the ``]`` closing the class that opens at ``start`` (a ``]`` right after
    ``[`` or ``[!`` is a member), or None when there is none."""
    i = start + 1
    if pattern[i : i + 1] in ("!", "^"):
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    end = pattern.find("]", i)
    return end if end != -1 else None


def _tokens(pattern: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**/", i):
                if not out or out[-1] != ("dirs",):
                    out.append(("dirs",))
                i += 3
                continue
            while i < n and pattern[i] == "*":
                i += 1
            if not out or out[-1] != ("star",):
                out.append(("star",))
            continue
        if c == "?":
            out.append(("any",))
        elif c == "[" and (end := _class_end(pattern, i)) is not None:
            body = pattern[i + 1 : end]
            negated = body[:1] in ("!", "^")
            if negated:
                body = body[1:]
            ranges: list[tuple[str, str]] = []
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    low, high = body[k], body[k + 2]
                    if low > high:
                        raise GlobError(f"the range {low}-{high} in [{body}] is reversed")
                    ranges.append((low, high))
                    k += 3
                else:
                    ranges.append((body[k], body[k]))
                    k += 1
            out.append(("class", negated, tuple(ranges)))
            i = end + 1
            continue
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(("lit", pattern[i]))
        else:
            out.append(("lit", c))
        i += 1
    return out


def _accepts(token: _Token, char: str) -> bool:
    kind = token[0]
    if kind == "lit":
        return token[1] == char
    if kind == "any":
        return True
    if kind == "class":
        ranges = token[2]
        assert isinstance(ranges, tuple)
        inside = any(low <= char <= high for low, high in ranges)
        return inside != token[1]
    return False


@dataclass(frozen=True)
class Glob:
    """A compiled glob: one token list per ``{a,b}`` alternative."""

    pattern: str
    alternatives: tuple[tuple[_Token, ...], ...]

    def match(self, text: str) -> bool:
        """Whether the glob matches the whole of ``text``."""
        return any(_match(tokens, text) for tokens in self.alternatives)


# NFA states: (token index, inside a ``**/`` that has consumed characters).
_State = tuple[int, bool]


def _closure(tokens: tuple[_Token, ...], states: set[_State]) -> set[_State]:
    """Add the states reachable without consuming: ``*`` and ``**/`` may match nothing."""
    stack = list(states)
    while stack:
        index, inside = stack.pop()
        if not inside and index < len(tokens) and tokens[index][0] in ("star", "dirs"):
            nxt = (index + 1, False)
            if nxt not in states:
                states.add(nxt)
                stack.append(nxt)
    return states


def _match(tokens: tuple[_Token, ...], text: str) -> bool:
    states = _closure(tokens, {(0, False)})
    end = len(tokens)
    for char in text:
        following: set[_State] = set()
        for index, _inside in states:
            if index == end:
                continue
            token = tokens[index]
            if token[0] == "star":
                following.add((index, False))
            elif token[0] == "dirs":
                following.add((index, True))  # ``.*`` then ``/``: keep consuming...
                if char == "/":
                    following.add((index + 1, False))  # ...or end the folders here
            elif _accepts(token, char):
                following.add((index + 1, False))
        if not following:
            return False
        states = _closure(tokens, following)
    return (end, False) in states


@functools.lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Glob:
    """Compile ``pattern`` once; raises :class:`GlobError` when it is invalid."""
    alternatives = tuple(tuple(_tokens(p)) for p in _expand(pattern))
    return Glob(pattern, alternatives)
