"""The ClickHouse DDL as text: a real cluster cannot run here (DESIGN.md), so the cluster
statements are checked as generated; the single-node ones also run on chDB in the suite."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from pathlib import Path

import pyarrow as pa

from breadcrumbs.analysis import red as red_math
from breadcrumbs.model import batch_from_spans
from breadcrumbs.store.base import GetTraceParams, RedQuery, ServicesQuery, TagFilter, TraceQuery
from breadcrumbs.store.clickhouse import ClickHouseStore, red, schema
from breadcrumbs.store.clickhouse.executor import ChdbExecutor
from breadcrumbs.store.clickhouse.store import binary_ids, resource_hashes

from . import world
from .conftest import CHDB_DIR

SPANS = "CREATE TABLE IF NOT EXISTS `traces`.spans "
MINUTE = red_math.MINUTE_NS
TABLES = (
    "spans",
    "trace_ranges",
    "operations",
    "event_keys",
    "wal_sequence",
    "dependency_edges",
    "span_metrics",
    "meta",
    "resources",
)


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
    assert "Timestamp Int64 CODEC(ZSTD(9))" in spans  # v8: its neighbours are other traces


def test_spans_name_their_resource_by_hash_looked_up_in_a_dictionary() -> None:
    statements = schema.ddl("traces")
    (spans,) = [s for s in statements if s.startswith(SPANS)]
    assert "ResourceHash UInt64" in spans
    # The resource columns are computed on read, never stored per span.
    lookup = "dictGet('traces.resources_dict', 'ResourceAttributes', ResourceHash)"
    assert f"ResourceAttributes Map(String, String)\n        ALIAS {lookup}" in spans
    (dictionary,) = [s for s in statements if "CREATE DICTIONARY" in s]
    assert "`traces`.resources_dict " in dictionary
    assert "SOURCE(CLICKHOUSE(DB 'traces' TABLE 'resources'))" in dictionary
    # The dictionary exists before the table whose columns name it.
    assert statements.index(dictionary) < statements.index(spans)


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
    # A unit's kept counts and its marker row, inserted together, land on one shard.
    (distributed,) = [s for s in statements if "`traces`.dependency_edges ON CLUSTER" in s]
    assert distributed.endswith("intHash64(Unit))")
    # Every node's dictionary reads all shards' resources; the reload reaches every node.
    (dictionary,) = [s for s in statements if "CREATE DICTIONARY" in s]
    assert "`traces`.resources_dict ON CLUSTER `prod`" in dictionary
    assert "TABLE 'resources'" in dictionary
    (spans,) = [s for s in statements if "`traces`.spans_local ON CLUSTER" in s]
    assert "dictGet('traces.resources_dict', 'ResourceAttributes', ResourceHash)" in spans
    reload = schema.reload_resources("traces", "prod")
    assert reload == "SYSTEM RELOAD DICTIONARY `traces`.resources_dict ON CLUSTER `prod`"
    # The views read and write the local tables of their own shard.
    (view,) = [s for s in statements if "trace_ranges_mv" in s]
    assert "TO `traces`.trace_ranges_local" in view
    assert "FROM `traces`.spans_local" in view
    (view,) = [s for s in statements if "event_keys_mv" in s]
    assert "TO `traces`.event_keys_local" in view
    assert "FROM `traces`.spans_local" in view


def test_a_cluster_migration_copies_local_tables_and_remakes_the_distributed_one() -> None:
    steps = schema.migrations(4, "traces", "prod")
    assert all(" ON CLUSTER `prod`" in s for s in steps if not s.startswith("INSERT"))
    # The Distributed spans table is made again by ddl, over the new local table's columns.
    assert "DROP TABLE IF EXISTS `traces`.spans ON CLUSTER `prod`" in steps
    (copy,) = [
        s
        for s in steps
        if s.startswith(f"INSERT INTO `traces`.spans_v{schema.SCHEMA_VERSION}_local")
    ]
    assert "FROM `traces`.spans_local" in copy
    assert "RENAME TABLE `traces`.spans_local TO `traces`.spans_old_local, " in "\n".join(steps)


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
V2_DDL = (Path(__file__).parent / "fixtures" / "clickhouse_v2.sql").read_text()
"""The tables as schema v2 made them (its ``ddl`` output, database ``DATABASE``)."""


def _old_database(executor: ChdbExecutor, database: str, version: int) -> None:
    """A database as schema v1 or v2 made it (v1: spans ordered without the service), holding
    ``world.SPANS`` with their resources in every row."""
    executor.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for statement in V2_DDL.replace("DATABASE", database).split(";\n"):
        if statement.strip():
            executor.command(statement if version == 2 else statement.replace(V2_ORDER, V1_ORDER))
    executor.command(f"INSERT INTO `{database}`.meta VALUES ('schema_version', {version})")
    batch = batch_from_spans(world.SPANS)
    rows = _before_v5(binary_ids(batch)).drop_columns(["ResourceHash"])
    for name in ("ResourceAttributes", "ResourceAttributeTypes"):
        rows = rows.append_column(name, batch.column(name))
    executor.insert(f"`{database}`.spans", rows)


def _before_v5(rows: pa.Table) -> pa.Table:
    """``binary_ids`` rows as tables before v5 took them: Events and Links stored as such."""
    names = {"EventsIn": "Events", "LinksIn": "Links"}
    return rows.rename_columns([names.get(name, name) for name in rows.column_names])


V2_ORDER = f"intDiv(Timestamp, {schema.BUCKET_NS}), ServiceName, TraceId, SpanId"


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
            # The resources, now in their own table, read back as they were written.
            written = batch_from_spans(world.spans_of(letter)).sort_by("SpanId")
            read = got.sort_by("SpanId")
            for name in ("ResourceAttributes", "ResourceAttributeTypes"):
                assert read.column(name).to_pylist() == written.column(name).to_pylist()
        # One row per distinct resource, hashed in SQL as the writers hash in Arrow.
        resources = executor.query(f"SELECT ResourceHash FROM `{database}`.resources FINAL")
        hashes = resource_hashes(batch_from_spans(world.SPANS))
        assert sorted(resources.column(0).to_pylist()) == sorted(
            pa.compute.unique(hashes).to_pylist()
        )
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
        _old_database(executor, "from_v1", 1)
        assert _sorting_key(executor, "from_v1").endswith("TraceId, SpanId")
        assert "ServiceName" not in _sorting_key(executor, "from_v1")
        await _check_migrated(ChdbExecutor(CHDB_DIR), "from_v1")
    finally:
        executor.close()


async def test_a_v2_database_is_migrated_on_open() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _old_database(executor, "from_v2", 2)
        await _check_migrated(ChdbExecutor(CHDB_DIR), "from_v2")
        stored = executor.query(
            "SELECT name FROM system.columns WHERE database = 'from_v2' AND table = 'spans' "
            "AND default_kind != 'ALIAS'"
        )
        assert "ResourceAttributes" not in stored.column(0).to_pylist()
    finally:
        executor.close()


async def test_a_migration_cut_short_is_repeated_without_losing_spans() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _old_database(executor, "cut_short", 2)
        steps = schema.migrations(2, "cut_short")
        rename = next(i for i, s in enumerate(steps) if s.startswith("RENAME"))
        for statement in steps[: rename + 1]:  # copied and renamed, the old table left
            executor.command(statement)
        await _check_migrated(ChdbExecutor(CHDB_DIR), "cut_short")
    finally:
        executor.close()


async def test_a_v2_database_gains_the_red_table_on_open() -> None:
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _old_database(executor, "red_from_v2", 2)  # v2 had no span_metrics
        assert not any("span_metrics" in s for s in schema.migrations(2, "red_from_v2"))
        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="red_from_v2")
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
        version = executor.query("SELECT max(Value) FROM `red_from_v2`.meta").column(0)[0]
        assert version.as_py() == schema.SCHEMA_VERSION
    finally:
        executor.close()


async def test_resources_are_stored_once_and_searched_in_their_table() -> None:
    store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database="resources_once")
    try:
        batch = batch_from_spans(world.SPANS)
        await store.write(batch)
        await store.write(batch)  # the same resources again: nothing new to store
        executor = ChdbExecutor(CHDB_DIR)
        try:
            stored = executor.query("SELECT count() FROM `resources_once`.resources")
            distinct = len(pa.compute.unique(resource_hashes(batch)))
            assert 1 < distinct < batch.num_rows
            assert stored.column(0)[0].as_py() == distinct
        finally:
            executor.close()
        # A search by a resource attribute finds its spans' traces through the table.
        span = world.SPANS[0]
        key, value = "host.name", world.FRONTEND["host.name"]
        found = await store.find_trace_ids(
            TraceQuery(0, 2**62, tags=(TagFilter(key, str(value), scope="resource"),), limit=100)
        )
        assert span.trace_id in found
        missing = await store.find_trace_ids(
            TraceQuery(0, 2**62, tags=(TagFilter(key, "no such value", scope="resource"),))
        )
        assert missing == []
    finally:
        await store.close()


def test_resource_hashes_are_per_span_and_survive_slicing() -> None:
    batch = batch_from_spans(world.SPANS)
    hashes = resource_hashes(batch).to_pylist()
    resources = [
        (tuple(r), t)
        for r, t in zip(
            batch.column("ResourceAttributes").to_pylist(),
            batch.column("ResourceAttributeTypes").to_pylist(),
            strict=True,
        )
    ]
    # Equal resources, equal hashes; different ones, different hashes.
    assert len(set(hashes)) == len(set(resources))
    assert len(set(zip(hashes, resources, strict=True))) == len(set(resources))
    # A batch sliced out of a bigger one (as the WAL writer may pass) hashes the same.
    assert resource_hashes(batch.slice(3, 7)).to_pylist() == hashes[3:10]
    combined = pa.concat_tables([batch.slice(0, 4), batch.slice(4)])
    assert resource_hashes(combined).to_pylist() == hashes


def _codecs(executor: ChdbExecutor, database: str, table: str) -> dict[str, str]:
    found = executor.query(
        "SELECT name, compression_codec FROM system.columns "
        "WHERE database = {db:String} AND table = {table:String}",
        {"db": database, "table": table},
    )
    return dict(_pairs(found))


def _pairs(table: pa.Table) -> list[tuple[str, str]]:
    return list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def test_v4_red_codecs_are_the_ddl_s() -> None:
    """``RED_CODECS_V4`` (the migration's) declares the columns as the DDL does."""
    text = "\n".join(schema.ddl("db"))
    for column in schema.RED_CODECS_V4:
        assert re.search(rf"\n    {re.escape(column)},?\n", text), column
    assert len(schema.RED_CODECS_V4) == 11  # all but Time


def _frozen_database(executor: ChdbExecutor, database: str, version: int) -> None:
    """A database as schema v3, v4 or v5 made it (``fixtures/clickhouse_v{version}.sql``),
    holding ``world.SPANS``."""
    frozen = (Path(__file__).parent / "fixtures" / f"clickhouse_v{version}.sql").read_text()
    executor.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for statement in frozen.replace("DATABASE", database).split(";\n"):
        if statement.strip():
            executor.command(statement)
    executor.command(f"INSERT INTO `{database}`.meta VALUES ('schema_version', {version})")
    batch = batch_from_spans(world.SPANS)
    hashes = resource_hashes(batch)
    distinct = pa.compute.unique(hashes)
    first = pa.compute.index_in(distinct, hashes)
    executor.insert(
        f"`{database}`.resources",
        pa.table(
            {
                "ResourceHash": distinct,
                "ResourceAttributes": batch.column("ResourceAttributes").take(first),
                "ResourceAttributeTypes": batch.column("ResourceAttributeTypes").take(first),
            }
        ),
    )
    executor.command(schema.reload_resources(database))
    rows = binary_ids(batch, hashes)
    executor.insert(f"`{database}`.spans", rows if version >= 5 else _before_v5(rows))


async def test_a_v3_database_gets_v4_codecs_on_open() -> None:
    """A database as v3 made it, holding spans: opened, its columns have v4's codecs,
    trace_ranges is made again, and every trace reads back whole."""
    database = "from_v3"
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _frozen_database(executor, database, 3)
        assert "ZSTD(6)" in _codecs(executor, database, "spans")["SpanAttributes"]
        assert "DoubleDelta" in _codecs(executor, database, "trace_ranges")["FirstStart"]

        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)
        try:
            spans = _codecs(executor, database, "spans")
            assert "ZSTD(9)" in spans["SpanAttributes"]
            assert "ZSTD(3)" in spans["ParentSpanId"]
            assert spans["Timestamp"] == "CODEC(ZSTD(9))"  # v8's, by the copy
            assert "ZSTD(1)" in spans["StatusMessage"]  # untouched
            red_codecs = _codecs(executor, database, "span_metrics")
            assert "ZSTD(9)" in red_codecs["Histogram"]
            assert "DoubleDelta" in red_codecs["Time"]
            ranges = _codecs(executor, database, "trace_ranges")
            assert "T64" in ranges["FirstStart"]
            assert "T64" in ranges["LastStart"]
            made = executor.query(
                "SELECT create_table_query FROM system.tables "
                "WHERE database = {db:String} AND name = 'trace_ranges'",
                {"db": database},
            )
            assert "index_granularity = 256" in made.column(0)[0].as_py()
            version = executor.query(f"SELECT max(Value) FROM `{database}`.meta").column(0)[0]
            assert version.as_py() == schema.SCHEMA_VERSION
            assert (await store.stats()).spans == len(world.SPANS)
            for letter, trace_id in world.TRACES.items():
                got = await store.get_trace(GetTraceParams(trace_id))
                assert got.num_rows == len(world.spans_of(letter))
            # Parts written and merged after the change read back too.
            late = dataclasses.replace(world.SPANS[0], trace_id="e" * 32)
            await store.write(batch_from_spans([late]))
            executor.command(f"OPTIMIZE TABLE `{database}`.spans FINAL")
            executor.command(f"OPTIMIZE TABLE `{database}`.trace_ranges FINAL")
            assert (await store.get_trace(GetTraceParams("e" * 32))).num_rows == 1
            assert (await store.stats()).spans == len(world.SPANS) + 1
        finally:
            await store.close()
    finally:
        executor.close()


