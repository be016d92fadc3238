"""RED aggregation math against a reference computed span by span from the raw spans."""

from __future__ import annotations

import math
import random

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from breadcrumbs.analysis import red
from breadcrumbs.model import Span, SpanBatch, SpanKind, StatusCode, batch_from_spans

T0 = 1_699_999_980 * 10**9  # on a minute boundary
MINUTE = red.MINUTE_NS


# Trace states with power-of-two adjusted counts (1, 2, 4, 8): float sums of these are exact,
# so merged and rolled-up rows must equal the reference bit for bit.
STATES = {"": 1.0, "ot=th:8": 2.0, "ot=th:c": 4.0, "x=y,ot=th:e;rv:01": 8.0}


def _batch(
    rows: list[tuple[int, str, str, int, int, bool]], states: list[str] | None = None
) -> SpanBatch:
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
                trace_state=states[i] if states else "",
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
_rows = st.lists(st.tuples(_row, st.sampled_from(sorted(STATES))), min_size=1, max_size=60)

Key = tuple[int, str, str, int, int]


def _reference(
    rows: list[tuple[tuple[int, str, str, int, int, bool], str]], resolution: int = MINUTE
) -> dict[Key, tuple[int, float, float, float, dict[int, float]]]:
    """Span by span: (spans, calls, errors, duration sum, {bucket: count}) per key."""
    out: dict[Key, tuple[int, float, float, float, dict[int, float]]] = {}
    for (offset, service, name, kind, duration, error), state in rows:
        start = T0 + offset
        status = int(StatusCode.ERROR if error else StatusCode.UNSET)
        key = (start - start % resolution, service, name, kind, status)
        spans, calls, errors, total, histogram = out.get(key, (0, 0.0, 0.0, 0.0, {}))
        weight = STATES[state]
        bucket = _reference_bucket(duration)
        histogram = {**histogram, bucket: histogram.get(bucket, 0.0) + weight}
        out[key] = (
            spans + 1, calls + weight, errors + weight * error, total + weight * duration,
            histogram,
        )  # fmt: skip
    return out


def _as_reference(table: pa.Table) -> dict[Key, tuple[int, float, float, float, dict[int, float]]]:
    got = {}
    for row in table.to_pylist():
        assert row["Buckets"] == sorted(row["Buckets"])  # ascending, no repeats
        assert len(set(row["Buckets"])) == len(row["Buckets"])
        key = (row["Time"], row["ServiceName"], row["SpanName"], row["SpanKind"], row["StatusCode"])
        assert key not in got  # one row per key
        histogram = dict(zip(row["Buckets"], row["Counts"], strict=True))
        got[key] = (row["Spans"], row["Calls"], row["Errors"], row["DurationSum"], histogram)
    return got


def _split(rows: list[tuple[tuple[int, str, str, int, int, bool], str]]) -> SpanBatch:
    return _batch([r for r, _ in rows], [s for _, s in rows])


@given(_rows)
@settings(max_examples=60, deadline=None)
def test_aggregate_equals_the_span_by_span_reference(
    rows: list[tuple[tuple[int, str, str, int, int, bool], str]],
) -> None:
    table = red.aggregate(_split(rows))
    assert table.schema == red.AGGREGATE_SCHEMA
    assert _as_reference(table) == _reference(rows)


@given(_rows, _rows, _rows)
@settings(max_examples=40, deadline=None)
def test_merging_and_rolling_up_equal_aggregating_everything(
    first: list[tuple[tuple[int, str, str, int, int, bool], str]],
    second: list[tuple[tuple[int, str, str, int, int, bool], str]],
    third: list[tuple[tuple[int, str, str, int, int, bool], str]],
) -> None:
    parts = [red.aggregate(_split(part)) for part in (first, second, third)]
    everything = first + second + third
    assert _as_reference(red.merge(parts)) == _reference(everything)
    for level in red.LEVELS_NS[1:]:
        # Minute rows rolled up (in any grouping) are exactly the spans aggregated at the level.
        rolled = red.merge([red.rollup(parts[0], level), red.merge(parts[1:], level)], level)
        assert _as_reference(rolled) == _reference(everything, level)
        assert _as_reference(red.aggregate(_split(everything), level)) == _reference(
            everything, level
        )


def _summary(table: pa.Table, quantiles: tuple[float, ...]) -> pa.Table:
    """Every row in one group (step 0, one series), as the store hands rows to summarize."""
    n = table.num_rows
    rows = pa.table(
        {
            "Step": pa.array([0] * n, pa.int64()),
            "ServiceName": pa.array(["s"] * n, pa.string()),
            "SpanName": pa.array([""] * n, pa.string()),
            "SpanKind": pa.array([-1] * n, pa.int8()),
            **{name: table.column(name) for name in ("Spans", "Calls", "Errors", "DurationSum")},
            "Buckets": table.column("Buckets"),
            "Counts": table.column("Counts"),
        }
    )
    return red.summarize(rows, quantiles)


