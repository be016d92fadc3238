"""The kept RED levels' writes, compaction, retention and reads on one DuckDB cursor (the SQL
and the design are in ``red.py``). Every method runs in the store's worker threads; the ones
that write take the store's write lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

import duckdb
import pyarrow as pa

from breadcrumbs.analysis import red as red_math
from breadcrumbs.store.base import RED_LEVELS, RED_SCHEMA, RedLevel, RedQuery
from breadcrumbs.store.duckdb import red, schema, sql

MAX_TIMES_PER_COMPACTION: Final = 256
"""Bucket starts merged per level and pass: bounds one transaction after a backfill."""


class RedLevels:
    def __init__(self, write_lock: threading.Lock, levels: Sequence[RedLevel] = RED_LEVELS):
        self._write_lock = write_lock
        self.levels = tuple(levels)
        # Bucket starts written since their last compaction, per level (None: not known
        # since the store opened; the first pass looks for duplicated keys).
        self._dirty: dict[int, set[int] | None] = {
            level.resolution_ns: None for level in self.levels
        }

    def write(self, cur: duckdb.DuckDBPyConnection, rows: pa.Table, wal_sequence: int) -> None:
        """Append minute rows to every level, with the WAL sequence, in one transaction."""
        per_level = {
            level.resolution_ns: rows
            if level.resolution_ns == red_math.MINUTE_NS
            else red_math.rollup(rows, level.resolution_ns)
            for level in self.levels
        }  # rolled up before the lock: flushes and compactions wait less
        with self._write_lock:
            cur.begin()
            try:
                for resolution, level_rows in per_level.items():
                    if not level_rows.num_rows:
                        continue
                    cur.register("span_metrics_in", level_rows)
                    try:
                        cur.execute(red.append(red.table(resolution)))
                    finally:
                        cur.unregister("span_metrics_in")
                cur.execute(sql.SET_WAL_SEQUENCE, [wal_sequence, schema.SPAN_METRICS_SEQUENCE_KEY])
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            for resolution, level_rows in per_level.items():
                dirty = self._dirty[resolution]
                if dirty is not None and level_rows.num_rows:
                    dirty.update(level_rows.column("Time").unique().to_pylist())

    def compact(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Merge the rows of each key in buckets written since the last pass; returns how
        many rows went. One transaction for every level: a crash leaves the rows before or
        after it."""
        removed = 0
        done: list[tuple[set[int], list[int]]] = []
        with self._write_lock:
            cur.begin()
            try:
                for level in self.levels:
                    name = red.table(level.resolution_ns)
                    dirty = self._dirty[level.resolution_ns]
                    if dirty is None:
                        found = cur.execute(red.duplicated_times(name)).fetchall()
                        dirty = self._dirty[level.resolution_ns] = {int(r[0]) for r in found}
                    if not dirty:
                        continue
                    times = sorted(dirty)[:MAX_TIMES_PER_COMPACTION]
                    bounds = [times[0], times[-1], times]
                    kept = cur.sql(red.rows_at(name), params=bounds).to_arrow_table()
                    merged = red_math.merge([kept])
                    if merged.num_rows < kept.num_rows:
                        cur.execute(red.delete_at(name), bounds)
                        cur.register("span_metrics_in", merged)
                        try:
                            cur.execute(red.append(name))
                        finally:
                            cur.unregister("span_metrics_in")
                    removed += kept.num_rows - merged.num_rows
                    done.append((dirty, times))
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            for dirty, times in done:
                dirty.difference_update(times)
        return removed

    def expire(self, cur: duckdb.DuckDBPyConnection, now_ns: int) -> int:
        """Delete each level's rows older than its retention; returns how many."""
        deleted = 0
        with self._write_lock:
            for level in self.levels:
                row = cur.execute(
                    red.delete_before(red.table(level.resolution_ns)),
                    [now_ns - level.retention_ns],
                ).fetchone()
                deleted += int(row[0]) if row else 0
        return deleted

    def rows(self, cur: duckdb.DuckDBPyConnection) -> dict[int, int]:
        """Rows kept per level (for benchmarks and tests)."""
        counts = {}
        for level in self.levels:
            text = f"SELECT count(*) FROM {red.table(level.resolution_ns)}"  # noqa: S608
            counts[level.resolution_ns] = int(cur.execute(text).fetchall()[0][0])
        return counts

    @staticmethod
    def query(cur: duckdb.DuckDBPyConnection, query: RedQuery) -> pa.Table:
        text, params = red.red_query(query)
        rows = cur.sql(text, params=params).to_arrow_table()
        return red_math.summarize(rows, query.quantiles).cast(RED_SCHEMA)
