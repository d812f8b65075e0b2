"""Tests for sessionlint.files: which files a run lints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionlint.config import Config, load_config
from sessionlint.files import (
    DEFAULT_EXCLUDES,
    UsageError,
    discover,
    find_project_root,
    is_excluded,
    is_project_root,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n", encoding="utf-8")


def rel(found: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in found]


def symlink(link: Path, target: Path, *, is_dir: bool) -> None:
    try:
        link.symlink_to(target, target_is_directory=is_dir)
    except (OSError, NotImplementedError):  # pragma: no cover - e.g. Windows without rights
        pytest.skip("symlinks are not supported here")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# -- walking ----------------------------------------------------------------------------------


def test_finds_py_files_sorted(tmp_path: Path) -> None:
    touch(tmp_path, "b.py", "a.py", "pkg/z.py", "pkg/sub/y.py", "notes.txt", "stub.pyi", "x.pyc")
    found = discover([tmp_path], Config())
    assert rel(found, tmp_path) == ["a.py", "b.py", "pkg/sub/y.py", "pkg/z.py"]


def test_result_keeps_the_given_prefix(in_tmp: Path) -> None:
    touch(in_tmp, "src/app/db.py")
    assert discover([Path("src")], Config()) == [Path("src/app/db.py")]
    assert discover([Path(".")], Config()) == [Path("src/app/db.py")]


def test_default_excludes_fake_virtualenv(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "app.py",
        ".venv/lib/site-packages/x.py",
        "venv/lib/python3.12/site-packages/y.py",
        "pkg/node_modules/z.py",
        "pkg/__pycache__/a.py",
        "build/lib/b.py",
        "demo.egg-info/c.py",
        ".tox/py/d.py",
        "lib/site-packages/e.py",
        ".git/hooks/f.py",
    )
    assert rel(discover([tmp_path], Config()), tmp_path) == ["app.py"]


def test_a_package_named_env_is_not_excluded(tmp_path: Path) -> None:
    touch(tmp_path, "env/settings.py", "myenv/x.py")
    assert rel(discover([tmp_path], Config()), tmp_path) == ["env/settings.py", "myenv/x.py"]


def test_excluded_folders_are_never_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path, "app.py", ".venv/lib/site-packages/x.py", "generated/deep/y.py")
    entered: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> os._ScandirIterator[str]:
        entered.append(Path(path).name)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    config = Config(extend_exclude=("generated/",), root=tmp_path)
    assert rel(discover([tmp_path], config), tmp_path) == ["app.py"]
    assert ".venv" not in entered
    assert "lib" not in entered
    assert "generated" not in entered


def test_exclude_replaces_defaults(tmp_path: Path) -> None:
    touch(tmp_path, "build/x.py", "gen/y.py", "app.py")
    config = Config(exclude=("gen",), root=tmp_path)
    assert rel(discover([tmp_path], config), tmp_path) == ["app.py", "build/x.py"]


def test_extend_exclude_adds_to_defaults(tmp_path: Path) -> None:
    touch(tmp_path, "build/x.py", "gen/y.py", "app.py")
    config = Config(extend_exclude=("gen",), root=tmp_path)
    assert rel(discover([tmp_path], config), tmp_path) == ["app.py"]


def test_exclude_patterns_are_relative_to_root(tmp_path: Path) -> None:
    touch(tmp_path, "src/gen/a.py", "gen/b.py", "src/app/gen_models.py", "legacy/old.py")
    config = Config(extend_exclude=("/gen", "legacy/*.py"), root=tmp_path)
    assert rel(discover([tmp_path], config), tmp_path) == [
        "src/app/gen_models.py",
        "src/gen/a.py",
    ]
    # Walking a sub-folder does not change what the patterns mean.
    assert rel(discover([tmp_path / "legacy", tmp_path / "src"], config), tmp_path) == [
        "src/app/gen_models.py",
        "src/gen/a.py",
    ]


def test_exclude_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sessionlint]\nextend-exclude = ["migrations/", "*_pb2.py"]\n'
    )
    touch(tmp_path, "app/models.py", "app/migrations/0001.py", "app/api_pb2.py")
    config = load_config(tmp_path)
    assert rel(discover([tmp_path / "app"], config), tmp_path) == ["app/models.py"]


def test_exclude_patterns_without_root_are_relative_to_the_folder_given(tmp_path: Path) -> None:
    touch(tmp_path, "proj/gen/a.py", "proj/app.py")
    config = Config(extend_exclude=("/gen",))
    assert rel(discover([tmp_path / "proj"], config), tmp_path) == ["proj/app.py"]


def test_exclude_negation(tmp_path: Path) -> None:
    touch(tmp_path, "a_pb2.py", "keep_pb2.py", "b.py")
    config = Config(extend_exclude=("*_pb2.py", "!keep_pb2.py"), root=tmp_path)
    assert rel(discover([tmp_path], config), tmp_path) == ["b.py", "keep_pb2.py"]


def test_explicit_file_is_always_linted(tmp_path: Path) -> None:
    touch(tmp_path, ".venv/lib/site-packages/x.py", "gen/y.py", "scripts/run")
    config = Config(extend_exclude=("gen",), root=tmp_path)
    explicit = [
        tmp_path / ".venv/lib/site-packages/x.py",
        tmp_path / "gen/y.py",
        tmp_path / "scripts/run",
    ]
    assert rel(discover(explicit, config), tmp_path) == [
        ".venv/lib/site-packages/x.py",
        "gen/y.py",
        "scripts/run",
    ]


def test_explicit_file_ignored_by_gitignore_is_linted(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("secret.py\n")
    touch(tmp_path, "secret.py")
    assert rel(discover([tmp_path / "secret.py"], Config()), tmp_path) == ["secret.py"]
    assert discover([tmp_path], Config()) == []


def test_explicit_excluded_folder_is_walked(tmp_path: Path) -> None:
    touch(tmp_path, "build/pkg/a.py", "build/pkg/__pycache__/b.py")
    found = discover([tmp_path / "build"], Config(root=tmp_path))
    assert rel(found, tmp_path) == ["build/pkg/a.py"]


def test_nonexistent_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="path does not exist: foo/bar"):
        discover([Path("foo/bar")], Config())
    with pytest.raises(UsageError, match="path does not exist"):
        discover([tmp_path, tmp_path / "missing.py"], Config())


def test_deduplicates(in_tmp: Path) -> None:
    touch(in_tmp, "src/a.py", "src/b.py")
    found = discover([Path("src"), Path("src/a.py"), Path("./src"), in_tmp / "src"], Config())
    assert found == [Path("src/a.py"), Path("src/b.py")]


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    touch(tmp_path, "proj/a.py", "outside/b.py")
    symlink(tmp_path / "proj" / "linked", tmp_path / "outside", is_dir=True)
    assert rel(discover([tmp_path / "proj"], Config()), tmp_path) == ["proj/a.py"]


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    touch(tmp_path, "proj/pkg/a.py")
    symlink(tmp_path / "proj" / "pkg" / "loop", tmp_path / "proj", is_dir=True)
    symlink(tmp_path / "proj" / "self", tmp_path / "proj" / "self", is_dir=True)
    assert rel(discover([tmp_path / "proj"], Config()), tmp_path) == ["proj/pkg/a.py"]


def test_explicit_symlinked_folder_is_walked(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.py")
    symlink(tmp_path / "link", tmp_path / "real", is_dir=True)
    assert discover([tmp_path / "link"], Config()) == [tmp_path / "link" / "a.py"]


def test_unreadable_folder_is_skipped(tmp_path: Path) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can read anything")
    touch(tmp_path, "a.py", "locked/b.py")
    (tmp_path / "locked").chmod(0)
    try:
        assert rel(discover([tmp_path], Config()), tmp_path) == ["a.py"]
    finally:
        (tmp_path / "locked").chmod(0o755)


# -- .gitignore -------------------------------------------------------------------------------


def make_repo(root: Path) -> Path:
    (root / ".git" / "info").mkdir(parents=True)
    return root


def test_gitignore_is_respected(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".gitignore").write_text("# generated\n/gen/\n*_local.py\n")
    touch(repo, "app.py", "gen/a.py", "settings_local.py", "pkg/gen/b.py", "pkg/x_local.py")
    assert rel(discover([repo], Config()), repo) == ["app.py", "pkg/gen/b.py"]


def test_gitignore_can_be_disabled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".gitignore").write_text("gen/\n")
    touch(repo, "app.py", "gen/a.py")
    found = discover([repo], Config(), respect_gitignore=False)
    assert rel(found, repo) == ["app.py", "gen/a.py"]


def test_nested_gitignore_and_negation(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".gitignore").write_text("*_gen.py\n")
    touch(repo, "a_gen.py", "pkg/b_gen.py", "pkg/keep_gen.py", "pkg/c.py", "other/d_gen.py")
    (repo / "pkg" / ".gitignore").write_text("!keep_gen.py\nc.py\n")
    assert rel(discover([repo], Config()), repo) == ["pkg/keep_gen.py"]


def test_gitignore_of_ancestors_applies_to_subfolder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".gitignore").write_text("secret/\n")
    touch(repo, "src/app/a.py", "src/app/secret/b.py", "src/app/tmp/c.py")
    (repo / "src" / ".gitignore").write_text("tmp/\n")
    found = discover([repo / "src" / "app"], Config())
    assert rel(found, repo) == ["src/app/a.py"]


def test_git_info_exclude(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".git" / "info" / "exclude").write_text("scratch.py\n")
    touch(repo, "scratch.py", "app.py")
    assert rel(discover([repo], Config()), repo) == ["app.py"]


def test_gitignore_outside_a_repository_applies_from_the_project_root(tmp_path: Path) -> None:
    """An exported tree (no ``.git``) still honours the project's ``.gitignore`` files,
    from the project root (nearest ``pyproject.toml``) down."""
    project = tmp_path / "proj"
    touch(project, "app/a.py", "gen/b.py", "app/tmp/c.py")
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (project / ".gitignore").write_text("gen/\n")
    (project / "app" / ".gitignore").write_text("tmp/\n")
    assert rel(discover([project], Config()), project) == ["app/a.py"]
    assert rel(discover([project / "app"], Config()), project) == ["app/a.py"]


def test_gitignore_above_the_project_root_does_not_apply_outside_a_repository(
    tmp_path: Path,
) -> None:
    (tmp_path / ".gitignore").write_text("gen/\n")
    project = tmp_path / "proj"
    touch(project, "app.py", "gen/a.py")
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert rel(discover([project], Config()), project) == ["app.py", "gen/a.py"]


def test_gitignore_of_a_nested_repository(tmp_path: Path) -> None:
    touch(tmp_path, "outer.py", "vendor/lib/gen/x.py", "vendor/lib/y.py")
    make_repo(tmp_path / "vendor" / "lib")
    (tmp_path / "vendor" / "lib" / ".gitignore").write_text("gen/\n")
    found = discover([tmp_path], Config())
    assert rel(found, tmp_path) == ["outer.py", "vendor/lib/y.py"]


def test_git_file_marks_a_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("gitdir: /elsewhere\n")  # a worktree or submodule
    (tmp_path / ".gitignore").write_text("gen/\n")
    touch(tmp_path, "app.py", "gen/a.py")
    assert rel(discover([tmp_path], Config()), tmp_path) == ["app.py"]


def test_explicit_gitignored_folder_is_walked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / ".gitignore").write_text("scratch/\n")
    touch(repo, "scratch/a.py")
    assert rel(discover([repo / "scratch"], Config()), repo) == ["scratch/a.py"]


# -- is_excluded ------------------------------------------------------------------------------


def test_is_excluded(tmp_path: Path) -> None:
    config = Config(extend_exclude=("/gen", "*_pb2.py"), root=tmp_path)
    assert is_excluded(tmp_path / ".venv" / "lib" / "x.py", config)
    assert is_excluded(tmp_path / "pkg" / "demo.egg-info" / "x.py", config)
    assert is_excluded(tmp_path / "gen" / "a.py", config)
    assert is_excluded(tmp_path / "pkg" / "api_pb2.py", config)
    assert not is_excluded(tmp_path / "pkg" / "gen" / "a.py", config)
    assert not is_excluded(tmp_path / "app.py", config)
    assert not is_excluded(tmp_path / "env" / "app.py", config)


def test_is_excluded_ignores_folders_above_the_root(tmp_path: Path) -> None:
    root = tmp_path / "build" / "proj"
    config = Config(root=root)
    assert not is_excluded(root / "app.py", config)
    assert is_excluded(root / "build" / "app.py", config)


def test_is_excluded_without_root_uses_cwd(in_tmp: Path) -> None:
    assert is_excluded(Path("dist/x.py"), Config())
    assert not is_excluded(Path("src/x.py"), Config())


def test_is_excluded_with_exclude_replacing_defaults(tmp_path: Path) -> None:
    config = Config(exclude=("legacy/",), root=tmp_path)
    assert not is_excluded(tmp_path / "build" / "x.py", config)
    assert is_excluded(tmp_path / "legacy" / "x.py", config)


# -- find_project_root ------------------------------------------------------------------------


def test_find_project_root(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    touch(tmp_path, "src/app/db.py")
    assert find_project_root(tmp_path / "src" / "app" / "db.py") == tmp_path
    assert find_project_root(tmp_path / "src" / "app") == tmp_path
    assert find_project_root(tmp_path) == tmp_path


def test_find_project_root_nearest_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("")
    assert find_project_root(tmp_path / "sub") == tmp_path / "sub"


@pytest.mark.parametrize(
    "marker",
    [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
        "requirements-dev.txt",
        "uv.lock",
        "poetry.lock",
        ".git/",
        ".git",  # a worktree or submodule: a file
    ],
)
def test_find_project_root_markers(tmp_path: Path, marker: str) -> None:
    """Any of the spec's markers makes a root; the nearest one wins over the path given."""
    (tmp_path / "pyproject.toml").write_text("")
    project = tmp_path / "services" / "api"
    touch(project, "app/routers/users.py")
    if marker.endswith("/"):
        (project / marker).mkdir()
    else:
        (project / marker).write_text("")
    users = project / "app" / "routers" / "users.py"
    assert is_project_root(project)
    assert find_project_root(users) == project
    assert find_project_root(users, [tmp_path]) == project
    assert find_project_root(project / "app") == project


