"""DuckDB's buffer pool is bounded: by default it would cache every block the store wrote, up
to 80% of RAM (the server's memory grew with the store)."""

from __future__ import annotations

from pathlib import Path

from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb.store import DEFAULT_MEMORY_LIMIT


def _limit_bytes(store: DuckDBStore) -> int:
    text = store._conn.execute("SELECT current_setting('memory_limit')").fetchone()
    assert text is not None
    number, unit = str(text[0]).split()
    scale = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
    return int(float(number) * scale)


async def test_the_store_bounds_duckdbs_memory_by_default(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb")
    try:
        assert DEFAULT_MEMORY_LIMIT == "256MiB"
        assert _limit_bytes(store) == 256 << 20
    finally:
        await store.close()


async def test_a_limit_can_be_given_or_left_to_duckdb(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "a.duckdb", memory_limit="512MiB")
    try:
        assert _limit_bytes(store) == 512 << 20
    finally:
        await store.close()
    unbounded = DuckDBStore(tmp_path / "b.duckdb", memory_limit=None)
    try:
        assert _limit_bytes(unbounded) > 512 << 20
    finally:
        await unbounded.close()
