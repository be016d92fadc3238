"""The embedded DuckDB engine: one database file in the data directory."""

from breadcrumbs.store.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
