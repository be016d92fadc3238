"""DuckDB-only: the file's schema version and its migrations on open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from breadcrumbs.analysis import red
from breadcrumbs.store.base import (
    DependenciesQuery,
    GetTraceParams,
    GetTracesParams,
    RedQuery,
    TagKeysQuery,
)
from breadcrumbs.store.duckdb import DuckDBStore, schema
from breadcrumbs.store.duckdb.schema import RANGE_LEVELS, SCHEMA_VERSION, range_table

from . import world


def _version(path: Path) -> int:
    with duckdb.connect(str(path)) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    return int(row[0])


def _drop_flush_numbers(conn: duckdb.DuckDBPyConnection, *, sorted_levels: bool) -> None:
    """What v10 added, gone again (a file of an earlier version has none of it)."""
    conn.execute("ALTER TABLE spans DROP COLUMN Flush")
    conn.execute(f"ALTER TABLE {range_table(0)} DROP COLUMN FirstFlush")
    conn.execute(f"ALTER TABLE {range_table(0)} DROP COLUMN LastFlush")
    for level in range(1, RANGE_LEVELS + 1) if sorted_levels else ():
        conn.execute(f"ALTER TABLE {range_table(level)} DROP COLUMN FirstFlush")
        conn.execute(f"ALTER TABLE {range_table(level)} DROP COLUMN FlushLength")
    conn.execute(f"DELETE FROM meta WHERE key = '{schema.FLUSH_KEY}'")


async def _world_in_sorted_levels(path: Path) -> pa.Table:
    """The test world written a flush per trace (tail rows that merge into sorted levels),
    merged and closed; the batch written."""
    store = DuckDBStore(path, lookup_tail_rows=1)
    batch = world.world_batch()
    for name in world.TRACES:
        await store.write(batch.filter(pc.equal(batch.column("TraceId"), world.TRACES[name])))
    while await store.compact():
        pass
    await store.close()
    return batch


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
        conn.execute("ALTER TABLE spans DROP COLUMN Flush")
        conn.execute(f"DELETE FROM meta WHERE key = '{schema.FLUSH_KEY}'")
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    store = DuckDBStore(path)
    try:
        got = await store.get_trace(GetTraceParams(world.TRACES["B"]))
        assert got.num_rows == len(world.spans_of("B"))
        assert await store.last_wal_sequence() == 8
        assert "db.system" in await store.tag_keys(TagKeysQuery())
        assert await store.dependencies(
            DependenciesQuery(world.WINDOW_END, world.WINDOW_END - world.WINDOW_START)
        )
    finally:
        await store.close()
    assert _version(path) == SCHEMA_VERSION


async def test_version_6_lookup_levels_in_nanoseconds_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    await _world_in_sorted_levels(path)
    # Back to version 6: sorted levels held (TracePrefix, FirstStart, LastStart) in ns.
    with duckdb.connect(str(path)) as conn:
        for level in range(1, RANGE_LEVELS + 1):
            conn.execute(
                f"CREATE OR REPLACE TABLE {range_table(level)} AS SELECT TracePrefix,"
                " FirstStartUs * 1000 AS FirstStart, (FirstStartUs + LengthUs) * 1000 AS LastStart"
                f" FROM {range_table(level)}"
            )
        moved = conn.execute(f"SELECT count(*) FROM {range_table(1)}").fetchall()[0][0]
        _drop_flush_numbers(conn, sorted_levels=False)
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


async def test_version_9_spans_without_flush_numbers_are_found_with_newer_ones(
    tmp_path: Path,
) -> None:
    """v10 numbers flushes in the spans and the lookup; rows from before are flush 0 on both
    sides, and a trace with spans from before and after is found whole."""
    path = tmp_path / "spans.duckdb"
    batch = await _world_in_sorted_levels(path)
    # Back to version 9: no flush numbers anywhere.
    with duckdb.connect(str(path)) as conn:
        _drop_flush_numbers(conn, sorted_levels=True)
        conn.execute("UPDATE meta SET value = 9 WHERE key = 'schema_version'")
        sorted_rows = conn.execute(f"SELECT count(*) FROM {range_table(1)}").fetchall()[0][0]
    assert sorted_rows > 0
    store = DuckDBStore(path, lookup_tail_rows=1)
    try:
        # a later flush adds a span to trace B: its lookup rows now span flushes 0 to 1
        (late,) = world.spans_of("B")[:1]
        moved = batch.filter(pc.equal(batch.column("SpanId"), late.span_id))
        moved = moved.set_column(
            moved.schema.get_field_index("SpanId"), "SpanId", pa.array(["00000000000000ff"])
        )
        await store.write(moved)
        for name in world.TRACES:
            got = await store.get_trace(GetTraceParams(world.TRACES[name]))
            assert got.num_rows == len(world.spans_of(name)) + (name == "B")
        got = await store.get_traces(GetTracesParams(tuple(world.TRACES.values())))
        assert got.num_rows == batch.num_rows + 1
        while await store.compact():
            pass
        got = await store.get_trace(GetTraceParams(world.TRACES["B"]))
        assert got.num_rows == len(world.spans_of("B")) + 1
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


async def test_version_8_red_rows_move_to_the_compact_levels(tmp_path: Path) -> None:
    """v8 kept a row per minute, series and latency bucket; v9 keeps one per series and
    bucket of time, with the histogram as lists, at three levels. The counts carry over."""
    path = tmp_path / "spans.duckdb"
    minute = 60 * 10**9
    t0 = 1_700_000_040 * 10**9  # a minute boundary
    with duckdb.connect(str(path)) as conn:
        conn.execute(schema.META_DDL)
        for statements in schema.MIGRATIONS[:8]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('schema_version', 8), ('wal_sequence', 0)")
        conn.execute(
            "INSERT INTO span_metrics VALUES (?, 'api', 'GET /', 2, 100, 3, 1, 900), "
            "(?, 'api', 'GET /', 2, 120, 1, 0, 3000), (?, 'api', 'GET /', 2, 100, 2, 0, 600)",
            [t0, t0, t0 + minute],
        )
        conn.execute("INSERT INTO dependency_edges VALUES (false, 0, 0, 'a', 'b', 5, 1)")
    store = DuckDBStore(path)
    try:
        hour = 3600 * 10**9
        start = t0 - t0 % hour
        table = await store.red(RedQuery(start, start + hour, hour, quantiles=(0.5, 0.99)))
        (row,) = table.to_pylist()
        assert (row["Calls"], row["Errors"], row["DurationSum"], row["Spans"]) == (6, 1, 4500, 6)
        assert row["Quantiles"] == [red.bucket_value_ns(100), red.bucket_value_ns(120)]
        per_minute = await store.red(RedQuery(t0, t0 + 2 * minute, minute))
        assert per_minute.column("Calls").to_pylist() == [4, 2]
        assert set((await store.span_metrics_rows()).values()) == {2, 1}
    finally:
        await store.close()
    assert _version(path) == SCHEMA_VERSION
    with duckdb.connect(str(path)) as conn:
        assert conn.execute("SELECT Calls FROM dependency_edges").fetchall() == [(5.0,)]
        tables = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "span_metrics" not in tables
