"""``services``, ``traces`` and ``trace``: find traces and read one, in the terminal."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import orjson
import typer
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from breadcrumbs.analysis.errors import innermost_frame
from breadcrumbs.cli.app import app, console, err_console
from breadcrumbs.cli.client import ServerOption, format_duration, get_json, print_json, utc


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
        typer.Option("--lookback", help="e.g. 1h, 2d \\[default: the server's, 2d]."),
    ] = None,
    errors: Annotated[
        bool,
        typer.Option("--errors", help="Only traces with a failed span (the tag error=true)."),
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
    ids: Annotated[
        bool, typer.Option("--ids", help="Only the trace ids, one a line (for scripts).")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")] = False,
    server: ServerOption = None,
) -> None:
    """Find traces of a service, newest first."""
    params = {"service": service, "limit": str(limit)}
    if lookback:
        params["lookback"] = lookback
    tags = dict(_parse_tag(t) for t in tag or [])
    if errors:
        tags["error"] = "true"  # as the Jaeger UI asks for failed spans
    if tags:
        params["tags"] = orjson.dumps(tags).decode()
    if operation:
        params["operation"] = operation
    if min_duration:
        params["minDuration"] = min_duration
    answer = get_json(server, "/api/traces", params)
    if json:
        print_json(answer)
        return
    found: list[dict[str, Any]] = sorted(
        answer.get("data") or [], key=lambda t: -_root(t).get("startTime", 0)
    )
    if ids:
        for trace in found:
            typer.echo(trace.get("traceID", ""))
        return
    table = Table(box=box.SIMPLE, pad_edge=False, collapse_padding=True)
    table.add_column("trace id", no_wrap=True, min_width=32)  # ids must stay copyable
    table.add_column("root", min_width=8, overflow="fold")
    table.add_column("start (UTC)", min_width=8, overflow="fold")  # wraps, the errors stay
    for name in ("duration", "spans"):
        table.add_column(name, justify="right", no_wrap=True)
    for trace in found:
        root = _root(trace)
        failed = sum(_is_error(span) for span in trace.get("spans") or [])
        table.add_row(
            str(trace.get("traceID", "")),
            f"{_service(trace, root)}: {root.get('operationName', '')}",
            utc(root.get("startTime", 0)),
            format_duration(float(root.get("duration", 0))),
            Text(f"{len(trace.get('spans') or [])} {ERROR_MARK}{failed}", style="red")
            if failed
            else str(len(trace.get("spans") or [])),
        )
    console.print(table)


_OFFSET_WIDTH, _DURATION_WIDTH = 7, 8
ERROR_MARK = "✗"
PATH_MARK = "◆"


def _tag(span: dict[str, Any], key: str) -> Any:
    return next((tag.get("value") for tag in span.get("tags") or [] if tag.get("key") == key), None)


def error_details(span: dict[str, Any]) -> str:
    """What went wrong in a failed span, in one line: the exception (type, message, innermost
    frame) and the status message, each once."""
    parts: list[str] = []
    for log in span.get("logs") or []:
        fields = {field.get("key"): field.get("value") for field in log.get("fields") or []}
        if fields.get("event") != "exception":
            continue
        kind, message = fields.get("exception.type"), fields.get("exception.message")
        text = ": ".join(str(part) for part in (kind, message) if part)
        frame = innermost_frame(fields.get("exception.stacktrace"))
        parts.append(f"{text} at {frame}" if frame else text)
    status = _tag(span, "otel.status_description")
    if status and not any(str(status) in part or part in str(status) for part in parts):
        parts.append(str(status))
    code = _tag(span, "http.response.status_code") or _tag(span, "http.status_code")
    if code and int(code) >= 400:
        parts.append(f"HTTP {code}")
    return "; ".join(part for part in parts if part)


def _cell(text: str, width: int, style: str = "") -> Text:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    cell = Text(text, style=style, no_wrap=True, overflow="ellipsis")
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


def waterfall(
    trace: dict[str, Any], available: int = 120, critical: frozenset[str] = frozenset()
) -> Group:
    """A compact indented waterfall: one line per span, children under their parent, fitted
    to ``available`` columns: the timeline takes all the others leave, names give way first.
    A failed span is marked ``✗`` (in text, not colour alone) with what went wrong on the
    line below; spans in ``critical`` (span ids) are marked ``◆``."""
    service_width = 20 if available >= 90 else 12
    marks = 2 if critical else 0
    others = marks + service_width + _OFFSET_WIDTH + _DURATION_WIDTH + 8  # 4 gaps of 2
    name_width = max(12, min(48, available * 3 // 10))
    width = available - others - name_width
    if width < 10:  # a narrow terminal: names give way, down to 8 cells
        name_width = max(8, name_width - (10 - width))
        width = max(10, available - others - name_width)
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
    header = Text(" " * marks, no_wrap=True)
    for title, size in (
        ("span", name_width),
        ("service", service_width),
        ("offset", _OFFSET_WIDTH),
        ("duration", _DURATION_WIDTH),
    ):
        header.append_text(_cell(title, size, "bold"))
        header.append("  ")
    header.append_text(_cell("timeline", width, "bold"))
    lines: list[Text] = [header]
    seen: set[str] = set()
    stack = [(span, 0) for span in sorted(children.get(None, []), key=_start, reverse=True)]
    while stack:  # depth-first, iterative: traces can be deep
        span, depth = stack.pop()
        if span["spanID"] in seen:
            continue
        seen.add(span["spanID"])
        left = min(width - 1, int((span["startTime"] - start) / total * width))
        bar = max(1, int(span["duration"] / total * width))
        failed = _is_error(span)
        style = "red" if failed else "green"
        name = (
            "  " * depth + (f"{ERROR_MARK} " if failed else "") + str(span.get("operationName", ""))
        )
        line = Text(no_wrap=True)
        if critical:
            line.append(PATH_MARK if span["spanID"] in critical else " ", style="bold")
            line.append(" ")
        for text, size, cell_style in (
            (name, name_width, style),
            (_service(trace, span), service_width, ""),
            (format_duration(span["startTime"] - start), _OFFSET_WIDTH, ""),
            (format_duration(span["duration"]), _DURATION_WIDTH, ""),
        ):
            line.append_text(_cell(text, size, cell_style))
            line.append("  ")
        line.append(" " * left + "█" * min(bar, width - left), style=style)
        lines.append(line)
        details = error_details(span) if failed else ""
        if details:
            # under the span, as wide as the terminal: long messages wrap, never vanish
            indent = " " * (marks + 2 * depth + 2)
            lines.append(
                Text(f"{indent}↳ {ERROR_MARK} ERROR: {details}", style="red", overflow="fold")
            )
        kids = sorted(children.get(span["spanID"], []), key=_start, reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return Group(*lines)


def _start(span: dict[str, Any]) -> int:
    return int(span.get("startTime", 0))


def critical_span_ids(server: str | None, trace_id: str) -> frozenset[str]:
    """Span ids on the trace's critical path (from the explain API)."""
    explained = get_json(server, f"/api/x/traces/{trace_id}/explain")
    return frozenset(s["spanId"] for s in explained["criticalPath"]["segments"])


