"""A store's threads: one for writes, one for upkeep, a pool for reads.

asyncio's default executor is shared by everything: blocking reads there held flushes and
(before the WAL got its own thread) every ingest ack. Here a slow search can only wait for
other reads. Reads are also bounded: one that runs past ``timeout_s``, or whose caller is
cancelled (the HTTP client went away), is interrupted until its thread gives up.

Admission: while ingest is behind (``ingest_behind()``: spans wait for the store longer than
they should), reads run one at a time and the others queue, so a burst of searches cannot take
the CPU the writer needs to catch up; time spent queued counts against ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from breadcrumbs.errors import QueryTimeout

T = TypeVar("T")

# Readers run at a lower CPU priority (Linux: per thread) than the event loop and the WAL's
# thread, so on a busy machine the ack path gets the cores first: with 4 endless reads, store
# flushes slowed 5-7x at the same priority and 1-1.5x at nice 10 (bench/read_isolation.py).
READER_NICE: Final = 10

# How often an interrupt is repeated until the read's thread returns: a read of several
# statements may be between two of them when the first interrupt comes.
_REINTERRUPT_S: Final = 0.05


class StoreThreads:
    """``write``: flushes and the WAL watermark (one thread; writes are serial anyway).
    ``upkeep``: merges, checkpoints, retention (one thread, so they never delay a flush).
    ``read``: queries, ``readers`` at once, each stopped after ``timeout_s`` (0: never)."""

    def __init__(
        self,
        name: str,
        *,
        readers: int,
        timeout_s: float,
        ingest_behind: Callable[[], bool] | None = None,
    ) -> None:
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-write")
        self._upkeep = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-upkeep")
        self._readers = ThreadPoolExecutor(
            max(1, readers), thread_name_prefix=f"{name}-read", initializer=lower_priority
        )
        self.timeout_s = timeout_s
        self._readers_max = max(1, readers)
        self._ingest_behind = ingest_behind
        self._running = 0  # reads admitted and not finished (event loop only)
        self._finished: asyncio.Condition | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    async def write(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, work)

    async def upkeep(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._upkeep, work)

    async def read(self, run: Callable[[], T], interrupt: Callable[[], None]) -> T:
        """``run()`` on a reader thread; ``interrupt()`` (thread-safe) must make it return
        soon, also when called before it started. Raises ``QueryTimeout`` past the timeout."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with self._admitted():
            queued_s = loop.time() - began
            return await self._run_read(run, interrupt, queued_s)

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        """A read's turn: at once while fewer than ``readers`` run (one while ingest is
        behind); else when one finishes. Raises ``QueryTimeout`` past the timeout."""
        if self._finished is None:
            self._finished = asyncio.Condition()
        finished = self._finished
        try:
            async with asyncio.timeout(self.timeout_s or None), finished:
                await finished.wait_for(lambda: self._running < self._read_slots())
        except TimeoutError:
            raise QueryTimeout(
                f"the query waited longer than {self.timeout_s:g} s (--query-timeout) for its "
                "turn while ingest catches up; retry in a moment"
            ) from None
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            async with finished:
                finished.notify_all()

    def _read_slots(self) -> int:
        if self._ingest_behind is not None and self._ingest_behind():
            return 1
        return self._readers_max

    async def _run_read(
        self, run: Callable[[], T], interrupt: Callable[[], None], queued_s: float
    ) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._readers, run)
        # A read that queued for most of its budget still gets a moment (never more than the
        # whole timeout: a microsecond timeout stays a microsecond).
        floor = min(self.timeout_s, 0.001)
        timeout = max(floor, self.timeout_s - queued_s) if self.timeout_s else None
        try:
            done, _ = await asyncio.wait({future}, timeout=timeout)
        except asyncio.CancelledError:
            # The caller is gone: stop the read in the background and let the cancel go on.
            task = loop.create_task(_interrupt_until_done(future, interrupt))
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            raise
        if not done:
            await _interrupt_until_done(future, interrupt)
            raise QueryTimeout(
                f"the query ran longer than {self.timeout_s:g} s (--query-timeout) and was "
                "stopped; narrow its time window or add conditions"
            )
        return future.result()

    def close(self) -> None:
        """Wait for running work (interrupted reads end within moments), then stop."""
        for pool in (self._readers, self._upkeep, self._writer):
            pool.shutdown(wait=True)


def lower_priority() -> None:
    """Lower this thread's CPU priority by ``READER_NICE`` (where the OS allows)."""
    with contextlib.suppress(AttributeError, OSError):  # no setpriority, or not permitted
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + READER_NICE)


async def _interrupt_until_done(future: asyncio.Future[T], interrupt: Callable[[], None]) -> None:
    while not future.done():
        interrupt()
        await asyncio.wait({future}, timeout=_REINTERRUPT_S)
    if not future.cancelled():
        future.exception()  # retrieved: an interrupted read's error is expected, not logged
