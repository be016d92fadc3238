"""Kept RED aggregates, on every engine: merging writes, steps and sliding windows,
quantiles against the pure reference, retention."""

from __future__ import annotations

import random
from typing import cast

import pyarrow as pa
import pytest

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import Capability, DependenciesQuery, RedQuery, ServiceGraphQuery, Store

REQUIRES = (Capability.SPAN_METRICS,)


MINUTE = red.MINUTE_NS
T0 = 1_699_999_980 * 10**9  # a minute boundary
MS = 1_000_000


def _spans(rows: list[tuple[int, str, str, SpanKind, int, bool]]) -> pa.Table:
    return batch_from_spans(
        [
            Span(
                trace_id=f"{i + 1:032x}",
                span_id=f"{i + 1:016x}",
                name=name,
                service=service,
                start_ns=T0 + offset,
                duration_ns=duration,
                kind=kind,
                status=StatusCode.ERROR if error else StatusCode.UNSET,
            )
            for i, (offset, service, name, kind, duration, error) in enumerate(rows)
        ]
    )


SERVER = SpanKind.SERVER
TRAFFIC = [
    # minute 0
    (0, "api", "GET /a", SERVER, 10 * MS, False),
    (1, "api", "GET /a", SERVER, 20 * MS, True),
    (2, "api", "GET /b", SERVER, 30 * MS, False),
    (3, "api", "SELECT", SpanKind.CLIENT, 1 * MS, False),
    # minute 1
    (MINUTE, "api", "GET /a", SERVER, 40 * MS, False),
    (MINUTE + 1, "web", "GET /", SERVER, 50 * MS, False),
    # minute 3
    (3 * MINUTE, "api", "GET /a", SERVER, 100 * MS, True),
]


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return list(zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True))


async def test_writes_of_one_key_add_up_and_commit_their_sequence(store: Store) -> None:
    rows = red.aggregate(_spans(TRAFFIC))
    await store.write_span_metrics(rows, wal_sequence=3)
    await store.write_span_metrics(rows, wal_sequence=7)
    await store.write_span_metrics(red.AGGREGATE_SCHEMA.empty_table(), wal_sequence=9)
    assert await store.span_metrics_wal_sequence() == 9
    query = RedQuery(
        T0, T0 + 10 * MINUTE, 10 * MINUTE, services=("api",), by_operation=False, by_kind=False
    )
    (row,) = _rows(await store.red(query))
    assert row[:7] == (T0, "api", "", -1, 2 * 6, 2 * 2, 2 * (10 + 20 + 30 + 1 + 40 + 100) * MS)


async def test_steps_filters_and_quantiles_match_the_reference(store: Store) -> None:
    await store.write_span_metrics(red.aggregate(_spans(TRAFFIC)), wal_sequence=1)
    query = RedQuery(
        T0 + 5,  # floored to the minute
        T0 + 4 * MINUTE,
        2 * MINUTE,
        services=("api",),
        span_kinds=(SERVER,),
        quantiles=(0.5, 0.99),
    )
    got = [(r[0], r[2], r[4], r[5]) for r in _rows(await store.red(query))]
    assert got == [
        (T0, "GET /a", 3, 1),  # minutes 0-1
        (T0 + 2 * MINUTE, "GET /a", 1, 1),  # minutes 2-3
        (T0, "GET /b", 1, 0),
    ]
    first = _rows(await store.red(query))[0]
    durations = [10 * MS, 20 * MS, 40 * MS]
    reference = red.aggregate(_spans([(0, "x", "y", SERVER, d, False) for d in durations]))
    (whole,) = reference.to_pylist()
    buckets, counts = whole["Buckets"], whole["Counts"]
    assert first[7] == [
        red.quantile_ns(buckets, counts, 0.5),
        red.quantile_ns(buckets, counts, 0.99),
    ]

    only = RedQuery(T0, T0 + 4 * MINUTE, 4 * MINUTE, operation="GET /b", by_kind=False)
    assert [(r[1], r[2], r[3], r[4]) for r in _rows(await store.red(only))] == [
        ("api", "GET /b", -1, 1)
    ]


async def test_sliding_windows_count_a_minute_in_every_window_holding_it(store: Store) -> None:
    await store.write_span_metrics(red.aggregate(_spans(TRAFFIC)), wal_sequence=1)
    query = RedQuery(
        T0,
        T0 + 4 * MINUTE,
        MINUTE,
        services=("api",),
        span_kinds=(SERVER,),
        by_operation=False,
        by_kind=False,
        window_ns=2 * MINUTE,
        quantiles=(),
    )
    got = [(r[0], r[4]) for r in _rows(await store.red(query))]
    # Window of step s: minutes [s - 1, s + 1).
    assert got == [(T0, 3), (T0 + MINUTE, 4), (T0 + 2 * MINUTE, 1), (T0 + 3 * MINUTE, 1)]


