"""RED metrics (rate, errors, duration) as compact, mergeable aggregates of span columns.

One row per **series** (service, operation, span kind, status code) and time bucket (a minute,
or a coarser level's 5 min or hour: ``LEVELS_NS``) holding the spans stored (``Spans``,
exact), their adjusted counts summed (``Calls``: each span weighted by the sampling
probability it carries, ``sampling.adjusted_count``; equal to ``Spans`` for unsampled traffic),
the weighted errors and duration sum, and a latency histogram as two parallel lists
(``Buckets`` ascending, ``Counts`` weighted). Rows of one key merge by addition (``merge``),
so per-flush rows, a minute's several flushes, late spans and a level rolled up from a finer
one (``rollup``) all combine exactly the same way; a dashboard over a day reads one row per
series and hour, never spans.

Counts are float64, not scaled integers: an adjusted count 1/p is rarely a whole or dyadic
number (p = 0.1), and a fixed point wide enough for 2^56 (the largest adjusted count) times a
day of traffic would overflow int64. float64 adds whole and power-of-two weights (unsampled
traffic, OpenTelemetry's power-of-two samplers) exactly up to 2^53 per row; other weights are
off by ~1e-16 relative, far below a sampled estimate's own variance. ``Spans`` stays an exact
integer, so an answer knows whether it is an estimate (``Calls != Spans``).

Latency buckets are logarithmic: bucket ``i`` holds durations in [2^(i/8), 2^((i+1)/8)) ns
(OpenTelemetry's exponential histogram at scale 3): a fixed layout over every duration (1 ns
to centuries in at most 505 buckets; a series touches 10-40). A quantile is read as the
geometric middle of the bucket holding it (nearest rank), so its relative error against the
exact nearest-rank quantile of the raw spans is at most 2^(1/16) - 1 = 4.4%, whatever the
range (``max_relative_error``; property-tested).

Everything here is whole-column Arrow and numpy: no per-span Python.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, StatusCode
from breadcrumbs.sampling.adjusted_count import adjusted_count

MINUTE_NS: Final = 60 * 10**9
LEVELS_NS: Final = (MINUTE_NS, 5 * MINUTE_NS, 60 * MINUTE_NS)
"""The kept resolutions, finest first; each divides the next."""
BUCKETS_PER_OCTAVE: Final = 8

AGGREGATE_SCHEMA: Final = pa.schema(
    [
        pa.field("Time", pa.int64(), nullable=False),  # start of the row's bucket, ns
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        pa.field("StatusCode", pa.int8(), nullable=False),
        pa.field("Spans", pa.int64(), nullable=False),  # spans stored, unweighted
        pa.field("Calls", pa.float64(), nullable=False),  # adjusted counts summed
        pa.field("Errors", pa.float64(), nullable=False),
        pa.field("DurationSum", pa.float64(), nullable=False),  # ns, weighted
        pa.field("Buckets", pa.list_(pa.int16()), nullable=False),  # ascending
        pa.field("Counts", pa.list_(pa.float64()), nullable=False),  # weighted, per bucket
    ]
)
KEY_COLUMNS: Final = ("Time", "ServiceName", "SpanName", "SpanKind", "StatusCode")
SERIES_COLUMNS: Final = ("ServiceName", "SpanName", "SpanKind")
_TOTALS: Final = ("Spans", "Calls", "Errors", "DurationSum")

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
        pa.field("Calls", pa.float64(), nullable=False),  # adjusted counts summed
        pa.field("DurationSum", pa.float64(), nullable=False),  # ns, weighted
        pa.field("Spans", pa.int64(), nullable=False),  # unweighted
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


def quantile_bucket(buckets: Sequence[int], counts: Sequence[float], q: float) -> int | None:
    """The bucket holding quantile ``q`` of one histogram (``buckets`` ascending): the first
    whose cumulative count reaches ``q`` of the total. None when empty. (Per bucket, not per
    span: a histogram has at most a few hundred.) The reference ``summarize`` is tested against."""
    total = sum(counts)
    if total <= 0:
        return None
    for bucket, running in zip(buckets, itertools.accumulate(counts), strict=True):
        if running >= q * total:
            return int(bucket)
    return int(buckets[-1])


def quantile_ns(buckets: Sequence[int], counts: Sequence[float], q: float) -> float | None:
    bucket = quantile_bucket(buckets, counts, q)
    return None if bucket is None else bucket_value_ns(bucket)


def max_relative_error() -> float:
    """The most a quantile read from the buckets can be off, relative to the true value."""
    return math.pow(2, 1 / (2 * BUCKETS_PER_OCTAVE)) - 1


def _column(batch: SpanBatch, name: str) -> pa.Array:
    return batch.column(name).combine_chunks()


def _floor(times: pa.Array, resolution_ns: int) -> pa.Array:
    step = pa.scalar(resolution_ns, pa.int64())
    return pc.multiply(pc.divide(times, step), step)  # times are never negative


def _compact(flat: pa.Table) -> pa.Table:
    """``AGGREGATE_SCHEMA`` rows from per-bucket rows (``KEY_COLUMNS``, ``Bucket`` and the
    totals, ``Calls`` being the bucket's count): one row per key, buckets ascending."""
    keys = list(KEY_COLUMNS)
    per_bucket = flat.group_by([*keys, "Bucket"], use_threads=False).aggregate(
        [(name, "sum") for name in _TOTALS]
    )
    # Sorted, then listed in order (single-threaded grouping keeps each group's input order).
    per_bucket = per_bucket.sort_by([(name, "ascending") for name in [*keys, "Bucket"]])
    grouped = per_bucket.group_by(keys, use_threads=False).aggregate(
        [*((f"{name}_sum", "sum") for name in _TOTALS), ("Bucket", "list"), ("Calls_sum", "list")]
    )
    return pa.table(
        {
            **{name: grouped.column(name) for name in keys},
            **{name: grouped.column(f"{name}_sum_sum") for name in _TOTALS},
            "Buckets": grouped.column("Bucket_list"),
            "Counts": grouped.column("Calls_sum_list"),
        },
        schema=AGGREGATE_SCHEMA,
    )


def aggregate(batch: SpanBatch, resolution_ns: int = MINUTE_NS) -> pa.Table:
    """The batch's spans as ``AGGREGATE_SCHEMA`` rows of ``resolution_ns``, each span weighted
    by the adjusted count its ``TraceState`` carries."""
    if batch.num_rows == 0:
        return AGGREGATE_SCHEMA.empty_table()
    durations = _column(batch, "Duration")
    weights = adjusted_count(_column(batch, "TraceState"))
    status = _column(batch, "StatusCode")
    errors = pc.equal(status, pa.scalar(int(StatusCode.ERROR), pa.int8()))
    flat = pa.table(
        {
            "Time": _floor(_column(batch, "Timestamp"), resolution_ns),
            "ServiceName": _column(batch, "ServiceName"),
            "SpanName": _column(batch, "SpanName"),
            "SpanKind": _column(batch, "SpanKind"),
            "StatusCode": status,
            "Bucket": buckets_of(durations),
            "Spans": pa.repeat(pa.scalar(1, pa.int64()), batch.num_rows),
            "Calls": weights,
            "Errors": pc.if_else(errors, weights, pa.scalar(0.0, pa.float64())),
            "DurationSum": pc.multiply(pc.cast(durations, pa.float64()), weights),
        }
    )
    return _compact(flat)


def _flat(table: pa.Table) -> pa.Table:
    """The per-bucket rows of aggregate rows (``_compact``'s input): each row's totals go with
    its first bucket, the others carry zeros (sums stay the same)."""
    parents = pc.list_parent_indices(table.column("Buckets"))
    counts = pc.list_flatten(table.column("Counts"))
    first = np.zeros(len(parents), dtype=bool)
    lengths = pc.list_value_length(table.column("Buckets")).to_numpy(zero_copy_only=False)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    first[starts[lengths > 0]] = True
    is_first = pa.array(first)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        name: table.column(name).take(parents) for name in KEY_COLUMNS
    }
    columns["Bucket"] = pc.list_flatten(table.column("Buckets"))
    for name in ("Spans", "Errors", "DurationSum"):
        taken = table.column(name).take(parents)
        zero = pa.scalar(0, table.schema.field(name).type)
        columns[name] = pc.if_else(is_first, taken, zero)
    columns["Calls"] = counts  # a bucket's count: its share of the row's calls
    return pa.table(columns)


