"""Run by the durability tests as a separate process, which they SIGKILL mid-stream.

Run from ``tests/`` as ``python -m pipeline.crash_child MODE DIR``. ``wal``: appends tagged
batches to a WriteAheadLog in DIR. ``duckdb``: consumes them through an IngestPipeline on a
DuckDBStore. ``metrics``: the same with the span metrics stage before the writer, flushing
on its own schedule. ``metrics-compacting``: as ``metrics``, with the store's RED compaction
running back to back beside it (a SIGKILL then lands mid-compaction). Prints
``ack <tag> <sequence or 0>`` per acknowledged batch; 4 producers.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.pipeline.span_metrics import SpanMetricsStage
from breadcrumbs.pipeline.wal import WriteAheadLog
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.duckdb import DuckDBStore

from .support import make_batch

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


async def produce_pipeline(directory: Path, with_metrics: bool, compacting: bool = False) -> None:
    store = DuckDBStore(directory / "spans.duckdb")
    settings = PipelineSettings(flush_spans=200, flush_interval_s=0.05, segment_bytes=128 << 10)
    stages = (
        [SpanMetricsStage(store, flush_interval_s=0.03, flush_spans=150)] if with_metrics else []
    )
    pipeline = IngestPipeline(directory, store, settings, SelfMetrics(), stages=stages)
    await pipeline.start()
    compaction = asyncio.create_task(compact_forever(store)) if compacting else None
    deadline = time.monotonic() + MAX_SECONDS

    async def producer(p: int) -> None:
        for i in range(MAX_BATCHES):
            if time.monotonic() > deadline:
                return
            tag = p * MAX_BATCHES + i
            await pipeline.consume(make_batch(tag, spans=1 + tag % 7))
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
    else:
        asyncio.run(
            produce_pipeline(
                directory,
                with_metrics=mode.startswith("metrics"),
                compacting=mode == "metrics-compacting",
            )
        )
