"""Copy every span of one store into another, resumably, then check the counts.

The copy reads the source window by window (``scan``) and writes each window to the
destination with ``Store.write``, oldest first. A checkpoint file says how far it got:
``done_ns`` (every span starting before it is in the destination) and ``writing_ns`` (a
window up to it may be partly written: a write was under way when the copy stopped). It is
saved before and after each window's write, atomically (a temp file renamed over it), so a
copy killed at any instant continues where it stopped; a window reaching into
``[done_ns, writing_ns)`` is first compared with what the destination already holds, and only
the spans it lacks (by trace and span id) are written. Nothing is copied twice.

The check reads both stores again over the same range and compares the span counts of each
``check_window_ns`` (an hour by default).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch
from breadcrumbs.portability.scan import SpanSelection, Window, scan
from breadcrumbs.store.base import Capability, Store

CHECK_WINDOW_NS: Final = 3600 * 10**9
CHECKPOINT_VERSION: Final = 1


class CheckpointMismatch(Exception):
    """The checkpoint file belongs to another copy (other source or destination)."""


@dataclass
class Checkpoint:
    source: str
    destination: str
    start_ns: int
    end_ns: int
    done_ns: int
    writing_ns: int
    copied: int = 0
    version: int = CHECKPOINT_VERSION

    @property
    def finished(self) -> bool:
        return self.done_ns >= self.end_ns

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as stream:
            stream.write(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        if not path.exists():
            return None
        data = orjson.loads(path.read_bytes())
        if data.get("version") != CHECKPOINT_VERSION:
            raise CheckpointMismatch(f"{path}: unknown checkpoint version {data.get('version')}")
        return cls(**data)


def _keys(batch: SpanBatch) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(batch.column("TraceId"), batch.column("SpanId"), "/")


async def _lacking(destination: Store, window: Window) -> SpanBatch:
    """The window's spans that the destination does not hold yet."""
    held = [
        w.spans
        async for w in scan(destination, SpanSelection(window.start_ns, window.end_ns))
        if w.spans.num_rows
    ]
    if not held or window.spans.num_rows == 0:
        return window.spans
    present = pa.concat_arrays([_keys(b).combine_chunks() for b in held])
    return window.spans.filter(pc.invert(pc.is_in(_keys(window.spans), value_set=present)))


@dataclass(frozen=True, slots=True)
class Progress:
    """After each window: how far the copy got and what it wrote."""

    done_ns: int
    copied: int
    written_now: int
    skipped_now: int


async def copy(
    source: Store,
    destination: Store,
    checkpoint: Checkpoint,
    path: Path,
    *,
    traces_per_read: int,
    on_window: Callable[[Progress], None] = lambda _: None,
) -> int:
    """Copies from ``checkpoint.done_ns`` to its end; returns the spans written now."""
    metrics = destination.capabilities.has(Capability.SPAN_METRICS)
    written = 0
    selection = SpanSelection(checkpoint.done_ns, checkpoint.end_ns)
    async for window in scan(source, selection, traces_per_read=traces_per_read):
        batch = window.spans
        if window.start_ns < checkpoint.writing_ns:  # may be partly there from a cut run
            batch = await _lacking(destination, window)
        checkpoint.writing_ns = max(checkpoint.writing_ns, window.end_ns)
        checkpoint.save(path)
        if batch.num_rows:
            await destination.write(batch)
            if metrics:
                await _add_span_metrics(destination, batch)
        written += batch.num_rows
        checkpoint.copied += batch.num_rows
        checkpoint.done_ns = window.end_ns
        checkpoint.save(path)
        on_window(
            Progress(
                checkpoint.done_ns,
                checkpoint.copied,
                batch.num_rows,
                window.spans.num_rows - batch.num_rows,
            )
        )
    return written


async def _add_span_metrics(destination: Store, batch: SpanBatch) -> None:
    """RED rows recomputed from the copied spans (the stores' contract has no read of the
    source's kept aggregates); under the destination's own WAL watermark, which it keeps."""
    from breadcrumbs.analysis import red

    sequence = await destination.span_metrics_wal_sequence()
    await destination.write_span_metrics(red.aggregate(batch), wal_sequence=sequence)


@dataclass(frozen=True, slots=True)
class WindowCount:
    start_ns: int
    source: int
    destination: int


async def _counts(store: Store, start_ns: int, end_ns: int, window_ns: int) -> Counter[int]:
    counts: Counter[int] = Counter()
    async for window in scan(store, SpanSelection(start_ns, end_ns)):
        if window.spans.num_rows == 0:
            continue
        offsets = pc.subtract(window.spans.column("Timestamp"), pa.scalar(start_ns, pa.int64()))
        buckets = pc.divide(offsets, pa.scalar(window_ns, pa.int64()))
        for row in pc.value_counts(buckets.combine_chunks()).to_pylist():
            counts[start_ns + int(row["values"]) * window_ns] += int(row["counts"])
    return counts


async def check_counts(
    source: Store, destination: Store, start_ns: int, end_ns: int, window_ns: int = CHECK_WINDOW_NS
) -> list[WindowCount]:
    """Span counts per window of both stores over [start, end), every window with spans."""
    theirs = await _counts(source, start_ns, end_ns, window_ns)
    ours = await _counts(destination, start_ns, end_ns, window_ns)
    return [WindowCount(w, theirs[w], ours[w]) for w in sorted(set(theirs) | set(ours))]
