"""Reads yield to ingest: while ingest is behind, the store's reads run one at a time (the
others queue for their turn, within the query timeout); once it caught up, ``readers`` again.

Reads here are real threads blocked on an event, so every assertion is about how many ran at
once, never about how long anything took.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from breadcrumbs.errors import QueryTimeout
from breadcrumbs.store.threads import StoreThreads

WAIT_S = 60.0  # generous: a loaded 2-core CI machine


class BlockedReads:
    """Reads that block until ``release`` is set (by an interrupt too, if ``interruptible``);
    counts how many ran at once."""

    def __init__(self, *, interruptible: bool = True) -> None:
        self.interruptible = interruptible
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self.started = 0
        self._lock = threading.Lock()

    def run(self) -> str:
        with self._lock:
            self.running += 1
            self.started += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.release.wait(WAIT_S)
            return "done"
        finally:
            with self._lock:
                self.running -= 1

    def interrupt(self) -> None:
        if self.interruptible:
            self.release.set()


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


async def test_reads_run_one_at_a_time_while_ingest_is_behind() -> None:
    behind = True
    threads = StoreThreads("test", readers=4, timeout_s=0, ingest_behind=lambda: behind)
    reads = BlockedReads()
    try:
        tasks = [asyncio.create_task(threads.read(reads.run, reads.interrupt)) for _ in range(3)]
        await until(lambda: reads.started == 1, "the first read starts")
        await asyncio.sleep(0.2)  # the others had their chance to start, and did not
        assert (reads.started, reads.most_at_once) == (1, 1)

        behind = False  # caught up: the queued reads are admitted as the running one ends
        reads.release.set()
        assert await asyncio.gather(*tasks) == ["done"] * 3
    finally:
        threads.close()


async def test_reads_run_side_by_side_when_ingest_keeps_up() -> None:
    threads = StoreThreads("test", readers=4, timeout_s=0, ingest_behind=lambda: False)
    reads = BlockedReads()
    try:
        tasks = [asyncio.create_task(threads.read(reads.run, reads.interrupt)) for _ in range(3)]
        await until(lambda: reads.started == 3, "all three reads start")
        reads.release.set()
        assert await asyncio.gather(*tasks) == ["done"] * 3
        assert reads.most_at_once == 3
    finally:
        threads.close()


async def test_a_queued_read_times_out_with_a_retryable_error() -> None:
    threads = StoreThreads("test", readers=4, timeout_s=0.5, ingest_behind=lambda: True)
    # The first read ignores interrupts: it holds the only turn until released below.
    first, queued = BlockedReads(interruptible=False), BlockedReads()
    try:
        running = asyncio.create_task(threads.read(first.run, first.interrupt))
        await until(lambda: first.started == 1, "the first read starts")
        with pytest.raises(QueryTimeout, match="for its turn"):
            await threads.read(queued.run, queued.interrupt)
        assert queued.started == 0  # it never ran
        first.release.set()
        with pytest.raises(QueryTimeout, match="ran longer"):
            await running
    finally:
        threads.close()
