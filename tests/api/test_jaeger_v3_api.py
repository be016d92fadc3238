"""The Jaeger API v3 HTTP gateway: OTLP/JSON traces, services, operations and its errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from breadcrumbs.codec.otlp import decode_json

from .traces import (
    CART,
    HOME_TRACE,
    LINKED_SPAN,
    LINKED_TRACE,
    ROOT,
    SHOP_TRACE,
    UNKNOWN_TRACE,
    Seed,
)

MS = 1_000_000


def rfc3339(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{moment}.{ns % 1_000_000_000:09d}Z"


async def ok(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def error(client: httpx.AsyncClient, path: str, status: int, **params: Any) -> str:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["httpCode"] == status
    message: str = body["error"]["message"]
    return message


def spans(body: Any) -> list[dict[str, Any]]:
    return [
        span
        for resource_spans in body["result"]["resourceSpans"]
        for scope_spans in resource_spans["scopeSpans"]
        for span in scope_spans["spans"]
    ]


async def test_services_and_operations(client: httpx.AsyncClient) -> None:
    assert await ok(client, "/api/v3/services") == {"services": ["cart", "frontend", "legacy"]}
    body = await ok(client, "/api/v3/operations", service="frontend", span_kind="client")
    assert body == {"operations": [{"name": "SELECT cart", "spanKind": "client"}]}
    assert "service" in await error(client, "/api/v3/operations", 400)


async def test_get_trace_is_otlp_json(client: httpx.AsyncClient, seed_data: Seed) -> None:
    body = await ok(client, f"/api/v3/traces/{SHOP_TRACE}")
    by_id = {span["spanId"]: span for span in spans(body)}
    assert len(by_id) == 4
    assert all(span["traceId"] == SHOP_TRACE for span in by_id.values())
    cart = by_id[CART]
    assert cart["parentSpanId"] == ROOT
    assert cart["kind"] == 2
    assert cart["links"][0]["traceId"] == LINKED_TRACE
    assert cart["links"][0]["spanId"] == LINKED_SPAN
    # adjusted like every other read: moved inside its parent
    assert int(cart["startTimeUnixNano"]) == seed_data.t0_ns + 40 * MS
    # what we answer is OTLP/JSON our own OTLP decoder accepts, spans intact
    decoded = decode_json(orjson.dumps(body["result"]))
    assert decoded.rejected == 0
    assert sorted(decoded.batch["SpanId"].to_pylist()) == sorted(by_id)
    assert set(decoded.batch["ServiceName"].to_pylist()) == {"frontend", "cart"}


async def test_get_trace_errors(client: httpx.AsyncClient) -> None:
    assert "not found" in await error(client, f"/api/v3/traces/{UNKNOWN_TRACE}", 404)
    assert "trace id" in await error(client, "/api/v3/traces/xyz", 400)


async def test_find_traces(client: httpx.AsyncClient, seed_data: Seed) -> None:
    window = {
        "query.start_time_min": rfc3339(seed_data.t0_ns - 60_000 * MS),
        "query.start_time_max": rfc3339(seed_data.t0_ns + 60_000 * MS),
    }
    body = await ok(client, "/api/v3/traces", **{"query.service_name": "frontend"}, **window)
    assert {span["traceId"] for span in spans(body)} == {SHOP_TRACE, HOME_TRACE}
    body = await ok(
        client,
        "/api/v3/traces",
        **{"query.service_name": "frontend", "query.duration_min": "200ms"},
        **window,
    )
    assert {span["traceId"] for span in spans(body)} == {HOME_TRACE}
    assert "No traces" in await error(
        client, "/api/v3/traces", 404, **{"query.service_name": "nobody"}, **window
    )


async def test_find_traces_bad_parameters(client: httpx.AsyncClient) -> None:
    assert "required" in await error(client, "/api/v3/traces", 400)
    times = {"query.start_time_min": "yesterday", "query.start_time_max": "2024-01-01T00:00:00Z"}
    assert "query.start_time_min" in await error(client, "/api/v3/traces", 400, **times)
    times = {
        "query.start_time_min": "2024-01-01T00:00:00Z",
        "query.start_time_max": "2024-01-01T00:00:01.5-01:00",
        "query.num_traces": "x",
    }
    assert "query.num_traces" in await error(client, "/api/v3/traces", 400, **times)
