"""DuckDB-only: the trace lookup's levels (schema v6) and their compaction.

Stores here keep a tail of a row or a few so a handful of flushes fills several levels. Every
case checks answers through the public reads against a model of what was written, and the
levels' own invariant: a merged level holds one row per prefix, sorted by prefix.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import breadcrumbs
from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import GetTraceParams, GetTracesParams
from breadcrumbs.store.duckdb import DuckDBStore, lookup_tail
from breadcrumbs.store.duckdb import sql as duckdb_sql
from breadcrumbs.store.duckdb import store as store_module
from breadcrumbs.store.duckdb.schema import RANGE_LEVELS, range_table

S = 10**9
T0 = 1_700_000_000 * S
TRACES = 160  # ids: prefix (high 64 bits) = index // 2, so pairs share a prefix


def trace_id(index: int) -> str:
    return f"{index // 2 + 1:016x}{index + 1:016x}"


class Model:
    """What the store should answer: span ids by trace, and the start of every span."""

    def __init__(self) -> None:
        self.starts: dict[tuple[str, str], int] = {}
        self.next_span = 1

    def spans(self, writes: list[tuple[int, int]]) -> list[Span]:
        made = []
        for index, second in writes:
            span_id = f"{self.next_span:016x}"
            self.next_span += 1
            start = T0 + second * S
            made.append(Span(trace_id(index), span_id, "op", "svc", start, 1000))
            self.starts[(trace_id(index), span_id)] = start
        return made

    def delete_before(self, cutoff: int) -> None:
        self.starts = {key: start for key, start in self.starts.items() if start >= cutoff}

    def by_trace(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for trace, span in self.starts:
            found.setdefault(trace, set()).add(span)
        return found


def levels(store: DuckDBStore) -> list[list[tuple[int, int, int, int, int]]]:
    """Each level's rows in their physical order, as (prefix, first start, last start, first
    flush, last flush), times in nanoseconds (sorted levels keep whole microseconds, widened
    outwards, and a flush count)."""
    cur = store._conn.cursor()
    sorted_level = (
        "TracePrefix, FirstStartUs * 1000, (FirstStartUs + LengthUs) * 1000,"
        " FirstFlush, FirstFlush + FlushLength"
    )
    tail = "TracePrefix, FirstStart, LastStart, FirstFlush, LastFlush"
    try:
        return [
            [
                tuple(row)
                for row in cur.execute(
                    f"SELECT {sorted_level if level else tail} FROM {range_table(level)}"
                ).fetchall()
            ]
            for level in range(RANGE_LEVELS + 1)
        ]
    finally:
        cur.close()


async def check(
    store: DuckDBStore, model: Model, *, each: bool = False, traces: int = TRACES
) -> None:
    """get_traces of every trace (and get_trace of each, when asked) answer as the model."""
    expected = model.by_trace()
    every = [trace_id(i) for i in range(traces)]
    got: dict[str, set[str]] = {}
    for row in (
        (await store.get_traces(GetTracesParams(tuple(every))))
        .select(["TraceId", "SpanId"])
        .to_pylist()
    ):
        got.setdefault(row["TraceId"], set()).add(row["SpanId"])
    assert got == expected
    if each:
        for trace in every:
            batch = await store.get_trace(GetTraceParams(trace))
            assert set(batch.column("SpanId").to_pylist()) == expected.get(trace, set())
    lookup = levels(store)
    for rows in lookup[1:]:
        prefixes = [row[0] for row in rows]
        assert prefixes == sorted(set(prefixes))
    # Every span lies within its prefix's time and flush range (over all levels).
    cur = store._conn.cursor()
    try:
        stored = cur.execute(
            "SELECT (TraceId >> 64)::UBIGINT, min(Timestamp), max(Timestamp), min(Flush),"
            " max(Flush) FROM spans GROUP BY 1"
        ).fetchall()
    finally:
        cur.close()
    for prefix, first, last, first_flush, last_flush in stored:
        rows = [row for level in lookup for row in level if row[0] == prefix]
        assert rows, prefix
        assert min(r[1] for r in rows) <= first
        assert max(r[2] for r in rows) >= last
        assert min(r[3] for r in rows) <= first_flush
        assert max(r[4] for r in rows) >= last_flush
    # The tail's copy in memory covers every row of the table's tail (lookup_tail).
    if store._tail.enabled:
        for prefix, first, last, first_flush, last_flush in lookup[0]:
            copied: dict[int, tuple[int, int, int, int]] = {}
            assert store._tail.merge_into(copied, [prefix])
            low, high, low_flush, high_flush = copied[prefix]
            assert (low, low_flush) <= (first, first_flush)
            assert high >= last
            assert high_flush >= last_flush


async def compact_fully(store: DuckDBStore) -> int:
    steps = 0
    while await store.compact():
        steps += 1
        assert steps < 100
    return steps


async def test_trace_split_across_many_flushes_and_levels(tmp_path: Path) -> None:
    model = Model()
    metrics = SelfMetrics()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=1, metrics=metrics)
    merges = 0
    try:
        for flush in range(12):
            # every trace gets a span in every flush; a flush adds 40 new prefixes too
            writes = [(i, flush * 10 + i % 7) for i in range(0, 20)]
            writes += [(20 + flush * 10 + i, flush * 10) for i in range(10)]
            await store.write(batch_from_spans(model.spans(writes)))
            merges += await compact_fully(store)
            await check(store, model)
        assert merges > 0
        assert (
            metrics.registry.get_sample_value(
                "breadcrumbs_store_lookup_merge_duration_seconds_count"
            )
            == merges
        )
        counts = [len(rows) for rows in levels(store)]
        assert counts[0] == 0
        assert sum(1 for c in counts if c) >= 2, counts
        # traces 2 and 3 (one prefix) in every flush: the range over all of their spans
        prefix = int(trace_id(3)[:16], 16)
        rows = [r for level in levels(store) for r in level if r[0] == prefix]
        assert min(r[1] for r in rows) == T0 + 2 * S
        assert max(r[2] for r in rows) == T0 + 113 * S
        await check(store, model, each=True)
    finally:
        await store.close()


async def test_retention_deletes_from_every_level_and_reopen_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    model = Model()
    store = DuckDBStore(path, lookup_tail_rows=1)
    try:
        for flush in range(9):
            writes = [(flush * 16 + i, flush * 100 + i) for i in range(16)]
            await store.write(batch_from_spans(model.spans(writes)))
            await compact_fully(store)
        await store.write(batch_from_spans(model.spans([(150, 900), (151, 901)])))  # the tail
        assert sum(1 for rows in levels(store) if rows) >= 3
        cutoff = T0 + 450 * S
        await store.delete_before(cutoff)
        model.delete_before(cutoff)
        for rows in levels(store):
            assert all(row[2] >= cutoff for row in rows)
        await check(store, model)
    finally:
        await store.close()
    store = DuckDBStore(path, lookup_tail_rows=1)
    try:
        await check(store, model, each=True)
        await store.write(batch_from_spans(model.spans([(2, 1000), (3, 1001)])))
        await compact_fully(store)
        await check(store, model)
    finally:
        await store.close()


_FEW = 48  # traces the generated cases use: 24 prefixes, enough to fill three levels
_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("write"),
            st.lists(
                st.tuples(st.integers(0, _FEW - 1), st.integers(0, 200)), min_size=1, max_size=30
            ),
        ),
        st.tuples(st.just("compact"), st.integers(1, 3)),
        st.tuples(st.just("retain"), st.integers(0, 200)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=16,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_answers_stay_exact_through_any_writes_merges_retention_and_reopens(
    ops: list[tuple[str, object]],
) -> None:
    async def run(path: Path) -> None:
        model = Model()
        store = DuckDBStore(path, lookup_tail_rows=2)
        try:
            for op, arg in ops:
                if op == "write":
                    assert isinstance(arg, list)
                    await store.write(batch_from_spans(model.spans(arg)))
                elif op == "compact":
                    assert isinstance(arg, int)
                    for _ in range(arg):
                        await store.compact()
                elif op == "retain":
                    assert isinstance(arg, int)
                    await store.delete_before(T0 + arg * S)
                    model.delete_before(T0 + arg * S)
                else:
                    await store.close()
                    store = DuckDBStore(path, lookup_tail_rows=2)
                await check(store, model, traces=_FEW)
            await compact_fully(store)
            await check(store, model, each=True, traces=_FEW)
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory) / "spans.duckdb"))


# A child that writes batches (each committed with its WAL sequence) and compacts after each;
# a trace spans three batches, pairs of traces share a prefix.
_CHILD = """
import asyncio, sys
from pathlib import Path
from breadcrumbs.model import Span, batch_from_spans
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.duckdb import DuckDBStore

