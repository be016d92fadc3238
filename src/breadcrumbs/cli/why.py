"""``why``, ``latency`` and ``compare``: questions about many traces, answered in the terminal
(ranked tables with bars; differences marked in text, not colour alone)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from breadcrumbs.cli.app import app, console
from breadcrumbs.cli.client import ServerOption, format_ns, get_json, print_json, utc

_BAR = 10
_SHADES = " ░▒▓█"

ServiceOption = Annotated[str, typer.Option("--service", "-s", help="Service name.")]
OperationOption = Annotated[
    Optional[str],  # noqa: UP045 (typer reads the annotation at runtime)
    typer.Option("--operation", "-o", help="Operation (span name) \\[default: entry spans]."),
]
LookbackOption = Annotated[
    str, typer.Option("--lookback", help="How far back from now, e.g. 15m, 1h, 2d.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def bar(share: float, width: int = _BAR) -> str:
    """A proportion as a fixed-width bar: ``███░░░░░░░``."""
    filled = max(0, min(width, round(share * width)))
    return "█" * filled + "░" * (width - filled)


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _shorten(text: str, limit: int = 90) -> str:
    """Long values (SQL, URLs) cut to a readable length; --json has them whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(sources: list[dict[str, str]]) -> str:
    if not sources:
        return ""
    first = sources[0]
    text = first["service"] + (f": {first['spanName']}" if first["spanName"] else " (resource)")
    return text + (f" +{len(sources) - 1} more" if len(sources) > 1 else "")


def _sides(finding: dict[str, Any]) -> tuple[Text, Text]:
    selected, baseline = finding["selected"], finding["baseline"]
    return (
        Text(f"{_percent(selected['share']):>4} {bar(selected['share'])} {selected['count']}"),
        Text(f"{_percent(baseline['share']):>4} {bar(baseline['share'])} {baseline['count']}"),
    )


def _with_where(what: str, where: str) -> Text:
    """A finding or an operation, where it was seen (its service) dimmed on the line below:
    in a column of its own, each was folded mid-word in 80 columns."""
    return Text.assemble(what, "\n", (where, "dim"))


def _dropped_key_names(dropped: list[dict[str, Any]]) -> list[str]:
    """Each left-out key once (the API lists it per service and operation), the most
    widespread first: "user.id (5 services)"."""
    services: dict[str, set[str]] = {}
    for entry in dropped:
        services.setdefault(entry["key"], set()).add(entry["service"])
    ranked = sorted(services.items(), key=lambda item: (-len(item[1]), item[0]))
    return [f"{key} ({len(seen)} services)" if len(seen) > 1 else key for key, seen in ranked]


