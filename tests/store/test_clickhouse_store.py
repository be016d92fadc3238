"""What only the ClickHouse engine has: several writers on one database, many traces read in
several statements (the shared suite in ``test_store.py`` covers the rest, on chDB)."""

from __future__ import annotations

from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.clickhouse.store import TRACES_PER_STATEMENT

from . import world
from .conftest import CHDB_DIR


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
        got = await store.get_traces([*ids[::-1], world.UNKNOWN_TRACE])
        assert got.num_rows == 2 * asked
        assert set(got.column("TraceId").to_pylist()) == set(ids)
        starts = got.column("Timestamp").to_pylist()
        assert starts == sorted(starts)
    finally:
        await store.close()
