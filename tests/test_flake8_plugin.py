"""The flake8 plugin, run through the real ``flake8`` and compared with the command line.

``flake8 --select SL`` must report the same (file, line, code) findings as
``sessionlint check --format json`` on the same tree, including findings that need facts from
other modules of the project, also with ``-j 2`` (each worker builds its own project cache).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_projects import CROSS_MODULE, CROSS_MODULE_FINDINGS, write_tree

from sessionlint import __version__
from sessionlint.api import clear_project_cache, lint_file_in_project
from sessionlint.cli import main
from sessionlint.flake8_plugin import Plugin

FIXTURE_PROJECTS = Path(__file__).parent / "fixtures" / "projects"

Finding = tuple[str, int, int, str]  # path relative to the project, line, column, code


def _relative(path: str, root: Path) -> str:
    return Path(os.path.normpath(root / path)).relative_to(root).as_posix()


def run_flake8(
    root: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def flake8_findings(root: Path, *args: str, select: str = "SL") -> set[Finding]:
    proc = run_flake8(
        root, "--select", select, "--format", "%(path)s|%(row)d|%(col)d|%(code)s", *args, "."
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    found = set()
    for line in proc.stdout.splitlines():
        path, row, col, code = line.rsplit("|", 3)
        found.add((_relative(path, root), int(row), int(col), code))
    return found


def cli_findings(root: Path, monkeypatch: pytest.MonkeyPatch) -> set[Finding]:
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["check", "--format", "json", "."])
    assert result.exit_code in (0, 1), result.output
    return {
        (_relative(d["path"], root), d["line"], d["column"], d["code"])
        for d in json.loads(result.stdout)
    }


def _trees() -> list[Path]:
    if not FIXTURE_PROJECTS.is_dir():
        return []
    return sorted(p for p in FIXTURE_PROJECTS.iterdir() if (p / "pyproject.toml").is_file())


@pytest.fixture
def cross_module(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "shop", CROSS_MODULE)


# -- the same findings as the command line ---------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cross_module_tree_matches_cli(
    cross_module: Path, jobs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_flake8 = flake8_findings(cross_module, "-j", jobs)
    from_cli = cli_findings(cross_module, monkeypatch)
    assert {(p, line, code) for p, line, _, code in from_cli} == CROSS_MODULE_FINDINGS
    # Same lines, codes and (1-based, as flake8 prints them) columns.
    assert from_flake8 == from_cli


def test_one_file_named_alone_still_gets_facts_from_other_modules(cross_module: Path) -> None:
    proc = run_flake8(
        cross_module, "--select", "SL", "--format", "%(row)d|%(code)s", "app/routers/items.py"
    )
    assert proc.returncode == 1, proc.stderr
    assert sorted(proc.stdout.split()) == ["12|SL301", "18|SL201"]


@pytest.mark.parametrize("project", _trees(), ids=lambda p: p.name)
def test_fixture_projects_match_cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fixture project: the same findings, except in the files flake8 cannot check.

    flake8 runs plugins only on files the running Python parses; it reports E999 for the
    others (a syntax error, or syntax newer than this interpreter, such as a PEP 695 ``type``
    alias on Python 3.11), while sessionlint parses them with LibCST (or reports SL001).
    """
    from_flake8 = flake8_findings(project, "-j", "2", select="SL,E999")
    unparsed = {path for path, *_, code in from_flake8 if code == "E999"}
    from_cli = cli_findings(project, monkeypatch)
    assert {f for f in from_flake8 if f[0] not in unparsed} == {
        f for f in from_cli if f[0] not in unparsed
    }
    assert {f for f in from_cli if f[3] == "SL001"} <= {f for f in from_cli if f[0] in unparsed}


# -- what flake8 does itself -------------------------------------------------------------------


def test_noqa_is_left_to_flake8(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'x'\n",
            "db.py": "from sqlalchemy.orm import Session\n\nsession = Session()  # noqa: SL101\n",
            "other.py": "from sqlalchemy.orm import Session\n\ns = Session()  # sessionlint: "
            "ignore[SL101]\n",
        },
    )
    assert flake8_findings(root) == set()
    # Without flake8's noqa handling the plugin's finding shows: the plugin did not drop it.
    # (``# sessionlint: ignore[...]`` is sessionlint's own and flake8 does not know it.)
    assert flake8_findings(root, "--disable-noqa") == {("db.py", 3, 11, "SL101")}


