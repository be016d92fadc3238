"""How the ClickHouse engine reaches ClickHouse: one small interface, two implementations.

``HttpExecutor``: a server or cluster through ``clickhouse-connect`` (HTTP, Arrow both ways).
``ChdbExecutor``: chDB, ClickHouse inside this process. The engine's SQL is the same for both,
with ClickHouse's server-side parameters (``{name:Type}``); every result is an Arrow table.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from breadcrumbs.store.url import StoreUrl

Params = dict[str, Any]


class Executor(Protocol):
    def command(self, text: str, params: Params | None = None) -> None:
        """A statement without a result (DDL, DELETE, INSERT ... SELECT)."""
        ...

    def query(self, text: str, params: Params | None = None) -> pa.Table: ...

    def insert(self, table: str, data: pa.Table, settings: Params | None = None) -> None:
        """``data``'s columns, by name, into ``table`` (``database.name``), one insert, with
        ClickHouse ``settings`` for it."""
        ...

    def close(self) -> None: ...


class HttpExecutor:
    """A ClickHouse server over HTTP(S). clickhouse-connect's client is thread-safe for
    queries; each call is its own HTTP request."""

    def __init__(self, url: StoreUrl) -> None:
        import clickhouse_connect

        self._client = clickhouse_connect.get_client(
            host=url.host,
            port=url.port,
            username=url.user,
            password=url.password,
            secure=url.secure,
            autogenerate_session_id=False,  # sessions serialise requests; none is needed
        )

    def command(self, text: str, params: Params | None = None) -> None:
        self._client.command(text, parameters=params)

    def query(self, text: str, params: Params | None = None) -> pa.Table:
        table: pa.Table = self._client.query_arrow(text, parameters=params)
        return table

    def insert(self, table: str, data: pa.Table, settings: Params | None = None) -> None:
        database, name = table.split(".", 1)
        self._client.insert_arrow(
            name.strip("`"), data, database=database.strip("`"), settings=settings
        )

    def close(self) -> None:
        self._client.close()


def _literal(value: Any) -> str:
    """An array element as ClickHouse's text format quotes it."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, tuple):  # a Tuple element, e.g. of Array(Tuple(Int64, Int64))
        return "(" + ",".join(map(_literal, value)) + ")"
    return str(int(value))


def _setting(value: Any) -> str:
    """A setting's value as SQL (settings cannot be bound parameters)."""
    if isinstance(value, str):
        return _literal(value)
    return str(int(value))


def _chdb_params(params: Params | None) -> dict[str, str]:
    """Parameters as the text chDB parses (clickhouse-connect does this itself): scalars as
    they are, arrays as ``['a','b']``/``[1,2]``/``[(1,2)]``."""
    return {
        name: "[" + ",".join(map(_literal, value)) + "]"
        if isinstance(value, list | tuple)
        else str(value)
        for name, value in (params or {}).items()
    }


class ChdbExecutor:
    """chDB on a data directory. One embedded server per process (chDB allows one path), so
    executors on the same path share one connection, and calls are serialised by a lock."""

    _lock = threading.Lock()
    _shared: ClassVar[dict[Path, tuple[Any, int]]] = {}  # path -> (connection, users)

    def __init__(self, path: Path) -> None:
        import chdb

        self.path = Path(path).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        with self._lock:
            connection, users = self._shared.get(self.path, (None, 0))
            if connection is None:
                connection = chdb.connect(str(self.path))  # type: ignore[no-untyped-call]
            self._shared[self.path] = (connection, users + 1)
        self._connection = connection
        self._closed = False

    def command(self, text: str, params: Params | None = None) -> None:
        with self._lock:
            self._connection.query(text, "CSV", params=_chdb_params(params))

    def query(self, text: str, params: Params | None = None) -> pa.Table:
        with self._lock:
            table: pa.Table = self._connection.query(
                text, "ArrowTable", params=_chdb_params(params)
            )
        return table

    def insert(self, table: str, data: pa.Table, settings: Params | None = None) -> None:
        # chDB reads a Python object named in the statement from the caller's variables.
        batch_in = data  # noqa: F841 (read by name by chDB's Python() table function)
        columns = ", ".join(f"`{name}`" for name in data.column_names)
        options = ", ".join(
            f"{name} = {_setting(value)}" for name, value in (settings or {}).items()
        )
        with self._lock:
            self._connection.query(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(batch_in)"  # noqa: S608
                + (f" SETTINGS {options}" if options else "")
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            connection, users = self._shared[self.path]
            if users > 1:
                self._shared[self.path] = (connection, users - 1)
            else:
                del self._shared[self.path]
                connection.close()
