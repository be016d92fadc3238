"""``GET /api/x/doctor`` over the query API's seeded traces (a real DuckDB store)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from breadcrumbs.api import doctor
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

from .traces import SHOP_TRACE, Seed

HOUR = 3600 * 10**9


@pytest.fixture
async def client(seeded: tuple[DuckDBStore, Seed]) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=doctor.routes(QueryService(seeded[0]), value_limit=16_384))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        yield http


async def test_findings_worst_first_with_examples(
    client: httpx.AsyncClient, seed_data: Seed
) -> None:
    start, end = seed_data.t0_ns - HOUR, seed_data.t0_ns + HOUR
    response = await client.get("/api/x/doctor", params={"start": start, "end": end})
    assert response.status_code == 200
    body = response.json()
    assert (body["startNs"], body["endNs"]) == (start, end)
    assert body["scope"]["spans"] >= 6
    assert body["scope"]["truncated"] == []
    order = ["high", "medium", "low", "info"]
    ranks = [order.index(f["severity"]) for f in body["findings"]]
    assert ranks == sorted(ranks)
    by_check = {f["check"]: f for f in body["findings"]}
    orphan = by_check["propagation.orphans"]  # cart's `refresh` lost its parent
    assert orphan["family"] == "propagation"
    assert orphan["title"] == "cart: spans whose parent never arrived"
    assert orphan["examples"] == [{"traceId": SHOP_TRACE, "service": "cart", "spanName": "refresh"}]
    skew = by_check["skew.clock-skew"]  # cart's span starts 5 ms before frontend's
    assert skew["title"] == "clock skew between hosts web-1 and cart-1: up to 5.0 ms"
    assert "(frontend → cart)" in skew["detail"]  # the services on them
    assert (skew["count"], skew["total"], skew["unit"]) == (1, 1, "spans")
    assert set(by_check["propagation.orphans"]) >= {"detail", "fix", "count", "total"}


async def test_the_default_window_is_the_last_hour(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/x/doctor")).json()
    assert body["endNs"] - body["startNs"] == HOUR


@pytest.mark.parametrize(
    "params",
    [
        {"lookback": "yesterday"},
        {"start": "10", "end": "5"},
        {"start": "abc"},
        {"lookback": "0"},
        {"lookback": "400d"},
    ],
)
async def test_bad_parameters_are_a_400_with_a_message(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/x/doctor", params=params)
    assert response.status_code == 400
    assert response.json()["error"]
