"""Service dependencies over a window without joining every span of it.

What counts as a call is defined once, in ``sql.dependency_rows``: a span whose parent span is
in another service, both starting in the window and at most a horizon (2 min) apart, or a
client/producer span naming a ``peer.service`` with no child span within the horizon (an
uninstrumented callee). The horizon bounds how far any computation looks for a span's parent
or child; a call whose two spans start further apart is not a call.

The counts are kept per minute ("unit") in ``dependency_edges`` (Lo, Hi: the units of the
earlier and later span of a call; Parent, Child, Calls, Errors), for every unit whose ``Hi``
lies in the *covered* range [``dependency_from``, ``dependency_to``) kept in ``meta``:

- **Refresh** (after a write, under the write lock): units are added once they have settled,
  i.e. every span within the horizon of them has been written by the data clock (the newest
  span start written, capped by the wall clock) less 30 s. Settling is only an estimate, so:
- **Late spans are exact, not lost**: a write holding a span that starts before
  ``dependency_to`` plus the horizon touches covered units. In the same transaction as the
  spans, the covered range retreats to the first unit the span can change (and those units are
  computed again by later refreshes); when that would drop more than 30 min of counts, the
  range's start moves past the touched units instead. Either way the kept counts always equal
  what the definition gives over the spans stored.
- **Query** (``links``): full units of the window inside the covered range are summed from
  ``dependency_edges`` (a few thousand rows an hour); only the rest, the partial units at the
  window's ends and the not yet covered tail, with a horizon around them, is computed from
  spans. Coverage, counts and spans are read in one transaction, so they agree.
- **Retention** moves the covered start past the cutoff (plus the horizon) and deletes the
  counts below it, before the spans go.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from breadcrumbs.store.duckdb import sql

UNIT_NS: Final = sql.DEPENDENCY_UNIT_NS
SETTLE_NS: Final = 15 * 10**9
MAX_RETREAT_NS: Final = 30 * 60 * 10**9
MAX_UNITS_PER_REFRESH: Final = 60

FROM_KEY: Final = "dependency_from"
TO_KEY: Final = "dependency_to"


def _floor(t: int) -> int:
    return t - t % UNIT_NS


def _ceil(t: int) -> int:
    return -(-t // UNIT_NS) * UNIT_NS


@dataclasses.dataclass(frozen=True, slots=True)
class Coverage:
    """``dependency_edges`` holds the counts of every unit in [start, end); None: nothing yet."""

    start: int | None = None
    end: int | None = None


def load(cur: duckdb.DuckDBPyConnection) -> Coverage:
    query = "SELECT key, value FROM meta WHERE key IN (?, ?)"
    rows = dict(cur.execute(query, [FROM_KEY, TO_KEY]).fetchall())
    if FROM_KEY not in rows or TO_KEY not in rows:
        return Coverage()
    return Coverage(int(rows[FROM_KEY]), int(rows[TO_KEY]))


def _save(cur: duckdb.DuckDBPyConnection, coverage: Coverage) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
        [FROM_KEY, coverage.start, TO_KEY, coverage.end],
    ).fetchall()


class Tracker:
    """The writers' side: keeps the counts up to date. Every method runs under the store's
    write lock."""

    def __init__(self, horizon_ns: int) -> None:
        self.horizon_ns = horizon_ns
        self._coverage: Coverage | None = None  # None: not loaded yet
        self._newest: int | None = None

    def _loaded(self, cur: duckdb.DuckDBPyConnection) -> Coverage:
        if self._coverage is None:
            self._coverage = load(cur)
            newest = cur.execute(sql.DEPENDENCY_BOUNDS).fetchall()[0][1]
            self._newest = None if newest is None else int(newest)
        return self._coverage

    def on_write(self, cur: duckdb.DuckDBPyConnection, starts: pa.ChunkedArray) -> Coverage:
        """In the write's transaction: drop the counts a late span changes. Returns the
        coverage to adopt once the transaction commits (``committed``)."""
        coverage = self._loaded(cur)
        if coverage.start is None or coverage.end is None or not len(starts):
            return coverage
        late = pc.filter(starts, pc.less(starts, coverage.end + self.horizon_ns))
        if not len(late):
            return coverage
        bounds = pc.min_max(late)
        first = _floor(bounds["min"].as_py() - self.horizon_ns)
        last = _floor(bounds["max"].as_py() + self.horizon_ns)  # the last unit it can change
        if last < coverage.start:
            return coverage
        if coverage.end - max(first, coverage.start) <= MAX_RETREAT_NS:
            changed = Coverage(coverage.start, max(first, coverage.start))
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_FROM, [changed.end]).fetchall()
        else:
            start = last + UNIT_NS
            changed = Coverage(start, max(start, coverage.end))
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_FROM, [changed.end]).fetchall()
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_BEFORE, [changed.start]).fetchall()
        _save(cur, changed)
        return changed

    def committed(self, coverage: Coverage, starts: pa.ChunkedArray) -> None:
        self._coverage = coverage
        if len(starts):
            newest = pc.max(starts).as_py()
            self._newest = newest if self._newest is None else max(self._newest, newest)

    def refresh(self, cur: duckdb.DuckDBPyConnection) -> int:
        """Count the units that have settled (at most an hour's); returns how many."""
        coverage = self._loaded(cur)
        if self._newest is None:
            return 0
        settled = min(self._newest, time.time_ns()) - SETTLE_NS
        target = _floor(settled - self.horizon_ns)
        begin = coverage.end
        if begin is None:
            oldest = cur.execute(sql.DEPENDENCY_BOUNDS).fetchall()[0][0]
            if oldest is None:
                return 0
            begin = _floor(int(oldest))
        stop = min(target, begin + MAX_UNITS_PER_REFRESH * UNIT_NS)
        if stop <= begin:
            return 0
        changed = Coverage(begin if coverage.start is None else coverage.start, stop)
        cur.begin()
        try:
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_FROM, [begin]).fetchall()
            cur.execute(*sql.dependency_refresh(begin, stop, self.horizon_ns)).fetchall()
            _save(cur, changed)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        self._coverage = changed
        return (stop - begin) // UNIT_NS

    def on_retention(self, cur: duckdb.DuckDBPyConnection, cutoff_ns: int) -> Coverage:
        """In retention's transaction, before spans go: every kept call's spans start at or
        after ``cutoff_ns``. Returns the coverage to adopt after commit."""
        coverage = self._loaded(cur)
        if coverage.start is None or coverage.end is None:
            return coverage
        start = max(coverage.start, _ceil(cutoff_ns + self.horizon_ns))
        changed = Coverage(start, max(start, coverage.end))
        if changed != coverage:
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_BEFORE, [changed.start]).fetchall()
            cur.execute(sql.DELETE_DEPENDENCY_EDGES_FROM, [changed.end]).fetchall()
            _save(cur, changed)
        return changed

    def adopt(self, coverage: Coverage) -> None:
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
) -> list[tuple[str, str, int, int]]:
    """(parent, child, calls, errors) for spans starting in (end - lookback, end], sorted."""
    first, stop = end_ns - lookback_ns + 1, end_ns + 1  # the window as [first, stop)
    whole_first, whole_stop = _ceil(first), _floor(stop)  # its whole units
    counts: Counter[tuple[str, str]] = Counter()
    errors: Counter[tuple[str, str]] = Counter()
    cur.begin()  # one snapshot: coverage, counts and spans agree
    try:
        coverage = load(cur)
        a, b = first, first  # the kept units [a, b); empty: all from spans
        if coverage.start is not None and coverage.end is not None:
            a, b = max(whole_first, coverage.start), min(whole_stop, coverage.end)
            if b - a < 2 * UNIT_NS:
                a, b = first, first
            else:
                for parent, child, calls, errs in cur.execute(
                    sql.DEPENDENCIES_KEPT, [a, b, whole_first]
                ).fetchall():
                    counts[parent, child] += int(calls)
                    errors[parent, child] += int(errs)
        spans = _merged([(first - horizon_ns, a + horizon_ns), (b - horizon_ns, stop + horizon_ns)])
        clients = _merged([(first, a), (b, stop)])
        text, params = sql.dependencies_live(
            spans, clients, (first, stop), (a, b, whole_first), horizon_ns
        )
        for parent, child, calls, errs in cur.execute(text, params).fetchall():
            counts[parent, child] += int(calls)
            errors[parent, child] += int(errs)
        cur.commit()
    except BaseException:
        cur.rollback()
        raise
    return sorted((p, c, n, errors[p, c]) for (p, c), n in counts.items() if n)
