"""The Jaeger query API over HTTP, on a real DuckDB store: every endpoint, parameters,
error envelopes, and the rendered trace (typed tags, references, processes, logs, adjusters)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .shapes import golden, shape
from .traces import (
    CART,
    DB_CALL,
    HOME_TRACE,
    LEGACY_TRACE,
    LINKED_SPAN,
    LINKED_TRACE,
    MISSING_PARENT,
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
    body = response.json()
    assert body["errors"] is None
    assert (body["limit"], body["offset"]) == (0, 0)
    return body


async def error(client: httpx.AsyncClient, path: str, status: int, **params: Any) -> str:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert shape(body) == shape(golden("jaeger_error.json"))
    assert body["errors"][0]["code"] == status
    message: str = body["errors"][0]["msg"]
    return message


def by_id(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {span["spanID"]: span for span in trace["spans"]}


def tags(span: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {tag["key"]: (tag["type"], tag["value"]) for tag in span["tags"]}


async def test_services(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/services")
    assert body["data"] == ["cart", "frontend", "legacy"]
    assert body["total"] == 3
    assert shape(body) == shape(golden("jaeger_services.json"))


async def test_service_operations(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/services/frontend/operations")
    assert body["data"] == ["GET /cart", "GET /home", "SELECT cart"]
    assert body["total"] == 3
    assert (await ok(client, "/api/services/nobody/operations"))["data"] == []


async def test_operations_with_span_kind(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/operations", service="frontend", spanKind="server")
    assert body["data"] == [
        {"name": "GET /cart", "spanKind": "server"},
        {"name": "GET /home", "spanKind": "server"},
    ]
    assert shape(body) == shape(golden("jaeger_operations.json"))
    every = await ok(client, "/api/operations", service="frontend")
    assert {"name": "SELECT cart", "spanKind": "client"} in every["data"]
    assert "service" in await error(client, "/api/operations", 400)
    assert "spanKind" in await error(
        client, "/api/operations", 400, service="frontend", spanKind="sideways"
    )


async def test_get_trace_matches_the_documented_shape(client: httpx.AsyncClient) -> None:
    body = await ok(client, f"/api/traces/{SHOP_TRACE}")
    documented = golden("jaeger_trace.json")
    # processes are keyed p1, p2 ...: compare their values
    for response in (body, documented):
        for trace in response["data"]:
            trace["processes"] = list(trace["processes"].values())
    assert shape(body) == shape(documented)


async def test_trace_rendering(client: httpx.AsyncClient, seed_data: Seed) -> None:
    body = await ok(client, f"/api/traces/{SHOP_TRACE.upper()}")
    (trace,) = body["data"]
    assert trace["traceID"] == SHOP_TRACE
    assert trace["warnings"] is None
    spans = by_id(trace)
    assert set(spans) == {ROOT, DB_CALL, CART, ORPHAN}
    root, db, cart, orphan = spans[ROOT], spans[DB_CALL], spans[CART], spans[ORPHAN]

    assert root["startTime"] == seed_data.t0_ns // 1000
    assert root["duration"] == 100_000
    assert root["operationName"] == "GET /cart"
    assert root["references"] == []
    root_tags = tags(root)
    assert root_tags["http.request.method"] == ("string", "GET")
    assert root_tags["http.response.status_code"] == ("int64", 200)
    assert root_tags["sample.ratio"] == ("float64", 0.25)
    assert root_tags["cache.hit"] == ("bool", True)
    assert root_tags["raw.bytes"] == ("binary", "AQI=")
    assert root_tags["tags.list"] == ("string", '["a","b"]')
    assert root_tags["span.kind"] == ("string", "server")
    assert root_tags["otel.status_code"] == ("string", "OK")
    assert root_tags["otel.scope.name"] == ("string", "shop.http")
    assert root_tags["otel.scope.version"] == ("string", "1.2.3")
    assert "error" not in root_tags

    db_tags = tags(db)
    assert db_tags["span.kind"] == ("string", "client")
    assert db_tags["error"] == ("bool", True)
    assert db_tags["otel.status_code"] == ("string", "ERROR")
    assert db_tags["otel.status_description"] == ("string", "connection reset")
    assert db["references"] == [{"refType": "CHILD_OF", "traceID": SHOP_TRACE, "spanID": ROOT}]
    (log,) = db["logs"]
    assert log["timestamp"] == (seed_data.t0_ns + 15 * MS) // 1000
    assert log["fields"] == [
        {"key": "event", "type": "string", "value": "exception"},
        {"key": "exception.type", "type": "string", "value": "ConnectionError"},
        {"key": "exception.message", "type": "string", "value": "connection reset"},
        {"key": "exception.stacktrace", "type": "string", "value": "Traceback ..."},
    ]

    assert cart["references"] == [
        {"refType": "CHILD_OF", "traceID": SHOP_TRACE, "spanID": ROOT},
        {"refType": "FOLLOWS_FROM", "traceID": LINKED_TRACE, "spanID": LINKED_SPAN},
    ]
    assert "span.kind" in tags(orphan)  # internal spans say so, as the OTel translator does

    # one process per (service, resource): the two frontend spans share one
    processes = trace["processes"]
    assert len(processes) == 2
    assert root["processID"] == db["processID"] != cart["processID"] == orphan["processID"]
    frontend = processes[root["processID"]]
    assert frontend["serviceName"] == "frontend"
    assert {(t["key"], t["type"], t["value"]) for t in frontend["tags"]} == {
        ("host.name", "string", "web-1"),
        ("process.pid", "int64", 42),
    }
    assert processes[cart["processID"]]["serviceName"] == "cart"


async def test_clock_skew_and_missing_parent_warnings(
    client: httpx.AsyncClient, seed_data: Seed
) -> None:
    trace = (await ok(client, f"/api/traces/{SHOP_TRACE}"))["data"][0]
    spans = by_id(trace)
    cart = spans[CART]
    # cart started 5 ms before its parent on another host: moved to the middle of the parent
    assert cart["startTime"] == (seed_data.t0_ns + 40 * MS) // 1000
    assert cart["warnings"] == ["This span's timestamps were adjusted by 45ms"]
    assert cart["logs"][0]["timestamp"] == (seed_data.t0_ns + 45 * MS) // 1000
    assert spans[ORPHAN]["warnings"] == [
        f"invalid parent span IDs={MISSING_PARENT}; skipping clock skew adjustment"
    ]
    assert spans[ROOT]["warnings"] is None
    starts = [span["startTime"] for span in trace["spans"]]
    assert starts == sorted(starts)

    raw = (await ok(client, f"/api/traces/{SHOP_TRACE}", raw="true"))["data"][0]
    assert by_id(raw)[CART]["startTime"] == (seed_data.t0_ns - 5 * MS) // 1000
    assert by_id(raw)[CART]["warnings"] is None


async def test_get_trace_errors(client: httpx.AsyncClient) -> None:
    assert "trace not found" in await error(client, f"/api/traces/{UNKNOWN_TRACE}", 404)
    assert "trace id" in await error(client, "/api/traces/not-a-trace-id", 400)
    assert "all zeros" in await error(client, "/api/traces/" + "0" * 32, 400)
    assert "start" in await error(client, f"/api/traces/{SHOP_TRACE}", 400, start="soon")


async def test_64_bit_trace_id(client: httpx.AsyncClient) -> None:
    body = await ok(client, f"/api/traces/{LEGACY_TRACE[16:]}")
    assert body["data"][0]["traceID"] == LEGACY_TRACE


async def trace_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    body = await ok(client, "/api/traces", **params)
    assert body["total"] == 0  # as Jaeger's tracesToResponse
    return [trace["traceID"] for trace in body["data"]]


async def test_search(client: httpx.AsyncClient) -> None:
    assert await trace_ids(client, service="frontend") == [HOME_TRACE, SHOP_TRACE]
    assert await trace_ids(client, service="cart") == [SHOP_TRACE]
    assert await trace_ids(client, service="frontend", limit=1) == [HOME_TRACE]
    assert await trace_ids(client, service="frontend", operation="SELECT cart") == [SHOP_TRACE]
    assert await trace_ids(client, service="nobody") == []


async def test_search_by_tags(client: httpx.AsyncClient) -> None:
    assert await trace_ids(client, service="frontend", tag="http.response.status_code:500") == [
        HOME_TRACE
    ]
    assert await trace_ids(client, service="frontend", tags='{"db.system":"sqlite"}') == [
        SHOP_TRACE
    ]
    assert await trace_ids(client, service="frontend", tags='{"db.system":"postgres"}') == []


async def test_search_by_duration(client: httpx.AsyncClient) -> None:
    assert await trace_ids(client, service="frontend", minDuration="200ms") == [HOME_TRACE]
    assert await trace_ids(client, service="frontend", maxDuration="0.15s") == [SHOP_TRACE]
    assert await trace_ids(client, service="frontend", minDuration="50ms", maxDuration="1m30s") == [
        HOME_TRACE,
        SHOP_TRACE,
    ]


async def test_search_time_window(client: httpx.AsyncClient, seed_data: Seed) -> None:
    t0_us = seed_data.t0_ns // 1000
    window = {"start": t0_us + 500_000, "end": t0_us + 1_500_000, "lookback": "custom"}
    assert await trace_ids(client, service="frontend", **window) == [HOME_TRACE]
    assert await trace_ids(client, service="frontend", lookback="1m") == []
    assert await trace_ids(client, service="frontend", lookback="1h") == [HOME_TRACE, SHOP_TRACE]


async def test_search_by_trace_ids(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/traces", params=[("traceID", SHOP_TRACE), ("traceID", UNKNOWN_TRACE)]
    )
    body = response.json()
    assert [trace["traceID"] for trace in body["data"]] == [SHOP_TRACE]
    assert body["errors"] == [{"msg": "trace not found", "traceID": UNKNOWN_TRACE}]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "service"),
        ({"service": "frontend", "minDuration": "fast"}, "minDuration"),
        ({"service": "frontend", "maxDuration": "10"}, "maxDuration"),
        ({"service": "frontend", "limit": "many"}, "limit"),
        ({"service": "frontend", "start": "1.5"}, "start"),
        ({"service": "frontend", "tag": "novalue"}, "tag"),
        ({"service": "frontend", "tags": "{"}, "tags"),
        ({"traceID": "xyz"}, "trace id"),
    ],
)
async def test_search_bad_parameters(
    client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    assert named in await error(client, "/api/traces", 400, **params)


async def test_dependencies(client: httpx.AsyncClient, seed_data: Seed) -> None:
    end_ms = seed_data.t0_ns // MS + 60_000
    body = await ok(client, "/api/dependencies", endTs=end_ms, lookback=3_600_000)
    assert {"parent": "frontend", "child": "cart", "callCount": 1} in body["data"]
    assert shape(body) == shape(golden("jaeger_dependencies.json"))
    assert body["total"] == 0
    only_legacy = await ok(
        client, "/api/dependencies", endTs=end_ms, lookback=3_600_000, service="legacy"
    )
    assert only_legacy["data"] == []
    before = await ok(client, "/api/dependencies", endTs=end_ms - 3_600_000, lookback=60_000)
    assert before["data"] == []
    assert "endTs" in await error(client, "/api/dependencies", 400, endTs="noon")
    assert "lookback" in await error(client, "/api/dependencies", 400, lookback="-5")
