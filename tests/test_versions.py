"""Tests for sessionlint.versions: finding the FastAPI / SQLAlchemy versions of a project."""

from __future__ import annotations

import codecs
import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from sessionlint.versions import (
    UNKNOWN,
    UNKNOWN_SOURCE,
    TargetVersions,
    VersionDetector,
    lowest_admitted_version,
    parse_version_override,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def app_file(directory: Path, name: str = "app.py") -> Path:
    return write(directory / name, "import fastapi\n")


def detect(path: Path, **kwargs: str) -> TargetVersions:
    return VersionDetector(**kwargs).for_path(path)


def pyproject_deps(*deps: str) -> str:
    items = ", ".join(json.dumps(d) for d in deps)  # a JSON string is a TOML basic string
    return f'[project]\nname = "x"\nversion = "1"\ndependencies = [{items}]\n'


# ---------------------------------------------------------------------------------------------
# Specifiers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=0.110,<1", "0.110"),
        ("<1,>=0.110", "0.110"),
        ("~=2.0.3", "2.0.3"),
        ("~=2.0", "2.0"),
        ("==0.115.*", "0.115"),
        ("==0.115.2", "0.115.2"),
        (">0.100", "0.100"),
        (">=0.100,>=0.110", "0.110"),
        (">=0.110,!=0.111", "0.110"),
        (">=2.0.0b1", "2.0.0b1"),
        ("===1.4.5", "1.4.5"),
        ("<2.0", None),
        ("<=2.0,!=1.3", None),
        ("", None),
        ("===weird", None),
        ("not a specifier", None),
    ],
)
def test_lowest_admitted_version(spec: str, expected: str | None) -> None:
    result = lowest_admitted_version(spec)
    assert result == (None if expected is None else Version(expected))
    if spec != "not a specifier":
        assert lowest_admitted_version(SpecifierSet(spec)) == result


# ---------------------------------------------------------------------------------------------
# TargetVersions predicates and display
# ---------------------------------------------------------------------------------------------


def test_unknown_means_newest() -> None:
    assert UNKNOWN.fastapi is None and UNKNOWN.sqlalchemy is None
    assert UNKNOWN.fastapi_source == UNKNOWN_SOURCE == UNKNOWN.sqlalchemy_source
    assert UNKNOWN.fastapi_at_least("0.118")
    assert not UNKNOWN.fastapi_below("0.118")
    assert UNKNOWN.sqlalchemy_at_least("2.0")
    assert not UNKNOWN.sqlalchemy_below("2.0")
    # In a range: newest is inside an open-ended one, outside a bounded one.
    assert UNKNOWN.fastapi_in("0.100")
    assert not UNKNOWN.fastapi_in("0.100", "0.118")
    assert UNKNOWN.sqlalchemy_in("2.0")
    assert not UNKNOWN.sqlalchemy_in("1.4", "2.0")


def test_known_version_predicates() -> None:
    t = TargetVersions.of(fastapi="0.115.2", sqlalchemy="1.4.52")
    assert t.fastapi_at_least("0.115")
    assert t.fastapi_at_least(Version("0.115.2"))
    assert not t.fastapi_at_least("0.118")
    assert t.fastapi_below("0.118")
    assert not t.fastapi_below("0.115")
    assert t.fastapi_in("0.100", "0.118")
    assert t.fastapi_in("0.115.2", "0.116")
    assert not t.fastapi_in("0.100", "0.115.2")  # high is exclusive
    assert not t.fastapi_in("0.116")
    assert t.fastapi_in("0.110")
    assert t.sqlalchemy_below("2.0")
    assert not t.sqlalchemy_at_least("2.0")
    assert t.sqlalchemy_in("1.4", "2.0")
    # Pre-releases sort below the release.
    rc = TargetVersions.of(fastapi="0.118.0rc1")
    assert rc.fastapi_below("0.118")


def test_of_sets_sources_and_is_hashable() -> None:
    t = TargetVersions.of(fastapi="0.110", source="test")
    assert t.fastapi == Version("0.110")
    assert t.fastapi_source == "test"
    assert t.sqlalchemy is None and t.sqlalchemy_source == UNKNOWN_SOURCE
    assert hash(t) == hash(TargetVersions.of(fastapi="0.110", source="test"))
    assert TargetVersions.of() == UNKNOWN


