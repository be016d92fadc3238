"""``portability.migrate.copy``: a window cut short by a crash (some of its spans already in
the destination) is completed without a duplicate; finished copies copy nothing."""

from __future__ import annotations

from pathlib import Path

from tests.store import world

from breadcrumbs.model import concat_batches
from breadcrumbs.portability import migrate
from breadcrumbs.portability.scan import SpanSelection, scan
from breadcrumbs.store.base import Store
from breadcrumbs.store.duckdb import DuckDBStore

from .spans import rows


async def _everything(store: Store) -> list[dict[str, object]]:
    found = [w.spans async for w in scan(store, SpanSelection(0, 2**62))]
    return rows(concat_batches(found))


async def test_a_cut_window_is_completed_without_duplicates(tmp_path: Path) -> None:
    source = DuckDBStore(tmp_path / "a" / "spans.duckdb")
    destination = DuckDBStore(tmp_path / "b" / "spans.duckdb")
    try:
        batch = world.world_batch()
        await source.write(batch)
        start = min(batch.column("Timestamp").to_pylist())
        end = max(batch.column("Timestamp").to_pylist()) + 1
        # A crash after half of the spans of [start, end) were written, before "done".
        await destination.write(batch.slice(0, batch.num_rows // 2))
        path = tmp_path / "checkpoint.json"
        checkpoint = migrate.Checkpoint("a", "b", start, end, done_ns=start, writing_ns=end)
        written = await migrate.copy(source, destination, checkpoint, path, traces_per_read=3)
        assert written == batch.num_rows - batch.num_rows // 2
        assert await _everything(destination) == rows(batch)
        assert migrate.Checkpoint.load(path) == checkpoint
        assert checkpoint.finished
        counts = await migrate.check_counts(source, destination, start, end, 10**9)
        assert counts
        assert all(c.source == c.destination for c in counts)
        assert sum(c.source for c in counts) == batch.num_rows
        assert await migrate.copy(source, destination, checkpoint, path, traces_per_read=3) == 0
    finally:
        await source.close()
        await destination.close()


async def test_counts_show_a_missing_window(tmp_path: Path) -> None:
    source = DuckDBStore(tmp_path / "a" / "spans.duckdb")
    destination = DuckDBStore(tmp_path / "b" / "spans.duckdb")
    try:
        batch = world.world_batch()
        await source.write(batch)
        kept = batch.filter([t >= world.T0 for t in batch.column("Timestamp").to_pylist()])
        await destination.write(kept)
        counts = await migrate.check_counts(source, destination, 0, 2**62, 3600 * 10**9)
        differ = [c for c in counts if c.source != c.destination]
        assert [(c.source, c.destination) for c in differ] == [(batch.num_rows - kept.num_rows, 0)]
    finally:
        await source.close()
        await destination.close()
