"""RED metrics (rate, errors, duration) as compact, mergeable aggregates of span columns.

Every span falls into one row per (minute, service, operation, span kind, latency bucket)
holding calls, errors and the sum of durations. Rows of the same key merge by addition, so
per-flush aggregates, per-minute rows in the store and a day's worth of minutes all combine
the same way, and a dashboard over a day reads ~minutes x series x buckets rows, never spans.

Latency buckets are logarithmic: bucket ``i`` holds durations in [2^(i/8), 2^((i+1)/8)) ns
(OpenTelemetry's exponential histogram at scale 3). A quantile is read as the geometric middle
of the bucket holding it, so its relative error is at most 2^(1/16) - 1 = 4.4%, whatever the
range (1 ns to centuries in at most 505 buckets; a typical endpoint touches 20-40).

Everything here is whole-column Arrow compute: no per-span Python (and no numpy).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, StatusCode

MINUTE_NS: Final = 60 * 10**9
BUCKETS_PER_OCTAVE: Final = 8

AGGREGATE_SCHEMA: Final = pa.schema(
    [
        pa.field("Minute", pa.int64(), nullable=False),  # start of the minute, ns
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        pa.field("Bucket", pa.int16(), nullable=False),
        pa.field("Calls", pa.int64(), nullable=False),
        pa.field("Errors", pa.int64(), nullable=False),
        pa.field("DurationSum", pa.int64(), nullable=False),  # ns
    ]
)
KEY_COLUMNS: Final = ("Minute", "ServiceName", "SpanName", "SpanKind", "Bucket")
SERIES_COLUMNS: Final = ("ServiceName", "SpanName", "SpanKind")

# The OpenTelemetry Collector spanmetrics connector's default histogram bounds (ms).
EXPOSITION_BOUNDS_MS: Final = (
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0,
    1000.0, 1400.0, 2000.0, 5000.0, 10000.0, 15000.0,
)  # fmt: skip

EXPOSITION_SCHEMA: Final = pa.schema(
    [
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        pa.field("StatusCode", pa.int8(), nullable=False),
        pa.field("Bound", pa.int16(), nullable=False),  # index into bounds; len(bounds): +Inf
        pa.field("Calls", pa.int64(), nullable=False),
        pa.field("DurationSum", pa.int64(), nullable=False),
        pa.field("TraceId", pa.string(), nullable=False),  # the newest span's: an exemplar
        pa.field("Duration", pa.int64(), nullable=False),  # that span's duration
        pa.field("Timestamp", pa.int64(), nullable=False),  # that span's start
    ]
)


def buckets_of(durations_ns: pa.Array) -> pa.Array:
    """The latency bucket (int16) of each duration (below 1 ns counts as 1 ns)."""
    clipped = pc.cast(pc.max_element_wise(durations_ns, pa.scalar(1, pa.int64())), pa.float64())
    scaled = pc.multiply(pc.log2(clipped), pa.scalar(float(BUCKETS_PER_OCTAVE)))
    return pc.cast(pc.floor(scaled), pa.int16())


def bucket_value_ns(bucket: float) -> float:
    """The representative duration of a bucket: its geometric middle."""
    return float(2 ** ((bucket + 0.5) / BUCKETS_PER_OCTAVE))


def quantile_bucket(buckets: Sequence[int], counts: Sequence[int], q: float) -> int | None:
    """The bucket holding quantile ``q`` of one histogram (``buckets`` ascending): the first
    whose cumulative count reaches ``q`` of the total. None when empty. (Per bucket, not per
    span: a histogram has at most a few hundred.)"""
    total = sum(counts)
    if total <= 0:
        return None
    for bucket, running in zip(buckets, itertools.accumulate(counts), strict=True):
        if running >= q * total:
            return int(bucket)
    return int(buckets[-1])


def quantile_ns(buckets: Sequence[int], counts: Sequence[int], q: float) -> float | None:
    bucket = quantile_bucket(buckets, counts, q)
    return None if bucket is None else bucket_value_ns(bucket)


def max_relative_error() -> float:
    """The most a quantile read from the buckets can be off, relative to the true value."""
    return math.pow(2, 1 / (2 * BUCKETS_PER_OCTAVE)) - 1


def _column(batch: SpanBatch, name: str) -> pa.Array:
    return batch.column(name).combine_chunks()


def aggregate(batch: SpanBatch) -> pa.Table:
    """The batch's spans as ``AGGREGATE_SCHEMA`` rows (one per key that occurs)."""
    if batch.num_rows == 0:
        return AGGREGATE_SCHEMA.empty_table()
    starts = _column(batch, "Timestamp")
    minute = pa.scalar(MINUTE_NS, pa.int64())
    durations = _column(batch, "Duration")
    errors = pc.equal(_column(batch, "StatusCode"), pa.scalar(int(StatusCode.ERROR), pa.int8()))
    keyed = pa.table(
        {
            "Minute": pc.multiply(pc.divide(starts, minute), minute),
            "ServiceName": _column(batch, "ServiceName"),
            "SpanName": _column(batch, "SpanName"),
            "SpanKind": _column(batch, "SpanKind"),
            "Bucket": buckets_of(durations),
            "Error": pc.cast(errors, pa.int64()),
            "Duration": durations,
        }
    )
    grouped = keyed.group_by(list(KEY_COLUMNS), use_threads=False).aggregate(
        [("Duration", "count"), ("Error", "sum"), ("Duration", "sum")]
    )
    return pa.table(
        {
            **{name: grouped.column(name) for name in KEY_COLUMNS},
            "Calls": grouped.column("Duration_count"),
            "Errors": grouped.column("Error_sum"),
            "DurationSum": grouped.column("Duration_sum"),
        },
        schema=AGGREGATE_SCHEMA,
    )


