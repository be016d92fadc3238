"""RED over HTTP: the native ``/api/x/red`` and ``/api/x/service-graph``, and Jaeger's
monitoring API in the shapes the Jaeger UI's Monitor tab reads (golden files), on every
storage engine (DuckDB, and ClickHouse through chDB) holding aggregates written through the
store contract."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from tests.store.conftest import ENGINES, Engine

from breadcrumbs.analysis import red
from breadcrumbs.api import red as red_api
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import PEER_SETTLE_NS, Store

from .shapes import conforms, golden, shape

MINUTE = red.MINUTE_NS
MS = 1_000_000
T0 = 1_699_999_980 * 10**9  # a minute boundary
T0_MS = T0 // MS


def _traffic() -> list[Span]:
    spans = []
    for minute in range(10):
        for i in range(6):  # 6 calls a minute: 5 fast and one slow error
            error = i == 5
            spans.append(
                Span(
                    trace_id=f"{minute * 16 + i + 1:032x}",
                    span_id=f"{minute * 16 + i + 1:016x}",
                    name="GET /pay" if i % 2 else "GET /menu",
                    service="gateway",
                    start_ns=T0 + minute * MINUTE + i * 10**9,
                    duration_ns=(900 if error else 10 + i) * MS,
                    kind=SpanKind.SERVER,
                    status=StatusCode.ERROR if error else StatusCode.UNSET,
                )
            )
    return spans


@pytest.fixture(scope="module", params=ENGINES, ids=lambda engine: engine.name)
def engine(request: pytest.FixtureRequest) -> Engine:
    chosen: Engine = request.param
    return chosen


@pytest.fixture(scope="module")
def store(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = engine.open(tmp_path_factory.mktemp(f"red-api-{engine.name}"))
    batch = batch_from_spans(_traffic())
    asyncio.run(opened.write(batch))
    asyncio.run(opened.write_span_metrics(red.aggregate(batch), wal_sequence=1))
    yield opened
    asyncio.run(opened.close())


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=red_api.routes(store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def ok(client: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


JAEGER = {"service": "gateway", "endTs": T0_MS + 10 * 60_000, "lookback": 600_000}


async def test_jaeger_call_rates_per_operation(client: httpx.AsyncClient) -> None:
    body = await ok(
        client, "/api/metrics/calls", **JAEGER, groupByOperation="true", step=60_000, ratePer=60_000
    )
    assert shape(body) == shape(golden("jaeger_metrics_calls.json"))
    assert body["name"] == "service_operation_call_rate"
    by_operation = {m["labels"][1]["value"]: m["metricPoints"] for m in body["metrics"]}
    assert sorted(by_operation) == ["GET /menu", "GET /pay"]
    # 3 calls of each operation a minute, over a one-minute window: 0.05/s.
    assert {p["gaugeValue"]["doubleValue"] for p in by_operation["GET /pay"]} == {3 / 60}
    assert by_operation["GET /pay"][-1]["timestamp"] == "2023-11-14T22:23:00Z"  # T0 + 10 min


async def test_jaeger_error_rates_and_latencies(client: httpx.AsyncClient) -> None:
    errors = await ok(client, "/api/metrics/errors", **JAEGER, step=120_000, ratePer=120_000)
    assert not conforms(shape(errors), shape(golden("jaeger_metrics_calls.json")))
    assert errors["name"] == "service_error_rate"
    assert errors["metrics"][0]["labels"] == [{"name": "service_name", "value": "gateway"}]
    assert {p["gaugeValue"]["doubleValue"] for p in errors["metrics"][0]["metricPoints"]} == {1 / 6}
    latencies = await ok(
        client, "/api/metrics/latencies", **JAEGER, quantile="0.95", step=60_000, ratePer=600_000
    )
    assert latencies["name"] == "service_latencies"
    assert latencies["help"] == "0.95th quantile latency, grouped by service"
    last = latencies["metrics"][0]["metricPoints"][-1]["gaugeValue"]["doubleValue"]
    assert abs(last - 900) / 900 <= red.max_relative_error()  # ms: the slow error dominates p95


async def test_jaeger_min_step(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/metrics/minstep")
    assert body == golden("jaeger_metrics_minstep.json")


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/api/metrics/calls", {}, "service"),
        ("/api/metrics/latencies", {"service": "gateway"}, "quantile"),
        ("/api/metrics/latencies", {"service": "gateway", "quantile": "2"}, "quantile"),
        ("/api/metrics/calls", {"service": "gateway", "step": "x"}, "step"),
        ("/api/metrics/calls", {"service": "gateway", "spanKind": "sideways"}, "span kind"),
        ("/api/metrics/calls", {"service": "gateway", "groupByOperation": "maybe"}, "groupBy"),
    ],
)
async def test_jaeger_bad_parameters_are_400s_in_its_envelope(
    client: httpx.AsyncClient, path: str, params: dict[str, str], fragment: str
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert shape(body) == shape(golden("jaeger_error.json"))
    assert fragment in body["errors"][0]["msg"]


async def test_native_red_totals_and_points(client: httpx.AsyncClient) -> None:
    body = await ok(
        client, "/api/x/red", service="gateway", start=T0, end=T0 + 10 * MINUTE, step="5m"
    )
    assert body["step"] == 5 * MINUTE
    (pay, menu) = sorted(body["series"], key=lambda s: s["operation"], reverse=True)
    assert pay["operation"] == "GET /pay"
    assert pay["spanKind"] == "server"
    assert pay["totals"]["calls"] == 30
    assert pay["totals"]["errors"] == 10
    assert pay["totals"]["rate"] == pytest.approx(30 / 600)
    # Points start on a 5 min boundary (T0 is 3 min past one), so they read 5 min rows.
    aligned = T0 - T0 % (5 * MINUTE)
    assert aligned == T0 - 3 * MINUTE
    assert [p["time"] for p in pay["points"]] == [aligned + i * 5 * MINUTE for i in range(3)]
    assert [p["calls"] for p in pay["points"]] == [6, 15, 9]  # minutes 0-1, 2-6, 7-9
    assert body["estimated"] is False
    assert pay["totals"]["spans"] == 30
    assert pay["totals"]["estimated"] is False
    assert menu["totals"]["errors"] == 0
    assert menu["totals"]["p99"] == pytest.approx(14 * MS, rel=red.max_relative_error())


async def test_native_red_by_service(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/x/red", start=T0, end=T0 + 10 * MINUTE, groupBy="service")
    assert [(s["service"], s["operation"], s["totals"]["calls"]) for s in body["series"]] == [
        ("gateway", None, 60)
    ]


async def test_service_graph_shape(client: httpx.AsyncClient) -> None:
    body = await ok(client, "/api/x/service-graph", start=T0, end=T0 + 10 * MINUTE)
    assert body["edges"] == []
    (node,) = body["nodes"]
    assert node["id"] == "gateway"
    assert node["kind"] == "instrumented"
    assert node["calls"] == 60


@pytest.mark.parametrize(
    "params",
    [
        {"start": "10", "end": "5"},
        {"start": "x"},
        {"step": "1ms", "start": "0", "end": str(T0)},
        {"groupBy": "trace"},
        {"spanKind": "nope"},
    ],
)
async def test_native_bad_parameters_are_400s(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/x/red", params=params)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
_names = st.sampled_from(
    ["service", "operation", "spanKind", "start", "end", "step", "groupBy", "endTs", "lookback",
     "ratePer", "quantile", "groupByOperation"]
)  # fmt: skip


@given(
    path=st.sampled_from(
        [
            "/api/x/red",
            "/api/x/service-graph",
            "/api/metrics/calls",
            "/api/metrics/latencies",
            "/api/metrics/errors",
        ]
    ),
    params=st.lists(st.tuples(_names, st.one_of(_text, st.integers(-(2**64), 2**64).map(str)))),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_random_parameters_never_5xx(
    client: httpx.AsyncClient, path: str, params: list[tuple[str, str | int | float | bool | None]]
) -> None:
    response = await client.get(path, params=httpx.QueryParams(params))
    assert response.status_code in (200, 400), response.text


async def test_sampled_traffic_is_estimated_on_every_api(engine: Engine, tmp_path: Any) -> None:
    """Spans head-sampled at 1/4 (``ot=th:c``) count four each, and each answer says its
    figures are estimates: the native API (a field), Jaeger's (the help text), the graph."""
    spans = [
        Span(
            trace_id=f"{i + 1:032x}",
            span_id=f"{i + 1:016x}",
            name="GET /pay",
            service="sampled",
            start_ns=T0 + i * 10**9,
            duration_ns=10 * MS,
            kind=SpanKind.SERVER,
            status=StatusCode.ERROR if i == 0 else StatusCode.UNSET,
            trace_state="ot=th:c",
        )
        for i in range(5)
    ]
    opened = engine.open(tmp_path)
    try:
        batch = batch_from_spans(spans)
        await opened.write(batch)
        await opened.write_span_metrics(red.aggregate(batch), wal_sequence=1)
        app = Starlette(routes=red_api.routes(opened))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            body = await ok(http, "/api/x/red", start=T0, end=T0 + MINUTE, step="1m")
            assert body["estimated"] is True
            (series,) = body["series"]
            totals = series["totals"]
            assert (totals["calls"], totals["errors"], totals["spans"]) == (20, 4, 5)
            assert totals["estimated"] is True
            assert series["points"][0]["estimated"] is True
            jaeger = await ok(
                http, "/api/metrics/calls", service="sampled", endTs=T0_MS + 60_000,
                lookback=60_000, step=60_000, ratePer=60_000,
            )  # fmt: skip
            assert "estimated from sampled spans" in jaeger["help"]
            assert jaeger["metrics"][0]["metricPoints"][-1]["gaugeValue"]["doubleValue"] == 20 / 60
            graph = await ok(http, "/api/x/service-graph", start=T0, end=T0 + MINUTE)
            assert graph["estimated"] is True
            assert graph["nodes"][0]["calls"] == 20
    finally:
        await opened.close()


async def test_the_live_map_waits_for_a_callees_span(engine: Engine, tmp_path: Any) -> None:
    """A client span that ended a moment ago is not drawn as a call to an uninstrumented peer
    (its callee may still report); one that ended ``PEER_SETTLE_NS`` ago is."""
    now = time.time_ns()
    spans = [
        Span(
            f"{n:032x}",
            f"{n:016x}",
            "GET",
            "web",
            ended - 10 * MS,
            10 * MS,
            kind=SpanKind.CLIENT,
            attributes={"server.address": "10.0.0.7"},
        )
        for n, ended in ((1, now - PEER_SETTLE_NS - 10**9), (2, now - 10**9))
    ]
    opened = engine.open(tmp_path)
    try:
        await opened.write(batch_from_spans(spans))
        app = Starlette(routes=red_api.routes(opened))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            graph = await ok(http, "/api/x/service-graph")
        assert [(e["source"], e["target"], e["calls"]) for e in graph["edges"]] == [
            ("web", "10.0.0.7", 1)
        ]
    finally:
        await opened.close()
