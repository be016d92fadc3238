"""The kept RED aggregates on ClickHouse (rows as ``analysis.red.AGGREGATE_SCHEMA``; the
levels and their retention are ``base.RED_LEVELS``, the DuckDB engine's design is in
``store/duckdb/red.py``).

- **One table, ``span_metrics``**, an ``AggregatingMergeTree`` keyed by (Resolution, Time,
  series, status): every level's rows side by side (``Resolution``: the level, ns), totals as
  ``SimpleAggregateFunction(sum)`` and the latency histogram as one
  ``SimpleAggregateFunction(sumMap)`` of (buckets, counts), so ClickHouse's background merges
  are the compaction (exact addition of rows of one key, as ``analysis.red.merge``).
- **Write**: a flush's minute rows, their 5 min and hour rollups (in Arrow, as DuckDB's) and
  one *marker* row carrying the flush's WAL sequence (``Resolution`` 0, the writing node's
  name as ``ServiceName``, ``WalSequence``) are **one INSERT of one block into one
  partition**: ClickHouse commits it as one part, all or nothing, so a SIGKILL leaves either
  the rows and their sequence or neither (the contract DuckDB keeps with a transaction). No
  materialized view hangs off the table (a view's insert is a second commit), and the insert
  is told never to split its block. The insert carries a deduplication token (node and
  sequence): a flush retried after an ambiguous failure (committed, but the reply lost) is
  dropped by ClickHouse rather than counted twice.
- **Query**: the DuckDB engine's plan (each instant of a step from the coarsest level that
  fits; sliding windows from the coarsest level dividing start, step and window); the rows
  are added up and the quantiles read by ``analysis.red.summarize`` exactly as on DuckDB.
- **Retention**: ``expire`` deletes each level's rows older than its retention (a
  lightweight DELETE on the key's prefix), run by ``maintain`` with the wall clock. No TTL
  clause: a TTL judges by the server's clock at merge time, so it would also drop back-dated
  rows (a ``migrate`` of an old store) the contract keeps until ``expire_span_metrics`` says.
"""

# S608: only checked identifiers and integers are formatted in; values are bound.
# ruff: noqa: S608

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa

from breadcrumbs.analysis import red as red_math
from breadcrumbs.analysis.red import LEVELS_NS
from breadcrumbs.store.base import RedQuery
from breadcrumbs.store.red_levels import RedSteps, disjoint_scans, sliding_level

MARKER: Final = 0
"""``Resolution`` of the rows carrying a writer's WAL sequence (not a level)."""

COLUMNS: Final = """
    Resolution Int64 CODEC(ZSTD(9)),
    Time Int64 CODEC(DoubleDelta, ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(9)),
    SpanName LowCardinality(String) CODEC(ZSTD(9)),
    SpanKind Int8 CODEC(ZSTD(9)),
    StatusCode Int8 CODEC(ZSTD(9)),
    Spans SimpleAggregateFunction(sum, Int64) CODEC(ZSTD(9)),
    Calls SimpleAggregateFunction(sum, Float64) CODEC(ZSTD(9)),
    Errors SimpleAggregateFunction(sum, Float64) CODEC(ZSTD(9)),
    DurationSum SimpleAggregateFunction(sum, Float64) CODEC(ZSTD(9)),
    Histogram SimpleAggregateFunction(sumMap, Tuple(Array(Int16), Array(Float64))) CODEC(ZSTD(9)),
    WalSequence SimpleAggregateFunction(max, UInt64) CODEC(ZSTD(9))
"""
"""Schema v4 gave every column but Time ``ZSTD(9)`` (v3's were LZ4, ClickHouse's default): 4.0 ->
1.6 bytes per span of the whole database at 1M spans (the histograms are most of it; a flush
is one small insert, so the level costs little)."""
ORDER: Final = "Resolution, Time, ServiceName, SpanName, SpanKind, StatusCode"

INSERT_SETTINGS: Final = {
    # One block whatever the flush's size: one part, committed all at once.
    "max_insert_block_size": 1 << 40,
    "min_insert_block_size_rows": 1 << 40,
    "min_insert_block_size_bytes": 1 << 62,
    "insert_deduplicate": 1,
}


def insert_rows(rows: pa.Table, wal_sequence: int, node: str) -> pa.Table:
    """A flush's minute rows as the insert into ``span_metrics``: every level and the
    marker row, with ``Histogram`` as the (buckets, counts) tuple."""
    levels = [rows, *(red_math.rollup(rows, level) for level in LEVELS_NS[1:])]
    parts = []
    for resolution, level_rows in zip(LEVELS_NS, levels, strict=True):
        if level_rows.num_rows:
            parts.append(_with_resolution(level_rows, resolution, 0))
    marker = pa.table(
        {
            "Time": [0], "ServiceName": [node], "SpanName": [""], "SpanKind": [0],
            "StatusCode": [0], "Spans": [0], "Calls": [0.0], "Errors": [0.0],
            "DurationSum": [0.0], "Buckets": [[]], "Counts": [[]],
        },
        schema=red_math.AGGREGATE_SCHEMA,
    )  # fmt: skip
    parts.append(_with_resolution(marker, MARKER, wal_sequence))
    table = pa.concat_tables(parts).combine_chunks()
    histogram = pa.StructArray.from_arrays(
        [table.column("Buckets").combine_chunks(), table.column("Counts").combine_chunks()],
        names=["1", "2"],
    )
    return table.drop_columns(["Buckets", "Counts"]).append_column("Histogram", histogram)


