"""Every way of running sessionlint gives the same findings for the same file.

The spec ("Project root and imports"): `sessionlint check app/`, `sessionlint check .` from
inside `app/`, `sessionlint check app/routers/users.py`, the pre-commit hook (which passes only
the changed files) and `flake8` must all give the same findings. Each fixture project below
holds findings that need facts from another module: the session of a route handler comes from
a `get_db` defined elsewhere (SL301, SL201), a dependency is only known as one because another
module passes it to `Depends` (SL102), a session factory is imported (SL101). If a way of
running resolved fewer imports, or scanned another set of files for dependencies, its findings
would differ.

The projects are copied into a temporary repository (an empty `.git` folder marks its top, as
in a real checkout) and every entry point runs as a subprocess of the installed command.
`entry_requirements` (no `pyproject.toml`, only `requirements.txt`) sits in a `backend/`
folder of the repository, like a monorepo: its root marker is nearer than the repository's.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml  # pre-commit's own dependency

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "tests" / "fixtures" / "projects"

#: (path relative to the project, line, code)
Finding = tuple[str, int, str]

_EXPECT = re.compile(r"#\s*expect:\s*(SL\d{3}(?:\s*,\s*SL\d{3})*)")


@dataclass(frozen=True)
class Layout:
    name: str
    #: The project's folder inside the repository ("" for the repository's top).
    inside_repo: str
    #: The folder of the top-level package, relative to the project.
    package: str


LAYOUTS = [
    Layout("entry_pyproject", "", "app"),
    Layout("entry_requirements", "backend", "app"),
    Layout("entry_src_layout", "", "src/billing"),
    Layout("entry_namespace", "", "app"),
]


@dataclass(frozen=True)
class Copy:
    repo: Path
    project: Path
    #: The folder of the top-level package, relative to the project.
    package: str
    #: The project's (non-empty) Python files, relative to the project.
    files: list[str]


def expected_findings(project: Path) -> set[Finding]:
    """The ``# expect: SLxxx`` comments of the project's files."""
    found: set[Finding] = set()
    for path in sorted(project.rglob("*.py")):
        rel = path.relative_to(project).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _EXPECT.search(line)
            if match:
                found |= {(rel, number, c.strip()) for c in match[1].split(",")}
    return found


@pytest.fixture(params=LAYOUTS, ids=lambda layout: layout.name)
def copy(request: pytest.FixtureRequest, tmp_path: Path) -> Copy:
    layout: Layout = request.param
    repo = tmp_path / "repo"
    project = repo / layout.inside_repo if layout.inside_repo else repo
    shutil.copytree(PROJECTS / layout.name, project)
    (repo / ".git").mkdir()
    # Empty `__init__.py` files have nothing to report: not run one by one.
    files = sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*.py") if p.stat().st_size
    )
    return Copy(repo, project, layout.package, files)


def _normalise(path: str, cwd: Path, project: Path) -> str:
    return (cwd / path).resolve().relative_to(project.resolve()).as_posix()


def _run(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode in (0, 1), (args, cwd, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def cli(cwd: Path, project: Path, *args: str) -> set[Finding]:
    proc = _run([sys.executable, "-m", "sessionlint", "check", "--format", "json", *args], cwd)
    return {
        (_normalise(d["path"], cwd, project), d["line"], d["code"]) for d in json.loads(proc.stdout)
    }


def hook_command() -> list[str]:
    """The `sessionlint` hook's entry, run with this Python."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "sessionlint"]
    entry = shlex.split(hook["entry"])
    assert entry[0] == "sessionlint"
    return [sys.executable, "-m", "sessionlint", *entry[1:], "--format", "json"]


def hook(repo: Path, project: Path, changed: Sequence[str]) -> set[Finding]:
    """What pre-commit runs from the repository's top for the changed files."""
    proc = _run([*hook_command(), *changed], repo)
    return {
        (_normalise(d["path"], repo, project), d["line"], d["code"])
        for d in json.loads(proc.stdout)
    }


def flake8(cwd: Path, project: Path, *paths: str) -> set[Finding]:
    proc = _run(
        [
            sys.executable,
            "-m",
            "flake8",
            "--isolated",
            "--select",
            "SL",
            "--format",
            "%(path)s|%(row)d|%(code)s",
            *paths,
        ],
        cwd,
    )
    found: set[Finding] = set()
    for line in proc.stdout.splitlines():
        path, row, code = line.rsplit("|", 2)
        found.add((_normalise(path, cwd, project), int(row), code))
    return found


def _entry_points(copy: Copy) -> Iterator[tuple[str, set[Finding]]]:
    project, repo, package = copy.project, copy.repo, copy.package
    in_repo = project.relative_to(repo).as_posix()

    def from_repo(rel: str) -> str:
        return rel if in_repo == "." else f"{in_repo}/{rel}"

    yield "check . (in the project)", cli(project, project, ".")
    yield "check . (at the repository's top)", cli(repo, project, ".")
    yield f"check {package}", cli(project, project, package)
    yield f"check . (in {package})", cli(project / package, project, ".")
    by_file: set[Finding] = set()
    for rel in copy.files:
        by_file |= cli(project, project, rel)
    yield "check <file>, each file alone", by_file
    yield "pre-commit, all files changed", hook(repo, project, [from_repo(f) for f in copy.files])
    by_hook: set[Finding] = set()
    for rel in copy.files:
        by_hook |= hook(repo, project, [from_repo(rel)])
    yield "pre-commit, one file changed at a time", by_hook
    yield "flake8 .", flake8(project, project, ".")
    by_flake8: set[Finding] = set()
    for rel in copy.files:
        by_flake8 |= flake8(project, project, rel)
    yield "flake8 <file>, each file alone", by_flake8


def test_every_entry_point_gives_the_same_findings(copy: Copy) -> None:
    expected = expected_findings(copy.project)
    # Non-empty, and made of findings that need another module of the project.
    assert {code for _, _, code in expected} >= {"SL102", "SL201", "SL301"}
    results = dict(_entry_points(copy))
    wrong = {name: sorted(found ^ expected) for name, found in results.items() if found != expected}
    assert not wrong, f"findings that differ from the `# expect:` comments: {wrong}"
