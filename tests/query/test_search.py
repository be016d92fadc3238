"""The web UI's native search: its parameters, and the spans a search matched in a trace.

``matching_mask`` (the spans the trace view highlights) must agree with the store's
``find_trace_ids`` (the traces the search lists): a trace is found exactly when one of its spans
matches. Hypothesis draws the queries; the spans sit in a real DuckDB store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from breadcrumbs.api import search as search_api
from breadcrumbs.errors import BadInput
from breadcrumbs.model import Event, Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.query.derived_tags import lift_derived_tags
from breadcrumbs.query.matching import matching_mask
from breadcrumbs.query.search_params import parse_native_search
from breadcrumbs.query.service import QueryService, split_traces
from breadcrumbs.store.base import GetTracesParams, TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore

T = TypeVar("T")
NOW = 1_764_000_000 * 10**9
SERVICES = ["web", "api", "db"]
NAMES = ["GET /", "query", "charge"]
KEYS = ["http.route", "user.tier", "region"]
VALUES = ["a", "b", "200"]


def _spans() -> list[Span]:
    """12 traces of 3 spans each, with every combination of the drawn values spread over them."""
    spans: list[Span] = []
    for t in range(12):
        trace_id = f"{t + 1:032x}"
        for s in range(3):
            i = t * 3 + s
            spans.append(
                Span(
                    trace_id,
                    f"{i + 1:016x}",
                    NAMES[(t + s) % 3],
                    SERVICES[(t * 2 + s) % 3],
                    NOW + i * 10**6,
                    (i % 7 + 1) * 10**6,
                    parent_span_id="" if s == 0 else f"{t * 3 + 1:016x}",
                    kind=SpanKind((i % 5) + 1),
                    status=StatusCode.ERROR if i % 4 == 0 else StatusCode.UNSET,
                    attributes={KEYS[i % 3]: VALUES[(i // 3) % 3], "n": i % 2},
                    resource={"region": VALUES[t % 3]},
                    events=(
                        [Event(NOW + i * 10**6, "retry", {"user.tier": VALUES[t % 3]})]
                        if t % 2
                        else []
                    ),
                )
            )
    return spans


class World:
    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = DuckDBStore(directory / "spans.duckdb")
        self.run(self.store.write(batch_from_spans(_spans())))
        batch = self.run(
            self.store.get_traces(GetTracesParams(tuple(f"{t + 1:032x}" for t in range(12))))
        )
        self.traces = split_traces(batch, [f"{t + 1:032x}" for t in range(12)])

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("search"))
    yield made
    made.close()


tags = st.builds(
    TagFilter,
    st.sampled_from([*KEYS, "n", "error", "span.kind"]),
    st.sampled_from([*VALUES, "1", "true", "server"]),
    st.sampled_from(["span", "resource", "any"]),
)
queries = st.builds(
    TraceQuery,
    start_ns=st.integers(NOW - 10**6, NOW + 40 * 10**6),
    end_ns=st.integers(NOW, NOW + 60 * 10**6),
    service=st.none() | st.sampled_from(SERVICES),
    operation=st.none() | st.sampled_from(NAMES),
    span_kind=st.none() | st.sampled_from(list(SpanKind)),
    tags=st.lists(tags, max_size=2).map(tuple),
    min_duration_ns=st.none() | st.integers(0, 8 * 10**6),
    max_duration_ns=st.none() | st.integers(0, 8 * 10**6),
    limit=st.just(100),
    status_codes=st.sampled_from([(), (StatusCode.ERROR,), (StatusCode.UNSET, StatusCode.OK)]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries)
def test_the_matched_spans_are_the_spans_the_store_found_the_trace_by(
    world: World, query: TraceQuery
) -> None:
    found: list[str] = world.run(world.store.find_trace_ids(lift_derived_tags(query)))
    with_matches = {
        trace["TraceId"][0].as_py()
        for trace in world.traces
        if pc.any(matching_mask(trace, query)).as_py()
    }
    assert set(found) == with_matches


def test_a_trace_s_matches_are_the_spans_meeting_every_condition(world: World) -> None:
    trace = world.traces[1]
    spans = [s for s in _spans() if s.trace_id == f"{2:032x}"]
    on_span = TraceQuery(start_ns=0, end_ns=2 * NOW, tags=(TagFilter("user.tier", "a", "span"),))
    assert matching_mask(trace, on_span).to_pylist() == [
        (s.attributes or {}).get("user.tier") == "a" for s in spans
    ]
    # Trace 2's resource has region=b, so every span of it matches on the resource...
    resource = TraceQuery(start_ns=0, end_ns=2 * NOW, tags=(TagFilter("region", "b", "resource"),))
    assert all(matching_mask(trace, resource).to_pylist())
    # ...and its events carry user.tier=b: only "any" looks there.
    event = TagFilter("user.tier", "b", "any")
    anywhere = TraceQuery(start_ns=0, end_ns=2 * NOW, tags=(event,))
    assert all(matching_mask(trace, anywhere).to_pylist())
    assert not any(matching_mask(trace, TraceQuery(start_ns=0, end_ns=NOW - 1)).to_pylist())


# --- parameters ----------------------------------------------------------------------------


def test_parameters_become_the_query() -> None:
    parsed = parse_native_search(
        [
            ("kind", "client"),
            ("spanTag", "http.route=/a=b"),
            ("resourceTag", "region=eu"),
            ("tag", "k=v"),
            ("errors", "1"),
            ("minDuration", "150ms"),
            ("maxTraceDuration", "2s"),
            ("lookback", "2d"),
            ("limit", "7"),
        ],
        now_ns=NOW,
    )
    query = parsed.query
    assert query.service is None  # every service
    assert query.span_kind is SpanKind.CLIENT
    assert query.tags == (
        TagFilter("k", "v", "any"),
        TagFilter("http.route", "/a=b", "span"),
        TagFilter("region", "eu", "resource"),
    )
    assert query.status_codes == (StatusCode.ERROR,)
    assert query.min_duration_ns == 150 * 10**6
    assert (query.start_ns, query.end_ns, query.limit) == (NOW - 2 * 86400 * 10**9, NOW, 7)
    assert (parsed.min_trace_ns, parsed.max_trace_ns) == (None, 2 * 10**9)


@pytest.mark.parametrize(
    "params",
    [
        [("kind", "sideways")],
        [("spanTag", "novalue")],
        [("resourceTag", "=v")],
        [("errors", "maybe")],
        [("minTraceDuration", "2s"), ("maxTraceDuration", "1s")],
        [("start", "10"), ("end", "5")],
        [("limit", "0")],
        [("minDuration", "fast")],
    ],
)
def test_bad_parameters_are_bad_input(params: list[tuple[str, str]]) -> None:
    with pytest.raises(BadInput):
        parse_native_search(params, now_ns=NOW)


NAMES_DRAWN = st.sampled_from(
    ["service", "operation", "kind", "tag", "spanTag", "resourceTag", "minDuration",
     "maxDuration", "minTraceDuration", "maxTraceDuration", "errors", "start", "end",
     "lookback", "limit", "other"]
)  # fmt: skip


@given(st.lists(st.tuples(NAMES_DRAWN, st.text(max_size=12)), max_size=8))
def test_any_parameters_parse_or_are_bad_input(params: list[tuple[str, str]]) -> None:
    try:
        parsed = parse_native_search(params, now_ns=NOW)
    except BadInput:
        return
    assert parsed.query.start_ns <= parsed.query.end_ns
    assert 1 <= parsed.query.limit <= 1500


# --- the HTTP API ----------------------------------------------------------------------------


async def test_search_every_service_and_the_matched_spans(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        await store.write(batch_from_spans(_spans()))
        app = Starlette(routes=search_api.routes(QueryService(store)))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://q"
        ) as client:
            window = {"start": str(NOW - 10**9), "end": str(NOW + 10**9)}
            every = (await client.get("/api/x/search", params=window)).json()
            assert len(every["traces"]) == 12  # no service: every service
            assert every["traces"][0]["traceId"] == f"{12:032x}"  # newest first
            first = every["traces"][-1]
            assert first["spanCount"] == 3
            assert first["root"]["spanId"] == f"{1:016x}"
            oldest = [s for s in _spans() if s.trace_id == f"{1:032x}"]
            assert first["durationNs"] == max(s.start_ns + s.duration_ns for s in oldest) - NOW

            params = {**window, "service": "db", "errors": "1", "limit": "50"}
            failed = (await client.get("/api/x/search", params=params)).json()["traces"]
            expected = {
                s.trace_id for s in _spans() if s.service == "db" and s.status == StatusCode.ERROR
            }
            assert {t["traceId"] for t in failed} == expected
            for row in failed:
                assert row["matched"]["service"] == "db"
                matches = await client.get(f"/api/x/traces/{row['traceId']}/matches", params=params)
                ids = set(matches.json()["spanIds"])
                assert ids == {
                    s.span_id
                    for s in _spans()
                    if s.trace_id == row["traceId"]
                    and s.service == "db"
                    and s.status == StatusCode.ERROR
                }
                assert row["matched"]["count"] == len(ids)

            # The whole trace's duration: every trace lasts 4-9 ms here.
            long = {**window, "minTraceDuration": "100ms"}
            assert (await client.get("/api/x/search", params=long)).json()["traces"] == []
            bad = await client.get("/api/x/search", params={"kind": "sideways"})
            assert bad.status_code == 400
            assert "kind" in bad.json()["error"]
            unknown = await client.get(f"/api/x/traces/{'ab' * 16}/matches")
            assert unknown.status_code == 404
    finally:
        await store.close()


@settings(max_examples=120, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(NAMES_DRAWN, st.text(max_size=16) | st.integers(-(2**70), 2**70).map(str)),
        max_size=6,
    ),
    matches=st.booleans(),
)
def test_random_requests_never_fail_the_server(
    world: World, pairs: list[tuple[str, str]], matches: bool
) -> None:
    app = Starlette(routes=search_api.routes(QueryService(world.store)))
    path = f"/api/x/traces/{1:032x}/matches" if matches else "/api/x/search"

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q") as client:
            return await client.get(path, params=tuple(pairs))

    response = world.run(request())
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]
