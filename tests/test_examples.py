"""The example app in ``examples/`` reports exactly what its ``# expect: SLxxx`` comments say,
and ``examples/README.md`` lists every one of those findings."""

from __future__ import annotations

import re
import tokenize
from collections import Counter
from pathlib import Path

import pytest

from sessionlint.api import lint_paths

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
SHOP_DIR = EXAMPLES_DIR / "shop"
CORE_CODES = {"SL101", "SL102", "SL201", "SL301"}

_EXPECT_START = re.compile(r"#\s*expect\b")
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>SL\d{3}(?:\s*,\s*SL\d{3})*)\s*")


def _expectations() -> set[tuple[str, int, str]]:
    """(path relative to examples/, line, code) from the COMMENT tokens of every example file."""
    found: set[tuple[str, int, str]] = set()
    for path in sorted(EXAMPLES_DIR.rglob("*.py")):
        rel = path.relative_to(EXAMPLES_DIR).as_posix()
        with path.open("rb") as fh:
            for tok in tokenize.tokenize(fh.readline):
                if tok.type != tokenize.COMMENT or not _EXPECT_START.match(tok.string):
                    continue
                match = _EXPECT.fullmatch(tok.string)
                assert match, f"{rel}:{tok.start[0]}: malformed expectation {tok.string!r}"
                found |= {(rel, tok.start[0], c) for c in re.findall(r"SL\d{3}", match["codes"])}
    return found


def _relative(path: str) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    return p.resolve().relative_to(EXAMPLES_DIR.resolve()).as_posix()


def _line(rel: str, line: int) -> str:
    lines = (EXAMPLES_DIR / rel).read_text(encoding="utf-8").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else "<no such line>"


def test_example_app_is_a_project() -> None:
    text = (SHOP_DIR / "pyproject.toml").read_text(encoding="utf-8")
    assert '"fastapi>=0.115"' in text
    assert '"sqlalchemy>=2.0"' in text


def test_examples_mark_each_core_pitfall() -> None:
    codes = Counter(code for _, _, code in _expectations())
    missing = sorted(CORE_CODES - set(codes))
    assert not missing, f"examples/ should show each core pitfall; missing {missing}"
    too_many = sorted(code for code, n in codes.items() if n > 2)
    assert not too_many, f"each pitfall once or twice, not more: {too_many}"


def test_examples_report_exactly_the_marked_findings() -> None:
    result = lint_paths([EXAMPLES_DIR])
    actual = [(_relative(d.path), d.line, d.code) for d in result.diagnostics]
    duplicates = sorted(f for f, n in Counter(actual).items() if n > 1)
    assert not duplicates, f"reported more than once: {duplicates}"

    expected = _expectations()
    missing = sorted(expected - set(actual))
    unexpected = sorted(set(actual) - expected)
    if missing or unexpected:
        messages = {(_relative(d.path), d.line, d.code): d.message for d in result.diagnostics}
        report = []
        if missing:
            report.append("missing (expected, not reported):")
            report += [f"  {r}:{ln}: {c}    {_line(r, ln)}" for r, ln, c in missing]
        if unexpected:
            report.append("unexpected (reported, not expected):")
            report += [
                f"  {r}:{ln}: {c}    {_line(r, ln)}\n      -> {messages[(r, ln, c)]}"
                for r, ln, c in unexpected
            ]
        pytest.fail("\n".join(report), pytrace=False)

    for d in result.diagnostics:
        assert d.message.strip(), f"{d.path}:{d.line}: {d.code} has an empty message"
        assert d.column >= 1, f"{d.path}:{d.line}: {d.code} column {d.column} is not 1-based"


def test_readme_lists_every_finding() -> None:
    """The README's table names each marked finding as `examples/<path>:<line>:` and its code."""
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `examples/")]
    expected = _expectations()
    missing = []
    for rel, line, code in sorted(expected):
        prefix = f"| `examples/{rel}:{line}:"
        if not any(row.startswith(prefix) and f"| {code} " in row for row in rows):
            missing.append(f"examples/{rel}:{line} {code}")
    assert not missing, f"examples/README.md does not list: {missing}"
    assert len(rows) == len(expected), "the README table lists findings that are not marked"


def test_messages_stay_short_on_the_finding_line() -> None:
    """The finding line stays readable (ruff-style, ~120 characters); the long explanation is
    on the help line and the rule page. Only names from the user's code (exception classes,
    attribute chains, the call path of SL501) can make a message longer, up to 150."""
    result = lint_paths([EXAMPLES_DIR, EXAMPLES_DIR.parent / "tests" / "fixtures"])
    lengths = [len(f"{d.code} {d.message}") for d in result.diagnostics]
    assert len(lengths) > 150
    assert max(lengths) <= 150, max(lengths)
    assert sum(n > 120 for n in lengths) <= len(lengths) // 20  # at most 5 % above 120
