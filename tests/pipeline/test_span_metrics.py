"""The span metrics stage: every acked span counted exactly once, across crashes and replays,
whichever of the two stages after the WAL had persisted its part; the series limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from breadcrumbs.model import Span, batch_from_spans, concat_batches
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.span_metrics import OVERFLOW_OPERATION, SeriesLimit, SpanMetricsStage
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import RedQuery, SpanMetricsWriter, SpanWriter
from breadcrumbs.store.duckdb import DuckDBStore

from .crash_child import MAX_BATCHES, PRODUCERS
from .support import MemoryStore, MetricsDown, make_batch
from .test_wal import acks_then_sigkill

START = 1_700_000_000_000_000_000  # make_batch's spans start here
HOUR = 3600 * 10**9


async def counted(store: DuckDBStore) -> int:
    """Calls in the kept aggregates around make_batch's spans, all series together."""
    table = await store.red(
        RedQuery(START - HOUR, START + HOUR, 2 * HOUR, by_operation=False, by_kind=False)
    )
    return sum(table.column("Calls").to_pylist())


def pipeline_on(tmp_path: Path, spans: SpanWriter, metrics: SpanMetricsWriter) -> IngestPipeline:
    stage = SpanMetricsStage(metrics, flush_interval_s=0.01)
    return IngestPipeline(tmp_path, spans, PipelineSettings(), SelfMetrics(), stages=[stage])


async def test_counts_every_span_once(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = pipeline_on(tmp_path, store, store)
        await pipeline.start()
        for tag in range(20):
            await pipeline.consume(make_batch(tag, spans=1 + tag % 5))
        await pipeline.stop()
        expected = sum(1 + tag % 5 for tag in range(20))
        assert await counted(store) == expected == (await store.stats()).spans
        assert await store.span_metrics_wal_sequence() == 20
    finally:
        await store.close()


async def test_replay_after_metrics_were_persisted_but_spans_not(tmp_path: Path) -> None:
    # Crash state: the metrics stage committed records 1-10, the store writer none of them.
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        failing = MemoryStore()
        failing.failures_left = 1_000
        pipeline = pipeline_on(tmp_path, failing, store)
        await pipeline.start()
        for tag in range(10):
            await pipeline.consume(make_batch(tag))
        await pipeline.stop()
        assert await counted(store) == 30
        assert (await store.stats()).spans == 0

        pipeline = pipeline_on(tmp_path, store, store)
        await pipeline.start()  # replays 1-10 into the store, not into the metrics
        await pipeline.stop()
        assert (await store.stats()).spans == 30
        assert await counted(store) == 30
    finally:
        await store.close()


async def test_replay_after_spans_were_persisted_but_metrics_not(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = pipeline_on(tmp_path, store, MetricsDown())
        await pipeline.start()
        for tag in range(10):
            await pipeline.consume(make_batch(tag))
        await pipeline.stop()
        assert (await store.stats()).spans == 30
        assert await counted(store) == 0

        pipeline = pipeline_on(tmp_path, store, store)
        await pipeline.start()  # the WAL kept 1-10 for the metrics: counted now, once
        await pipeline.consume(make_batch(10))
        await pipeline.stop()
        assert (await store.stats()).spans == 33
        assert await counted(store) == 33
    finally:
        await store.close()


async def test_sigkill_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    # past many flushes of both stages
    acked = [int(words[0]) for words in acks_then_sigkill("metrics", tmp_path, 600)]

    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = pipeline_on(tmp_path, store, store)
        await pipeline.start()
        await pipeline.stop()
        spans = (await store.stats()).spans
        acked_spans = sum(1 + tag % 7 for tag in acked)
        in_flight = PRODUCERS * 7 * len({tag // MAX_BATCHES for tag in acked})
        assert acked_spans <= spans <= acked_spans + in_flight
        assert await counted(store) == spans  # each stored span counted exactly once
    finally:
        await store.close()


async def test_sigkill_during_red_compaction_neither_loses_nor_double_counts(
    tmp_path: Path,
) -> None:
    """The compaction merges and rewrites rows while flushes append: a SIGKILL mid-way leaves
    the rows of before or after it, and the counts stay exact; after the restart every key
    compacts to one row per level."""
    acked = [int(words[0]) for words in acks_then_sigkill("metrics-compacting", tmp_path, 600)]
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = pipeline_on(tmp_path, store, store)
        await pipeline.start()
        await pipeline.stop()
        spans = (await store.stats()).spans
        acked_spans = sum(1 + tag % 7 for tag in acked)
        in_flight = PRODUCERS * 7 * len({tag // MAX_BATCHES for tag in acked})
        assert acked_spans <= spans <= acked_spans + in_flight
        assert await counted(store) == spans
        await store.compact_span_metrics()
        assert await counted(store) == spans
        keys = await store.red(
            RedQuery(START - HOUR, START + HOUR, 2 * HOUR, by_operation=True, by_kind=True)
        )
        assert set((await store.span_metrics_rows()).values()) == {keys.num_rows}
    finally:
        await store.close()


def test_sigkill_on_clickhouse_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    """On chDB a flush and its WAL sequence are one insert (one part): a SIGKILL leaves both
    or neither, so the replay counts every stored span once. Spans themselves may be stored
    twice (no transaction spans their insert and their sequence's); RED must not be."""
    acked = [int(words[0]) for words in acks_then_sigkill("chdb-metrics", tmp_path, 600)]
    recount = subprocess.run(
        [sys.executable, "-m", "pipeline.crash_child", "chdb-recount", str(tmp_path)],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    calls, spans = (int(word) for word in recount.stdout.split())
    acked_spans = sum(1 + tag % 7 for tag in acked)
    in_flight = PRODUCERS * 7 * len({tag // MAX_BATCHES for tag in acked})
    assert acked_spans <= spans <= acked_spans + in_flight
    assert calls == spans  # each stored span counted exactly once


def _spans(names: list[str]) -> pa.Table:
    return batch_from_spans(
        [
            Span(
                trace_id=f"{i + 1:032x}",
                span_id=f"{i + 1:016x}",
                name=name,
                service="svc",
                start_ns=START,
                duration_ns=1000,
            )
            for i, name in enumerate(names)
        ]
    )


def test_series_beyond_the_limit_count_as_overflow() -> None:
    limit = SeriesLimit(max_series=2)
    batch, cut = limit.apply(_spans(["a", "b", "a"]))
    assert cut == 0
    assert batch.column("SpanName").to_pylist() == ["a", "b", "a"]
    batch, cut = limit.apply(concat_batches([_spans(["c", "a", "c", "d"])]))
    assert batch.column("SpanName").to_pylist() == [
        OVERFLOW_OPERATION,
        "a",
        OVERFLOW_OPERATION,
        OVERFLOW_OPERATION,
    ]
    assert cut == 3
    assert limit.cut_spans == 3
    assert limit.series == 2
