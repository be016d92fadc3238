"""``doctor``: the instrumentation mistakes in the server's recent telemetry, worst first."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.padding import Padding
from rich.text import Text

from breadcrumbs.cli.app import app, console
from breadcrumbs.cli.client import ServerOption, get_json, print_json, utc

# Severity in words and a mark, so piped output and colour-blind readers see it too.
_SEVERITY = {
    "high": ("✗ HIGH", "bold red"),
    "medium": ("! MEDIUM", "yellow"),
    "low": ("· LOW", "cyan"),
    "info": ("i INFO", "dim"),
}
_INDENT = 4


def _count(finding: dict[str, Any]) -> str:
    count, total, unit = finding["count"], finding.get("total"), finding["unit"]
    if total:
        return f"{count:,} of {total:,} {unit}"
    return f"{count:,} {unit}"


def _example(example: dict[str, Any]) -> Text:
    text = Text("trace ")
    text.append(example["traceId"], style="bold")
    where = " ".join(
        part
        for part in (
            example.get("service") or "",
            repr(example["spanName"]) if example.get("spanName") else "",
        )
        if part
    )
    if where:
        text.append(f"  {where}", style="dim")
    return text


def _print_finding(finding: dict[str, Any]) -> None:
    label, style = _SEVERITY.get(finding["severity"], (finding["severity"].upper(), ""))
    head = Text()
    head.append(f"{label:<8}", style=style)
    head.append(f" {finding['family']:<16}", style="dim")
    head.append(finding["title"], style="bold")
    console.print(head)
    body = [
        Text(f"{finding['detail']} [{_count(finding)}]"),
        Text.assemble(("fix: ", "green"), finding["fix"]),
    ]
    body.extend(Text.assemble(("e.g. ", "dim"), _example(e)) for e in finding["examples"])
    for part in body:
        console.print(Padding(part, (0, 0, 0, _INDENT)))
    console.print()


@app.command()
def doctor(
    lookback: Annotated[
        str, typer.Option("--lookback", help="How far back to look: 15m, 1h, 2d.")
    ] = "1h",
    settle: Annotated[
        str,
        typer.Option(
            "--settle",
            help="How long spans may take to arrive; younger ones are not judged for a "
            "missing parent or child.",
        ),
    ] = "30s",
    json_output: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    server: ServerOption = None,
) -> None:
    """Find instrumentation mistakes, worst first, each with how to fix it.

    Broken propagation, bad span names, clock skew, under-instrumentation and more."""
    data = get_json(server, "/api/x/doctor", {"lookback": lookback, "settle": settle})
    if json_output:
        print_json(data)
        return
    findings: list[dict[str, Any]] = data["findings"]
    scope = data["scope"]
    console.print(
        Text.assemble(
            ("breadcrumbs doctor", "bold"),
            f": {utc(data['startNs'] // 1000)} → {utc(data['endNs'] // 1000)} UTC "
            f"(last {lookback}), {scope['spans']:,} spans examined"
            + (
                f" (attributes of 1 in {scope['attributeTraces']} traces)"
                if scope.get("attributeTraces", 1) > 1
                else ", all of them"
            ),
        )
    )
    console.print()
    if not findings:
        console.print("✓ no instrumentation mistakes found", style="green")
    for finding in findings:
        _print_finding(finding)
    counts = {name: 0 for name in _SEVERITY}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    note = (
        f"; the largest {scope['maxRows']:,} groups of {', '.join(scope['truncated'])} only"
        if scope["truncated"]
        else ""
    )
    console.print(Text(f"{len(findings)} findings: {summary}{note}.", style="bold"))
