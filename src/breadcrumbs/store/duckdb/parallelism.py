"""DuckDB's own worker threads step aside while ingest is behind.

DuckDB runs a statement on its caller's thread and on a pool of its own (``threads``, one
setting for the whole database). Our readers run at nice +10 (``store.threads``), but
DuckDB's pool does not, and it takes tasks of reads and of the writer's insert alike: beside
4 clients searching and fetching traces, ingest kept 65-91% of its rate (median 70%, five
runs). With one thread each statement runs on its caller's thread, at its caller's priority,
and ingest kept 77-103% (median 88%, five runs of this switch); the insert alone was no
slower on one thread (it costs less CPU there). One thread does slow a
quiet store's reads (get-trace p50 +30-50% at 1M spans), so the pool comes back once ingest
has kept up for ``relax_s``. (bench/README.md, Ingest, 4 Dec.)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Final

import duckdb

# How long ingest must keep up before reads get DuckDB's whole pool back: flushes at full
# rate leave the store "behind" for moments at a time, and each change of the setting waits
# for DuckDB's workers to finish their task (up to ~0.3 s measured), so it should not flap.
RELAX_S: Final = 5.0


class Parallelism:
    """DuckDB's thread count: ``full``, or 1 from when ingest is behind until it has kept up
    for ``relax_s``. ``wanted`` runs where ``ingest_behind`` may be asked (the event loop);
    ``apply`` on the statement's own thread, before the statement."""

    def __init__(
        self, full: int, *, relax_s: float = RELAX_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.full = max(1, full)
        self.current = self.full
        self._relax_s = relax_s
        self._clock = clock
        self._behind_at = -math.inf
        self._lock = threading.Lock()

    def wanted(self, behind: bool) -> int:
        now = self._clock()
        if behind:
            self._behind_at = now
        return 1 if now - self._behind_at < self._relax_s else self.full

    def apply(self, cur: duckdb.DuckDBPyConnection, threads: int) -> None:
        if threads == self.current:
            return
        with self._lock:
            if threads != self.current:
                # SET takes no parameters; threads is an int of ours, never a caller's text.
                cur.execute(f"SET threads = {int(threads)}")
                self.current = threads