def _made_as(executor: ChdbExecutor, database: str, table: str) -> str:
    made = executor.query(
        "SELECT create_table_query FROM system.tables "
        "WHERE database = {db:String} AND name = {table:String}",
        {"db": database, "table": table},
    )
    return str(made.column(0)[0].as_py())


async def test_a_v5_database_gets_smaller_compressed_blocks_on_open() -> None:
    """A database as v5 made it: opened, its spans table has v6's smaller compressed blocks
    by one ALTER (no copy), and every trace reads back whole, before and after a merge."""
    database = "from_v5"
    block = f"min_compress_block_size = {schema.SPANS_MIN_COMPRESS_BLOCK}"
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _frozen_database(executor, database, 5)
        assert block not in _made_as(executor, database, "spans")
        steps = schema.migrations(5, database)
        assert len(steps) == 2
        assert steps[0].startswith(f"ALTER TABLE `{database}`.spans MODIFY SETTING")
        assert steps[1].startswith(f"ALTER TABLE `{database}`.spans MODIFY COLUMN")

        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)
        try:
            assert block in _made_as(executor, database, "spans")
            version = executor.query(f"SELECT max(Value) FROM `{database}`.meta").column(0)[0]
            assert version.as_py() == schema.SCHEMA_VERSION
            late = dataclasses.replace(world.SPANS[0], trace_id="c" * 32)
            await store.write(batch_from_spans([late]))
            for merged in (False, True):
                if merged:
                    executor.command(f"OPTIMIZE TABLE `{database}`.spans FINAL")
                assert (await store.stats()).spans == len(world.SPANS) + 1
                assert (await store.get_trace(GetTraceParams("c" * 32))).num_rows == 1
                for letter, trace_id in world.TRACES.items():
                    got = (await store.get_trace(GetTraceParams(trace_id))).sort_by("SpanId")
                    written = batch_from_spans(world.spans_of(letter)).sort_by("SpanId")
                    for name in ("Events", "Links", "SpanAttributes"):
                        assert got.column(name).to_pylist() == written.column(name).to_pylist()
        finally:
            await store.close()
    finally:
        executor.close()


