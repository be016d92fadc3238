"""DuckDB-only: dependency counts kept per minute, and the horizon that bounds a call."""

from __future__ import annotations

from pathlib import Path

from breadcrumbs.model import Span, SpanKind, batch_from_spans
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import DependenciesQuery, DependencyLink
from breadcrumbs.store.duckdb import DuckDBStore, dependencies, sql

from . import traffic
from .test_store import TRAFFIC_WINDOWS, write_traffic


def _coverage(store: DuckDBStore) -> dependencies.Coverage | None:
    cur = store._conn.cursor()
    try:
        return dependencies.load(cur)
    finally:
        cur.close()


async def _assert_every_window_exact(store: DuckDBStore, spans: list[Span]) -> None:
    """Every traffic window's dependencies equal the definition over the spans written."""
    for end, lookback in TRAFFIC_WINDOWS:
        got = await store.dependencies(DependenciesQuery(traffic.T0 + end, lookback))
        want = traffic.links(spans, traffic.T0 + end, lookback)
        assert sorted(got, key=lambda d: (d.parent, d.child)) == want, (end, lookback)


async def test_counts_are_kept_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    store = DuckDBStore(path, dependency_refresh_share=1.0)  # a refresh after every write
    spans = await write_traffic(store)
    coverage = _coverage(store)
    assert coverage is not None
    # Most of the 50 minutes are answered from the kept counts.
    assert coverage.pairs_end - coverage.start >= 25 * 60 * 10**9
    assert coverage.peers_end - coverage.start >= 25 * 60 * 10**9
    await store.close()
    store = DuckDBStore(path)
    try:
        assert _coverage(store) == coverage
        await _assert_every_window_exact(store, spans)
    finally:
        await store.close()


async def test_spans_further_apart_than_the_horizon_are_no_call(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    t, ms = traffic.T0, traffic.MS
    late = t + sql.DEPENDENCY_HORIZON_NS + ms
    spans = [
        Span("0" * 31 + "1", "00000000000000c1", "call", "frontend", t, ms,
             kind=SpanKind.CLIENT, attributes={"peer.service": "cart"}),
        Span("0" * 31 + "1", "00000000000000c2", "serve", "cart", late, ms,
             parent_span_id="00000000000000c1", kind=SpanKind.SERVER),
    ]  # fmt: skip
    try:
        await store.write(batch_from_spans(spans))
        # The server span is too late to answer the client: the client's call is counted as
        # one to an uninstrumented peer, and the pair is no call.
        assert await store.dependencies(DependenciesQuery(late, late - t + 1)) == [
            DependencyLink("frontend", "cart", 1, 0)
        ]
        assert traffic.links(spans, late, late - t + 1, sql.DEPENDENCY_HORIZON_NS) == [
            DependencyLink("frontend", "cart", 1, 0)
        ]
    finally:
        await store.close()


async def test_a_store_without_counts_catches_up_by_refreshing(tmp_path: Path) -> None:
    # Spans stored with no counts kept (as by v4, before counts existed): a store opened on
    # them answers with the join until refreshes have counted them, then from the counts.
    path = tmp_path / "spans.duckdb"
    store = DuckDBStore(path, dependency_counts=False)
    spans = await write_traffic(store)
    await store.close()
    store = DuckDBStore(path, dependency_refresh_share=1.0)  # no waits between steps
    try:
        assert _coverage(store) is None
        steps = 0
        while await store.refresh_dependencies():
            steps += 1
        assert steps >= 2  # bounded stretches, not one long hold of the write lock
        coverage = _coverage(store)
        assert coverage is not None
        assert coverage.pairs_end - coverage.start >= 25 * 60 * 10**9
        await _assert_every_window_exact(store, spans)
    finally:
        await store.close()


async def test_refreshes_defer_to_their_cost_and_answers_stay_exact(tmp_path: Path) -> None:
    # A refresh waits in proportion to what the last one cost; with a vanishing share, the
    # first one (after the first write) is the only one. Queries join what is not counted, so
    # every answer stays exact, and refreshes without waits catch up.
    path = tmp_path / "spans.duckdb"
    metrics = SelfMetrics()
    uncounted = "breadcrumbs_store_dependencies_uncounted_seconds"
    store = DuckDBStore(path, dependency_refresh_share=1e-9, metrics=metrics)
    try:
        spans = await write_traffic(store)
        assert not await store.refresh_dependencies()  # its turn has not come
        deferred = _coverage(store)
        assert deferred is None or deferred.pairs_end - deferred.start <= 4 * 60 * 10**9
        assert (metrics.registry.get_sample_value(uncounted) or 0) >= 40 * 60  # of ~50 min
        await _assert_every_window_exact(store, spans)
    finally:
        await store.close()
    metrics = SelfMetrics()
    store = DuckDBStore(path, dependency_refresh_share=1.0, metrics=metrics)
    try:
        while await store.refresh_dependencies():
            pass
        caught_up = _coverage(store)
        assert caught_up is not None
        assert caught_up.pairs_end - caught_up.start >= 25 * 60 * 10**9
        # What is left is the newest stretch refreshes wait for: settling, then four units.
        assert 0 <= (metrics.registry.get_sample_value(uncounted) or -1) <= 80
        await _assert_every_window_exact(store, spans)
    finally:
        await store.close()


async def test_kept_counts_weight_sampled_calls_by_their_adjusted_count(tmp_path: Path) -> None:
    """Calls of traces sampled at 1/2 (``ot=th:8``) count two in the kept counts (read after
    the refresh and again after a reopen)."""
    store = DuckDBStore(tmp_path / "spans.duckdb", dependency_refresh_share=1.0)
    t, ms, minute = traffic.T0, traffic.MS, 60 * 10**9
    spans = []
    for i in range(40):  # one call every 15 s over ten minutes
        trace = f"{i + 1:032x}"
        start = t + i * 15 * 10**9
        spans += [
            Span(trace, f"{2 * i + 1:016x}", "GET /", "frontend", start, 5 * ms,
                 kind=SpanKind.SERVER, trace_state="ot=th:8"),
            Span(trace, f"{2 * i + 2:016x}", "serve", "cart", start + ms, ms,
                 parent_span_id=f"{2 * i + 1:016x}", kind=SpanKind.SERVER,
                 trace_state="ot=th:8"),
        ]  # fmt: skip
    late = [  # far later spans settle the ten minutes
        Span("f" * 32, "00000000000000ff", "GET /", "other", t + 30 * minute, ms)
    ]
    try:
        await store.write(batch_from_spans(spans))
        await store.write(batch_from_spans(late))
        while await store.refresh_dependencies():
            pass
        coverage = _coverage(store)
        assert coverage is not None
        assert coverage.pairs_end >= t + 10 * minute
        counted = await store.dependencies(DependenciesQuery(t + 10 * minute, 10 * minute + 1))
        assert counted == [DependencyLink("frontend", "cart", 80, 0)]
    finally:
        await store.close()
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        kept = await store.dependencies(DependenciesQuery(t + 10 * minute, 10 * minute + 1))
        assert kept == [DependencyLink("frontend", "cart", 80, 0)]
    finally:
        await store.close()
