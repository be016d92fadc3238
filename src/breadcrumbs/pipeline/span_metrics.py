"""The span metrics stage: RED aggregates of every span, right after the WAL.

It runs before anything may drop spans (a tail sampler), so counts stay true. It buffers the
durable records it is handed and, every ``flush_interval_s`` (or sooner when
``flush_spans`` wait), turns them into ``analysis.red`` aggregate rows in a worker thread and
adds them to the store with the highest WAL sequence they cover, in one transaction
(``SpanMetricsWriter.write_span_metrics``). That sequence is the stage's watermark: after a
crash, replayed records at or below it are not counted again, records above it are counted
once. The same flush feeds the Prometheus exposition (``exposition.py``).

Cardinality is bounded: at most ``max_series`` (service, operation, kind) series are kept;
the spans of any further series count under the operation ``otel.metric.overflow`` of their
service and kind (as the OpenTelemetry spanmetrics connector's overflow does), and
``breadcrumbs_span_metrics_overflow_spans`` counts them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.analysis import red
from breadcrumbs.model import SpanBatch, concat_batches
from breadcrumbs.pipeline.exposition import SpanMetricsExposition
from breadcrumbs.pipeline.stages import OnRelease, Stage
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanMetricsWriter

log = logging.getLogger(__name__)

OVERFLOW_OPERATION: Final = "otel.metric.overflow"
DEFAULT_MAX_SERIES: Final = 10_000
_BACKOFF_FIRST_S: Final = 0.1
_BACKOFF_MAX_S: Final = 5.0
_DRAIN_ATTEMPTS: Final = 3
_SEPARATOR: Final = "\x1f"


class SeriesLimit:
    """Keeps the first ``max_series`` series seen; maps the spans of any other series to
    ``OVERFLOW_OPERATION`` (per batch: one Python step per distinct series, not per span)."""

    def __init__(self, max_series: int) -> None:
        self.max_series = max_series
        self._known: set[tuple[str, str, int]] = set()
        self.cut_spans = 0

    @property
    def series(self) -> int:
        return len(self._known)

    def apply(self, batch: SpanBatch) -> tuple[SpanBatch, int]:
        """The batch with overflowing series renamed, and how many spans were."""
        columns = list(red.SERIES_COLUMNS)
        counts = (
            batch.select(columns)
            .group_by(columns, use_threads=False)
            .aggregate([([], "count_all")])
        )
        over: list[str] = []
        cut = 0
        for service, name, kind, count in zip(
            *(counts.column(c).to_pylist() for c in [*columns, "count_all"]), strict=True
        ):
            key = (service, name, kind)
            if key in self._known or name == OVERFLOW_OPERATION:
                continue
            if len(self._known) < self.max_series:
                self._known.add(key)
                continue
            over.append(_SEPARATOR.join((service, name, str(kind))))
            cut += count
        if not over:
            return batch, 0
        joined = pc.binary_join_element_wise(
            batch.column("ServiceName"),
            batch.column("SpanName"),
            pc.cast(batch.column("SpanKind"), pa.string()),
            _SEPARATOR,
        )
        cut_mask = pc.is_in(joined, value_set=pa.array(over, pa.string()))
        names = pc.if_else(cut_mask, pa.scalar(OVERFLOW_OPERATION), batch.column("SpanName"))
        index = batch.schema.get_field_index("SpanName")
        self.cut_spans += cut
        return batch.set_column(index, batch.schema.field(index), names), cut


@dataclass(slots=True)
class _Prepared:
    """Aggregates of the first ``records`` buffered records, computed once (a failed write
    is retried with them, so overflow counts and exemplars are not repeated)."""

    records: int
    rows: pa.Table
    exposition: pa.Table | None


class SpanMetricsStage:
    """A ``Stage``; see the module docstring."""

    name = "span-metrics"

    def __init__(
        self,
        store: SpanMetricsWriter,
        *,
        flush_interval_s: float = 1.0,
        flush_spans: int = 100_000,
        max_series: int = DEFAULT_MAX_SERIES,
        exposition: SpanMetricsExposition | None = None,
        metrics: SelfMetrics | None = None,
    ) -> None:
        self._store = store
        self._flush_interval_s = flush_interval_s
        self._flush_spans = flush_spans
        self.limit = SeriesLimit(max_series)
        self._exposition = exposition
        self._metrics = metrics
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self._done_through = 0
        self._buffer: list[tuple[int, SpanBatch]] = []
        self._buffered_spans = 0
        self._oldest = 0.0  # monotonic time the oldest buffered record arrived
        self._prepared: _Prepared | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0

    @property
    def pending_from(self) -> int | None:
        return self._buffer[0][0] if self._buffer else None

    @property
    def buffered_spans(self) -> int:
        return self._buffered_spans

    async def open(self) -> int:
        self._done_through = await self._store.span_metrics_wal_sequence()
        return self._done_through

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        if wal_sequence > self._done_through:  # else counted before a crash: not again
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append((wal_sequence, batch))
            self._buffered_spans += batch.num_rows
            if self._buffered_spans >= self._flush_spans:
                self._wake.set()
        if self.downstream is not None:
            await self.downstream.consume(batch, wal_sequence=wal_sequence)

    async def flush(self) -> None:
        if self._buffer:
            await self._flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="span-metrics")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = _BACKOFF_FIRST_S
        failures = 0
        while True:
            if not self._stopping:
                remaining = self._flush_interval_s - (
                    time.monotonic() - self._oldest if self._buffer else 0.0
                )
                if remaining > 0:
                    self._wake.clear()
                    try:
                        async with asyncio.timeout(remaining):
                            await self._wake.wait()
                    except TimeoutError:
                        pass
            if not self._buffer:
                if self._stopping:
                    return
                continue
            try:
                await self._flush()
            except Exception:
                failures += 1
                log.exception("span metrics: writing aggregates failed; keeping them, retrying")
                if self._stopping and failures >= _DRAIN_ATTEMPTS:
                    log.error("span metrics: giving up at shutdown; the WAL replays them")
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            backoff = _BACKOFF_FIRST_S
            failures = 0

    def _prepare(self, records: list[tuple[int, SpanBatch]]) -> _Prepared:
        """Aggregates of ``records`` (worker thread: Arrow kernels release the GIL)."""
        batch, _ = self.limit.apply(concat_batches([b for _, b in records]))
        rows = red.aggregate(batch)
        exposition = red.exposition(batch) if self._exposition is not None else None
        return _Prepared(len(records), rows, exposition)

    async def _flush(self) -> None:
        count = len(self._buffer)
        records = self._buffer[:count]
        prepared = self._prepared
        done = prepared.records if prepared is not None else 0
        if done < count:
            cut_before = self.limit.cut_spans
            fresh = await asyncio.to_thread(self._prepare, records[done:])
            if self._metrics is not None:
                self._metrics.span_metrics_overflow.inc(self.limit.cut_spans - cut_before)
            if prepared is not None:
                exposition = None
                if prepared.exposition is not None and fresh.exposition is not None:
                    exposition = pa.concat_tables([prepared.exposition, fresh.exposition])
                fresh = _Prepared(count, red.merge([prepared.rows, fresh.rows]), exposition)
            prepared = self._prepared = fresh
        assert prepared is not None  # prepared above, or by a failed attempt
        last = records[-1][0]
        await self._store.write_span_metrics(prepared.rows, wal_sequence=last)
        self._prepared = None
        if self._exposition is not None and prepared.exposition is not None:
            self._exposition.add(prepared.exposition)
        del self._buffer[:count]
        self._buffered_spans -= sum(batch.num_rows for _, batch in records)
        if self._buffer:
            self._oldest = time.monotonic()
        self._done_through = last
        self.flushes += 1
        if self._metrics is not None:
            self._metrics.span_metrics_series.set(self.limit.series)
        if self.on_release is not None:
            self.on_release()
