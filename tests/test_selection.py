"""Rule selection at the edges: SL001 stays on, other tools' codes are ignored silently.

Spec (SL001): parse errors are reported "whatever `select`/`ignore` prefixes say (like ruff's
syntax errors); only `ignore = ["SL001"]` written out in full turns it off". Spec (Output
contract): "Codes of other tools in `ignore`/`noqa` (e.g. `E501`) are ignored silently, so one
list can be shared with flake8 and ruff." A selector of sessionlint's own (`SL` and digits)
that matches no rule stays a configuration error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sessionlint.api import lint_paths, selected_rules
from sessionlint.cli import main
from sessionlint.config import Config, ConfigError, is_foreign_code, load_config

BROKEN = "def broken(:\n    pass\n"
SHARED = "from sqlalchemy.orm import Session\n\nsession = Session()\n"
BOTH = {("broken.py", 1, "SL001"), ("shared.py", 3, "SL101")}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n", encoding="utf-8")
    (tmp_path / "broken.py").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "shared.py").write_text(SHARED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def configure(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\n\n[tool.sessionlint]\n{table}\n", encoding="utf-8"
    )


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--format", "json", *args, "."])


def found(result: Result) -> set[tuple[str, int, str]]:
    assert result.exit_code in (0, 1), result.output
    return {(d["path"], d["line"], d["code"]) for d in json.loads(result.stdout)}


# -- SL001 stays on ---------------------------------------------------------------------------


def test_both_findings_by_default(tree: Path) -> None:
    assert found(check()) == BOTH


@pytest.mark.parametrize(
    "args",
    [
        ["--select", "SL1"],
        ["--select", "SL101"],
        ["--ignore", "SL0"],
        ["--ignore", "SL00"],
        ["--ignore", "ALL", "--extend-select", "SL101"],
    ],
    ids=" ".join,
)
def test_sl001_stays_on_whatever_the_prefixes(tree: Path, args: list[str]) -> None:
    assert found(check(*args)) == BOTH


def test_sl001_stays_on_when_every_prefix_is_ignored(tree: Path) -> None:
    assert found(check("--ignore", "SL,ALL")) == {("broken.py", 1, "SL001")}


@pytest.mark.parametrize(
    "table",
    ['select = ["SL1"]', 'select = ["SL101"]', 'ignore = ["SL0"]', 'ignore = ["SL", "ALL"]'],
)
def test_sl001_stays_on_whatever_the_configuration_prefixes(tree: Path, table: str) -> None:
    configure(tree, table)
    assert ("broken.py", 1, "SL001") in found(check())


@pytest.mark.parametrize(
    ("table", "args"),
    [
        ('ignore = ["SL001"]', []),
        ('extend-ignore = ["SL001"]', []),
        ('select = ["SL1"]\nignore = ["SL001"]', []),
        ("", ["--ignore", "SL001"]),
        ("", ["--select", "SL1", "--ignore", "SL001"]),
        ('[tool.sessionlint.per-file-ignores]\n"broken.py" = ["SL001"]', []),
    ],
)
def test_only_the_full_code_turns_sl001_off(tree: Path, table: str, args: list[str]) -> None:
    configure(tree, table)
    assert found(check(*args)) == {("shared.py", 3, "SL101")}


def test_per_file_ignores_prefix_leaves_sl001_on(tree: Path) -> None:
    configure(tree, '[tool.sessionlint.per-file-ignores]\n"broken.py" = ["SL0", "ALL"]')
    assert found(check()) == BOTH


def test_sl001_in_the_config_model() -> None:
    assert Config(select=("SL1",)).is_selected("SL001")
    assert Config(select=()).is_selected("SL001")
    assert Config(ignore=("ALL",)).is_selected("SL001")
    assert not Config(ignore=("SL001",)).is_selected("SL001")
    assert not Config(extend_ignore=("SL001",)).is_selected("SL001")
    # The prefix still works for the other rules it covers.
    assert not Config(ignore=("SL",)).is_selected("SL101")
    assert [r.code for r in selected_rules(Config(select=("SL101",)))] == ["SL001", "SL101"]


def test_lint_paths_reports_the_parse_error_with_a_narrow_select(tree: Path) -> None:
    result = lint_paths(["."], select=["SL3"], isolated=True)
    assert [(d.path, d.code) for d in result.diagnostics] == [("broken.py", "SL001")]


# -- other tools' codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["E501", "W", "E", "B008", "PLR0913", "C901", "ASYNC100", "RUF100", "SLF001", "S"]
)
def test_other_tools_codes_are_foreign(code: str) -> None:
    assert is_foreign_code(code)


@pytest.mark.parametrize("code", ["SL", "SL1", "SL101", "SL999", "SL1000", "ALL", "e501", "SL-1"])
def test_own_or_malformed_selectors_are_not_foreign(code: str) -> None:
    assert not is_foreign_code(code)


def test_other_tools_codes_in_every_config_key_are_ignored(tmp_path: Path) -> None:
    configure(
        tmp_path,
        'select = ["E", "F", "SL1"]\n'
        'ignore = ["E501", "W503", "SL102"]\n'
        'extend-ignore = ["E203", "SLF001"]\n'
        'extend-select = ["B950", "SL3"]\n'
        "[tool.sessionlint.per-file-ignores]\n"
        '"tests/*" = ["S101", "SL1"]\n'
        '"legacy.py" = ["PLR0913"]\n',
    )
    config = load_config(tmp_path)
    assert config.select == ("SL1",)
    assert config.ignore == ("SL102",)
    assert config.extend_ignore == ()
    assert config.extend_select == ("SL3",)
    assert config.per_file_ignores == (("tests/*", ("SL1",)), ("legacy.py", ()))
    assert {r.code for r in selected_rules(config)} >= {"SL001", "SL101", "SL301"}
    assert "SL102" not in {r.code for r in selected_rules(config)}


def test_other_tools_codes_on_the_command_line_are_ignored(tree: Path) -> None:
    assert found(check("--ignore", "E501,W503")) == BOTH
    assert found(check("--ignore", "E501", "--ignore", "SL101")) == {("broken.py", 1, "SL001")}
    assert found(check("--extend-select", "B950")) == BOTH
    assert found(check("--select", "E,F,SL1")) == BOTH


def test_a_select_of_only_other_tools_codes_selects_no_rule_but_sl001(tree: Path) -> None:
    configure(tree, 'select = ["E", "W", "F"]')
    assert found(check()) == {("broken.py", 1, "SL001")}


def test_a_config_object_with_other_tools_codes_is_accepted() -> None:
    config = Config(ignore=("E501", "SL102"), extend_ignore=("W",))
    assert "SL102" not in {r.code for r in selected_rules(config)}


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
@pytest.mark.parametrize("selector", ["SL999", "SL9", "SL0000"])
def test_an_own_selector_that_matches_no_rule_is_still_an_error(
    tree: Path, option: str, selector: str
) -> None:
    result = CliRunner().invoke(main, ["check", "--isolated", option, selector, "."])
    assert result.exit_code == 2
    assert selector in result.output


@pytest.mark.parametrize("key", ["select", "ignore", "extend-ignore", "extend-select"])
def test_an_own_selector_that_matches_no_rule_in_the_config_is_an_error(
    tmp_path: Path, key: str
) -> None:
    configure(tmp_path, f'{key} = ["E501", "SL999"]')
    with pytest.raises(ConfigError, match="'SL999' matches no rule"):
        selected_rules(load_config(tmp_path))
