"""Reads never hold ingest: slow DuckDB reads run on the store's reader threads, are stopped
past the query timeout, and are interrupted when their caller is cancelled.

"Slow" here is a statement that would run for many minutes (a sum over 10^12 rows), so every
assertion is about order (the ack completed while the reads were still running), never about
how long something took.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from tests.pipeline.support import make_batch

from breadcrumbs.errors import QueryTimeout
from breadcrumbs.pipeline.ingest import IngestPipeline, PipelineSettings
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.duckdb import DuckDBStore

ENDLESS = "SELECT sum(range % 7) FROM range(1000000000000)"
WAIT_S = 120.0  # generous: a loaded 2-core CI machine


class SlowReads:
    """Counts the endless reads that started and that ended (by interrupt)."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0
        self._lock = threading.Lock()

    def work(self, cur: duckdb.DuckDBPyConnection) -> object:
        with self._lock:
            self.started += 1
        try:
            return cur.execute(ENDLESS).fetchall()
        finally:
            with self._lock:
                self.ended += 1


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def test_slow_reads_hold_neither_the_ack_nor_the_flush(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", query_threads=2, query_timeout_s=0)
    pipeline = IngestPipeline(tmp_path, store, PipelineSettings(), SelfMetrics())
    await pipeline.start()
    slow = SlowReads()
    # More reads than asyncio's default executor has threads (min(32, cores + 4)): before
    # the store had its own threads, these alone held the WAL's fsync, so every ack.
    count = min(32, (os.cpu_count() or 1) + 4) + 1
    reads = [asyncio.create_task(store._read(slow.work)) for _ in range(count)]
    try:
        await wait_until(lambda: slow.started >= 2, "both reader threads run an endless read")
        # The ack (fsynced in the WAL), then a flush committing, both while the reads run
        # (the bound only turns a hang into a failure).
        await asyncio.wait_for(pipeline.consume(make_batch(1)), WAIT_S)
        await asyncio.wait_for(store.write(make_batch(2)), WAIT_S)
        assert not any(read.done() for read in reads), "the reads were still running"
        assert slow.ended == 0
    finally:
        for read in reads:
            read.cancel()
        await asyncio.gather(*reads, return_exceptions=True)
    # Cancelling interrupted the running statements and skipped the queued reads.
    await wait_until(lambda: slow.ended == slow.started, "the interrupted reads returned")
    assert slow.started == 2
    assert (await store.stats()).spans == 3  # the readers are free again, the flush is there
    await pipeline.stop()
    await store.close()


async def test_a_read_past_the_timeout_is_stopped_with_a_clear_error(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "spans.duckdb", query_threads=1, query_timeout_s=0.2)
    slow = SlowReads()
    with pytest.raises(QueryTimeout, match=r"longer than 0\.2 s \(--query-timeout\)"):
        await store._read(slow.work)
    assert slow.started == slow.ended == 1
    # The one reader thread is free: an ordinary read answers.
    await store.write(make_batch(1))
    assert (await store.stats()).spans == 3
    await store.close()


async def test_a_statement_after_the_interrupt_is_stopped_too(tmp_path: Path) -> None:
    """A read of several statements may be between two when the timeout comes (here: in
    Python, after a first statement): the interrupt repeats, so the next one stops too."""
    store = DuckDBStore(tmp_path / "spans.duckdb", query_threads=1, query_timeout_s=0.1)

    def two_statements(cur: duckdb.DuckDBPyConnection) -> object:
        cur.execute("SELECT 1").fetchall()
        time.sleep(0.5)  # the timeout passes here, with no statement to interrupt
        return cur.execute(ENDLESS).fetchall()

    with pytest.raises(QueryTimeout):
        await store._read(two_statements)
    await store.close()
