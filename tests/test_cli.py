"""The command line end to end: ``check`` (formats, statistics, quiet, output file, standard
input, --force-exclude, the progress bar), configuration from ``[tool.sessionlint]``,
``--config`` and ``--isolated``, usage errors, ``rules`` and ``explain``."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result
from sample_projects import CROSS_MODULE, CROSS_MODULE_FINDINGS, PYPROJECT, write_tree

from sessionlint import cli
from sessionlint.cli import PROGRESS_MIN_FILES, main
from sessionlint.docgen import rule_page
from sessionlint.registry import ALL_RULES

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

SHARED = "from sqlalchemy.orm import Session\n\nsession = Session()\n"

#: SL204 (commit after the response) depends on the FastAPI version: 0.106-0.117 ran the
#: code after ``yield`` before the response was sent.
COMMIT_AFTER_YIELD = """\
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

SessionLocal = sessionmaker()
app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()


@app.get("/")
def read(db: Session = Depends(get_db)):
    return db.get(int, 1)
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def triples(result: Result) -> set[tuple[str, int, str]]:
    assert result.exit_code in (0, 1), result.output
    return {(d["path"], d["line"], d["code"]) for d in json.loads(result.stdout)}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cross-module sample project, as the current directory."""
    root = write_tree(tmp_path / "shop", CROSS_MODULE)
    monkeypatch.chdir(root)
    return root


def add_config(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(PYPROJECT + "\n" + table, encoding="utf-8")


# -- check: formats and output options -------------------------------------------------------


def test_json_exit_status_and_findings(shop: Path) -> None:
    result = run("check", "--format", "json", ".")
    assert result.exit_code == 1
    assert triples(result) == CROSS_MODULE_FINDINGS


def test_exit_zero_and_clean_tree(shop: Path) -> None:
    assert run("check", "--exit-zero", ".").exit_code == 0
    assert run("check", "app/models.py").exit_code == 0
    assert "All checks passed!" in run("check", "app/models.py").stdout


def test_text_format_shows_source_and_summary(shop: Path) -> None:
    result = run("check", "app/jobs.py")
    assert result.exit_code == 1
    assert result.stdout.startswith("app/jobs.py:3:11: SL101 ")
    assert "3 | session = SessionLocal()" in result.stdout
    assert "^^^^^^^^^^^^^^ SL101" in result.stdout
    assert "Found 1 error in 1 file." in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_quiet_prints_findings_only(shop: Path) -> None:
    result = run("check", "--quiet", "--no-source", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(": SL" in line for line in lines)
    assert "Found" not in result.stdout


def test_statistics(shop: Path) -> None:
    result = run("check", "--statistics", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines[:3]] == [
        ["1", "SL101", "[", "]", "shared-session"],
        ["1", "SL201", "[", "]", "write-without-commit"],
        ["1", "SL301", "[", "]", "blocking-session-in-async"],
    ]
    assert lines[3] == "Found 2 errors and 1 warning in 2 files."
    assert "app/jobs.py" not in result.stdout  # counts, not findings
    quiet = run("check", "--statistics", "--quiet", ".")
    assert quiet.stdout.splitlines() == lines[:3]


def test_output_file(shop: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    result = run("check", "--format", "json", "--output-file", str(report), ".")
    assert result.exit_code == 1
    assert result.stdout == ""
    data = json.loads(report.read_text(encoding="utf-8"))
    assert {(d["path"], d["line"], d["code"]) for d in data} == CROSS_MODULE_FINDINGS


def test_sarif_end_to_end_validates(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.sarif"
    assert run("check", "--format", "sarif", "-o", str(out), ".").exit_code == 1
    log = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"SL101", "SL201", "SL301"}
    run_ = log["runs"][0]
    assert run_["originalUriBaseIds"] == {"%SRCROOT%": {"uri": shop.resolve().as_uri() + "/"}}
    assert run_["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_sarif_uris_never_climb_out_of_the_source_root(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("check", "--format", "sarif", str(shop))
    log = json.loads(result.stdout)
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    run_ = log["runs"][0]
    root = run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    ]
    assert uris and not [u for u in uris if u.startswith("../") or "/../" in u]
    assert all((Path(root.removeprefix("file://")) / u).is_file() for u in uris), (root, uris)
    clean = run("check", "--format", "sarif", "--select", "SL203", str(shop))
    assert json.loads(clean.stdout)["runs"][0]["invocations"] == [
        {"executionSuccessful": True, "exitCode": 0}
    ]


def test_github_format(shop: Path) -> None:
    result = run("check", "--format", "github", ".")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("::error file=app/jobs.py,line=3,") and "title=SL101" in line
        for line in lines
    )
    assert any(line.startswith("::warning file=app/routers/items.py,line=18,") for line in lines)


def test_verbose_names_the_versions(shop: Path) -> None:
    result = run("check", "-v", "--quiet", ".")
    assert "FastAPI: 0.115" in result.stderr
    assert "pyproject.toml" in result.stderr


def test_verbose_says_whether_the_project_runs_on_fastapi_and_counts_code_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI only in a dev requirements file: SL305/SL402 stay silent, and -v says why.
    root = write_tree(
        tmp_path / "svc",
        {
            "requirements.txt": "sqlalchemy==2.0.36\n",
            "requirements-dev.txt": "fastapi==0.115.6\npytest\n",
            "svc/__init__.py": "",
            "svc/db.py": "from sqlalchemy.orm import sessionmaker\n\nFactory = sessionmaker()\n",
            "tests/test_db.py": "from svc.db import Factory\n",
            "migrations/versions/0001_init.py": "from alembic import op\n",
        },
    )
    monkeypatch.chdir(root)
    result = run("check", "-v", "--quiet", ".")
    assert "Runs on FastAPI: no (not a runtime dependency in " in result.stderr
    assert "requirements.txt" in result.stderr
    assert "Files checked: 2 app, 1 test, 1 migration, 0 script" in result.stderr
    (root / "requirements.txt").write_text("sqlalchemy==2.0.36\nfastapi==0.115.6\n")
    result = run("check", "-v", "--quiet", ".")
    assert "Runs on FastAPI: yes (a runtime dependency in " in result.stderr
    assert "Runs on FastAPI" not in run("check", "--quiet", ".").stderr


# -- standard input ----------------------------------------------------------------------------


def test_stdin_is_linted_as_the_named_file_inside_its_project(shop: Path) -> None:
    source = CROSS_MODULE["app/routers/items.py"]
    result = run(
        "check", "--format", "json", "-", "--stdin-filename", "app/routers/items.py", input=source
    )
    assert result.exit_code == 1
    # The findings need app/deps.py: the project was found from the file name.
    assert triples(result) == {
        ("app/routers/items.py", 12, "SL301"),
        ("app/routers/items.py", 18, "SL201"),
    }


def test_stdin_content_wins_over_the_file_on_disk(shop: Path) -> None:
    edited = CROSS_MODULE["app/routers/items.py"].replace(
        "    db.add(item)\n", "    db.add(item)\n    db.commit()\n"
    )
    result = run("check", "-", "--stdin-filename", "app/routers/items.py", input=edited)
    assert result.exit_code == 1
    assert "app/routers/items.py:12:12: SL301" in result.stdout
    assert "SL201" not in result.stdout
    # The source line shown is the one from standard input.
    assert "12 |     return db.scalars(select(Item)).all()" in result.stdout


def test_stdin_without_a_dash_and_without_a_name(shop: Path) -> None:
    source = CROSS_MODULE["app/jobs.py"]
    named = run("check", "--format", "json", "--stdin-filename", "app/jobs.py", input=source)
    assert triples(named) == {("app/jobs.py", 3, "SL101")}
    anonymous = run("check", "--format", "json", "-", input=SHARED)
    assert triples(anonymous) == {("-", 3, "SL101")}


def test_stdin_cannot_be_mixed_with_paths(shop: Path) -> None:
    result = run("check", "-", "app", input="")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "sessionlint: error: `-` (standard input) cannot be combined with other paths"
    ]


def test_stdin_config_is_found_from_the_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_tree(tmp_path / "proj", {"app/db.py": ""})
    add_config(project, '[tool.sessionlint]\nignore = ["SL101"]\n')
    # Run from outside the project: the configuration comes from the stdin file name.
    monkeypatch.chdir(write_tree(tmp_path / "elsewhere", {"x.txt": ""}))
    name = str(project / "app" / "db.py")
    ignored = run("check", "--format", "json", "--stdin-filename", name, "-", input=SHARED)
    assert triples(ignored) == set()
    isolated = run(
        "check", "--format", "json", "--isolated", "--stdin-filename", name, input=SHARED
    )
    assert triples(isolated) == {(name, 3, "SL101")}


# -- --force-exclude ---------------------------------------------------------------------------


def test_force_exclude_applies_patterns_to_named_files(shop: Path) -> None:
    add_config(shop, '[tool.sessionlint]\nextend-exclude = ["app/jobs.py"]\n')
    assert triples(run("check", "--format", "json", "app/jobs.py")) == {("app/jobs.py", 3, "SL101")}
    assert triples(run("check", "--format", "json", "--force-exclude", "app/jobs.py")) == set()
    mixed = run("check", "--format", "json", "--force-exclude", "app/jobs.py", "app/routers")
    assert {code for _, _, code in triples(mixed)} == {"SL201", "SL301"}
    stdin = run("check", "--force-exclude", "--stdin-filename", "app/jobs.py", "-", input=SHARED)
    assert stdin.exit_code == 0


# -- configuration end to end --------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('select = ["SL3"]', {("app/routers/items.py", 12, "SL301")}),
        (
            'ignore = ["SL1", "SL201"]',
            {("app/routers/items.py", 12, "SL301")},
        ),
        (
            '[tool.sessionlint.per-file-ignores]\n"app/routers/*" = ["SL3"]',
            {("app/jobs.py", 3, "SL101"), ("app/routers/items.py", 18, "SL201")},
        ),
        (
            'exclude = ["routers"]',
            {("app/jobs.py", 3, "SL101")},
        ),
    ],
)
def test_tool_sessionlint_table(
    shop: Path, table: str, expected: set[tuple[str, int, str]]
) -> None:
    header = "" if table.startswith("[") else "[tool.sessionlint]\n"
    add_config(shop, header + table + "\n")
    assert triples(run("check", "--format", "json", ".")) == expected


def test_target_versions_from_config_and_command_line(tmp_path: Path) -> None:
    # No version pinned anywhere: the newest FastAPI behaviour is assumed.
    project = write_tree(
        tmp_path / "p",
        {"app/main.py": COMMIT_AFTER_YIELD, "pyproject.toml": "[project]\nname = 'p'\n"},
    )
    path = str(project / "app" / "main.py")
    newest = run("check", "--format", "json", path)
    assert {code for _, _, code in triples(newest)} == {"SL204"}
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.sessionlint]\ntarget-fastapi = "0.110"\n',
        encoding="utf-8",
    )
    assert triples(run("check", "--format", "json", path)) == set()
    # The command line beats the file.
    overridden = run("check", "--format", "json", "--target-fastapi", "0.120", path)
    assert {code for _, _, code in triples(overridden)} == {"SL204"}
    bad = run("check", "--target-fastapi", "latest", path)
    assert bad.exit_code == 2
    assert "latest" in bad.stderr


def test_config_option_and_isolated(shop: Path, tmp_path: Path) -> None:
    add_config(shop, '[tool.sessionlint]\nignore = ["SL101"]\n')
    standalone = tmp_path / "sessionlint.toml"
    standalone.write_text('select = ["SL2"]\n', encoding="utf-8")
    assert {c for *_, c in triples(run("check", "--format", "json", "."))} == {"SL201", "SL301"}
    from_file = run("check", "--format", "json", "--config", str(standalone), ".")
    assert {c for *_, c in triples(from_file)} == {"SL201"}
    isolated = run("check", "--format", "json", "--isolated", ".")
    assert triples(isolated) == CROSS_MODULE_FINDINGS


def test_unknown_key_is_one_clear_line(shop: Path) -> None:
    add_config(shop, '[tool.sessionlint]\nselct = ["SL1"]\n')
    result = run("check", ".")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "sessionlint: error: pyproject.toml: [tool.sessionlint] unknown key 'selct' "
        "(did you mean 'select'?)"
    ]


def test_bad_value_names_the_key(shop: Path) -> None:
    add_config(shop, "[tool.sessionlint]\ntarget-sqlalchemy = 2.0\n")
    result = run("check", ".")
    assert result.exit_code == 2
    assert "'target-sqlalchemy'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no/such/dir"], "sessionlint: error: no/such/dir: No such file or directory"),
        (
            ["check", "--config", "missing.toml", "."],
            "sessionlint: error: config file not found: missing.toml",
        ),
        (
            ["check", "--select", "SL-1", "."],
            "sessionlint: error: invalid rule selector",
        ),
    ],
)
def test_usage_errors_are_one_line_without_traceback(
    shop: Path, args: list[str], message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sessionlint", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(message)
    assert "Traceback" not in proc.stderr


# -- the progress bar --------------------------------------------------------------------------


def _run_with_terminal_stderr(cwd: Path) -> tuple[int, str, str]:
    """Run ``sessionlint check --format json .`` with stderr on a pseudo-terminal."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "sessionlint", "check", "--format", "json", "."],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    ) as proc:
        os.close(terminal)
        captured = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            captured += chunk
        stdout = proc.stdout.read() if proc.stdout else b""
    os.close(controller)
    return proc.returncode, stdout.decode(), captured.decode(errors="replace")


