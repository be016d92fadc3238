"""What only the ClickHouse engine has: several writers on one database (the shared suite in
``test_store.py`` covers the rest, on chDB)."""

from __future__ import annotations

from breadcrumbs.model import batch_from_spans
from breadcrumbs.store.clickhouse import ClickHouseStore
from breadcrumbs.store.clickhouse.executor import ChdbExecutor

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
