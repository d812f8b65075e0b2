"""Fixture-driven tests for the rules.

Every fixture states what it must produce with inline comments::

    db = SessionLocal()  # expect: SL101
    db.commit()  # expect: SL301, SL201

A finding is expected on exactly the lines that carry an ``# expect:`` comment (read from the
tokenizer's COMMENT tokens, so text inside strings and docstrings never counts), and on no other
line. ``tests/fixtures/SL*.py`` are linted one by one with :func:`lint_source` (each is a
one-module project); every directory under ``tests/fixtures/projects/`` is linted as a whole
with :func:`lint_paths` (it has its own ``pyproject.toml``).

The comparison is staged, like flake8-async's: first the set of (file, line, code) must equal the
expectations exactly, then every finding must be well-formed.
"""

from __future__ import annotations

import io
import re
import shutil
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.diagnostics import Diagnostic
from sessionlint.files import is_project_root
from sessionlint.registry import ALL_RULES

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = TESTS_DIR / "fixtures"
PROJECTS_DIR = FIXTURES_DIR / "projects"

#: A comment that starts like an expectation must be exactly one.
_EXPECT_START = re.compile(r"#\s*expect\b")
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>SL\d{3}(?:\s*,\s*SL\d{3})*)\s*")
_CODE = re.compile(r"SL\d{3}")
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --------------------------------------------------------------------------------------------
# Reading expectations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Finding:
    """What is compared: a file (relative, posix), a line and a code."""

    file: str
    line: int
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}"


@dataclass(frozen=True)
class ExpectComment:
    line: int
    start_col: int
    end_col: int
    codes: tuple[str, ...]


def _source_text(data: bytes) -> str:
    """Decode a fixture the way Python does (PEP 263 cookie, BOM)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def expect_comments(text: str, where: str = "<string>") -> list[ExpectComment]:
    """The ``# expect: SLxxx[, SLyyy]`` comments of a module, from COMMENT tokens only."""
    found: list[ExpectComment] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT or not _EXPECT_START.match(tok.string):
                continue
            match = _EXPECT.fullmatch(tok.string)
            if match is None:
                raise ValueError(f"{where}:{tok.start[0]}: malformed expectation {tok.string!r}")
            codes = tuple(_CODE.findall(match["codes"]))
            if len(set(codes)) != len(codes):
                raise ValueError(f"{where}:{tok.start[0]}: duplicate code in {tok.string!r}")
            found.append(ExpectComment(tok.start[0], tok.start[1], tok.end[1], codes))
    except (tokenize.TokenError, SyntaxError) as exc:  # IndentationError is a SyntaxError
        raise ValueError(f"{where}: fixtures must tokenize to carry expectations: {exc}") from exc
    return found


def expectations(text: str, file: str) -> set[Finding]:
    return {Finding(file, c.line, code) for c in expect_comments(text, file) for code in c.codes}


def project_expectations(root: Path) -> set[Finding]:
    found: set[Finding] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        found |= expectations(_source_text(path.read_bytes()), rel)
    return found


def rewrite_expectations(text: str, replacement: Callable[[tuple[str, ...]], str]) -> str:
    """Replace every ``# expect: ...`` comment by ``replacement(codes)``, in place."""
    lines = text.splitlines(keepends=True)
    for comment in expect_comments(text):
        line = lines[comment.line - 1]
        lines[comment.line - 1] = (
            line[: comment.start_col] + replacement(comment.codes) + line[comment.end_col :]
        )
    return "".join(lines)


# --------------------------------------------------------------------------------------------
# Comparing findings
# --------------------------------------------------------------------------------------------


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        p = Path.cwd() / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise AssertionError(f"finding outside the linted project {root}: {path}") from None