def test_new_spans_tables_have_smaller_compressed_blocks() -> None:
    for cluster in (None, "prod"):
        statements = schema.ddl("traces", cluster)
        (spans,) = [s for s in statements if ".spans" in s and "Timestamp Int64" in s]
        assert f"min_compress_block_size = {schema.SPANS_MIN_COMPRESS_BLOCK}" in spans


def _stored_columns(executor: ChdbExecutor, database: str) -> list[str]:
    found = executor.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'spans' "
        "AND default_kind NOT IN ('ALIAS', 'EPHEMERAL')",
        {"db": database},
    )
    return [str(name) for name in found.column(0).to_pylist()]


async def test_a_v4_database_gets_packed_events_and_links_on_open() -> None:
    """A database as v4 made it (Events and Links as arrays of tuples): opened, its spans are
    copied into v5's layout (each span's events and links as one text column), read back
    exactly as written, and found by an event's attribute; trace_ranges is kept as it was."""
    database = "from_v4"
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _frozen_database(executor, database, 4)
        assert "Events" in _stored_columns(executor, database)
        ranges = executor.query(f"SELECT count() FROM `{database}`.trace_ranges").column(0)[0]
        # Only its view is dropped (and made again): the table stays.
        steps = schema.migrations(4, database)
        assert not any(re.search(r"\.trace_ranges\b(?!_mv)", step) for step in steps)

        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)
        try:
            stored = _stored_columns(executor, database)
            # Events and Links are ALIAS columns now, packed in EventsText and LinksText.
            assert list(schema.SPAN_TABLE_COLUMNS) == stored
            keys = executor.query(f"SELECT Key FROM `{database}`.event_keys FINAL ORDER BY Key")
            assert keys.column(0).to_pylist() == [
                "attempt",
                "cache.key",
                "exception.message",
                "exception.type",
            ]
            version = executor.query(f"SELECT max(Value) FROM `{database}`.meta").column(0)[0]
            assert version.as_py() == schema.SCHEMA_VERSION
            kept = executor.query(f"SELECT count() FROM `{database}`.trace_ranges").column(0)[0]
            assert kept == ranges
            assert (await store.stats()).spans == len(world.SPANS)
            for letter, trace_id in world.TRACES.items():
                got = (await store.get_trace(GetTraceParams(trace_id))).sort_by("SpanId")
                written = batch_from_spans(world.spans_of(letter)).sort_by("SpanId")
                for name in ("Events", "Links", "SpanAttributes"):
                    assert got.column(name).to_pylist() == written.column(name).to_pylist()
            found = await store.find_trace_ids(
                TraceQuery(0, 2**62, tags=(TagFilter("cache.key", "cart:42"),))
            )
            assert found == [world.TRACES["A"]]
            # The views feeding the lookups follow the new table.
            late = dataclasses.replace(world.SPANS[0], trace_id="d" * 32, service="late")
            await store.write(batch_from_spans([late]))
            assert (await store.get_trace(GetTraceParams("d" * 32))).num_rows == 1
            assert "late" in await store.services(ServicesQuery())
        finally:
            await store.close()
    finally:
        executor.close()


