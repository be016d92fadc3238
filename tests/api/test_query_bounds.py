"""``--max-query-window`` and ``--max-query-traces`` through the Jaeger and Zipkin APIs: any
window and limit gets a 200 within the bounds and a 400 naming the setting beyond, never a
5xx (hypothesis draws them around the bounds)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import jaeger, zipkin
from breadcrumbs.query.service import QueryBounds, QueryService
from breadcrumbs.store.duckdb import DuckDBStore

from .traces import Seed

MAX_WINDOW_MS = 3_600_000  # 1 h
MAX_TRACES = 50
END_MS = 1_800_000_000_000  # a fixed "now" (2027), after every seeded span

WINDOWS_MS = st.one_of(
    st.integers(0, 2 * MAX_WINDOW_MS),
    st.sampled_from([MAX_WINDOW_MS - 1, MAX_WINDOW_MS, MAX_WINDOW_MS + 1]),
    st.integers(2 * MAX_WINDOW_MS, END_MS),
)
LIMITS = st.one_of(st.integers(1, 2 * MAX_TRACES), st.sampled_from([MAX_TRACES, MAX_TRACES + 1]))


@pytest.fixture
async def bounded_client(seeded: tuple[DuckDBStore, Seed]) -> AsyncIterator[httpx.AsyncClient]:
    bounds = QueryBounds(max_window_ns=MAX_WINDOW_MS * 10**6, max_traces=MAX_TRACES)
    query = QueryService(seeded[0], bounds=bounds)
    app = Starlette(routes=[*jaeger.routes(query), *zipkin.routes(query)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        yield http


def _expect(response: httpx.Response, window_ms: int, limit: int = 1) -> None:
    if window_ms > MAX_WINDOW_MS:
        assert response.status_code == 400, response.text
        assert "--max-query-window" in response.text
    elif limit > MAX_TRACES:
        assert response.status_code == 400, response.text
        assert "--max-query-traces" in response.text
    else:
        assert response.status_code == 200, response.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(window_ms=WINDOWS_MS, limit=LIMITS)
async def test_jaeger_search_window_and_limit(
    bounded_client: httpx.AsyncClient, window_ms: int, limit: int
) -> None:
    end_us = END_MS * 1000
    response = await bounded_client.get(
        "/api/traces",
        params={
            "service": "frontend",
            "start": str(end_us - window_ms * 1000),
            "end": str(end_us),
            "limit": str(limit),
        },
    )
    _expect(response, window_ms, limit)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(window_ms=WINDOWS_MS.filter(lambda ms: ms > 0), limit=LIMITS)
async def test_zipkin_search_window_and_limit(
    bounded_client: httpx.AsyncClient, window_ms: int, limit: int
) -> None:
    response = await bounded_client.get(
        "/api/v2/traces",
        params={"endTs": str(END_MS), "lookback": str(window_ms), "limit": str(limit)},
    )
    _expect(response, window_ms, limit)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(window_ms=WINDOWS_MS.filter(lambda ms: ms > 0), path=st.sampled_from(["/api", "/api/v2"]))
async def test_dependencies_window(
    bounded_client: httpx.AsyncClient, window_ms: int, path: str
) -> None:
    response = await bounded_client.get(
        f"{path}/dependencies", params={"endTs": str(END_MS), "lookback": str(window_ms)}
    )
    _expect(response, window_ms)


async def test_the_default_lookbacks_fit_the_default_window(
    seeded: tuple[DuckDBStore, Seed],
) -> None:
    """Jaeger's 2-day and Zipkin's 1-day default lookbacks, and Jaeger's default limit of 100,
    are within the defaults: a plain search never needs a setting changed."""
    query = QueryService(seeded[0])
    app = Starlette(routes=[*jaeger.routes(query), *zipkin.routes(query)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        assert (await http.get("/api/traces", params={"service": "frontend"})).status_code == 200
        assert (await http.get("/api/v2/traces")).status_code == 200
        assert (await http.get("/api/dependencies")).status_code == 200


async def test_a_trace_list_beyond_the_limit_is_refused(
    bounded_client: httpx.AsyncClient,
) -> None:
    ids = [f"{i + 1:032x}" for i in range(MAX_TRACES + 1)]
    response = await bounded_client.get(
        "/api/traces", params=[("traceID", trace_id) for trace_id in ids]
    )
    assert response.status_code == 400
    assert f"asks for {MAX_TRACES + 1} traces" in response.text
    response = await bounded_client.get("/api/v2/traceMany", params={"traceIds": ",".join(ids)})
    assert response.status_code == 400


async def test_a_search_naming_no_window_fits_a_smaller_maximum(
    bounded_client: httpx.AsyncClient,
) -> None:
    """The default lookbacks (Jaeger 2 days, Zipkin 1 day) shrink to ``--max-query-window``:
    only a window the client names can be refused."""
    for path, params in (
        ("/api/traces", {"service": "frontend"}),
        ("/api/v2/traces", {}),
        ("/api/dependencies", {}),
        ("/api/v2/dependencies", {"endTs": str(END_MS)}),
    ):
        response = await bounded_client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
