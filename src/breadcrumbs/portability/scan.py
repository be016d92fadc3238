"""Every stored span of a time range, window by window, through the ``SpanReader`` contract.

The store contract has no "all spans" read (every engine answers searches and traces), so a
scan is built from two public reads: ``find_trace_ids`` for the traces with a span starting
in a window, then ``get_traces`` for their spans, of which those starting in the window are
kept. Every span starting in [start, end) is then in exactly one window, whichever engine and
layout runs underneath (export, migrate and the per-window count check all read this way).

Windows adapt to the data: a window holding ``traces_per_read`` traces or more is halved
and read again (the search answers at most that many), one holding few doubles the next (up
to ``max_window_ns``, so progress is reported often; an empty one doubles without bound, so a
range of years without spans takes a few dozen reads).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.model import SpanBatch, concat_batches, empty_batch
from breadcrumbs.store.base import GetTracesParams, SpanReader, TraceQuery

SECOND_NS: Final = 10**9
FIRST_WINDOW_NS: Final = 60 * SECOND_NS
MAX_WINDOW_NS: Final = 86_400 * SECOND_NS
TRACES_PER_READ: Final = 1_000
IDS_PER_FETCH: Final = 500


@dataclass(frozen=True, slots=True)
class SpanSelection:
    """Spans starting in [start_ns, end_ns); with ``services``, only the spans of traces that
    have a span of one of them in the same window; with ``trace_ids``, those whole traces
    (the time range then does not apply)."""

    start_ns: int
    end_ns: int
    services: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Window:
    """The spans starting in [start_ns, end_ns), sorted by trace, then start."""

    start_ns: int
    end_ns: int
    spans: SpanBatch


def in_window(batch: SpanBatch, start_ns: int, end_ns: int) -> SpanBatch:
    times = batch.column("Timestamp")
    keep = pc.and_(
        pc.greater_equal(times, pa.scalar(start_ns, pa.int64())),
        pc.less(times, pa.scalar(end_ns, pa.int64())),
    )
    return batch.filter(keep)


def _sorted(batch: SpanBatch) -> SpanBatch:
    if batch.num_rows < 2:
        return batch
    return batch.sort_by([("TraceId", "ascending"), ("Timestamp", "ascending")])


async def fetch_traces(reader: SpanReader, trace_ids: list[str]) -> SpanBatch:
    """The spans of the given traces, a bounded number of ids per read."""
    parts = [
        await reader.get_traces(GetTracesParams(tuple(trace_ids[i : i + IDS_PER_FETCH])))
        for i in range(0, len(trace_ids), IDS_PER_FETCH)
    ]
    return concat_batches(parts) if parts else empty_batch()


async def _window_trace_ids(
    reader: SpanReader, selection: SpanSelection, start_ns: int, end_ns: int, limit: int
) -> list[str] | None:
    """The traces with a span in [start, end), or None when there may be more than
    ``limit`` - 1 of them (the window must be cut)."""
    found: dict[str, None] = {}
    for service in selection.services or (None,):
        # TraceQuery's end is inclusive; the window's is not.
        query = TraceQuery(start_ns=start_ns, end_ns=end_ns - 1, service=service, limit=limit)
        ids = await reader.find_trace_ids(query)
        if len(ids) >= limit:
            return None
        found.update(dict.fromkeys(ids))
    return list(found)


async def scan(
    reader: SpanReader,
    selection: SpanSelection,
    *,
    traces_per_read: int = TRACES_PER_READ,
    first_window_ns: int = FIRST_WINDOW_NS,
    max_window_ns: int = MAX_WINDOW_NS,
) -> AsyncIterator[Window]:
    """The selected spans, oldest window first (see the module's doc); empty windows are
    yielded too, so a caller can checkpoint or report progress by time."""
    if selection.trace_ids:
        spans = _sorted(await fetch_traces(reader, list(dict.fromkeys(selection.trace_ids))))
        if spans.num_rows:
            times = pc.min_max(spans.column("Timestamp"))
            yield Window(times["min"].as_py(), times["max"].as_py() + 1, spans)
        return
    start, size = selection.start_ns, max(1, first_window_ns)
    while start < selection.end_ns:
        stop = min(selection.end_ns, start + size)
        ids = await _window_trace_ids(reader, selection, start, stop, traces_per_read)
        if ids is None and stop - start > 1:
            size = max(1, (stop - start) // 2)
            continue
        if ids is None:  # over ``traces_per_read`` traces starting in one ns: read them all
            ids = await _window_trace_ids(reader, selection, start, stop, 2**31 - 1) or []
        spans = in_window(await fetch_traces(reader, ids), start, stop) if ids else empty_batch()
        yield Window(start, stop, _sorted(spans))
        start = stop
        if not ids:  # nothing here: leap over empty time however long (no memory at stake)
            size *= 2
        elif 2 * len(ids) < traces_per_read:  # half full or less: a longer window next
            size = min(max_window_ns, size * 2)
