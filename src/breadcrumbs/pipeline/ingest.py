"""The durable end of the pipeline: what receivers hand their batches to.

``consume`` returns once the batch is fsynced in the WAL (ack = durable); the writer then moves
it into the store in large batches. ``start`` first replays what the WAL holds beyond the
store's ``last_wal_sequence`` (so a crash between a store commit and the WAL's cleanup causes
no duplicates). Memory and disk are bounded: beyond ``max_unflushed_spans`` or
``max_wal_bytes`` a batch is refused with ``Overloaded`` at once, never queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from breadcrumbs.errors import Overloaded, Unavailable
from breadcrumbs.model import SPAN_SCHEMA, SpanBatch, concat_batches
from breadcrumbs.pipeline.wal import WriteAheadLog
from breadcrumbs.pipeline.writer import StoreWriter
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    flush_spans: int = 100_000  # DuckDB inserts fastest in batches of 100k spans or more
    flush_interval_s: float = 1.0  # accepted spans are searchable within ~2 s
    max_unflushed_spans: int = 1_000_000  # bounded memory: refuse beyond it
    max_wal_bytes: int = 2 << 30  # bounded disk while the store lags
    segment_bytes: int = 64 << 20
    wal_compression: str | None = "lz4"  # Arrow IPC codec: 2.5x smaller (bench/wal.py)


def _take(records: Iterator[tuple[int, SpanBatch]], spans: int) -> list[tuple[int, SpanBatch]]:
    """Up to about ``spans`` spans of records (in a worker thread: it reads files)."""
    taken: list[tuple[int, SpanBatch]] = []
    count = 0
    for record in records:
        taken.append(record)
        count += record[1].num_rows
        if count >= spans:
            break
    return taken


class IngestPipeline:
    """Implements ``Consumer``. ``ready`` is True between ``start`` and ``stop``."""

    def __init__(
        self, data_dir: Path, store: SpanWriter, settings: PipelineSettings, metrics: SelfMetrics
    ) -> None:
        self.settings = settings
        self._store = store
        self._metrics = metrics
        self.wal = WriteAheadLog(
            data_dir / "wal",
            segment_bytes=settings.segment_bytes,
            compression=settings.wal_compression,
            metrics=metrics,
        )
        self.writer = StoreWriter(
            store,
            self.wal,
            flush_spans=settings.flush_spans,
            flush_interval_s=settings.flush_interval_s,
            metrics=metrics,
        )
        self.wal.on_durable = self.writer.add
        self._stopping = False
        self.ready = False
        metrics.wal_unflushed_spans.set_function(lambda: self.unflushed_spans)
        metrics.wal_oldest_unflushed_age.set_function(self.writer.oldest_age_s)

    @property
    def unflushed_spans(self) -> int:
        return self.wal.queued_spans + self.writer.buffered_spans

    async def start(self) -> None:
        """Replay the WAL into the store, then accept batches."""
        after = await self._store.last_wal_sequence()
        records = self.wal.replay(after=after)
        replayed = 0
        while chunk := await asyncio.to_thread(_take, records, self.settings.flush_spans):
            table = concat_batches([batch for _, batch in chunk])
            await self._store.write(table, wal_sequence=chunk[-1][0])
            self._metrics.flushed_spans.inc(table.num_rows)
            replayed += table.num_rows
            self.wal.release_through(chunk[-1][0])
        self.wal.release_through(after)
        if replayed:
            log.info("WAL replay: %d spans written to the store", replayed)
        self.writer.start()
        self.ready = True

    async def consume(self, batch: SpanBatch) -> None:
        """Returns once the batch is fsynced in the WAL; raises ``Overloaded`` when full and
        ``Unavailable`` before ``start`` or after ``stop``."""
        if self._stopping or not self.ready:
            raise Unavailable("ingest is not accepting spans (starting or shutting down)")
        spans = batch.num_rows
        if spans == 0:
            return
        unflushed = self.unflushed_spans
        if unflushed > 0 and unflushed + spans > self.settings.max_unflushed_spans:
            raise Overloaded(
                f"{unflushed} spans are waiting for the store (limit "
                f"{self.settings.max_unflushed_spans}); retry later",
                retry_after_s=1,
            )
        if self.wal.disk_bytes + self.wal.queued_bytes > self.settings.max_wal_bytes:
            raise Overloaded("the write-ahead log is full; retry later", retry_after_s=1)
        if not batch.schema.equals(SPAN_SCHEMA):
            batch = batch.cast(SPAN_SCHEMA)  # loud if incompatible: a stage's bug
        await self.wal.append(batch)

    async def stop(self) -> None:
        """Refuse new batches, finish the acks in flight, flush everything, close the WAL."""
        self._stopping = True
        self.ready = False
        await self.wal.close()
        await self.writer.stop()