def test_describe() -> None:
    t = TargetVersions(Version("0.115"), None, "/p/uv.lock", UNKNOWN_SOURCE)
    text = t.describe()
    lines = text.splitlines()
    assert len(lines) == 2
    assert "FastAPI" in lines[0] and "0.115" in lines[0] and "/p/uv.lock" in lines[0]
    assert "SQLAlchemy" in lines[1] and "unknown" in lines[1] and "2.0" in lines[1]


def test_describe_runtime() -> None:
    listed = TargetVersions(None, None, UNKNOWN_SOURCE, UNKNOWN_SOURCE, True, "/p/requirements.txt")
    assert listed.describe_runtime(True) == (
        "Runs on FastAPI: yes (a runtime dependency in /p/requirements.txt)"
    )
    dev_only = TargetVersions(
        None, None, UNKNOWN_SOURCE, UNKNOWN_SOURCE, False, "/p/pyproject.toml"
    )
    assert dev_only.describe_runtime(False).startswith(
        "Runs on FastAPI: no (not a runtime dependency in /p/pyproject.toml"
    )
    assert UNKNOWN.describe_runtime(True) == (
        "Runs on FastAPI: yes (no dependency metadata; application code imports fastapi)"
    )
    assert UNKNOWN.describe_runtime(False) == (
        "Runs on FastAPI: no (no dependency metadata; application code does not import fastapi)"
    )


# ---------------------------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0.115", "1.4", "2.0.3", " 2.0 ", "v0.115", "2.0.0rc1"])
def test_parse_version_override(text: str) -> None:
    assert parse_version_override(text) == Version(text.strip())


@pytest.mark.parametrize("text", ["", "  ", "abc", ">=0.115", "0.115.*", "latest", "1.4,2.0"])
def test_parse_version_override_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid target version"):
        parse_version_override(text)


def test_cli_override_beats_everything(tmp_path: Path) -> None:
    write(
        tmp_path / "uv.lock",
        """
        [[package]]
        name = "fastapi"
        version = "0.121.0"

        [[package]]
        name = "sqlalchemy"
        version = "2.0.36"
        """,
    )
    write(tmp_path / "pyproject.toml", '[tool.sessionlint]\ntarget-fastapi = "0.118"\n')
    t = detect(app_file(tmp_path), override_fastapi="0.115", override_sqlalchemy="1.4")
    assert t.fastapi == Version("0.115")
    assert t.sqlalchemy == Version("1.4")
    assert t.fastapi_source == "--target-fastapi"
    assert t.sqlalchemy_source == "--target-sqlalchemy"


def test_override_one_package_only(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "fastapi==0.110.0\nsqlalchemy==1.4.50\n")
    t = detect(app_file(tmp_path), override_sqlalchemy="2.0")
    assert t.fastapi == Version("0.110.0")
    assert str(tmp_path / "requirements.txt") in t.fastapi_source
    assert t.sqlalchemy == Version("2.0")


def test_override_source_label() -> None:
    d = VersionDetector(override_fastapi="0.115", override_source="[tool.sessionlint]")
    assert d.for_path(Path("/nonexistent/x.py")).fastapi_source == (
        "[tool.sessionlint] target-fastapi"
    )


def test_invalid_cli_override_raises() -> None:
    with pytest.raises(ValueError, match="--target-fastapi"):
        VersionDetector(override_fastapi="newest")
    with pytest.raises(ValueError, match="--target-sqlalchemy"):
        VersionDetector(override_sqlalchemy=">=2")


