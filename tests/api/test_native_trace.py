"""The native trace API on a real DuckDB store: the NDJSON header and columnar chunks decode
back to the stored trace, chunking and caps are exact and said, one span comes back in full."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from breadcrumbs.api import native_trace
from breadcrumbs.model import Event, Link, Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "0af7651916cd43dd8448eb211c80319c"
T0 = time.time_ns() - 60 * 10**9
HOSTILE = "<img src=x onerror=alert(1)>"


def _spans() -> list[Span]:
    """root -> (db, call -> (handler -> work)), plus an orphan whose parent never arrived."""
    return [
        Span(TRACE, "00000000000000a1", "GET /order", "gateway", T0, 900_000, kind=SpanKind.SERVER),
        Span(
            TRACE, "00000000000000a2", "SELECT", "gateway", T0 + 10_000, 100_000, "00000000000000a1"
        ),
        Span(
            TRACE,
            "00000000000000a3",
            "POST /charge",
            "gateway",
            T0 + 200_000,
            600_000,
            "00000000000000a1",
            kind=SpanKind.CLIENT,
            events=(Event(T0 + 250_000, "retry", {"attempt": 2}),),
        ),
        Span(
            TRACE,
            "00000000000000b1",
            HOSTILE,
            "payment",
            T0 + 210_000,
            500_000,
            "00000000000000a3",
            kind=SpanKind.SERVER,
            status=StatusCode.ERROR,
            status_message="division by zero",
            attributes={"http.response.status_code": 500, "cart.ratio": 0.5, "paid": True},
            resource={"host.name": "pay-1"},
            events=(
                Event(
                    T0 + 400_000,
                    "exception",
                    {"exception.type": "ZeroDivisionError", "exception.stacktrace": "line 1"},
                ),
                Event(T0 + 450_000, "flush", {}),
            ),
            links=(Link(OTHER, "00000000000000c1", attributes={"why": "batch"}),),
        ),
        Span(
            TRACE,
            "00000000000000b2",
            "per_item_charge",
            "payment",
            T0 + 300_000,
            50_000,
            "00000000000000b1",
            links=(Link(TRACE, "00000000000000a2"),),
        ),
        Span(TRACE, "00000000000000d1", "orphan", "mailer", T0 + 500_000, 10_000, "ff" * 8),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    db = DuckDBStore(tmp_path_factory.mktemp("native") / "spans.duckdb")
    asyncio.run(db.write(batch_from_spans(_spans())))
    yield db
    asyncio.run(db.close())


@pytest.fixture
async def client(store: DuckDBStore) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=native_trace.routes(QueryService(store)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://x"
    ) as http:
        yield http


async def _lines(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in response.content.splitlines()]


def _decode(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Span id -> its decoded row, from the header's string table and every chunk."""
    strings = lines[0]["strings"]
    ids: list[str] = [sid for chunk in lines[1:] for sid in chunk["spanId"]]
    out: dict[str, dict[str, Any]] = {}
    for chunk in lines[1:]:
        for i in range(chunk["count"]):
            parent = chunk["parent"][i]
            out[chunk["spanId"][i]] = {
                "row": chunk["offset"] + i,
                "parent": ids[parent] if parent >= 0 else None,
                "service": strings[chunk["service"][i]],
                "name": strings[chunk["name"][i]],
                "start": chunk["start"][i],
                "duration": chunk["duration"][i],
                "status": chunk["status"][i],
                "kind": chunk["kind"][i],
                "links": chunk["links"][i],
            }
        for row, time_ns, name in zip(
            chunk["eventSpan"], chunk["eventTime"], chunk["eventName"], strict=True
        ):
            out[ids[row]].setdefault("events", []).append((time_ns, strings[name]))
    return out