def _findings_table(title: str, rows: list[dict[str, Any]], label: str, side: str) -> Table:
    # Where a finding was seen goes under it (``_with_where``): as a column of its own, both
    # were folded mid-word in an 80-column terminal ("order.item_coun / t >= 5").
    table = Table(title=title, title_justify="left", box=box.SIMPLE, pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column(f"{label} (where)", overflow="fold")
    table.add_column(side, no_wrap=True)
    table.add_column("others", no_wrap=True)
    for i, row in enumerate(rows, 1):
        chosen, others = _sides(row)
        if "text" in row:
            what, where = _shorten(row["text"]), _where(row["sources"])
            if row.get("aliases"):
                what += f" (also {', '.join(row['aliases'])})"
        else:
            what, where = row["spanName"], row["service"]
        table.add_row(str(i), _with_where(what, where), chosen, others)
    return table


def _selection_words(answer: dict[str, Any]) -> tuple[str, str]:
    """(headline of the selection, its short name for column titles)."""
    selection = answer["selection"]
    threshold = selection.get("thresholdNs")
    if selection["kind"] == "errors":
        return "with an error", "failing"
    limit = format_ns(threshold) if threshold is not None else "?"
    if selection["kind"] == "percentile":
        return f"at or above p{selection['percentile']:g} ({limit})", "slow"
    if selection["kind"] == "band":
        upper = format_ns(selection["upperNs"])
        if threshold is None:
            return f"faster than {upper}", "fast"
        return f"between {limit} and {upper}", "in-band"
    return f"slower than {limit}", "slow"


def _band_words(critical: dict[str, Any]) -> str:
    lower, upper = critical["slowerThanNs"], critical.get("fasterThanNs")
    if upper is None:
        return f"slower than {format_ns(lower or 0)}"
    if lower is None:
        return f"faster than {format_ns(upper)}"
    return f"between {format_ns(lower)} and {format_ns(upper)}"


def _critical_path_table(critical: dict[str, Any]) -> Table:
    """Per operation: its critical-path time per trace in the slow traces and in the others."""
    selected, baseline = critical["selected"], critical["baseline"]

    def per_trace(side: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(row["service"], row.get("name", "")): row for row in side["byOperation"]}

    slow, others = per_trace(selected), per_trace(baseline)
    added = {
        key: slow.get(key, {}).get("meanNs", 0) - others.get(key, {}).get("meanNs", 0)
        for key in slow.keys() | others.keys()
    }
    table = Table(
        title=f"Where the critical path time goes: {selected['traces']} whole traces "
        f"{_band_words(critical)} vs {baseline['traces']} others",
        title_justify="left",
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column("#", justify="right")
    table.add_column("operation (service)", overflow="fold")
    for name in ("slow", "others", "added"):
        table.add_column(name, justify="right", no_wrap=True)
    ranked = sorted(added.items(), key=lambda item: -item[1])[:8]
    for i, ((service, name), extra) in enumerate(ranked, 1):
        table.add_row(
            str(i),
            _with_where(name or "(all)", service),
            format_ns(slow.get((service, name), {}).get("meanNs", 0)),
            format_ns(others.get((service, name), {}).get("meanNs", 0)),
            ("+" if extra >= 0 else "-") + format_ns(abs(extra)),
        )
    return table


def render_why(answer: dict[str, Any]) -> None:
    endpoint, traces = answer["endpoint"], answer["traces"]
    headline, side = _selection_words(answer)
    what = endpoint["service"] + (f": {endpoint['operation']}" if endpoint["operation"] else "")
    console.print(
        f"[bold]why[/bold] {what}: {traces['selected']} traces {headline} "
        f"vs {traces['baseline']} others"
    )
    if (
        traces["sampledSelected"] < traces["selected"]
        or traces["sampledBaseline"] < traces["baseline"]
    ):
        console.print(
            f"  (counted on a sample: {traces['sampledSelected']} {side} and "
            f"{traces['sampledBaseline']} other traces)"
        )
    if not traces["selected"] or not traces["baseline"]:
        console.print(
            "Nothing to compare: every trace is on one side. Widen --lookback or change the "
            "threshold."
        )
        return
    attributes = answer["attributes"]
    if attributes:
        console.print(
            _findings_table(
                f"What the {side} traces have in common (share of traces with it)",
                attributes,
                "attribute",
                side,
            )
        )
    else:
        console.print(f"No attribute value is significantly more common in the {side} traces.")
    if answer["operations"]:
        console.print(
            _findings_table(
                f"Operations found more often in the {side} traces",
                answer["operations"],
                "operation",
                side,
            )
        )
    if answer["time"]:
        table = Table(
            title=f"Where the extra time goes (self time per trace, {side} vs others)",
            title_justify="left",
            box=box.SIMPLE,
            pad_edge=False,
        )
        table.add_column("#", justify="right")
        table.add_column("operation (service)", overflow="fold")
        for name in (side, "others", "added"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("share of added", no_wrap=True)
        for i, row in enumerate(answer["time"][:8], 1):
            table.add_row(
                str(i),
                _with_where(row["spanName"], row["service"]),
                format_ns(row["selectedSelfNs"]),
                format_ns(row["baselineSelfNs"]),
                "+" + format_ns(row["addedSelfNs"]),
                f"{bar(row['share'])} {_percent(row['share'])}",
            )
        console.print(table)
    critical = answer.get("criticalPath")
    if critical and critical["selected"]["traces"] and critical["baseline"]["traces"]:
        console.print(_critical_path_table(critical))
    rarer = answer["rarerAttributes"][:5]
    if rarer:
        console.print(
            _findings_table(f"Less common in the {side} traces", rarer, "attribute", side)
        )
    dropped = answer["droppedKeys"]
    if dropped:
        names = _dropped_key_names(dropped)
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        console.print(
            Text("Left out, nearly unique per trace: " + ", ".join(names[:8]) + more, style="dim")
        )
    examples = answer.get("examples") or []
    if examples:
        console.print()
        console.print(Text(f"Look at one: the newest {side} traces", style="bold"))
        for trace_id in examples:
            console.print(f"  breadcrumbs explain {trace_id}", highlight=False, soft_wrap=True)


@app.command()
def why(
    service: ServiceOption,
    operation: OperationOption = None,
    slower_than: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--slower-than", help="Select traces at least this slow, e.g. 200ms."),
    ] = None,
    faster_than: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--faster-than",
            help="Select traces under this duration; with --slower-than, a band "
            "(e.g. the middle hump of a bimodal latency).",
        ),
    ] = None,
    percentile: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--percentile", "-p", help="Select traces at or above this percentile."),
    ] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Select failing traces.")] = False,
    lookback: LookbackOption = "1h",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100)] = 15,
    json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """What is different about the slow (or failing) traces of a service or operation.

    Without --slower-than, --percentile or --errors: the slowest 10% (p90)."""
    band = slower_than is not None or faster_than is not None
    if sum((band, percentile is not None, errors)) > 1:
        raise typer.BadParameter(
            "give at most one of a band (--slower-than/--faster-than), --percentile, --errors"
        )
    params = {"service": service, "lookback": lookback, "limit": str(limit)}
    if operation:
        params["operation"] = operation
    if slower_than:
        params["slowerThan"] = slower_than
    if faster_than:
        params["fasterThan"] = faster_than
    if percentile is not None:
        params["percentile"] = f"{percentile:g}"
    if errors:
        params["errors"] = "true"
    answer = get_json(server, "/api/x/why", params)
    if json:
        print_json(answer)
        return
    render_why(answer)


