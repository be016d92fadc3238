"""Test helpers: span batches tagged by number, and an in-memory store.

``MemoryStore`` is a fake of the writer contract (``store/base.py``), not of any engine: it
keeps written batches in a list and commits ``wal_sequence`` with them, as the contract says.
"""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import Span, SpanBatch, StatusCode, batch_from_spans, concat_batches


def trace_id(tag: int) -> str:
    return f"{tag + 1:032x}"


def make_batch(tag: int, spans: int = 3, start_ns: int = 1_700_000_000_000_000_000) -> SpanBatch:
    """``spans`` spans of one trace whose id and span names encode ``tag``."""
    return batch_from_spans(
        [
            Span(
                trace_id=trace_id(tag),
                span_id=f"{i + 1:016x}",
                name=f"op-{tag}-{i}",
                service="svc",
                start_ns=start_ns + i,
                duration_ns=1000,
                attributes={"tag": tag},
            )
            for i in range(spans)
        ]
    )


class StoreDown(Exception):
    pass


class MemoryStore:
    def __init__(self) -> None:
        self.batches: list[SpanBatch] = []
        self.sequence = 0
        self.failures_left = 0  # the next writes that raise StoreDown
        self.gate: asyncio.Event | None = None  # when set up, writes wait for it
        self.written = asyncio.Event()

    async def write(self, batch: SpanBatch, *, wal_sequence: int | None = None) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left > 0:
            self.failures_left -= 1
            raise StoreDown("store unavailable")
        self.batches.append(batch)
        if wal_sequence is not None:
            self.sequence = wal_sequence
        self.written.set()

    async def last_wal_sequence(self) -> int:
        return self.sequence

    async def delete_before(self, cutoff_ns: int) -> int:
        table = self.all()
        keep = pc.greater_equal(table.column("Timestamp"), pa.scalar(cutoff_ns, pa.int64()))
        kept = table.filter(keep)
        self.batches = [kept]
        deleted: int = table.num_rows - kept.num_rows
        return deleted

    def all(self) -> SpanBatch:
        return concat_batches(self.batches)

    def span_names(self) -> list[str]:
        names: list[str] = self.all().column("SpanName").to_pylist()
        return names


class MetricsDown:
    """A span-metrics writer (``store/base.py``) that is always unavailable."""

    async def write_span_metrics(self, rows: pa.Table, *, wal_sequence: int) -> None:
        raise StoreDown("metrics store unavailable")

    async def span_metrics_wal_sequence(self) -> int:
        return 0


def sampled_trace_id(tag: int) -> str:
    """A trace id whose first 56 bits (the tail sampler's randomness) are spread out."""
    return f"{(tag + 1) * 0x9E3779B97F4A7C15 % 2**64:016x}{tag + 1:016x}"


def make_trace_batch(tag: int, spans: int = 3) -> SpanBatch:
    """One complete trace (a root and ``spans - 1`` children), an error in every seventh."""
    return batch_from_spans(
        [
            Span(
                trace_id=sampled_trace_id(tag),
                span_id=f"{i + 1:016x}",
                parent_span_id="" if i == 0 else f"{1:016x}",
                name=f"op-{tag}-{i}",
                service="svc",
                start_ns=1_700_000_000_000_000_000 + i,
                duration_ns=1000,
                status=StatusCode.ERROR if tag % 7 == 0 and i == spans - 1 else StatusCode.UNSET,
            )
            for i in range(spans)
        ]
    )
