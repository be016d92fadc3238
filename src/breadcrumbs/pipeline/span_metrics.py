"""The span metrics stage: RED aggregates of every span, right after the WAL.

It runs before anything may drop spans (a tail sampler), so counts stay true. It buffers the
durable records it is handed (``buffered.BufferedStage``) and, every ``flush_interval_s`` (or
sooner when ``flush_spans`` wait), turns them into ``analysis.red`` aggregate rows in a worker
thread and adds them to the store with the highest WAL sequence they cover, in one
transaction (``SpanMetricsWriter.write_span_metrics``). That sequence is the stage's
watermark: after a crash, replayed records at or below it are not counted again, records above
it are counted once. The same flush feeds the Prometheus exposition (``exposition.py``).

Cardinality is bounded: at most ``max_series`` (service, operation, kind) series are kept;
the spans of any further series count under the operation ``otel.metric.overflow`` of their
service and kind (as the OpenTelemetry spanmetrics connector's overflow does), and
``breadcrumbs_span_metrics_overflow_spans`` counts them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.analysis import red
from breadcrumbs.model import SpanBatch, concat_batches
from breadcrumbs.pipeline.buffered import BufferedStage, Record
from breadcrumbs.pipeline.exposition import SpanMetricsExposition
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import SpanMetricsWriter

OVERFLOW_OPERATION: Final = "otel.metric.overflow"
DEFAULT_MAX_SERIES: Final = 10_000
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


class SpanMetricsStage(BufferedStage):
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
        super().__init__(flush_spans=flush_spans, flush_interval_s=flush_interval_s)
        self._store = store
        self.limit = SeriesLimit(max_series)
        self._exposition = exposition
        self._metrics = metrics
        self._prepared: _Prepared | None = None

    async def _persisted_sequence(self) -> int:
        return await self._store.span_metrics_wal_sequence()

    def _prepare(self, records: list[Record]) -> _Prepared:
        """Aggregates of ``records`` (worker thread: Arrow kernels release the GIL)."""
        batch, _ = self.limit.apply(concat_batches([record.batch for record in records]))
        rows = red.aggregate(batch)
        exposition = red.exposition(batch) if self._exposition is not None else None
        return _Prepared(len(records), rows, exposition)

    async def _persist(self, records: list[Record]) -> None:
        count = len(records)
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
        await self._store.write_span_metrics(prepared.rows, wal_sequence=records[-1].sequence)
        self._prepared = None
        if self._exposition is not None and prepared.exposition is not None:
            self._exposition.add(prepared.exposition)
        if self._metrics is not None:
            self._metrics.span_metrics_series.set(self.limit.series)
