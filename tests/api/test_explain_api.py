"""``/api/x/traces/{id}/explain`` and ``/api/x/critical-path`` over a real DuckDB store."""

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

from breadcrumbs.api import explain
from breadcrumbs.model import Event, Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

NOW = time.time_ns()
MS = 1_000_000
FAILING = "abcdef0123456789" + "0" * 15 + "1"
SLOW = "abcdef0199999999" + "0" * 15 + "2"  # shares 8 hex with FAILING
FAST = "1234567890abcdef" + "0" * 15 + "3"


def _sid(trace: str, number: int) -> str:
    return f"{trace[:8]}{number:08x}"


def _order(trace: str, start: int, pay_ms: int, fail: bool) -> list[Span]:
    stack = 'Traceback:\n  File "/app/payment.py", line 24, in per_item_charge\nZeroDivisionError'
    return [
        Span(
            trace,
            _sid(trace, 1),
            "POST /orders",
            "gateway",
            start,
            100 * MS + pay_ms * MS,
            kind=SpanKind.SERVER,
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
        ),
        Span(
            trace,
            _sid(trace, 2),
            "POST",
            "gateway",
            start + 5 * MS,
            pay_ms * MS + 10 * MS,
            parent_span_id=_sid(trace, 1),
            kind=SpanKind.CLIENT,
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
        ),
        Span(
            trace,
            _sid(trace, 3),
            "POST /charge",
            "payment",
            start + 6 * MS,
            pay_ms * MS,
            parent_span_id=_sid(trace, 2),
            kind=SpanKind.SERVER,
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
            resource={"service.name": "payment", "host.name": "pay-1"},
        ),
        Span(
            trace,
            _sid(trace, 4),
            "per_item_charge",
            "payment",
            start + 7 * MS,
            1 * MS,
            parent_span_id=_sid(trace, 3),
            status=StatusCode.ERROR if fail else StatusCode.UNSET,
            status_message="ZeroDivisionError: division by zero" if fail else "",
            events=[
                Event(
                    start + 8 * MS,
                    "exception",
                    {
                        "exception.type": "ZeroDivisionError",
                        "exception.message": "division by zero",
                        "exception.stacktrace": stack,
                    },
                )
            ]
            if fail
            else [],
        ),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    opened = DuckDBStore(tmp_path_factory.mktemp("explain-api") / "spans.duckdb")
    spans = [
        *_order(FAILING, NOW - 60_000 * MS, 20, True),
        *_order(SLOW, NOW - 50_000 * MS, 900, False),
        *_order(FAST, NOW - 40_000 * MS, 10, False),
    ]
    asyncio.run(opened.write(batch_from_spans(spans)))
    yield opened
    asyncio.run(opened.close())


@pytest.fixture
async def client(store: DuckDBStore) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=explain.routes(QueryService(store)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://query") as http:
        yield http


def _types(value: Any, shape: Any) -> None:
    """``value`` has every key of ``shape`` with the type given there."""
    if isinstance(shape, dict):
        assert isinstance(value, dict)
        for key, sub in shape.items():
            assert key in value, key
            _types(value[key], sub)
    elif isinstance(shape, list):
        assert isinstance(value, list)
        for item in value:
            _types(item, shape[0])
    else:
        assert isinstance(value, shape), (value, shape)


CONTRACT = {
    "traceId": str,
    "summary": {
        "spanCount": int,
        "startNs": int,
        "durationNs": int,
        "depth": int,
        "maxFanOut": int,
        "errorCount": int,
        "rootCount": int,
        "root": {"spanId": str, "service": str, "name": str},
        "services": [{"name": str, "spans": int, "errors": int}],
    },
    "criticalPath": {
        "totalNs": int,
        "segments": [
            {
                "spanId": str,
                "service": str,
                "name": str,
                "startNs": int,
                "endNs": int,
                "uninstrumented": bool,
            }
        ],
        "byService": [{"service": str, "ns": int, "share": float}],
        "byOperation": [{"service": str, "name": str, "ns": int, "share": float}],
    },
    "errors": {
        "origins": [
            {
                "spanId": str,
                "service": str,
                "name": str,
                "exceptionType": (str, type(None)),
                "message": (str, type(None)),
                "frame": (str, type(None)),
                "stacktrace": (str, type(None)),
                "chain": [str],
            }
        ],
        "handled": [{"spanId": str, "handledBy": str}],
        "retries": [
            {"parentSpanId": str, "service": str, "name": str, "attempts": int, "failed": int}
        ],
    },
    "skew": [{"spanId": str, "parentSpanId": str, "issue": str, "byNs": int}],
    "warnings": [str],
}


async def test_explain_answers_the_contract_and_names_the_cause(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/api/x/traces/{FAILING}/explain")
    assert response.status_code == 200
    body = response.json()
    _types(body, CONTRACT)
    assert body["traceId"] == FAILING
    assert body["summary"]["spanCount"] == 4
    assert body["summary"]["root"]["name"] == "POST /orders"
    (origin,) = body["errors"]["origins"]
    assert origin["spanId"] == _sid(FAILING, 4)
    assert origin["exceptionType"] == "ZeroDivisionError"
    assert origin["frame"] == "per_item_charge (payment.py:24)"
    assert origin["chain"] == [_sid(FAILING, n) for n in (4, 3, 2, 1)]
    path = body["criticalPath"]
    assert path["totalNs"] == 120 * MS
    assert sum(s["endNs"] - s["startNs"] for s in path["segments"]) == path["totalNs"]
    assert sum(s["share"] for s in path["byService"]) == pytest.approx(1.0)


async def test_explain_accepts_a_prefix_and_any_case(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/x/traces/{FAST[:10].upper()}/explain")
    assert response.status_code == 200
    assert response.json()["traceId"] == FAST


@pytest.mark.parametrize(
    ("trace_id", "status", "says"),
    [
        ("abcdef01", 400, "give more of the id"),  # FAILING and SLOW share it
        ("ffffffffff", 404, "no trace id starts with"),
        ("f" * 32, 404, "not found"),
        ("xyz", 400, "32 hex"),
        ("abc", 400, "prefix of 8"),
        ("0" * 32, 400, "zeros"),
    ],
)
async def test_explain_bad_or_unknown_ids(
    client: httpx.AsyncClient, trace_id: str, status: int, says: str
) -> None:
    response = await client.get(f"/api/x/traces/{trace_id}/explain")
    assert response.status_code == status
    assert says in response.json()["error"]


async def test_critical_path_over_many_traces(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/x/critical-path", params={"service": "gateway", "lookback": "2h"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["analysed"]["traces"] == 3
    assert body["matchedTraces"] == 3
    assert "baseline" not in body
    shares = {s["service"]: s for s in body["analysed"]["byService"]}
    assert sum(s["share"] for s in shares.values()) == pytest.approx(1.0)
    assert shares["payment"]["traces"] == 3


async def test_critical_path_slow_traces_against_the_rest(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/x/critical-path",
        params={"service": "gateway", "operation": "POST /orders", "slowerThan": "500ms"},
    )
    body = response.json()
    assert body["analysed"]["traces"] == 1  # only SLOW takes 1 s
    assert body["baseline"]["traces"] == 2
    assert body["slowerThanNs"] == 500 * MS
    top = body["analysed"]["byOperation"][0]
    assert (top["service"], top["name"]) == ("payment", "POST /charge")


async def test_critical_path_reports_its_cap(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/x/critical-path", params={"service": "gateway", "limit": "2", "lookback": "2h"}
    )
    body = response.json()
    assert body["analysed"]["traces"] == 2
    assert body["cap"] == 2
    assert any("cap" in w for w in body["warnings"])


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"service": "gateway", "limit": "0"},
        {"service": "gateway", "limit": "x"},
        {"service": "gateway", "percentile": "100"},
        {"service": "gateway", "percentile": "95", "slowerThan": "1s"},
        {"service": "gateway", "slowerThan": "fast"},
        {"service": "gateway", "start": "10", "end": "5"},
    ],
)
async def test_critical_path_bad_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/api/x/critical-path", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "service",
                "operation",
                "lookback",
                "start",
                "end",
                "limit",
                "slowerThan",
                "percentile",
            ]
        ),
        st.text(max_size=12),
    )
)
def test_critical_path_never_answers_5xx(store: DuckDBStore, params: dict[str, str]) -> None:
    async def ask() -> int:
        app = Starlette(routes=explain.routes(QueryService(store)))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q") as http:
            return (await http.get("/api/x/critical-path", params=params)).status_code

    assert asyncio.run(ask()) in (200, 400)
