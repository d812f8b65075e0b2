"""Adopting sessionlint on legacy code: ``--add-noqa`` and baselines.

``add_noqa`` appends ``# noqa: SLxxx`` to every reported line (merged into a ``# noqa:`` list
already there, other tools' codes kept), like ``ruff check --add-noqa``. A line that ends inside
a multi-line string or with a backslash cannot carry a comment: it is left alone and listed.

A baseline is a JSON file of the findings a team accepts for now. Each entry matches on the
file's path (relative to the baseline's folder), the code and a fingerprint of the reported
source line (stripped) and of the function it is in, plus an occurrence number for identical
fingerprints in one file: not on line numbers, so the entries survive edits above or below.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sessionlint.diagnostics import Diagnostic

__all__ = [
    "BaselineError",
    "NoqaResult",
    "add_noqa",
    "apply_baseline",
    "baseline_keys",
    "write_baseline",
]

BASELINE_VERSION = 1

#: ``(path, 1-based line) -> that source line``, or None.
ReadLine = Callable[[str, int], str | None]

_NOQA_LIST = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*)", re.I)
_BLANKET_NOQA = re.compile(r"#\s*noqa(?!:)", re.I)
_DEF = re.compile(r"^(?P<indent>\s*)(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")


# -- --add-noqa --------------------------------------------------------------------------------


@dataclass
class NoqaResult:
    """What ``add_noqa`` did: the new text per file, and the findings it could not mark."""

    texts: dict[str, str] = field(default_factory=dict)
    added: int = 0
    skipped: list[Diagnostic] = field(default_factory=list)


def _lines_without_room(text: str) -> set[int]:
    """Lines that cannot end with a comment: inside a multi-line string (or f-string), or
    continued with a backslash."""
    blocked: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in (tokenize.NL, tokenize.NEWLINE) and token.end[0] > token.start[0]:
                blocked.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return set(range(1, text.count("\n") + 2))
    for number, line in enumerate(text.splitlines(), start=1):
        if line.rstrip().endswith("\\"):
            blocked.add(number)
    return blocked


def _comment_start(line: str, number: int, comments: dict[int, int]) -> int | None:
    column = comments.get(number)
    return column if column is not None and column < len(line) else None


def _with_noqa(line: str, codes: Sequence[str], comment_at: int | None) -> str:
    """``line`` (without its line ending) with ``codes`` in its ``# noqa:`` list."""
    if comment_at is not None:
        comment = line[comment_at:]
        if _BLANKET_NOQA.search(comment):
            return line  # a blanket noqa already silences everything
        match = _NOQA_LIST.search(comment)
        if match is not None:
            present = re.split(r"[\s,]+", match.group("codes").strip())
            merged = present + [c for c in codes if c not in present]
            start, end = comment_at + match.start("codes"), comment_at + match.end("codes")
            return line[:start] + ", ".join(merged) + line[end:]
    return f"{line.rstrip()}  # noqa: {', '.join(codes)}"


def add_noqa(diagnostics: Iterable[Diagnostic], read_text: Callable[[str], str]) -> NoqaResult:
    """Mark every finding's line with ``# noqa: <code>``; ``read_text(path)`` gives the file's
    current text. Idempotent: the marked findings are silenced, so a second run finds none."""
    by_path: dict[str, dict[int, list[Diagnostic]]] = {}
    for d in diagnostics:
        if d.code == "SL001":  # a file that does not parse cannot be marked
            continue
        by_path.setdefault(d.path, {}).setdefault(d.line, []).append(d)
    result = NoqaResult()
    for path, lines in sorted(by_path.items()):
        text = read_text(path)
        blocked = _lines_without_room(text)
        comments: dict[int, int] = {}
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if token.type == tokenize.COMMENT:
                    comments[token.start[0]] = token.start[1]
        except (tokenize.TokenError, SyntaxError):
            result.skipped.extend(d for found in lines.values() for d in found)
            continue
        physical = text.splitlines(keepends=True)
        for number, found in sorted(lines.items()):
            if number in blocked or not 0 < number <= len(physical):
                result.skipped.extend(found)
                continue
            raw = physical[number - 1]
            body = raw.rstrip("\r\n")
            ending = raw[len(body) :]
            codes = sorted({d.code for d in found})
            new = _with_noqa(body, codes, _comment_start(body, number, comments))
            if new != body:
                physical[number - 1] = new + ending
                result.added += len(codes)
        new_text = "".join(physical)
        if new_text != text:
            result.texts[path] = new_text
    return result


