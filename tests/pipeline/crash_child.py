"""Run by the durability tests as a separate process, which they SIGKILL mid-stream.

Run from ``tests/`` as ``python -m pipeline.crash_child MODE DIR``. ``wal``: appends tagged
batches to a WriteAheadLog in DIR. ``duckdb``: consumes them through an IngestPipeline on a
DuckDBStore. ``metrics``: the same with the span metrics stage before the writer, flushing
on its own schedule. ``metrics-compacting``: as ``metrics``, with the store's RED compaction
running back to back beside it (a SIGKILL then lands mid-compaction). ``sampled``: complete
traces through span metrics and a tail sampler (errors and half the rest kept).
``chdb-metrics``: as ``metrics`` on the ClickHouse engine (chDB in DIR/chdb). Prints
``ack <tag> <sequence or 0>`` per acknowledged batch; 4 producers.

``chdb-recount``: not killed; reopens DIR/chdb after a ``chdb-metrics`` run, replays the WAL
through the span metrics stage and prints ``<RED calls> <distinct spans stored>`` (chDB
allows one data directory per process, so the test reads it in a process of its own).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.span_metrics import SpanMetricsStage
from breadcrumbs.pipeline.stages import Stage
from breadcrumbs.pipeline.tail_sampler import TailSampler
from breadcrumbs.pipeline.wal import WriteAheadLog
from breadcrumbs.sampling.tail.config import for_rate
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import RedQuery, SpanMetricsWriter, Store
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.duckdb import DuckDBStore

from .support import make_batch, make_trace_batch

SAMPLED_RATE = 0.5


def sampled_stages(store: SpanMetricsWriter) -> list[Stage]:
    """Span metrics, then a tail sampler keeping errors and half the rest (also on restart)."""
    return [
        SpanMetricsStage(store, flush_interval_s=0.03, flush_spans=150),
        TailSampler(for_rate(SAMPLED_RATE)),
    ]


PRODUCERS = 4
MAX_BATCHES = 5_000  # per producer; the test kills the process long before
MAX_SECONDS = 60.0


def ack(tag: int, sequence: int) -> None:
    sys.stdout.write(f"ack {tag} {sequence}\n")
    sys.stdout.flush()


async def produce_wal(directory: Path) -> None:
    wal = WriteAheadLog(directory, segment_bytes=256 << 10)
    for _ in wal.replay():
        pass
    deadline = time.monotonic() + MAX_SECONDS

    async def producer(p: int) -> None:
        for i in range(MAX_BATCHES):
            if time.monotonic() > deadline:
                return
            tag = p * MAX_BATCHES + i
            ack(tag, await wal.append(make_batch(tag, spans=1 + tag % 7)))

    await asyncio.gather(*(producer(p) for p in range(PRODUCERS)))
    await wal.close()


async def compact_forever(store: DuckDBStore) -> None:
    while True:
        await store.compact_span_metrics()
        await asyncio.sleep(0)


def open_store(directory: Path, mode: str) -> Store:
    if mode.startswith("chdb"):
        return ClickHouseStore(ChdbExecutor(directory / "chdb"), database="crash")
    return DuckDBStore(directory / "spans.duckdb")


def metrics_stage(store: SpanMetricsWriter) -> SpanMetricsStage:
    return SpanMetricsStage(store, flush_interval_s=0.03, flush_spans=150)


async def recount(directory: Path) -> None:
    """After a SIGKILL: the replay, then what RED counts and how many distinct spans are
    stored (a span batch written again on replay is a copy, hidden by queries; RED counts
    must not double)."""
    store = open_store(directory, "chdb")
    assert isinstance(store, ClickHouseStore)
    pipeline = IngestPipeline(
        directory, store, PipelineSettings(), SelfMetrics(), stages=[metrics_stage(store)]
    )
    await pipeline.start()
    await pipeline.stop()
    hour = 3600 * 10**9
    start = 1_700_000_000_000_000_000  # make_batch's spans
    red = await store.red(RedQuery(start - hour, start + hour, 2 * hour, by_operation=False))
    executor = ChdbExecutor(directory / "chdb")  # the store's connection, shared
    distinct = executor.query(
        "SELECT count() FROM (SELECT DISTINCT TraceId, SpanId FROM crash.spans)"
    )
    executor.close()
    calls = sum(red.column("Calls").to_pylist())
    print(int(calls), int(distinct.column(0)[0].as_py()), flush=True)
    await store.close()


async def produce_pipeline(directory: Path, mode: str) -> None:
    store = open_store(directory, mode)
    settings = PipelineSettings(flush_spans=200, flush_interval_s=0.05, segment_bytes=128 << 10)
    stages: list[Stage] = []
    if mode.startswith("metrics") or mode == "chdb-metrics":
        stages = [metrics_stage(store)]
    elif mode == "sampled":
        stages = sampled_stages(store)
    make = make_trace_batch if mode == "sampled" else make_batch
    pipeline = IngestPipeline(directory, store, settings, SelfMetrics(), stages=stages)
    await pipeline.start()
    compacting = mode == "metrics-compacting"
    compaction = (
        asyncio.create_task(compact_forever(store))
        if compacting and isinstance(store, DuckDBStore)
        else None
    )
    deadline = time.monotonic() + MAX_SECONDS

    async def producer(p: int) -> None:
        for i in range(MAX_BATCHES):
            if time.monotonic() > deadline:
                return
            tag = p * MAX_BATCHES + i
            await pipeline.consume(make(tag, spans=1 + tag % 7))
            ack(tag, 0)

    await asyncio.gather(*(producer(p) for p in range(PRODUCERS)))
    if compaction is not None:
        compaction.cancel()
    await pipeline.stop()
    await store.close()


if __name__ == "__main__":
    mode, directory = sys.argv[1], Path(sys.argv[2])
    if mode == "wal":
        asyncio.run(produce_wal(directory))
    elif mode == "chdb-recount":
        asyncio.run(recount(directory))
    else:
        asyncio.run(produce_pipeline(directory, mode))
