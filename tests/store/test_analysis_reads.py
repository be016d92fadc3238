"""The reads over many traces (``selection_counts``, ``latency_distribution``,
``typical_traces``) on every engine, over the synthetic shop of ``shop_traces``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from breadcrumbs.model import Span, SpanKind, batch_from_spans
from breadcrumbs.store.base import (
    Capability,
    Endpoint,
    LatencyQuery,
    SelectionCounts,
    Store,
    TraceSelection,
    TypicalTraceQuery,
)

from .conftest import Engine
from .shop_traces import BIKE, CARGO, MS, T0, order_items, order_trace, shop_batch, trace_id

REQUIRES = (Capability.SELECTIONS,)


COUNT = 200
WINDOW = Endpoint(T0, T0 + COUNT * 100 * MS, "gateway")


@pytest.fixture(scope="module")
def shop(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per engine holding the shop, shared by the read-only cases."""
    opened = engine.open(Path(tmp_path_factory.mktemp(f"why-{engine.name}")))
    asyncio.run(opened.write(shop_batch(COUNT)))
    try:
        yield opened
    finally:
        asyncio.run(opened.close())


def value(counts: SelectionCounts, service: str, key: str, text: str) -> tuple[int, int]:
    (found,) = [
        (a.selected, a.baseline)
        for a in counts.attributes
        if (a.service, a.key, a.value) == (service, key, text)
    ]
    return found


async def test_slower_than_splits_traces_and_counts_values_per_side(shop: Store) -> None:
    counts = await shop.selection_counts(TraceSelection(WINDOW, slower_than_ns=200 * MS))
    large = sum(1 for i in range(COUNT) if _items(i) >= 5)
    assert (counts.selected, counts.baseline) == (large, COUNT - large)
    assert (counts.sampled_selected, counts.sampled_baseline) == (large, COUNT - large)
    assert counts.threshold_ns == 200 * MS
    assert value(counts, "delivery-scheduling", "db.statement", CARGO) == (large, 0)
    assert value(counts, "delivery-scheduling", "db.statement", BIKE) == (0, COUNT - large)
    # Values come from every span of the traces, not only the anchors.
    assert value(counts, "gateway", "order.item_count", "5")[1] == 0
    # Resource attributes too, with the span name left empty.
    gw0 = value(counts, "gateway", "host.name", "gw-0")
    assert sum(gw0) == COUNT // 2
    assert any(a.scope == "resource" and a.span_name == "" for a in counts.attributes)


async def test_a_band_selects_traces_between_its_edges(shop: Store) -> None:
    # Anchors last 340 ms (5+ items) or 42 ms; a band is [slower_than, faster_than).
    large = sum(1 for i in range(COUNT) if _items(i) >= 5)
    fast = await shop.selection_counts(TraceSelection(WINDOW, faster_than_ns=200 * MS))
    assert (fast.selected, fast.baseline) == (COUNT - large, large)
    assert value(fast, "delivery-scheduling", "db.statement", CARGO) == (0, large)
    assert value(fast, "delivery-scheduling", "db.statement", BIKE) == (COUNT - large, 0)
    both = TraceSelection(WINDOW, slower_than_ns=300 * MS, faster_than_ns=341 * MS)
    around = await shop.selection_counts(both)
    assert (around.selected, around.baseline) == (large, COUNT - large)
    assert around.threshold_ns == 300 * MS
    above = await shop.selection_counts(replace(both, faster_than_ns=340 * MS))
    assert (above.selected, above.baseline) == (0, COUNT)  # the upper edge is exclusive


async def test_the_newest_selected_traces_are_named_to_look_at(shop: Store) -> None:
    counts = await shop.selection_counts(TraceSelection(WINDOW, slower_than_ns=200 * MS))
    large = [i for i in range(COUNT) if _items(i) >= 5]  # the slow ones; later i starts later
    assert counts.examples == tuple(trace_id(i) for i in reversed(large[-3:]))
    failing = await shop.selection_counts(TraceSelection(WINDOW, errors=True))
    assert failing.examples == tuple(trace_id(i) for i in (196, 192, 188))  # i % 4 == 0 fail


