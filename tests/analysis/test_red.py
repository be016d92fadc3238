"""RED aggregation math against a reference computed span by span from the raw spans."""

from __future__ import annotations

import math
import random
from collections import Counter

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanBatch, SpanKind, StatusCode, batch_from_spans

T0 = 1_699_999_980 * 10**9  # on a minute boundary
MINUTE = red.MINUTE_NS


def _batch(rows: list[tuple[int, str, str, int, int, bool]]) -> SpanBatch:
    """(start offset ns, service, operation, kind, duration ns, error) per span."""
    return batch_from_spans(
        [
            Span(
                trace_id=f"{i + 1:032x}",
                span_id=f"{i + 1:016x}",
                name=name,
                service=service,
                start_ns=T0 + offset,
                duration_ns=duration,
                kind=SpanKind(kind),
                status=StatusCode.ERROR if error else StatusCode.UNSET,
            )
            for i, (offset, service, name, kind, duration, error) in enumerate(rows)
        ]
    )


def _reference_bucket(duration: int) -> int:
    return math.floor(math.log2(max(duration, 1)) * red.BUCKETS_PER_OCTAVE)


def _exact_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


_row = st.tuples(
    st.integers(0, 5 * MINUTE),
    st.sampled_from(["api", "db"]),
    st.sampled_from(["GET /a", "GET /b"]),
    st.sampled_from([1, 2, 3]),
    st.integers(0, 10**11),
    st.booleans(),
)


@given(st.lists(_row, min_size=1, max_size=60))
@settings(max_examples=60, deadline=None)
def test_aggregate_equals_the_span_by_span_reference(rows: list[tuple[int, ...]]) -> None:
    table = red.aggregate(_batch(rows))  # type: ignore[arg-type]
    calls: Counter[tuple[int, str, str, int, int]] = Counter()
    errors: Counter[tuple[int, str, str, int, int]] = Counter()
    sums: Counter[tuple[int, str, str, int, int]] = Counter()
    for offset, service, name, kind, duration, error in rows:
        start = T0 + offset
        key = (start - start % MINUTE, str(service), str(name), kind, _reference_bucket(duration))
        calls[key] += 1
        errors[key] += int(error)
        sums[key] += duration
    got = {
        (m, s, n, k, b): (c, e, d)
        for m, s, n, k, b, c, e, d in zip(
            *(table.column(i).to_pylist() for i in range(8)), strict=False
        )
    }
    assert got == {key: (calls[key], errors[key], sums[key]) for key in calls}


@given(st.lists(_row, min_size=1, max_size=40), st.lists(_row, min_size=1, max_size=40))
@settings(max_examples=40, deadline=None)
def test_merging_aggregates_equals_aggregating_everything(
    first: list[tuple[int, ...]], second: list[tuple[int, ...]]
) -> None:
    merged = red.merge([red.aggregate(_batch(first)), red.aggregate(_batch(second))])  # type: ignore[arg-type]
    whole = red.aggregate(_batch(first + second))  # type: ignore[arg-type]
    keys = list(red.KEY_COLUMNS)
    assert merged.sort_by([(k, "ascending") for k in keys]).equals(
        whole.sort_by([(k, "ascending") for k in keys])
    )


def test_quantiles_from_buckets_are_within_the_stated_error() -> None:
    rng = random.Random(7)
    for shape in (
        [rng.lognormvariate(17, 1.2) for _ in range(5_000)],  # ~25 ms, long tail
        [rng.uniform(1e6, 2e6) for _ in range(5_000)],
        [rng.expovariate(1 / 3e8) for _ in range(5_000)],
    ):
        durations = [int(d) + 1 for d in shape]
        table = red.aggregate(_batch([(0, "s", "op", 2, d, False) for d in durations]))
        ordered = table.sort_by("Bucket")
        buckets = ordered.column("Bucket").to_pylist()
        counts = ordered.column("Calls").to_pylist()
        for q in (0.5, 0.95, 0.99):
            estimate = red.quantile_ns(buckets, counts, q)
            exact = _exact_quantile(durations, q)
            assert estimate is not None
            assert abs(estimate - exact) / exact <= red.max_relative_error() + 1e-9


def test_quantile_of_nothing_is_none() -> None:
    assert red.quantile_bucket([], [], 0.5) is None
    assert red.quantile_bucket([3], [0], 0.5) is None


def test_error_counts_and_minutes() -> None:
    table = red.aggregate(
        _batch(
            [
                (0, "api", "GET /a", 2, 1_000_000, True),
                (59 * 10**9, "api", "GET /a", 2, 1_000_000, False),
                (MINUTE, "api", "GET /a", 2, 1_000_000, False),
            ]
        )
    )
    rows = sorted(
        zip(table.column("Minute").to_pylist(), table.column("Calls").to_pylist(),
            table.column("Errors").to_pylist(), strict=True)
    )  # fmt: skip
    base = T0 - T0 % MINUTE
    assert rows == [(base, 2, 1), (base + MINUTE, 1, 0)]


def test_exposition_buckets_are_upper_inclusive_with_the_newest_trace_as_exemplar() -> None:
    spans = _batch(
        [
            (0, "api", "GET /a", 2, 2_000_000, False),  # exactly 2 ms: the le="2" bucket
            (1, "api", "GET /a", 2, 2_000_001, False),  # just above: le="4"
            (2, "api", "GET /a", 2, 3_000_000, False),  # le="4", newer
            (3, "api", "GET /a", 2, 20_000_000_000, True),  # beyond 15 s: +Inf
        ]
    )
    table = red.exposition(spans)
    rows = {
        (status, bound): (calls, trace)
        for status, bound, calls, trace in zip(
            table.column("StatusCode").to_pylist(),
            table.column("Bound").to_pylist(),
            table.column("Calls").to_pylist(),
            table.column("TraceId").to_pylist(),
            strict=True,
        )
    }
    inf = len(red.EXPOSITION_BOUNDS_MS)
    assert rows == {
        (0, 0): (1, f"{1:032x}"),
        (0, 1): (2, f"{3:032x}"),
        (2, inf): (1, f"{4:032x}"),
    }


def test_empty_batches_give_empty_tables() -> None:
    empty = _batch([])
    assert red.aggregate(empty).num_rows == 0
    assert red.exposition(empty).num_rows == 0
    assert red.merge([]).schema == red.AGGREGATE_SCHEMA
    assert red.buckets_of(pa.array([], pa.int64())).to_pylist() == []
