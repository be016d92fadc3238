"""The stages after the WAL: one shape, run in order, each with a release watermark.

Every durable WAL record goes to the first stage as ``consume(batch, wal_sequence=...)``; a
stage hands what it passes on to ``downstream`` (the next stage, or None for the last), so a
stage that drops spans (a tail sampler) simply forwards less, and one that waits for more
spans forwards later. Batches are never mutated; the caller gives up the batch.

Release: a WAL record may be deleted only once no stage still needs it. A stage reports
``pending_from``, the lowest WAL sequence whose effect it holds in memory only (None when it
holds nothing), and calls ``on_release`` when that moves; the pipeline deletes WAL segments
below every stage's ``pending_from`` and below what it has not yet handed to the first stage.

Replay without double counting: ``open`` returns the highest sequence whose effect the stage
has already persisted (committed atomically with its data, like the store's
``last_wal_sequence``). The pipeline replays from the lowest of those; a stage ignores (but
still forwards) records at or below its own, so a crash between two stages' commits neither
loses nor repeats anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Protocol

from breadcrumbs.model import SpanBatch

OnRelease = Callable[[], None]


class Stage(Protocol):
    name: str
    downstream: Stage | None
    on_release: OnRelease | None

    async def open(self) -> int:
        """The WAL sequence through which this stage's effect is already persisted (0: none).
        Called once, before replay."""
        ...

    async def consume(self, batch: SpanBatch, *, wal_sequence: int) -> None:
        """Take a durable WAL record (sequences increase); forward to ``downstream``."""
        ...

    @property
    def pending_from(self) -> int | None:
        """The lowest WAL sequence this stage holds unpersisted, None when none."""
        ...

    @property
    def buffered_spans(self) -> int:
        """Spans held in memory (they count against the pipeline's memory bound)."""
        ...

    async def flush(self) -> None:
        """Persist everything held now; raises if it cannot (replay stops there)."""
        ...

    def start(self) -> None:
        """Begin background work (periodic flushes)."""
        ...

    async def stop(self) -> None:
        """Flush what can be flushed (a few attempts) and end background work."""
        ...


def chain(stages: list[Stage]) -> Stage:
    """Link ``stages`` in order; returns the first."""
    if not stages:
        raise ValueError("a pipeline needs at least one stage after the WAL")
    for stage, after in itertools.pairwise(stages):
        stage.downstream = after
    stages[-1].downstream = None
    return stages[0]
