"""While ingest is behind, DuckDB's own worker pool (normal priority, shared by reads and the
insert) shrinks to one thread, so each statement runs on its caller's thread at its caller's
priority; once ingest has kept up for a while, reads get the whole pool back."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.pipeline.support import make_batch

from breadcrumbs.store.base import ServicesQuery
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb.parallelism import Parallelism


def _threads(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_thread_from_behind_until_ingest_has_kept_up_for_a_while() -> None:
    clock = Clock()
    parallelism = Parallelism(4, relax_s=5.0, clock=clock)
    assert parallelism.wanted(False) == 4
    assert parallelism.wanted(True) == 1
    clock.now += 4.9
    assert parallelism.wanted(False) == 1  # caught up only just: flushes at full rate flap
    assert parallelism.wanted(True) == 1
    clock.now += 4.9
    assert parallelism.wanted(False) == 1
    clock.now += 0.2
    assert parallelism.wanted(False) == 4


def test_apply_sets_duckdbs_pool_only_when_it_changes(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "x.duckdb"), config={"threads": 3})
    try:
        parallelism = Parallelism(_threads(conn))
        assert parallelism.full == 3
        parallelism.apply(conn.cursor(), 1)
        assert (_threads(conn), parallelism.current) == (1, 1)
        conn.execute("SET threads = 2")  # not ours: apply trusts what it set last
        parallelism.apply(conn.cursor(), 1)
        assert _threads(conn) == 2
        parallelism.apply(conn.cursor(), 3)
        assert (_threads(conn), parallelism.current) == (3, 3)
    finally:
        conn.close()


async def test_the_store_runs_on_one_duckdb_thread_while_ingest_is_behind(
    tmp_path: Path,
) -> None:
    behind = [False]
    store = DuckDBStore(tmp_path / "spans.duckdb", threads=2, ingest_behind=lambda: behind[0])
    try:
        await store.write(make_batch(10))
        assert _threads(store._conn) == 2
        behind[0] = True
        await store.write(make_batch(11))
        assert _threads(store._conn) == 1
        behind[0] = False  # within the relax time: reads stay on one thread too
        assert await store.services(ServicesQuery())
        assert _threads(store._conn) == 1
    finally:
        await store.close()


async def test_without_a_pipeline_to_ask_the_pool_stays_whole(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", threads=2)
    try:
        await store.write(make_batch(10))
        assert await store.services(ServicesQuery())
        assert _threads(store._conn) == 2
    finally:
        await store.close()
