"""The one way data is handed on: ``await consumer.consume(batch)``.

Ownership: once ``consume`` is called the caller no longer owns the batch; nobody mutates a
batch in place (Arrow tables are immutable anyway), a stage that changes spans passes on a
new table. ``consume`` returns when the batch is durable (the WAL stage) or handed on, and
raises ``errors.RetryableError`` subclasses when the pipeline is full or shutting down.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from breadcrumbs.model import SpanBatch, concat_batches


@runtime_checkable
class Consumer(Protocol):
    async def consume(self, batch: SpanBatch) -> None: ...


class SinkConsumer:
    """Keeps every batch it is given: the end of a pipeline in tests."""

    def __init__(self) -> None:
        self.batches: list[SpanBatch] = []

    async def consume(self, batch: SpanBatch) -> None:
        self.batches.append(batch)

    def all(self) -> SpanBatch:
        return concat_batches(self.batches)
