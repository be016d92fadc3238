"""The engines give the same answers on the same spans: a randomized shop (noisy durations,
numeric attributes with many values, errors, unanswered calls, clock skew, several roots)
written to every engine, and every read over many traces compared with DuckDB's.

Only what the contract leaves to the engine is left out: the sample drawn when a side is
capped (the hash differs) and the approximate distinct counts of the doctor's reads.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from breadcrumbs.analysis import red
from breadcrumbs.analysis.doctor import ID_PATTERN
from breadcrumbs.model import Span, SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import (
    DependenciesQuery,
    DoctorWindow,
    Endpoint,
    LatencyQuery,
    RedQuery,
    ServiceGraphQuery,
    Store,
    TraceIdPrefix,
    TraceSelection,
    TypicalTraceQuery,
)
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.duckdb import sql as duckdb_sql

from .conftest import ENGINES, Engine
from .shop_traces import MS, T0, order_trace

COUNT = 300
END = T0 + COUNT * 100 * MS + 10**9
GATEWAY = Endpoint(T0, END, "gateway")
APPROXIMATE = {"Traces", "Names", "Keys", "Values"}
MINUTE = red.MINUTE_NS


def _spans(seed: int = 3) -> pa.Table:
    rng = random.Random(seed)
    spans: list[Span] = []
    for i in range(COUNT):
        trace = order_trace(i, rng.randint(1, 9), failed=rng.random() < 0.2)
        stretched = []
        for n, span in enumerate(trace):
            attributes = dict(span.attributes or {})
            attributes["queue.wait_ms"] = round(rng.expovariate(0.05), 2)
            attributes["zone"] = rng.choice(["north", "south", "east"])
            if n == 2 and rng.random() < 0.3:
                attributes["peer.service"] = "postgres"  # an uninstrumented callee
            # durations with noise (quantiles and thresholds fall between traces)
            duration = span.duration_ns + rng.randrange(0, 40) * MS
            skew = -5 * MS if n == 1 and i % 17 == 0 else 0
            stretched.append(
                replace(
                    span,
                    duration_ns=duration,
                    start_ns=span.start_ns + skew,
                    attributes=attributes,
                )
            )
        spans.extend(stretched)
        if i % 23 == 0:  # a second root in another service
            spans.append(
                Span(trace[0].trace_id, f"{i + 1:012x}00ff", "cron", "scheduler",
                     trace[0].start_ns, 3 * MS, kind=SpanKind.INTERNAL,
                     status=StatusCode.ERROR)
            )  # fmt: skip
    return batch_from_spans(spans)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    batch = _spans()
    opened: dict[str, Store] = {}
    for engine in ENGINES:
        store = engine.open(Path(tmp_path_factory.mktemp(f"agree-{engine.name}")))
        asyncio.run(store.write(batch))
        opened[engine.name] = store
    try:
        yield opened
    finally:
        for store in opened.values():
            asyncio.run(store.close())


OTHERS = [engine for engine in ENGINES if engine.name != "duckdb"]


async def _both(stores: dict[str, Store], engine: Engine, read: str, params: Any) -> list[Any]:
    """``read(params)`` on DuckDB and on ``engine``: every read takes one parameter object."""
    return [await getattr(stores[name], read)(params) for name in ("duckdb", engine.name)]


@pytest.mark.parametrize("engine", OTHERS, ids=lambda e: e.name)
@pytest.mark.parametrize(
    "selection",
    [
        TraceSelection(GATEWAY, slower_than_ns=150 * MS),
        TraceSelection(GATEWAY, percentile=90),
        TraceSelection(GATEWAY, errors=True),
        TraceSelection(GATEWAY, percentile=50, max_values_per_key=4),
        TraceSelection(Endpoint(T0, END, "delivery-scheduling", "SELECT"), slower_than_ns=100 * MS),
    ],
    ids=["slower", "p90", "errors", "few-values", "operation"],
)
async def test_selection_counts_agree(
    stores: dict[str, Store], engine: Engine, selection: TraceSelection
) -> None:
    duck, other = await _both(stores, engine, "selection_counts", selection)
    assert duck.selected + duck.baseline > 0
    # A dropped key's distinct values are an estimate (the engines' sketches differ).
    assert [replace(k, distinct_values=0) for k in other.dropped_keys] == [
        replace(k, distinct_values=0) for k in duck.dropped_keys
    ]
    assert set(other.attributes) - set(duck.attributes) == set()
    assert set(duck.attributes) - set(other.attributes) == set()
    assert replace(other, dropped_keys=()) == replace(duck, dropped_keys=())


@pytest.mark.parametrize("engine", OTHERS, ids=lambda e: e.name)
async def test_latency_and_typical_traces_agree(stores: dict[str, Store], engine: Engine) -> None:
    for endpoint in (GATEWAY, Endpoint(T0, END, "payment", "POST /charge")):
        duck, other = await _both(
            stores, engine, "latency_distribution", LatencyQuery(endpoint, time_buckets=7)
        )
        assert duck.count > 0
        assert other == duck
        duck, other = await _both(
            stores, engine, "typical_traces", TypicalTraceQuery(endpoint, limit=5)
        )
        assert len(duck) == 5
        assert other == duck


def _exact(table: pa.Table) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in row.items() if k not in APPROXIMATE} for row in table.to_pylist()]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("engine", OTHERS, ids=lambda e: e.name)
@pytest.mark.parametrize(
    "read",
    ["operation_profile", "parent_profile", "call_profile", "root_profile", "attribute_profile"],
)
async def test_doctor_profiles_agree(stores: dict[str, Store], engine: Engine, read: str) -> None:
    window = DoctorWindow(T0, END, ID_PATTERN, settle_ns=0, attribute_traces=3)
    duck, other = await _both(stores, engine, read, window)
    assert duck.num_rows > 0
    assert _exact(other) == _exact(duck)


@pytest.mark.parametrize("engine", OTHERS, ids=lambda e: e.name)
async def test_service_graph_dependencies_and_prefixes_agree(
    stores: dict[str, Store], engine: Engine
) -> None:
    graph = ServiceGraphQuery(T0, END, (10 * MS, 100 * MS))
    duck, other = await _both(stores, engine, "service_graph", graph)
    assert duck
    assert sorted(other, key=repr) == sorted(duck, key=repr)
    duck, other = await _both(stores, engine, "dependencies", DependenciesQuery(END, END - T0))
    assert duck
    assert sorted(other, key=repr) == sorted(duck, key=repr)
    duck, other = await _both(
        stores, engine, "trace_ids_with_prefix", TraceIdPrefix("0" * 28, limit=7)
    )
    assert len(duck) == 7
    assert other == duck


HOUR = 60 * MINUTE
RED_START = T0 - T0 % HOUR


def _red_traffic(seed: int, count: int) -> pa.Table:
    """Spans over three hours: several services, operations and kinds, errors, lognormal
    durations, and traces sampled at 1/2, 1/4 and about 1/10 (a weight that is no power of
    two, whose sums depend on the order of addition)."""
    rng = random.Random(seed)
    names = [("api", "GET /a"), ("api", "GET /b"), ("db", "SELECT"), ("web", "GET /")]
    spans = []
    for i in range(count):
        service, name = rng.choice(names)
        spans.append(
            Span(f"{i + 1:032x}", f"{i + 1:016x}", name, service,
                 RED_START + rng.randrange(0, 3 * HOUR), int(rng.lognormvariate(16, 1.5)) + 1,
                 kind=rng.choice([SpanKind.SERVER, SpanKind.CLIENT]),
                 status=StatusCode.ERROR if rng.random() < 0.1 else StatusCode.UNSET,
                 trace_state=rng.choice(["", "", "ot=th:8", "ot=th:c", "ot=th:e666666666666a"]))
        )  # fmt: skip
    return batch_from_spans(spans)


@pytest.fixture(scope="module")
def red_stores(stores: dict[str, Store]) -> dict[str, Store]:
    """The same RED flushes (shuffled spans: every flush touches every hour) into each."""
    spans = _red_traffic(5, 4_000)
    order = pa.array(random.Random(1).sample(range(spans.num_rows), spans.num_rows))
    shuffled = spans.take(order)
    for sequence, offset in enumerate(range(0, shuffled.num_rows, 700), start=1):
        rows = red.aggregate(shuffled.slice(offset, 700))
        for store in stores.values():
            asyncio.run(store.write_span_metrics(rows, wal_sequence=sequence))
    return stores


RED_QUERIES = {
    "hours": RedQuery(RED_START, RED_START + 3 * HOUR, HOUR),
    "5min": RedQuery(RED_START, RED_START + 3 * HOUR, 5 * MINUTE, by_operation=False),
    "ragged": RedQuery(RED_START + 7 * MINUTE, RED_START + 3 * HOUR, 3 * HOUR, by_kind=False),
    "minutes": RedQuery(RED_START + HOUR, RED_START + 2 * HOUR, MINUTE, services=("api",)),
    "sliding": RedQuery(
        RED_START, RED_START + 3 * HOUR, 10 * MINUTE, window_ns=HOUR, quantiles=(0.9,)
    ),
    "filtered": RedQuery(
        RED_START, RED_START + 3 * HOUR, HOUR, operation="SELECT", span_kinds=(SpanKind.CLIENT,)
    ),
}


@pytest.mark.parametrize("engine", OTHERS, ids=lambda e: e.name)
@pytest.mark.parametrize("name", RED_QUERIES)
async def test_red_agrees(red_stores: dict[str, Store], engine: Engine, name: str) -> None:
    """Same steps and series, the same spans, the weighted counts equal up to the order of
    float additions, every quantile in the same latency bucket or, where a sum in another
    order tips a running count across its target, the next one (one bucket: 2^(1/8))."""
    query = RED_QUERIES[name]
    duck, other = (table.to_pylist() for table in await _both(red_stores, engine, "red", query))
    assert len(duck) > 1
    key = ("Step", "ServiceName", "SpanName", "SpanKind")
    assert [[row[k] for k in key] for row in other] == [[row[k] for k in key] for row in duck]
    one_bucket = 2 ** (1 / red.BUCKETS_PER_OCTAVE)
    for got, want in zip(other, duck, strict=True):
        assert got["Spans"] == want["Spans"]
        for total in ("Calls", "Errors", "DurationSum"):
            assert got[total] == pytest.approx(want[total], rel=1e-12)
        assert len(got["Quantiles"]) == len(query.quantiles)
        for value, reference in zip(got["Quantiles"], want["Quantiles"], strict=True):
            assert reference / one_bucket * 0.999 <= value <= reference * one_bucket * 1.001


async def test_duckdbs_service_graph_in_slices_is_the_whole_windows(
    stores: dict[str, Store], tmp_path: Path
) -> None:
    """DuckDB joins a window's calls slice by slice (``sql.service_graph_slice``): cut into
    dozens of slices, with calls across every cut, the graph is the one from a single join."""
    batch = _spans()
    assert len(duckdb_sql.service_graph_pieces((T0, END), batch.num_rows, 20)) > 50
    sliced = DuckDBStore(tmp_path / "spans.duckdb", threads=2, graph_slice_spans=20)
    try:
        await sliced.write(batch)
        for graph in (
            ServiceGraphQuery(T0, END, (10 * MS, 100 * MS)),
            ServiceGraphQuery(T0 + 1234 * MS, END - 4321 * MS),
        ):
            whole = await stores["duckdb"].service_graph(graph)
            assert whole
            assert await sliced.service_graph(graph) == whole
    finally:
        await sliced.close()