def test_progress_bar_only_for_many_files_on_a_terminal(tmp_path: Path) -> None:
    many = write_tree(
        tmp_path / "many",
        {f"m{i:02}.py": f"x = {i}\n" for i in range(PROGRESS_MIN_FILES + 5)},
    )
    status, stdout, stderr = _run_with_terminal_stderr(many)
    assert status == 0
    assert json.loads(stdout) == []  # stdout is untouched
    assert "Checking" in stderr
    assert f"{PROGRESS_MIN_FILES + 5}/{PROGRESS_MIN_FILES + 5}" in stderr

    few = write_tree(tmp_path / "few", {f"m{i}.py": "x = 1\n" for i in range(3)})
    status, stdout, stderr = _run_with_terminal_stderr(few)
    assert (status, json.loads(stdout), stderr) == (0, [], "")


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    many = write_tree(
        tmp_path / "many",
        {f"m{i:02}.py": f"x = {i}\n" for i in range(PROGRESS_MIN_FILES + 5)},
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "."],
        cwd=many,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""


# -- rules and explain -------------------------------------------------------------------------


def test_rules_table_lists_every_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Code", "Name", "Severity", "Fix", "Enabled"]
    rows = {
        line.split()[0]: line.split()
        for line in lines[1:]
        if line.strip() and not line.startswith("Fix: ")  # the legend under the table
    }
    assert list(rows) == [rule.code for rule in ALL_RULES]
    for rule in ALL_RULES:
        fix = rule.fix_applicability.value if rule.fix_applicability is not None else "-"
        enabled = "yes" if rule.default_enabled else "no"
        assert rows[rule.code] == [rule.code, rule.name, rule.severity.value, fix, enabled]


