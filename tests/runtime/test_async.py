"""Runtime evidence for the async rules (SL301-SL305): a blocked event loop, an un-awaited
commit, one AsyncSession used concurrently, MissingGreenlet after a commit, a thread-local
session registry shared between requests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from .runtime_harness import Harness, drafts_app, example, fixed, record, use_instead

pytestmark = pytest.mark.runtime


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


# -- SL301 blocking-session-in-async ------------------------------------------------------------

SLOW_QUERY_SECONDS = 0.25
CONCURRENT_REQUESTS = 4


def _elapsed_for_concurrent_requests(harness: Harness, source: str) -> float:
    """Time N concurrent requests to the example's endpoint; its query takes
    SLOW_QUERY_SECONDS in SQLite (a view over a ``sleep`` function registered with
    ``create_function``)."""
    harness.pool = {"pool_size": CONCURRENT_REQUESTS, "max_overflow": 0, "pool_timeout": 5}
    harness.sql(f"CREATE VIEW orders AS SELECT sleep({SLOW_QUERY_SECONDS}) AS id")
    ns = harness.load(source)
    engine = harness.engines[-1]

    @event.listens_for(engine, "connect")
    def register_sleep(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("sleep", 1, lambda seconds: time.sleep(seconds) or 0)

    async def run() -> float:
        async with asgi_client(ns["app"]) as client:
            # warm up the pool's connections (and the app) first
            warm = [client.get("/orders/count") for _ in range(CONCURRENT_REQUESTS)]
            await asyncio.gather(*warm)
            started = time.perf_counter()
            responses = await asyncio.gather(
                *(client.get("/orders/count") for _ in range(CONCURRENT_REQUESTS))
            )
            elapsed = time.perf_counter() - started
        assert [r.json() for r in responses] == [1] * CONCURRENT_REQUESTS
        return elapsed

    return harness.run(run)


def test_sl301_blocking_query_serialises_the_event_loop(
    harness: Harness, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = _elapsed_for_concurrent_requests(harness, example("SL301"))
    other = Harness(tmp_path_factory.mktemp("fixed"), monkeypatch)
    try:
        threaded = _elapsed_for_concurrent_requests(other, fixed("SL301"))
    finally:
        other.close()
    ratio = blocked / threaded
    record("SL301", "example/fixed time ratio >= 2", ratio >= 2)
    # the blocked loop runs the N queries one after the other (ratio ~N); the threadpool
    # overlaps them (ratio ~1). Generous: at least half the ideal ratio.
    assert blocked >= CONCURRENT_REQUESTS * SLOW_QUERY_SECONDS * 0.9
    assert ratio >= CONCURRENT_REQUESTS / 2, (blocked, threaded)


# -- SL302 unawaited-async-session-call ---------------------------------------------------------


def _async_factory(harness: Harness) -> async_sessionmaker[AsyncSession]:
    engine = create_async_engine(harness.async_url)
    harness.engines.append(engine)
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl302_unawaited_commit_writes_nothing(harness: Harness, variant: str) -> None:
    models = harness.models()
    harness.sql("INSERT INTO users (name) VALUES ('ada')")
    source = example("SL302") if variant == "example" else fixed("SL302")
    ns = harness.load(source)
    factory = _async_factory(harness)

    async def rename() -> None:
        async with factory() as session:
            user = await session.get(models.User, 1)
            await ns["rename"](session, user, "grace")

    async def register() -> None:
        async with factory() as session:
            await ns["register"](session, models.User(name="alan"))

    if variant == "example":
        with pytest.warns(RuntimeWarning, match="was never awaited"):
            harness.run(rename)
        with pytest.raises(TypeError, match="can't be used in 'await' expression"):
            harness.run(register)
    else:
        harness.run(rename)
        harness.run(register)
    rows = harness.rows("users")
    record("SL302", variant, rows != ["grace", "alan"])
    assert rows == (["ada"] if variant == "example" else ["grace", "alan"])


# -- SL303 concurrent-async-session -------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl303_one_async_session_in_two_tasks(harness: Harness, variant: str) -> None:
    models = harness.models()
    harness.sql("INSERT INTO users (name) VALUES ('ada'), ('bob')")
    ns = harness.load(example("SL303") if variant == "example" else use_instead("SL303"))
    factory = _async_factory(harness)
    user_stmt = select(func.count()).select_from(models.User)
    item_stmt = select(func.count()).select_from(models.Item)

    async def run() -> Any:
        if variant == "example":
            async with factory() as session:
                return await ns["dashboard"](session, user_stmt, item_stmt)
        return await ns["dashboard"](factory, user_stmt, item_stmt)

    if variant == "example":
        with pytest.raises(
            sqlalchemy.exc.InvalidRequestError,
            match=r"already in progress|concurrent operations are not permitted",
        ):
            harness.run(run)
        record("SL303", variant, True)
    else:
        assert harness.run(run) == [2, 0]
        record("SL303", variant, False)


# -- SL304 async-expire-on-commit ---------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "fixed"])
def test_sl304_attribute_access_after_commit(harness: Harness, variant: str) -> None:
    models = harness.models()
    ns = harness.load(example("SL304") if variant == "example" else fixed("SL304"))
    app = FastAPI()

    @app.post("/users")
    async def create_user(name: str) -> dict[str, Any]:
        async with ns["SessionLocal"]() as session:
            user = models.User(name=name)
            session.add(user)
            await session.commit()
            return {"id": user.id, "name": user.name}

    async def run() -> httpx.Response:
        async with asgi_client(app) as client:
            return await client.post("/users", params={"name": "ada"})

    if variant == "example":
        # MissingGreenlet (wrapped in a StatementError by the refresh that needed I/O)
        with pytest.raises(sqlalchemy.exc.SQLAlchemyError, match="greenlet_spawn has not been"):
            harness.run(run)
        record("SL304", variant, True)
    else:
        response = harness.run(run)
        assert response.json() == {"id": 1, "name": "ada"}
        record("SL304", variant, False)
    assert harness.rows("users") == ["ada"]  # the commit itself worked in both


# -- SL305 scoped-session-in-fastapi ------------------------------------------------------------


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl305_thread_local_session_leaks_between_requests(harness: Harness, variant: str) -> None:
    harness.models()
    ns = harness.load(example("SL305") if variant == "example" else use_instead("SL305"))
    # the example's handlers take the registry's session of their (threadpool) thread
    dependency = (lambda: ns["Session"]()) if variant == "example" else ns["get_db"]
    with TestClient(drafts_app(ns["app"], dependency)) as client:
        assert client.post("/drafts", params={"name": "rejected draft"}).status_code == 422
        assert client.post("/items", params={"name": "real item"}).status_code == 200
    rows = harness.rows("items")
    record("SL305", variant, "rejected draft" in rows)
    if variant == "example":
        # a later request on the same worker thread committed the rejected request's row
        assert rows == ["rejected draft", "real item"]
        ns["Session"].remove()
    else:
        assert rows == ["real item"]