def merge(tables: Sequence[pa.Table], resolution_ns: int | None = None) -> pa.Table:
    """Aggregate rows of several tables combined (rows of one key added up), rolled up to
    ``resolution_ns`` when given (a multiple of the rows' own)."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return AGGREGATE_SCHEMA.empty_table()
    table = pa.concat_tables(tables).combine_chunks()
    flat = _flat(table)
    if resolution_ns is not None:
        flat = flat.set_column(0, "Time", _floor(flat.column("Time"), resolution_ns))
    return _compact(flat)


def rollup(rows: pa.Table, resolution_ns: int) -> pa.Table:
    """``rows`` at the coarser ``resolution_ns``: exactly what aggregating their spans at it
    gives."""
    return merge([rows], resolution_ns)


SUMMARY_SCHEMA: Final = pa.schema(
    [
        pa.field("Step", pa.int64(), nullable=False),
        pa.field("ServiceName", pa.string(), nullable=False),
        pa.field("SpanName", pa.string(), nullable=False),
        pa.field("SpanKind", pa.int8(), nullable=False),
        pa.field("Calls", pa.float64(), nullable=False),
        pa.field("Errors", pa.float64(), nullable=False),
        pa.field("DurationSum", pa.float64(), nullable=False),
        pa.field("Quantiles", pa.list_(pa.float64()), nullable=False),
        pa.field("Spans", pa.int64(), nullable=False),
    ]
)
GROUP_COLUMNS: Final = ("Step", "ServiceName", "SpanName", "SpanKind")


_GROUPS_PER_CHUNK: Final = 1024  # groups per dense histogram pass (x their bucket range)


def _group_ids(rows: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(group of each row, first row of each group), groups numbered by series, then step
    (services, operations, kinds and steps ascending)."""
    key = np.zeros(rows.num_rows, dtype=np.int64)
    for name in (*SERIES_COLUMNS, "Step"):
        column = rows.column(name)
        if pa.types.is_string(column.type):
            # Dictionary indices in sorted order: rank of each value among the distinct ones.
            encoded = pc.dictionary_encode(column).combine_chunks()
            ranks = np.empty(len(encoded.dictionary), dtype=np.int64)
            ranks[pc.sort_indices(encoded.dictionary).to_numpy()] = np.arange(len(ranks))
            values = ranks[encoded.indices.to_numpy(zero_copy_only=False)]
        else:
            values = column.to_numpy().astype(np.int64)
        values = np.unique(values, return_inverse=True)[1].reshape(-1)
        key = key * (int(values.max()) + 1) + values
    distinct, group_of_row = np.unique(key, return_inverse=True)
    first = np.full(len(distinct), rows.num_rows, dtype=np.int64)
    np.minimum.at(first, group_of_row.reshape(-1), np.arange(rows.num_rows))
    return group_of_row.reshape(-1), first


