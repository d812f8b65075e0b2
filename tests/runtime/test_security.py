"""Runtime evidence for SL501 raw-sql-interpolation: a crafted parameter changes the query."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .runtime_harness import Harness, example, record, use_instead

pytestmark = pytest.mark.runtime

CRAFTED = "nobody' OR '1'='1"


@pytest.mark.parametrize("variant", ["example", "use instead"])
def test_sl501_crafted_parameter_changes_the_result(harness: Harness, variant: str) -> None:
    harness.sql(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
        "INSERT INTO users (name) VALUES ('ada'), ('bob')",
    )
    ns = harness.load(example("SL501") if variant == "example" else use_instead("SL501"))
    with TestClient(ns["app"]) as client:
        assert client.get("/users", params={"name": "ada"}).json() == [1]
        crafted = client.get("/users", params={"name": CRAFTED}).json()
    record("SL501", variant, crafted != [])
    # the interpolated query returns every user; the bound parameter matches no name
    assert crafted == ([1, 2] if variant == "example" else [])
