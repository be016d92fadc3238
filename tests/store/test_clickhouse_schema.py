"""The ClickHouse DDL as text: a real cluster cannot run here (DESIGN.md), so the cluster
statements are checked as generated; the single-node ones also run on chDB in the suite."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time

from breadcrumbs.analysis import red as red_math
from breadcrumbs.model import batch_from_spans
from breadcrumbs.store.base import GetTraceParams, RedQuery, ServicesQuery
from breadcrumbs.store.clickhouse import ClickHouseStore, red, schema
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.clickhouse.store import binary_ids

from . import world
from .conftest import CHDB_DIR

SPANS = "CREATE TABLE IF NOT EXISTS `traces`.spans "
MINUTE = red_math.MINUTE_NS
TABLES = ("spans", "trace_ranges", "operations", "wal_sequence", "span_metrics", "meta")


def test_single_node_ddl_has_plain_merge_trees_and_no_cluster() -> None:
    statements = schema.ddl("traces")
    text = "\n".join(statements)
    assert "ON CLUSTER" not in text
    assert "Replicated" not in text
    assert "Distributed" not in text
    for table in TABLES:
        assert f"CREATE TABLE IF NOT EXISTS `traces`.{table} " in text


def test_spans_are_ordered_by_time_bucket_service_then_trace() -> None:
    (spans,) = [s for s in schema.ddl("traces") if s.startswith(SPANS)]
    order = re.search(r"ORDER BY \((.*)\)", spans)
    assert order is not None
    assert order.group(1) == f"intDiv(Timestamp, {schema.BUCKET_NS}), ServiceName, TraceId, SpanId"
    assert "ServiceName, SpanName" not in order.group(1)  # not the Collector exporter's order
    assert "INDEX attribute_keys mapKeys(SpanAttributes) TYPE bloom_filter" in spans
    assert "INDEX attribute_values mapValues(SpanAttributes) TYPE bloom_filter" in spans
    assert "TraceId FixedString(16)" in spans
    assert "Timestamp Int64 CODEC(DoubleDelta, ZSTD(1))" in spans


def test_cluster_ddl_is_replicated_local_tables_under_distributed_ones() -> None:
    statements = schema.ddl("traces", "prod")
    assert all(" ON CLUSTER `prod`" in s for s in statements)
    for table in TABLES:
        (local,) = [s for s in statements if f"`traces`.{table}_local ON CLUSTER" in s]
        assert re.search(r"ENGINE = Replicated\w*MergeTree\(", local)
        assert f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'" in local
        (distributed,) = [s for s in statements if f"`traces`.{table} ON CLUSTER" in s]
        assert f"AS `traces`.{table}_local" in distributed
        assert f"ENGINE = Distributed(`prod`, `traces`, {table}_local, " in distributed
    # A trace and its range land on one shard.
    for table in ("spans", "trace_ranges"):
        (distributed,) = [s for s in statements if f"`traces`.{table} ON CLUSTER" in s]
        assert distributed.endswith("cityHash64(TraceId))")
    # The views read and write the local tables of their own shard.
    (view,) = [s for s in statements if "trace_ranges_mv" in s]
    assert "TO `traces`.trace_ranges_local" in view
    assert "FROM `traces`.spans_local" in view


def test_red_rows_are_one_unpartitioned_aggregating_table_no_view_writes() -> None:
    """A flush is one insert of one part (atomic with its WAL sequence): no partitions to
    split it, no materialized view writing a second part; ClickHouse's merges add rows up."""
    for cluster in (None, "prod"):
        statements = schema.ddl("traces", cluster)
        (table,) = [s for s in statements if "span_metrics" in s and "MergeTree" in s]
        assert "AggregatingMergeTree(" in table
        assert "PARTITION BY" not in table
        assert "TTL" not in table
        assert "SimpleAggregateFunction(sumMap, Tuple(Array(Int16), Array(Float64)))" in table
        assert f"ORDER BY ({red.ORDER})" in table
        assert not [s for s in statements if "VIEW" in s and "span_metrics" in s]
    (single,) = [s for s in schema.ddl("traces") if "span_metrics" in s]
    assert "non_replicated_deduplication_window" in single  # a retried flush is dropped


def test_retention_is_a_ttl_dropping_whole_days() -> None:
    (spans,) = [s for s in schema.ddl("traces", ttl_s=7 * 86400) if s.startswith(SPANS)]
    day = "toDate(fromUnixTimestamp(intDiv(Timestamp, 1000000000)))"
    assert f"TTL {day} + INTERVAL {8 * 86400} SECOND DELETE" in spans
    assert "ttl_only_drop_parts = 1" in spans
    (forever,) = [s for s in schema.ddl("traces") if s.startswith(SPANS)]
    assert "TTL" not in forever


