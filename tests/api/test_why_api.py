"""/api/x/why, /api/x/latency and /api/x/compare through the real app on a real store: the
answers' shapes and numbers, and a 4xx with a JSON error (never a 5xx) for bad requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import why
from breadcrumbs.model import Span, SpanBatch, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.service import QueryService
from breadcrumbs.store.duckdb import DuckDBStore

MS = 1_000_000
T0 = 1_700_000_000_000_000_000
TRACES = 60


def trace_id(i: int) -> str:
    return f"{i + 1:032x}"


def checkout(i: int) -> list[Span]:
    """Every third checkout is from region eu, waits 250 ms on a lock, and fails."""
    slow = i % 3 == 0
    trace, root = trace_id(i), f"{i + 1:012x}0001"
    spans = [
        Span(trace, root, "POST /checkout", "shop", T0 + i * MS, (300 if slow else 40) * MS,
             kind=SpanKind.SERVER, attributes={"region": "eu" if slow else "us"},
             status=StatusCode.ERROR if slow else StatusCode.UNSET),
        Span(trace, f"{i + 1:012x}0002", "SELECT", "shop", T0 + i * MS + MS, 20 * MS,
             parent_span_id=root, kind=SpanKind.CLIENT),
    ]  # fmt: skip
    if slow:
        spans.append(
            Span(trace, f"{i + 1:012x}0003", "lock.wait", "shop", T0 + i * MS + 25 * MS,
                 250 * MS, parent_span_id=root)
        )  # fmt: skip
    return spans


def data() -> SpanBatch:
    return batch_from_spans([span for i in range(TRACES) for span in checkout(i)])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    store = DuckDBStore(Path(tmp_path_factory.mktemp("why-api")) / "spans.duckdb")
    asyncio.run(store.write(data()))
    yield Starlette(routes=why.routes(QueryService(store)))
    asyncio.run(store.close())


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http


WINDOW = {"service": "shop", "start": str(T0), "end": str(T0 + 10**12)}


async def test_why_names_what_the_slow_traces_share(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/x/why", params={**WINDOW, "slowerThan": "200ms"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["traces"] == {
        "selected": 20, "baseline": 40, "sampledSelected": 20, "sampledBaseline": 40
    }  # fmt: skip
    assert answer["selection"] == {
        "kind": "slowerThan",
        "percentile": None,
        "thresholdNs": 200 * MS,
        "upperNs": None,
    }
    top = answer["attributes"][0]
    assert (top["text"], top["sources"]) == (
        "region = eu", [{"service": "shop", "spanName": "POST /checkout"}]
    )  # fmt: skip
    assert top["selected"] == {"count": 20, "share": 1.0}
    assert top["baseline"] == {"count": 0, "share": 0.0}
    assert top["difference"] == 1.0
    assert [(o["spanName"], o["selected"]["count"]) for o in answer["operations"]] == [
        ("lock.wait", 20)
    ]
    assert answer["time"][0]["spanName"] == "lock.wait"
    assert answer["time"][0]["selectedSelfNs"] == 250 * MS
    critical = answer["criticalPath"]  # whole traces, split at the same threshold
    assert (critical["selected"]["traces"], critical["baseline"]["traces"]) == (20, 40)
    assert critical["newestOnly"] is False  # all 60 read
    on_path = {o.get("name"): o["meanNs"] for o in critical["selected"]["byOperation"]}
    assert on_path["lock.wait"] == 250 * MS
    assert "lock.wait" not in {o.get("name") for o in critical["baseline"]["byOperation"]}
    assert answer["rarerAttributes"][0]["text"] == "region = us"
    assert len(answer["examples"]) == 3  # slow traces to open next
    for example in answer["examples"]:
        opened = (await client.get(f"/api/x/compare/{example}")).json()
        assert opened["a"]["durationNs"] >= 200 * MS


async def test_why_reads_the_newest_traces_for_the_critical_path(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sample by design, not a cap the page's reader could raise: said as such, no warning.
    monkeypatch.setattr(why, "CRITICAL_PATH_TRACES", 30)
    answer = (await client.get("/api/x/why", params={**WINDOW, "slowerThan": "200ms"})).json()
    critical = answer["criticalPath"]
    assert critical["newestOnly"] is True
    assert critical["selected"]["traces"] + critical["baseline"]["traces"] == 30
    assert "warnings" not in critical
    assert answer["traces"]["selected"] == 20  # the findings still count every trace


async def test_why_in_a_band_of_durations(client: httpx.AsyncClient) -> None:
    # 20 checkouts of 300 ms, 40 of 40 ms: the band under 100 ms holds the fast ones.
    params = {**WINDOW, "slowerThan": "10ms", "fasterThan": "100ms"}
    answer = (await client.get("/api/x/why", params=params)).json()
    assert answer["selection"] == {
        "kind": "band", "percentile": None, "thresholdNs": 10 * MS, "upperNs": 100 * MS
    }  # fmt: skip
    assert (answer["traces"]["selected"], answer["traces"]["baseline"]) == (40, 20)
    rarer = [o["spanName"] for o in answer["missingOperations"]]
    assert rarer == ["lock.wait"]  # what the band's traces lack
    critical = answer["criticalPath"]  # whole traces, split at the same band
    assert (critical["slowerThanNs"], critical["fasterThanNs"]) == (10 * MS, 100 * MS)
    assert (critical["selected"]["traces"], critical["baseline"]["traces"]) == (40, 20)
    inverted = await client.get("/api/x/why", params={**params, "fasterThan": "5ms"})
    assert inverted.status_code == 400
    assert "fasterThan" in inverted.json()["error"]


async def test_why_by_errors_and_percentile(client: httpx.AsyncClient) -> None:
    failing = (await client.get("/api/x/why", params={**WINDOW, "errors": "true"})).json()
    assert failing["traces"]["selected"] == 20
    assert failing["attributes"][0]["text"] == "region = eu"
    top = (await client.get("/api/x/why", params={**WINDOW, "percentile": "50"})).json()
    assert top["selection"]["thresholdNs"] in (40 * MS, 300 * MS)


async def test_latency_histogram_and_heatmap(client: httpx.AsyncClient) -> None:
    params = {**WINDOW, "operation": "POST /checkout", "timeBuckets": "3"}
    answer = (await client.get("/api/x/latency", params=params)).json()
    assert (answer["count"], answer["errors"]) == (TRACES, 20)
    assert [(h["count"], h["errors"]) for h in answer["histogram"]] == [(40, 0), (20, 20)]
    for row in answer["histogram"]:
        assert row["lowNs"] <= (40 if row["errors"] == 0 else 300) * MS < row["highNs"]
    assert sum(c["count"] for c in answer["heatmap"]) == TRACES
    assert {c["step"] for c in answer["heatmap"]} == {0, 1, 2}
    assert answer["percentilesNs"]["p99"] == 300 * MS


async def test_compare_two_traces_and_with_the_typical_one(client: httpx.AsyncClient) -> None:
    slow, fast = trace_id(0), trace_id(1)
    answer = (await client.get(f"/api/x/compare/{slow}/{fast}")).json()
    assert answer["deltaNs"] == 260 * MS
    assert answer["identical"] is False
    assert [(p["spanName"], p["status"]) for p in answer["structural"]] == [("lock.wait", "only-a")]
    # Latency compares spans found in both: the checkout's own time grew by 10 ms.
    assert [(p["spanName"], p["selfDeltaNs"]) for p in answer["latency"]] == [
        ("POST /checkout", 10 * MS)
    ]
    same = (await client.get(f"/api/x/compare/{slow}/{slow.upper()}")).json()
    assert same["identical"] is True
    typical = (await client.get(f"/api/x/compare/{slow}", params={"lookback": "1h"})).json()
    assert typical["baseline"] == "typical"
    assert typical["b"]["durationNs"] == 40 * MS  # the median checkout is a fast one
    assert typical["b"]["traceId"] != slow


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/x/why", 400),
        ("/api/x/why?service=shop&percentile=101", 400),
        ("/api/x/latency?service=shop&timeBuckets=-1", 400),
        ("/api/x/compare/zz/" + trace_id(0), 400),
        ("/api/x/compare/" + "0" * 32, 400),
        ("/api/x/compare/" + "f" * 32, 404),
        (f"/api/x/compare/{trace_id(0)}/{'e' * 32}", 404),
        ("/api/x/compare/00000000", 400),  # a prefix of many traces: give more of the id
        ("/api/x/compare/eeeeeeee", 404),  # a prefix of none
    ],
)
async def test_bad_requests_get_a_json_error(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert response.json()["error"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["/api/x/why", "/api/x/latency", "/api/x/compare/"]),
    st.lists(
        st.tuples(
            st.sampled_from(["service", "operation", "slowerThan", "fasterThan", "percentile",
                             "errors", "lookback", "start", "end", "limit", "timeBuckets"]),
            st.text(max_size=10),
        ),
        max_size=5,
    ),
)  # fmt: skip
def test_random_requests_never_fail_the_server(
    app: Starlette, path: str, pairs: list[tuple[str, str]]
) -> None:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            if path.endswith("/"):
                return await http.get(path + quote(pairs[0][1] if pairs else "x", safe=""))
            return await http.get(path, params=tuple(pairs))

    response = asyncio.run(run())
    # 307: an id ending in an encoded "/" is redirected to the path without it, as every route is
    assert response.status_code in (200, 307, 400, 404), response.text
