"""Runtime evidence for the transaction rules (SL201-SL204): lost writes, a session left
unusable, the SQLAlchemy 2.0 API, a commit that fails after the client got its answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
import sqlalchemy.exc
from click.testing import CliRunner
from fastapi.testclient import TestClient
from packaging.version import Version
from sqlalchemy.orm import Session

from sessionlint.api import lint_source
from sessionlint.cli import main
from sessionlint.diagnostics import Severity

from .runtime_harness import (
    EXAMPLE_PATH,
    Harness,
    example,
    fastapi_version,
    fixed,
    flagged,
    record,
    use_instead,
    versions,
)

pytestmark = pytest.mark.runtime


# -- SL201 write-without-commit -----------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl201_write_is_lost_without_commit(harness: Harness, variant: str) -> None:
    harness.models()
    source = example("SL201") if variant == "example" else fixed("SL201")
    ns = harness.load(source)
    with TestClient(ns["app"]) as client:
        response = client.post("/items", json={"name": "lamp"})
    assert response.status_code == 200
    rows = harness.rows("items")  # read back on a connection of its own
    record("SL201", variant, rows == [])
    assert rows == ([] if variant == "example" else ["lamp"])


def test_sl201_fixed_handler_still_answers_with_the_item(harness: Harness) -> None:
    harness.models()
    ns = harness.load(fixed("SL201"))
    with TestClient(ns["app"]) as client:
        response = client.post("/items", json={"name": "lamp"})
    assert response.json().get("name") == "lamp"


# -- SL202 swallowed-flush-error ----------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl202_swallowed_error_leaves_the_session_unusable(harness: Harness, variant: str) -> None:
    models = harness.models()
    harness.sql("INSERT INTO users (name) VALUES ('ada')")
    source = example("SL202") if variant == "example" else fixed("SL202")
    import_users = harness.load(source)["import_users"]
    users = [models.User(name=name) for name in ("bob", "ada", "cy")]  # "ada" is a duplicate
    with Session(harness.plain_engine) as db:
        if variant == "example":
            with pytest.raises(sqlalchemy.exc.PendingRollbackError):
                import_users(db, users)
        else:
            assert import_users(db, users) == 2
    rows = harness.rows("users")
    record("SL202", variant, rows != ["ada", "bob", "cy"])
    assert rows == (["ada", "bob"] if variant == "example" else ["ada", "bob", "cy"])


# -- SL203 removed-in-sqlalchemy-2 --------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl203_raw_string_execute(harness: Harness, variant: str) -> None:
    harness.sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO users VALUES (1, 'ada')",
    )
    source = example("SL203") if variant == "example" else fixed("SL203")
    ns = harness.load(source)
    removed = Version(sqlalchemy.__version__) >= Version("2.0")
    with ns["Session"](ns["engine"]) as db:
        try:
            count = ns["count_users"](db)
        except sqlalchemy.exc.ArgumentError as error:
            assert "text(" in str(error)
            harm = True
        else:
            assert count == 1
            harm = False
    record("SL203", variant, harm)
    if variant == "example":
        assert harm == removed
        # an error from 2.0 on; a warning (deprecated, still works) for 1.4
        (finding,) = [d for d in lint_source(source, EXAMPLE_PATH, **versions())]
        assert finding.code == "SL203"
        assert finding.severity == (Severity.ERROR if removed else Severity.WARNING)
    else:
        assert not harm


# -- SL204 commit-after-response ----------------------------------------------------------------


def _commit_after_response() -> bool:
    """The spec: the exit code of a yield dependency runs after the response is sent on
    FastAPI < 0.106 and >= 0.118."""
    version = fastapi_version()
    return version < Version("0.106") or version >= Version("0.118")


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl204_commit_fails_after_the_client_got_200(harness: Harness, variant: str) -> None:
    harness.models()
    harness.sql("INSERT INTO items (name) VALUES ('lamp')")
    source = example("SL204") if variant == "example" else use_instead("SL204")
    ns = harness.load(source)
    with TestClient(ns["app"], raise_server_exceptions=False) as client:
        ok = client.post("/items", json={"name": "desk"})
        # a duplicate: the commit fails on the unique constraint
        duplicate = client.post("/items", json={"name": "lamp"})
    assert ok.status_code == 200
    if variant == "use instead":  # the response carries the committed item
        assert ok.json().get("name") == "desk"
    rows = harness.rows("items")
    assert rows == ["lamp", "desk"]  # the duplicate was not written in any case
    # the harm: the client was told the write succeeded
    harm = duplicate.status_code == 200
    record("SL204", variant, harm)
    if variant == "example":
        assert harm == _commit_after_response()
        assert harm == flagged("SL204", source, **versions())
    else:
        assert duplicate.status_code == 500


# -- the command line fixes the examples the same way ------------------------------------------

FIXABLE = ["SL102", "SL103", "SL104", "SL106", "SL201", "SL202", "SL203", "SL301", "SL302"]
FIXABLE += ["SL304", "SL402"]


def test_cli_fix_writes_what_the_tests_ran(tmp_path: Path) -> None:
    """The runtime tests take the fixed code from the API; ``sessionlint check --fix
    --unsafe-fixes`` on a copy of each example writes the same text."""
    runner = CliRunner()
    for code in FIXABLE:
        target = tmp_path / code / "app" / "example.py"
        target.parent.mkdir(parents=True)
        target.write_text(example(code), encoding="utf-8")
        args = ["check", "--fix", "--unsafe-fixes", "--select", code, str(target)]
        runner.invoke(main, args, catch_exceptions=False)
        assert target.read_text(encoding="utf-8") == fixed(code), code
