"""QueryService on a real DuckDB store: not-found, per-trace splitting, adjusting and the
bare-key conditions it checks itself."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pyarrow as pa
import pytest

from breadcrumbs.errors import NotFound
from breadcrumbs.model import Event, Span, SpanKind, batch_from_spans
from breadcrumbs.query.adjusters import ZIPKIN_SHARED_KEY, AdjustedTrace
from breadcrumbs.query.service import QueryService, split_traces
from breadcrumbs.store.base import TagFilter, TraceQuery
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.threads import READER_NICE

MS = 1_000_000
T0 = 1_700_000_000_000 * MS


def trace_id(n: int) -> str:
    return f"{n:032x}"


def spans_of(n: int) -> list[Span]:
    """Trace n: a root and a child; trace 7's child carries a "cache.miss" event."""
    events = (Event(T0 + n * MS + 1, "cache.miss", {}),) if n == 7 else ()
    root = Span(trace_id(n), f"{n:015x}1", "root", "api", T0 + n * MS, 5 * MS)
    child = Span(
        trace_id(n), f"{n:015x}2", "child", "api", T0 + n * MS + 1, MS, f"{n:015x}1", events=events
    )
    return [root, child]


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[QueryService]:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    batch = batch_from_spans([span for n in range(1, 11) for span in spans_of(n)])
    await store.write(batch)
    await store.write(batch_from_spans(spans_of(3)))  # delivered twice
    yield QueryService(store)
    await store.close()


async def test_get_trace_dedupes_and_sorts(service: QueryService) -> None:
    trace = await service.get_trace(trace_id(3))
    assert trace.spans["SpanName"].to_pylist() == ["root", "child"]
    assert trace.trace_id == trace_id(3)
    raw = await service.get_trace(trace_id(3), raw=True)
    assert raw.spans.num_rows == 4


async def test_unknown_trace_is_not_found(service: QueryService) -> None:
    with pytest.raises(NotFound):
        await service.get_trace(trace_id(99))


async def test_get_traces_keeps_the_asked_order_and_skips_unknown(service: QueryService) -> None:
    traces = await service.get_traces([trace_id(5), trace_id(99), trace_id(2)])
    assert [t.trace_id for t in traces] == [trace_id(5), trace_id(2)]
    assert [t.spans.num_rows for t in traces] == [2, 2]


async def test_find_traces_newest_first(service: QueryService) -> None:
    query = TraceQuery(start_ns=T0, end_ns=T0 + 60 * 1000 * MS, service="api", limit=3)
    traces = await service.find_traces(query)
    assert [t.trace_id for t in traces] == [trace_id(10), trace_id(9), trace_id(8)]


async def test_required_keys_are_checked_on_fetched_traces(service: QueryService) -> None:
    query = TraceQuery(start_ns=T0, end_ns=T0 + 60 * 1000 * MS, service="api", limit=1)
    traces = await service.find_traces(query, required_keys=["cache.miss"])
    assert [t.trace_id for t in traces] == [trace_id(7)]
    assert await service.find_traces(query, required_keys=["cache.miss", "other"]) == []


def test_split_traces_of_an_empty_batch() -> None:
    assert split_traces(batch_from_spans([]), [trace_id(1)]) == []


async def test_required_keys_and_tags_must_hold_on_one_span(tmp_path: Path) -> None:
    # Zipkin: every annotationQuery term on the same span
    store = DuckDBStore(tmp_path / "one-span.duckdb")
    split = [
        Span(trace_id(1), "1" * 16, "a", "api", T0, MS, attributes={"http.method": "GET"}),
        Span(trace_id(1), "2" * 16, "b", "api", T0, MS, "1" * 16, attributes={"error": "x"}),
    ]
    together = [
        Span(
            trace_id(2),
            "3" * 16,
            "a",
            "api",
            T0,
            MS,
            attributes={"http.method": "GET", "error": "x"},
        )
    ]
    await store.write(batch_from_spans(split + together))
    service = QueryService(store)
    query = TraceQuery(
        start_ns=T0 - MS,
        end_ns=T0 + MS,
        service="api",
        tags=(TagFilter("http.method", "GET", "span"),),
    )
    traces = await service.find_traces(query, required_keys=["error"])
    assert [t.trace_id for t in traces] == [trace_id(2)]
    await store.close()