def test_tool_sessionlint_overrides_detection(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"
        version = "1"
        dependencies = ["fastapi>=0.121", "sqlalchemy>=2.0"]

        [tool.sessionlint]
        target-fastapi = "0.115"
        target-sqlalchemy = "1.4"
        """,
    )
    t = detect(app_file(tmp_path / "pkg"))
    assert t.fastapi == Version("0.115")
    assert t.sqlalchemy == Version("1.4")
    assert t.fastapi_source.startswith("[tool.sessionlint] target-fastapi")
    assert str(tmp_path / "pyproject.toml") in t.fastapi_source


def test_tool_sessionlint_beats_nearer_lock(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.sessionlint]\ntarget-fastapi = "0.115"\n')
    write(tmp_path / "svc" / "uv.lock", '[[package]]\nname = "fastapi"\nversion = "0.120.0"\n')
    assert detect(app_file(tmp_path / "svc")).fastapi == Version("0.115")


def test_nearest_tool_sessionlint_table_governs(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.sessionlint]\ntarget-fastapi = "0.100"\n')
    # A nearer [tool.sessionlint] table without target-fastapi: the outer one does not apply.
    write(
        tmp_path / "svc" / "pyproject.toml",
        '[project]\ndependencies = ["fastapi>=0.112"]\n[tool.sessionlint]\nselect = ["SL"]\n',
    )
    assert detect(app_file(tmp_path / "svc")).fastapi == Version("0.112")
    assert detect(app_file(tmp_path)).fastapi == Version("0.100")


@pytest.mark.parametrize("value", ['"garbage"', "0.110", "[1]", '""'])
def test_bad_tool_sessionlint_values_are_ignored(tmp_path: Path, value: str) -> None:
    write(
        tmp_path / "pyproject.toml",
        pyproject_deps("fastapi>=0.112") + f"[tool.sessionlint]\ntarget-fastapi = {value}\n",
    )
    assert detect(app_file(tmp_path)).fastapi == Version("0.112")


# ---------------------------------------------------------------------------------------------
# Lock files
# ---------------------------------------------------------------------------------------------

UV_LOCK = """
version = 1
requires-python = ">=3.10"

[[package]]
name = "fastapi"
version = "0.115.6"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "pydantic" }, { name = "starlette" }]

[[package]]
name = "myapp"
source = { editable = "." }