async def test_nearly_unique_keys_are_dropped_not_counted(shop: Store) -> None:
    counts = await shop.selection_counts(TraceSelection(WINDOW, slower_than_ns=200 * MS))
    assert [(k.key, k.service) for k in counts.dropped_keys] == [("order.id", "gateway")]
    assert not any(a.key == "order.id" for a in counts.attributes)


async def test_operations_count_traces_spans_duration_and_self_time(shop: Store) -> None:
    counts = await shop.selection_counts(TraceSelection(WINDOW, slower_than_ns=200 * MS))
    ops = {(o.service, o.span_name): o for o in counts.operations}
    select = ops[("delivery-scheduling", "SELECT")]
    assert select.selected_traces == counts.selected
    assert select.selected_ns == select.selected_self_ns == counts.selected * 300 * MS
    schedule = ops[("delivery-scheduling", "POST /schedule")]
    # POST /schedule lasts its SELECT plus 10 ms: its self time is the 10 ms.
    assert schedule.selected_self_ns == counts.selected * 10 * MS
    assert schedule.baseline_self_ns == counts.baseline * 10 * MS


async def test_errors_and_percentile_selections(shop: Store) -> None:
    failing = await shop.selection_counts(TraceSelection(WINDOW, errors=True))
    assert (failing.selected, failing.baseline) == (COUNT // 4, COUNT - COUNT // 4)
    assert failing.threshold_ns is None
    top = await shop.selection_counts(TraceSelection(WINDOW, percentile=99))
    assert top.threshold_ns == 340 * MS  # the slow orders all last 340 ms
    assert top.selected == sum(1 for i in range(COUNT) if _items(i) >= 5)


async def test_operation_narrows_the_anchors(shop: Store) -> None:
    select = Endpoint(WINDOW.start_ns, WINDOW.end_ns, "delivery-scheduling", "SELECT")
    counts = await shop.selection_counts(TraceSelection(select, slower_than_ns=100 * MS))
    assert counts.selected + counts.baseline == COUNT
    nothing = Endpoint(WINDOW.start_ns, WINDOW.end_ns, "gateway", "no such operation")
    empty = await shop.selection_counts(TraceSelection(nothing, slower_than_ns=MS))
    assert (empty.selected, empty.baseline, empty.attributes) == (0, 0, ())


async def test_sampling_caps_each_side(shop: Store) -> None:
    counts = await shop.selection_counts(
        TraceSelection(WINDOW, slower_than_ns=200 * MS, max_traces_per_side=20)
    )
    assert counts.selected + counts.baseline == COUNT
    assert 5 <= counts.sampled_selected <= 45
    assert 5 <= counts.sampled_baseline <= 45
    # Counts are over the sampled traces.
    assert value(counts, "delivery-scheduling", "db.statement", CARGO)[0] == counts.sampled_selected


async def test_without_an_operation_the_baseline_is_the_selections_endpoints(store: Store) -> None:
    # Beside 40 orders (every fourth fails), 40 menu views that never fail: the failing
    # orders are compared with the other orders, not with the menu views.
    spans = [span for i in range(40) for span in order_trace(i, 1 + i % 3, failed=i % 4 == 0)]
    for i in range(40, 80):
        spans.append(
            Span(
                trace_id(i), f"{i + 1:016x}", "GET /menu", "gateway", T0 + i * 100 * MS, 3 * MS,
                kind=SpanKind.SERVER, attributes={"http.route": "/menu"},
            )
        )  # fmt: skip
    await store.write(batch_from_spans(spans))
    gateway = Endpoint(T0, T0 + 10**12, "gateway")
    failing = await store.selection_counts(TraceSelection(gateway, errors=True))
    assert (failing.selected, failing.baseline) == (10, 30)
    assert not any(a.value == "/menu" for a in failing.attributes)
    assert {o.span_name for o in failing.operations if o.service == "gateway"} == {"POST /orders"}
    # Naming the operation chooses it; nothing selected leaves every trace in the baseline.
    menu = replace(gateway, operation="GET /menu")
    assert (await store.selection_counts(TraceSelection(menu, errors=True))).baseline == 40
    none = await store.selection_counts(TraceSelection(gateway, slower_than_ns=10**12))
    assert (none.selected, none.baseline) == (0, 80)


async def test_numeric_keys_with_many_values_are_bucketed(store: Store) -> None:
    spans = []
    for i in range(120):
        trace = order_trace(i, 1 + i % 3)
        waited = {**(trace[0].attributes or {}), "lock.wait_ms": 0.5 + i * 0.731}
        spans.append(replace(trace[0], attributes=waited))
    await store.write(batch_from_spans(spans))
    counts = await store.selection_counts(
        TraceSelection(
            Endpoint(T0, T0 + 10**12, "gateway"), slower_than_ns=MS, max_values_per_key=8
        )
    )
    buckets = [a for a in counts.attributes if a.key == "lock.wait_ms"]
    assert 2 <= len(buckets) <= 8
    for bucket in buckets:
        assert bucket.low is not None
        assert bucket.high == 2 * bucket.low
        assert bucket.value == f"[{bucket.low:g}, {bucket.high:g})"
    assert sum(b.selected for b in buckets) <= 120


async def test_latency_distribution_buckets_time_and_duration(shop: Store) -> None:
    found = await shop.latency_distribution(LatencyQuery(WINDOW, time_buckets=4))
    assert found.count == COUNT
    assert found.errors == COUNT // 4
    assert (found.min_ns, found.max_ns) == (42 * MS, 340 * MS)
    assert sum(c.count for c in found.cells) == COUNT
    assert {c.step for c in found.cells} == {0, 1, 2, 3}
    per = 4
    for cell in found.cells:
        low = 2 ** (cell.bucket / per)
        assert low <= (42 if cell.bucket < 110 else 340) * MS < 2 ** ((cell.bucket + 1) / per)
    assert found.percentiles_ns[50] in (42 * MS, 340 * MS)
    none = Endpoint(T0, T0 + 1, "nobody")
    assert (await shop.latency_distribution(LatencyQuery(none))).cells == ()


async def test_typical_traces_are_nearest_the_median(shop: Store) -> None:
    succeeded = [i for i in range(COUNT) if i % 4]  # shop_batch fails every 4th order
    median_items = sorted(_items(i) >= 5 for i in succeeded)[len(succeeded) // 2]
    found = await shop.typical_traces(TypicalTraceQuery(WINDOW, limit=3))
    assert len(found) == 3
    assert all((_items(int(t, 16) - 1) >= 5) == median_items for t in found)
    assert all((int(t, 16) - 1) % 4 for t in found)  # none failed
    again = await shop.typical_traces(TypicalTraceQuery(WINDOW, limit=3, exclude=(found[0],)))
    assert found[0] not in again
    assert again[0] == found[1]
    assert trace_id(0) not in await shop.typical_traces(
        TypicalTraceQuery(WINDOW, exclude=(trace_id(0),), limit=COUNT)
    )


async def test_a_typical_trace_did_not_fail(store: Store) -> None:
    # Orders 0-4 fail after 42 ms, the median; orders 5 and 6 succeed after 340 ms. A typical
    # trace is what a request normally does: the successful ones come first, however far.
    spans = [s for i in range(7) for s in order_trace(i, 1 if i < 5 else 9, failed=i < 5)]
    await store.write(batch_from_spans(spans))
    found = await store.typical_traces(TypicalTraceQuery(WINDOW, limit=4))
    assert found[:2] == [trace_id(5), trace_id(6)]
    assert set(found[2:]) <= {trace_id(i) for i in range(5)}
    # Where every trace failed, the nearest the median of all of them.
    failing = Endpoint(T0, T0 + 5 * 100 * MS, "gateway")
    assert len(await store.typical_traces(TypicalTraceQuery(failing, limit=3))) == 3


ITEMS = order_items(COUNT)


def _items(i: int) -> int:
    return ITEMS[i]