def render_latency(answer: dict[str, Any], width: int) -> None:
    endpoint = answer["endpoint"]
    what = endpoint["service"] + (f": {endpoint['operation']}" if endpoint["operation"] else "")
    if not answer["count"]:
        console.print(f"No spans of {what} in the window.")
        return
    p = answer["percentilesNs"]
    errors = answer["errors"]
    console.print(
        f"[bold]latency[/bold] {what}: {answer['count']} spans"
        + (f", {errors} ✗ ERROR" if errors else "")
        + f"   p50 {format_ns(p['p50'])}  p90 {format_ns(p['p90'])}  "
        f"p95 {format_ns(p['p95'])}  p99 {format_ns(p['p99'])}  max {format_ns(answer['maxNs'])}"
    )
    histogram = answer["histogram"]
    peak = max(row["count"] for row in histogram)
    bar_width = max(10, min(50, width - 40))
    table = Table(box=box.SIMPLE, pad_edge=False, title="histogram", title_justify="left")
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for row in histogram:
        share = row["count"] / peak
        failing = f" {row['errors']} err" if row["errors"] else ""
        table.add_row(
            f"{format_ns(row['lowNs'])}-{format_ns(row['highNs'])}",
            str(row["count"]),
            "█" * max(1, round(share * bar_width)) + failing,
        )
    console.print(table)
    _heatmap(answer, width)


