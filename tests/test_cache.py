"""The findings cache: a run with unchanged inputs reuses the findings, any change re-checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sessionlint import api, cache
from sessionlint.cli import main

DEPS = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite:///app.db"))


def get_db():
    db = SessionLocal()
    yield db
"""

ROUTES = """\
from fastapi import Depends, FastAPI

from app.deps import get_db

app = FastAPI()


@app.get("/items")
async def items(db=Depends(get_db)):
    return db.get(dict, 1)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SESSIONLINT_CACHE_DIR", raising=False)  # the default location
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "deps.py").write_text(DEPS)
    (tmp_path / "app" / "main.py").write_text(ROUTES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many real (not cached) runs happened."""
    calls: list[int] = []
    original = api._lint_run

    def counting(run: api._Run, jobs: int | None, progress: object) -> api.LintResult:
        calls.append(len(run.files))
        return original(run, jobs, progress)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "_lint_run", counting)
    return calls


def check(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--format", "json", *args, "."])


def test_an_unchanged_run_is_served_from_the_cache(project: Path, checks: list[int]) -> None:
    cold = check()
    warm = check()
    assert cold.exit_code == warm.exit_code == 1
    assert warm.stdout == cold.stdout
    assert {d["code"] for d in json.loads(cold.stdout)} == {"SL102", "SL301"}
    assert checks == [3]  # the second run did not check anything
    folder = project / cache.CACHE_DIR_NAME
    assert (folder / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f")
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_change_in_a_dependency_module_is_seen(project: Path, checks: list[int]) -> None:
    first = check()
    assert {d["code"] for d in json.loads(first.stdout)} == {"SL102", "SL301"}
    (project / "app" / "deps.py").write_text('def get_db():\n    yield {"not": "a session"}\n')
    second = check()
    assert checks == [3, 3]
    assert json.loads(second.stdout) == []  # main.py (unchanged) lost its SL301 too


def test_settings_and_versions_are_part_of_the_key(project: Path, checks: list[int]) -> None:
    check()
    check("--select", "SL1")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "svc"\ndependencies = ["fastapi==0.110.0"]\n'
    )
    check()
    assert checks == [3, 3, 3]


def test_a_corrupt_or_foreign_entry_is_ignored_and_rewritten(
    project: Path, checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = check()
    (entry,) = (project / cache.CACHE_DIR_NAME).rglob("*.json")
    entry.write_text("{not json")
    assert check().stdout == cold.stdout
    assert check().stdout == cold.stdout
    assert checks == [3, 3]  # recomputed once, then served from the rewritten entry
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    assert check().stdout == cold.stdout
    assert checks == [3, 3, 3]


def test_no_cache_cache_dir_and_the_environment(
    project: Path,
    checks: list[int],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check("--no-cache")
    check("--no-cache")
    assert checks == [3, 3]
    assert not (project / cache.CACHE_DIR_NAME).exists()
    elsewhere = tmp_path_factory.mktemp("cache")
    check("--cache-dir", str(elsewhere))
    check("--cache-dir", str(elsewhere))
    assert checks == [3, 3, 3]
    assert (elsewhere / "CACHEDIR.TAG").is_file()
    monkeypatch.setenv("SESSIONLINT_CACHE_DIR", str(elsewhere))
    check()
    assert checks == [3, 3, 3]


def test_fix_and_verbose_runs_do_not_use_the_cache(project: Path, checks: list[int]) -> None:
    check()
    verbose = CliRunner().invoke(main, ["check", "-v", "--quiet", "."])
    assert "FastAPI" in verbose.stderr
    assert checks == [3, 3]


def test_clean_removes_only_a_sessionlint_cache(project: Path) -> None:
    check()
    assert (project / cache.CACHE_DIR_NAME).is_dir()
    removed = CliRunner().invoke(main, ["clean"])
    assert removed.exit_code == 0 and "Removed" in removed.stdout
    assert not (project / cache.CACHE_DIR_NAME).exists()
    (project / cache.CACHE_DIR_NAME).mkdir()
    (project / cache.CACHE_DIR_NAME / "keep.txt").write_text("not ours")
    kept = CliRunner().invoke(main, ["clean"])
    assert "No sessionlint cache" in kept.stdout
    assert (project / cache.CACHE_DIR_NAME / "keep.txt").exists()


def test_an_edited_sessionlint_does_not_reuse_old_findings(
    project: Path, checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    check()
    monkeypatch.setattr(cache, "_own_code", lambda: "other rules, same version number")
    check()
    assert checks == [3, 3]
