"""DuckDB read path internals: which traces share a scan, and that every way of grouping them
reads exactly their spans (the public get_traces cases are in test_store.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest

from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.store.base import GetTraceParams, GetTracesParams, TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore, sql
from breadcrumbs.store.duckdb.store import _near_in_time, _near_ns

S = 10**9
T0 = 1_700_000_000 * S


def test_near_ns_follows_the_span_density() -> None:
    hour = 3600 * S
    assert 14 * S < _near_ns(10_000_000, T0, T0 + hour) < 15 * S
    assert _near_ns(300_000, T0, T0 + hour) > 8 * 60 * S
    assert _near_ns(0, None, None) == 0
    assert _near_ns(5, T0, T0) == 0


def test_near_in_time_groups_by_the_gap_after_the_furthest_end() -> None:
    def at(trace: str, first: int, last: int) -> sql.TraceRange:
        return sql.TraceRange(trace, first, last, 1, 1)

    ranges = [at("a", 0, 5), at("b", 8, 9), at("c", 12, 13), at("d", 30, 31), at("e", 31, 40)]
    assert _near_in_time(ranges, 3) == [ranges[:3], ranges[3:]]
    # a long trace keeps the group open past its neighbours' ends
    long = [at("a", 0, 100), at("b", 1, 2), at("c", 50, 51)]
    assert _near_in_time(long, 3) == [long]
    # with no slack only touching or overlapping ranges share
    assert _near_in_time(ranges, 0) == [[r] for r in ranges[:3]] + [ranges[3:]]
    assert _near_in_time([], 10) == []
    # close in time but flushes apart (flushes that overlap in time): a scan each
    apart = [sql.TraceRange("a", 0, 5, 1, 1), sql.TraceRange("b", 1, 2, 3, 3)]
    assert _near_in_time(apart, 100) == [[apart[0]], [apart[1]]]
    # the same or the next flush share, the group's flushes as far as its furthest
    near = [
        sql.TraceRange("a", 0, 5, 1, 2),
        sql.TraceRange("b", 1, 2, 3, 3),
        sql.TraceRange("c", 2, 3, 4, 4),
    ]
    assert _near_in_time(near, 100) == [near]


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """30 traces 3 s apart, every 10th with a late span 20 s on written in a second batch,
    pairs sharing the high 64 bits of their ids; their span ids by trace."""
    spans: list[Span] = []
    late: list[Span] = []
    for n in range(30):
        trace = f"{n // 2 + 1:016x}{n % 2 + 1:016x}"
        start = T0 + 3 * n * S
        spans.append(Span(trace, f"{2 * n + 1:016x}", "root", "api", start, S // 10))
        spans.append(Span(trace, f"{2 * n + 2:016x}", "db", "db", start + 1, S // 100))
        if n % 10 == 0:
            late.append(Span(trace, f"{1000 + n:016x}", "late", "queue", start + 20 * S, S))
    path = tmp_path_factory.mktemp("read") / "spans.duckdb"

    async def write() -> None:
        store = DuckDBStore(path)
        await store.write(batch_from_spans(spans))
        await store.write(batch_from_spans(late))
        await store.close()

    asyncio.run(write())
    by_trace: dict[str, set[str]] = {}
    for span in spans + late:
        by_trace.setdefault(span.trace_id, set()).add(span.span_id)
    return path, by_trace


@pytest.mark.parametrize("near_s", [0, 2, 1000])
def test_every_grouping_reads_exactly_the_asked_traces(
    spread: tuple[Path, dict[str, set[str]]], near_s: int
) -> None:
    path, by_trace = spread
    asked = sorted(by_trace)[::3] + sorted(by_trace)[1:4]
    conn = duckdb.connect(str(path), read_only=True)
    try:
        text, values = sql.trace_ranges(asked, sql.ALL_LEVELS)
        found = {p: rest for p, *rest in conn.execute(text, values).fetchall()}
        ranges = sorted(
            (sql.TraceRange(t, *found[int(t[:16], 16)]) for t in asked), key=lambda r: r.first
        )
        groups = _near_in_time(ranges, near_s * S)
        sizes = {len(group) for group in groups}
        # both kinds of scan: traces alone and traces sharing one
        assert (min(sizes), max(sizes) > 1) == ((1, True) if near_s < 3 else (len(asked), True))
        text, values = sql.spans_in_ranges(groups)
        rows = conn.execute(text, values).fetchall()
    finally:
        conn.close()
    got: dict[str, set[str]] = {}
    for row in rows:  # TraceHi, TraceLo, SpanId: the store formats them (_spans)
        got.setdefault(f"{row[1]:016x}{row[2]:016x}", set()).add(f"{row[3]:016x}")
    assert got == {t: by_trace[t] for t in asked}


def test_a_trace_comes_in_start_order_with_its_ids_in_hex(tmp_path: Path) -> None:
    # Written newest first over two batches, equal starts among them: read back in start
    # order, then span id; the ids in canonical hex (a root's parent empty).
    trace = "f" * 16 + "0" * 15 + "1"
    other = "0" * 31 + "2"
    spans = [
        Span(
            trace,
            "ffffffffffffff00",
            "late",
            "api",
            T0 + 5 * S,
            S,
            parent_span_id="00000000000000a1",
        ),
        Span(
            trace,
            "00000000000000b2",
            "same-start",
            "db",
            T0 + S,
            S,
            parent_span_id="00000000000000a1",
        ),
        Span(other, "0000000000000001", "other", "api", T0, S),
    ]
    first = [
        Span(
            trace,
            "00000000000000b1",
            "same-start",
            "db",
            T0 + S,
            S,
            parent_span_id="00000000000000a1",
        ),
        Span(trace, "00000000000000a1", "root", "api", T0, 10 * S),
    ]

    async def run() -> None:
        store = DuckDBStore(tmp_path / "spans.duckdb")
        try:
            await store.write(batch_from_spans(spans))
            await store.write(batch_from_spans(first))
            one = await store.get_trace(GetTraceParams(trace))
            many = await store.get_traces(GetTracesParams((other, trace)))
        finally:
            await store.close()
        expected = ["00000000000000a1", "00000000000000b1", "00000000000000b2", "ffffffffffffff00"]
        assert one["SpanId"].to_pylist() == expected
        assert one["TraceId"].to_pylist() == [trace] * 4
        assert one["ParentSpanId"].to_pylist() == ["", *["00000000000000a1"] * 3]
        # get_traces promises no order (the query layer sorts when it splits by trace)
        assert sorted(many.filter(pc.equal(many["TraceId"], trace))["SpanId"].to_pylist()) == (
            expected
        )
        assert many.filter(pc.equal(many["TraceId"], other))["ParentSpanId"].to_pylist() == [""]

    asyncio.run(run())


def test_cached_extent_and_resources_follow_writes_and_deletes(tmp_path: Path) -> None:
    # Searches keep the spans' extent and the resources in memory: a search of an empty
    # store, then a write of a new resource, then a delete must each be seen by the next one.
    def search(service: str) -> TraceQuery:
        return TraceQuery(
            T0 - S, T0 + 100 * S, service=service, tags=(TagFilter("region", "north"),)
        )

    def span(trace: str, service: str, start: int) -> Span:
        return Span(trace, trace[16:], "op", service, start, S, resource={"region": "north"})

    async def run() -> None:
        store = DuckDBStore(tmp_path / "spans.duckdb")
        try:
            assert await store.find_trace_ids(search("api")) == []
            await store.write(batch_from_spans([span("1" * 32, "api", T0)]))
            assert await store.find_trace_ids(search("api")) == ["1" * 32]
            await store.write(batch_from_spans([span("2" * 32, "web", T0 + 50 * S)]))
            assert await store.find_trace_ids(search("web")) == ["2" * 32]
            await store.delete_before(T0 + 10 * S)
            assert await store.find_trace_ids(search("api")) == []
            await store.write(batch_from_spans([span("3" * 32, "api", T0 + 60 * S)]))
            assert await store.find_trace_ids(search("api")) == ["3" * 32]
        finally:
            await store.close()

    asyncio.run(run())