[[package]]
name = "SQLAlchemy"
version = "2.0.36"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "flask-sqlalchemy"
version = "3.1.1"
"""


def test_uv_lock(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", UV_LOCK)
    t = detect(app_file(tmp_path / "src" / "myapp"))
    assert t.fastapi == Version("0.115.6")
    assert t.sqlalchemy == Version("2.0.36")
    assert t.fastapi_source == str(tmp_path / "uv.lock")


def test_poetry_lock(tmp_path: Path) -> None:
    write(
        tmp_path / "poetry.lock",
        """
        # This file is automatically @generated by Poetry and should not be changed by hand.

        [[package]]
        name = "fastapi"
        version = "0.110.3"
        description = "FastAPI framework"
        optional = false
        python-versions = ">=3.8"
        files = [{file = "fastapi-0.110.3-py3-none-any.whl", hash = "sha256:00"}]

        [[package]]
        name = "sqlalchemy"
        version = "1.4.52"
        description = "Database Abstraction Library"
        optional = false
        python-versions = ">=2.7"

        [metadata]
        lock-version = "2.0"
        """,
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.110.3")
    assert t.sqlalchemy == Version("1.4.52")
    assert t.sqlalchemy_source == str(tmp_path / "poetry.lock")


def test_lock_with_forked_resolution_keeps_lowest(tmp_path: Path) -> None:
    write(
        tmp_path / "uv.lock",
        """
        [[package]]
        name = "sqlalchemy"
        version = "2.0.36"
        resolution-markers = ["python_full_version >= '3.9'"]

        [[package]]
        name = "sqlalchemy"
        version = "1.4.54"
        resolution-markers = ["python_full_version < '3.9'"]
        """,
    )
    assert detect(app_file(tmp_path)).sqlalchemy == Version("1.4.54")


def test_lock_beats_pyproject_and_requirements(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", UV_LOCK)
    write(tmp_path / "pyproject.toml", pyproject_deps("fastapi>=0.100", "sqlalchemy>=1.4"))
    write(tmp_path / "requirements.txt", "fastapi==0.99.0\nsqlalchemy==1.3.0\n")
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.115.6")
    assert t.sqlalchemy == Version("2.0.36")


def test_lock_without_package_falls_back_to_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", '[[package]]\nname = "fastapi"\nversion = "0.115.6"\n')
    write(tmp_path / "pyproject.toml", pyproject_deps("fastapi>=0.100", "sqlalchemy>=1.4.3"))
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.115.6")
    assert t.sqlalchemy == Version("1.4.3")
    assert "pyproject.toml [project] sqlalchemy>=1.4.3" in t.sqlalchemy_source


def test_malformed_lock_falls_back(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", "[[package]\nname = fastapi\n")
    write(tmp_path / "pyproject.toml", pyproject_deps("fastapi>=0.100"))
    assert detect(app_file(tmp_path)).fastapi == Version("0.100")


@pytest.mark.parametrize(
    "content",
    [
        'package = "fastapi"\n',
        "package = [1, 2]\n",
        '[[package]]\nname = "fastapi"\nversion = 3\n',
        '[[package]]\nname = "fastapi"\nversion = "not-a-version"\n',
        '[[package]]\nname = "fastapi"\n',
    ],
)
def test_odd_lock_contents_give_nothing(tmp_path: Path, content: str) -> None:
    write(tmp_path / "uv.lock", content)
    assert detect(app_file(tmp_path)) == UNKNOWN


# ---------------------------------------------------------------------------------------------
# pyproject.toml
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dep", "expected"),
    [
        ("fastapi>=0.110,<1", "0.110"),
        ("fastapi~=0.115.2", "0.115.2"),
        ("fastapi==0.115.*", "0.115"),
        ("fastapi>0.100", "0.100"),
        ("fastapi<1.0", None),
        ("fastapi", None),
        ("fastapi[standard]>=0.115", "0.115"),
        ("fastapi[standard,all] >= 0.112.1", "0.112.1"),
        ("fastapi>=0.109; python_version >= '3.9'", "0.109"),
        ('FastAPI[standard]>=0.111 ; sys_platform != "win32"', "0.111"),
        ("fastapi @ https://example.com/fastapi-0.115.0-py3-none-any.whl", None),
        ("fastapi-utils>=0.7", None),
    ],
)
def test_pyproject_project_dependencies(tmp_path: Path, dep: str, expected: str | None) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps(dep))
    t = detect(app_file(tmp_path))
    assert t.fastapi == (None if expected is None else Version(expected))
    if expected is None:
        assert t.fastapi_source == UNKNOWN_SOURCE
    else:
        assert t.fastapi_source == f"{tmp_path / 'pyproject.toml'} [project] {dep}"


@pytest.mark.parametrize(
    ("dep", "expected"),
    [
        ("SQLAlchemy>=1.4,<2", "1.4"),
        ("sqlalchemy[asyncio]>=2.0.25", "2.0.25"),
        ("SQLAlchemy[asyncio,mypy]~=1.4.41", "1.4.41"),
        ("sql_alchemy>=1.3", None),  # normalises to sql-alchemy, another project
        ("Flask_SQLAlchemy>=3.0", None),
        ("flask-sqlalchemy>=3.0", None),
        ("sqlmodel>=0.0.16", None),  # does not imply a SQLAlchemy version
        ("sqlalchemy-utils>=0.41", None),
    ],
)
def test_sqlalchemy_names(tmp_path: Path, dep: str, expected: str | None) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps(dep))
    assert detect(app_file(tmp_path)).sqlalchemy == (
        None if expected is None else Version(expected)
    )


def test_sqlmodel_plus_sqlalchemy_pin(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps("sqlmodel>=0.0.22", "SQLAlchemy>=2.0.30"))
    assert detect(app_file(tmp_path)).sqlalchemy == Version("2.0.30")


def test_pyproject_optional_dependencies(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        name = "x"
        version = "1"
        dependencies = ["pydantic>=2"]

        [project.optional-dependencies]
        web = ["fastapi[standard]>=0.112"]
        db = ["sqlalchemy[asyncio]>=2.0.1"]
        """,
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.112")
    assert t.sqlalchemy == Version("2.0.1")
    assert "[project.optional-dependencies] web" in t.fastapi_source