@given(
    st.lists(st.integers(1, 10**12), min_size=1, max_size=300),
    st.lists(st.sampled_from(sorted(STATES)), min_size=300, max_size=300),
    st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]),
)
@settings(max_examples=150, deadline=None)
def test_quantiles_are_within_the_stated_error_of_the_exact_ones(
    durations: list[int], states: list[str], q: float
) -> None:
    """Against the exact nearest-rank quantile of the raw durations, each span repeated as
    many times as its adjusted count says, over minutes, statuses and rows merged."""
    rows = [
        ((i * 7_000_000_000 % (3 * MINUTE), "s", "op", 2, d, i % 5 == 0), states[i])
        for i, d in enumerate(durations)
    ]
    table = red.aggregate(_split(rows))  # several minutes and statuses: several rows
    (estimate,) = _summary(table, (q,)).column("Quantiles")[0].as_py()
    expanded = [d for (_, _, _, _, d, _), state in rows for _ in range(int(STATES[state]))]
    exact = _exact_quantile(expanded, q)
    assert abs(estimate - exact) / exact <= red.max_relative_error() + 1e-12


def test_quantiles_of_realistic_shapes() -> None:
    rng = random.Random(7)
    for shape in (
        [rng.lognormvariate(17, 1.2) for _ in range(5_000)],  # ~25 ms, long tail
        [rng.uniform(1e6, 2e6) for _ in range(5_000)],
        [rng.expovariate(1 / 3e8) for _ in range(5_000)],
    ):
        durations = [int(d) + 1 for d in shape]
        table = red.aggregate(
            _batch([(i * 10**7, "s", "op", 2, d, False) for i, d in enumerate(durations)])
        )
        quantiles = (0.5, 0.95, 0.99)
        estimates = _summary(table, quantiles).column("Quantiles")[0].as_py()
        whole = red.merge([table], 3600 * 10**9)
        assert whole.num_rows == 1
        (row,) = whole.to_pylist()
        for q, estimate in zip(quantiles, estimates, strict=True):
            exact = _exact_quantile(durations, q)
            assert abs(estimate - exact) / exact <= red.max_relative_error() + 1e-9
            assert estimate == red.quantile_ns(row["Buckets"], row["Counts"], q)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # group
            st.lists(st.tuples(st.integers(0, 400), st.integers(1, 50)), min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from([(0.5,), (0.5, 0.95, 0.99), ()]),
)
@settings(max_examples=100, deadline=None)
def test_summarize_adds_up_groups_as_the_reference_does(
    rows: list[tuple[int, list[tuple[int, int]]]], quantiles: tuple[float, ...]
) -> None:
    rows = sorted(rows, key=lambda r: r[0])  # grouped rows are adjacent
    histograms = []
    for _, entries in rows:
        merged: dict[int, int] = {}
        for bucket, count in entries:
            merged[bucket] = merged.get(bucket, 0) + count
        histograms.append(sorted(merged.items()))
    table = pa.table(
        {
            "Step": pa.array([g for g, _ in rows], pa.int64()),
            "ServiceName": pa.array(["s"] * len(rows), pa.string()),
            "SpanName": pa.array(["o"] * len(rows), pa.string()),
            "SpanKind": pa.array([2] * len(rows), pa.int8()),
            "Spans": pa.array([sum(c for _, c in h) for h in histograms], pa.int64()),
            "Calls": pa.array([float(sum(c for _, c in h)) for h in histograms], pa.float64()),
            "Errors": pa.array([1.0] * len(rows), pa.float64()),
            "DurationSum": pa.array([5.0] * len(rows), pa.float64()),
            "Buckets": pa.array([[b for b, _ in h] for h in histograms], pa.list_(pa.int16())),
            "Counts": pa.array(
                [[float(c) for _, c in h] for h in histograms], pa.list_(pa.float64())
            ),
        }
    )
    got = red.summarize(table, quantiles).to_pylist()
    groups = sorted({g for g, _ in rows})
    assert [row["Step"] for row in got] == groups
    for row in got:
        members = [h for (g, _), h in zip(rows, histograms, strict=True) if g == row["Step"]]
        together: dict[int, float] = {}
        for histogram in members:
            for bucket, count in histogram:
                together[bucket] = together.get(bucket, 0.0) + count
        buckets = sorted(together)
        counts = [together[b] for b in buckets]
        assert row["Calls"] == sum(counts)
        assert row["Spans"] == sum(counts)
        assert row["Errors"] == len(members)
        assert row["Quantiles"] == [red.quantile_ns(buckets, counts, q) for q in quantiles]


def test_quantile_of_nothing_is_none() -> None:
    assert red.quantile_bucket([], [], 0.5) is None
    assert red.quantile_bucket([3], [0], 0.5) is None


def test_weighted_counts_from_trace_states() -> None:
    table = red.aggregate(
        _batch(
            [
                (0, "api", "GET /a", 2, 1_000_000, True),
                (59 * 10**9, "api", "GET /a", 2, 1_000_000, False),
                (MINUTE, "api", "GET /a", 2, 1_000_000, False),
            ],
            ["ot=th:c", "ot=th:8", "bogus=th:8"],
        )
    )
    rows = sorted(
        (r["Time"], r["StatusCode"], r["Spans"], r["Calls"], r["Errors"]) for r in table.to_pylist()
    )
    base = T0 - T0 % MINUTE
    assert rows == [(base, 0, 1, 2.0, 0.0), (base, 2, 1, 4.0, 4.0), (base + MINUTE, 0, 1, 1.0, 0.0)]


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
    assert (
        red.summarize(
            red.merge([]).append_column("Step", pa.array([], pa.int64())), (0.5,)
        ).num_rows
        == 0
    )
    assert red.buckets_of(pa.array([], pa.int64())).to_pylist() == []
