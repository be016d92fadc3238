"""``explain``: why one trace was slow or failed, readable at 3 a.m. without a JSON parser."""

from __future__ import annotations

from typing import Annotated, Any, Final

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from breadcrumbs.cli.app import app, console
from breadcrumbs.cli.client import ServerOption, format_ns, get_json, print_json, utc

ERROR_MARK: Final = "✗ ERROR"
_PATH_ROWS: Final = 15
_SHARE_ROWS: Final = 8


def _label(service: str, name: str) -> str:
    return f"{service}: {name}"


def _say(text: Text | str, indent: int) -> None:
    """A line indented by ``indent``, wrapped lines indented alike (readable at 80 columns)."""
    line = Text(text) if isinstance(text, str) else text
    for part in line.wrap(console, max(20, console.width - indent)):
        part.rstrip()
        console.print(Text(" " * indent) + part, highlight=False, soft_wrap=True)


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 or share == 0 else "<1%"


def _header(data: dict[str, Any]) -> None:
    summary = data["summary"]
    root = summary.get("root")
    errors = summary["errorCount"]
    title = Text("trace ", style="bold")
    title.append(data["traceId"], style="bold")
    if errors:
        title.append(f"  {ERROR_MARK}: {errors} span(s) failed", style="bold red")
        if not any(o.get("propagated") for o in data["errors"]["origins"]):
            title.append(" (all handled: the request itself did not fail)", style="yellow")
    else:
        title.append("  ✓ no errors", style="green")
    console.print(title)
    if root is not None:
        _say(
            f"root {_label(root['service'], root['name'])}, "
            f"{format_ns(summary['durationNs'])}, started {utc(summary['startNs'] // 1000)} UTC",
            2,
        )
    services = ", ".join(
        f"{s['name']} ({s['spans']}{', ' + str(s['errors']) + ' err' if s['errors'] else ''})"
        for s in summary["services"]
    )
    _say(
        f"{summary['spanCount']} spans, depth {summary['depth']}, "
        f"max fan-out {summary['maxFanOut']}, {summary['rootCount']} root(s)",
        2,
    )
    _say(f"services: {services}", 2)


def _chain_text(origin: dict[str, Any]) -> Text:
    text = Text("path: ")
    for i, span in enumerate(origin.get("chainSpans") or []):
        if i:
            text.append(" → ")
        label = _label(span["service"], span["name"])
        if span["error"]:
            text.append(label, style="red")
            code = f" {span['statusCode']}" if span.get("statusCode") else ""
            if i:  # the origin's own failure is shown above
                text.append(f" ✗{code}", style="red")
        else:
            text.append(f"{label} (✓ ok: handled here)", style="green")
            break
    return text


def _origins(errors: dict[str, Any]) -> None:
    origins: list[dict[str, Any]] = errors["origins"]
    if not origins:
        return
    console.print()
    console.print(Text("WHERE IT FAILED", style="bold"))
    # Attempts of one retried call fail alike: show each distinct cause once.
    seen: dict[tuple[Any, ...], int] = {}
    shown: list[dict[str, Any]] = []
    for origin in origins:
        key = (origin["service"], origin["name"], origin["exceptionType"], origin["message"])
        if key in seen:
            seen[key] += 1
            continue
        seen[key] = 1
        shown.append(origin)
    for origin in shown:
        key = (origin["service"], origin["name"], origin["exceptionType"], origin["message"])
        line = Text(f"{ERROR_MARK} ", style="bold red")
        line.append(f"started in {_label(origin['service'], origin['name'])}", style="bold")
        if seen[key] > 1:
            line.append(f"  (x{seen[key]})")
        line.append(f"  span {origin['spanId']}", style="dim")
        _say(line, 2)
        exception = origin.get("exceptionType")
        message = origin.get("message")
        if exception or message:
            _say(Text(f"{exception or 'error'}: {message or ''}".rstrip(": "), style="red"), 4)
        if origin.get("frame"):
            _say(f"at {origin['frame']}", 4)
        status = origin.get("statusMessage")
        if status and message not in status:
            _say(f"status: {status}", 4)
        if len(origin.get("chainSpans") or []) > 1:
            _say(_chain_text(origin), 4)
        if origin.get("propagated"):
            _say("the failure reached the root", 4)


def _retries_and_handled(errors: dict[str, Any]) -> None:
    for retry in errors["retries"]:
        _say(
            Text(
                f"↻ retried: {_label(retry['service'], retry['name'])} "
                f"{retry['attempts']} attempts, {retry['failed']} failed "
                f"(under {_label(retry['parentService'], retry['parentName'])})",
                style="yellow",
            ),
            2,
        )
    handled = errors["handled"]
    if handled:
        names = sorted({_label(h["service"], h["name"]) for h in handled})
        _say(
            Text(
                f"handled: {len(handled)} failed span(s) whose caller carried on: "
                + ", ".join(names[:5]),
                style="yellow",
            ),
            2,
        )


