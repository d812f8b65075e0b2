"""Import resolution between the modules of a project (``Project.find_module``).

The spec ("Project root and imports"): imports resolve against, in order, the folder above the
file's top-level package (walking up while ``__init__.py`` exists), the project root,
``<root>/src`` and the current directory.
"""

from __future__ import annotations

from pathlib import Path

from sessionlint.model.project import Project, SourceFile


def write(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name}\n", encoding="utf-8")


def resolve(project: Project, importer: Path, dotted: str) -> tuple[str, list[str]] | None:
    source = project.load(importer)
    assert isinstance(source, SourceFile)
    found = project.find_module(dotted, source)
    if found is None:
        return None
    module, rest = found
    assert module.path is not None
    return module.path.resolve().relative_to(project.root or Path("/")).as_posix(), rest


def test_regular_package_resolves_from_above_its_top_level_package(tmp_path: Path) -> None:
    write(tmp_path, "app/__init__.py", "app/deps.py", "app/routers/__init__.py")
    write(tmp_path, "app/routers/users.py")
    # The root given is the package itself (no marker): the folder above `app` still counts.
    project = Project(tmp_path / "app", cwd=tmp_path / "app")
    assert resolve(project, tmp_path / "app/routers/users.py", "app.deps.get_db") == (
        "deps.py",
        ["get_db"],
    )


def test_namespace_package_resolves_from_the_root(tmp_path: Path) -> None:
    write(tmp_path, "app/deps.py", "app/routers/users.py")  # no __init__.py anywhere
    project = Project(tmp_path, cwd=tmp_path / "app")
    assert resolve(project, tmp_path / "app/routers/users.py", "app.deps.get_db") == (
        "app/deps.py",
        ["get_db"],
    )
    assert resolve(project, tmp_path / "app/routers/users.py", "app.routers") is None


def test_src_layout_resolves_from_root_src(tmp_path: Path) -> None:
    write(tmp_path, "src/billing/__init__.py", "src/billing/deps.py", "tests/test_api.py")
    project = Project(tmp_path, cwd=tmp_path)
    assert resolve(project, tmp_path / "tests/test_api.py", "billing.deps.get_session") == (
        "src/billing/deps.py",
        ["get_session"],
    )


def test_the_folder_above_the_top_level_package_comes_before_the_root(tmp_path: Path) -> None:
    write(tmp_path, "util.py", "src/util.py", "src/billing/__init__.py", "src/billing/api.py")
    project = Project(tmp_path, cwd=tmp_path)
    assert resolve(project, tmp_path / "src/billing/api.py", "util.money") == (
        "src/util.py",
        ["money"],
    )


def test_the_current_directory_comes_last(tmp_path: Path) -> None:
    write(tmp_path, "project/app/__init__.py", "project/app/main.py", "elsewhere/settings.py")
    write(tmp_path, "project/settings.py")
    main = tmp_path / "project/app/main.py"
    outside = Project(tmp_path / "project", cwd=tmp_path / "elsewhere")
    assert resolve(outside, main, "settings.DB_URL") == ("settings.py", ["DB_URL"])
    (tmp_path / "project/settings.py").unlink()
    outside = Project(tmp_path / "project", cwd=tmp_path / "elsewhere")
    source = outside.load(main)
    assert isinstance(source, SourceFile)
    found = outside.find_module("settings.DB_URL", source)
    assert found is not None
    assert found[0].path == (tmp_path / "elsewhere/settings.py").resolve()


def test_folders_between_the_file_and_the_root_come_after_the_spec_bases(tmp_path: Path) -> None:
    """An app run from inside its folder (`cd app && uvicorn main:app`) imports `deps` from
    its sub-folders: found whatever the current directory, so every entry point agrees."""
    write(tmp_path, "requirements.txt", "app/main.py", "app/deps.py", "app/routers/users.py")
    for cwd in (tmp_path, tmp_path / "app"):
        project = Project(tmp_path, cwd=cwd)
        assert resolve(project, tmp_path / "app/routers/users.py", "deps.get_db") == (
            "app/deps.py",
            ["get_db"],
        )
    project = Project(tmp_path, cwd=tmp_path)
    assert resolve(project, tmp_path / "app/routers/users.py", "missing.thing") is None