def summarize(rows: pa.Table, quantiles: Sequence[float]) -> pa.Table:
    """``SUMMARY_SCHEMA`` rows (totals and quantiles per group), ordered by series then step,
    from aggregate rows carrying a ``Step`` (a group: the rows with the same
    ``GROUP_COLUMNS``, in any order). A group's histogram is the sum of its rows'; its quantile
    ``q`` is the middle of the first bucket whose running count reaches ``q`` of the total, as
    ``quantile_bucket``. All numpy, no sort of bucket entries: each chunk of groups adds its
    entries into a dense groups x buckets matrix (``np.bincount``) and reads the running
    counts along it."""
    if rows.num_rows == 0:
        return SUMMARY_SCHEMA.empty_table()
    rows = rows.combine_chunks()
    group_of_row, first_rows = _group_ids(rows)
    groups = len(first_rows)

    def total(name: str) -> np.ndarray:
        return np.bincount(group_of_row, weights=rows.column(name).to_numpy(), minlength=groups)

    lengths = pc.list_value_length(rows.column("Buckets")).to_numpy(zero_copy_only=False)
    buckets = pc.list_flatten(rows.column("Buckets")).to_numpy().astype(np.int64)
    counts = pc.list_flatten(rows.column("Counts")).to_numpy()
    values = np.full((groups, len(quantiles)), np.nan)
    if len(buckets) and quantiles:
        # Entries by group (rows come in any order), so a chunk of groups is one slice; groups
        # are numbered by series, so a chunk's buckets span about one series' range. Rows are
        # sorted, and their entries follow as whole ranges (no sort of the entries).
        row_order = np.argsort(group_of_row, kind="stable")
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        moved = lengths[row_order]
        moved_starts = np.concatenate(([0], np.cumsum(moved)[:-1]))
        index = np.repeat(offsets[row_order] - moved_starts, moved) + np.arange(len(buckets))
        entry_group = np.repeat(group_of_row[row_order], moved)
        buckets, counts = buckets[index], counts[index]
        bounds = np.searchsorted(
            entry_group, np.arange(0, groups + _GROUPS_PER_CHUNK, _GROUPS_PER_CHUNK)
        )
        targets = np.asarray(quantiles, dtype=np.float64)
        for chunk, first in enumerate(range(0, groups, _GROUPS_PER_CHUNK)):
            size = min(_GROUPS_PER_CHUNK, groups - first)
            a, b = int(bounds[chunk]), int(bounds[chunk + 1])
            if a == b:
                continue
            low, high = int(buckets[a:b].min()), int(buckets[a:b].max())
            width = high - low + 1
            cells = (entry_group[a:b] - first) * width + (buckets[a:b] - low)
            dense = np.bincount(cells, weights=counts[a:b], minlength=size * width)
            running = np.cumsum(dense.reshape(size, width), axis=1)
            totals = running[:, -1]
            # Per quantile, the buckets whose running count is still short of q of the total.
            short = (running[:, None, :] < (targets[None, :] * totals[:, None])[:, :, None]).sum(
                axis=2
            )
            chosen = 2 ** ((low + np.minimum(short, width - 1) + 0.5) / BUCKETS_PER_OCTAVE)
            values[first : first + size] = np.where((totals > 0)[:, None], chosen, np.nan)
    flat_values = pa.array(values.reshape(-1), pa.float64(), from_pandas=True)  # NaN: null
    offsets = pa.array(np.arange(groups + 1, dtype=np.int32) * len(quantiles), pa.int32())
    return pa.table(
        {
            **{name: rows.column(name).take(pa.array(first_rows)) for name in GROUP_COLUMNS},
            "Calls": total("Calls"),
            "Errors": total("Errors"),
            "DurationSum": total("DurationSum"),
            "Quantiles": pa.ListArray.from_arrays(offsets, flat_values),
            "Spans": total("Spans").astype(np.int64),
        },
        schema=SUMMARY_SCHEMA,
    )


