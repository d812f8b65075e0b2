"""Runtime evidence for the engine rules (SL401, SL402): an engine (and its pool) per
request, an in-memory SQLite database the request threads cannot see."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy.exc
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .runtime_harness import Harness, example, fixed, record, use_instead

pytestmark = pytest.mark.runtime

REQUESTS = 5


# -- SL401 engine-per-request -------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl401_engine_per_request_opens_a_pool_per_request(harness: Harness, variant: str) -> None:
    ns = harness.load(example("SL401") if variant == "example" else use_instead("SL401"))
    app: FastAPI = ns["app"]

    @app.get("/one")
    def one(db: Any = Depends(ns["get_db"])) -> int:
        return int(db.execute(text("SELECT 1")).scalar_one())

    engines_before = len(harness.engines)
    connects: list[object] = []

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        connects.append(dbapi_connection)

    event.listen(Engine, "connect", on_connect)
    try:
        with TestClient(app) as client:
            for _ in range(REQUESTS):
                assert client.get("/one").json() == 1
                assert client.get("/items").json() == []
    finally:
        event.remove(Engine, "connect", on_connect)
    engines = len(harness.engines) - engines_before
    record("SL401", variant, engines > 0)
    if variant == "example":
        # a new engine for every request, and a new database connection for every query
        assert engines == 2 * REQUESTS
        assert len(connects) == REQUESTS
    else:
        assert engines == 0
        assert len(connects) == 1  # the pool's one connection, reused


# -- SL402 sqlite-thread-config -----------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl402_in_memory_database_across_threads(harness: Harness, variant: str) -> None:
    ns = harness.load(example("SL402") if variant == "example" else fixed("SL402"))
    engine = ns["engine"]
    app: FastAPI = ns["app"]
    with engine.begin() as conn:  # the schema, created at start-up in the main thread
        conn.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO items (name) VALUES ('lamp')")

    @app.get("/items/count")
    def count_items() -> int:  # a sync endpoint: FastAPI runs it in a worker thread
        with Session(engine) as db:
            return int(db.execute(text("SELECT count(*) FROM items")).scalar_one())

    with TestClient(app) as client:
        if variant == "example":
            # the worker thread gets its own connection: a different, empty database
            with pytest.raises(sqlalchemy.exc.OperationalError, match="no such table: items"):
                client.get("/items/count")
        else:
            assert client.get("/items/count").json() == 1
    record("SL402", variant, variant == "example")
    engine.dispose()