def _with_resolution(rows: pa.Table, resolution: int, wal_sequence: int) -> pa.Table:
    n = rows.num_rows
    return rows.add_column(
        0, "Resolution", pa.repeat(pa.scalar(resolution, pa.int64()), n)
    ).append_column("WalSequence", pa.repeat(pa.scalar(wal_sequence, pa.uint64()), n))


def wal_sequence(db: str) -> str:
    return (
        f"SELECT max(WalSequence) FROM {db}.span_metrics "
        f"WHERE Resolution = {MARKER:d} AND ServiceName = {{node:String}}"
    )


def expired(table: str, resolution_ns: int, verb: str) -> str:
    """``SELECT count() FROM`` or ``DELETE FROM`` (``verb``) ``table``: one level's rows
    before ``cutoff``."""
    return f"{verb} {table} WHERE Resolution = {resolution_ns:d} AND Time < {{cutoff:Int64}}"


def rows_per_level(db: str) -> str:
    return (
        f"SELECT Resolution, count() FROM {db}.span_metrics WHERE Resolution != {MARKER:d} "
        "GROUP BY Resolution"
    )


def _filters(query: RedQuery) -> tuple[list[str], dict[str, Any]]:
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if query.services:
        conditions.append("has({services:Array(String)}, ServiceName)")
        params["services"] = list(query.services)
    if query.operation is not None:
        conditions.append("SpanName = {operation:String}")
        params["operation"] = query.operation
    if query.span_kinds:
        conditions.append("has({kinds:Array(Int8)}, SpanKind)")
        params["kinds"] = [int(kind) for kind in query.span_kinds]
    return conditions, params


_START: Final = "{start:Int64}"
_STEP: Final = "{step:Int64}"


def _fits(time: str, resolution_ns: int) -> str:
    """SQL: the row of ``resolution_ns`` starting at ``time`` lies inside one step."""
    return (
        f"({time} >= {_START} AND {time} + {resolution_ns:d} <= "
        f"{_START} + (intDiv({time} - {_START}, {_STEP}) + 1) * {_STEP})"
    )


def red_query(db: str, query: RedQuery) -> tuple[str, dict[str, Any]]:
    """The kept rows a query adds up, with their ``Step``, for ``analysis.red.summarize``
    (which groups them, as on DuckDB). Not summed in ClickHouse: ``sumMap`` over the
    histograms cost chDB 2-4x the raw rows' read, and numpy adds them up faster."""
    steps = RedSteps.of(query)
    conditions, params = _filters(query)
    params |= {"start": steps.start, "step": steps.step}
    # Aliases differ from the columns: ClickHouse resolves WHERE's names to SELECT's aliases.
    name = "SpanName" if query.by_operation else "''"
    kind = "SpanKind" if query.by_kind else "toInt8(-1)"
    columns = (
        f"toString(ServiceName) AS Service, toString({name}) AS Operation, {kind} AS Kind, "
        "Spans, Calls, Errors, DurationSum, Histogram.1 AS Buckets, Histogram.2 AS Counts"
    )
    if not steps.sliding:
        scans = []
        for scan in disjoint_scans(steps):
            used = [*([] if scan.aligned else [_fits("Time", scan.level)]), *conditions]
            if scan.parent is not None:
                used.append(f"NOT {_fits(f'(Time - Time % {scan.parent:d})', scan.parent)}")
            bounds = [f"Resolution = {scan.level:d}", f"Time >= {scan.lo:d}", f"Time < {scan.hi:d}"]
            where = " AND ".join([*bounds, *used])
            scans.append(
                f"SELECT {_START} + intDiv(Time - {_START}, {_STEP}) * {_STEP} AS Step, "
                f"{columns} FROM {db}.span_metrics WHERE {where}"
            )
        source = "\nUNION ALL\n".join(scans)
    else:  # sliding windows: a row counts in every step whose window holds it
        before = steps.step - steps.window
        first = steps.start + before
        params |= {"first": first, "stop": steps.stop, "before": before}
        reach = -(-steps.window // steps.step) + 1  # steps a row can fall in, and one to spare
        where = " AND ".join(
            [
                f"Resolution = {sliding_level(steps):d}",
                "Time >= {first:Int64}",
                "Time < {stop:Int64}",
                *conditions,
            ]
        )
        candidates = (
            f"arrayMap(k -> {_START} + toInt64(k) * {_STEP}, range("
            f"toUInt64(greatest(0, intDiv(Time - {{first:Int64}}, {_STEP}) - {reach:d})), "
            f"toUInt64(least({steps.steps:d}, intDiv(Time - {{first:Int64}}, {_STEP}) + 1))))"
        )
        source = f"""
        SELECT arrayJoin(arrayFilter(
                   p -> Time >= p + {{before:Int64}} AND Time < p + {_STEP}, {candidates}
               )) AS Step, {columns}
        FROM {db}.span_metrics WHERE {where}
        """
    return source, params


def summary_rows(table: pa.Table) -> pa.Table:
    """``red_query``'s answer as ``analysis.red.summarize``'s input."""
    return table.rename_columns(
        {"Service": "ServiceName", "Operation": "SpanName", "Kind": "SpanKind"}
    )