def merge(tables: Sequence[pa.Table]) -> pa.Table:
    """Aggregate rows of several tables combined: rows of one key added up."""
    if not tables:
        return AGGREGATE_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    grouped = table.group_by(list(KEY_COLUMNS), use_threads=False).aggregate(
        [("Calls", "sum"), ("Errors", "sum"), ("DurationSum", "sum")]
    )
    return pa.table(
        {
            **{name: grouped.column(name) for name in KEY_COLUMNS},
            "Calls": grouped.column("Calls_sum"),
            "Errors": grouped.column("Errors_sum"),
            "DurationSum": grouped.column("DurationSum_sum"),
        },
        schema=AGGREGATE_SCHEMA,
    )


def exposition(batch: SpanBatch, bounds_ms: Sequence[float] = EXPOSITION_BOUNDS_MS) -> pa.Table:
    """The batch as ``EXPOSITION_SCHEMA`` rows: calls and duration per (service, operation,
    kind, status, histogram bound), with the newest span's trace id per row as an exemplar."""
    if batch.num_rows == 0:
        return EXPOSITION_SCHEMA.empty_table()
    durations = _column(batch, "Duration")
    # Prometheus buckets are upper-inclusive: a span's bucket is the number of bounds below
    # its duration (one vectorised comparison per bound).
    bound = pa.repeat(pa.scalar(0, pa.int16()), batch.num_rows)
    for bound_ms in bounds_ms:
        below = pc.cast(pc.less(pa.scalar(int(bound_ms * 1e6), pa.int64()), durations), pa.int16())
        bound = pc.add(bound, below)
    keyed = pa.table(
        {
            "ServiceName": _column(batch, "ServiceName"),
            "SpanName": _column(batch, "SpanName"),
            "SpanKind": _column(batch, "SpanKind"),
            "StatusCode": _column(batch, "StatusCode"),
            "Bound": bound,
            "Duration": durations,
            "TraceId": _column(batch, "TraceId"),
            "Timestamp": _column(batch, "Timestamp"),
        }
    ).sort_by("Timestamp")
    keys = ["ServiceName", "SpanName", "SpanKind", "StatusCode", "Bound"]
    grouped = keyed.group_by(keys, use_threads=False).aggregate(
        [
            ("Duration", "count"),
            ("Duration", "sum"),
            ("TraceId", "last"),
            ("Duration", "last"),
            ("Timestamp", "last"),
        ]
    )
    return pa.table(
        {
            **{name: grouped.column(name) for name in keys},
            "Calls": grouped.column("Duration_count"),
            "DurationSum": grouped.column("Duration_sum"),
            "TraceId": grouped.column("TraceId_last"),
            "Duration": grouped.column("Duration_last"),
            "Timestamp": grouped.column("Timestamp_last"),
        },
        schema=EXPOSITION_SCHEMA,
    )
