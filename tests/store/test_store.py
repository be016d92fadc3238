"""The one storage test suite: every engine in ``conftest.ENGINES`` runs every case.

Cases name the ``Capability`` they need (``require``); an engine lists in
``capabilities.missing`` only what it cannot do, with the reason, and those cases skip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from breadcrumbs.model import (
    SPAN_SCHEMA,
    Span,
    SpanBatch,
    SpanKind,
    StatusCode,
    batch_from_spans,
    decode_attributes,
)
from breadcrumbs.store.base import (
    DependenciesQuery,
    DependencyLink,
    GetTraceParams,
    GetTracesParams,
    Operation,
    OperationsQuery,
    RemoteServicesQuery,
    ServicesQuery,
    Store,
    TagFilter,
    TagKeysQuery,
    TagValuesQuery,
    TraceQuery,
)

from . import traffic, world
from .conftest import Engine, require

QUERIES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "queries.json").read_text()
)


async def load(store: Store, wal_sequence: int | None = None) -> None:
    await store.write(world.world_batch(), wal_sequence=wal_sequence)


def by_span_id(batch: SpanBatch) -> list[dict[str, Any]]:
    return sorted(batch.to_pylist(), key=lambda row: row["SpanId"])


def expected(*traces: str) -> SpanBatch:
    return batch_from_spans(world.spans_of(*traces))


def trace_query(spec: dict[str, Any]) -> TraceQuery:
    def ms(name: str) -> int | None:
        return None if name not in spec else world.T0 + spec[name] * world.MS

    kind = spec.get("span_kind")
    tags = tuple(
        TagFilter(t["key"], t["value"], t.get("scope", "any")) for t in spec.get("tags", [])
    )
    min_d, max_d = spec.get("min_duration_ms"), spec.get("max_duration_ms")
    return TraceQuery(
        start_ns=ms("start_ms") or world.WINDOW_START,
        end_ns=ms("end_ms") or world.WINDOW_END,
        service=spec.get("service"),
        operation=spec.get("operation"),
        span_kind=None if kind is None else SpanKind.parse(kind),
        tags=tags,
        min_duration_ns=None if min_d is None else min_d * world.MS,
        max_duration_ns=None if max_d is None else max_d * world.MS,
        limit=spec.get("limit", 20),
        status_codes=tuple(StatusCode[c.upper()] for c in spec.get("status_codes", [])),
    )


# --- get_trace --------------------------------------------------------------------------------


@pytest.mark.parametrize("trace", sorted(world.TRACES))
async def test_get_trace_round_trips_every_column(loaded: Store, trace: str) -> None:
    got = await loaded.get_trace(GetTraceParams(world.TRACES[trace]))
    assert got.schema == SPAN_SCHEMA
    assert by_span_id(got) == by_span_id(expected(trace))


async def test_get_trace_keeps_attribute_types(loaded: Store) -> None:
    got = await loaded.get_trace(GetTraceParams(world.TRACES["B"]))
    row = next(r for r in got.to_pylist() if r["SpanId"] == "b100000000000003")
    attrs = decode_attributes(row["SpanAttributes"], row["SpanAttributeTypes"])
    assert attrs == {
        "http.response.status_code": 402,
        "payment.amount": 19.99,
        "cards": ["visa", "amex"],
        "limits": {"daily": 100, "currency": "EUR"},
        "token": b"\x00\x01\xfe",
    }
    (event,) = row["Events"]
    assert event["Name"] == "exception"
    resource = decode_attributes(row["ResourceAttributes"], row["ResourceAttributeTypes"])
    assert resource == world.PAYMENT


async def test_get_trace_root_has_empty_parent_and_link_survives(loaded: Store) -> None:
    got = by_span_id(await loaded.get_trace(GetTraceParams(world.TRACES["A"])))
    assert [r["ParentSpanId"] for r in got] == ["", *[r["SpanId"] for r in got[:-1]]]
    (link,) = got[-1]["Links"]
    assert (link["TraceId"], link["SpanId"], link["TraceState"]) == (
        world.TRACES["B"],
        "b100000000000001",
        "ts=1",
    )


async def test_get_trace_unknown_is_empty(loaded: Store) -> None:
    got = await loaded.get_trace(GetTraceParams(world.UNKNOWN_TRACE))
    assert got.num_rows == 0
    assert got.schema == SPAN_SCHEMA


async def test_get_trace_on_an_empty_store(store: Store) -> None:
    assert (await store.get_trace(GetTraceParams(world.TRACES["A"]))).num_rows == 0


async def test_get_trace_with_time_hints(loaded: Store) -> None:
    hinted = GetTraceParams(world.TRACES["B"], start_ns=world.T0, end_ns=world.WINDOW_END)
    assert by_span_id(await loaded.get_trace(hinted)) == by_span_id(expected("B"))


async def test_get_traces_mixes_several(loaded: Store) -> None:
    ids = [world.TRACES["A"], world.TRACES["G"], world.UNKNOWN_TRACE, world.TRACES["A"]]
    got = await loaded.get_traces(GetTracesParams(tuple(ids)))
    assert got.schema == SPAN_SCHEMA
    assert by_span_id(got) == by_span_id(expected("A", "G"))
    assert (await loaded.get_traces(GetTracesParams(()))).num_rows == 0


def _spread_traces() -> tuple[dict[str, list[Span]], list[list[Span]]]:
    """70 traces: 40 close together (200 ms apart), 20 a minute apart, 10 an hour apart;
    every 7th has a late span written in a later batch 40 s after its root, and traces
    0x...1 and 0x...2 of each group share their high 64 bits. Returns spans per trace and
    the batches to write."""
    starts = (
        [i * 200 * world.MS for i in range(40)]
        + [10 * 60_000 * world.MS + i * 60_000 * world.MS for i in range(20)]
        + [2 * 3_600_000 * world.MS + i * 3_600_000 * world.MS for i in range(10)]
    )
    spans: dict[str, list[Span]] = {}
    first: list[Span] = []
    late: list[Span] = []
    for n, offset in enumerate(starts):
        # pairs (2k, 2k+1) share the high 64 bits of their trace id
        trace = f"{n // 2 + 1:016x}{n % 2 + 1:016x}"
        start = world.T0 + offset
        root = Span(trace, f"{2 * n + 1:016x}", "root", "api", start, 5 * world.MS)
        child = Span(trace, f"{2 * n + 2:016x}", "child", "db", start + 1, world.MS, root.span_id)
        spans[trace] = [root, child]
        first.extend(spans[trace])
        if n % 7 == 0:
            straggler = Span(
                trace, f"{10_000 + n:016x}", "late", "queue", start + 40_000 * world.MS, world.MS
            )
            spans[trace].append(straggler)
            late.append(straggler)
    return spans, [first[: len(first) // 2], first[len(first) // 2 :], late]


async def test_get_traces_of_many_traces_near_and_far_in_time(store: Store) -> None:
    spans, batches = _spread_traces()
    for batch in batches:
        await store.write(batch_from_spans(batch))
    ids = sorted(spans)
    asked = ids[::2] + ids[1::6] + ids[:5] + [world.UNKNOWN_TRACE, f"{99:016x}{1:016x}"]
    got = await store.get_traces(GetTracesParams(tuple(asked)))
    wanted = sorted(set(asked) & set(spans))
    assert got.schema == SPAN_SCHEMA
    assert by_span_id(got) == by_span_id(batch_from_spans([s for t in wanted for s in spans[t]]))
    # and each alone
    for trace in ids[:3] + ids[-3:]:
        alone = await store.get_trace(GetTraceParams(trace))
        assert by_span_id(alone) == by_span_id(batch_from_spans(spans[trace]))


async def test_get_traces_of_only_unknown_ids_is_empty(loaded: Store) -> None:
    got = await loaded.get_traces(GetTracesParams((world.UNKNOWN_TRACE, world.UNKNOWN_TRACE)))
    assert got.num_rows == 0
    assert got.schema == SPAN_SCHEMA


async def test_spans_of_one_trace_written_in_several_batches(store: Store) -> None:
    spans = world.spans_of("B")
    for span in spans:
        await store.write(batch_from_spans([span]))
    got = await store.get_trace(GetTraceParams(world.TRACES["B"]))
    assert by_span_id(got) == by_span_id(batch_from_spans(spans))


# --- find_trace_ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", QUERIES, ids=[q["name"] for q in QUERIES])
async def test_find_trace_ids(loaded: Store, case: dict[str, Any]) -> None:
    require(loaded, "find_trace_ids", *case.get("needs", []))
    got = await loaded.find_trace_ids(trace_query(case["query"]))
    assert got == [world.TRACES[name] for name in case["expected"]]


# --- services, operations, peers --------------------------------------------------------------


async def test_find_trace_ids_in_windows_far_wider_than_the_data(loaded: Store) -> None:
    # The search widens over the part of the window that holds spans: the same newest traces
    # come back however far the window reaches past them.
    exact = TraceQuery(world.WINDOW_START, world.WINDOW_END, limit=3)
    expected_ids = await loaded.find_trace_ids(exact)
    assert len(expected_ids) == 3
    for days in (2, 30):
        wide = dataclasses.replace(exact, end_ns=world.WINDOW_END + days * world.DAY_NS)
        assert await loaded.find_trace_ids(wide) == expected_ids
    before = TraceQuery(world.T0 - 10 * world.DAY_NS, world.T0 - 9 * world.DAY_NS)
    assert await loaded.find_trace_ids(before) == []


async def test_services(store: Store) -> None:
    assert await store.services(ServicesQuery()) == []
    await load(store)
    assert await store.services(ServicesQuery()) == ["cart", "frontend", "payment"]


async def test_operations_of_a_service(loaded: Store) -> None:
    assert await loaded.operations(OperationsQuery("frontend")) == [
        Operation("GET /cart", SpanKind.SERVER),
        Operation("GET /old", SpanKind.SERVER),
        Operation("GET cart", SpanKind.CLIENT),
        Operation("POST /checkout", SpanKind.SERVER),
        Operation("POST payment", SpanKind.CLIENT),
        Operation("publish orders", SpanKind.PRODUCER),
    ]
    assert await loaded.operations(OperationsQuery("nope")) == []


async def test_operations_per_kind(loaded: Store) -> None:
    assert await loaded.operations(OperationsQuery("cart", SpanKind.SERVER)) == [
        Operation("GET /items", SpanKind.SERVER)
    ]
    assert await loaded.operations(OperationsQuery("cart", SpanKind.CLIENT)) == [
        Operation("SELECT items", SpanKind.CLIENT)
    ]
    assert await loaded.operations(OperationsQuery("payment", SpanKind.PRODUCER)) == []


async def test_remote_services(loaded: Store) -> None:
    require(loaded, "remote_services")
    # peer.service first; the producer names only its server.address.
    assert await loaded.remote_services(RemoteServicesQuery("frontend")) == [
        "cart",
        "kafka.svc",
        "payment",
    ]
    assert await loaded.remote_services(RemoteServicesQuery("cart")) == ["postgres"]
    assert await loaded.remote_services(RemoteServicesQuery("payment")) == ["stripe"]
    assert await loaded.remote_services(RemoteServicesQuery("nope")) == []


# --- dependencies -----------------------------------------------------------------------------


async def test_dependencies_in_window(loaded: Store) -> None:
    require(loaded, "dependencies")
    got = await loaded.dependencies(
        DependenciesQuery(world.WINDOW_END, world.WINDOW_END - world.WINDOW_START + 1)
    )
    assert sorted(got, key=lambda d: (d.parent, d.child)) == [
        DependencyLink("cart", "postgres", 1, 0),  # uninstrumented peer
        # A: client -> server; D: the callee never reported; F: producer -> consumer
        DependencyLink("frontend", "cart", 3, 0),
        DependencyLink("frontend", "payment", 1, 1),
        DependencyLink("payment", "stripe", 1, 1),
    ]


async def test_dependencies_window_is_half_open(loaded: Store) -> None:
    require(loaded, "dependencies")
    # (end - lookback, end]: E's two spans start at -2 days and -2 days + 1 ms.
    e_start = world.T0 - 2 * world.DAY_NS
    got = await loaded.dependencies(DependenciesQuery(e_start + world.MS, world.MS))
    # The parent (E1, at e_start) falls outside (e_start, ...]: no link without it.
    assert got == []
    got = await loaded.dependencies(DependenciesQuery(e_start + world.MS, world.MS + 1))
    assert got == [DependencyLink("frontend", "cart", 1, 0)]


async def test_dependencies_empty_window(loaded: Store) -> None:
    require(loaded, "dependencies")
    assert await loaded.dependencies(DependenciesQuery(world.T0 - world.DAY_NS, world.MS)) == []


# --- autocomplete -----------------------------------------------------------------------------


async def test_tag_keys(loaded: Store) -> None:
    require(loaded, "tag_keys")
    keys = {k for span in world.SPANS for k in (span.attributes or {})}
    assert await loaded.tag_keys(TagKeysQuery()) == sorted(keys)


async def test_tag_values(loaded: Store) -> None:
    require(loaded, "tag_values")
    assert await loaded.tag_values(TagValuesQuery("http.response.status_code")) == [
        "200",
        "304",
        "402",
        "500",
    ]
    assert await loaded.tag_values(TagValuesQuery("http.route")) == ["/cart", "/checkout", "/items"]
    assert await loaded.tag_values(TagValuesQuery("nope")) == []


# --- writing: WAL sequence, durability --------------------------------------------------------


async def test_wal_sequence_committed_with_batches(store: Store) -> None:
    assert await store.last_wal_sequence() == 0
    await store.write(batch_from_spans(world.spans_of("A")), wal_sequence=5)
    assert await store.last_wal_sequence() == 5
    await store.write(batch_from_spans(world.spans_of("B")))
    assert await store.last_wal_sequence() == 5
    await store.write(SPAN_SCHEMA.empty_table(), wal_sequence=9)
    assert await store.last_wal_sequence() == 9


async def test_failed_write_commits_neither_spans_nor_sequence(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(store, "atomic_write")
    assert engine.fail_writes is not None, "an engine claiming atomic writes injects a failure"
    await store.write(batch_from_spans(world.spans_of("A")), wal_sequence=3)
    engine.fail_writes(monkeypatch)
    with pytest.raises(Exception, match="injected failure"):
        await store.write(batch_from_spans(world.spans_of("C")), wal_sequence=4)
    monkeypatch.undo()
    assert await store.last_wal_sequence() == 3
    assert (await store.get_trace(GetTraceParams(world.TRACES["C"]))).num_rows == 0
    assert (await store.stats()).spans == len(world.spans_of("A"))


async def test_data_and_sequence_survive_reopen(engine: Engine, tmp_path: Path) -> None:
    first = engine.open(tmp_path)
    await first.write(world.world_batch(), wal_sequence=42)
    await first.close()
    again = engine.open(tmp_path)
    try:
        assert await again.last_wal_sequence() == 42
        got = await again.get_trace(GetTraceParams(world.TRACES["B"]))
        assert by_span_id(got) == by_span_id(expected("B"))
        assert await again.services(ServicesQuery()) == ["cart", "frontend", "payment"]
        await again.write(batch_from_spans(world.spans_of("A")), wal_sequence=43)
        assert await again.last_wal_sequence() == 43
    finally:
        await again.close()


# --- retention and stats ----------------------------------------------------------------------


async def test_delete_before_removes_exactly_the_old_spans(store: Store) -> None:
    require(store, "delete_before")
    await load(store)
    assert await store.delete_before(world.T0) == len(world.spans_of("E"))
    assert (await store.get_trace(GetTraceParams(world.TRACES["E"]))).num_rows == 0
    assert by_span_id(await store.get_trace(GetTraceParams(world.TRACES["A"]))) == by_span_id(
        expected("A")
    )
    stats = await store.stats()
    assert stats.spans == len(world.SPANS) - len(world.spans_of("E"))
    assert stats.oldest_ns == world.T0 + 1000 * world.MS
    assert Operation("GET /old", SpanKind.SERVER) not in await store.operations(
        OperationsQuery("frontend")
    )
    assert await store.delete_before(world.T0) == 0


async def test_delete_before_keeps_a_span_starting_at_the_cutoff(store: Store) -> None:
    require(store, "delete_before")
    await load(store)
    a_start = world.T0 + 1000 * world.MS
    assert await store.delete_before(a_start) == len(world.spans_of("E"))
    assert (await store.get_trace(GetTraceParams(world.TRACES["A"]))).num_rows == 4
    assert await store.delete_before(a_start + 1) == 1


async def test_delete_everything_then_write_again(store: Store) -> None:
    require(store, "delete_before")
    await load(store)
    assert await store.delete_before(world.WINDOW_END) == len(world.SPANS)
    assert await store.services(ServicesQuery()) == []
    assert (await store.stats()).spans == 0
    await store.write(batch_from_spans(world.spans_of("B")))
    got = await store.get_trace(GetTraceParams(world.TRACES["B"]))
    assert by_span_id(got) == by_span_id(expected("B"))
    assert await store.services(ServicesQuery()) == ["frontend", "payment"]


async def test_stats(store: Store) -> None:
    empty = await store.stats()
    assert (empty.spans, empty.oldest_ns, empty.newest_ns) == (0, None, None)
    await load(store)
    stats = await store.stats()
    assert stats.spans == len(world.SPANS)
    assert stats.bytes_on_disk > 0
    assert stats.oldest_ns == min(s.start_ns for s in world.SPANS)
    assert stats.newest_ns == max(s.start_ns for s in world.SPANS)


async def test_every_engine_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


async def test_concurrent_writes_and_reads_all_land(store: Store) -> None:
    traces = sorted(world.TRACES)

    async def write(name: str, sequence: int) -> None:
        await store.write(batch_from_spans(world.spans_of(name)), wal_sequence=sequence)

    async def read(name: str) -> int:
        got: SpanBatch = await store.get_trace(GetTraceParams(world.TRACES[name]))
        return int(got.num_rows)

    await asyncio.gather(
        *(write(name, i + 1) for i, name in enumerate(traces)),
        *(read(name) for name in traces),
        store.find_trace_ids(trace_query({})),
        store.services(ServicesQuery()),
    )
    assert await store.last_wal_sequence() == len(traces)
    assert (await store.stats()).spans == len(world.SPANS)
    for name in traces:
        assert await read(name) == len(world.spans_of(name))


async def test_tag_keys_follow_retention(store: Store) -> None:
    require(store, "tag_keys", "delete_before")
    old = dataclasses.replace(
        world.spans_of("E")[0], span_id="e1000000000000ff", attributes={"legacy.flag": True}
    )
    await store.write(batch_from_spans([old, *world.spans_of("A")]))
    assert "legacy.flag" in await store.tag_keys(TagKeysQuery())
    await store.delete_before(world.T0)
    assert "legacy.flag" not in await store.tag_keys(TagKeysQuery())
    assert "db.system" in await store.tag_keys(TagKeysQuery())


# --- dependencies over long windows -----------------------------------------------------------

TRAFFIC_TRACES = 150  # 50 minutes
# Traces whose frontend client spans (parents of cart's server spans) are written last: a
# few minutes before the newest data, then half an hour before it.
LATE_TRACES = (range(120, 126), range(30, 42))


def _late(span: Span, traces: range) -> bool:
    return int(span.trace_id, 16) - 1 in traces and span.name == "GET cart"


async def write_traffic(store: Store) -> list[Span]:
    """Every trace's frontend spans one flush after its other spans (parents end last), and
    some traces' client spans (parents of cart's server spans) after everything else."""
    spans = [s for i in range(TRAFFIC_TRACES) for s in traffic.trace(i)]
    groups = [range(i, min(i + 10, TRAFFIC_TRACES)) for i in range(0, TRAFFIC_TRACES, 10)]
    previous: range = range(0)
    for group in [*groups, range(0)]:
        batch = [s for i in group for s in traffic.trace(i) if s.service != "frontend"]
        batch += [s for i in previous for s in traffic.trace(i) if s.service == "frontend"]
        late = [s for s in batch if any(_late(s, traces) for traces in LATE_TRACES)]
        await store.write(batch_from_spans([s for s in batch if s not in late]))
        previous = group
    for traces in LATE_TRACES:
        await store.write(batch_from_spans([s for s in spans if _late(s, traces)]))
    return spans


TRAFFIC_WINDOWS = [
    # (end, lookback) relative to traffic.T0
    (TRAFFIC_TRACES * traffic.GAP_NS + 300 * 10**9, TRAFFIC_TRACES * traffic.GAP_NS + 300 * 10**9),
    (37 * 60 * 10**9 + 123_456_789, 20 * 60 * 10**9 + 987_654_321),
    (12 * 60 * 10**9 + 1, 5 * 60 * 10**9),
    ((TRAFFIC_TRACES - 1) * traffic.GAP_NS + traffic.MS, 10 * 60 * 10**9),
    (45 * traffic.GAP_NS + 2 * traffic.MS, traffic.MS),
]


async def test_dependencies_over_many_minutes_with_late_parents(store: Store) -> None:
    """Every engine against the reference definition (``traffic.links``, the contract's
    ``DependencyLink``), including consumers beyond the horizon that are no call."""
    require(store, "dependencies")
    spans = await write_traffic(store)
    for end, lookback in TRAFFIC_WINDOWS:
        got = await store.dependencies(DependenciesQuery(traffic.T0 + end, lookback))
        want = traffic.links(spans, traffic.T0 + end, lookback)
        assert sorted(got, key=lambda d: (d.parent, d.child)) == want, (end, lookback)
    everything = await store.dependencies(
        DependenciesQuery(traffic.T0 + TRAFFIC_WINDOWS[0][0], TRAFFIC_WINDOWS[0][1])
    )
    assert DependencyLink("frontend", "cart", TRAFFIC_TRACES, len(range(0, 150, 7))) in everything


async def _refresh_dependencies(store: Store) -> int:
    """The engine's kept dependency counts brought up to date, as its background work does
    (an engine keeping none has no ``refresh_dependencies``); returns the steps taken."""
    refresh = getattr(store, "refresh_dependencies", None)
    steps = 0
    while refresh is not None and await refresh():
        steps += 1
    return steps


def _late_calls(i: int) -> list[Span]:
    """Spans of traffic trace ``i`` written long after it: billing answering cart's server
    span (a new pair), and postgres answering cart's client span (its peer call becomes a
    pair)."""
    t, ms = traffic.T0 + i * traffic.GAP_NS, traffic.MS
    trace_id, sid = f"{i + 1:032x}", f"{i + 1:08x}"
    return [
        Span(trace_id, sid + "000000a1", "charge", "billing", t + 4 * ms, ms,
             parent_span_id=sid + "00000003", kind=SpanKind.SERVER),
        Span(trace_id, sid + "000000a2", "query", "postgres", t + 5 * ms, ms,
             parent_span_id=sid + "00000004", kind=SpanKind.SERVER),
    ]  # fmt: skip


async def test_kept_dependency_counts_stay_exact_after_late_spans(store: Store) -> None:
    """Once an engine has kept counts (its background refresh), every window still equals
    the definition over the spans stored, also after late spans in counted time, before and
    after the next refresh."""
    require(store, "dependencies")
    spans = await write_traffic(store)
    await _refresh_dependencies(store)

    async def assert_exact(stored: list[Span]) -> None:
        for end, lookback in TRAFFIC_WINDOWS:
            got = await store.dependencies(DependenciesQuery(traffic.T0 + end, lookback))
            want = traffic.links(stored, traffic.T0 + end, lookback)
            assert sorted(got, key=lambda d: (d.parent, d.child)) == want, (end, lookback)

    await assert_exact(spans)
    late = _late_calls(60) + _late_calls(61)
    await store.write(batch_from_spans(late))
    await assert_exact(spans + late)
    await _refresh_dependencies(store)
    await assert_exact(spans + late)
    window = DependenciesQuery(traffic.T0 + 37 * 60 * 10**9, 20 * 60 * 10**9)
    assert DependencyLink("cart", "billing", 2, 0) in await store.dependencies(window)


async def test_dependencies_after_retention(store: Store) -> None:
    require(store, "dependencies", "delete_before")
    spans = await write_traffic(store)
    cutoff = traffic.T0 + 15 * 60 * 10**9 + 5
    await store.delete_before(cutoff)
    kept = [s for s in spans if s.start_ns >= cutoff]
    for end, lookback in TRAFFIC_WINDOWS:
        got = await store.dependencies(DependenciesQuery(traffic.T0 + end, lookback))
        want = traffic.links(kept, traffic.T0 + end, lookback)
        assert sorted(got, key=lambda d: (d.parent, d.child)) == want, (end, lookback)