async def test_header_summarises_and_chunks_decode_to_the_stored_trace(
    client: httpx.AsyncClient,
) -> None:
    lines = await _lines(client, f"/api/x/traces/{TRACE.upper()}")
    header = lines[0]
    assert header["type"] == "header"
    assert header["traceId"] == TRACE
    assert header["warnings"] == []
    summary = header["summary"]
    assert summary["spanCount"] == 6
    assert summary["startNs"] == T0
    assert summary["durationNs"] == 900_000
    assert summary["depth"] == 4  # root, POST /charge, payment server, per_item_charge
    assert summary["maxFanOut"] == 2
    assert summary["errorCount"] == 1
    assert summary["rootCount"] == 2  # the orphan is shown at the top level
    assert summary["root"] == {
        "spanId": "00000000000000a1",
        "service": "gateway",
        "name": "GET /order",
    }
    assert summary["services"] == [
        {"name": "gateway", "spans": 3, "errors": 0},
        {"name": "payment", "spans": 2, "errors": 1},
        {"name": "mailer", "spans": 1, "errors": 0},
    ]
    assert len(set(header["strings"])) == len(header["strings"])
    spans = _decode(lines)
    assert spans["00000000000000b1"] == {
        "row": spans["00000000000000b1"]["row"],
        "parent": "00000000000000a3",
        "service": "payment",
        "name": HOSTILE,
        "start": 210_000,
        "duration": 500_000,
        "status": int(StatusCode.ERROR),
        "kind": int(SpanKind.SERVER),
        "links": 1,
        "events": [(400_000, "exception"), (450_000, "flush")],
    }
    assert spans["00000000000000a3"]["events"] == [(250_000, "retry")]
    assert spans["00000000000000d1"]["parent"] is None
    assert spans["00000000000000a1"]["parent"] is None
    assert [s["start"] for s in sorted(spans.values(), key=lambda s: s["row"])] == sorted(
        s["start"] for s in spans.values()
    )


@pytest.mark.parametrize("chunk", [1, 2, 4, 5])
async def test_any_chunk_size_gives_the_same_trace(client: httpx.AsyncClient, chunk: int) -> None:
    whole = _decode(await _lines(client, f"/api/x/traces/{TRACE}"))
    lines = await _lines(client, f"/api/x/traces/{TRACE}?chunk={chunk}")
    assert [line["offset"] for line in lines[1:]] == list(range(0, 6, chunk))
    assert _decode(lines) == whole


async def test_a_cap_keeps_the_earliest_spans_and_says_so(client: httpx.AsyncClient) -> None:
    lines = await _lines(client, f"/api/x/traces/{TRACE}?limit=3")
    header = lines[0]
    assert header["summary"]["spanCount"] == 3
    assert header["summary"]["storedSpanCount"] == 6
    assert header["warnings"] == [
        "this trace has 6 spans; only the first 3 by start time are shown"
    ]
    assert sum(line["count"] for line in lines[1:]) == 3


async def test_one_span_in_full_with_typed_values_and_links_both_ways(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/x/traces/{TRACE}/spans/00000000000000B1")
    assert response.status_code == 200
    span = response.json()
    assert span["name"] == HOSTILE
    assert span["kind"] == "server"
    assert span["status"] == {"code": "ERROR", "message": "division by zero"}
    assert span["parentSpanId"] == "00000000000000a3"
    attributes = {a["key"]: (a["type"], a["value"]) for a in span["attributes"]}
    assert attributes == {
        "http.response.status_code": ("int64", 500),
        "cart.ratio": ("float64", 0.5),
        "paid": ("bool", True),
    }
    assert {"key": "host.name", "type": "string", "value": "pay-1"} in span["resource"]
    assert [e["name"] for e in span["events"]] == ["exception", "flush"]
    assert span["links"] == [
        {
            "traceId": OTHER,
            "spanId": "00000000000000c1",
            "attributes": [{"key": "why", "type": "string", "value": "batch"}],
        }
    ]
    target = (await client.get(f"/api/x/traces/{TRACE}/spans/00000000000000a2")).json()
    assert target["linkedFrom"] == [{"traceId": TRACE, "spanId": "00000000000000b2"}]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/api/x/traces/{OTHER}", 404),
        (f"/api/x/traces/{TRACE}/spans/0000000000000999", 404),
        ("/api/x/traces/not-hex", 400),
        (f"/api/x/traces/{TRACE}?chunk=0", 400),
        (f"/api/x/traces/{TRACE}?chunk=x", 400),
        (f"/api/x/traces/{TRACE}?limit=-1", 400),
        (f"/api/x/traces/{TRACE}/spans/xyz", 400),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    client: httpx.AsyncClient, url: str, status: int
) -> None:
    response = await client.get(url)
    assert response.status_code == status
    assert response.json()["error"]
