"""``services``, ``traces`` and ``trace``: find traces and read one, in the terminal."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import orjson
import typer
from rich import box
from rich.table import Table
from rich.text import Text

from breadcrumbs.cli.app import app, console, err_console
from breadcrumbs.cli.client import ServerOption, format_duration, get_json, utc


@app.command()
def services(server: ServerOption = None) -> None:
    """List the services seen by the server."""
    data = get_json(server, "/api/services").get("data") or []
    table = Table("service")
    for name in sorted(data):
        table.add_row(name)
    console.print(table)


def _parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"--tag wants key=value, got {text!r}")
    return key, value


def _root(trace: dict[str, Any]) -> dict[str, Any]:
    spans: list[dict[str, Any]] = trace.get("spans") or []
    ids = {span["spanID"] for span in spans}
    roots = [
        span
        for span in spans
        if not any(ref.get("spanID") in ids for ref in span.get("references") or [])
    ]
    return min(roots or spans, key=lambda span: span.get("startTime", 0))


def _service(trace: dict[str, Any], span: dict[str, Any]) -> str:
    process = (trace.get("processes") or {}).get(span.get("processID"), {})
    return str(process.get("serviceName", "?"))


def _is_error(span: dict[str, Any]) -> bool:
    return any(
        tag.get("key") == "error" and tag.get("value") in (True, "true")
        for tag in span.get("tags") or []
    )


@app.command()
def traces(
    service: Annotated[str, typer.Option("--service", "-s", help="Service name.")],
    tag: Annotated[
        Optional[list[str]],  # noqa: UP045 (typer reads the annotation at runtime)
        typer.Option("--tag", "-t", help="key=value; repeat for several."),
    ] = None,
    operation: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--operation", "-o", help="Operation (span name)."),
    ] = None,
    min_duration: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--min-duration", help="e.g. 100ms, 1.5s."),
    ] = None,
    lookback: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--lookback", help="e.g. 1h, 2d [default: the server's, 2d]."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
    server: ServerOption = None,
) -> None:
    """Find traces of a service, newest first."""
    params = {"service": service, "limit": str(limit)}
    if lookback:
        params["lookback"] = lookback
    if tag:
        params["tags"] = orjson.dumps(dict(_parse_tag(t) for t in tag)).decode()
    if operation:
        params["operation"] = operation
    if min_duration:
        params["minDuration"] = min_duration
    found: list[dict[str, Any]] = get_json(server, "/api/traces", params).get("data") or []
    table = Table(box=box.SIMPLE, pad_edge=False, collapse_padding=True)
    table.add_column("trace id", no_wrap=True, min_width=32)  # ids must stay copyable
    table.add_column("root", min_width=12, overflow="fold")
    table.add_column("start (UTC)", no_wrap=True)
    for name in ("duration", "spans"):
        table.add_column(name, justify="right", no_wrap=True)
    for trace in sorted(found, key=lambda t: -_root(t).get("startTime", 0)):
        root = _root(trace)
        errors = sum(_is_error(span) for span in trace.get("spans") or [])
        table.add_row(
            str(trace.get("traceID", "")),
            f"{_service(trace, root)}: {root.get('operationName', '')}",
            utc(root.get("startTime", 0)),
            format_duration(float(root.get("duration", 0))),
            Text(f"{len(trace.get('spans') or [])} ({errors} err)", style="red")
            if errors
            else str(len(trace.get("spans") or [])),
        )
    console.print(table)


_OFFSET_WIDTH, _DURATION_WIDTH = 7, 8


def waterfall(trace: dict[str, Any], available: int = 120) -> Table:
    """A compact indented waterfall: one row per span, children under their parent, fitted
    to ``available`` columns: the timeline takes what the others leave, names give way first."""
    width = max(10, min(60, available - 85))
    service_width = 20 if available >= 90 else 12
    padding = 10  # two spaces between each of five columns
    name_width = max(
        12, min(40, available - width - service_width - _OFFSET_WIDTH - _DURATION_WIDTH - padding)
    )
    spans: list[dict[str, Any]] = trace.get("spans") or []
    by_id = {span["spanID"]: span for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = next(
            (
                ref["spanID"]
                for ref in span.get("references") or []
                if ref.get("refType") == "CHILD_OF" and ref.get("spanID") in by_id
            ),
            None,
        )
        children.setdefault(parent, []).append(span)
    start = min((span["startTime"] for span in spans), default=0)
    end = max((span["startTime"] + span["duration"] for span in spans), default=1)
    total = max(end - start, 1)
    table = Table(box=None)
    # One line per span, however narrow the terminal: the tree is read by its indentation.
    table.add_column("span", no_wrap=True, overflow="ellipsis", max_width=name_width)
    table.add_column("service", no_wrap=True, overflow="ellipsis", max_width=service_width)
    table.add_column("offset", no_wrap=True, min_width=_OFFSET_WIDTH)
    table.add_column("duration", no_wrap=True, min_width=_DURATION_WIDTH)
    table.add_column("timeline", no_wrap=True, width=width)
    seen: set[str] = set()
    stack = [(span, 0) for span in sorted(children.get(None, []), key=_start, reverse=True)]
    while stack:  # depth-first, iterative: traces can be deep
        span, depth = stack.pop()
        if span["spanID"] in seen:
            continue
        seen.add(span["spanID"])
        left = int((span["startTime"] - start) / total * width)
        bar = max(1, int(span["duration"] / total * width))
        style = "red" if _is_error(span) else "green"
        table.add_row(
            Text("  " * depth + str(span.get("operationName", "")), style=style),
            _service(trace, span),
            format_duration(span["startTime"] - start),
            format_duration(span["duration"]),
            Text(" " * left + "█" * min(bar, width - left or 1), style=style),
        )
        kids = sorted(children.get(span["spanID"], []), key=_start, reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return table


def _start(span: dict[str, Any]) -> int:
    return int(span.get("startTime", 0))


@app.command()
def trace(
    trace_id: Annotated[str, typer.Argument(help="Trace id (hex).")],
    server: ServerOption = None,
) -> None:
    """Show one trace as an indented waterfall."""
    data: list[dict[str, Any]] = get_json(server, f"/api/traces/{trace_id}").get("data") or []
    if not data:
        err_console.print(f"[red]trace {trace_id} not found[/red]")
        raise typer.Exit(1)
    console.print(f"trace [bold]{data[0].get('traceID', trace_id)}[/bold]")
    console.print(waterfall(data[0], available=console.width))
