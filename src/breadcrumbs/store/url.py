"""The ``--store`` setting: which engine holds the spans, as a URL.

- ``duckdb`` (the default): the embedded engine, ``spans.duckdb`` in ``--data-dir``;
  ``duckdb:///path/spans.duckdb`` names the file.
- ``chdb`` or ``chdb:///path``: ClickHouse in-process (chDB), its data in a directory (``chdb``
  alone: ``chdb`` in ``--data-dir``). One process on one machine, and the tests.
- ``clickhouse://user:password@host:8123/database?cluster=NAME&secure=1``: a ClickHouse
  server or cluster over HTTP(S) (``clickhouses://`` is ``secure=1``). With ``cluster`` the
  tables are made ``ON CLUSTER`` as replicated tables under distributed ones.
- ``?layout=otel`` on a ClickHouse or chDB URL: read, never write, the tables the
  OpenTelemetry Collector's ClickHouse exporter fills (``otel_traces`` and
  ``otel_traces_trace_id_ts``; ``&table=NAME`` for its ``traces_table_name``; on chDB
  ``&database=NAME``, default ``otel`` as the exporter's). See ``store.clickhouse.otel``.

Parsing only; ``store.factory`` opens the engine. No engine module is imported here, so the
configuration can check the URL without loading a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Engine = Literal["duckdb", "chdb", "clickhouse"]
Layout = Literal["breadcrumbs", "otel"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_CLICKHOUSE_OPTIONS = ("cluster", "secure", "layout", "table")
_CHDB_OPTIONS = ("layout", "table", "database")
OTEL_DATABASE = "otel"  # the Collector exporter's default database


@dataclass(frozen=True, slots=True)
class StoreUrl:
    engine: Engine
    path: Path | None = None
    """DuckDB's file or chDB's directory; None: the default inside ``--data-dir``."""
    host: str = "localhost"
    port: int = 8123
    user: str = "default"
    password: str = ""
    database: str = "breadcrumbs"
    cluster: str | None = None
    secure: bool = False
    layout: Layout = "breadcrumbs"
    """``otel``: the Collector exporter's tables, read-only."""
    table: str = "otel_traces"

    @property
    def read_only(self) -> bool:
        return self.layout == "otel"

    def redacted(self) -> str:
        """The URL for logs and the banner: no password."""
        otel = f"layout=otel&table={self.table}" if self.read_only else ""
        if self.engine != "clickhouse":
            text = self.engine if self.path is None else f"{self.engine}://{self.path}"
            return f"{text}?{otel}&database={self.database}" if otel else text
        scheme = "clickhouses" if self.secure else "clickhouse"
        options = "&".join(
            o for o in (f"cluster={self.cluster}" if self.cluster else "", otel) if o
        )
        query = f"?{options}" if options else ""
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}{query}"


def parse_store_url(text: str) -> StoreUrl:
    """Raises ``ValueError`` with a readable message for anything but the forms above."""
    text = text.strip()
    if text in ("duckdb", "chdb"):
        return StoreUrl(text)  # type: ignore[arg-type]  # narrowed by the test above
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("duckdb", "chdb"):
        if parts.netloc or not parts.path or (parts.query and scheme == "duckdb"):
            raise ValueError(f"{scheme} store URL must be {scheme}:///absolute/path, got {text!r}")
        path = Path(unquote(parts.path))
        if not parts.query:
            return StoreUrl(scheme, path=path)  # type: ignore[arg-type]
        options = _options(parts.query, _CHDB_OPTIONS, text)
        layout = _layout(options.get("layout", "breadcrumbs"))
        if layout != "otel":
            raise ValueError(f"chdb options (table, database) go with layout=otel: {text!r}")
        return StoreUrl(
            "chdb",
            path=path,
            layout=layout,
            table=_identifier(options.get("table", "otel_traces"), "table"),
            database=_identifier(options.get("database", OTEL_DATABASE), "database"),
        )
    if scheme not in ("clickhouse", "clickhouses"):
        raise ValueError(
            f"unknown store {text!r}: use duckdb, chdb:///path or "
            "clickhouse://user:password@host:8123/database"
        )
    options = _options(parts.query, _CLICKHOUSE_OPTIONS, text)
    secure = scheme == "clickhouses" or _flag(options.get("secure", "0"))
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in store URL {text!r}") from None
    database = parts.path.strip("/") or "breadcrumbs"
    if not database.replace("_", "").isalnum():
        raise ValueError(f"ClickHouse database name must be letters, digits and _: {database!r}")
    cluster = options.get("cluster") or None
    if cluster is not None and not cluster.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"ClickHouse cluster name must be letters, digits, - and _: {cluster!r}")
    return StoreUrl(
        "clickhouse",
        host=parts.hostname or "localhost",
        port=port or (8443 if secure else 8123),
        user=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=database,
        cluster=cluster,
        secure=secure,
        layout=_layout(options.get("layout", "breadcrumbs")),
        table=_identifier(options.get("table", "otel_traces"), "table"),
    )


def _options(query: str, known: tuple[str, ...], text: str) -> dict[str, str]:
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown ClickHouse store option {unknown[0]!r} in {text!r}")
    return options


def _layout(text: str) -> Layout:
    if text not in ("breadcrumbs", "otel"):
        raise ValueError(
            f"layout must be breadcrumbs or otel (the Collector's tables), got {text!r}"
        )
    return text  # type: ignore[return-value]  # checked above


def _identifier(text: str, what: str) -> str:
    if not text or not text.replace("_", "").isalnum():
        raise ValueError(f"ClickHouse {what} name must be letters, digits and _: {text!r}")
    return text


def _flag(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(f"expected 1 or 0 for secure, got {text!r}")
