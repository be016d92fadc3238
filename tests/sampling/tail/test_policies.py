"""Each tail-sampling policy alone, on hand-built trace tables."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from breadcrumbs.sampling.tail.policies import (
    TRACE_SCHEMA,
    Context,
    LatencyStats,
    OperationSightings,
    Params,
    error,
    latency,
    probabilistic,
    rare_operation,
    rate_limit,
    trace_randomness,
)

MS = 1_000_000


def traces(
    rows: list[tuple[str, str, int, bool]], *, rarest: list[float] | None = None
) -> pa.Table:
    """(service, operation, duration ns, error) per trace; trace ids numbered."""
    count = len(rows)
    return pa.Table.from_arrays(
        [
            pa.array([f"{i + 1:032x}" for i in range(count)], pa.string()),
            pa.array([r[0] for r in rows], pa.string()),
            pa.array([r[1] for r in rows], pa.string()),
            pa.array([r[2] for r in rows], pa.int64()),
            pa.array([r[3] for r in rows], pa.bool_()),
            pa.array([1] * count, pa.int64()),
            pa.array(rarest or [math.inf] * count, pa.float64()),
        ],
        schema=TRACE_SCHEMA,
    )


def test_error_keeps_exactly_the_traces_with_an_error() -> None:
    table = traces([("a", "x", MS, False), ("a", "x", MS, True), ("b", "y", MS, True)])
    assert error(table, Context(), Params(), "error").tolist() == [False, True, True]


def test_latency_per_operation_threshold_and_default() -> None:
    params = Params(threshold_s=1.0, operations={("shop", "GET /slow"): 0.5})
    table = traces(
        [
            ("shop", "GET /slow", 600 * MS, False),  # over its own 500 ms
            ("shop", "GET /fast", 600 * MS, False),  # under the default 1 s
            ("shop", "GET /fast", 1_500 * MS, False),  # over the default
        ]
    )
    assert latency(table, Context(), params, "latency").tolist() == [True, False, True]


def test_latency_against_the_operations_recent_percentile() -> None:
    stats = LatencyStats(window=100)
    for duration in range(1, 101):
        stats.observe(("shop", "GET /"), duration * MS)
    context = Context(latency=stats)
    table = traces([("shop", "GET /", 99 * MS, False), ("shop", "GET /", 90 * MS, False)])
    kept = latency(table, context, Params(percentile=95.0), "latency")
    assert kept.tolist() == [True, False]
    # Too few samples: no percentile yet, so nothing is slow by it.
    few = Context(latency=LatencyStats())
    few.latency.observe(("shop", "GET /"), MS)
    assert not latency(table, few, Params(percentile=95.0), "latency").any()


def test_rare_operation_keeps_new_and_rarely_seen_operations() -> None:
    table = traces([("a", "x", MS, False)] * 3, rarest=[0.0, 3.0, 50.0])
    assert rare_operation(table, Context(), Params(below=1), "rare").tolist() == [
        True,
        False,
        False,
    ]
    assert rare_operation(table, Context(), Params(below=5), "rare").tolist() == [True, True, False]


def test_sightings_decay_and_are_bounded() -> None:
    sightings = OperationSightings(half_life_s=10.0, max_operations=2)
    sightings.decay(0.0)
    sightings.add(("a", "x"), 8)
    sightings.add(("a", "y"), 1)
    sightings.add(("a", "z"), 1)  # beyond the bound: not tracked, counts as common
    assert sightings.seen(("a", "z")) == math.inf
    sightings.decay(20.0)
    assert sightings.seen(("a", "x")) == 2.0


def test_rate_limit_per_service_refills_over_time() -> None:
    context = Context(now=100.0)
    table = traces([("a", "x", MS, False)] * 10 + [("b", "y", MS, False)] * 3)
    kept = rate_limit(table, context, Params(traces_per_second=4), "limit")
    assert kept[:10].sum() == 4
    assert kept[10:].sum() == 3
    assert rate_limit(table, context, Params(traces_per_second=4), "limit")[:10].sum() == 0
    context.now = 100.5  # half a second: two more for a
    assert rate_limit(table, context, Params(traces_per_second=4), "limit")[:10].sum() == 2


def test_probabilistic_keeps_about_the_rate_by_trace_id() -> None:
    rng = np.random.default_rng(7)
    ids = [
        f"{int(a):016x}{int(b):016x}"
        for a, b in rng.integers(0, 2**64, size=(20_000, 2), dtype=np.uint64)
    ]
    table = traces([("a", "x", MS, False)] * len(ids)).set_column(
        0, TRACE_SCHEMA.field(0), pa.array(ids, pa.string())
    )
    kept = probabilistic(table, Context(), Params(rate=0.1), "probabilistic")
    assert abs(kept.mean() - 0.1) < 0.01
    again = probabilistic(table.slice(0, 1000), Context(), Params(rate=0.1), "probabilistic")
    assert again.tolist() == kept[:1000].tolist()  # the same trace, the same decision


def test_randomness_is_the_first_56_bits_of_the_trace_id() -> None:
    ids = pa.array(["0123456789abcdef0000000000000000", "FFFFFFFFFFFFFF000000000000000000"])
    assert trace_randomness(ids).tolist() == [0x0123456789ABCD, 0xFFFFFFFFFFFFFF]
    assert trace_randomness(ids.slice(1)).tolist() == [0xFFFFFFFFFFFFFF]
