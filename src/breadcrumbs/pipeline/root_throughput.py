"""The root throughput stage: how many requests each (service, operation) really serves, for
adaptive head sampling (``sampling/adaptive.py``).

Per batch, in whole columns: the root spans (no parent), each weighted by its adjusted count
(1/p from ``ot=th:`` in its tracestate, so a span kept at p = 0.01 stands for 100 requests),
summed per (service, span name) into a small dict. Every ``interval_s`` the sums go to
``AdaptiveRates.observe`` and start again. It holds no spans (``pending_from`` is None) and
persists nothing: after a restart the rates begin from the default again.

Why a stage rather than a periodic store query: it costs one filter and one group-by per
batch on columns already in memory, works the same for every engine, and sees spans before
a tail sampler drops any (head sampling must be steered by what the SDKs send, not by what
is kept). Root spans whose start is older than ``max_age_s`` (a WAL replay after a restart,
a backfill) are left out, so they do not count as current traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch
from breadcrumbs.pipeline.stages import OnRelease, Stage
from breadcrumbs.sampling.adaptive import AdaptiveRates, Key
from breadcrumbs.sampling.adjusted_count import adjusted_count

log = logging.getLogger(__name__)


class RootThroughputStage:
    """A ``Stage``; see the module docstring."""

    name = "root-throughput"

    def __init__(self, rates: AdaptiveRates, *, interval_s: float, max_age_s: float) -> None:
        self.rates = rates
        self.interval_s = interval_s
        self.max_age_s = max_age_s
        self.downstream: Stage | None = None
        self.on_release: OnRelease | None = None
        self._sums: defaultdict[Key, float] = defaultdict(float)
        self._since = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending_from(self) -> int | None:
        return None

    @property
    def buffered_spans(self) -> int:
        return 0

    async def open(self) -> int:
        # Nothing persisted: replay may start from the oldest record the WAL still holds
        # (the stages after this one skip what they persisted; old spans are not counted).
        return 0

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        try:
            self.count(batch)
        except Exception:  # throughput is advisory: never stop the spans
            log.exception("root throughput: counting a batch failed")
        if self.downstream is not None:
            await self.downstream.consume(batch, wal_sequence=wal_sequence)

    def count(self, batch: SpanBatch, now_ns: int | None = None) -> None:
        """Add the batch's current root spans to this interval's sums."""
        oldest = (time.time_ns() if now_ns is None else now_ns) - int(self.max_age_s * 1e9)
        roots = batch.select(["ServiceName", "SpanName", "TraceState", "Timestamp", "ParentSpanId"])
        keep = pc.and_(
            pc.equal(roots.column("ParentSpanId"), ""),
            pc.greater_equal(roots.column("Timestamp"), oldest),
        )
        roots = roots.filter(keep)
        if roots.num_rows == 0:
            return
        weighted = pa.table(
            {
                "ServiceName": roots.column("ServiceName"),
                "SpanName": roots.column("SpanName"),
                "weight": adjusted_count(roots.column("TraceState")),
            }
        )
        sums = weighted.group_by(["ServiceName", "SpanName"], use_threads=False).aggregate(
            [("weight", "sum")]
        )
        for service, operation, weight in zip(
            *(sums.column(c).to_pylist() for c in ("ServiceName", "SpanName", "weight_sum")),
            strict=True,
        ):
            self._sums[(service, operation)] += weight

    def recompute(self, now: float | None = None) -> None:
        """Hand this interval's sums to the rates and start a new interval (at ``now``, a
        ``time.monotonic()`` value)."""
        now = time.monotonic() if now is None else now
        sums, self._sums = dict(self._sums), defaultdict(float)
        self.rates.observe(sums, now - self._since)
        self._since = now

    async def flush(self) -> None:
        return None

    def start(self) -> None:
        self._since = time.monotonic()
        self._task = asyncio.create_task(self._run(), name="root-throughput")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.recompute()
            except Exception:
                log.exception("adaptive sampling: recomputing rates failed; trying again")
