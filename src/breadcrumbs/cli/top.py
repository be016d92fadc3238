"""``breadcrumbs top``: RED per service and operation, live, like ``top``.

Reads ``/api/x/red`` over the last ``--window`` every ``--interval`` seconds and redraws one
table (rich Live). Errors are marked in text ("✗ 12.5% ERR"), not colour alone, so piped
output and colour-blind readers see them. When stdout is not a terminal (or with
``--once``) it prints the table once.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final, Literal

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from breadcrumbs.cli.app import app, console
from breadcrumbs.cli.client import ServerOption, format_ns, get_json, print_json

SortKey = Literal["rate", "errors", "p99"]
_SORTS: Final[dict[str, str]] = {"rate": "rate", "errors": "errorRate", "p99": "p99"}
_WINDOWS: Final[dict[str, int]] = {"m": 60, "h": 3600}
REQUEST_KINDS: Final = ("server", "consumer")


def _window_s(text: str) -> int:
    unit = text[-1:]
    if unit not in _WINDOWS or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise typer.BadParameter("a whole number of minutes or hours, e.g. 5m, 1h")
    return int(text[:-1]) * _WINDOWS[unit]


def fetch(server: str | None, service: str | None, window_s: int, kinds: list[str]) -> Any:
    now_ns = time.time_ns()
    params: dict[str, Any] = {
        "start": str(now_ns - window_s * 1_000_000_000),
        "end": str(now_ns),
        "step": f"{window_s}s",
    }
    if service:
        params["service"] = service
    if kinds:
        params["spanKind"] = ",".join(kinds)
    return get_json(server, "/api/x/red", params)


def _rows(answer: Any, sort: SortKey) -> list[dict[str, Any]]:
    series: list[dict[str, Any]] = list(answer["series"])
    field = _SORTS[sort]
    series.sort(key=lambda s: (-(s["totals"][field] or 0.0), s["service"], s["operation"] or ""))
    return series


def _duration(ns: float | None) -> str:
    return "-" if ns is None else format_ns(ns)


_NARROW = 110  # columns below which the table leaves out the kind and p50


def render(answer: Any, sort: SortKey, window: str, width: int) -> Group:
    rows = _rows(answer, sort)
    calls = sum(s["totals"]["calls"] for s in rows)
    errors = sum(s["totals"]["errors"] for s in rows)
    failing = sum(1 for s in rows if s["totals"]["errors"])
    # Sampled spans are weighted by their adjusted counts: the counts are estimates.
    about = "~" if answer.get("estimated") else ""
    calls_text = f"{about}{calls:,.0f} calls" + (" (estimated from sampled spans)" if about else "")
    verdict = (
        (f"✗ {about}{errors:,.0f} errors in {failing} operations", "bold red")
        if errors
        else ("no errors", "green")
    )
    header = Text.assemble(
        ("breadcrumbs top", "bold"),
        f"  last {window}, {len(rows)} operations, {calls_text}, ",
        verdict,
        f"  (sorted by {sort}; {time.strftime('%H:%M:%S')})",
    )
    # A narrow terminal (80 columns) drops the kind and p50 so the operation keeps a readable
    # width: with every column, rich squeezed it to nothing.
    narrow = width < _NARROW
    quantiles = ("p95", "p99") if narrow else ("p50", "p95", "p99")
    table = Table(expand=False, width=min(width, 160), header_style="bold", pad_edge=False)
    table.add_column("SERVICE", overflow="ellipsis", max_width=16 if narrow else 24, no_wrap=True)
    table.add_column("OPERATION", overflow="ellipsis", ratio=1, min_width=14, no_wrap=True)
    if not narrow:
        table.add_column("KIND", no_wrap=True)
    table.add_column("RATE/s", justify="right", no_wrap=True)
    table.add_column("ERRORS", justify="right", no_wrap=True)
    for name in quantiles:
        table.add_column(name.upper(), justify="right", no_wrap=True)
    for series in rows:
        totals = series["totals"]
        error_text = (
            Text(f"✗ {totals['errorRate'] * 100:.1f}% ERR", style="bold red")
            if totals["errors"]
            else Text("0", style="dim")
        )
        table.add_row(
            series["service"],
            series["operation"] or "(all)",
            *(() if narrow else (series["spanKind"] or "",)),
            f"{totals['rate']:.2f}",
            error_text,
            *(_duration(totals[q]) for q in quantiles),
        )
    if not rows:
        return Group(header, Text("No spans in this window yet.", style="dim"))
    return Group(header, table)


@app.command()
def top(
    service: Annotated[
        str | None, typer.Option("--service", "-s", help="Only this service.")
    ] = None,
    sort: Annotated[SortKey, typer.Option(help="Order: rate, errors or p99.")] = "rate",
    window: Annotated[str, typer.Option(help="Time the figures cover (5m, 1h).")] = "5m",
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 2.0,
    kind: Annotated[
        list[str] | None,
        typer.Option(help="Span kinds to count (repeatable) \\[default: server, consumer]; all."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Print once and exit.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the API's answer.")] = False,
    server: ServerOption = None,
) -> None:
    """RED per service and operation (rate, errors, p50/p95/p99), live like `top`."""
    window_s = _window_s(window)
    kinds = list(kind) if kind else list(REQUEST_KINDS)
    if "all" in kinds:
        kinds = []
    if json:
        print_json(fetch(server, service, window_s, kinds))
        return
    if once or not console.is_terminal:
        console.print(render(fetch(server, service, window_s, kinds), sort, window, console.width))
        return
    with Live(console=console, screen=False, auto_refresh=False) as live:
        try:
            while True:
                answer = fetch(server, service, window_s, kinds)
                live.update(render(answer, sort, window, console.width), refresh=True)
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