def test_find_project_root_ignores_lookalikes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    touch(tmp_path, "pkg/mod.py")
    (tmp_path / "pkg" / "requirements").mkdir()  # a folder, not requirements*.txt
    (tmp_path / "pkg" / "requirements.in").write_text("")
    (tmp_path / "pkg" / "setup.py.bak").write_text("")
    assert not is_project_root(tmp_path / "pkg")
    assert find_project_root(tmp_path / "pkg" / "mod.py") == tmp_path


def test_find_project_root_falls_back_to_the_path(tmp_path: Path) -> None:
    touch(tmp_path, "loose/script.py")
    if any(is_project_root(p) for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("a project-root marker above the temporary folder")
    assert find_project_root(tmp_path / "loose" / "script.py") == tmp_path / "loose"
    assert find_project_root(tmp_path / "loose") == tmp_path / "loose"


def test_find_project_root_of_relative_path(in_tmp: Path) -> None:
    (in_tmp / "pyproject.toml").write_text("")
    touch(in_tmp, "pkg/mod.py")
    root = find_project_root(Path("pkg/mod.py"))
    assert root == in_tmp
    assert root.is_absolute()


# -- documentation ----------------------------------------------------------------------------


def test_default_excludes_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for pattern in DEFAULT_EXCLUDES:
        assert f"`{pattern}`" in text, pattern
