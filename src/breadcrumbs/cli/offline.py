"""What the commands that open a store themselves share (export, import, migrate).

They open the store as ``serve`` would (``store.factory.open_store``). The embedded DuckDB
file takes a lock: while a server runs on it they cannot, and say so, pointing at the
server's API instead. A ClickHouse server can be read and written by any number of
processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from breadcrumbs.cli.app import err_console
from breadcrumbs.config import ConfigError, parse_duration
from breadcrumbs.errors import BadInput
from breadcrumbs.query.jaeger_params import parse_rfc3339
from breadcrumbs.selfmetrics import SelfMetrics
from breadcrumbs.store.base import Store
from breadcrumbs.store.url import parse_store_url

T = TypeVar("T")

StoreOption = Annotated[
    Optional[str],  # noqa: UP045 (typer reads the annotation at runtime)
    typer.Option(
        "--store",
        help="The store's URL, as for serve: duckdb, chdb:///path, clickhouse://user:pass@host:"
        "8123/db.",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--data-dir",
        help="The data directory of a stopped server (its DuckDB file is spans.duckdb there).",
        show_default=False,
    ),
]


def wants_store(store: str | None, data_dir: Path | None) -> bool:
    return store is not None or data_dir is not None


async def open_offline(store: str | None, data_dir: Path | None, *, create: bool = False) -> Store:
    """The store named by ``--store``/``--data-dir`` (``create``: made when there is none
    yet); exits with a readable reason."""
    from breadcrumbs.store.factory import open_store

    directory = data_dir or Path("breadcrumbs-data")
    url = store or "duckdb"
    try:
        read_only = parse_store_url(url).read_only
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--store") from None
    if create and read_only:
        err_console.print(
            f"[red]breadcrumbs: {url} is the OpenTelemetry Collector's tables (layout=otel), "
            "read-only: nothing can be written there[/red]"
        )
        raise typer.Exit(2)
    if url == "duckdb" and not create and not (directory / "spans.duckdb").exists():
        err_console.print(f"[red]breadcrumbs: no store in {directory} (no spans.duckdb)[/red]")
        raise typer.Exit(2)
    try:
        return await open_store(url, directory, SelfMetrics())
    except (OSError, ValueError) as error:
        hint = ""
        if "lock" in str(error).lower():
            hint = (
                "\nA server is running on this store: stop it, or go through its API "
                "(--server URL for export, --endpoint URL for import)."
            )
        err_console.print(f"[red]breadcrumbs: {error}{hint}[/red]")
        raise typer.Exit(2) from None


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(work())


def parse_moment(text: str, name: str, now_ns: int | None = None) -> int:
    """``2h`` (that long ago), an RFC 3339 time, or ns since the epoch, as ns."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return parse_rfc3339(text, name)
    except BadInput:
        pass
    try:
        return now_ns - int(parse_duration(text) * 1e9)
    except ConfigError:
        raise typer.BadParameter(
            f"{text!r}: use a duration ago (2h, 7d), an RFC 3339 time "
            "(2026-12-03T09:00:00Z) or ns since the epoch",
            param_hint=name,
        ) from None