def _source_line(root: Path | None, finding: Finding, texts: dict[str, str]) -> str:
    text = texts.get(finding.file)
    if text is None and root is not None and (root / finding.file).is_file():
        text = _source_text((root / finding.file).read_bytes())
    if text is None:
        return ""
    lines = text.splitlines()
    return lines[finding.line - 1].strip() if 0 < finding.line <= len(lines) else "<no such line>"


def assert_findings(
    diagnostics: Sequence[Diagnostic],
    expected: set[Finding],
    *,
    to_file: Callable[[str], str],
    root: Path | None = None,
    texts: dict[str, str] | None = None,
) -> None:
    """Stage 1: exactly the expected (file, line, code); stage 2: every finding well-formed."""
    texts = texts or {}
    actual = [Finding(to_file(d.path), d.line, d.code) for d in diagnostics]
    by_finding = {Finding(to_file(d.path), d.line, d.code): d for d in diagnostics}

    # Stage 0: one finding per (file, line, code).
    duplicates = sorted(f for f, n in Counter(actual).items() if n > 1)
    assert not duplicates, "reported more than once: " + ", ".join(map(str, duplicates))

    # Stage 1: the set of (file, line, code).
    missing = sorted(expected - set(actual))
    unexpected = sorted(set(actual) - expected)
    if missing or unexpected:
        report = []
        if missing:
            report.append("missing (expected, not reported):")
            report += [f"  {f}    {_source_line(root, f, texts)}" for f in missing]
        if unexpected:
            report.append("unexpected (reported, not expected):")
            for f in unexpected:
                message = getattr(by_finding[f], "message", "")
                report.append(f"  {f}    {_source_line(root, f, texts)}\n      -> {message}")
        pytest.fail("\n".join(report), pytrace=False)

    # Stage 2: each finding is well-formed.
    registered = {rule.code: rule for rule in ALL_RULES}
    problems = []
    for d in diagnostics:
        where = f"{to_file(d.path)}:{d.line}: {d.code}"
        if not (isinstance(d.message, str) and d.message.strip()):
            problems.append(f"{where}: empty message")
        if d.line < 1 or d.column < 1:
            problems.append(f"{where}: line/column must be 1-based, got {d.line}:{d.column}")
        if (d.end_line, d.end_column) < (d.line, d.column):
            problems.append(f"{where}: end {d.end_line}:{d.end_column} before start")
        if not _KEBAB.match(d.name or ""):
            problems.append(f"{where}: name {d.name!r} is not kebab-case")
        rule = registered.get(d.code)
        if rule is not None and d.name != rule.name:
            problems.append(f"{where}: name {d.name!r} differs from the rule's {rule.name!r}")
        if getattr(d.severity, "value", None) not in ("error", "warning"):
            problems.append(f"{where}: severity {d.severity!r}")
    assert not problems, "malformed findings:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------------------------
# The fixtures
# --------------------------------------------------------------------------------------------

SINGLE_FIXTURES = sorted(FIXTURES_DIR.glob("SL*.py"))
PROJECTS = sorted(p for p in PROJECTS_DIR.iterdir() if p.is_dir()) if PROJECTS_DIR.is_dir() else []


def _fixture_id(path: Path) -> str:
    return path.stem


def _project_id(path: Path) -> str:
    return f"projects/{path.name}"


def _single_expectations(path: Path) -> set[Finding]:
    return expectations(_source_text(path.read_bytes()), path.name)


def _lint_single(path: Path, text: str | None = None) -> list[Diagnostic]:
    if text is None:
        text = _source_text(path.read_bytes())
    diagnostics = lint_source(text, path=str(path))
    wrong_path = [d for d in diagnostics if d.path != str(path)]
    assert not wrong_path, f"diagnostics must carry the path given: {wrong_path[0].path!r}"
    return diagnostics


def test_fixtures_exist() -> None:
    assert SINGLE_FIXTURES, f"no single-file fixtures in {FIXTURES_DIR}"
    assert PROJECTS, f"no fixture projects in {PROJECTS_DIR}"