def test_rules_enabled_follows_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_config(tmp_path, '[tool.sessionlint]\nignore = ["SL1"]\n')
    monkeypatch.chdir(tmp_path)

    def enabled(*args: str) -> dict[str, bool]:
        result = run("rules", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return {row["code"]: row["enabled"] for row in json.loads(result.stdout)}

    from_file = enabled()
    assert from_file["SL101"] is False
    assert from_file["SL201"] is True
    assert enabled("--isolated")["SL101"] is True
    assert enabled("--extend-select", "SL101")["SL101"] is True
    assert enabled("--select", "SL2")["SL301"] is False
    data = json.loads(run("rules", "--format", "json").stdout)
    assert set(data[0]) >= {"code", "name", "severity", "fix", "enabled", "summary", "url"}


def test_rules_bad_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_config(tmp_path, '[tool.sessionlint]\nignore = "SL1"\n')
    monkeypatch.chdir(tmp_path)
    result = run("rules")
    assert result.exit_code == 2
    assert "'ignore'" in result.stderr


@pytest.mark.parametrize("code", ["SL101", "sl101", " SL101 "])
def test_explain_renders_the_rule_docs_on_a_terminal(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_is_terminal", lambda stream: True)
    rule = next(r for r in ALL_RULES if r.code == "SL101")
    result = run("explain", code)
    assert result.exit_code == 0
    assert "SL101 shared-session" in result.stdout
    assert "What it does" in result.stdout
    assert "Use instead" in result.stdout
    assert "## " not in result.stdout  # rendered, not raw markdown
    assert rule.summary.split()[0] in result.stdout


def test_explain_piped_is_the_markdown_page_with_its_links() -> None:
    rule = next(r for r in ALL_RULES if r.code == "SL102")
    result = run("explain", "SL102")
    assert result.exit_code == 0
    assert result.stdout == rule_page(rule)
    assert "(https://fastapi.tiangolo.com/" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line != line.rstrip()]


def test_explain_unknown_code() -> None:
    result = run("explain", "SL999")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "sessionlint: error: unknown rule code 'SL999'; `sessionlint rules` lists them"
    ]


def test_a_selector_that_matches_no_rule_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    for option in ("--select", "--ignore", "--extend-select"):
        result = CliRunner().invoke(main, ["check", "--isolated", option, "SL999", str(tmp_path)])
        assert result.exit_code == 2, option
        assert "'SL999' matches no rule" in result.output


def test_rules_explains_the_fix_column() -> None:
    result = run("rules")
    assert result.exit_code == 0
    assert "display-only: a suggestion shown on the finding's help line" in result.stdout
    assert "unsafe: applied with --fix --unsafe-fixes" in result.stdout


def test_server_without_pygls_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sessionlint.server", raising=False)
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)  # import fails
    result = run("server")
    assert result.exit_code == 2
    assert "install `sessionlint[lsp]`" in result.stderr
