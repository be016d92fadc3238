"""Kept RED aggregates, on every engine: merging writes, steps and sliding windows,
quantiles against the pure reference, retention."""

from __future__ import annotations

import pyarrow as pa

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import Capability, RedQuery, Store

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
    ordered = reference.sort_by("Bucket")
    buckets, counts = ordered.column("Bucket").to_pylist(), ordered.column("Calls").to_pylist()
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


async def test_retention_drops_old_minutes(store: Store) -> None:
    await store.write_span_metrics(red.aggregate(_spans(TRAFFIC)), wal_sequence=1)
    await store.delete_before(T0 + 2 * MINUTE)
    query = RedQuery(T0, T0 + 10 * MINUTE, 10 * MINUTE, by_operation=False, by_kind=False)
    assert [r[4] for r in _rows(await store.red(query))] == [1]