def _heatmap(answer: dict[str, Any], width: int) -> None:
    cells = answer["heatmap"]
    steps = max(c["step"] for c in cells) + 1
    if steps < 2:
        return
    buckets = sorted({c["bucket"] for c in cells}, reverse=True)
    columns = max(10, min(steps, width - 22))
    per_column = -(-steps // columns)
    grid: dict[tuple[int, int], int] = {}
    for c in cells:
        key = (c["bucket"], c["step"] // per_column)
        grid[key] = grid.get(key, 0) + c["count"]
    peak = max(grid.values())
    low = {c["bucket"]: c["lowNs"] for c in cells}
    console.print(f"time x duration (each column {format_ns(answer['stepNs'] * per_column)})")
    for bucket in buckets:
        line = "".join(
            _SHADES[min(4, -(-4 * grid.get((bucket, col), 0) // peak))]
            for col in range(-(-steps // per_column))
        )
        console.print(Text(f"{format_ns(low[bucket]):>9} │{line}"))
    end_ns = answer["startNs"] + steps * answer["stepNs"]
    console.print(
        Text(f"{'':>9} └ {utc(answer['startNs'] // 1000)} … {utc(end_ns // 1000)} UTC", style="dim")
    )


@app.command()
def latency(
    service: ServiceOption,
    operation: OperationOption = None,
    lookback: LookbackOption = "1h",
    json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """Latency histogram and time x duration heatmap of a service or operation."""
    params = {"service": service, "lookback": lookback}
    if operation:
        params["operation"] = operation
    answer = get_json(server, "/api/x/latency", params)
    if json:
        print_json(answer)
        return
    render_latency(answer, console.width)


def _count_and_time(side: dict[str, Any]) -> str:
    if not side["count"]:
        return "-"
    times = f"{side['count']}× " if side["count"] > 1 else ""
    return times + format_ns(side["durationNs"])


def _delta(ns: int) -> Text:
    if ns == 0:
        return Text("=")
    sign = "+" if ns > 0 else "-"
    return Text(f"{sign}{format_ns(abs(ns))} {'longer' if ns > 0 else 'shorter'}")


_STATUS = {"only-a": "ONLY IN A", "only-b": "ONLY IN B", "count": "COUNT DIFFERS", "same": ""}


def _shape_line(name: str, shape: dict[str, Any]) -> str:
    root = shape["root"] or {"service": "?", "spanName": "?"}
    errors = f", {shape['errors']} ✗ ERROR" if shape["errors"] else ""
    return (
        f"{name} {shape['traceId']}  {root['service']}: {root['spanName']}  "
        f"{format_ns(shape['durationNs'])}, {shape['spans']} spans{errors}"
    )


def _under(row: dict[str, Any]) -> str:
    """`` (under service: name)``: the parent, which tells apart spans of one name."""
    if len(row["path"]) < 2:
        return ""
    parent = row["path"][-2]
    return f" (under {parent['service']}: {parent['spanName']})"


def render_compare(answer: dict[str, Any]) -> None:
    a, b = answer["a"], answer["b"]
    console.print(_shape_line("A", a))
    label = "B (typical trace of the endpoint)" if answer["baseline"] == "typical" else "B"
    console.print(_shape_line(label, b))
    if answer["identical"]:
        console.print("No difference: same structure and the same time at every span.")
        return
    delta = answer["deltaNs"]
    console.print(Text.assemble("A vs B: ", _delta(delta), " end to end"))
    table = Table(box=box.SIMPLE, pad_edge=False)
    table.add_column("span (indented under its parent)", overflow="fold", ratio=3)
    table.add_column("service", overflow="fold", ratio=2)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("B", justify="right", no_wrap=True)
    table.add_column("self Δ", no_wrap=True)
    table.add_column("structure", no_wrap=True)
    for row in answer["paths"]:
        status = _STATUS[row["status"]]
        style = "bold" if status or abs(row["selfDeltaNs"]) * 10 >= max(1, abs(delta)) else ""
        table.add_row(
            Text("  " * row["depth"] + row["spanName"], style=style),
            row["service"],
            _count_and_time(row["a"]),
            _count_and_time(row["b"]),
            _delta(row["selfDeltaNs"]),
            status,
        )
    console.print(table)
    latency_rows = answer["latency"][:5]
    if latency_rows:
        console.print("Biggest self-time differences:")
        for row in latency_rows:
            console.print(
                Text.assemble(
                    f"  {row['service']}: {row['spanName']}{_under(row)}  ",
                    _delta(row["selfDeltaNs"]),
                    f"  ({format_ns(row['a']['selfNs'])} vs {format_ns(row['b']['selfNs'])})",
                )
            )


@app.command()
def compare(
    trace_a: Annotated[str, typer.Argument(help="Trace id (hex), or its first 8+ hex.")],
    trace_b: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Trace id to compare with \\[default: the typical trace of A's root]."),
    ] = None,
    lookback: LookbackOption = "1h",
    json: JsonOption = False,
    server: ServerOption = None,
) -> None:
    """Compare two traces (structure and latency); B omitted: A's endpoint's typical trace."""
    if trace_b:
        answer = get_json(server, f"/api/x/compare/{trace_a}/{trace_b}")
    else:
        answer = get_json(server, f"/api/x/compare/{trace_a}", {"lookback": lookback})
    if json:
        print_json(answer)
        return
    render_compare(answer)
