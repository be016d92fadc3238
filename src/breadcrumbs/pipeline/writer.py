"""The writer, the last stage after the WAL: moves durable records into the store in large
batches.

It keeps the records it was handed in memory (``buffered.BufferedStage``), so normal
operation never re-reads the log, and flushes everything buffered when ``flush_spans`` are
waiting or the oldest record is ``flush_interval_s`` old, as one
``store.write(..., wal_sequence=<highest sequence>)``; the store's ``last_wal_sequence`` is
its watermark.
"""

from __future__ import annotations

import time

from breadcrumbs.model import concat_batches
from breadcrumbs.pipeline.buffered import BufferedStage, Record
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanWriter


class StoreWriter(BufferedStage):
    """A ``Stage``: the store's ``last_wal_sequence`` is its persisted watermark."""

    name = "store-writer"

    def __init__(
        self,
        store: SpanWriter,
        *,
        flush_spans: int,
        flush_interval_s: float,
        max_flush_spans: int | None = None,
        metrics: SelfMetrics | None = None,
    ) -> None:
        super().__init__(
            flush_spans=flush_spans,
            flush_interval_s=flush_interval_s,
            max_flush_spans=max_flush_spans,
        )
        self._store = store
        self._metrics = metrics

    async def _persisted_sequence(self) -> int:
        return await self._store.last_wal_sequence()

    async def _persist(self, records: list[Record]) -> None:
        table = concat_batches([record.batch for record in records])
        started = time.perf_counter()
        await self._store.write(table, wal_sequence=records[-1].sequence)
        if self._metrics is not None:
            self._metrics.flush_duration.observe(time.perf_counter() - started)
            self._metrics.flushed_spans.inc(table.num_rows)
