"""The findings cache: a run with unchanged inputs reuses the findings, any change re-checks."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sessionlint import api, cache
from sessionlint.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TREES = [FIXTURES, ROOT / "examples", *sorted(p for p in (FIXTURES / "projects").iterdir())]
#: Fixture projects that have no finding at all (their point is what is not reported).
QUIET_TREES = {"fastapi_dev_only", "lifecycle_fastapi_0109"}

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
    # deps.py gives a project-wide fact (get_db is a dependency): every file is checked again.
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


def test_a_run_on_some_files_of_a_checked_project_is_answered_from_it(
    project: Path, checks: list[int]
) -> None:
    """What pre-commit does: name a few files of a project checked before."""
    whole = check()
    named = CliRunner().invoke(main, ["check", "--format", "json", "app/main.py"])
    assert checks == [3]
    assert json.loads(named.stdout) == [
        d for d in json.loads(whole.stdout) if d["path"] == "app/main.py"
    ]
    # Files not stored yet are checked, and only they.
    (project / "app" / "other.py").write_text("x = 1\n")
    check()
    assert checks == [3, 4]  # a new file changes the project: every file is checked again
    CliRunner().invoke(main, ["check", "app/deps.py"])
    assert checks == [3, 4]


def test_only_the_files_not_stored_are_checked(project: Path, checks: list[int]) -> None:
    first = CliRunner().invoke(main, ["check", "--format", "json", "app/main.py"])
    whole = check()
    assert checks == [1, 2]  # main.py came from the cache
    assert [d for d in json.loads(whole.stdout) if d["path"] == "app/main.py"] == json.loads(
        first.stdout
    )
    assert {d["code"] for d in json.loads(whole.stdout)} == {"SL102", "SL301"}


NOQA_MODULE = """\
from sqlalchemy.orm import Session

session = Session()  # noqa: SL101
"""


def test_flake8_reads_what_the_command_line_stored_and_the_other_way_round(
    project: Path, checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "app" / "legacy.py").write_text(NOQA_MODULE)
    linted: list[str] = []
    original = api._lint_one

    def counting(*args: object, **kwargs: object) -> object:
        linted.append(str(args[1]))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "_lint_one", counting)
    cli = json.loads(check().stdout)
    assert {(d["path"], d["code"]) for d in cli} == {
        ("app/deps.py", "SL102"),
        ("app/main.py", "SL301"),
    }
    linted.clear()

    def plugin(name: str) -> set[tuple[int, str]]:
        result = api.lint_file_in_project(name, noqa=False, cache=True, use_cache=True)
        return {(d.line, d.code) for d in result.diagnostics}

    # flake8 applies noqa comments itself: the plugin reports the finding the CLI silenced.
    assert plugin("app/legacy.py") == {(3, "SL101")}
    assert plugin("app/main.py") == {(10, "SL301")}
    assert linted == []  # both answered from the CLI's entry
    # The other way round: what the plugin checked (one file at a time) serves the CLI.
    api.clear_project_cache()
    monkeypatch.setenv("SESSIONLINT_CACHE_DIR", str(project / "elsewhere"))
    for name in ("app/__init__.py", "app/deps.py", "app/main.py", "app/legacy.py"):
        plugin(name)
    assert len(linted) == 4
    assert json.loads(check().stdout) == cli
    assert checks == [4]  # the second CLI run checked nothing


def test_unchanged_files_are_not_read_again(
    project: Path, checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "_RACY_NS", 0)  # the files were written a moment ago
    hashed: list[str] = []
    original = cache._digest

    def counting(path: Path) -> str:
        if path.suffix == ".py":
            hashed.append(path.name)
        return original(path)

    monkeypatch.setattr(cache, "_digest", counting)
    check()
    assert sorted(hashed) == ["__init__.py", "deps.py", "main.py"]
    hashed.clear()
    check()
    assert hashed == []
    main_py = project / "app" / "main.py"
    os.utime(main_py, ns=(main_py.stat().st_atime_ns, main_py.stat().st_mtime_ns + 10**9))
    check()
    assert hashed == ["main.py"]  # its signature changed: read again...
    assert checks == [3]  # ...but its content did not: still the same findings


def test_a_file_modified_just_now_is_always_read(project: Path) -> None:
    digests = cache.Digests(project / "somewhere")
    main_py = project / "app" / "main.py"
    digests.digest(main_py)
    digests.save()
    assert not (project / "somewhere").exists()  # nothing remembered: it may change again


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_a_files_findings_do_not_depend_on_the_other_files_of_the_run(tree: Path) -> None:
    """What answering a run on some files from the cache relies on: each file checked alone
    (a large tree: each half of its files) finds what a run on the whole tree finds in it."""
    run = api._prepare([tree], None, None, (), None, None, False)
    assert run.files
    whole = [d.to_dict() for d in api._lint_run(run, 1, None).diagnostics]
    assert whole or tree.name in QUIET_TREES
    if len(run.files) <= 40:
        parts = [[path] for path in run.files]
    else:
        parts = [run.files[0::2], run.files[1::2]]
    for part in parts:
        names = {str(path) for path in part}
        alone = api._lint_run(dataclasses.replace(run, files=part), 1, None)
        assert [d.to_dict() for d in alone.diagnostics] == [
            d for d in whole if d["path"] in names
        ], part


LAYERED = {
    "pyproject.toml": '[project]\nname = "svc"\ndependencies = ["fastapi", "sqlalchemy"]\n',
    "app/__init__.py": "",
    "app/db.py": DEPS,
    "app/helpers.py": """\
