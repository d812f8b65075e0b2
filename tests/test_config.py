"""Tests for sessionlint.config: loading, validation, rule selection, per-file-ignores."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.version import Version

from sessionlint.config import CONFIG_KEYS, Config, ConfigError, is_valid_selector, load_config

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def write_pyproject(directory: Path, body: str, *, table: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    header = "[project]\nname = 'demo'\n\n" + ("[tool.sessionlint]\n" if table else "")
    path.write_text(header + body, encoding="utf-8")
    return path


# -- loading ----------------------------------------------------------------------------------


def test_full_table_is_parsed(tmp_path: Path) -> None:
    source = write_pyproject(
        tmp_path,
        """
select = ["SL1", "SL201"]
ignore = ["SL102"]
extend-select = ["SL3"]
exclude = ["generated/"]
extend-exclude = ["legacy/*.py"]
target-fastapi = "0.115"
target-sqlalchemy = "1.4"
session-factories = ["myapp.db.make_session", "myapp.db:SessionLocal"]
async-session-factories = ["myapp.db.make_async_session"]
session-dependencies = ["myapp.deps.get_db"]
async-session-dependencies = ["myapp.deps.get_async_db"]

[tool.sessionlint.per-file-ignores]
"tests/*.py" = ["SL1"]
"**/migrations/*" = ["ALL"]
""",
    )
    config = load_config(tmp_path)
    assert config.select == ("SL1", "SL201")
    assert config.ignore == ("SL102",)
    assert config.extend_select == ("SL3",)
    assert config.exclude == ("generated/",)
    assert config.extend_exclude == ("legacy/*.py",)
    assert config.target_fastapi == "0.115"
    assert config.target_sqlalchemy == "1.4"
    assert config.fastapi_version == Version("0.115")
    assert config.sqlalchemy_version == Version("1.4")
    assert config.session_factories == ("myapp.db.make_session", "myapp.db.SessionLocal")
    assert config.async_session_factories == ("myapp.db.make_async_session",)
    assert config.session_dependencies == ("myapp.deps.get_db",)
    assert config.async_session_dependencies == ("myapp.deps.get_async_db",)
    assert config.per_file_ignores == (("tests/*.py", ("SL1",)), ("**/migrations/*", ("ALL",)))
    assert config.root == tmp_path
    assert config.source == source


def test_defaults() -> None:
    config = Config()
    assert config.select is None
    assert config.exclude is None
    assert config.ignore == ()
    assert config.root is None
    assert config.source is None
    assert config.fastapi_version is None
    assert config.sqlalchemy_version is None


def test_no_config_anywhere_gives_defaults_without_root(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    config = load_config(tmp_path / "pkg")
    assert config == Config()
    assert config.root is None


def test_empty_table_is_a_config(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "")
    config = load_config(tmp_path)
    assert config.source == tmp_path / "pyproject.toml"
    assert config.root == tmp_path
    assert config.select is None


def test_walks_up_from_a_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'select = ["SL2"]\n')
    module = tmp_path / "src" / "app" / "db.py"
    module.parent.mkdir(parents=True)
    module.write_text("x = 1\n")
    config = load_config(module)
    assert config.select == ("SL2",)
    assert config.root == tmp_path


def test_start_may_not_exist(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'select = ["SL2"]\n')
    assert load_config(tmp_path / "missing.py").select == ("SL2",)


def test_nearest_pyproject_with_table_wins(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'select = ["SL1"]\n')
    write_pyproject(tmp_path / "sub", 'select = ["SL2"]\n')
    (tmp_path / "sub" / "deeper").mkdir()
    config = load_config(tmp_path / "sub" / "deeper")
    assert config.select == ("SL2",)
    assert config.root == tmp_path / "sub"


def test_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'select = ["SL1"]\n')
    write_pyproject(tmp_path / "sub", "", table=False)
    config = load_config(tmp_path / "sub")
    assert config.select == ("SL1",)
    assert config.root == tmp_path


def test_other_tool_tables_are_not_ours(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert load_config(tmp_path) == Config()


def test_isolated_ignores_files(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "selct = 1\n")  # would be an error if read
    assert load_config(tmp_path, isolated=True) == Config()


def test_isolated_wins_over_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sessionlint.toml"
    path.write_text('select = ["SL1"]\n')
    assert load_config(tmp_path, config_file=path, isolated=True) == Config()


@pytest.mark.parametrize("name", ["sessionlint.toml", ".sessionlint.toml", "ci-lint.toml"])
def test_config_file_standalone(tmp_path: Path, name: str) -> None:
    write_pyproject(tmp_path, 'select = ["SL9"]\n')  # not used: the option wins
    other = tmp_path / "conf"
    other.mkdir()
    path = other / name
    path.write_text('select = ["SL1"]\nextend-exclude = ["gen/"]\n')
    config = load_config(tmp_path, config_file=path)
    assert config.select == ("SL1",)
    assert config.root == other
    assert config.source == path


def test_config_file_pyproject(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path / "elsewhere", 'ignore = ["SL101"]\n')
    config = load_config(tmp_path, config_file=path)
    assert config.ignore == ("SL101",)
    assert config.root == tmp_path / "elsewhere"


def test_config_file_pyproject_without_table(tmp_path: Path) -> None:
    path = write_pyproject(tmp_path, "", table=False)
    config = load_config(tmp_path, config_file=path)
    assert config.select is None
    assert config.source == path


def test_config_file_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sessionlint.toml").write_text('select = ["SL1"]\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("."), config_file=Path("sessionlint.toml"))
    assert config.select == ("SL1",)
    assert config.root == tmp_path
    assert config.root.is_absolute()


def test_config_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path, config_file=tmp_path / "nope.toml")


def test_config_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        load_config(tmp_path, config_file=tmp_path)


# -- errors -----------------------------------------------------------------------------------


def test_unknown_key_names_key_file_and_suggestion(tmp_path: Path) -> None:
    source = write_pyproject(tmp_path, 'selct = ["SL1"]\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert "pyproject.toml: [tool.sessionlint] unknown key 'selct'" in message
    assert "did you mean 'select'?" in message
    assert info.value.key == "selct"
    assert info.value.path == source


def test_snake_case_key_suggests_kebab_case(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'extend_select = ["SL1"]\n')
    with pytest.raises(ConfigError, match="did you mean 'extend-select'"):
        load_config(tmp_path)


def test_unknown_key_without_suggestion(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "zzzzzz = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "unknown key 'zzzzzz'" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_unknown_key_in_standalone_file(tmp_path: Path) -> None:
    path = tmp_path / "sessionlint.toml"
    path.write_text('ignroe = ["SL1"]\n')
    with pytest.raises(ConfigError, match=r"sessionlint\.toml: unknown key 'ignroe'.*'ignore'"):
        load_config(tmp_path, config_file=path)


def test_error_path_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(tmp_path / "proj", "selct = 1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "proj")
    assert str(info.value).startswith(str(Path("proj", "pyproject.toml")) + ":")


@pytest.mark.parametrize(
    ("body", "key", "fragment"),
    [
        ('select = "SL1"\n', "select", "must be an array of strings, got a string"),
        ("ignore = [1]\n", "ignore", "contains an integer"),
        ('extend-select = {a = "b"}\n', "extend-select", "got a table"),
        ('exclude = "build"\n', "exclude", "must be an array of strings"),
        ('extend-exclude = [""]\n', "extend-exclude", "empty string"),
        ("target-fastapi = 0.115\n", "target-fastapi", 'write it as a string: "0.115"'),
        ('target-sqlalchemy = "two"\n', "target-sqlalchemy", "not a valid version"),
        ("session-factories = [true]\n", "session-factories", "contains a boolean"),
        (
            'session-dependencies = ["get db"]\n',
            "session-dependencies",
            "not a qualified name",
        ),
        ('async-session-factories = ["single"]\n', "async-session-factories", "qualified"),
        ('per-file-ignores = ["x"]\n', "per-file-ignores", "must be a table"),
        (
            '[tool.sessionlint.per-file-ignores]\n"tests/*" = "SL1"\n',
            "per-file-ignores.tests/*",
            "must be an array",
        ),
    ],
)
def test_bad_value_types(tmp_path: Path, body: str, key: str, fragment: str) -> None:
    write_pyproject(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    message = str(info.value)
    assert f"'{key}'" in message
    assert "pyproject.toml" in message
    assert fragment in message
    assert info.value.key == key


def test_table_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool]\nsessionlint = "yes"\n')
    with pytest.raises(ConfigError, match=r"\[tool.sessionlint\] must be a table"):
        load_config(tmp_path)


@pytest.mark.parametrize("selector", ["sl1", "SL1000", "SL1A", "all", " SL1", "SL-1", "e501"])
def test_bad_code_selector(tmp_path: Path, selector: str) -> None:
    write_pyproject(tmp_path, f'select = ["{selector}"]\n')
    with pytest.raises(ConfigError, match="invalid rule selector") as info:
        load_config(tmp_path)
    assert "'select'" in str(info.value)


def test_bad_code_selector_suggests_uppercase(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'ignore = ["sl101"]\n')
    with pytest.raises(ConfigError, match="did you mean 'SL101'"):
        load_config(tmp_path)


def test_bad_selector_in_per_file_ignores(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.sessionlint.per-file-ignores]\n"a.py" = ["SL-1"]\n')
    with pytest.raises(ConfigError, match="invalid rule selector 'SL-1'"):
        load_config(tmp_path)


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sessionlint\nselect = [\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: invalid TOML") as info:
        load_config(tmp_path)
    assert info.value.path == tmp_path / "pyproject.toml"


def test_toml_syntax_error_in_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sessionlint.toml"
    path.write_text("select = [\n")
    with pytest.raises(ConfigError, match=r"sessionlint\.toml: invalid TOML"):
        load_config(tmp_path, config_file=path)


@pytest.mark.parametrize("selector", ["ALL", "SL", "SL1", "SL10", "SL101", "SL999", "SL0"])
def test_valid_selectors(selector: str) -> None:
    assert is_valid_selector(selector)


# -- rule selection ---------------------------------------------------------------------------


def test_default_selection_uses_default_enabled() -> None:
    config = Config()
    assert config.is_selected("SL101")
    assert config.is_selected("SL101", default_enabled=True)
    assert not config.is_selected("SL901", default_enabled=False)


def test_select_replaces_default() -> None:
    config = Config(select=("SL1",))
    assert config.is_selected("SL101")
    assert not config.is_selected("SL201")


def test_explicit_select_enables_opt_in_rules() -> None:
    assert Config(select=("SL9",)).is_selected("SL901", default_enabled=False)
    assert Config(select=("ALL",)).is_selected("SL901", default_enabled=False)


def test_extend_select_adds_to_default() -> None:
    config = Config(extend_select=("SL901",))
    assert config.is_selected("SL901", default_enabled=False)
    assert config.is_selected("SL101")
    assert not config.is_selected("SL902", default_enabled=False)


def test_extend_select_adds_to_select() -> None:
    config = Config(select=("SL1",), extend_select=("SL201",))
    assert config.is_selected("SL101")
    assert config.is_selected("SL201")
    assert not config.is_selected("SL202")


def test_empty_select_selects_nothing() -> None:
    assert not Config(select=()).is_selected("SL101")


def test_ignore() -> None:
    config = Config(ignore=("SL102",))
    assert not config.is_selected("SL102")
    assert config.is_selected("SL101")


def test_most_specific_selector_wins() -> None:
    # SL1 ignored but SL101 selected -> selected.
    config = Config(select=("SL101",), ignore=("SL1",))
    assert config.is_selected("SL101")
    assert not config.is_selected("SL102")
    # And the other way round.
    config = Config(select=("SL1",), ignore=("SL101",))
    assert not config.is_selected("SL101")
    assert config.is_selected("SL102")
    # extend-select counts as well.
    config = Config(ignore=("SL1",), extend_select=("SL10",))
    assert config.is_selected("SL101")
    assert not config.is_selected("SL110")


def test_ignore_wins_a_tie() -> None:
    assert not Config(select=("SL1",), ignore=("SL1",)).is_selected("SL101")
    assert not Config(select=("ALL",), ignore=("ALL",)).is_selected("SL101")


def test_all_is_least_specific() -> None:
    config = Config(select=("SL",), ignore=("ALL",))
    assert config.is_selected("SL101")
    config = Config(select=("ALL",), ignore=("SL",))
    assert not config.is_selected("SL101")


def test_ignore_all_turns_off_defaults() -> None:
    config = Config(ignore=("ALL",), extend_select=("SL101",))
    assert config.is_selected("SL101")
    assert not config.is_selected("SL102")


# -- per-file-ignores -------------------------------------------------------------------------


def pfi(tmp_path: Path, *pairs: tuple[str, tuple[str, ...]]) -> Config:
    return Config(per_file_ignores=pairs, root=tmp_path)


def test_per_file_ignores_relative_glob(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("tests/*.py", ("SL1",)))
    assert config.ignored_for_path(tmp_path / "tests" / "test_a.py") == {"SL1"}
    assert config.is_ignored_for("SL101", tmp_path / "tests" / "test_a.py")
    assert not config.is_ignored_for("SL201", tmp_path / "tests" / "test_a.py")
    assert not config.is_ignored_for("SL101", tmp_path / "src" / "tests.py")
    assert not config.is_ignored_for("SL101", tmp_path / "src" / "tests" / "a.py")
    # Like ruff's globs, `*` crosses folders.
    assert config.is_ignored_for("SL101", tmp_path / "tests" / "unit" / "test_b.py")


def test_per_file_ignores_double_star(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("**/migrations/*", ("ALL",)))
    assert config.is_ignored_for("SL301", tmp_path / "migrations" / "0001.py")
    assert config.is_ignored_for("SL301", tmp_path / "app" / "db" / "migrations" / "0001.py")
    assert not config.is_ignored_for("SL301", tmp_path / "app" / "models.py")


def test_per_file_ignores_plain_file_name(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("conftest.py", ("SL2",)), ("test_*.py", ("SL101",)))
    assert config.is_ignored_for("SL201", tmp_path / "conftest.py")
    assert config.is_ignored_for("SL201", tmp_path / "a" / "b" / "conftest.py")
    assert not config.is_ignored_for("SL101", tmp_path / "a" / "conftest.py")
    assert config.is_ignored_for("SL101", tmp_path / "a" / "test_x.py")
    assert not config.is_ignored_for("SL201", tmp_path / "a" / "test_x.py")


def test_per_file_ignores_folder(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("scripts", ("SL1",)), ("src/legacy/", ("SL2",)))
    assert config.is_ignored_for("SL101", tmp_path / "scripts" / "run.py")
    assert config.is_ignored_for("SL101", tmp_path / "tools" / "scripts" / "run.py")
    assert config.is_ignored_for("SL201", tmp_path / "src" / "legacy" / "old" / "x.py")
    assert not config.is_ignored_for("SL201", tmp_path / "src" / "new" / "x.py")


def test_per_file_ignores_exact_path_and_alternatives(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("./app/main.py", ("SL1",)), ("{docs,examples}/*", ("SL2",)))
    assert config.is_ignored_for("SL101", tmp_path / "app" / "main.py")
    assert not config.is_ignored_for("SL101", tmp_path / "app" / "other.py")
    assert config.is_ignored_for("SL201", tmp_path / "docs" / "a.py")
    assert config.is_ignored_for("SL201", tmp_path / "examples" / "b.py")
    assert not config.is_ignored_for("SL201", tmp_path / "src" / "b.py")


def test_per_file_ignores_negated(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("!src/**", ("SL1",)))
    assert config.is_ignored_for("SL101", tmp_path / "tests" / "a.py")
    assert not config.is_ignored_for("SL101", tmp_path / "src" / "a.py")


def test_per_file_ignores_relative_path_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = pfi(tmp_path, ("tests/*.py", ("SL1",)))
    monkeypatch.chdir(tmp_path)
    assert config.is_ignored_for("SL101", Path("tests/test_a.py"))
    assert config.is_ignored_for("SL101", Path("tests/../tests/test_a.py"))


def test_per_file_ignores_without_root_use_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(per_file_ignores=(("tests/*.py", ("SL1",)),))
    monkeypatch.chdir(tmp_path)
    assert config.is_ignored_for("SL101", Path("tests/test_a.py"))
    assert not config.is_ignored_for("SL101", Path("src/a.py"))


def test_per_file_ignores_outside_root(tmp_path: Path) -> None:
    config = pfi(tmp_path / "proj", ("tests/*.py", ("SL1",)), ("conftest.py", ("SL2",)))
    assert not config.is_ignored_for("SL101", tmp_path / "other" / "tests" / "a.py")
    assert config.is_ignored_for("SL201", tmp_path / "other" / "conftest.py")


def test_per_file_ignores_union_of_matches(tmp_path: Path) -> None:
    config = pfi(tmp_path, ("tests/*", ("SL1",)), ("*.py", ("SL201",)))
    assert config.ignored_for_path(tmp_path / "tests" / "a.py") == {"SL1", "SL201"}
    assert config.ignored_for_path(tmp_path / "a.txt") == frozenset()


def test_is_enabled_for(tmp_path: Path) -> None:
    config = Config(ignore=("SL2",), per_file_ignores=(("tests/*", ("SL101",)),), root=tmp_path)
    assert not config.is_enabled_for("SL101", tmp_path / "tests" / "a.py")
    assert config.is_enabled_for("SL101", tmp_path / "app.py")
    assert not config.is_enabled_for("SL201", tmp_path / "app.py")
    assert not config.is_enabled_for("SL901", tmp_path / "app.py", default_enabled=False)


def test_per_file_ignores_loaded_from_file_are_relative_to_it(tmp_path: Path) -> None:
    write_pyproject(
        tmp_path / "proj",
        '[tool.sessionlint.per-file-ignores]\n"tests/*.py" = ["SL1"]\n',
    )
    config = load_config(tmp_path / "proj")
    assert config.is_ignored_for("SL101", tmp_path / "proj" / "tests" / "test_a.py")
    assert not config.is_ignored_for("SL101", tmp_path / "tests" / "test_a.py")


# -- merged (command-line overrides) ----------------------------------------------------------


def test_merged_none_changes_nothing() -> None:
    config = Config(select=("SL1",), target_fastapi="0.100")
    assert config.merged(select=None, ignore=None, target_fastapi=None) == config
    assert config.merged() == config


def test_merged_returns_a_new_config() -> None:
    config = Config()
    merged = config.merged(select=["SL1"])
    assert merged is not config
    assert config.select is None
    assert merged.select == ("SL1",)


def test_merged_select_replaces_whole_selection() -> None:
    config = Config(select=("SL1",), extend_select=("SL3",), ignore=("SL101",))
    merged = config.merged(select=["SL101", "SL2"])
    assert merged.select == ("SL101", "SL2")
    assert merged.extend_select == ()
    assert merged.ignore == ()
    assert merged.is_selected("SL101")
    assert not merged.is_selected("SL102")
    assert not merged.is_selected("SL301")


def test_merged_select_with_cli_ignore_and_extend() -> None:
    merged = Config(ignore=("SL2",)).merged(select=["SL1"], ignore=["SL102"], extend_select=["SL3"])
    assert merged.select == ("SL1",)
    assert merged.ignore == ("SL102",)
    assert merged.extend_select == ("SL3",)


def test_merged_accepts_comma_separated_string() -> None:
    assert Config().merged(select="SL1, SL201").select == ("SL1", "SL201")


def test_merged_cli_ignore_beats_more_specific_config_select() -> None:
    config = Config(select=("SL101", "SL2"))
    merged = config.merged(ignore=["SL1"])
    assert not merged.is_selected("SL101")
    assert merged.is_selected("SL201")
    assert merged.select == ("SL2",)
    assert merged.ignore == ("SL1",)


def test_merged_cli_extend_select_beats_config_ignore() -> None:
    config = Config(ignore=("SL101", "SL2"))
    merged = config.merged(extend_select=["SL1"])
    assert merged.is_selected("SL101")
    assert not merged.is_selected("SL201")
    assert merged.ignore == ("SL2",)
    assert merged.extend_select == ("SL1",)


def test_merged_cli_extend_select_same_selector_as_config_ignore() -> None:
    merged = Config(ignore=("SL1",)).merged(extend_select=["SL1"])
    assert merged.is_selected("SL101")


def test_merged_cli_less_specific_loses_inside_the_layer_only() -> None:
    # Config: SL1 off except SL101. CLI ignores SL10 -> SL101 off, SL110 still off.
    config = Config(ignore=("SL1",), extend_select=("SL101",))
    merged = config.merged(ignore=["SL10"])
    assert not merged.is_selected("SL101")
    assert not merged.is_selected("SL110")
    assert merged.is_selected("SL201")


def test_merged_cli_ignore_keeps_config_ignore() -> None:
    merged = Config(ignore=("SL101",)).merged(ignore=["SL2"])
    assert merged.ignore == ("SL101", "SL2")


def test_merged_bad_selector_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"invalid rule selector 'x1' in '--select'"):
        Config().merged(select=["x1"])
    with pytest.raises(ConfigError, match="--extend-select"):
        Config().merged(extend_select=["nope"])


def test_merged_targets_replace_and_validate() -> None:
    config = Config(target_fastapi="0.100", target_sqlalchemy="2.0")
    merged = config.merged(target_sqlalchemy="1.4")
    assert merged.target_fastapi == "0.100"
    assert merged.target_sqlalchemy == "1.4"
    with pytest.raises(ConfigError, match="--target-fastapi"):
        config.merged(target_fastapi="latest")


def test_merged_excludes_and_names() -> None:
    config = Config(
        exclude=("a/",),
        extend_exclude=("b/",),
        session_factories=("app.db.make",),
        per_file_ignores=(("x.py", ("SL1",)),),
    )
    merged = config.merged(
        exclude=["c/"],
        extend_exclude=["d/"],
        session_factories=["app.db.other", "app.db.make"],
        per_file_ignores={"y.py": ["SL2"]},
    )
    assert merged.exclude == ("c/",)
    assert merged.extend_exclude == ("b/", "d/")
    assert merged.session_factories == ("app.db.make", "app.db.other")
    assert merged.per_file_ignores == (("x.py", ("SL1",)), ("y.py", ("SL2",)))


def test_merged_unknown_override_is_type_error() -> None:
    with pytest.raises(TypeError, match="selct"):
        Config().merged(selct=["SL1"])


def test_config_is_frozen_and_hashable() -> None:
    config = Config(select=("SL1",), per_file_ignores=(("a", ("SL1",)),))
    with pytest.raises(AttributeError):
        config.select = ("SL2",)  # type: ignore[misc]
    assert hash(config) == hash(Config(select=("SL1",), per_file_ignores=(("a", ("SL1",)),)))


# -- documentation ----------------------------------------------------------------------------


def _documented_keys() -> set[str]:
    text = DOCS.read_text(encoding="utf-8")
    return set(re.findall(r"^###\s+`([a-z-]+)`\s*$", text, flags=re.MULTILINE))


def test_every_key_has_a_description() -> None:
    for key, description in CONFIG_KEYS.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", key)
        assert description.strip()
        assert "\n" not in description


def test_every_key_is_documented_and_every_documented_key_exists() -> None:
    documented = _documented_keys()
    assert documented, "docs/configuration.md documents no key as a '### `key`' heading"
    assert sorted(set(CONFIG_KEYS) - documented) == [], "keys missing from the docs"
    assert sorted(documented - set(CONFIG_KEYS)) == [], "documented keys that do not exist"


def test_every_key_maps_to_a_config_field() -> None:
    fields = set(Config.__dataclass_fields__)
    for key in CONFIG_KEYS:
        assert key.replace("-", "_") in fields


def test_documented_cli_flags() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for flag in (
        "--select",
        "--ignore",
        "--extend-select",
        "--config",
        "--isolated",
        "--target-fastapi",
        "--target-sqlalchemy",
    ):
        assert f"`{flag}" in text, flag


# -- discovery of sessionlint.toml / .sessionlint.toml ------------------------------------------


def test_standalone_files_are_found_and_win_in_their_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sessionlint]\nignore = ["SL101"]\n')
    (tmp_path / "sessionlint.toml").write_text('ignore = ["SL102"]\n')
    package = tmp_path / "app"
    package.mkdir()
    assert load_config(package).ignore == ("SL102",)
    (tmp_path / ".sessionlint.toml").write_text('ignore = ["SL103"]\n')
    config = load_config(package / "main.py")
    assert config.ignore == ("SL103",)
    assert config.source == tmp_path / ".sessionlint.toml"
    assert config.root == tmp_path


def test_an_empty_standalone_file_is_used_and_the_closest_folder_wins(tmp_path: Path) -> None:
    (tmp_path / "sessionlint.toml").write_text('ignore = ["SL102"]\n')
    package = tmp_path / "app"
    package.mkdir()
    (package / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no table: skipped
    assert load_config(package).ignore == ("SL102",)
    (package / "sessionlint.toml").write_text("")
    config = load_config(package)
    assert config.ignore == ()
    assert config.source == package / "sessionlint.toml"


def test_a_bad_key_in_a_discovered_standalone_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "sessionlint.toml").write_text('selct = ["SL1"]\n')
    with pytest.raises(ConfigError, match=r"sessionlint\.toml: .*unknown key 'selct'"):
        load_config(tmp_path)
