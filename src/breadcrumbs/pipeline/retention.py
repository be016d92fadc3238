"""Retention: a background task that deletes spans older than the retention period.

The store does the deleting (``delete_before`` is async: an engine runs its statement off the
event loop); a failed pass is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from breadcrumbs.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)

DEFAULT_RETENTION_S = 7 * 24 * 3600.0
DEFAULT_INTERVAL_S = 10 * 60.0


class Deleter(Protocol):
    async def delete_before(self, cutoff_ns: int) -> int: ...


class Retention:
    def __init__(
        self,
        store: Deleter,
        metrics: SelfMetrics | None = None,
        *,
        retention_s: float = DEFAULT_RETENTION_S,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        if retention_s <= 0 or interval_s <= 0:
            raise ValueError("retention and interval must be positive")
        self._store = store
        self._metrics = metrics
        self.retention_s = retention_s
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now_ns: int | None = None) -> int:
        """One pass: delete spans that started before ``now - retention``; returns how many."""
        now = time.time_ns() if now_ns is None else now_ns
        deleted = await self._store.delete_before(now - int(self.retention_s * 1e9))
        if self._metrics is not None:
            self._metrics.retention_deleted.inc(deleted)
        if deleted:
            log.info("retention: deleted %d spans older than %.0f s", deleted, self.retention_s)
        return deleted

    def start(self) -> None:
        """A pass now, then one every ``interval_s``."""
        self._task = asyncio.create_task(self._run(), name="retention")

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention pass failed; trying again in %.0f s", self.interval_s)
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
