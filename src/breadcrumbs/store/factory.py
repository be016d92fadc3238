"""Opens the engine a ``--store`` URL names (``store.url``); the one place that imports them.

The ClickHouse engine's libraries (``clickhouse-connect``, ``chdb``) are the optional
``clickhouse`` extra and are imported only when that engine is chosen.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import Store
from breadcrumbs.store.url import StoreUrl, parse_store_url

DUCKDB_FILE = "spans.duckdb"
CHDB_DIR = "chdb"


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How store reads run: ``threads`` at once (one while ``ingest_behind()``), each stopped
    after ``timeout_s`` (0: never)."""

    timeout_s: float = 30.0
    threads: int = 4
    ingest_behind: Callable[[], bool] | None = None


async def open_store(
    url: str | StoreUrl,
    data_dir: Path,
    metrics: SelfMetrics,
    *,
    retention_s: float = 0,
    reads: ReadLimits = ReadLimits(),
) -> Store:
    """The engine, created or migrated; ``OSError`` with the reason when it cannot open.
    ``retention_s``: for engines that also expire data by themselves (ClickHouse's TTL)."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    try:
        # Opening migrates, and a server may be slow to answer: not on the event loop.
        return await asyncio.to_thread(_open, parsed, data_dir, metrics, retention_s, reads)
    except ImportError as error:
        raise OSError(
            f"the {parsed.engine} store needs the clickhouse extra: "
            f"pip install 'breadcrumbs[clickhouse]' ({error})"
        ) from error
    except Exception as error:  # most often: another server holds DuckDB's file lock
        raise OSError(f"cannot open the store {parsed.redacted()}: {error}") from error


def _open(
    url: StoreUrl, data_dir: Path, metrics: SelfMetrics, retention_s: float, reads: ReadLimits
) -> Store:
    if url.engine == "duckdb":
        from breadcrumbs.store.duckdb import DuckDBStore

        return DuckDBStore(
            url.path or data_dir / DUCKDB_FILE,
            metrics=metrics,
            query_timeout_s=reads.timeout_s,
            query_threads=reads.threads,
            ingest_behind=reads.ingest_behind,
        )

    from breadcrumbs.store.clickhouse import ClickHouseStore, executor

    if url.read_only:
        from breadcrumbs.store.clickhouse.otel import OtelTracesStore

        inner: executor.Executor = (
            executor.ChdbExecutor(url.path or data_dir / CHDB_DIR)
            if url.engine == "chdb"
            else executor.HttpExecutor(url)
        )
        return OtelTracesStore(  # closes ``inner`` when it cannot open
            inner,
            database=url.database,
            table=url.table,
            metrics=metrics,
            query_timeout_s=reads.timeout_s,
            query_threads=reads.threads,
        )
    if url.engine == "chdb":
        session = executor.ChdbExecutor(url.path or data_dir / CHDB_DIR)
        return ClickHouseStore(
            session,
            retention_s=retention_s,
            metrics=metrics,
            query_timeout_s=reads.timeout_s,
            query_threads=reads.threads,
            ingest_behind=reads.ingest_behind,
        )
    client = executor.HttpExecutor(url)
    return ClickHouseStore(
        client,
        database=url.database,
        cluster=url.cluster,
        retention_s=retention_s,
        # This process's WAL: its last_wal_sequence is not another ingest node's.
        node=f"{socket.gethostname()}:{data_dir.resolve()}",
        metrics=metrics,
        query_timeout_s=reads.timeout_s,
        query_threads=reads.threads,
        ingest_behind=reads.ingest_behind,
    )
