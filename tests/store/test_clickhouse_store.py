"""What only the ClickHouse engine has: several writers on one database, insert deduplication,
many traces read in several statements (the shared suites in ``test_store.py`` and
``test_red_store.py`` cover the rest, on chDB)."""

from __future__ import annotations

import dataclasses

from breadcrumbs.analysis import red
from breadcrumbs.model import Event, Link, Span, batch_from_spans
from breadcrumbs.store.base import (
    DependenciesQuery,
    GetTraceParams,
    GetTracesParams,
    RedQuery,
    TagFilter,
    TraceQuery,
)
from breadcrumbs.store.clickhouse import ClickHouseStore, sql
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.clickhouse.store import _SWEEP_EVERY as SWEEP_EVERY
from breadcrumbs.store.clickhouse.store import TRACES_PER_STATEMENT

from . import traffic, world
from .conftest import CHDB_DIR
from .test_store import write_traffic

MINUTE = red.MINUTE_NS


async def test_clickhouse_writers_keep_their_own_wal_sequence() -> None:
    """Ingest nodes sharing one ClickHouse database each replay their own WAL."""
    a, b = (
        ClickHouseStore(ChdbExecutor(CHDB_DIR), database="two_nodes", node=node)
        for node in ("a", "b")
    )
    try:
        await a.write(batch_from_spans(world.spans_of("A")), wal_sequence=50)
        await b.write(batch_from_spans(world.spans_of("B")), wal_sequence=7)
        assert (await a.last_wal_sequence(), await b.last_wal_sequence()) == (50, 7)
        assert (await a.stats()).spans == len(world.spans_of("A", "B"))
    finally:
        await a.close()
        await b.close()


async def _red_calls(store: ClickHouseStore) -> float:
    start = min(span.start_ns for span in world.SPANS) // MINUTE * MINUTE
    step = (max(span.start_ns for span in world.SPANS) - start) // MINUTE * MINUTE + MINUTE
    table = await store.red(RedQuery(start, start + step, step, by_operation=False))
    return float(sum(table.column("Calls").to_pylist()))


async def test_red_writers_keep_their_own_sequence_and_a_retried_flush_counts_once() -> None:
    """Two ingest nodes' RED flushes add up, each node's WAL sequence is its own, and a flush
    sent again (a retry after a lost reply: the same node, sequence and rows) is dropped by
    ClickHouse's insert deduplication instead of counted twice. A merge changes nothing."""
    a, b = (
        ClickHouseStore(ChdbExecutor(CHDB_DIR), database="two_red_nodes", node=node)
        for node in ("a", "b")
    )
    rows = red.aggregate(batch_from_spans(world.SPANS))
    try:
        await a.write_span_metrics(rows, wal_sequence=50)
        await a.write_span_metrics(rows, wal_sequence=50)  # the retry
        await b.write_span_metrics(rows, wal_sequence=7)
        assert (await a.span_metrics_wal_sequence(), await b.span_metrics_wal_sequence()) == (50, 7)
        assert await _red_calls(a) == 2 * len(world.SPANS)
        merging = ChdbExecutor(CHDB_DIR)
        merging.command("OPTIMIZE TABLE two_red_nodes.span_metrics FINAL")
        merging.close()
        assert await _red_calls(b) == 2 * len(world.SPANS)
        kept = await a.span_metrics_rows()
        assert kept[MINUTE] == rows.num_rows  # both nodes' rows of one key merged into one
    finally:
        await a.close()
        await b.close()


async def test_get_traces_beyond_one_statement_answers_every_trace_in_time_order() -> None:
    """``get_traces`` asks for at most ``TRACES_PER_STATEMENT`` traces per statement; the
    answer is still every asked trace's spans, across services, ordered by start."""
    store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="many_traces")
    try:
        asked = TRACES_PER_STATEMENT * 2 + 7
        spans = [
            Span(f"{n + 1:032x}", f"{2 * n + 1:016x}", "root", f"svc-{n % 5}", world.T0 + n, 5)
            for n in range(asked)
        ] + [
            Span(
                f"{n + 1:032x}",
                f"{2 * n + 2:016x}",
                "child",
                "db",
                world.T0 + n + 1,
                1,
                f"{2 * n + 1:016x}",
            )
            for n in range(asked)
        ]
        await store.write(batch_from_spans(spans))
        ids = [f"{n + 1:032x}" for n in range(asked)]
        got = await store.get_traces(GetTracesParams((*ids[::-1], world.UNKNOWN_TRACE)))
        assert got.num_rows == 2 * asked
        assert set(got.column("TraceId").to_pylist()) == set(ids)
        starts = got.column("Timestamp").to_pylist()
        assert starts == sorted(starts)
    finally:
        await store.close()


