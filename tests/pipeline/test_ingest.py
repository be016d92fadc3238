"""The ingest pipeline: ack after fsync, flushes by size and age, bounds, drain, replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from breadcrumbs.errors import Overloaded, Unavailable
from breadcrumbs.model import concat_batches
from breadcrumbs.pipeline.base import Consumer
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import GetTracesParams
from breadcrumbs.store.duckdb import DuckDBStore

from .crash_child import MAX_BATCHES, PRODUCERS
from .support import MemoryStore, make_batch, trace_id
from .test_wal import acks_then_sigkill, replay_all

NEVER = 3600.0  # a flush interval the test never reaches


async def until_written(store: MemoryStore) -> None:
    await asyncio.wait_for(store.written.wait(), timeout=30)
    store.written.clear()


@pytest.fixture
async def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def started(tmp_path: Path, store: MemoryStore) -> AsyncIterator[IngestPipeline]:
    pipeline = IngestPipeline(
        tmp_path, store, PipelineSettings(flush_spans=100, flush_interval_s=NEVER), SelfMetrics()
    )
    await pipeline.start()
    yield pipeline
    await pipeline.stop()


async def test_is_a_consumer_and_refuses_before_start(tmp_path: Path, store: MemoryStore) -> None:
    pipeline = IngestPipeline(tmp_path, store, PipelineSettings(), SelfMetrics())
    assert isinstance(pipeline, Consumer)
    assert not pipeline.ready
    with pytest.raises(Unavailable):
        await pipeline.consume(make_batch(1))


async def test_ack_means_in_the_wal(
    tmp_path: Path, started: IngestPipeline, store: MemoryStore
) -> None:
    await started.consume(make_batch(1))
    assert store.batches == []  # not flushed yet...
    [(sequence, batch)] = replay_all(tmp_path / "wal")  # ...but durable
    assert (sequence, batch.equals(make_batch(1))) == (1, True)


async def test_flushes_by_size_in_one_write(started: IngestPipeline, store: MemoryStore) -> None:
    for tag in range(3):
        await started.consume(make_batch(tag, spans=40))
    await until_written(store)
    assert [b.num_rows for b in store.batches] == [120]
    assert store.sequence == 3
    assert store.all().equals(concat_batches([make_batch(t, spans=40) for t in range(3)]))


async def test_flushes_by_age(tmp_path: Path, store: MemoryStore) -> None:
    metrics = SelfMetrics()
    settings = PipelineSettings(flush_spans=1_000_000, flush_interval_s=0.05)
    pipeline = IngestPipeline(tmp_path, store, settings, metrics)
    await pipeline.start()
    await pipeline.consume(make_batch(1))
    await until_written(store)
    assert store.all().equals(make_batch(1))
    assert metrics.registry.get_sample_value("breadcrumbs_store_flushed_spans_total") == 3
    assert metrics.registry.get_sample_value("breadcrumbs_wal_unflushed_spans") == 0
    await pipeline.stop()


async def test_overloaded_beyond_max_unflushed_spans(tmp_path: Path, store: MemoryStore) -> None:
    store.gate = asyncio.Event()  # the store hangs
    settings = PipelineSettings(flush_spans=10, flush_interval_s=NEVER, max_unflushed_spans=100)
    metrics = SelfMetrics()
    pipeline = IngestPipeline(tmp_path, store, settings, metrics)
    await pipeline.start()
    await pipeline.consume(make_batch(1, spans=60))
    with pytest.raises(Overloaded) as refused:
        await pipeline.consume(make_batch(2, spans=60))
    assert refused.value.retry_after_s == 1
    assert metrics.registry.get_sample_value("breadcrumbs_wal_unflushed_spans") == 60
    await pipeline.consume(make_batch(3, spans=40))  # still within the bound

    store.gate.set()
    await until_written(store)
    await pipeline.consume(make_batch(4, spans=60))  # room again
    await pipeline.stop()
    assert sorted(store.span_names()) == sorted(
        name
        for t, n in ((1, 60), (3, 40), (4, 60))
        for name in make_batch(t, n)["SpanName"].to_pylist()
    )


async def test_a_store_behind_catches_up_in_bounded_flushes(
    tmp_path: Path, store: MemoryStore
) -> None:
    store.gate = asyncio.Event()  # the store hangs while spans pile up
    settings = PipelineSettings(flush_spans=50, flush_interval_s=NEVER, max_flush_spans=100)
    pipeline = IngestPipeline(tmp_path, store, settings, SelfMetrics())
    await pipeline.start()
    batches = [make_batch(tag, spans=40) for tag in range(7)]
    for batch in batches:
        await pipeline.consume(batch)
    store.gate.set()
    await pipeline.stop()
    # The first flush took what was due when the store hung (two records); the rest in
    # flushes of whole records, at most 100 spans each, in WAL order.
    assert [b.num_rows for b in store.batches] == [80, 80, 80, 40]
    assert store.sequence == 7
    assert store.all().equals(concat_batches(batches))


async def test_failed_store_writes_are_retried_without_loss(
    started: IngestPipeline, store: MemoryStore
) -> None:
    store.failures_left = 2
    await started.consume(make_batch(1, spans=100))
    await until_written(store)
    assert store.all().equals(make_batch(1, spans=100))
    assert store.failures_left == 0


async def test_stop_drains_then_refuses(tmp_path: Path, store: MemoryStore) -> None:
    pipeline = IngestPipeline(
        tmp_path, store, PipelineSettings(flush_interval_s=NEVER), SelfMetrics()
    )
    await pipeline.start()
    acks = [asyncio.create_task(pipeline.consume(make_batch(tag))) for tag in range(20)]
    await asyncio.sleep(0)  # every batch is queued in the WAL, none fsynced yet
    await pipeline.stop()
    await asyncio.gather(*acks)  # every in-flight batch was acknowledged...
    assert store.sequence == 20  # ...and flushed
    assert sorted(store.all()["TraceId"].unique().to_pylist()) == sorted(
        trace_id(tag) for tag in range(20)
    )
    with pytest.raises(Unavailable):
        await pipeline.consume(make_batch(99))


async def test_restart_replays_only_what_the_store_lacks(tmp_path: Path) -> None:
    # A crash between the store's commit of records 1-6 and the WAL's cleanup: the WAL holds
    # 1-10, the store 1-6.
    first = MemoryStore()
    first.failures_left = 1_000  # the store never takes a flush: everything stays in the WAL
    pipeline = IngestPipeline(tmp_path, first, PipelineSettings(), SelfMetrics())
    await pipeline.start()
    batches = [make_batch(tag) for tag in range(10)]
    for batch in batches:
        await pipeline.consume(batch)
    await pipeline.stop()

    store = MemoryStore()
    await store.write(concat_batches(batches[:6]), wal_sequence=6)
    pipeline = IngestPipeline(tmp_path, store, PipelineSettings(), SelfMetrics())
    await pipeline.start()
    assert store.sequence == 10
    assert store.all().equals(concat_batches(batches))  # each span once, in order
    await pipeline.consume(make_batch(10))
    await pipeline.stop()
    assert store.sequence == 11


async def test_duckdb_restart_replays_without_duplicates(tmp_path: Path) -> None:
    failing = MemoryStore()
    failing.failures_left = 1_000
    pipeline = IngestPipeline(tmp_path, failing, PipelineSettings(), SelfMetrics())
    await pipeline.start()
    batches = [make_batch(tag) for tag in range(10)]
    for batch in batches:
        await pipeline.consume(batch)
    await pipeline.stop()

    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        await store.write(concat_batches(batches[:4]), wal_sequence=4)  # committed pre-crash
        pipeline = IngestPipeline(tmp_path, store, PipelineSettings(), SelfMetrics())
        await pipeline.start()
        await pipeline.stop()
        assert await store.last_wal_sequence() == 10
        assert (await store.stats()).spans == 30
        spans = await store.get_traces(GetTracesParams(tuple(trace_id(tag) for tag in range(10))))
        assert sorted(spans["SpanName"].to_pylist()) == sorted(
            concat_batches(batches)["SpanName"].to_pylist()
        )
    finally:
        await store.close()


async def test_sigkill_with_duckdb_loses_no_acked_span(tmp_path: Path) -> None:
    # past about ten flushes (200 spans each)
    acked = [int(words[0]) for words in acks_then_sigkill("duckdb", tmp_path, 600)]

    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        pipeline = IngestPipeline(tmp_path, store, PipelineSettings(), SelfMetrics())
        await pipeline.start()
        await pipeline.stop()
        # Every batch that could be in the store: each acked one, plus the few in flight.
        last = {tag // MAX_BATCHES: tag % MAX_BATCHES for tag in sorted(acked)}
        candidates = [
            p * MAX_BATCHES + i for p, top in last.items() for i in range(top + PRODUCERS + 1)
        ]
        spans = await store.get_traces(GetTracesParams(tuple(trace_id(tag) for tag in candidates)))
        assert spans.num_rows == (await store.stats()).spans  # nothing else in the store
        stored = sorted(spans["SpanName"].to_pylist())
        assert len(stored) == len(set(stored))  # no duplicates
        expected = {
            n for tag in acked for n in make_batch(tag, 1 + tag % 7)["SpanName"].to_pylist()
        }
        assert expected <= set(stored)  # every acked span
    finally:
        await store.close()
