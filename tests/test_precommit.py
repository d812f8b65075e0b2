"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by pre-commit itself (`try-repo`).

pre-commit builds the hook's virtualenv from this repository (as a user's `rev:` would), passes
the staged files by name, and reports the hook's exit status: what a user gets in `git commit`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which(
    "pre-commit"
)

pytestmark = pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")

LEAKY = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("sqlite://"))


def get_db():
    db = SessionLocal()
    yield db
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def _try(repo: Path, home: Path, hook: str) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [PRE_COMMIT, "try-repo", str(ROOT), hook, "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "service"
    (repo / "app").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "service"\n\n[tool.sessionlint]\nextend-exclude = ["legacy/"]\n'
    )
    (repo / "app" / "deps.py").write_text(LEAKY)
    (repo / "legacy").mkdir()
    (repo / "legacy" / "old.py").write_text(LEAKY)  # excluded: --force-exclude applies it
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    return repo


def test_the_check_hook_fails_on_a_finding_and_honours_excludes(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    repo = _repo(tmp_path)
    run = _try(repo, pre_commit_home, "sessionlint")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "app/deps.py:9:5: SL102" in run.stdout
    assert "legacy/old.py" not in run.stdout


def test_the_fix_hook_fixes_the_file(tmp_path: Path, pre_commit_home: Path) -> None:
    repo = _repo(tmp_path)
    run = _try(repo, pre_commit_home, "sessionlint-fix")
    fixed = (repo / "app" / "deps.py").read_text()
    assert "    try:\n        yield db\n    finally:\n        db.close()\n" in fixed, run.stdout
    assert (repo / "legacy" / "old.py").read_text() == LEAKY
    again = _try(repo, pre_commit_home, "sessionlint")
    assert again.returncode == 0, again.stdout + again.stderr
