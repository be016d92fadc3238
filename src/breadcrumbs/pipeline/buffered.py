"""What the stages that persist in batches share: a buffer of durable records, flushed in the
background when ``flush_spans`` wait or the oldest record is ``flush_interval_s`` old, at most
``max_flush_spans`` at a time (a stage that fell behind catches up in bounded steps: one flush
of everything could copy a million spans at once).

A subclass says what "persisted" means (``_persisted_sequence``, read once before replay) and
how a flush persists the records it is given (``_persist``: one write that also records the
highest WAL sequence it covers, so a crash between two stages neither loses nor repeats
anything). The loop here owns the rest, the same for every such stage: the wait, the
watermark, ``on_release``, and on failure keeping the records and retrying with backoff;
acknowledged spans are never dropped (they stay in the WAL either way). Stopping flushes what
is buffered in a few attempts; what still fails is replayed from the WAL on the next start.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import deque
from typing import Final, NamedTuple

from breadcrumbs.model import SpanBatch
from breadcrumbs.pipeline.stages import OnRelease, Stage

log = logging.getLogger(__name__)

_BACKOFF_FIRST_S: Final = 0.1
_BACKOFF_MAX_S: Final = 5.0
_DRAIN_ATTEMPTS: Final = 3  # when stopping; what is not persisted stays in the WAL


class Record(NamedTuple):
    sequence: int
    batch: SpanBatch
    durable_at: float  # monotonic time it was handed over


class BufferedStage(abc.ABC):
    """A ``Stage`` that persists the records it was handed in batches (module docstring)."""

    name: str

    def __init__(
        self, *, flush_spans: int, flush_interval_s: float, max_flush_spans: int | None = None
    ) -> None:
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self._flush_spans = flush_spans
        self._max_flush_spans = max_flush_spans
        self._flush_interval_s = flush_interval_s
        self._done_through = 0  # records at or below it are persisted already
        self._buffer: deque[Record] = deque()  # in sequence order
        self._buffered_spans = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    # --- what a subclass provides ---------------------------------------------------------

    @abc.abstractmethod
    async def _persisted_sequence(self) -> int:
        """The highest WAL sequence whose effect is persisted (0: none)."""

    @abc.abstractmethod
    async def _persist(self, records: list[Record]) -> None:
        """Persist ``records`` (at least one) with ``records[-1].sequence`` as the new
        watermark, atomically; raise to keep them for a retry."""

    # --- the Stage contract ---------------------------------------------------------------

    @property
    def buffered_spans(self) -> int:
        """Spans handed over and not yet persisted (including a flush in flight)."""
        return self._buffered_spans

    @property
    def pending_from(self) -> int | None:
        return self._buffer[0].sequence if self._buffer else None

    def oldest_age_s(self) -> float:
        return time.monotonic() - self._buffer[0].durable_at if self._buffer else 0.0

    async def open(self) -> int:
        self._done_through = await self._persisted_sequence()
        return self._done_through

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        if wal_sequence > self._done_through:  # else a replayed record persisted before
            self.add(wal_sequence, batch)
        if self.downstream is not None:
            await self.downstream.consume(batch, wal_sequence=wal_sequence)

    def add(self, sequence: int, batch: SpanBatch) -> None:
        """A record is durable in the WAL; sequences must arrive in increasing order."""
        if self._buffer and sequence <= self._buffer[-1].sequence:
            raise ValueError(f"sequence {sequence} after {self._buffer[-1].sequence}")
        first = not self._buffer
        self._buffer.append(Record(sequence, batch, time.monotonic()))
        self._buffered_spans += batch.num_rows
        if first or self._buffered_spans >= self._flush_spans:
            self._wake.set()

    async def flush(self) -> None:
        """Persist everything buffered now; raises what persisting raised."""
        while self._buffer:
            await self._flush_buffered()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Flush everything buffered (a few attempts), then end the task."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST_S
        failures = 0
        while True:
            await self._wait_until_due()
            if not self._buffer:
                if self._stopping:
                    return
                continue
            try:
                await self._flush_buffered()
            except Exception:
                log.exception(
                    "%s: persisting %d spans failed; keeping them and retrying",
                    self.name,
                    self._buffered_spans,
                )
                failures += 1
                if self._stopping and failures >= _DRAIN_ATTEMPTS:
                    log.error(
                        "%s: giving up on %d spans at shutdown; they stay in the WAL and are "
                        "replayed on the next start",
                        self.name,
                        self._buffered_spans,
                    )
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = _BACKOFF_FIRST_S
            failures = 0

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

    async def _flush_buffered(self) -> None:
        """Persist the oldest records, up to ``max_flush_spans`` (at least one record), as one
        batch; raises what ``_persist`` raised."""
        limit = self._max_flush_spans
        records: list[Record] = []
        spans = 0
        for record in self._buffer:
            if records and limit is not None and spans + record.batch.num_rows > limit:
                break
            records.append(record)
            spans += record.batch.num_rows
        count = len(records)
        await self._persist(records)
        for _ in range(count):
            self._buffer.popleft()
        self._buffered_spans -= spans
        self._done_through = records[-1].sequence
        self.flushes += 1
        if self.on_release is not None:
            self.on_release()
