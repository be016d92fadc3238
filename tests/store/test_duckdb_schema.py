"""DuckDB-only: the file's schema version and its migrations on open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest

from breadcrumbs.store.base import GetTraceParams
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb.schema import RANGE_LEVELS, SCHEMA_VERSION, range_table

from . import world


def _version(path: Path) -> int:
    with duckdb.connect(str(path)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    return int(row[0])


async def test_new_file_gets_the_latest_version(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    await store.close()
    assert _version(tmp_path / "spans.duckdb") == SCHEMA_VERSION


async def test_version_1_file_with_spans_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    store = DuckDBStore(path)
    await store.write(world.world_batch(), wal_sequence=8)
    await store.close()
    # Back to what a version 1 file held: no tables of later versions.
    with duckdb.connect(str(path)) as conn:
        for level in range(RANGE_LEVELS + 1):
            conn.execute(f"DROP TABLE {range_table(level)}")
        conn.execute("DROP TABLE attribute_keys")
        conn.execute("DROP TABLE dependency_edges")
        conn.execute("DELETE FROM meta WHERE key LIKE 'dependency_%'")
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    store = DuckDBStore(path)
    try:
        got = await store.get_trace(GetTraceParams(world.TRACES["B"]))
        assert got.num_rows == len(world.spans_of("B"))
        assert await store.last_wal_sequence() == 8
        assert "db.system" in await store.tag_keys()
        assert await store.dependencies(world.WINDOW_END, world.WINDOW_END - world.WINDOW_START)
    finally:
        await store.close()
    assert _version(path) == SCHEMA_VERSION


async def test_version_6_lookup_levels_in_nanoseconds_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    store = DuckDBStore(path, lookup_tail_rows=1)
    batch = world.world_batch()
    for name in world.TRACES:  # a flush per trace: tail rows that merge into sorted levels
        await store.write(batch.filter(pc.equal(batch.column("TraceId"), world.TRACES[name])))
    while await store.compact():
        pass
    await store.close()
    # Back to version 6: sorted levels held (TracePrefix, FirstStart, LastStart) in ns.
    with duckdb.connect(str(path)) as conn:
        for level in range(1, RANGE_LEVELS + 1):
            conn.execute(
                f"CREATE OR REPLACE TABLE {range_table(level)} AS SELECT TracePrefix,"
                " FirstStartUs * 1000 AS FirstStart, (FirstStartUs + LengthUs) * 1000 AS LastStart"
                f" FROM {range_table(level)}"
            )
        moved = conn.execute(f"SELECT count(*) FROM {range_table(1)}").fetchall()[0][0]
        conn.execute("UPDATE meta SET value = 6 WHERE key = 'schema_version'")
    assert moved > 0
    store = DuckDBStore(path)
    try:
        for name in world.TRACES:
            got = await store.get_trace(GetTraceParams(world.TRACES[name]))
            assert got.num_rows == len(world.spans_of(name))
    finally:
        await store.close()
    assert _version(path) == SCHEMA_VERSION


async def test_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    await DuckDBStore(path).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'schema_version'")
    with pytest.raises(RuntimeError, match="newer"):
        DuckDBStore(path)