@app.command()
def trace(
    trace_id: Annotated[
        str, typer.Argument(help="Trace id (hex), or its first 8+ hex characters.")
    ],
    critical_path: Annotated[
        bool,
        typer.Option(
            "--critical-path", "-c", help=f"Mark the critical path's spans ({PATH_MARK})."
        ),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")] = False,
    server: ServerOption = None,
) -> None:
    """Show one trace as an indented waterfall; failed spans marked ✗ with what went wrong."""
    trace_id = trace_id.strip()
    if len(trace_id) not in (16, 32):
        # a prefix: the explain API resolves it (and names the traces it could be)
        trace_id = str(get_json(server, f"/api/x/traces/{trace_id}/explain")["traceId"])
    answer = get_json(server, f"/api/traces/{trace_id}")
    if json:
        print_json(answer)
        return
    data: list[dict[str, Any]] = answer.get("data") or []
    if not data:
        err_console.print(f"[red]trace {trace_id} not found[/red]")
        raise typer.Exit(1)
    shown = data[0]
    critical = (
        critical_span_ids(server, str(shown.get("traceID", trace_id)))
        if critical_path
        else frozenset()
    )
    errors = sum(_is_error(span) for span in shown.get("spans") or [])
    title = f"trace [bold]{shown.get('traceID', trace_id)}[/bold]"
    if errors:
        title += f"  [red]{ERROR_MARK} {errors} failed span(s)[/red]"
    if critical:
        title += f"  {PATH_MARK} = on the critical path"
    console.print(title)
    console.print(waterfall(shown, available=console.width, critical=critical))