def save(db, item):
    db.add(item)
    db.commit()
""",
    "app/orders.py": """\
from app.helpers import save


def place_order(db, order):
    save(db, order)
    return order
""",
    "app/reports.py": """\
from sqlalchemy.orm import Session


def monthly(db: Session):
    return db.execute("select 1")
""",
    "app/main.py": """\
from fastapi import Depends, FastAPI

from app.db import get_db
from app.reports import monthly

app = FastAPI()


@app.get("/report")
async def report(db=Depends(get_db)):
    return monthly(db)
""",
}


def _write(root: Path, tree: dict[str, str]) -> None:
    for name, text in tree.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _cold(root: Path) -> list[dict[str, object]]:
    result = api.lint_paths([root], jobs=1)
    return [d.to_dict() for d in result.diagnostics]


def _incremental(root: Path, cache_dir: Path, checked: list[list[str]]) -> list[dict[str, object]]:
    original = api._lint_run

    def spy(run: api._Run, jobs: int | None, progress: object) -> api.LintResult:
        checked.append(sorted(p.relative_to(root).as_posix() for p in run.files))
        return original(run, jobs, progress)  # type: ignore[arg-type]

    api._lint_run = spy  # type: ignore[assignment]
    try:
        result = api.lint_paths([root], jobs=1, use_cache=True, cache_dir=cache_dir)
    finally:
        api._lint_run = original  # type: ignore[assignment]
    return [d.to_dict() for d in result.diagnostics]


def test_an_edit_checks_again_exactly_the_files_that_depend_on_it(tmp_path: Path) -> None:
    root, cache_dir = tmp_path / "svc", tmp_path / "cache"
    _write(root, LAYERED)
    checked: list[list[str]] = []
    assert _incremental(root, cache_dir, checked) == _cold(root)
    assert len(checked[0]) == 6
    # helpers.py is looked into by orders.py only (the helper that commits): an edit of it
    # checks those two again, and nothing else.
    (root / "app" / "helpers.py").write_text("def save(db, item):\n    db.add(item)\n")
    edited = _incremental(root, cache_dir, checked)
    assert checked[1] == ["app/helpers.py", "app/orders.py"]
    assert edited == _cold(root)
    # reports.py is reached from a route handler (a project-wide fact: what runs on each
    # request): an edit of it checks everything again.
    (root / "app" / "reports.py").write_text(LAYERED["app/reports.py"] + "\n")
    assert _incremental(root, cache_dir, checked) == _cold(root)
    assert len(checked[2]) == 6
    # An edit that makes a file take part in the project-wide scan (a new ``Depends``):
    # everything again.
    (root / "app" / "helpers.py").write_text("from fastapi import Depends\n\nx = Depends\n")
    assert _incremental(root, cache_dir, checked) == _cold(root)
    assert len(checked[3]) == 6
    # Nothing changed: nothing checked.
    assert _incremental(root, cache_dir, checked) == _cold(root)
    assert len(checked) == 4


EDITS = {
    "emptied": lambda text: "",
    "scan word added": lambda text: text + "\nfrom fastapi import Depends  # noqa\n",
    "line added": lambda text: "import os\n" + text,
}


def _edit_trees() -> list[Path | None]:
    return [*sorted((FIXTURES / "projects").iterdir()), None]  # None: LAYERED


@pytest.mark.parametrize("tree", _edit_trees(), ids=lambda p: p.name if p else "layered")
def test_after_any_edit_the_cache_gives_what_a_cold_run_gives(
    tree: Path | None, tmp_path: Path
) -> None:
    """Edit each module of a project in turn (three kinds of edit, then the edit undone):
    each run that reuses what the cache still holds reports exactly what a run without the
    cache reports."""
    root, cache_dir = tmp_path / "tree", tmp_path / "cache"
    if tree is None:
        _write(root, LAYERED)
    else:
        shutil.copytree(tree, root)
    checked: list[list[str]] = []
    assert _incremental(root, cache_dir, checked) == _cold(root)
    modules = sorted(root.rglob("*.py"))
    for module in modules:
        original = module.read_text()
        for name, edit in EDITS.items():
            module.write_text(edit(original))
            assert _incremental(root, cache_dir, checked) == _cold(root), (module, name)
            module.write_text(original)
            assert _incremental(root, cache_dir, checked) == _cold(root), (module, name)
    if tree is None:  # some edits were answered partly from the cache
        assert any(len(files) < len(modules) for files in checked[1:])


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_cached_runs_print_byte_identical_json(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checks: list[int]
) -> None:
    """The JSON of a cold ``--jobs 1`` run, of the run that fills the cache (default jobs)
    and of the run answered from it are the same bytes."""
    monkeypatch.setattr(api, "MIN_FILES_PER_JOB", 1)  # the filling run forks workers
    monkeypatch.setenv("SESSIONLINT_CACHE_DIR", str(tmp_path / "cache"))

    def run(*options: str) -> str:
        result = CliRunner().invoke(main, ["check", "--format", "json", *options, str(tree)])
        assert result.exit_code in (0, 1), result.output
        return result.stdout

    cold = run("--no-cache", "--jobs", "1")
    assert run() == cold
    assert run() == cold
    assert len(checks) == 2  # the third run checked nothing
