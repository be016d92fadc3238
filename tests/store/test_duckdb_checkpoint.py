"""DuckDB-only: a quiet store checkpoints its WAL, so a small store is small on disk."""

from __future__ import annotations

from pathlib import Path

from breadcrumbs.model import batch_from_spans
from breadcrumbs.store.base import GetTraceParams
from breadcrumbs.store.duckdb import DuckDBStore

from . import traffic

TRACES = 500


def _wal_bytes(store: DuckDBStore) -> int:
    return store.wal_path.stat().st_size if store.wal_path.exists() else 0


async def test_compact_checkpoints_once_writes_pause(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", quiet_s=0.0, wal_age_s=3600.0)
    try:
        spans = [span for i in range(TRACES) for span in traffic.trace(i)]
        await store.write(batch_from_spans(spans))
        assert _wal_bytes(store) > 0  # a small flush goes to DuckDB's WAL, uncompressed
        assert not await store.compact()
        assert _wal_bytes(store) == 0
        checkpointed = store.bytes_on_disk()
        await store.compact()  # an empty WAL: nothing to do, the file stays as it is
        assert store.bytes_on_disk() == checkpointed
        trace = await store.get_trace(GetTraceParams(f"{7:032x}"))
        assert trace.num_rows == len(traffic.trace(6))
    finally:
        await store.close()


async def test_a_busy_store_checkpoints_when_its_wal_has_aged(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", quiet_s=3600.0, wal_age_s=0.0)
    try:
        await store.write(batch_from_spans(traffic.trace(0)))
        assert not await store.compact()  # first sight of the WAL starts its age
        assert _wal_bytes(store) == 0
    finally:
        await store.close()


async def test_no_checkpoint_while_writes_go_on_and_the_wal_is_young(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", quiet_s=3600.0, wal_age_s=3600.0)
    try:
        await store.write(batch_from_spans(traffic.trace(0)))
        await store.compact()
        assert _wal_bytes(store) > 0
    finally:
        await store.close()
