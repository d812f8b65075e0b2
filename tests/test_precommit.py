"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run with the real ``pre-commit``.

``pre-commit try-repo <hook repository> <hook id> --all-files`` inside a throwaway git
repository: pre-commit clones the hook repository, builds a virtualenv, installs sessionlint
into it (from PyPI for the dependencies) and runs the hook on the committed files. The hook
repository is a copy of this project committed into its own throwaway repository, so the test
sees the current working tree (``try-repo`` on a repository with uncommitted changes only
picks up tracked files) and never touches this project's git state.

Each run builds a fresh environment (``try-repo`` uses a temporary store), about 20 seconds,
so each run exercises both hooks (they share the environment): two runs, marked ``slow`` (run
by default; ``-m "not slow"`` skips them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # pre-commit's own dependency
from sample_projects import CROSS_MODULE, DEPS, PYPROJECT, write_tree

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "sessionlint tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "sessionlint tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

LEAKY_DEPS = """\
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    db = SessionLocal()
    yield db
    db.close()
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def commit_all(repo: Path) -> None:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "test")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project (packaging, sources, hooks manifest) committed into a throwaway repo."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, repo / name)
    if not (repo / "README.md").exists():  # pyproject.toml names it as the readme
        (repo / "README.md").write_text("# sessionlint\n", encoding="utf-8")
    shutil.copytree(
        ROOT / "src" / "sessionlint",
        repo / "src" / "sessionlint",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    commit_all(repo)
    return repo


def try_repo(hook_repo: Path, target: Path, home: Path) -> str:
    """Run every hook of the manifest on all files of ``target``; return pre-commit's
    output. Both hooks share one environment (one repository), so one run builds it once."""
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "--all-files"],
        cwd=target,
        env={**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert proc.returncode == (1 if "Failed" in output else 0), output
    return output


def hook_section(output: str, hook: str) -> str:
    """What pre-commit printed for one hook: from its status line to the next hook's."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("sessionlint")]
    names = {i: lines[i].split(".")[0].strip() for i in starts}
    wanted = {"sessionlint": "sessionlint", "sessionlint-fix": "sessionlint (fix)"}[hook]
    for n, i in enumerate(starts):
        if names[i] == wanted:
            end = starts[n + 1] if n + 1 < len(starts) else len(lines)
            return "\n".join(lines[i:end])
    raise AssertionError(f"no {hook!r} hook in the output:\n{output}")


def test_manifest() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"sessionlint", "sessionlint-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types"] == ["python"]
        assert hook["entry"].startswith("sessionlint check")
        # pre-commit names the files: sessionlint's own exclude patterns must still apply.
        assert "--force-exclude" in hook["entry"].split()
    assert "--fix" in hooks["sessionlint-fix"]["entry"].split()
    # Findings do not depend on batching (each batch reads the modules it needs), so the
    # check runs in parallel; the fix hook rewrites files, so it runs in one process.
    assert hooks["sessionlint"]["require_serial"] is False
    assert hooks["sessionlint-fix"]["require_serial"] is True


def test_bad_files_fail_the_check_hook_and_the_fix_hook_fixes(
    hook_repo: Path, tmp_path: Path
) -> None:
    target = write_tree(tmp_path / "project", CROSS_MODULE)
    write_tree(
        target,
        {
            "app/legacy.py": LEAKY_DEPS,
            # Excluded by the project's configuration: --force-exclude keeps it out.
            "migrations/env.py": "from app.deps import SessionLocal\ns = SessionLocal()\n",
        },
    )
    (target / "pyproject.toml").write_text(
        PYPROJECT + '\n[tool.sessionlint]\nextend-exclude = ["migrations"]\n', encoding="utf-8"
    )
    commit_all(target)
    output = try_repo(hook_repo, target, tmp_path / "home")

    check = hook_section(output, "sessionlint")
    assert "Failed" in check
    # The findings, including those that need another module (app/deps.py) to be seen.
    assert "app/jobs.py:3:11: SL101" in check
    assert "app/routers/items.py:12:12: SL301" in check
    assert "app/routers/items.py:18:5: SL201" in check
    assert "app/legacy.py:8:5: SL102" in check
    assert "migrations" not in check

    # The fix hook ran after it and applied the one safe fix (SL102); pre-commit fails a
    # hook that modified files, so that the user reviews and stages the change.
    fix = hook_section(output, "sessionlint-fix")
    assert "Failed" in fix
    assert "files were modified by this hook" in fix
    fixed = (target / "app" / "legacy.py").read_text(encoding="utf-8")
    assert "    try:\n        yield db\n    finally:\n        db.close()\n" in fixed
    # Unsafe fixes (SL201, SL301) are not applied by the hook.
    assert (target / "app/routers/items.py").read_text(encoding="utf-8") == CROSS_MODULE[
        "app/routers/items.py"
    ]


def test_clean_files_pass_both_hooks(hook_repo: Path, tmp_path: Path) -> None:
    handler = """\
from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from app.deps import get_db

router = APIRouter()


@router.post("/items")
def create_item(name: str, db: Session = Depends(get_db)):
    db.add(name)
    db.commit()
    return {"name": name}
"""
    target = write_tree(
        tmp_path / "project",
        {
            "pyproject.toml": PYPROJECT,
            "app/__init__.py": "",
            "app/deps.py": DEPS,
            "app/items.py": handler,
        },
    )
    commit_all(target)
    output = try_repo(hook_repo, target, tmp_path / "home")
    assert "Passed" in hook_section(output, "sessionlint")
    assert "Passed" in hook_section(output, "sessionlint-fix")
    assert (target / "app/items.py").read_text(encoding="utf-8") == handler
