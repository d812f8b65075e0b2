"""What kind of code a module is (application code, test code, a migration, a script), and
the request-time rules that stay silent outside application code.

The fixture project ``tests/fixtures/projects/codekinds`` covers each kind inside one project;
these tests cover what a fixture cannot: project roots under a ``tests`` folder, paths given
without a project, how a script's importers are found, and the import-based fallback for
"does the project run on FastAPI" when there is no dependency metadata.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sessionlint.api import lint_paths, lint_source
from sessionlint.model.codekind import CodeKind
from sessionlint.model.project import Project, SourceFile, parse_source
from sessionlint.model.semantic import Model

SHARED = """\
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker(bind=create_engine("postgresql://localhost/app"))
db = SessionLocal()
"""

PYPROJECT = '[project]\nname = "x"\nversion = "1"\ndependencies = ["fastapi", "sqlalchemy"]\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def kind_of(root: Path, relative: str) -> CodeKind:
    project = Project(root, list_files=lambda folder: sorted(folder.rglob("*.py")))
    source = parse_source(
        (root / relative).read_bytes(), path=root / relative, display_path=relative
    )
    assert isinstance(source, SourceFile)
    project.add(source)
    return Model(project).code_kind(source)


def codes(paths: list[Path], code: str) -> list[tuple[str, int]]:
    result = lint_paths(paths, select=[code])
    assert not result.internal_errors
    return sorted((Path(d.path).name, d.line) for d in result.diagnostics)


# -- paths -------------------------------------------------------------------------------------


def test_a_project_under_a_tests_folder_is_application_code(tmp_path: Path) -> None:
    root = tmp_path / "tests" / "migrations" / "shop"
    write(root / "pyproject.toml", PYPROJECT)
    write(root / "app" / "db.py", SHARED)
    write(root / "tests" / "helpers.py", SHARED)
    assert kind_of(root, "app/db.py") is CodeKind.APP
    assert kind_of(root, "tests/helpers.py") is CodeKind.TEST
    assert codes([root], "SL101") == [("db.py", 5)]


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("app/db.py", True),
        ("tests/helpers.py", False),
        ("test/helpers.py", False),
        ("app/test_db.py", False),
        ("app/db_test.py", False),
        ("conftest.py", False),
        ("alembic/env.py", False),
        ("db/migrations/0001_init.py", False),
        # Without a project root an absolute path counts by its file name only.
        ("/home/me/tests/shop/app/db.py", True),
        ("/home/me/tests/shop/tests/test_db.py", False),
    ],
)
def test_paths_given_to_lint_source(path: str, reported: bool) -> None:
    found = [d.code for d in lint_source(SHARED, path, select=["SL101"])]
    assert found == (["SL101"] if reported else [])


def test_versions_folder_is_a_migration_only_next_to_env_py(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "db" / "env.py", "")
    write(tmp_path / "db" / "versions" / "0001_init.py", SHARED)
    write(tmp_path / "api" / "versions" / "v1.py", SHARED)
    assert kind_of(tmp_path, "db/versions/0001_init.py") is CodeKind.MIGRATION
    assert kind_of(tmp_path, "api/versions/v1.py") is CodeKind.APP


@pytest.mark.parametrize(
    ("imports", "kind"),
    [
        ("from alembic import op", CodeKind.MIGRATION),
        ("from alembic import context as ctx", CodeKind.MIGRATION),
        ("import alembic.context", CodeKind.MIGRATION),
        ("import alembic.op as op", CodeKind.MIGRATION),
        ("from alembic.config import Config", CodeKind.APP),
        ("import alembic", CodeKind.APP),
        ("from myproject import op", CodeKind.APP),
    ],
)
def test_migration_by_import(tmp_path: Path, imports: str, kind: CodeKind) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "app" / "backfill.py", imports + "\n" + SHARED)
    assert kind_of(tmp_path, "app/backfill.py") is kind


# -- scripts -----------------------------------------------------------------------------------

SCRIPT = SHARED + '\n\nif __name__ == "__main__":\n    print(db)\n'


@pytest.mark.parametrize(
    ("importer", "kind"),
    [
        (None, CodeKind.SCRIPT),
        ("from app import seed\n", CodeKind.APP),
        ("from app.seed import db\n", CodeKind.APP),
        ("from . import seed\n", CodeKind.APP),
        ("import app.seed\n", CodeKind.APP),
        ("def run() -> None:\n    from app.seed import db\n", CodeKind.APP),
        # Mentions the name without importing the module.
        ("seed = 1\nfrom app import db as seed_db\n", CodeKind.SCRIPT),
        ("from other import seed\n", CodeKind.SCRIPT),
    ],
)
def test_script_unless_imported(tmp_path: Path, importer: str | None, kind: CodeKind) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "app" / "__init__.py", "")
    write(tmp_path / "app" / "seed.py", SCRIPT)
    if importer is not None:
        write(tmp_path / "app" / "jobs.py", importer)
    assert kind_of(tmp_path, "app/seed.py") is kind


def test_a_main_block_in_a_module_that_serves_requests_is_not_a_script() -> None:
    source = (
        "from fastapi import FastAPI\n"
        + SHARED
        + "app = FastAPI()\n\n"
        + 'if __name__ == "__main__":\n    import uvicorn\n    uvicorn.run(app)\n'
    )
    assert [d.line for d in lint_source(source, "app/main.py", select=["SL101"])] == [6]
    # The same module without the app is a script.
    assert lint_source(SCRIPT, "app/seed.py", select=["SL101"]) == []


@pytest.mark.parametrize("guard", ['if __name__ == "__main__":', "if '__main__' == __name__:"])
def test_main_guard_spellings(guard: str) -> None:
    source = SHARED + f"\n\n{guard}\n    print(db)\n"
    assert lint_source(source, "app/seed.py", select=["SL101"]) == []
    other = SHARED + '\n\nif __name__ == "app":\n    print(db)\n'
    assert [d.line for d in lint_source(other, "app/seed.py", select=["SL101"])] == [5]


def test_non_request_rules_keep_applying_in_test_code() -> None:
    source = textwrap.dedent(
        """\
        from contextlib import contextmanager
        from sqlalchemy.orm import Session

        @contextmanager
        def session_scope(engine):
            session = Session(engine)
            yield session
        """
    )
    assert [d.code for d in lint_source(source, "tests/helpers.py")] == ["SL102"]


# -- FastAPI without dependency metadata: imports from application code --------------------------

SQLITE = 'from sqlalchemy import create_engine\n\nengine = create_engine("sqlite://")\n'


def test_fastapi_imported_only_by_tests_does_not_count(tmp_path: Path) -> None:
    write(tmp_path / "app" / "db.py", SQLITE)
    write(tmp_path / "tests" / "test_api.py", "from fastapi.testclient import TestClient\n")
    assert codes([tmp_path], "SL402") == []
    write(tmp_path / "app" / "main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n")
    assert codes([tmp_path], "SL402") == [("db.py", 3)]


def test_dependency_metadata_beats_imports(tmp_path: Path) -> None:
    write(tmp_path / "app" / "db.py", SQLITE)
    write(tmp_path / "app" / "main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n")
    write(tmp_path / "requirements.txt", "sqlalchemy>=2\n")
    write(tmp_path / "requirements-dev.txt", "fastapi\npytest\n")
    assert codes([tmp_path], "SL402") == []
    write(tmp_path / "requirements.txt", "sqlalchemy>=2\nfastapi>=0.115\n")
    assert codes([tmp_path], "SL402") == [("db.py", 3)]
