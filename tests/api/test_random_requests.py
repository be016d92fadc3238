"""Random query strings on every query endpoint: a 2xx or a 4xx with a message, never a 5xx."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import jaeger, zipkin
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

from .traces import Seed

PATHS = st.sampled_from(
    [
        "/api/traces",
        "/api/operations",
        "/api/dependencies",
        "/api/v2/traces",
        "/api/v2/dependencies",
        "/api/v2/traceMany",
        "/api/v2/spans",
        "/api/v2/autocompleteValues",
        "/api/v3/traces",
        "/api/v3/operations",
    ]
)
NAMES = st.sampled_from(
    [
        "service",
        "operation",
        "tag",
        "tags",
        "start",
        "end",
        "lookback",
        "minDuration",
        "maxDuration",
        "limit",
        "traceID",
        "spanKind",
        "endTs",
        "serviceName",
        "spanName",
        "annotationQuery",
        "traceIds",
        "key",
        "remoteServiceName",
        "query.service_name",
        "query.start_time_min",
        "query.start_time_max",
        "query.duration_min",
        "query.num_traces",
        "span_kind",
    ]
)
VALUES = st.text(max_size=24) | st.integers(min_value=-(2**70), max_value=2**70).map(str)
PAIRS = st.lists(st.tuples(NAMES, VALUES), max_size=6)


@pytest.fixture(scope="module")
def app(seeded: tuple[DuckDBStore, Seed]) -> Starlette:
    query = QueryService(seeded[0])
    return Starlette(routes=[*jaeger.routes(query), *zipkin.routes(query)])


def get(app: Starlette, path: str, params: list[tuple[str, str]] | None = None) -> httpx.Response:
    """One request through the real app, in a fresh event loop (hypothesis runs sync tests)."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://query") as client:
            return await client.get(path, params=tuple(params or ()))

    return asyncio.run(run())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=PATHS, pairs=PAIRS)
def test_random_parameters_never_fail_the_server(
    app: Starlette, path: str, pairs: list[tuple[str, str]]
) -> None:
    response = get(app, path, pairs)
    # 404: the v3 gateway's "No traces found"
    assert response.status_code in (200, 400, 404), response.text
    if response.status_code == 400:
        assert response.text


@settings(max_examples=60, deadline=None)
@given(trace_id=st.text(min_size=1, max_size=40))
def test_random_trace_ids(app: Starlette, trace_id: str) -> None:
    # "." and ".." are dot-segments: the client removes them (RFC 3986), so no id reaches us.
    assume(trace_id not in (".", ".."))
    quoted = quote(trace_id, safe="")
    for path in (f"/api/traces/{quoted}", f"/api/v2/trace/{quoted}", f"/api/v3/traces/{quoted}"):
        response = get(app, path)
        assert response.status_code in (200, 400, 404), response.text
