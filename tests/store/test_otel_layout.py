"""``layout=otel``: breadcrumbs' reads over the Collector exporter's tables (chDB), answering
as breadcrumbs' own engines do on the same spans, and refusing every write."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.portability.spans import rows

from breadcrumbs.errors import ReadOnlyStore
from breadcrumbs.model import SpanKind, StatusCode, batch_from_spans
from breadcrumbs.store.base import (
    Capability,
    DependenciesQuery,
    DoctorWindow,
    Endpoint,
    GetTraceParams,
    GetTracesParams,
    OperationsQuery,
    RemoteServicesQuery,
    ServiceGraphQuery,
    ServicesQuery,
    Store,
    TagFilter,
    TagKeysQuery,
    TraceIdPrefix,
    TraceQuery,
    TraceSelection,
    Unsupported,
)
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.clickhouse.otel import OtelTracesStore
from breadcrumbs.store.duckdb import DuckDBStore
from breadcrumbs.store.url import parse_store_url

from . import otel_collector, world
from .conftest import CHDB_DIR


@pytest.fixture(scope="module")
def otel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    database = (
        "otel_" + hashlib.sha256(str(tmp_path_factory.getbasetemp()).encode()).hexdigest()[:12]
    )
    executor = ChdbExecutor(CHDB_DIR)
    otel_collector.create_tables(executor, database)
    executor.insert(f"`{database}`.otel_traces", otel_collector.exporter_rows(world.world_batch()))
    store = OtelTracesStore(executor, database=database)
    yield store
    asyncio.run(store.close())


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = DuckDBStore(tmp_path_factory.mktemp("reference") / "spans.duckdb")
    asyncio.run(store.write(world.world_batch()))
    yield store
    asyncio.run(store.close())


def test_the_url_selects_it() -> None:
    url = parse_store_url("clickhouse://reader:pw@ch:8123/otel?layout=otel&table=traces")
    assert (url.read_only, url.database, url.table) == (True, "otel", "traces")
    assert "pw" not in url.redacted()
    assert parse_store_url("chdb:///var/ch?layout=otel").database == "otel"
    with pytest.raises(ValueError, match="layout"):
        parse_store_url("chdb:///var/ch?layout=jaeger")


async def test_get_trace_maps_every_column(otel: Store) -> None:
    for name in world.TRACES:
        found = await otel.get_trace(GetTraceParams(world.TRACES[name]))
        expected = batch_from_spans(world.spans_of(name))
        assert rows(found) == rows_of(otel_collector.as_exporter_stores(expected))
    assert (await otel.get_trace(GetTraceParams(world.UNKNOWN_TRACE))).num_rows == 0
    both = await otel.get_traces(GetTracesParams(tuple([world.TRACES["A"], world.TRACES["B"]])))
    assert {r["TraceId"] for r in rows(both)} == {world.TRACES["A"], world.TRACES["B"]}


def rows_of(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda r: (r["TraceId"], r["SpanId"], r["Timestamp"]))


QUERIES = [
    TraceQuery(world.WINDOW_START, world.WINDOW_END),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, service="cart"),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, service="frontend", operation="GET /cart"),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, span_kind=SpanKind.PRODUCER),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, status_codes=(StatusCode.ERROR,)),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, min_duration_ns=100 * world.MS),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, tags=(TagFilter("http.route", "/cart"),)),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, tags=(TagFilter("host.name", "node-3"),)),
    TraceQuery(world.WINDOW_START, world.WINDOW_END, limit=2),
]


@pytest.mark.parametrize("query", QUERIES)
async def test_search_agrees_with_the_embedded_engine(
    otel: Store, reference: Store, query: TraceQuery
) -> None:
    assert await otel.find_trace_ids(query) == await reference.find_trace_ids(query)


async def test_listings_and_dependencies_agree(otel: Store, reference: Store) -> None:
    assert await otel.services(ServicesQuery()) == await reference.services(ServicesQuery())
    for service in await reference.services(ServicesQuery()):
        operations = OperationsQuery(service)
        assert await otel.operations(operations) == await reference.operations(operations)
        remote = RemoteServicesQuery(service)
        assert await otel.remote_services(remote) == await reference.remote_services(remote)
    span = world.WINDOW_END - world.T0 + 3 * world.DAY_NS
    links = DependenciesQuery(world.WINDOW_END, span)
    assert await otel.dependencies(links) == await reference.dependencies(links)
    assert set(await otel.tag_keys(TagKeysQuery())) >= {"http.route", "db.system"}
    prefix = TraceIdPrefix(world.TRACES["A"][:8])
    assert await otel.trace_ids_with_prefix(prefix) == [world.TRACES["A"]]
    stats = await otel.stats()
    assert stats.spans == world.world_batch().num_rows
    assert stats.newest_ns == max(world.world_batch().column("Timestamp").to_pylist())


async def test_analysis_reads_run(otel: Store, reference: Store) -> None:
    """why, doctor and the service graph run on the mapped rows (their numbers are the
    engine's own SQL; attribute types are all text, so typed values are compared as text)."""
    graph = ServiceGraphQuery(world.WINDOW_START, world.WINDOW_END)
    assert {(e.parent, e.child) for e in await otel.service_graph(graph)} == {
        (e.parent, e.child) for e in await reference.service_graph(graph)
    }
    endpoint = Endpoint(world.WINDOW_START, world.WINDOW_END, "frontend")
    counts = await otel.selection_counts(TraceSelection(endpoint, errors=True))
    expected = await reference.selection_counts(TraceSelection(endpoint, errors=True))
    assert (counts.selected, counts.baseline) == (expected.selected, expected.baseline)
    window = DoctorWindow(world.WINDOW_START, world.WINDOW_END, r"\d+", settle_ns=0)
    profile = await otel.operation_profile(window)
    assert set(profile.column("ServiceName").to_pylist()) == {"frontend", "cart", "payment"}


async def test_writes_are_refused(otel: Store) -> None:
    with pytest.raises(ReadOnlyStore):
        await otel.write(world.world_batch())
    with pytest.raises(Unsupported):
        await otel.delete_before(world.T0)
    assert not otel.capabilities.has(Capability.SPAN_METRICS)
    assert await otel.last_wal_sequence() == 0


def test_a_table_that_is_not_the_exporters_is_named(tmp_path: Path) -> None:
    executor = ChdbExecutor(CHDB_DIR)
    executor.command("CREATE DATABASE IF NOT EXISTS not_otel")
    with pytest.raises(RuntimeError, match="not the OpenTelemetry Collector exporter's"):
        OtelTracesStore(executor, database="not_otel")
