"""Retention deletes spans older than the retention period, through the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from breadcrumbs.model import concat_batches
from breadcrumbs.pipeline.retention import Retention
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import GetTracesParams
from breadcrumbs.store.duckdb import DuckDBStore

from .support import MemoryStore, make_batch, trace_id

HOUR_NS = 3600 * 10**9
NOW_NS = 1_800_000_000 * 10**9


async def test_deletes_spans_older_than_retention() -> None:
    store = MemoryStore()
    old = make_batch(1, spans=4, start_ns=NOW_NS - 3 * HOUR_NS)
    recent = make_batch(2, spans=2, start_ns=NOW_NS - HOUR_NS // 2)
    await store.write(concat_batches([old, recent]))
    metrics = SelfMetrics()
    retention = Retention(store, metrics, retention_s=3600)

    assert await retention.run_once(NOW_NS) == 4
    assert store.all().equals(recent)
    assert await retention.run_once(NOW_NS) == 0
    assert metrics.registry.get_sample_value("breadcrumbs_retention_deleted_spans_total") == 4


async def test_background_task_deletes_through_duckdb(tmp_path: Path) -> None:
    # One SelfMetrics for the store and retention, as the server wires them: each deleted
    # span is counted once.
    metrics = SelfMetrics()
    store = DuckDBStore(tmp_path / "spans.duckdb", metrics=metrics)
    try:
        old = make_batch(1, spans=3, start_ns=1_000_000_000)  # 1970: far beyond 7 days
        recent = make_batch(2, spans=2, start_ns=NOW_NS)
        await store.write(concat_batches([old, recent]))
        retention = Retention(store, metrics)  # defaults: 7 days, a first pass at start
        retention.start()
        for _ in range(3000):  # the first pass runs at start; wait for it, boundedly
            if metrics.registry.get_sample_value("breadcrumbs_retention_deleted_spans_total"):
                break
            await asyncio.sleep(0.01)
        await retention.stop()
        assert (await store.get_traces(GetTracesParams((trace_id(1),)))).num_rows == 0
        assert (await store.get_traces(GetTracesParams((trace_id(2),)))).num_rows == 2
        assert metrics.registry.get_sample_value("breadcrumbs_retention_deleted_spans_total") == 3
    finally:
        await store.close()
