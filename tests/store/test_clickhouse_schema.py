"""The ClickHouse DDL as text: a real cluster cannot run here (DESIGN.md), so the cluster
statements are checked as generated; the single-node ones also run on chDB in the suite."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time

from breadcrumbs.model import batch_from_spans
from breadcrumbs.store.clickhouse import ClickHouseStore, schema
from breadcrumbs.store.clickhouse.executor import ChdbExecutor

from . import world
from .conftest import CHDB_DIR

SPANS = "CREATE TABLE IF NOT EXISTS `traces`.spans "
TABLES = ("spans", "trace_ranges", "operations", "wal_sequence", "meta")


def test_single_node_ddl_has_plain_merge_trees_and_no_cluster() -> None:
    statements = schema.ddl("traces")
    text = "\n".join(statements)
    assert "ON CLUSTER" not in text
    assert "Replicated" not in text
    assert "Distributed" not in text
    for table in TABLES:
        assert f"CREATE TABLE IF NOT EXISTS `traces`.{table} " in text


def test_spans_are_ordered_by_time_bucket_then_trace() -> None:
    (spans,) = [s for s in schema.ddl("traces") if s.startswith(SPANS)]
    order = re.search(r"ORDER BY \((.*)\)", spans)
    assert order is not None
    assert order.group(1) == f"intDiv(Timestamp, {schema.BUCKET_NS}), TraceId, SpanId"
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
