"""DuckDB's buffer pool is bounded: by default it would cache every block the store wrote, up
to 80% of RAM (the server's memory grew with the store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pipeline.support import make_batch

from breadcrumbs.errors import Unavailable, http_status
from breadcrumbs.store.base import ServicesQuery
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


async def test_a_read_past_duckdbs_memory_limit_is_a_clear_retryable_refusal(
    tmp_path: Path,
) -> None:
    # A list aggregate cannot spill: past the limit DuckDB refuses it. A read meeting that
    # beside a flush (whose rows stay pinned until it commits) was an HTTP 500.
    store = DuckDBStore(tmp_path / "spans.duckdb", memory_limit="16MiB")
    try:
        await store.write(make_batch(1))
        with pytest.raises(Unavailable) as refused:
            await store._read(
                lambda cur: cur.execute("SELECT list(range) FROM range(50000000)").fetchall()
            )
        assert http_status(refused.value) == 503
        assert refused.value.retry_after_s == 1
        assert "short of memory" in refused.value.message
        assert await store.services(ServicesQuery()) == ["svc"]  # and it still serves
    finally:
        await store.close()
