"""The durable end of the pipeline: what receivers hand their batches to.

``consume`` returns once the batch is fsynced in the WAL (ack = durable). Each durable record
then goes, in sequence order, through the stages after the WAL (``stages.py``: span metrics,
then the store writer, which moves it into the store in large batches); a WAL segment is
deleted once every stage has persisted what it took from it. ``start`` first replays what the
WAL holds beyond the lowest stage watermark, each stage skipping what it persisted already (so
a crash between a commit and the WAL's cleanup causes no duplicates, in spans or in metrics).
Memory and disk are bounded: beyond ``max_unflushed_spans`` or ``max_wal_bytes`` a batch is
refused with ``Overloaded`` at once, never queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from breadcrumbs.errors import Overloaded, Unavailable
from breadcrumbs.model import SPAN_SCHEMA, SpanBatch
from breadcrumbs.pipeline.stages import Stage, chain
from breadcrumbs.pipeline.wal import WriteAheadLog
from breadcrumbs.pipeline.writer import StoreWriter
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    flush_spans: int = 100_000  # DuckDB inserts fastest in batches of 100k spans or more
    # A store that fell behind catches up in flushes of at most this many: beyond ~100k a
    # flush costs no less per span, and each holds two more copies of its spans meanwhile.
    max_flush_spans: int = 200_000
    flush_interval_s: float = 1.0  # accepted spans are searchable within ~2 s
    # Bounded memory: refuse beyond it. Each buffered span holds ~0.67 KB of the decoder's
    # buffers (0.8 KB before they were shrunk to their length: bench/README.md, Ingest,
    # 4 Dec). Below twice max_flush_spans a flush leaves less than a full flush waiting and
    # the store alternates full and partial flushes, slower per span (300k: ~150k a flush,
    # -17-40% rate); 400k kept main's rate (bench/README.md, Ingest, 3 Dec 19:20-20:40).
    max_unflushed_spans: int = 400_000
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
    """Implements ``Consumer``. ``ready`` is True between ``start`` and ``stop``.

    ``stages`` run after the WAL, in order, before the store writer (always the last).
    """

    def __init__(
        self,
        data_dir: Path,
        store: SpanWriter,
        settings: PipelineSettings,
        metrics: SelfMetrics,
        stages: Sequence[Stage] = (),
    ) -> None:
        self.settings = settings
        self._metrics = metrics
        self.wal = WriteAheadLog(
            data_dir / "wal",
            segment_bytes=settings.segment_bytes,
            compression=settings.wal_compression,
            metrics=metrics,
        )
        self.writer = StoreWriter(
            store,
            flush_spans=settings.flush_spans,
            flush_interval_s=settings.flush_interval_s,
            max_flush_spans=settings.max_flush_spans,
            metrics=metrics,
        )
        self.stages: list[Stage] = [*stages, self.writer]
        self._first = chain(self.stages)
        for stage in self.stages:
            stage.on_release = self._release
        # Durable records not yet handed to the first stage (the WAL calls on_durable in
        # sequence order; one task hands them on, in that order).
        self._dispatch: deque[tuple[int, SpanBatch]] = deque()
        self._dispatch_spans = 0
        self._dispatched_through = 0
        self._dispatch_wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self.wal.on_durable = self._durable
        self._wal_closed = False
        self._stopping = False
        self.ready = False
        metrics.wal_unflushed_spans.set_function(lambda: self.unflushed_spans)
        metrics.wal_oldest_unflushed_age.set_function(self.writer.oldest_age_s)

    @property
    def unflushed_spans(self) -> int:
        # Stages hold the same (shared, immutable) batches: the fullest stage is the memory.
        held = max(stage.buffered_spans for stage in self.stages)
        return self.wal.queued_spans + self._dispatch_spans + held

    def behind(self) -> bool:
        """Whether the store lags: spans wait longer than visibility allows (twice the flush
        interval) or fill half the memory bound. Reads yield to ingest meanwhile."""
        return (
            self.writer.oldest_age_s() > 2 * self.settings.flush_interval_s
            or self.unflushed_spans > self.settings.max_unflushed_spans // 2
        )

    def _durable(self, sequence: int, batch: SpanBatch) -> None:
        self._dispatch.append((sequence, batch))
        self._dispatch_spans += batch.num_rows
        self._dispatch_wake.set()

    async def _run_dispatch(self) -> None:
        while True:
            while self._dispatch:
                sequence, batch = self._dispatch[0]
                try:
                    await self._first.consume(batch, wal_sequence=sequence)
                except Exception:  # a stage's bug: logged; ingest goes on
                    log.exception("pipeline: a stage failed on WAL record %d", sequence)
                self._dispatch.popleft()
                self._dispatch_spans -= batch.num_rows
                self._dispatched_through = sequence
            if self._wal_closed:
                return
            self._dispatch_wake.clear()
            await self._dispatch_wake.wait()

    def _release(self) -> None:
        """Delete WAL segments no stage needs any more."""
        through = self._dispatched_through
        for stage in self.stages:
            pending = stage.pending_from
            if pending is not None:
                through = min(through, pending - 1)
        self.wal.release_through(through)

    async def start(self) -> None:
        """Replay the WAL through the stages, then accept batches."""
        persisted = [await stage.open() for stage in self.stages]
        records = self.wal.replay(after=min(persisted), floor=max(persisted))
        replayed = 0
        while chunk := await asyncio.to_thread(_take, records, self.settings.flush_spans):
            for sequence, batch in chunk:
                await self._first.consume(batch, wal_sequence=sequence)
                replayed += batch.num_rows
            for stage in self.stages:
                await stage.flush()
            self._dispatched_through = chunk[-1][0]
            self._release()
        self._dispatched_through = self.wal.next_sequence - 1
        self._release()
        if replayed:
            log.info("WAL replay: %d spans through %d stages", replayed, len(self.stages))
        for stage in self.stages:
            stage.start()
        self._dispatcher = asyncio.create_task(self._run_dispatch(), name="pipeline-dispatch")
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
        self._wal_closed = True
        self._dispatch_wake.set()
        if self._dispatcher is not None:
            await self._dispatcher
            self._dispatcher = None
        for stage in self.stages:
            await stage.stop()