def _share_table(title: str, rows: list[dict[str, Any]], with_name: bool, width: int) -> Table:
    table = Table(box=box.SIMPLE, pad_edge=False, title=title, title_justify="left")
    table.add_column("service: operation" if with_name else "service", overflow="fold")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("uninstrumented", justify="right", no_wrap=True)
    bar_width = max(5, min(30, width - 70))
    table.add_column("", no_wrap=True, width=bar_width)
    for row in rows[:_SHARE_ROWS]:
        name = _label(row["service"], row["name"]) if with_name else row["service"]
        gap = row.get("uninstrumentedNs", 0)
        table.add_row(
            name,
            format_ns(row["ns"]),
            _pct(row["share"]),
            format_ns(gap) if gap else "",
            "█" * max(1, round(row["share"] * bar_width)),
        )
    if len(rows) > _SHARE_ROWS:
        table.add_row(f"... {len(rows) - _SHARE_ROWS} more", "", "", "", "")
    return table


def _segment_text(segment: dict[str, Any]) -> Text:
    label = _label(segment["service"], segment["name"])
    if segment["uninstrumented"]:
        # inside a client span, the untraced time is the network and the callee's queue
        why = " (network, queueing)" if segment.get("kind") in ("client", "producer") else ""
        return Text(f"uninstrumented time in {label}{why}", style="yellow")
    text = Text(label)
    if segment.get("peer"):
        text.append(f" → {segment['peer']} (not traced)", style="yellow")
    return text


def _critical_path(path: dict[str, Any], width: int) -> None:
    console.print()
    console.print(
        Text(f"CRITICAL PATH  {format_ns(path['totalNs'])}", style="bold"),
        highlight=False,
    )
    console.print(_share_table("by service", path["byService"], False, width))
    console.print(_share_table("by operation", path["byOperation"], True, width))
    segments: list[dict[str, Any]] = path["segments"]
    if not segments:
        return
    total = max(1, path["totalNs"])
    origin_ns = segments[0]["startNs"]
    longest = sorted(segments, key=lambda s: s["startNs"] - s["endNs"])[:_PATH_ROWS]
    keep = {id(s) for s in longest}
    table = Table(
        box=box.SIMPLE,
        pad_edge=False,
        title=f"the path, in time order ({len(segments)} segments"
        + (f", the {_PATH_ROWS} longest shown)" if len(segments) > _PATH_ROWS else ")"),
        title_justify="left",
    )
    table.add_column("at", justify="right", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("where", overflow="fold")
    for segment in segments:
        if id(segment) not in keep:
            continue
        took = segment["endNs"] - segment["startNs"]
        table.add_row(
            format_ns(segment["startNs"] - origin_ns),
            format_ns(took),
            _pct(took / total),
            _segment_text(segment),
        )
    console.print(table)


def _skew(data: dict[str, Any]) -> None:
    skewed = data["skew"]
    if not skewed:
        return
    console.print()
    console.print(Text("CLOCK SKEW (timestamps shown as received)", style="bold"))
    for entry in skewed[:10]:
        where = "starts" if entry["issue"] == "starts-before-parent" else "ends"
        before = "before" if where == "starts" else "after"
        _say(
            Text(
                f"⚠ span {entry['spanId']} ({entry['service']}) {where} "
                f"{format_ns(entry['byNs'])} {before} its parent {entry['parentSpanId']} "
                f"({entry['parentService']}): their hosts' clocks disagree",
                style="yellow",
            ),
            2,
        )
    if len(skewed) > 10:
        _say(f"... and {data.get('skewCount', len(skewed)) - 10} more", 2)


@app.command()
def explain(
    trace_id: Annotated[str, typer.Argument(help="Trace id, or its first 8+ hex characters.")],
    json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")] = False,
    server: ServerOption = None,
) -> None:
    """Why one trace was slow or failed: where errors started, the critical path, clock skew."""
    data = get_json(server, f"/api/x/traces/{trace_id.strip()}/explain")
    if json:
        print_json(data)
        return
    _header(data)
    _origins(data["errors"])
    _retries_and_handled(data["errors"])
    _critical_path(data["criticalPath"], console.width)
    _skew(data)
    if data["warnings"]:
        console.print()
        for warning in data["warnings"]:
            console.print(Text(f"⚠ {warning}", style="yellow"), highlight=False)
