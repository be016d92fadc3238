"""The trace doctor's reads (``SpanReader.*_profile``) on the storage test world, per engine."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from breadcrumbs.analysis.doctor import ID_PATTERN
from breadcrumbs.model import Span, SpanKind, batch_from_spans
from breadcrumbs.store.base import Capability, DoctorWindow, Store

from . import world

REQUIRES = (Capability.DOCTOR,)


WINDOW = DoctorWindow(world.WINDOW_START, world.WINDOW_END, ID_PATTERN, settle_ns=0)


def rows(table: pa.Table, **where: Any) -> list[dict[str, Any]]:
    return [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]


async def test_operation_profile_counts_each_operation(loaded: Store) -> None:
    table = await loaded.operation_profile(WINDOW)
    (cart,) = rows(table, ServiceName="frontend", NameTemplate="GET /cart")
    assert cart["SpanKind"] == SpanKind.SERVER
    assert (cart["Spans"], cart["Traces"], cart["Roots"], cart["Errors"]) == (2, 2, 2, 0)
    assert (cart["Route"], cart["Method"], cart["Names"]) == ("/cart", "GET", 1)
    assert cart["Example"] == world.TRACES["D"]  # the newest
    assert cart["P50Ns"] == 8 * world.MS
    assert cart["P99Ns"] == 120 * world.MS
    (charge,) = rows(table, ServiceName="payment", NameTemplate="POST /charge")
    assert charge["Errors"] == 1
    (query,) = rows(table, ServiceName="cart", NameTemplate="SELECT items")
    assert query["DbSystem"] == "postgresql"
    assert query["SampledSpans"] == 0
    assert not rows(table, NameTemplate="GET /old")  # trace E is outside the window


async def test_operation_profile_templates_names_by_the_given_pattern(loaded: Store) -> None:
    window = DoctorWindow(WINDOW.start_ns, WINDOW.end_ns, "[aeiou]", settle_ns=0)
    table = await loaded.operation_profile(window)
    (charges,) = rows(table, ServiceName="payment", SpanKind=SpanKind.CLIENT)
    assert charges["NameTemplate"] == "POST /v1/ch{id}rg{id}s"
    (consumer,) = rows(table, SpanKind=SpanKind.CONSUMER)
    assert (consumer["Roots"], consumer["LinkedRoots"]) == (0, 0)


async def test_parent_profile_joins_each_span_to_its_parent(loaded: Store) -> None:
    table = await loaded.parent_profile(WINDOW)
    (items,) = rows(table, ServiceName="cart", SpanName="GET /items")
    assert (items["ParentService"], items["ParentKind"], items["Spans"]) == (
        "frontend",
        SpanKind.CLIENT,
        1,
    )
    assert (items["StartsBefore"], items["StartsAfter"]) == (0, 0)
    assert items["Example"] == world.TRACES["A"]
    assert all(r["ParentService"] is not None for r in table.to_pylist())  # no orphans
    assert not rows(table, SpanName="GET /cart")  # roots have no parent to look for


async def test_parent_profile_finds_orphans_and_skew(store: Store) -> None:
    t0, ms = world.T0, world.MS
    trace = "1" * 32
    await store.write(
        batch_from_spans(
            [
                Span(trace, "a000000000000001", "GET", "web", t0 + 100 * ms, 10 * ms,
                     kind=SpanKind.CLIENT),
                # starts 5 ms before its client span: the clocks disagree
                Span(trace, "a000000000000002", "GET /x", "api", t0 + 95 * ms, 4 * ms,
                     "a000000000000001", SpanKind.SERVER),
                Span(trace, "a000000000000003", "lost", "api", t0 + 200 * ms, 4 * ms,
                     "00000000000000ff", SpanKind.INTERNAL),
                Span("3" * 32, "a000000000000004", "waiting", "api", t0 + 300 * ms, 4 * ms,
                     "00000000000000fe", SpanKind.INTERNAL),
            ]
        )
    )  # fmt: skip
    table = await store.parent_profile(WINDOW)
    (skewed,) = rows(table, SpanName="GET /x")
    assert (skewed["StartsBefore"], skewed["MaxBeforeNs"]) == (1, 5 * ms)
    (orphan,) = rows(table, SpanName="lost")
    assert (orphan["ParentService"], orphan["ParentKind"], orphan["Spans"]) == (None, None, 1)
    assert orphan["InCompleteTraces"] == 1  # its trace's root (web's client span) arrived
    (waiting,) = rows(table, SpanName="waiting")
    assert waiting["InCompleteTraces"] == 0  # no root yet: its parent may still be running
    old = DoctorWindow(WINDOW.start_ns, WINDOW.end_ns, ID_PATTERN, settle_ns=0,
                       margin_ns=WINDOW.end_ns - t0 - 400 * ms)  # fmt: skip
    (judged,) = rows(await store.parent_profile(old), SpanName="waiting")
    assert judged["InCompleteTraces"] == 1  # older than the margin: complete anyway
    tight = DoctorWindow(WINDOW.start_ns, WINDOW.end_ns, ID_PATTERN, settle_ns=0,
                         tolerance_ns=10 * ms)  # fmt: skip
    (tolerated,) = rows(await store.parent_profile(tight), SpanName="GET /x")
    assert tolerated["StartsBefore"] == 0


async def test_call_profile_counts_calls_without_a_callee_span(loaded: Store) -> None:
    table = await loaded.call_profile(WINDOW)
    # grouped by callee address too: trace A's call names cart.svc, trace D's no host
    (reached,) = rows(table, ServiceName="frontend", SpanName="GET cart", Host="cart.svc")
    assert (reached["PeerService"], reached["Spans"], reached["Childless"]) == ("cart", 1, 0)
    (lost,) = rows(table, ServiceName="frontend", SpanName="GET cart", Host=None)
    assert (lost["Spans"], lost["Childless"], lost["Example"]) == (1, 1, world.TRACES["D"])
    (server,) = rows(table, ServiceName="cart", SpanName="GET /items")
    assert (server["Spans"], server["Childless"]) == (2, 0)  # A's has a query, C's `compute`
    (query,) = rows(table, ServiceName="cart", SpanName="SELECT items")
    assert query["System"] == "postgresql"
    (publish,) = rows(table, SpanKind=SpanKind.PRODUCER)
    assert (publish["Host"], publish["Childless"]) == ("kafka.svc", 0)


async def test_call_profile_self_time_never_overstates(loaded: Store) -> None:
    table = await loaded.call_profile(WINDOW)
    (checkout,) = rows(table, ServiceName="frontend", SpanName="POST /checkout")
    assert checkout["SelfP50Ns"] == 50 * world.MS  # 300 ms minus its 250 ms client child
    assert checkout["DurationP50Ns"] == 300 * world.MS


async def test_root_profile_finds_traces_with_several_roots(store: Store) -> None:
    await store.write(world.world_batch())
    assert (await store.root_profile(WINDOW)).num_rows == 0
    trace = "2" * 32
    await store.write(
        batch_from_spans(
            [
                Span(trace, "b000000000000001", "a", "web", world.T0 + world.MS, world.MS),
                Span(trace, "b000000000000002", "b", "worker", world.T0 + world.MS, world.MS),
            ]
        )
    )
    (row,) = (await store.root_profile(WINDOW)).to_pylist()
    assert row == {"RootServices": ["web", "worker"], "Traces": 1, "MaxRoots": 2, "Example": trace}


async def test_attribute_profile_per_key(loaded: Store) -> None:
    table = await loaded.attribute_profile(WINDOW)
    (route,) = rows(table, ServiceName="frontend", KeyTemplate="http.route")
    assert (route["Spans"], route["Values"], route["MaxLength"], route["Keys"]) == (3, 2, 9, 1)
    assert route["Example"] == world.TRACES["B"]  # "/checkout", the longest
    (user,) = rows(table, ServiceName="cart", KeyTemplate="user.id")
    assert user["Values"] == 2


@pytest.mark.parametrize(
    "read",
    ["operation_profile", "parent_profile", "call_profile", "attribute_profile"],
)
async def test_every_read_is_bounded_by_max_rows(loaded: Store, read: str) -> None:
    window = DoctorWindow(WINDOW.start_ns, WINDOW.end_ns, ID_PATTERN, settle_ns=0, max_rows=2)
    assert (await getattr(loaded, read)(window)).num_rows == 2


async def test_an_empty_window_reads_nothing(loaded: Store) -> None:
    window = DoctorWindow(1, 2, ID_PATTERN)
    for read in (
        loaded.operation_profile,
        loaded.parent_profile,
        loaded.call_profile,
        loaded.root_profile,
        loaded.attribute_profile,
    ):
        assert (await read(window)).num_rows == 0


async def test_attribute_profile_reads_one_in_n_traces(store: Store) -> None:
    spans = [
        Span(f"{i:032x}", f"{i:016x}", "op", "api", world.T0 + i * world.MS, world.MS,
             kind=SpanKind.SERVER, attributes={"k": str(i)})
        for i in range(1, 41)
    ]  # fmt: skip
    await store.write(batch_from_spans(spans))
    everything = await store.attribute_profile(WINDOW)
    assert rows(everything, KeyTemplate="k")[0]["Spans"] == 40
    quarter = DoctorWindow(WINDOW.start_ns, WINDOW.end_ns, ID_PATTERN, attribute_traces=4)
    assert rows(await store.attribute_profile(quarter), KeyTemplate="k")[0]["Spans"] == 10


async def test_parent_profile_pairs_hosts_and_sees_skew_within_a_service(store: Store) -> None:
    t0, ms = world.T0, world.MS
    trace = "4" * 32
    on = {"a": {"host.name": "node-a"}, "b": {"host.name": "node-b"}}
    await store.write(
        batch_from_spans(
            [
                Span(trace, "b000000000000001", "GET /x", "api", t0 + 100 * ms, 10 * ms,
                     kind=SpanKind.SERVER, resource=on["a"]),
                Span(trace, "b000000000000002", "GET", "api", t0 + 101 * ms, 8 * ms,
                     "b000000000000001", SpanKind.CLIENT, resource=on["a"]),
                # the same service on another host, whose clock is 3 ms behind
                Span(trace, "b000000000000003", "GET /y", "api", t0 + 98 * ms, 4 * ms,
                     "b000000000000002", SpanKind.SERVER, resource=on["b"]),
            ]
        )
    )  # fmt: skip
    table = await store.parent_profile(WINDOW)
    (remote,) = rows(table, SpanName="GET /y")
    assert (remote["Host"], remote["ParentHost"]) == ("node-b", "node-a")
    assert (remote["StartsBefore"], remote["MaxBeforeNs"]) == (1, 3 * ms)
    (local,) = rows(table, SpanName="GET")
    assert (local["Host"], local["ParentHost"], local["StartsBefore"]) == ("node-a", "node-a", 0)
