"""The writer, the last stage after the WAL: moves durable records into the store in large
batches.

It keeps the records it was handed (``consume``, in sequence order) in memory, so normal
operation never re-reads the log. A background task flushes everything buffered when
``flush_spans`` are waiting or the oldest record is ``flush_interval_s`` old, as one
``store.write(..., wal_sequence=<highest sequence>)``, then tells the pipeline (``on_release``)
that the WAL need not keep those records for it. A failed write keeps the data and retries
with backoff: acknowledged spans are never dropped (and stay in the WAL either way).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Final

from breadcrumbs.model import SpanBatch, concat_batches
from breadcrumbs.pipeline.stages import OnRelease, Stage
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanWriter

log = logging.getLogger(__name__)

_BACKOFF_FIRST_S: Final = 0.1
_BACKOFF_MAX_S: Final = 5.0
_DRAIN_ATTEMPTS: Final = 3  # when stopping; what is not written stays in the WAL


class StoreWriter:
    """A ``Stage``: the store's ``last_wal_sequence`` is its persisted watermark."""

    name = "store-writer"

    def __init__(
        self,
        store: SpanWriter,
        *,
        flush_spans: int,
        flush_interval_s: float,
        metrics: SelfMetrics | None = None,
    ) -> None:
        self._store = store
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self._done_through = 0  # records at or below it are in the store already
        self._flush_spans = flush_spans
        self._flush_interval_s = flush_interval_s
        self._metrics = metrics
        # (sequence, batch, monotonic time it became durable), in sequence order
        self._buffer: deque[tuple[int, SpanBatch, float]] = deque()
        self._buffered_spans = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    @property
    def buffered_spans(self) -> int:
        """Spans durable in the WAL and not yet in the store (including a flush in flight)."""
        return self._buffered_spans

    @property
    def pending_from(self) -> int | None:
        return self._buffer[0][0] if self._buffer else None

    def oldest_age_s(self) -> float:
        return time.monotonic() - self._buffer[0][2] if self._buffer else 0.0

    async def open(self) -> int:
        self._done_through = await self._store.last_wal_sequence()
        return self._done_through

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        if wal_sequence > self._done_through:  # else a replayed record the store holds
            self.add(wal_sequence, batch)
        if self.downstream is not None:
            await self.downstream.consume(batch, wal_sequence=wal_sequence)

    async def flush(self) -> None:
        """Write everything buffered now; raises what the store raised."""
        while self._buffer:
            await self._flush(reraise=True)

    def add(self, sequence: int, batch: SpanBatch) -> None:
        """A record is durable in the WAL; sequences must arrive in increasing order."""
        if self._buffer and sequence <= self._buffer[-1][0]:
            raise ValueError(f"sequence {sequence} after {self._buffer[-1][0]}")
        first = not self._buffer
        self._buffer.append((sequence, batch, time.monotonic()))
        self._buffered_spans += batch.num_rows
        if first or self._buffered_spans >= self._flush_spans:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="store-writer")

    async def stop(self) -> None:
        """Flush everything buffered (a few attempts), then end the task."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST_S
        failures = 0
        while True:
            await self._wait_until_due()
            if not self._buffer:
                if self._stopping:
                    return
                continue
            if await self._flush():
                backoff = _BACKOFF_FIRST_S
                failures = 0
                continue
            failures += 1
            if self._stopping and failures >= _DRAIN_ATTEMPTS:
                log.error(
                    "writer: giving up on %d spans at shutdown; they stay in the WAL and are "
                    "replayed on the next start",
                    self._buffered_spans,
                )
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    async def _wait_until_due(self) -> None:
        while not self._stopping:
            if self._buffered_spans >= self._flush_spans:
                return
            self._wake.clear()
            if not self._buffer:
                await self._wake.wait()
                continue
            remaining = self._flush_interval_s - self.oldest_age_s()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._wake.wait()
            except TimeoutError:
                return

    async def _flush(self, *, reraise: bool = False) -> bool:
        """Write everything buffered now as one batch; True when the store has it."""
        count = len(self._buffer)
        records = [self._buffer[i] for i in range(count)]
        table = concat_batches([batch for _, batch, _ in records])
        last_sequence = records[-1][0]
        started = time.perf_counter()
        try:
            await self._store.write(table, wal_sequence=last_sequence)
        except Exception:
            if reraise:
                raise
            log.exception(
                "writer: store write of %d spans failed; keeping them and retrying",
                table.num_rows,
            )
            return False
        elapsed = time.perf_counter() - started
        for _ in range(count):
            self._buffer.popleft()
        self._buffered_spans -= table.num_rows
        self.flushes += 1
        if self._metrics is not None:
            self._metrics.flush_duration.observe(elapsed)
            self._metrics.flushed_spans.inc(table.num_rows)
        self._done_through = last_sequence
        if self.on_release is not None:
            self.on_release()
        return True
