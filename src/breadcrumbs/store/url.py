"""The ``--store`` setting: which engine holds the spans, as a URL.

- ``duckdb`` (the default): the embedded engine, ``spans.duckdb`` in ``--data-dir``;
  ``duckdb:///path/spans.duckdb`` names the file.
- ``chdb`` or ``chdb:///path``: ClickHouse in-process (chDB), its data in a directory (``chdb``
  alone: ``chdb`` in ``--data-dir``). One process on one machine, and the tests.
- ``clickhouse://user:password@host:8123/database?cluster=NAME&secure=1``: a ClickHouse
  server or cluster over HTTP(S) (``clickhouses://`` is ``secure=1``). With ``cluster`` the
  tables are made ``ON CLUSTER`` as replicated tables under distributed ones.

Parsing only; ``store.factory`` opens the engine. No engine module is imported here, so the
configuration can check the URL without loading a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

Engine = Literal["duckdb", "chdb", "clickhouse"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_CLICKHOUSE_OPTIONS = ("cluster", "secure")


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

    def redacted(self) -> str:
        """The URL for logs and the banner: no password."""
        if self.engine != "clickhouse":
            return self.engine if self.path is None else f"{self.engine}://{self.path}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        cluster = f"?cluster={self.cluster}" if self.cluster else ""
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.database}{cluster}"


def parse_store_url(text: str) -> StoreUrl:
    """Raises ``ValueError`` with a readable message for anything but the forms above."""
    text = text.strip()
    if text in ("duckdb", "chdb"):
        return StoreUrl(text)  # type: ignore[arg-type]  # narrowed by the test above
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("duckdb", "chdb"):
        if parts.netloc or not parts.path or parts.query:
            raise ValueError(f"{scheme} store URL must be {scheme}:///absolute/path, got {text!r}")
        return StoreUrl(scheme, path=Path(unquote(parts.path)))  # type: ignore[arg-type]
    if scheme not in ("clickhouse", "clickhouses"):
        raise ValueError(
            f"unknown store {text!r}: use duckdb, chdb:///path or "
            "clickhouse://user:password@host:8123/database"
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(options) - set(_CLICKHOUSE_OPTIONS))
    if unknown:
        raise ValueError(f"unknown ClickHouse store option {unknown[0]!r} in {text!r}")
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
    )


def _flag(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(f"expected 1 or 0 for secure, got {text!r}")
