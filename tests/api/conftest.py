"""A real DuckDB store on a temp dir holding ``traces.seed()``, and an HTTP client on the
Starlette app built from the Jaeger and Zipkin query routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from breadcrumbs.api import jaeger, zipkin
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

from .traces import Seed, seed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBStore, Seed]]:
    store = DuckDBStore(tmp_path_factory.mktemp("query-api") / "spans.duckdb")
    data = seed()
    asyncio.run(store.write(data.batch))
    yield store, data
    asyncio.run(store.close())


@pytest.fixture
def seed_data(seeded: tuple[DuckDBStore, Seed]) -> Seed:
    return seeded[1]


@pytest.fixture
async def client(seeded: tuple[DuckDBStore, Seed]) -> AsyncIterator[httpx.AsyncClient]:
    query = QueryService(seeded[0])
    app = Starlette(routes=[*jaeger.routes(query), *zipkin.routes(query)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        yield http