def test_main_dependencies_beat_extras(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        dependencies = ["fastapi>=0.115"]

        [project.optional-dependencies]
        old = ["fastapi>=0.100"]
        """,
    )
    assert detect(app_file(tmp_path)).fastapi == Version("0.115")


def test_marker_alternatives_take_lowest(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        pyproject_deps(
            "fastapi>=0.115; python_version >= '3.9'",
            "fastapi>=0.100; python_version < '3.9'",
            "fastapi",
        ),
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.100")
    assert "python_version < '3.9'" in t.fastapi_source


def test_invalid_dependency_entries_are_skipped(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        dependencies = ["fastapi>=>0.1", 42, "", "sqlalchemy>=1.4.0"]
        """,
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi is None
    assert t.sqlalchemy == Version("1.4.0")


def test_wrongly_typed_tables_are_ignored(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        project = "fastapi>=0.1"
        [tool]
        poetry = ["fastapi"]
        """,
    )
    assert detect(app_file(tmp_path)) == UNKNOWN
    write(
        tmp_path / "pyproject.toml",
        """
        [project]
        dependencies = "fastapi>=0.1"
        optional-dependencies = ["fastapi>=0.1"]
        [tool.poetry]
        dependencies = "x"
        group = 3
        """,
    )
    assert detect(app_file(tmp_path)) == UNKNOWN


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ('"^0.115.0"', "0.115.0"),
        ('"^0.115"', "0.115"),
        ('"~1.4"', "1.4"),
        ('"~=1.4.2"', "1.4.2"),
        ('">=0.110,<0.120"', "0.110"),
        ('">= 0.110, < 0.120"', "0.110"),
        ('">=0.110 <0.120"', "0.110"),
        ('"0.115.2"', "0.115.2"),
        ('"==0.115.2"', "0.115.2"),
        ('"0.115.*"', "0.115"),
        ('"^0.100 || ^0.115"', "0.100"),
        ('"*"', None),
        ('"<1.0"', None),
        ('"<0.100 || >=0.115"', None),
        ('""', None),
        ('{ version = "^0.111.0", extras = ["standard"] }', "0.111.0"),
        ('{ git = "https://github.com/tiangolo/fastapi.git" }', None),
        ('{ path = "../fastapi" }', None),
        (
            '[{ version = "^0.110", python = "<3.9" }, { version = "^0.115", python = ">=3.9" }]',
            "0.110",
        ),
    ],
)
def test_poetry_dependencies(tmp_path: Path, constraint: str, expected: str | None) -> None:
    write(
        tmp_path / "pyproject.toml",
        f'[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\n'
        f'python = "^3.10"\nFastAPI = {constraint}\n',
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == (None if expected is None else Version(expected))
    if expected is not None:
        assert "[tool.poetry.dependencies] FastAPI = " in t.fastapi_source


def test_poetry_groups_and_dev_dependencies(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
        [tool.poetry.dependencies]
        python = "^3.11"

        [tool.poetry.group.web.dependencies]
        fastapi = "^0.113"

        [tool.poetry.dev-dependencies]
        SQLAlchemy = { version = "~1.4.40", extras = ["asyncio"] }
        """,
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.113")
    assert "[tool.poetry.group.web.dependencies]" in t.fastapi_source
    assert t.sqlalchemy == Version("1.4.40")
    assert "[tool.poetry.dev-dependencies]" in t.sqlalchemy_source


def test_pyproject_beats_requirements(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps("fastapi>=0.110"))
    write(tmp_path / "requirements.txt", "fastapi==0.99.1\nsqlalchemy==1.4.0\n")
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.110")
    # pyproject says nothing about SQLAlchemy: requirements.txt in the same directory does.
    assert t.sqlalchemy == Version("1.4.0")


@pytest.mark.parametrize(
    "content",
    [
        b"[project\ndependencies = [",
        b'[project]\ndependencies = ["fastapi>=0.1"]\n[project]\n',  # duplicate table
        b"\xff\xfe[\x00p\x00r\x00",  # UTF-16: not valid TOML
        b'[project]\ndependencies = ["fastapi>=0.1 \xe9"]\n',  # not UTF-8
        b"\x00\x01\x02\x03",
    ],
)
def test_malformed_pyproject_gives_nothing(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    assert detect(app_file(tmp_path)) == UNKNOWN


def test_malformed_pyproject_falls_back_to_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[[[")
    write(tmp_path / "requirements.txt", "fastapi==0.101.0\n")
    assert detect(app_file(tmp_path)).fastapi == Version("0.101.0")


def test_pyproject_with_utf8_bom(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(
        codecs.BOM_UTF8 + pyproject_deps("fastapi>=0.105").encode()
    )
    assert detect(app_file(tmp_path)).fastapi == Version("0.105")


# ---------------------------------------------------------------------------------------------
# requirements files
# ---------------------------------------------------------------------------------------------

FREEZE = "annotated-types==0.7.0\nfastapi==0.104.1\nSQLAlchemy==2.0.23\nstarlette==0.27.0\n"


def test_requirements_txt(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", FREEZE)
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.104.1")
    assert t.sqlalchemy == Version("2.0.23")
    assert t.fastapi_source == f"{tmp_path / 'requirements.txt'}: fastapi==0.104.1"


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-8", b""),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-16-le", b""),  # no BOM
    ],
)
def test_requirements_encodings(tmp_path: Path, encoding: str, bom: bytes) -> None:
    # Windows `pip freeze > requirements.txt` (PowerShell) writes UTF-16 LE with a BOM, CRLF.
    text = "# café\r\n" + FREEZE.replace("\n", "\r\n")
    (tmp_path / "requirements.txt").write_bytes(bom + text.encode(encoding))
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.104.1")
    assert t.sqlalchemy == Version("2.0.23")


def test_requirements_latin1_comment_does_not_lose_lines(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(
        "# r\xe9sum\xe9 \xff\nfastapi==0.100.1\nsqlalchemy==1.4.\xe9\n".encode("latin-1")
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.100.1")
    assert t.sqlalchemy is None


def test_requirements_syntax(tmp_path: Path) -> None:
    write(
        tmp_path / "requirements.txt",
        """
        # comment line
        --index-url https://pypi.org/simple
        --extra-index-url=https://example.com/simple

        -e git+https://github.com/example/thing.git#egg=thing
        -e .
        ./local/package
        this is not a requirement ===
        fastapi[standard]>=0.111.0 ; python_version >= "3.8"  # trailing comment
        sqlalchemy[asyncio]==2.0.31 \\
            --hash=sha256:aaaa \\
            --hash=sha256:bbbb
        """,
    )
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.111.0")
    assert t.sqlalchemy == Version("2.0.31")
    assert "--hash" not in t.sqlalchemy_source


def test_requirements_hash_on_same_line(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "fastapi==0.109.2 --hash=sha256:abc --hash=sha256:def\n")
    assert detect(app_file(tmp_path)).fastapi == Version("0.109.2")


def test_requirements_includes(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-r requirements/base.txt\nuvicorn\n")
    write(tmp_path / "requirements" / "base.txt", "--requirement=db.txt\nfastapi~=0.108.0\n")
    write(tmp_path / "requirements" / "db.txt", "SQLAlchemy>=1.4.49,<2\n")
    t = detect(app_file(tmp_path / "app"))
    assert t.fastapi == Version("0.108.0")
    assert t.sqlalchemy == Version("1.4.49")
    assert str(tmp_path / "requirements" / "db.txt") in t.sqlalchemy_source


def test_requirements_include_loop_and_missing_files(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-r a.txt\n-r missing.txt\n-r https://x/y.txt\n")
    write(tmp_path / "a.txt", "-r b.txt\n-ra.txt\n")
    write(tmp_path / "b.txt", "-r requirements.txt\n-r a.txt\nfastapi>=0.103\n")
    assert detect(app_file(tmp_path)).fastapi == Version("0.103")


def test_requirements_include_depth_is_bounded(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "-r r1.txt\n")
    for i in range(1, 40):
        write(tmp_path / f"r{i}.txt", f"-r r{i + 1}.txt\n")
    write(tmp_path / "r40.txt", "fastapi==0.1.0\n")
    assert detect(app_file(tmp_path)).fastapi is None  # too deep: given up, no crash


def test_requirements_variants_and_priority(tmp_path: Path) -> None:
    write(tmp_path / "requirements-dev.txt", "fastapi==0.99.0\nsqlalchemy==1.3.24\n")
    write(tmp_path / "requirements.txt", "fastapi==0.104.0\n")
    t = detect(app_file(tmp_path))
    assert t.fastapi == Version("0.104.0")  # requirements.txt first
    assert t.sqlalchemy == Version("1.3.24")  # then the others
    assert "requirements-dev.txt" in t.sqlalchemy_source


def test_requirements_directory(tmp_path: Path) -> None:
    write(tmp_path / "requirements" / "prod.txt", "fastapi==0.110.2\n")
    write(tmp_path / "requirements" / "notes.md", "fastapi==0.1\n")
    assert detect(app_file(tmp_path)).fastapi == Version("0.110.2")


def test_requirements_without_pins(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "fastapi\nsqlalchemy<2\n")
    assert detect(app_file(tmp_path)) == replace(UNKNOWN, fastapi_runtime=True)


def test_binary_garbage_requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(bytes(range(256)) * 10)
    assert detect(app_file(tmp_path)) == UNKNOWN


def test_odd_files_named_like_project_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    (tmp_path / "uv.lock").mkdir()
    (tmp_path / "requirements.txt").mkdir()
    (tmp_path / "requirements").write_text("fastapi==0.1\n")
    assert detect(app_file(tmp_path)) == UNKNOWN


# ---------------------------------------------------------------------------------------------
# Search: nearest directory, per package, caching
# ---------------------------------------------------------------------------------------------


def test_no_project_files(tmp_path: Path) -> None:
    assert detect(app_file(tmp_path / "a" / "b")) == UNKNOWN


def test_nested_projects_nearest_wins(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps("fastapi>=0.100"))
    write(tmp_path / "services" / "api" / "requirements.txt", "fastapi==0.115.4\n")
    write(tmp_path / "services" / "legacy" / "poetry.lock", POETRY_LOCK_095)
    detector = VersionDetector()
    api = detector.for_path(app_file(tmp_path / "services" / "api" / "app" / "routes"))
    legacy = detector.for_path(app_file(tmp_path / "services" / "legacy"))
    root = detector.for_path(app_file(tmp_path / "scripts"))
    assert api.fastapi == Version("0.115.4")
    assert legacy.fastapi == Version("0.95.2")
    assert root.fastapi == Version("0.100")


POETRY_LOCK_095 = '[[package]]\nname = "fastapi"\nversion = "0.95.2"\n'


def test_nearer_requirements_beat_farther_lock(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", UV_LOCK)
    write(tmp_path / "sub" / "requirements.txt", "fastapi==0.101.0\n")
    t = detect(app_file(tmp_path / "sub"))
    assert t.fastapi == Version("0.101.0")
    assert t.sqlalchemy == Version("2.0.36")  # per package: from the lock further up


def test_directory_without_the_package_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", pyproject_deps("sqlalchemy>=1.4"))
    write(tmp_path / "api" / "pyproject.toml", pyproject_deps("fastapi>=0.111", "sqlmodel"))
    t = detect(app_file(tmp_path / "api" / "src"))
    assert t.fastapi == Version("0.111")
    assert str(tmp_path / "api" / "pyproject.toml") in t.fastapi_source
    assert t.sqlalchemy == Version("1.4")
    assert t.sqlalchemy_source.startswith(str(tmp_path / "pyproject.toml"))


def test_file_directory_itself_counts(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "fastapi==0.1.0\n")
    write(tmp_path / "pkg" / "requirements.txt", "fastapi==0.2.0\n")
    assert detect(tmp_path / "pkg" / "main.py").fastapi == Version("0.2.0")  # need not exist
    assert detect(tmp_path / "pkg").fastapi == Version("0.2.0")  # a directory
    assert detect(tmp_path / "main.py").fastapi == Version("0.1.0")


def test_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "requirements.txt", "fastapi==0.105.0\n")
    app_file(tmp_path / "pkg")
    monkeypatch.chdir(tmp_path / "pkg")
    assert VersionDetector().for_path(Path("app.py")).fastapi == Version("0.105.0")
    assert VersionDetector().for_path("app.py").fastapi == Version("0.105.0")


def test_cache_and_clear(tmp_path: Path) -> None:
    req = write(tmp_path / "requirements.txt", "fastapi==0.100.0\n")
    a = app_file(tmp_path / "pkg", "a.py")
    b = app_file(tmp_path / "pkg", "b.py")
    detector = VersionDetector()
    first = detector.for_path(a)
    assert first.fastapi == Version("0.100.0")
    req.write_text("fastapi==0.120.0\n")
    assert detector.for_path(b) is first  # same directory: cached
    assert detector.for_path(tmp_path / "other.py").fastapi == Version("0.100.0")  # dir cache
    assert VersionDetector().for_path(a).fastapi == Version("0.120.0")  # a fresh detector
    detector.clear_cache()
    assert detector.for_path(a).fastapi == Version("0.120.0")


def test_cache_reads_each_directory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.versions as versions

    write(tmp_path / "requirements.txt", "fastapi==0.100.0\n")
    calls: list[Path] = []
    original = versions._scan_directory

    def counting(directory: Path) -> versions._DirInfo:
        calls.append(directory)
        return original(directory)

    monkeypatch.setattr(versions, "_scan_directory", counting)
    detector = VersionDetector()
    for i in range(50):
        detector.for_path(app_file(tmp_path / "pkg" / f"sub{i % 5}", f"m{i}.py"))
    assert len(calls) == len(set(calls))


# ---------------------------------------------------------------------------------------------
# FastAPI as a runtime dependency (SL402, SL305)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "runtime"),
    [
        ({"pyproject.toml": pyproject_deps("fastapi>=0.115")}, True),
        ({"pyproject.toml": pyproject_deps("sqlalchemy>=2")}, False),
        (
            {
                "pyproject.toml": pyproject_deps("sqlalchemy>=2")
                + '[project.optional-dependencies]\ntest = ["fastapi>=0.115", "pytest"]\n'
            },
            False,
        ),
        (
            {
                "pyproject.toml": pyproject_deps("sqlalchemy>=2")
                + '[project.optional-dependencies]\nserver = ["fastapi>=0.115"]\n'
            },
            True,  # an installable extra that is not a development one
        ),
        (
            {
                "pyproject.toml": pyproject_deps("sqlalchemy>=2")
                + '[dependency-groups]\ndev = ["fastapi>=0.115"]\n'
            },
            False,
        ),
        (
            {
                "pyproject.toml": (
                    '[tool.poetry.dependencies]\npython = "^3.11"\nsqlalchemy = "^2.0"\n'
                    '[tool.poetry.group.dev.dependencies]\nfastapi = "^0.115"\n'
                )
            },
            False,
        ),
        (
            {
                "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\n'
                'fastapi = "^0.115"\n'
            },
            True,
        ),
        ({"requirements.txt": "fastapi==0.115.0\n"}, True),
        ({"requirements.txt": "sqlalchemy==2.0.30\n", "requirements-dev.txt": "fastapi\n"}, False),
        ({"requirements.txt": "sqlalchemy\n", "requirements-test.txt": "fastapi\n"}, False),
        ({"requirements/base.txt": "fastapi\n", "requirements/test.txt": "pytest\n"}, True),
        ({"requirements/base.txt": "sqlalchemy\n", "requirements/dev.txt": "fastapi\n"}, False),
        # [project] without dependencies but requirements.txt next to it (dynamic or not).
        ({"pyproject.toml": pyproject_deps(), "requirements.txt": "fastapi\n"}, True),
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=['fastapi'])\n"}, None),
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=['flask'])\n"}, False),
        ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, None),  # no metadata
        ({}, None),
    ],
)
def test_fastapi_runtime(tmp_path: Path, files: dict[str, str], runtime: bool | None) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    assert detect(app_file(tmp_path)).fastapi_runtime is runtime


def test_fastapi_runtime_nearest_metadata_wins(tmp_path: Path) -> None:
    # The repository's tooling pyproject.toml declares no dependencies: the service's
    # requirements decide; a package with its own metadata decides for itself.
    write(tmp_path / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    write(tmp_path / "service" / "requirements.txt", "fastapi\n")
    write(tmp_path / "lib" / "pyproject.toml", pyproject_deps("sqlalchemy"))
    assert detect(app_file(tmp_path / "service" / "app")).fastapi_runtime is True
    assert detect(app_file(tmp_path / "lib" / "src")).fastapi_runtime is False