def test_syntax_error_is_flake8s_e999_not_sl001(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n", "broken.py": "def f(:\n"}
    )
    found = flake8_findings(root, select="SL,E999")
    assert {code for *_, code in found} == {"E999"}


def test_stdin(cross_module: Path) -> None:
    source = (cross_module / "app/routers/items.py").read_text(encoding="utf-8")
    proc = run_flake8(
        cross_module,
        "--select",
        "SL",
        "--format",
        "%(path)s|%(row)d|%(code)s",
        "--stdin-display-name",
        "app/routers/items.py",
        "-",
        stdin=source,
    )
    assert proc.returncode == 1, proc.stderr
    assert sorted(proc.stdout.split()) == [
        "app/routers/items.py|12|SL301",
        "app/routers/items.py|18|SL201",
    ]


def test_config_of_the_project_applies(cross_module: Path) -> None:
    pyproject = cross_module / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8")
        + '\n[tool.sessionlint]\nignore = ["SL3"]\n\n'
        + '[tool.sessionlint.per-file-ignores]\n"app/jobs.py" = ["SL101"]\n',
        encoding="utf-8",
    )
    assert {(p, line, code) for p, line, _, code in flake8_findings(cross_module)} == {
        ("app/routers/items.py", 18, "SL201")
    }


def test_invalid_config_stops_flake8_with_the_error(cross_module: Path) -> None:
    (cross_module / "pyproject.toml").write_text(
        PYPROJECT_WITH_TYPO := '[project]\nname = "x"\n\n[tool.sessionlint]\nselct = ["SL1"]\n',
        encoding="utf-8",
    )
    assert "selct" in PYPROJECT_WITH_TYPO
    proc = run_flake8(cross_module, "--select", "SL", ".")
    assert proc.returncode != 0
    assert "unknown key 'selct'" in proc.stdout + proc.stderr


def test_plugin_is_registered() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True, check=True
    )
    assert f"sessionlint: {__version__}" in " ".join(proc.stdout.split())


# -- the plugin class itself ------------------------------------------------------------------


def test_plugin_yields_zero_based_columns_and_its_type(cross_module: Path) -> None:
    clear_project_cache()
    path = cross_module / "app" / "jobs.py"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    plugin = Plugin(ast.parse("".join(lines)), str(path), lines)
    results = list(plugin.run())
    assert len(results) == 1
    line, col, message, kind = results[0]
    assert (line, col) == (3, 10)  # ``session = SessionLocal()``: the call starts at column 11
    assert message.startswith("SL101 ")
    assert kind is Plugin
    assert Plugin.name == "sessionlint"
    assert Plugin.version == __version__


def test_plugin_lints_the_lines_it_is_given(cross_module: Path) -> None:
    """flake8 may pass content that differs from the file on disk (standard input): the
    plugin lints that content, still inside the project."""
    clear_project_cache()
    path = cross_module / "app" / "routers" / "items.py"
    lines = [
        "from fastapi import Depends\n",
        "from app.deps import get_db\n",
        "\n",
        "\n",
        "async def handler(db=Depends(get_db)):\n",
        "    db.commit()\n",
    ]
    first = list(Plugin(ast.parse("".join(lines)), str(path), lines).run())
    assert [(line, message.split()[0]) for line, _, message, _ in first] == [(6, "SL301")]
    # The cached project still holds the file as it is on disk.
    on_disk = path.read_text(encoding="utf-8").splitlines(keepends=True)
    second = list(Plugin(ast.parse("".join(on_disk)), str(path), on_disk).run())
    assert sorted((line, message.split()[0]) for line, _, message, _ in second) == [
        (12, "SL301"),
        (18, "SL201"),
    ]


def test_a_tree_without_project_marker_checked_from_elsewhere(tmp_path: Path) -> None:
    """No marker above the files: the folder flake8 was given is their project (as for
    ``sessionlint check``), not each file's own folder, so the dependency declared in
    ``main.py`` is seen from ``app/deps.py``."""
    tree = write_tree(
        tmp_path / "service",
        {
            "main.py": "from fastapi import Depends, FastAPI\n\nfrom app.deps import get_db\n\n"
            "app = FastAPI()\n\n\n@app.get('/items')\ndef items(db=Depends(get_db)):\n"
            "    return db.get(dict, 1)\n",
            "app/__init__.py": "",
            "app/deps.py": "from sqlalchemy.orm import Session\n\n\ndef get_db():\n"
            "    db = Session()\n    yield db\n    db.close()\n",
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "SL", str(tree)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    flake8 = {
        (Path(line.split(":")[0]).name, line.split(" ")[1]) for line in proc.stdout.splitlines()
    }
    cli = CliRunner().invoke(main, ["check", "--isolated", "--format", "json", str(tree)])
    assert {(Path(d["path"]).name, d["code"]) for d in json.loads(cli.stdout)} == flake8
    assert ("deps.py", "SL102") in flake8
    # The project root the plugin gives deps.py: the folder flake8 was given, not app/.
    Plugin.parse_options(argparse.Namespace(filenames=[str(tree)], sessionlint_no_cache=True))
    try:
        assert Plugin.given == (tree,)
        deps = tree / "app" / "deps.py"
        result = lint_file_in_project(deps, given=Plugin.given)
        assert list(result.versions) == [str(tree.resolve())]
        assert list(lint_file_in_project(deps).versions) == [str((tree / "app").resolve())]
    finally:
        Plugin.parse_options(argparse.Namespace())