def test_fixture_layout() -> None:
    """Test-file exemptions are path-based: such names belong in a project directory."""
    misplaced = [
        p.name
        for p in FIXTURES_DIR.glob("*.py")
        if not re.fullmatch(r"SL\d{3}_[a-z0-9_]+\.py", p.name)
    ]
    assert not misplaced, f"single-file fixtures must be named SLxxx_<topic>.py: {misplaced}"
    for project in PROJECTS:
        # Its own root marker (pyproject.toml, requirements.txt, setup.cfg, ...), so that the
        # enclosing repository is not taken for the project.
        assert is_project_root(project), f"{project} has no project-root marker"


@pytest.mark.parametrize("fixture", SINGLE_FIXTURES, ids=_fixture_id)
def test_single_file_fixture(fixture: Path) -> None:
    text = _source_text(fixture.read_bytes())
    diagnostics = _lint_single(fixture, text)
    assert_findings(
        diagnostics,
        _single_expectations(fixture),
        to_file=lambda _path: fixture.name,
        texts={fixture.name: text},
    )


@pytest.mark.parametrize("project", PROJECTS, ids=_project_id)
def test_project_fixture(project: Path) -> None:
    result = lint_paths([project])
    assert_findings(
        result.diagnostics,
        project_expectations(project),
        to_file=lambda path: _relative(path, project),
        root=project,
    )


# --------------------------------------------------------------------------------------------
# Suppression: the same fixtures with noqa comments in place of the expectations
# --------------------------------------------------------------------------------------------

NOQA_VARIANTS: dict[str, Callable[[tuple[str, ...]], str]] = {
    "noqa": lambda codes: "# noqa",
    "noqa-codes": lambda codes: "# noqa: " + ", ".join(codes),
    "noqa-other": lambda codes: "# noqa: SL999",
}
#: Whether a variant silences the expected findings (else: they are all still reported).
SILENCES = {"noqa": True, "noqa-codes": True, "noqa-other": False}


def _expects_parse_error(expected: Iterable[Finding]) -> bool:
    return any(f.code == "SL001" for f in expected)


def _noqa_params(
    paths: Sequence[Path], expected_of: Callable[[Path], set[Finding]], id_of: Callable[[Path], str]
) -> list[object]:
    params = []
    for path in paths:
        for variant in NOQA_VARIANTS:
            # A file that does not parse only proves that it is reported; whether a `noqa`
            # comment can silence SL001 is not specified, so only the neutral variant runs.
            if SILENCES[variant] and _expects_parse_error(expected_of(path)):
                continue
            params.append(pytest.param(path, variant, id=f"{id_of(path)}-{variant}"))
    return params


@pytest.mark.parametrize(
    ("fixture", "variant"), _noqa_params(SINGLE_FIXTURES, _single_expectations, _fixture_id)
)
def test_single_file_fixture_noqa(fixture: Path, variant: str, tmp_path: Path) -> None:
    text = rewrite_expectations(_source_text(fixture.read_bytes()), NOQA_VARIANTS[variant])
    copy = tmp_path / fixture.name
    copy.write_text(text, encoding="utf-8")
    expected = set() if SILENCES[variant] else _single_expectations(fixture)
    diagnostics = _lint_single(copy, text)
    assert_findings(
        diagnostics, expected, to_file=lambda _path: fixture.name, texts={fixture.name: text}
    )


@pytest.mark.parametrize(
    ("project", "variant"), _noqa_params(PROJECTS, project_expectations, _project_id)
)
def test_project_fixture_noqa(project: Path, variant: str, tmp_path: Path) -> None:
    copy = tmp_path / project.name
    shutil.copytree(project, copy)
    for path in copy.rglob("*.py"):
        text = _source_text(path.read_bytes())
        path.write_text(rewrite_expectations(text, NOQA_VARIANTS[variant]), encoding="utf-8")
    expected = set() if SILENCES[variant] else project_expectations(project)
    result = lint_paths([copy])
    assert_findings(
        result.diagnostics, expected, to_file=lambda path: _relative(path, copy), root=copy
    )


