"""``portability.scan`` on every engine: each span of a range exactly once, whatever the
window sizes, through the public reader contract alone."""

from __future__ import annotations

import itertools

import pytest
from tests.portability.spans import rows

from breadcrumbs.model import batch_from_spans, concat_batches
from breadcrumbs.portability.scan import SpanSelection, Window, scan
from breadcrumbs.store.base import Store

from . import world


async def _all(store: Store, selection: SpanSelection, **knobs: int) -> list[Window]:
    return [window async for window in scan(store, selection, **knobs)]


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        # Two traces per read and 1 ms windows: windows are cut and regrown many times.
        {"traces_per_read": 2, "first_window_ns": world.MS},
    ],
    ids=["default", "tiny-windows"],
)
async def test_every_span_once_in_order(loaded: Store, knobs: dict[str, int]) -> None:
    batch = world.world_batch()
    start = min(batch.column("Timestamp").to_pylist())
    end = max(batch.column("Timestamp").to_pylist()) + 1
    windows = await _all(loaded, SpanSelection(start, end), **knobs)
    assert windows[0].start_ns == start
    assert windows[-1].end_ns == end
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(windows))
    for window in windows:
        times = window.spans.column("Timestamp").to_pylist()
        assert all(window.start_ns <= t < window.end_ns for t in times)
    assert rows(concat_batches([w.spans for w in windows])) == rows(batch)


async def test_a_range_keeps_only_its_spans(loaded: Store) -> None:
    start, end = world.T0 + 2000 * world.MS, world.T0 + 3000 * world.MS
    found = concat_batches([w.spans for w in await _all(loaded, SpanSelection(start, end))])
    expected = [s for s in rows(world.world_batch()) if start <= s["Timestamp"] < end]
    assert found.num_rows
    assert rows(found) == expected


async def test_services_keep_the_traces_touching_them(loaded: Store) -> None:
    selection = SpanSelection(world.WINDOW_START, world.WINDOW_END, services=("payment",))
    found = concat_batches([w.spans for w in await _all(loaded, selection)])
    traces = {s["TraceId"] for s in rows(found)}
    assert traces == {world.TRACES["B"], world.TRACES["G"]}
    assert rows(found) == rows(batch_from_spans(world.spans_of("B", "G")))


async def test_trace_ids_give_whole_traces(loaded: Store) -> None:
    selection = SpanSelection(0, 0, trace_ids=(world.TRACES["A"], world.UNKNOWN_TRACE))
    windows = await _all(loaded, selection)
    assert len(windows) == 1
    assert rows(windows[0].spans) == rows(batch_from_spans(world.spans_of("A")))