async def test_a_v6_database_gains_kept_dependency_counts_on_open() -> None:
    """A database as v6 made it, holding spans: opened, it has an empty
    ``dependency_edges`` (v7, made by ``ddl``), which a refresh fills; every trace reads
    back whole."""
    database = "from_v6"
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _frozen_database(executor, database, 6)
        assert schema.migrations(6, database) == schema.migrations(7, database)
        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)
        try:
            version = executor.query(f"SELECT max(Value) FROM `{database}`.meta").column(0)[0]
            assert version.as_py() == schema.SCHEMA_VERSION
            edges = f"SELECT count() FROM `{database}`.dependency_edges"
            assert executor.query(edges).column(0)[0].as_py() == 0
            newest = max(span.start_ns for span in world.SPANS)
            later = dataclasses.replace(
                world.SPANS[0], trace_id="d" * 32, start_ns=newest + 600 * 10**9
            )
            await store.write(batch_from_spans([later]))  # the spans before it have settled
            assert await store.refresh_dependencies()
            assert executor.query(edges).column(0)[0].as_py() > 0
            for trace_id in world.TRACES.values():
                assert (await store.get_trace(GetTraceParams(trace_id))).num_rows
        finally:
            await store.close()
    finally:
        executor.close()


V8_COLUMNS = ("Timestamp",)