async def test_span_retention_leaves_the_aggregates_and_levels_expire_finest_first(
    store: Store,
) -> None:
    await store.write_span_metrics(red.aggregate(_spans(TRAFFIC)), wal_sequence=1)
    await store.delete_before(T0 + 2 * MINUTE)  # spans go; their RED stays
    day = 24 * 60 * MINUTE
    hour = 60 * MINUTE
    start = T0 - T0 % hour
    per_minute = RedQuery(T0, T0 + 10 * MINUTE, MINUTE, by_operation=False, by_kind=False)
    per_hour = RedQuery(start, start + hour, hour, by_operation=False, by_kind=False)
    # api: minutes 0, 1 and 3; web: minute 1.
    assert [r[4] for r in _rows(await store.red(per_minute))] == [4, 1, 1, 1]
    # Three days on, the minutes are gone (kept two days), the 5 min and hour rows are not.
    assert await store.expire_span_metrics(T0 + 3 * day) > 0
    assert _rows(await store.red(per_minute)) == []
    assert [(r[1], r[4]) for r in _rows(await store.red(per_hour))] == [("api", 6), ("web", 1)]
    five = RedQuery(start, start + hour, 5 * MINUTE, by_operation=False, by_kind=False)
    assert sum(cast(float, r[4]) for r in _rows(await store.red(five))) == 7
    await store.expire_span_metrics(T0 + 20 * day)
    assert [(r[1], r[4]) for r in _rows(await store.red(per_hour))] == [("api", 6), ("web", 1)]
    assert _rows(await store.red(five)) == []


def _day_of_traffic(seed: int, spans: int) -> pa.Table:
    rng = random.Random(seed)
    services = [("api", "GET /a"), ("api", "GET /b"), ("db", "SELECT"), ("web", "GET /")]
    rows = []
    for i in range(spans):
        service, name = rng.choice(services)
        rows.append(
            Span(
                trace_id=f"{i + 1:032x}",
                span_id=f"{i + 1:016x}",
                name=name,
                service=service,
                start_ns=T0 + rng.randrange(0, 26 * 60 * MINUTE),
                duration_ns=int(rng.lognormvariate(16, 1.5)) + 1,
                kind=rng.choice([SERVER, SpanKind.CLIENT]),
                status=StatusCode.ERROR if rng.random() < 0.1 else StatusCode.UNSET,
                trace_state=rng.choice(["", "", "ot=th:8", "ot=th:c"]),
            )
        )
    return batch_from_spans(rows)


@pytest.mark.parametrize("seed", [1, 2])
async def test_any_step_from_the_levels_equals_the_same_rows_kept_per_minute(
    store: Store, seed: int
) -> None:
    """Compaction and rollups are exact: a store written in many flushes (late spans
    included), compacted, answers exactly what one aggregation of every span answers, at
    steps read from the 1 h, 5 min and minute levels and a mix of them."""
    spans = _day_of_traffic(seed, 3_000)
    everything = red.aggregate(spans)
    for i, chunk in enumerate(_chunks(spans, 7)):
        await store.write_span_metrics(red.aggregate(chunk), wal_sequence=i + 1)
    before = {q: _rows(await store.red(q)) for q in _day_queries()}
    await store.compact_span_metrics()
    await store.compact_span_metrics()  # nothing left to merge
    for query in _day_queries():
        got = _rows(await store.red(query))
        assert got == before[query]
        assert got == _reference_red(everything, query)