async def test_a_tag_search_reads_only_the_branches_where_the_tag_can_match() -> None:
    """A tag no resource holds and no event key names is searched in span attributes alone;
    one an event key names also in events; one no resource holds, resource-scoped, finds
    nothing without a search. Each finds what the full condition would."""
    store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="tag_branches")
    try:
        await store.write(batch_from_spans(world.SPANS))
        db = "`tag_branches`"
        executor = ChdbExecutor(CHDB_DIR)
        try:
            tags = (
                TagFilter("http.route", "/cart"),
                TagFilter("exception.type", "CardDeclined"),
                TagFilter("host.name", str(world.FRONTEND["host.name"])),
                TagFilter("host.name", "nowhere", scope="resource"),
            )
            text, params = sql.tag_lookup(db, tags)
            branches = sql.tag_branches(executor.query(text, params).to_pylist()[0], tags)
        finally:
            executor.close()
        route, exception, host, nowhere = branches
        assert route == sql.TagBranches()
        assert exception == sql.TagBranches(events=True)
        assert host.resources
        assert not host.events
        assert nowhere == sql.TagBranches()
        statement = sql.find_trace_ids(db, TraceQuery(0, 2**62, tags=tags[:1]), branches[:1])
        assert statement is not None
        assert "Events" not in statement[0]
        assert "ResourceHash" not in statement[0]
        assert sql.find_trace_ids(db, TraceQuery(0, 2**62, tags=tags[3:]), branches[3:]) is None
        everywhere = TraceQuery(0, 2**62, limit=100)
        assert await store.find_trace_ids(dataclasses.replace(everywhere, tags=tags[1:2])) == [
            world.TRACES["B"]
        ]
        assert await store.find_trace_ids(dataclasses.replace(everywhere, tags=tags[3:])) == []
        found = await store.find_trace_ids(dataclasses.replace(everywhere, tags=tags[2:3]))
        assert world.TRACES["A"] in found
    finally:
        await store.close()


async def test_events_and_links_read_back_exactly_as_written() -> None:
    """v5 packs a span's events and links into one JSON text each: any text in them, many of
    them, none, and the extremes of a timestamp read back as written."""
    odd = "quote ' \" back \\ slash / nl \n tab \t nul \x00 \x01 é 日本 😀 [{,:}]"
    base = world.SPANS[0]
    spans = [
        dataclasses.replace(
            base,
            span_id=f"{n + 1:016x}",
            events=events,
            links=links,
        )
        for n, (events, links) in enumerate(
            [
                ([], []),
                (
                    [
                        Event(-(2**63), odd, {odd: odd, "": ""}),
                        Event(2**63 - 1, "", {"é [{,:}] ' \"": "日本 😀"}),
                        *(Event(n, f"e{n}", {"n": n, "ok": True}) for n in range(50)),
                    ],
                    [
                        Link("0" * 31 + "1", "0" * 15 + "2", odd, {odd: 1.5}),
                        Link(world.TRACES["B"], "b100000000000001"),
                    ],
                ),
                ([], [Link(world.TRACES["B"], "b100000000000002", "", {"k": "v"})]),
            ]
        )
    ]
    written = batch_from_spans(spans)
    store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="packed_events")
    try:
        await store.write(written)
        got = await store.get_trace(GetTraceParams(base.trace_id))
        for name in ("Events", "Links"):
            assert got.sort_by("SpanId").column(name) == written.sort_by("SpanId").column(name)
        (many,) = [await store.get_traces(GetTracesParams((base.trace_id,)))]
        assert many.column("Events").to_pylist() == got.column("Events").to_pylist()
        # SQL reads them through the ALIAS columns: an event's attribute is searched there.
        tag = TagFilter("é [{,:}] ' \"", "日本 😀")
        found = await store.find_trace_ids(TraceQuery(0, 2**62, tags=(tag,)))
        assert found == [base.trace_id]
    finally:
        await store.close()


async def test_writers_keeping_the_same_dependency_units_count_each_call_once() -> None:
    """Two writers' background refreshes on one database: the first keeps the settled units
    (a few steps, each bounded), the second finds them kept; rows kept twice (two writers
    counting one unit at once) count once; a late span changes its units' stamps, so the
    query counts them from the spans until a refresh keeps them again."""
    a, b = (
        ClickHouseStore(ChdbExecutor(CHDB_DIR), database="two_counters", node=node)
        for node in ("a", "b")
    )
    executor = ChdbExecutor(CHDB_DIR)
    edges = "`two_counters`.dependency_edges"
    try:
        spans = await write_traffic(a)
        steps = 0
        while await a.refresh_dependencies():
            steps += 1
        assert steps >= 2  # bounded stretches: 50 minutes of traffic, 10 minutes a step
        assert not await b.refresh_dependencies()
        kept = executor.query(f"SELECT count() FROM {edges} WHERE Parent = ''").column(0)
        assert kept[0].as_py() >= 150  # a marker per 15 s unit
        executor.command(f"INSERT INTO {edges} SELECT * FROM {edges}")  # as if b had too

        window = (traffic.T0 + 37 * 60 * 10**9, 20 * 60 * 10**9)
        first, stop = window[0] - window[1] + 1, window[0] + 1
        unit = sql.DEPENDENCY_UNIT_NS
        units = {"u0": -(-(first + 60 * 10**9) // unit), "u1": (stop - 60 * 10**9) // unit}
        before = executor.query(sql.kept_units("`two_counters`"), units).num_rows
        assert before >= 70  # most of the window's 80 units are read from the counts
        served = next(
            s for s in spans if s.service == "cart" and s.start_ns > traffic.T0 + 25 * 60 * 10**9
        )
        late = dataclasses.replace(served, span_id="00000000000000b1")
        await b.write(batch_from_spans([late]))  # a second cart server span under one client
        assert executor.query(sql.kept_units("`two_counters`"), units).num_rows < before
        want = traffic.links([*spans, late], *window)
        assert await b.dependencies(DependenciesQuery(*window)) == want
        # Refreshes look at the newest units, and over every kept unit now and then.
        assert any([await b.refresh_dependencies() for _ in range(SWEEP_EVERY)])
        assert executor.query(sql.kept_units("`two_counters`"), units).num_rows == before
        assert await a.dependencies(DependenciesQuery(*window)) == want
    finally:
        executor.close()
        await a.close()
        await b.close()
