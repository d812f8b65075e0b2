"""Runtime evidence for the session-lifecycle rules (SL101-SL107).

Each test runs the rule's docs example as an application (see runtime_harness.py), shows the
harm, then runs the code sessionlint's fix produces (or the documented "Use instead" for the
display-only rules) and shows the harm gone. Pools have one connection and a short timeout, so
a leaked connection turns the next request into a pool timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy.exc
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from packaging.version import Version
from sqlalchemy import text

from .runtime_harness import (
    Harness,
    drafts_app,
    example,
    fastapi_version,
    fixed,
    flagged,
    no_cyclic_gc,
    record,
    use_instead,
    versions,
)

pytestmark = pytest.mark.runtime


def outcomes(call: Callable[[], Any], times: int = 3) -> list[str]:
    """Run ``call`` several times: "ok" or "pool timeout" for each attempt."""
    seen = []
    for _ in range(times):
        try:
            call()
        except sqlalchemy.exc.TimeoutError:
            seen.append("pool timeout")
        else:
            seen.append("ok")
    return seen


def get_ok(client: TestClient, path: str) -> Callable[[], None]:
    def call() -> None:
        response = client.get(path)
        assert response.status_code == 200, response.text

    return call


# -- SL102 dependency-without-cleanup -----------------------------------------------------------


def _sl102_app(ns: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    get_db = ns["get_db"]

    @app.get("/fail")
    def fail(db: Any = Depends(get_db)) -> None:
        db.execute(text("SELECT 1"))
        raise RuntimeError("the handler fails")

    @app.get("/ok")
    def ok(db: Any = Depends(get_db)) -> int:
        return int(db.execute(text("SELECT 1")).scalar_one())

    return app


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl102_failing_request_leaks_the_connection(harness: Harness, variant: str) -> None:
    source = example("SL102") if variant == "example" else fixed("SL102")
    app = _sl102_app(harness.load(source))
    with no_cyclic_gc(), TestClient(app) as client:
        with pytest.raises(RuntimeError, match="the handler fails"):
            client.get("/fail")
        seen = outcomes(get_ok(client, "/ok"))
    record("SL102", variant, "pool timeout" in seen)
    if variant == "example":
        assert seen == ["pool timeout"] * 3
    else:
        assert seen == ["ok"] * 3


# -- SL103 returned-session-dependency ----------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl103_returned_session_is_never_closed(harness: Harness, variant: str) -> None:
    source = example("SL103") if variant == "example" else fixed("SL103")
    ns = harness.load(source)
    app: FastAPI = ns["app"]

    @app.get("/one")
    def one(db: Any = Depends(ns["get_db"])) -> int:
        return int(db.execute(text("SELECT 1")).scalar_one())

    with no_cyclic_gc(), TestClient(app) as client:
        assert client.get("/health").json() == {"ok": True}
        seen = outcomes(get_ok(client, "/one"))
    record("SL103", variant, "pool timeout" in seen)
    if variant == "example":
        assert seen == ["ok", "pool timeout", "pool timeout"]
    else:
        assert seen == ["ok"] * 3


# -- SL104 unclosed-session ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl104_unclosed_session_holds_its_connection(harness: Harness, variant: str) -> None:
    harness.sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    source = example("SL104") if variant == "example" else fixed("SL104")
    count_users = harness.load(source)["count_users"]
    with no_cyclic_gc():
        seen = outcomes(count_users)
    record("SL104", variant, "pool timeout" in seen)
    if variant == "example":
        assert seen == ["ok", "pool timeout", "pool timeout"]
    else:
        assert seen == ["ok"] * 3


# -- SL107 manual-dependency-call ---------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl107_manual_next_skips_the_cleanup_on_failure(harness: Harness, variant: str) -> None:
    harness.sql(
        "CREATE TABLE tokens (id INTEGER PRIMARY KEY, expires_at TEXT)",
        "INSERT INTO tokens (expires_at) VALUES ('2000-01-01')",
        # a row that may not be deleted: the purge fails
        "CREATE TRIGGER pinned BEFORE DELETE ON tokens BEGIN SELECT RAISE(ABORT, 'pinned'); END",
    )
    source = example("SL107") if variant == "example" else use_instead("SL107")
    ns = harness.load(source)

    def other_work() -> None:
        with ns["SessionLocal"]() as db:
            db.execute(text("SELECT count(*) FROM tokens")).scalar_one()

    with no_cyclic_gc():
        # the failure is kept (as a logger or error tracker keeps it) while other work runs
        with pytest.raises(sqlalchemy.exc.IntegrityError, match="pinned") as failure:
            ns["purge_expired"]()
        seen = outcomes(other_work)
        del failure
    record("SL107", variant, "pool timeout" in seen)
    if variant == "example":
        assert seen == ["pool timeout"] * 3
    else:
        assert seen == ["ok"] * 3


# -- SL101 shared-session -----------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl101_module_session_mixes_requests(harness: Harness, variant: str) -> None:
    harness.models()
    ns = harness.load(example("SL101") if variant == "example" else use_instead("SL101"))
    dependency = (lambda: ns["session"]) if variant == "example" else ns["get_db"]
    with TestClient(drafts_app(ns["app"], dependency)) as client:
        assert client.post("/drafts", params={"name": "rejected draft"}).status_code == 422
        assert client.post("/items", params={"name": "real item"}).status_code == 200
    rows = harness.rows("items")
    record("SL101", variant, "rejected draft" in rows)
    if variant == "example":
        # the rejected request's row was committed by the next request
        assert rows == ["rejected draft", "real item"]
        ns["session"].close()
    else:
        assert rows == ["real item"]


# -- SL106 dependency-swallows-exception --------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl106_swallowed_exception_breaks_the_response(harness: Harness, variant: str) -> None:
    source = example("SL106") if variant == "example" else fixed("SL106")
    ns = harness.load(source)
    app: FastAPI = ns["app"]

    @app.get("/items/{item_id}")
    def read_item(item_id: int, db: Any = Depends(ns["get_db"])) -> None:
        db.execute(text("SELECT 1"))
        raise HTTPException(status_code=404, detail="Item not found")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/health").json() == {"ok": True}
        status = client.get("/items/1").status_code
    harm = status != 404
    record("SL106", variant, harm)
    if variant == "example":
        # FastAPI >= 0.110 turns the swallowed exception into a 500 ("Response not awaited")
        assert harm == (fastapi_version() >= Version("0.110"))
        assert harm == flagged("SL106", source, **versions())
    else:
        assert status == 404


# -- SL105 session-escapes-request --------------------------------------------------------------

_FUNCTION_SCOPE = Version("0.121")


def _sl105_scopes() -> list[str]:
    return ["default", "function"] if fastapi_version() >= _FUNCTION_SCOPE else ["default"]


def _teardown_before_tasks(scope: str) -> bool:
    """What the spec says: the dependency's exit code runs before the background tasks on
    FastAPI 0.106 to 0.117, or with ``scope="function"``."""
    version = fastapi_version()
    return scope == "function" or Version("0.106") <= version < Version("0.118")


@pytest.mark.parametrize("scope", _sl105_scopes())
@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl105_background_task_gets_a_closed_session(
    harness: Harness, variant: str, scope: str
) -> None:
    harness.sql(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER)",
        "INSERT INTO orders (user_id) VALUES (7), (7)",
    )
    source = example("SL105") if variant == "example" else use_instead("SL105")
    # The docs example declares ``scope="function"`` (the case the rule flags on every
    # version); the default-scope variant drops it.
    source = source.replace('Depends(get_db, scope="function")', "Depends(get_db)")
    if scope == "function":
        source = source.replace("Depends(get_db)", 'Depends(get_db, scope="function")')
        assert 'scope="function"' in source
    ns = harness.load(source)
    engine = harness.engines[-1]
    with no_cyclic_gc(), TestClient(ns["app"]) as client:
        assert client.post("/reports/7").json() == {"queued": True}
        # a connection the task checked out again, with nobody left to return it
        leaked = engine.pool.checkedout()
    harm = leaked > 0
    record("SL105", f"{variant}, scope={scope}", harm)
    if variant == "example":
        assert harm == _teardown_before_tasks(scope)
        # Spec v2: flagged exactly when the harm happens.
        assert flagged("SL105", source, **versions()) == harm
    else:
        assert not harm