def _chunks(spans: pa.Table, parts: int) -> list[pa.Table]:
    # Shuffled across time: every flush touches every hour (late spans for the levels).
    order = pa.array(random.Random(0).sample(range(spans.num_rows), spans.num_rows))
    shuffled = spans.take(order)
    size = -(-spans.num_rows // parts)
    return [shuffled.slice(i, size) for i in range(0, spans.num_rows, size)]


def _day_queries() -> list[RedQuery]:
    hour = 60 * MINUTE
    start = T0 - T0 % hour
    return [
        RedQuery(start, start + 24 * hour, hour),
        RedQuery(start, start + 24 * hour, 5 * MINUTE, by_operation=False),
        RedQuery(start + 7 * MINUTE, start + 25 * hour, 25 * hour, by_kind=False),  # ragged
        RedQuery(start + 3 * hour, start + 5 * hour, MINUTE, services=("api",)),
        RedQuery(start, start + 24 * hour, 3 * hour, span_kinds=(SERVER,), quantiles=(0.9,)),
    ]


def _reference_red(rows: pa.Table, query: RedQuery) -> list[tuple[object, ...]]:
    """The query answered from minute rows in plain Python, with ``red.quantile_ns``."""
    start = query.start_ns - query.start_ns % MINUTE
    groups: dict[tuple[int, str, str, int], list[dict[str, object]]] = {}
    for row in rows.to_pylist():
        t = row["Time"]
        if t < start or (query.services and row["ServiceName"] not in query.services):
            continue
        if query.span_kinds and row["SpanKind"] not in query.span_kinds:
            continue
        step = start + (t - start) // query.step_ns * query.step_ns
        if step >= query.end_ns:
            continue
        name = row["SpanName"] if query.by_operation else ""
        kind = row["SpanKind"] if query.by_kind else -1
        groups.setdefault((step, row["ServiceName"], name, kind), []).append(row)
    out: list[tuple[object, ...]] = []
    for (step, service, name, kind), members in sorted(
        groups.items(), key=lambda g: (g[0][1], g[0][2], g[0][3], g[0][0])
    ):
        histogram: dict[int, float] = {}
        for member in members:
            for bucket, count in zip(member["Buckets"], member["Counts"], strict=True):  # type: ignore[call-overload]
                histogram[bucket] = histogram.get(bucket, 0.0) + count
        buckets = sorted(histogram)
        counts = [histogram[b] for b in buckets]
        total = {k: sum(m[k] for m in members) for k in ("Calls", "Errors", "DurationSum", "Spans")}  # type: ignore[misc]
        quantiles = [red.quantile_ns(buckets, counts, q) for q in query.quantiles]
        out.append((step, service, name, kind, total["Calls"], total["Errors"],
                    total["DurationSum"], quantiles, total["Spans"]))  # fmt: skip
    return out


async def test_sampled_spans_count_by_their_adjusted_count(store: Store) -> None:
    states = ["ot=th:8", "ot=th:c", "", "ot=th:e666666666666a", "ot=th:C"]  # 2, 4, 1, ~10, 1
    spans = batch_from_spans(
        [
            Span(f"{i + 1:032x}", f"{i + 1:016x}", "GET /a", "api", T0 + i, 10 * MS,
                 kind=SERVER, status=StatusCode.ERROR if i == 1 else StatusCode.UNSET,
                 trace_state=state)
            for i, state in enumerate(states)
        ]
    )  # fmt: skip
    await store.write_span_metrics(red.aggregate(spans), wal_sequence=1)
    (row,) = _rows(await store.red(RedQuery(T0, T0 + MINUTE, MINUTE)))
    tenth = 2**56 / (2**56 - 0xE666666666666A)
    assert row[4] == pytest.approx(2 + 4 + 1 + tenth + 1, rel=1e-12)
    assert row[5] == 4.0  # the error span stands for four
    assert row[8] == 5  # spans stored


async def test_sampled_calls_count_by_their_adjusted_count_in_the_graph(store: Store) -> None:
    """Each trace sampled at 1/4 (``th:c``) stands for four: edges, the service graph and the
    dependencies API count four calls per call seen."""
    spans = []
    for t in range(3):
        trace, state = f"{t + 1:032x}", "ot=th:c;rv:00000000000000"
        spans += [
            Span(trace, f"{10 * t + 1:016x}", "GET /", "web", T0 + t * MS, 50 * MS,
                 kind=SpanKind.SERVER, trace_state=state),
            Span(trace, f"{10 * t + 2:016x}", "GET /a", "api", T0 + t * MS + 1, 20 * MS,
                 parent_span_id=f"{10 * t + 1:016x}", kind=SpanKind.SERVER, trace_state=state,
                 status=StatusCode.ERROR if t == 0 else StatusCode.UNSET),
            Span(trace, f"{10 * t + 3:016x}", "SELECT", "api", T0 + t * MS + 2, 5 * MS,
                 parent_span_id=f"{10 * t + 2:016x}", kind=SpanKind.CLIENT,
                 attributes={"peer.service": "postgres"}, trace_state=state),
        ]  # fmt: skip
    await store.write(batch_from_spans(spans))
    edges = {
        (e.parent, e.child): e
        for e in await store.service_graph(ServiceGraphQuery(T0, T0 + MINUTE, (10 * MS,)))
    }
    web_api = edges["web", "api"]
    assert (web_api.calls, web_api.errors, web_api.spans) == (12, 4, 3)
    assert list(web_api.server_counts) == [0.0, 12.0]
    assert web_api.estimated
    assert web_api.server_sum_ns == 4 * 3 * 20 * MS
    assert (edges["api", "postgres"].calls, edges["api", "postgres"].spans) == (12, 3)
    links = await store.dependencies(DependenciesQuery(T0 + MINUTE, MINUTE + 1))
    assert sorted(
        (link.parent, link.child, link.call_count, link.error_count) for link in links
    ) == [
        ("api", "postgres", 12, 0),
        ("web", "api", 12, 4),
    ]