# --------------------------------------------------------------------------------------------
# Coverage: fixtures and the rule registry agree
# --------------------------------------------------------------------------------------------


def _all_expected_codes() -> Counter[str]:
    codes: Counter[str] = Counter()
    for fixture in SINGLE_FIXTURES:
        codes.update(f.code for f in _single_expectations(fixture))
    for project in PROJECTS:
        codes.update(f.code for f in project_expectations(project))
    return codes


def test_every_rule_has_a_positive_fixture() -> None:
    used = _all_expected_codes()
    missing = sorted(rule.code for rule in ALL_RULES if rule.code not in used)
    assert not missing, f"rules without any `# expect:` in tests/fixtures: {missing}"


def test_every_expected_code_is_a_registered_rule() -> None:
    registered = {rule.code for rule in ALL_RULES}
    unknown = sorted(code for code in _all_expected_codes() if code not in registered)
    assert not unknown, f"fixtures expect codes that no registered rule has: {unknown}"


# --------------------------------------------------------------------------------------------
# The expectation reader itself
# --------------------------------------------------------------------------------------------


def test_expectations_come_from_comments_only() -> None:
    text = (
        '"""Docstring: db = SessionLocal()  # expect: SL101"""\n'
        "x = '# expect: SL102'\n"
        "db = SessionLocal()  # expect: SL101\n"
        "db.commit()  # expect: SL301, SL201\n"
        "# known false negative: nothing expected here\n"
    )
    assert expectations(text, "m.py") == {
        Finding("m.py", 3, "SL101"),
        Finding("m.py", 4, "SL201"),
        Finding("m.py", 4, "SL301"),
    }


def test_malformed_expectation_is_an_error() -> None:
    with pytest.raises(ValueError, match="malformed"):
        expectations("x = 1  # expect: SL1O1\n", "m.py")


def test_rewrite_expectations_keeps_the_code() -> None:
    text = "db = SessionLocal(  # expect: SL101, SL104\n    bind=engine,\n)\n"
    assert rewrite_expectations(text, NOQA_VARIANTS["noqa-codes"]) == (
        "db = SessionLocal(  # noqa: SL101, SL104\n    bind=engine,\n)\n"
    )


# --------------------------------------------------------------------------------------------
# SL001 at runtime: files that cannot be decoded or parsed (generated, never committed)
# --------------------------------------------------------------------------------------------

#: A module-level session on line 4, to show the analysis ran (and counted lines right).
_SHARED_SESSION = (
    "from sqlalchemy import create_engine\n"
    "from sqlalchemy.orm import Session\n"
    "engine = create_engine('postgresql+psycopg://app:app@localhost/app')\n"
    "shared = Session(engine)\n"
)

JINJA_TEMPLATE = (
    "{% if use_async %}\n"
    "from sqlalchemy.ext.asyncio import AsyncSession as Session\n"
    "{% else %}\n"
    "from sqlalchemy.orm import Session\n"
    "{% endif %}\n"
    "\n"
    "\n"
    "def get_{{ name }}(db: Session, id: int):\n"
    "    return db.get({{ model }}, id)\n"
)