async def test_the_ttl_drops_expired_days_on_chdb() -> None:
    store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="ttl_check", retention_s=86400)
    try:
        recent = dataclasses.replace(world.SPANS[0], start_ns=time.time_ns())
        await store.write(batch_from_spans([*world.SPANS, recent]))  # world.SPANS: 2023
        for _ in range(150):  # expired rows go at insert or in a merge soon after: 30 s bound
            if (spans := (await store.stats()).spans) == 1:
                break
            await asyncio.sleep(0.2)
        assert spans == 1
    finally:
        await store.close()


V1_ORDER = f"intDiv(Timestamp, {schema.BUCKET_NS}), TraceId, SpanId"


def _v1_database(executor: ChdbExecutor, database: str) -> None:
    """A database as schema v1 made it: spans ordered without the service, version 1."""
    for statement in schema.ddl(database):
        executor.command(statement.replace(schema.SPANS_ORDER, V1_ORDER))
    executor.command(f"INSERT INTO `{database}`.meta VALUES ('schema_version', 1)")


def _sorting_key(executor: ChdbExecutor, database: str) -> str:
    table = executor.query(
        "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'spans'",
        {"db": database},
    )
    return str(table.column(0)[0].as_py())


async def _check_migrated(executor: ChdbExecutor, database: str) -> None:
    store = ClickHouseStore(executor, database=database)
    try:
        assert "ServiceName, TraceId" in _sorting_key(executor, database)
        assert (await store.stats()).spans == len(world.SPANS)  # no span lost or doubled
        for letter, trace_id in world.TRACES.items():
            got = await store.get_trace(GetTraceParams(trace_id))
            assert got.num_rows == len(world.spans_of(letter))
        # The views feeding the lookups work again: a new trace is found by id and service.
        late = dataclasses.replace(world.SPANS[0], trace_id="f" * 32, service="late-service")
        await store.write(batch_from_spans([late]))
        assert (await store.get_trace(GetTraceParams("f" * 32))).num_rows == 1
        assert "late-service" in await store.services(ServicesQuery())
    finally:
        await store.close()


async def test_a_v1_database_is_migrated_on_open() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _v1_database(executor, "from_v1")
        # Spans as v1 wrote them (the same columns; opening a store would migrate first).
        executor.insert("`from_v1`.spans", binary_ids(batch_from_spans(world.SPANS)))
        assert _sorting_key(executor, "from_v1").endswith("TraceId, SpanId")
        await _check_migrated(ChdbExecutor(CHDB_DIR), "from_v1")
    finally:
        executor.close()


async def test_a_migration_cut_short_is_repeated_without_losing_spans() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _v1_database(executor, "cut_short")
        executor.insert("`cut_short`.spans", binary_ids(batch_from_spans(world.SPANS)))
        steps = schema.migrations(1, "cut_short")
        rename = next(i for i, s in enumerate(steps) if s.startswith("RENAME"))
        for statement in steps[: rename + 1]:  # copied and renamed, the old table left
            executor.command(statement)
        await _check_migrated(ChdbExecutor(CHDB_DIR), "cut_short")
    finally:
        executor.close()


async def test_a_v2_database_gains_the_red_table_on_open() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        for statement in schema.ddl("from_v2"):
            if "span_metrics" not in statement:
                executor.command(statement)
        executor.command("INSERT INTO `from_v2`.meta VALUES ('schema_version', 2)")
        assert schema.migrations(2, "from_v2") == []  # ddl creates the table; nothing to copy
        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="from_v2")
        try:
            spans = batch_from_spans(world.SPANS)
            await store.write_span_metrics(red_math.aggregate(spans), wal_sequence=4)
            assert await store.span_metrics_wal_sequence() == 4
            start = min(span.start_ns for span in world.SPANS)
            step = (max(span.start_ns for span in world.SPANS) - start) // MINUTE * MINUTE
            step += 2 * MINUTE  # one step holding every span
            got = await store.red(RedQuery(start, start + step, step, by_operation=False))
            assert sum(got.column("Spans").to_pylist()) == len(world.SPANS)
        finally:
            await store.close()
        version = executor.query("SELECT max(Value) FROM `from_v2`.meta").column(0)[0]
        assert version.as_py() == schema.SCHEMA_VERSION
    finally:
        executor.close()