async def main():
    store = DuckDBStore(Path(sys.argv[1]), lookup_tail_rows=50, threads=1)
    for n in range(int(sys.argv[2]), 10_000):
        spans = [
            Span(f"{(n // 3 * 300 + k) // 2 + 1:016x}{n // 3 * 300 + k + 1:016x}",
                 f"{n:08x}{k:08x}", "op", "svc", {t0} + (n * 1000 + k) * 1000, 1)
            for k in range(300)
        ]
        await store.write(batch_from_spans(spans), wal_sequence=n)
        print("compacting", n, flush=True)
        while await store.compact():
            pass

asyncio.run(main())
"""


def _child_trace_ids(batches: int) -> dict[str, set[str]]:
    spans: dict[str, set[str]] = {}
    for n in range(1, batches + 1):
        for k in range(300):
            j = n // 3 * 300 + k
            spans.setdefault(f"{j // 2 + 1:016x}{j + 1:016x}", set()).add(f"{n:08x}{k:08x}")
    return spans


def test_a_store_killed_mid_compaction_loses_and_doubles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spans.duckdb"
    source = str(Path(breadcrumbs.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    committed = 0
    for kill_after in (9, 16):  # the second kill hits a store already holding merged levels
        with subprocess.Popen(
            [sys.executable, "-c", _CHILD.replace("{t0}", str(T0)), str(path), str(committed + 1)],
            stdout=subprocess.PIPE,
            env=env,
        ) as child:
            try:
                assert child.stdout is not None
                for line in child.stdout:
                    if int(line.split()[1]) >= kill_after:
                        break
            finally:
                child.kill()  # SIGKILL, most likely inside a merge begun right after the print
        committed = asyncio.run(_check_recovered(path, kill_after))


async def _check_recovered(path: Path, kill_after: int) -> int:
    store = DuckDBStore(path, lookup_tail_rows=50)
    try:
        committed = await store.last_wal_sequence()
        assert committed >= kill_after
        expected = _child_trace_ids(committed)
        for _ in range(2):  # as recovered, then compacted fully
            got: dict[str, set[str]] = {}
            batch = await store.get_traces(GetTracesParams(tuple(sorted(expected))))
            for row in batch.select(["TraceId", "SpanId"]).to_pylist():
                got.setdefault(row["TraceId"], set()).add(row["SpanId"])
            assert got == expected
            for rows in levels(store)[1:]:
                prefixes = [row[0] for row in rows]
                assert prefixes == sorted(set(prefixes))
            await compact_fully(store)
    finally:
        await store.close()
    return committed


async def test_merges_beside_concurrent_flushes_and_reads(tmp_path: Path) -> None:
    model = Model()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=4)
    batches = [
        batch_from_spans(model.spans([((n * 7 + i) % TRACES, n * 10 + i % 5) for i in range(24)]))
        for n in range(20)
    ]
    keys = [
        set(zip(b.column("TraceId").to_pylist(), b.column("SpanId").to_pylist(), strict=True))
        for b in batches
    ]
    written = 0
    writing = True
    merges = 0
    every = [trace_id(i) for i in range(TRACES)]

    async def write() -> None:
        nonlocal writing, written
        for batch in batches:
            await store.write(batch)
            written += 1
        writing = False

    async def merge() -> None:
        nonlocal merges
        while writing:
            merges += await store.compact()
            await asyncio.sleep(0)

    async def read() -> None:
        while writing:
            # a read sees every span committed before it began, whatever merge runs meanwhile
            before = set().union(*keys[:written])
            seen = (
                (await store.get_traces(GetTracesParams(tuple(every))))
                .select(["TraceId", "SpanId"])
                .to_pylist()
            )
            got = {(r["TraceId"], r["SpanId"]) for r in seen}
            assert before <= got <= set(model.starts)

    try:
        await asyncio.gather(write(), merge(), read())
        assert merges > 0
        await compact_fully(store)
        await check(store, model, each=True)
    finally:
        await store.close()


async def test_sorted_levels_widen_ranges_to_whole_microseconds(tmp_path: Path) -> None:
    # Sorted levels keep microseconds: a trace whose spans start off the microsecond must
    # still be found whole, its range rounded outwards, never inwards.
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=1)
    trace = trace_id(0)
    starts = [T0 + 1, T0 + 1_999, T0 + 7 * S + 999]
    try:
        for n, start in enumerate(starts):  # a flush each: three tail rows, then one merge
            span = Span(trace, f"{n + 1:016x}", "op", "svc", start, 1000)
            await store.write(batch_from_spans([span]))
        assert await compact_fully(store) == 1
        # three flushes: numbers 1 to 3
        assert levels(store)[:2] == [[], [(int(trace[:16], 16), T0, T0 + 7 * S + 1000, 1, 3)]]
        got = await store.get_trace(GetTraceParams(trace))
        assert sorted(got.column("Timestamp").to_pylist()) == starts
    finally:
        await store.close()


async def test_many_ids_are_looked_up_in_memory_as_in_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sorted levels' copy in memory answers get_traces as the SQL lookup does, across
    # levels, the tail and shared prefixes; a merge makes a new copy, retention drops it.
    model = Model()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=2)
    try:
        for flush in range(6):
            writes = [((flush * 11 + i) % TRACES, flush * 10 + i % 3) for i in range(30)]
            await store.write(batch_from_spans(model.spans(writes)))
            await compact_fully(store)
        # the tail holds rows too, and the copy must see those of the levels only
        await store.write(batch_from_spans(model.spans([(1, 200), (3, 201), (150, 202)])))
        await check(store, model)
        cached = store._sorted
        assert cached is not None
        assert len(cached.ranges) > 0
        monkeypatch.setattr(store_module, "_CACHED_LOOKUP_ROWS", 0)
        store._sorted = None
        await check(store, model)
        assert store._sorted is None  # the SQL lookup answered
        monkeypatch.undo()
        await store.delete_before(T0 + 25 * S)
        model.delete_before(T0 + 25 * S)
        assert store._sorted is None
        await compact_fully(store)
        await check(store, model)
    finally:
        await store.close()


def tail_copy_rows(store: DuckDBStore) -> int:
    chunks = store._tail._chunks
    assert chunks is not None
    return sum(len(chunk) for chunk in chunks)


async def test_the_tail_in_memory_drops_what_merges_move(tmp_path: Path) -> None:
    # The copy gains a flush's rows as it is written and loses them when a merge moves them
    # out of the tail: it stays the tail's size, not the store's.
    model = Model()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=8)
    try:
        for flush in range(10):
            writes = [((flush * 13 + i) % TRACES, flush * 10 + i % 4) for i in range(6)]
            await store.write(batch_from_spans(model.spans(writes)))
            assert tail_copy_rows(store) == len(levels(store)[0])
            if flush % 3 == 2:
                assert await compact_fully(store) > 0
                assert tail_copy_rows(store) == len(levels(store)[0]) < 8
            await check(store, model, each=True)
        await store.close()
        store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=8)
        assert tail_copy_rows(store) == len(levels(store)[0]) > 0  # read back at open
        await check(store, model, each=True)
    finally:
        await store.close()


async def test_a_rolled_back_flush_leaves_reads_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flush adds its rows to the copy before it commits; when it rolls back they stay,
    # widening ranges over spans that never were: every read still answers as the model.
    model = Model()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=4)
    try:
        await store.write(batch_from_spans(model.spans([(0, 1), (2, 2), (4, 3)])))
        lost = Model()
        lost.next_span = 1000
        monkeypatch.setattr(duckdb_sql, "UPSERT_ATTRIBUTE_KEYS", "SELECT error('injected failure')")
        with pytest.raises(Exception, match="injected failure"):
            await store.write(batch_from_spans(lost.spans([(0, 50), (6, 60), (8, 70)])))
        monkeypatch.undo()
        copied: dict[int, tuple[int, int, int, int]] = {}
        store._tail.merge_into(copied, [int(trace_id(8)[:16], 16)])
        assert copied  # the rolled-back flush's row is in the copy, not in the table
        await check(store, model, each=True)
        await store.write(batch_from_spans(model.spans([(0, 80), (8, 90)])))
        await check(store, model, each=True)
        await compact_fully(store)
        await check(store, model, each=True)
    finally:
        await store.close()


async def test_without_the_tail_in_memory_the_table_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Beyond lookup_tail.MAX_ROWS (merges not keeping up) the copy is dropped for good.
    monkeypatch.setattr(lookup_tail, "MAX_ROWS", 3)
    model = Model()
    store = DuckDBStore(tmp_path / "spans.duckdb", lookup_tail_rows=2)
    try:
        await store.write(batch_from_spans(model.spans([(0, 1), (2, 2)])))
        enabled = [store._tail.enabled]
        await store.write(batch_from_spans(model.spans([(4, 3), (6, 4)])))
        enabled.append(store._tail.enabled)
        assert enabled == [True, False]
        await check(store, model, each=True)
        await compact_fully(store)
        await store.write(batch_from_spans(model.spans([(0, 5), (8, 6)])))
        await check(store, model, each=True)
    finally:
        await store.close()