# -- baselines ---------------------------------------------------------------------------------


class BaselineError(Exception):
    """A baseline file that cannot be read or is not a sessionlint baseline."""


def _relative(path: str, folder: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(folder).as_posix()
    except ValueError:
        return Path(os.path.relpath(absolute, folder)).as_posix()


def _enclosing_name(path: str, line: int, read_line: ReadLine) -> str:
    """The name of the innermost ``def``/``class`` that contains ``line`` (by indentation:
    the nearest line above that is indented less and opens a definition), '' at module
    level. Only a fingerprint: it must be stable, not exact."""
    reported = read_line(path, line) or ""
    indent = len(reported) - len(reported.lstrip())
    for number in range(line - 1, 0, -1):
        if indent == 0:
            return ""
        text = read_line(path, number)
        if text is None or not text.strip() or text.lstrip().startswith("#"):
            continue
        level = len(text) - len(text.lstrip())
        if level >= indent:
            continue
        match = _DEF.match(text)
        if match is not None:
            return match.group("name")
        indent = level  # an enclosing block (if/for/with/try...): keep looking outwards
    return ""


def baseline_keys(
    diagnostics: Sequence[Diagnostic], folder: Path, read_line: ReadLine
) -> list[tuple[tuple[str, str, str, int], Diagnostic]]:
    """Each finding with its key ``(path, code, fingerprint, occurrence)``."""
    keyed: list[tuple[tuple[str, str, str, int], Diagnostic]] = []
    seen: Counter[tuple[str, str, str]] = Counter()
    for d in sorted(diagnostics, key=lambda d: d.sort_key):
        source = (read_line(d.path, d.line) or "").strip()
        function = _enclosing_name(d.path, d.line, read_line)
        blob = "\0".join((d.code, function, source))
        fingerprint = hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]
        base = (_relative(d.path, folder), d.code, fingerprint)
        keyed.append(((*base, seen[base]), d))
        seen[base] += 1
    return keyed


def write_baseline(file: Path, diagnostics: Sequence[Diagnostic], read_line: ReadLine) -> int:
    """Write the findings to ``file`` (JSON, sorted, stable); returns how many."""
    folder = Path(os.path.abspath(file)).parent
    entries = [
        {"path": path, "code": code, "fingerprint": fingerprint, "occurrence": occurrence}
        for (path, code, fingerprint, occurrence), _ in baseline_keys(
            diagnostics, folder, read_line
        )
    ]
    entries.sort(key=lambda e: (e["path"], e["code"], e["fingerprint"], e["occurrence"]))
    data = {"sessionlint-baseline": BASELINE_VERSION, "findings": entries}
    temporary = file.with_name(f".{file.name}.tmp{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, file)
    return len(entries)


def apply_baseline(
    file: Path, diagnostics: Sequence[Diagnostic], read_line: ReadLine
) -> list[Diagnostic]:
    """The findings that are not in the baseline ``file``."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file not found: {file}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{file}: not a sessionlint baseline ({exc})") from None
    if not isinstance(data, dict) or data.get("sessionlint-baseline") != BASELINE_VERSION:
        raise BaselineError(f"{file}: not a sessionlint baseline (version {BASELINE_VERSION})")
    try:
        known = {
            (e["path"], e["code"], e["fingerprint"], int(e["occurrence"])) for e in data["findings"]
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise BaselineError(f"{file}: malformed entry ({exc})") from None
    folder = Path(os.path.abspath(file)).parent
    return [d for key, d in baseline_keys(diagnostics, folder, read_line) if key not in known]
