"""How client commands reach a running server, and the formatting they share.

The store file cannot be opened by a second process while the server runs, so every client
command talks to the server's HTTP API. The server is found the way ``serve`` found its own
address: ``--server URL``, else ``BREADCRUMBS_SERVER``, else ``BREADCRUMBS_HOST`` and
``BREADCRUMBS_HTTP_PORT`` (defaults: 127.0.0.1, 16686).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Optional

import httpx
import orjson
import typer

from breadcrumbs.cli.app import err_console
from breadcrumbs.config import ConfigError, load_settings

ServerOption = Annotated[
    Optional[str],  # noqa: UP045 (typer reads the annotation at runtime)
    typer.Option(
        "--server",
        envvar="BREADCRUMBS_SERVER",
        help="A running server's HTTP API \\[default: from BREADCRUMBS_HOST and "
        "BREADCRUMBS_HTTP_PORT, else http://127.0.0.1:16686].",
        show_default=False,
    ),
]

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def server_url(server: str | None) -> str:
    """The given URL, or the one ``breadcrumbs serve`` with the same environment listens on."""
    if server:
        return server.rstrip("/")
    try:
        settings = load_settings({})
    except ConfigError as error:
        err_console.print(f"[red]breadcrumbs: {error}[/red]")
        raise typer.Exit(2) from None
    host = _WILDCARDS.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}"


def get_json(server: str | None, path: str, params: dict[str, str] | None = None) -> Any:
    """GET a JSON answer; a clear message and exit code instead of a traceback otherwise."""
    base = server_url(server)
    url = base + path
    try:
        response = httpx.get(url, params=params, timeout=60.0)
    except httpx.HTTPError as error:
        err_console.print(
            f"[red]cannot reach a breadcrumbs server at {base}: {error}[/red]\n"
            "Is `breadcrumbs serve` running? Point to it with --server URL, or set "
            "BREADCRUMBS_SERVER (or BREADCRUMBS_HOST and BREADCRUMBS_HTTP_PORT) as for serve."
        )
        raise typer.Exit(2) from None
    if response.status_code >= 400:
        err_console.print(
            f"[red]{response.status_code} from {url}: {response.text.strip()[:500]}[/red]"
        )
        raise typer.Exit(1)
    return orjson.loads(response.content)


def format_duration(us: float) -> str:
    """Microseconds as Jaeger shows them: 850µs, 12.3ms, 1.52s."""
    if us < 1000:
        return f"{us:.0f}µs"
    if us < 1_000_000:
        return f"{us / 1000:.3g}ms"
    return f"{us / 1_000_000:.3g}s"


def format_ns(ns: float) -> str:
    """Nanoseconds in the same style as ``format_duration``."""
    return format_duration(ns / 1000)


def utc(us: int) -> str:
    """A start time, short: ``12-03 09:41:07`` (UTC)."""
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%m-%d %H:%M:%S")


def print_json(data: Any) -> None:
    """``--json``: the API's answer, pretty, for scripts and jq."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