def exposition(batch: SpanBatch, bounds_ms: Sequence[float] = EXPOSITION_BOUNDS_MS) -> pa.Table:
    """The batch as ``EXPOSITION_SCHEMA`` rows: calls and duration per (service, operation,
    kind, status, histogram bound), with the newest span's trace id per row as an exemplar."""
    if batch.num_rows == 0:
        return EXPOSITION_SCHEMA.empty_table()
    durations = _column(batch, "Duration")
    weights = adjusted_count(_column(batch, "TraceState"))
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
            "Weight": weights,
            "WeightedDuration": pc.multiply(pc.cast(durations, pa.float64()), weights),
            "TraceId": _column(batch, "TraceId"),
            "Timestamp": _column(batch, "Timestamp"),
        }
    ).sort_by("Timestamp")
    keys = ["ServiceName", "SpanName", "SpanKind", "StatusCode", "Bound"]
    grouped = keyed.group_by(keys, use_threads=False).aggregate(
        [
            ("Weight", "sum"),
            ("WeightedDuration", "sum"),
            ("Duration", "count"),
            ("TraceId", "last"),
            ("Duration", "last"),
            ("Timestamp", "last"),
        ]
    )
    return pa.table(
        {
            **{name: grouped.column(name) for name in keys},
            "Calls": grouped.column("Weight_sum"),
            "DurationSum": grouped.column("WeightedDuration_sum"),
            "Spans": grouped.column("Duration_count"),
            "TraceId": grouped.column("TraceId_last"),
            "Duration": grouped.column("Duration_last"),
            "Timestamp": grouped.column("Timestamp_last"),
        },
        schema=EXPOSITION_SCHEMA,
    )
