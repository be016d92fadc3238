"""The Zipkin v2 query API over HTTP, on a real DuckDB store, per zipkin2-api.yaml."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .shapes import conforms, golden
from .traces import (
    CART,
    DB_CALL,
    HOME_TRACE,
    LEGACY_TRACE,
    ORPHAN,
    ROOT,
    SHOP_TRACE,
    UNKNOWN_TRACE,
    Seed,
)

MS = 1_000_000


async def ok(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


async def bad(client: httpx.AsyncClient, path: str, status: int = 400, /, **params: Any) -> str:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def trace_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [trace[0]["traceId"] for trace in await ok(client, "/api/v2/traces", **params)]


def assert_documented_spans(spans: list[dict[str, Any]]) -> None:
    documented = golden("zipkin_trace.json")
    for span in spans:
        for key in documented["required"]:
            assert key in span
        # tags are a map of free keys to strings: check the values, then the rest
        assert all(isinstance(value, str) for value in span.get("tags", {}).values())
        span = {key: value for key, value in span.items() if key != "tags"}
        assert conforms(span, documented["trace"][0]) == []


async def test_services_span_names_and_remote_services(client: httpx.AsyncClient) -> None:
    assert await ok(client, "/api/v2/services") == ["cart", "frontend", "legacy"]
    assert await ok(client, "/api/v2/spans", serviceName="frontend") == [
        "GET /cart",
        "GET /home",
        "SELECT cart",
    ]
    assert await ok(client, "/api/v2/remoteServices", serviceName="frontend") == ["cartdb"]
    assert await ok(client, "/api/v2/remoteServices", serviceName="legacy") == []
    assert "serviceName" in await bad(client, "/api/v2/spans")
    assert "serviceName" in await bad(client, "/api/v2/remoteServices")


async def test_get_trace(client: httpx.AsyncClient, seed_data: Seed) -> None:
    spans = await ok(client, f"/api/v2/trace/{SHOP_TRACE}")
    assert {span["id"] for span in spans} == {ROOT, DB_CALL, CART, ORPHAN}
    assert all(span["traceId"] == SHOP_TRACE for span in spans)
    assert_documented_spans(spans)
    # spans ascend by timestamp, after the clock-skew adjustment moved the cart span
    stamps = [span["timestamp"] for span in spans]
    assert stamps == sorted(stamps)
    cart = next(span for span in spans if span["id"] == CART)
    assert cart["timestamp"] == (seed_data.t0_ns + 40 * MS) // 1000
    assert cart["parentId"] == ROOT


async def test_get_trace_errors(client: httpx.AsyncClient) -> None:
    assert "not found" in await bad(client, f"/api/v2/trace/{UNKNOWN_TRACE}", 404)
    assert "trace id" in await bad(client, "/api/v2/trace/zzz")


async def test_64_bit_trace_id_in_zipkins_normalised_form(client: httpx.AsyncClient) -> None:
    # As Zipkin's server: a 32-hex id whose high half is zero is a 64-bit id, written as 16
    # hex; either form finds the trace. The Jaeger API keeps 32 hex (test_jaeger_api).
    short = LEGACY_TRACE[16:]
    for asked in (short, LEGACY_TRACE, short.upper()):
        spans = await ok(client, f"/api/v2/trace/{asked}")
        assert [(span["name"], span["traceId"]) for span in spans] == [("get /legacy", short)]
    [found] = await ok(client, "/api/v2/traceMany", traceIds=f"{short},{UNKNOWN_TRACE}")
    assert [span["traceId"] for span in found] == [short]
    assert short in await trace_ids(client, serviceName="legacy")
    assert "trace id" in await bad(client, f"/api/v2/trace/{short[1:]}")  # 15 hex
    assert "all zeros" in await bad(client, "/api/v2/trace/0000000000000000")


async def test_trace_many(client: httpx.AsyncClient) -> None:
    traces = await ok(
        client, "/api/v2/traceMany", traceIds=f"{SHOP_TRACE},{UNKNOWN_TRACE},{HOME_TRACE}"
    )
    assert [trace[0]["traceId"] for trace in traces] == [SHOP_TRACE, HOME_TRACE]
    assert "traceIds" in await bad(client, "/api/v2/traceMany")
    assert "trace id" in await bad(client, "/api/v2/traceMany", traceIds="abc,def")


async def test_find_traces(client: httpx.AsyncClient) -> None:
    assert await trace_ids(client, serviceName="frontend") == [HOME_TRACE, SHOP_TRACE]
    assert await trace_ids(client) == [LEGACY_TRACE[16:], HOME_TRACE, SHOP_TRACE]
    assert await trace_ids(client, serviceName="frontend", limit=1) == [HOME_TRACE]
    assert await trace_ids(client, serviceName="frontend", spanName="SELECT cart") == [SHOP_TRACE]
    assert await trace_ids(client, serviceName="frontend", spanName="all") == [
        HOME_TRACE,
        SHOP_TRACE,
    ]
    assert await trace_ids(client, serviceName="frontend", remoteServiceName="cartdb") == [
        SHOP_TRACE
    ]
    assert await trace_ids(client, serviceName="frontend", minDuration=200_000) == [HOME_TRACE]
    assert await trace_ids(client, serviceName="frontend", minDuration=1, maxDuration=150_000) == [
        SHOP_TRACE
    ]
    for trace in await ok(client, "/api/v2/traces", serviceName="frontend"):
        assert_documented_spans(trace)


async def test_find_traces_by_annotation_query(client: httpx.AsyncClient) -> None:
    find = "/api/v2/traces"
    assert await trace_ids(
        client, serviceName="frontend", annotationQuery="http.response.status_code=500"
    ) == [HOME_TRACE]
    # bare keys: a tag key ...
    assert await trace_ids(client, serviceName="frontend", annotationQuery="retried") == [
        HOME_TRACE
    ]
    # ... or an annotation (event) value
    assert await trace_ids(client, annotationQuery="exception") == [SHOP_TRACE]
    assert await trace_ids(
        client, serviceName="frontend", annotationQuery="db.system=sqlite and exception"
    ) == [SHOP_TRACE]
    assert await trace_ids(client, annotationQuery="exception and retried") == []
    assert await ok(client, find, serviceName="frontend", annotationQuery="nothing") == []


async def test_find_traces_time_window(client: httpx.AsyncClient, seed_data: Seed) -> None:
    t0_ms = seed_data.t0_ns // MS
    assert await trace_ids(client, serviceName="frontend", endTs=t0_ms + 1500, lookback=1000) == [
        HOME_TRACE
    ]
    assert await trace_ids(client, endTs=t0_ms - 60_000, lookback=1000) == []


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"minDuration": "fast"}, "minDuration"),
        ({"maxDuration": "100"}, "minDuration"),
        ({"minDuration": "100", "maxDuration": "10"}, "maxDuration"),
        ({"endTs": "noon"}, "endTs"),
        ({"lookback": "0"}, "lookback"),
        ({"limit": "-1"}, "limit"),
        ({"annotationQuery": "=x"}, "annotationQuery"),
    ],
)
async def test_find_traces_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    assert named in await bad(client, "/api/v2/traces", **params)


async def test_dependencies(client: httpx.AsyncClient, seed_data: Seed) -> None:
    end_ms = seed_data.t0_ns // MS + 60_000
    links = await ok(client, "/api/v2/dependencies", endTs=end_ms, lookback=3_600_000)
    assert {"parent": "frontend", "child": "cart", "callCount": 1} in links
    documented = golden("zipkin_dependencies.json")
    for link in links:
        assert all(key in link for key in documented["required"])
        assert conforms(link, documented["links"][0]) == []
    assert await ok(client, "/api/v2/dependencies", endTs=end_ms - 3_600_000, lookback=1) == []
    assert "endTs" in await bad(client, "/api/v2/dependencies")
    assert "lookback" in await bad(client, "/api/v2/dependencies", endTs=end_ms, lookback="x")


async def test_autocomplete(client: httpx.AsyncClient) -> None:
    keys = await ok(client, "/api/v2/autocompleteKeys")
    assert "http.request.method" in keys
    assert keys == sorted(keys)
    assert await ok(client, "/api/v2/autocompleteValues", key="http.request.method") == ["GET"]
    assert await ok(client, "/api/v2/autocompleteValues", key="no.such.key") == []
    assert "key" in await bad(client, "/api/v2/autocompleteValues")


async def test_names_match_case_insensitively(client: httpx.AsyncClient) -> None:
    # Zipkin lowercases names; we keep them as sent and fold case on the way in
    assert await trace_ids(client, serviceName="FRONTEND", spanName="select CART") == [SHOP_TRACE]
    assert await ok(client, "/api/v2/spans", serviceName="Cart") == ["GetCart", "refresh"]
    assert await ok(client, "/api/v2/remoteServices", serviceName="FrontEnd") == ["cartdb"]
