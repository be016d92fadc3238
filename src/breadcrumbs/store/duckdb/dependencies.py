"""Service dependencies over a window without joining every span of it.

What counts as a call is defined once, in ``sql.dependency_rows``: a span whose parent span is
in another service, both starting in the window and at most a horizon (60 s) apart (a *pair*),
or a client/producer span in the window naming a ``peer.service`` with no child span starting
within the horizon of it (a *peer* call: an uninstrumented callee). The horizon bounds how far
any computation looks for a span's parent or child, as Tempo's service graphs bound the wait
for the other half of an edge; a parent and child starting further apart are not a call.

Why kept counts: the self-join over a window is what costs (seconds for an hour at 10M
spans/hour), and it cannot be done per flush, since a parent usually arrives in a later flush
than its children (children end first). So counts are computed once, for time that has
settled, and corrected when a late span proves it had not. (Before v5 a peer call needed no
child *in the window*; now no child within the horizon, so that a count never depends on the
window it is read for.)

Counts are kept per 15 s unit in ``dependency_edges`` (Peer; Lo, Hi: the units of the earlier
and later span of a pair, or of the client span; Parent, Child, Calls, Errors). ``meta`` holds
the covered ranges: pairs for units [``dependency_from``, ``dependency_pairs_to``), peers for
[``dependency_from``, ``dependency_peers_to``):

- **Refresh** (after a write, under the write lock): a pair unit is counted once every span
  starting before its end has been written, a peer unit once every span within the horizon
  after it has: by the data clock (the newest span start written, capped by the wall clock)
  less 10 s, at least four units at a time (a refresh scans a horizon around its units). The
  live tail a query must join is then ~10-70 s of pairs and ~70-130 s of client spans, instead
  of the whole window. Refreshes take at most a quarter of the time (``MAX_REFRESH_SHARE``):
  under a flood of late spans the counts lag and queries join more; the server also refreshes
  now and then between writes, so a store that goes quiet ends up counted.
- **Late spans stay exact**: settling is only an estimate. A write holding a span that starts
  before a covered end (plus the horizon) retreats that end, in the spans' own transaction, to
  the first unit the span can change; later refreshes count those units again. When that would
  drop more than 30 min of counts, the covered start moves past the touched units instead. The
  kept counts always equal what the definition gives over the spans stored.
- **Query** (``links``): whole units of the window inside the covered ranges are summed from
  ``dependency_edges`` (~30k rows an hour); the rest (the partial units at the window's ends,
  the uncovered tail) is computed from spans, with a semi-join on the trace ids of those spans
  so that the self-join only sees their traces. Coverage, counts and spans are read in one
  transaction, so they agree.
- **Retention** moves the covered start past the cutoff plus the horizon and deletes the counts
  below it, before the spans go.

Measured at 10M spans/hour (bench/README.md, Store): a 1 h window in ~65 ms when it ends a
few minutes before the newest span, 150-190 ms when it ends at the newest (the live tail),
against ~10 s for the same join over the whole window; the refresh costs ~1.5-2 s of CPU per
million spans written, once (``DuckDBStore(dependency_counts=False)`` turns it off).
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.store.duckdb import sql

UNIT_NS: Final = sql.DEPENDENCY_UNIT_NS
SETTLE_NS: Final = 10 * 10**9
MAX_RETREAT_NS: Final = 30 * 60 * 10**9
MIN_UNITS_PER_REFRESH: Final = 4
MAX_UNITS_PER_REFRESH: Final = 16  # bounds one refresh (a backfill goes on write by write)
# The most of the time that refreshes may take. Late spans (a replay, a backfill, clients
# sending old timestamps) keep retreating the counts into units full of spans, and recounting
# those after every flush once took 3/4 of the writer's time. Deferred units are still exact:
# queries join what is not counted.
MAX_REFRESH_SHARE: Final = 0.25

FROM_KEY: Final = "dependency_from"
PAIRS_TO_KEY: Final = "dependency_pairs_to"
PEERS_TO_KEY: Final = "dependency_peers_to"


def _floor(t: int) -> int:
    return t - t % UNIT_NS


def _ceil(t: int) -> int:
    return -(-t // UNIT_NS) * UNIT_NS


@dataclasses.dataclass(frozen=True, slots=True)
class Coverage:
    """Counts are kept for pair units [start, pairs_end) and peer units [start, peers_end)."""

    start: int
    pairs_end: int
    peers_end: int

    def dropping_from(self, pairs_end: int, peers_end: int) -> Coverage:
        return Coverage(
            self.start, max(self.start, min(self.pairs_end, pairs_end)),
            max(self.start, min(self.peers_end, peers_end)),
        )  # fmt: skip

    def starting_at(self, start: int) -> Coverage:
        start = max(start, self.start)
        return Coverage(start, max(start, self.pairs_end), max(start, self.peers_end))


def load(cur: duckdb.DuckDBPyConnection) -> Coverage | None:
    keys = [FROM_KEY, PAIRS_TO_KEY, PEERS_TO_KEY]
    rows = dict(cur.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)", keys).fetchall())
    if any(key not in rows for key in keys):
        return None
    return Coverage(*(int(rows[key]) for key in keys))


def _save(cur: duckdb.DuckDBPyConnection, was: Coverage | None, now: Coverage) -> None:
    if was is not None:
        if now.start > was.start:
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_BEFORE, [now.start]).fetchall()
        cur.execute(sql.DELETE_DEPENDENCY_EDGES_FROM, [now.pairs_end, now.peers_end]).fetchall()
    cur.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?), (?, ?)",
        [FROM_KEY, now.start, PAIRS_TO_KEY, now.pairs_end, PEERS_TO_KEY, now.peers_end],
    ).fetchall()


class Tracker:
    """The writers' side: keeps the counts up to date. Every method runs under the store's
    write lock."""

    def __init__(self, horizon_ns: int, *, max_share: float = MAX_REFRESH_SHARE) -> None:
        self.horizon_ns = horizon_ns
        self.max_share = max_share
        self._next_refresh = 0.0  # time.monotonic() before which a refresh waits its turn
        self._loaded = False
        self._coverage: Coverage | None = None
        self._newest: int | None = None

    def _load(self, cur: duckdb.DuckDBPyConnection) -> Coverage | None:
        if not self._loaded:
            self._coverage = load(cur)
            newest = cur.execute(sql.DEPENDENCY_BOUNDS).fetchall()[0][1]
            self._newest = None if newest is None else int(newest)
            self._loaded = True
        return self._coverage

    def on_write(self, cur: duckdb.DuckDBPyConnection, starts: pa.ChunkedArray) -> Coverage | None:
        """In the write's transaction: drop the counts a late span changes. Returns the
        coverage to adopt once the transaction commits (``committed``)."""
        coverage = self._load(cur)
        if coverage is None or not len(starts):
            return coverage
        horizon = self.horizon_ns
        late = pc.filter(
            starts, pc.less(starts, max(coverage.pairs_end, coverage.peers_end) + horizon)
        )
        if not len(late):
            return coverage
        bounds = pc.min_max(late)
        oldest, newest = bounds["min"].as_py(), bounds["max"].as_py()
        # A span changes pairs whose later span starts within [oldest, newest + horizon], and
        # peer calls of client spans within [oldest - horizon, newest + horizon].
        if _floor(newest + horizon) < coverage.start:
            return coverage
        changed = coverage.dropping_from(_floor(oldest), _floor(oldest - horizon))
        dropped = max(
            coverage.pairs_end - changed.pairs_end, coverage.peers_end - changed.peers_end
        )
        if dropped > MAX_RETREAT_NS:
            changed = coverage.starting_at(_floor(newest + horizon) + UNIT_NS)
        if changed != coverage:
            _save(cur, coverage, changed)
        return changed

    def committed(self, coverage: Coverage | None, starts: pa.ChunkedArray) -> None:
        self._coverage = coverage
        if len(starts):
            newest = pc.max(starts).as_py()
            self._newest = newest if self._newest is None else max(self._newest, newest)

    @property
    def uncounted_ns(self) -> int | None:
        """How far the counted pairs end before the newest span written (None: unknown)."""
        if self._coverage is None or self._newest is None:
            return None
        return max(0, self._newest - self._coverage.pairs_end)

    def refresh_in_turn(self, cur: duckdb.DuckDBPyConnection) -> int:
        """``refresh``, unless the last one was recent for what it cost (then 0): a refresh
        that took ``t`` makes the next wait until ``t / max_share`` after its start."""
        began = time.monotonic()
        if began < self._next_refresh:
            return 0
        try:
            return self.refresh(cur)
        finally:
            self._next_refresh = began + (time.monotonic() - began) / self.max_share

    def refresh(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Count the units that have settled (at most an hour's); returns how many."""
        coverage = self._load(cur)
        if self._newest is None:
            return 0
        settled = min(self._newest, time.time_ns()) - SETTLE_NS
        if coverage is None:
            oldest = cur.execute(sql.DEPENDENCY_BOUNDS).fetchall()[0][0]
            if oldest is None:
                return 0
            start = _floor(int(oldest))
            coverage = Coverage(start, start, start)
        # Skip a stretch without spans (a pause in traffic, a fresh backfill) in one step.
        since = min(coverage.pairs_end, coverage.peers_end) - self.horizon_ns
        nearest = cur.execute(sql.DEPENDENCY_NEXT_START, [since]).fetchall()[0][0]
        if nearest is not None:
            jump = _floor(int(nearest)) - self.horizon_ns - UNIT_NS
            coverage = Coverage(
                coverage.start, max(coverage.pairs_end, jump), max(coverage.peers_end, jump)
            )
        limit = MAX_UNITS_PER_REFRESH * UNIT_NS
        pairs = (coverage.pairs_end, min(_floor(settled), coverage.pairs_end + limit))
        peers = (
            coverage.peers_end,
            min(_floor(settled - self.horizon_ns), coverage.peers_end + limit),
        )
        # Each refresh scans a horizon around its units: counting a few units at once costs
        # ~1.7 µs/span against ~2.6 for one (at 10M spans/hour).
        if max(pairs[1] - pairs[0], peers[1] - peers[0]) < MIN_UNITS_PER_REFRESH * UNIT_NS:
            return 0
        pairs = (pairs[0], max(pairs))
        peers = (peers[0], max(peers))
        changed = Coverage(coverage.start, pairs[1], peers[1])
        cur.begin()
        try:
            cur.execute(*sql.dependency_refresh(pairs, peers, self.horizon_ns)).fetchall()
            _save(cur, None, changed)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        self._coverage = changed
        return (pairs[1] - pairs[0] + peers[1] - peers[0]) // UNIT_NS

    def on_retention(self, cur: duckdb.DuckDBPyConnection, cutoff_ns: int) -> Coverage | None:
        """In retention's transaction, before spans go: every kept call's spans start at or
        after ``cutoff_ns``. Returns the coverage to adopt after commit."""
        coverage = self._load(cur)
        if coverage is None:
            return None
        changed = coverage.starting_at(_ceil(cutoff_ns + self.horizon_ns))
        if changed != coverage:
            _save(cur, coverage, changed)
        return changed

    def adopt(self, coverage: Coverage | None) -> None:
        self._coverage = coverage


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[0] < r[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def links(
    cur: duckdb.DuckDBPyConnection, end_ns: int, lookback_ns: int, horizon_ns: int
) -> list[tuple[str, str, float, float]]:
    """(parent, child, calls, errors) for spans starting in (end - lookback, end], sorted."""
    first, stop = end_ns - lookback_ns + 1, end_ns + 1  # the window as [first, stop)
    whole_first, whole_stop = _ceil(first), _floor(stop)  # its whole units
    counts: dict[tuple[str, str], float] = defaultdict(float)
    errors: dict[tuple[str, str], float] = defaultdict(float)
    cur.begin()  # one snapshot: coverage, counts and spans agree
    try:
        coverage = load(cur)
        # Kept: pair units [a, b_pairs), peer units [a, b_peers); a == b: none.
        a = b_pairs = b_peers = first
        if coverage is not None:
            a = max(whole_first, coverage.start)
            b_pairs = min(whole_stop, coverage.pairs_end)
            b_peers = min(whole_stop, coverage.peers_end)
            if min(b_pairs, b_peers) - a < 2 * UNIT_NS:
                a = b_pairs = b_peers = first
        kept = (a, b_pairs, whole_first, a, b_peers)
        if a < b_pairs:
            for parent, child, calls, errs in cur.execute(sql.DEPENDENCIES_KEPT, kept).fetchall():
                counts[parent, child] += float(calls)
                errors[parent, child] += float(errs)
        h = horizon_ns
        regions = (
            _merged([(first, a + h), (b_pairs - h, stop)]),  # spans of live pairs
            _merged([(first, a), (b_pairs, stop)]),  # each live pair has a span here
            _merged([(first, a), (b_peers, stop)]),  # live peer calls' client spans
            _merged([(first - h, a + h), (b_peers - h, stop + h)]),  # their children
        )
        text, params = sql.dependencies_live(regions, (first, stop), kept, h)
        for parent, child, calls, errs in cur.execute(text, params).fetchall():
            counts[parent, child] += float(calls)
            errors[parent, child] += float(errs)
        cur.commit()
    except BaseException:
        cur.rollback()
        raise
    return sorted((p, c, n, errors[p, c]) for (p, c), n in counts.items() if n)