async def test_shared_zipkin_ids_kept_only_when_asked(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "shared.duckdb")
    rpc = [
        Span(trace_id(1), "1" * 16, "call", "web", T0, 10 * MS, kind=SpanKind.CLIENT),
        Span(
            trace_id(1),
            "1" * 16,
            "call",
            "api",
            T0 + MS,
            8 * MS,
            kind=SpanKind.SERVER,
            attributes={ZIPKIN_SHARED_KEY: True},
        ),
    ]
    await store.write(batch_from_spans(rpc))
    service = QueryService(store)
    zipkin = await service.get_trace(trace_id(1), shared_ids=True)
    assert zipkin.spans["SpanId"].to_pylist() == ["1" * 16, "1" * 16]
    jaeger = await service.get_trace(trace_id(1))
    assert jaeger.spans["ParentSpanId"].to_pylist() == ["", "1" * 16]
    assert len(set(jaeger.spans["SpanId"].to_pylist())) == 2
    await store.close()


def test_split_traces_follows_the_asked_order_and_sorts_each_by_start() -> None:
    def span(trace: int, sid: str, start_ms: int) -> Span:
        return Span(trace_id(trace), sid.rjust(16, "0"), sid, "api", T0 + start_ms * MS, MS)

    # rows of two traces interleaved over two chunks (as the store concatenates its
    # statements' results), starts out of order, one tie broken by span id
    batch = pa.concat_tables(
        [
            batch_from_spans([span(1, "c", 5), span(2, "e", 9), span(1, "b", 1)]),
            batch_from_spans([span(1, "a", 5), span(2, "d", 3)]),
        ]
    )
    traces = split_traces(batch, [trace_id(2), trace_id(99), trace_id(1), trace_id(2)])
    assert [t["SpanName"].to_pylist() for t in traces] == [["d", "e"], ["b", "a", "c"], ["d", "e"]]
    assert [t["TraceId"].to_pylist() for t in traces][1] == [trace_id(1)] * 3


async def test_traces_are_adjusted_off_the_event_loop_at_a_lower_priority(tmp_path: Path) -> None:
    # Adjusting is per-row Python for repeated ids: on the loop it held every ingest ack.
    seen: list[tuple[int, int]] = []

    def record(trace: AdjustedTrace) -> AdjustedTrace:
        tid = threading.get_native_id()
        seen.append((threading.get_ident(), os.getpriority(os.PRIO_PROCESS, tid)))
        return trace

    store = DuckDBStore(tmp_path / "spans.duckdb")
    await store.write(batch_from_spans(spans_of(1)))
    service = QueryService(store, adjusters=(record,))
    try:
        await service.get_trace(trace_id(1))
        await service.get_traces([trace_id(1)])
    finally:
        service.close()
        await store.close()
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert len(seen) == 2
    for ident, priority in seen:
        assert ident != threading.get_ident()
        assert priority == min(19, loop_priority + READER_NICE)


async def test_dedupe_keeps_one_of_many_identical_copies_and_distinct_rows(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    for _ in range(30):  # a trace stored 30 times, as a replaying client would
        await store.write(batch_from_spans(spans_of(5)))
    renamed = next(s for s in spans_of(5) if s.name == "child")
    await store.write(batch_from_spans([dataclasses.replace(renamed, name="child-v2")]))
    service = QueryService(store)
    try:
        trace = await service.get_trace(trace_id(5))
    finally:
        service.close()
        await store.close()
    # Same id, different row: kept (uniquify_shared leaves it, it has no Zipkin marker).
    assert sorted(trace.spans["SpanName"].to_pylist()) == ["child", "child-v2", "root"]
