"""The scale-out engine: ClickHouse (a server, a cluster, or chDB in-process)."""

from breadcrumbs.store.clickhouse.store import ClickHouseStore

__all__ = ["ClickHouseStore"]