#: name -> (file content, expected (line, code) findings)
RUNTIME_CASES: dict[str, tuple[bytes, set[tuple[int, str]]]] = {
    # latin-1 bytes without a coding cookie: not UTF-8.
    "undecodable_latin1": (
        b'"""Menu du caf\xe9."""\n\nPRICE = 3\n',
        {(1, "SL001")},
    ),
    "bad_coding_cookie": (
        b"# -*- coding: klingon -*-\nx = 1\n",
        {(1, "SL001")},
    ),
    # A BOM contradicts a non-UTF-8 cookie (CPython: "encoding problem: latin-1 with BOM").
    "bom_with_latin1_cookie": (
        b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n",
        {(1, "SL001")},
    ),
    # A UTF-8 BOM with a matching cookie parses fine (and lines are counted from the cookie).
    "bom_with_utf8_cookie": (
        b"\xef\xbb\xbf# -*- coding: utf-8 -*-\n" + _SHARED_SESSION.encode(),
        {(5, "SL101")},
    ),
    # latin-1 declared by a cookie is fine.
    "latin1_with_cookie": (
        b"# -*- coding: latin-1 -*-\n" + b"MENU = 'caf\xe9'\n" + _SHARED_SESSION.encode(),
        {(6, "SL101")},
    ),
    # A Jinja template named *.py: the parse error is on line 1 (`{%`).
    "jinja_template": (JINJA_TEMPLATE.encode(), {(1, "SL001")}),
    "empty_file": (b"", set()),
    "only_comments": (b"# nothing here\n# nor here\n", set()),
}


def _runtime_params() -> list[object]:
    return [pytest.param(name, id=name) for name in RUNTIME_CASES]


def _no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, "a traceback was printed for a user's file"


@pytest.mark.parametrize("name", _runtime_params())
def test_runtime_file_via_lint_paths(
    name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data, expected = RUNTIME_CASES[name]
    path = tmp_path / f"{name}.py"
    path.write_bytes(data)
    result = lint_paths([path])
    assert_findings(
        result.diagnostics,
        {Finding(path.name, line, code) for line, code in expected},
        to_file=lambda p: _relative(p, tmp_path),
        root=tmp_path,
    )
    _no_traceback(capfd)


@pytest.mark.parametrize("name", _runtime_params())
def test_runtime_bytes_via_lint_source(
    name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data, expected = RUNTIME_CASES[name]
    path = str(tmp_path / f"{name}.py")
    diagnostics = lint_source(data, path=path)
    assert_findings(
        diagnostics,
        {Finding(f"{name}.py", line, code) for line, code in expected},
        to_file=lambda p: Path(p).name,
        texts={f"{name}.py": data.decode("utf-8", errors="replace")},
    )
    _no_traceback(capfd)


def test_parser_logic_error_is_sl001(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Any exception the parser raises is SL001: LibCST 1.9 raises CSTLogicError (not
    ParserSyntaxError) on implicitly concatenated t-strings, which are valid Python 3.14."""
    import libcst

    source = 'greeting = t"Hello, " t"{name}!"\nx = 1\n'
    try:
        libcst.parse_module(source)
    except Exception:
        expected = {Finding("tstrings.py", 1, "SL001")}
    else:  # a LibCST that parses it: then the file is fine
        expected = set()
    path = tmp_path / "tstrings.py"
    path.write_text(source, encoding="utf-8")
    result = lint_paths([path])
    assert_findings(
        result.diagnostics, expected, to_file=lambda p: _relative(p, tmp_path), root=tmp_path
    )
    _no_traceback(capfd)


def test_parse_errors_do_not_stop_the_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_broken.py").write_text(
        "import os\ndef broken(x y):\n    return os.sep\n", encoding="utf-8"
    )
    (tmp_path / "b_template.py").write_text(JINJA_TEMPLATE, encoding="utf-8")
    (tmp_path / "c_undecodable.py").write_bytes(b"NAME = 'caf\xe9'\n")
    (tmp_path / "d_app.py").write_text(_SHARED_SESSION, encoding="utf-8")
    result = lint_paths([tmp_path])
    assert_findings(
        result.diagnostics,
        {
            Finding("a_broken.py", 2, "SL001"),
            Finding("b_template.py", 1, "SL001"),
            Finding("c_undecodable.py", 1, "SL001"),
            Finding("d_app.py", 4, "SL101"),
        },
        to_file=lambda p: _relative(p, tmp_path),
        root=tmp_path,
    )
    _no_traceback(capfd)