def test_v8_codecs_are_the_spans_table_s() -> None:
    """The migration's codecs are read off the spans table's DDL: one list, not two."""
    spans = next(
        text for text in schema.ddl("d") if text.startswith("CREATE TABLE IF NOT EXISTS `d`.spans ")
    )
    assert tuple(column.split()[0] for column in schema.SPAN_CODECS_V8) == V8_COLUMNS
    for column in schema.SPAN_CODECS_V8:
        assert f"    {column},\n" in spans


async def test_a_v7_database_gets_v8_codecs_on_open() -> None:
    """A database as v7 made it, holding spans: opened, its spans' Timestamp has v8's codec
    by one ALTER (no copy), and every trace reads back whole before and after a merge
    rewrites the parts with them."""
    database = "from_v7"
    executor = ChdbExecutor(CHDB_DIR)
    try:
        _frozen_database(executor, database, 7)
        before = _codecs(executor, database, "spans")
        assert before["Timestamp"] == "CODEC(Delta(8), ZSTD(9))"
        steps = schema.migrations(7, database)
        assert len(steps) == 1
        assert steps[0].startswith(f"ALTER TABLE `{database}`.spans MODIFY COLUMN")
        store = ClickHouseStore(ChdbExecutor(CHDB_DIR), database=database)
        try:
            version = executor.query(f"SELECT max(Value) FROM `{database}`.meta").column(0)[0]
            assert version.as_py() == schema.SCHEMA_VERSION == 8
            after = _codecs(executor, database, "spans")
            assert after["Timestamp"] == "CODEC(ZSTD(9))"
            unchanged = set(before) - set(V8_COLUMNS)
            assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
            for merged in (False, True):
                if merged:
                    executor.command(f"OPTIMIZE TABLE `{database}`.spans FINAL")
                assert (await store.stats()).spans == len(world.SPANS)
                for letter, trace_id in world.TRACES.items():
                    got = (await store.get_trace(GetTraceParams(trace_id))).sort_by("SpanId")
                    written = batch_from_spans(world.spans_of(letter)).sort_by("SpanId")
                    for name in V8_COLUMNS:
                        assert got.column(name).to_pylist() == written.column(name).to_pylist()
        finally:
            await store.close()
    finally:
        executor.close()
