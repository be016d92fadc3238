"""The trace lookup's tail (schema ``_V2``/``_V10``: one row per trace prefix and flush) kept in
memory beside the table, so a get-trace finds a trace's range without a statement: the tail's
statement was ~1-1.3 ms of a get-trace's ~7-11 (bench/README.md, "Trace-by-id").

Rows are only ever added before the table has them (a flush adds its rows before it commits)
and dropped after it lost them (a merge of the tail drops the flushes it moved, once it has
committed), so the copy holds every row of the table and perhaps some more: rows of a flush
that rolled back, or that retention deleted. A range widened by such a row still holds every
span of its trace, and the scan it bounds finds the same spans. Readers check the level
generation around their lookup (``DuckDBStore._one_range``), so one that read the sorted levels
before a merge and this copy after its drop starts again."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

Range = tuple[int, int, int, int]
"""A trace prefix's first and last start (ns) and first and last flush."""

_CHUNKS = 16  # chunks (one per flush) before they are merged into one sorted array
MAX_ROWS = 4_000_000
"""Beyond this many rows (the tail outgrew its capacity many times over: merges are not
running) the copy is dropped and lookups read the table."""


@dataclass(frozen=True, slots=True)
class SortedRanges:
    """Lookup rows as arrays sorted by prefix, times in ns: a chunk of the tail here, and
    the sorted levels' copy in the store (``store._SortedLevels``)."""

    prefixes: np.ndarray[Any, np.dtype[np.uint64]]
    first: np.ndarray[Any, np.dtype[np.int64]]
    last: np.ndarray[Any, np.dtype[np.int64]]
    first_flush: np.ndarray[Any, np.dtype[np.int64]]
    last_flush: np.ndarray[Any, np.dtype[np.int64]]

    @classmethod
    def of(cls, rows: pa.Table, *, start_unit_ns: int = 1) -> SortedRanges:
        """From (TracePrefix, FirstStart, LastStart, FirstFlush, LastFlush) rows, starts in
        units of ``start_unit_ns`` (the sorted levels keep microseconds)."""
        columns = [rows.column(i).to_numpy() for i in range(5)]
        if start_unit_ns != 1:
            columns[1], columns[2] = columns[1] * start_unit_ns, columns[2] * start_unit_ns
        order = np.argsort(columns[0], kind="stable")
        return cls(*(column[order] for column in columns))

    @classmethod
    def empty(cls) -> SortedRanges:
        none = np.empty(0, np.int64)
        return cls(np.empty(0, np.uint64), none, none, none, none)

    @classmethod
    def joined(cls, chunks: list[SortedRanges]) -> SortedRanges:
        prefixes = np.concatenate([c.prefixes for c in chunks])
        order = np.argsort(prefixes, kind="stable")
        return cls(
            prefixes[order],
            *(
                np.concatenate([getattr(c, name) for c in chunks])[order]
                for name in ("first", "last", "first_flush", "last_flush")
            ),
        )

    def kept(self, keep: np.ndarray[Any, np.dtype[np.bool_]]) -> SortedRanges:
        return SortedRanges(
            self.prefixes[keep], self.first[keep], self.last[keep],
            self.first_flush[keep], self.last_flush[keep],
        )  # fmt: skip

    def merge_into(self, found: dict[int, Range], prefixes: list[int]) -> None:
        """Widen ``found`` (prefix -> range) by these rows of the given prefixes."""
        wanted = np.array(prefixes, np.uint64)
        lows = np.searchsorted(self.prefixes, wanted, side="left").tolist()
        highs = np.searchsorted(self.prefixes, wanted, side="right").tolist()
        for prefix, low, high in zip(prefixes, lows, highs, strict=True):
            if low == high:
                continue
            here = (
                int(self.first[low:high].min()),
                int(self.last[low:high].max()),
                int(self.first_flush[low:high].min()),
                int(self.last_flush[low:high].max()),
            )
            old = found.get(prefix)
            found[prefix] = here if old is None else widened(old, here)

    def __len__(self) -> int:
        return len(self.prefixes)


class LookupTail:
    """The tail's rows in memory, as chunks sorted by prefix. Readers take the current tuple
    of chunks without a lock (it is replaced, never changed); writers replace it under one."""

    def __init__(self, rows: pa.Table) -> None:
        self._lock = threading.Lock()
        self._chunks: tuple[SortedRanges, ...] | None = (
            (SortedRanges.of(rows),) if rows.num_rows else ()
        )
        self._check_size()

    @property
    def enabled(self) -> bool:
        return self._chunks is not None

    def add(self, rows: pa.Table) -> None:
        """A flush's rows, before it commits them to the table."""
        if not rows.num_rows:
            return
        chunk = SortedRanges.of(rows)
        with self._lock:
            if self._chunks is None:
                return
            chunks = [*self._chunks, chunk]
            if len(chunks) > _CHUNKS:
                chunks = [SortedRanges.joined(chunks)]
            self._chunks = tuple(chunks)
            self._check_size()

    def drop_through(self, flush: int) -> None:
        """Forget the rows of flushes up to ``flush``: a merge has moved them out of the
        table's tail (it committed)."""
        with self._lock:
            if self._chunks is None:
                return
            kept = (chunk.kept(chunk.last_flush > flush) for chunk in self._chunks)
            self._chunks = tuple(chunk for chunk in kept if len(chunk))

    def merge_into(self, found: dict[int, Range], prefixes: list[int]) -> bool:
        """Widen ``found`` (prefix -> range) by the tail's rows of these prefixes; False
        (nothing done) when the copy was dropped."""
        chunks = self._chunks
        if chunks is None:
            return False
        for chunk in chunks:
            chunk.merge_into(found, prefixes)
        return True

    def _check_size(self) -> None:
        if self._chunks is not None and sum(len(c) for c in self._chunks) > MAX_ROWS:
            self._chunks = None


def widened(one: Range, other: Range) -> Range:
    """The range covering both."""
    return (
        min(one[0], other[0]),
        max(one[1], other[1]),
        min(one[2], other[2]),
        max(one[3], other[3]),
    )
