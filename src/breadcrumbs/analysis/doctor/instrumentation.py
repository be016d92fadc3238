"""Under-instrumentation: time no span explains, services known only from their callers."""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from breadcrumbs.analysis.doctor.findings import (
    Evidence,
    Example,
    Finding,
    Severity,
    kind,
    percent,
    quoted,
)
from breadcrumbs.analysis.doctor.propagation import callee, listeners
from breadcrumbs.model import SpanKind

UNCOVERED_NS: Final = 100 * 10**6
"""Median uncovered time of a server operation worth instrumenting (below: noise)."""
UNCOVERED_SHARE: Final = 0.5
MIN_SPANS: Final = 5


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.0f} ms"


def uncovered_time(evidence: Evidence) -> list[Finding]:
    """Server spans whose time is mostly in no child span."""
    findings = []
    for row in evidence.calls:
        if kind(row) != SpanKind.SERVER or int(row["Spans"]) < MIN_SPANS:
            continue
        uncovered, whole = int(row["SelfP50Ns"]), int(row["DurationP50Ns"])
        if uncovered < UNCOVERED_NS or uncovered < UNCOVERED_SHARE * whole:
            continue
        service, name, spans = str(row["ServiceName"]), str(row["SpanName"]), int(row["Spans"])
        leaves = int(row["Childless"])
        no_children = (
            f" {percent(leaves, spans)} of them have no child span at all." if leaves else ""
        )
        findings.append(
            Finding(
                check="instrumentation.uncovered-time",
                severity=Severity.MEDIUM if uncovered >= 2 * UNCOVERED_NS else Severity.LOW,
                title=f"{service} '{name}': {_ms(uncovered)} of a median {_ms(whole)} is in "
                "no child span",
                detail=f"Over {spans:,} spans, a median {_ms(uncovered)} "
                f"({percent(uncovered, whole)}) is not covered by any child span: whatever "
                "is slow there cannot be seen." + no_children,
                fix="Instrument what it does in that time: its database driver and HTTP "
                "client (the OpenTelemetry auto-instrumentation, `opentelemetry-instrument`, "
                "covers the common libraries) and its own slow functions (a span around "
                "them, e.g. breadcrumbs.sdk's `@traced`).",
                count=spans,
                unit="spans",
                examples=(Example(str(row["Example"]), service, name),),
            )
        )
    return findings


def peers_only(evidence: Evidence) -> list[Finding]:
    """Services named by their callers' ``peer.service`` that send no spans themselves
    (databases and message brokers excepted: nobody traces inside those)."""
    services = evidence.instrumented_services()
    known = listeners(evidence)
    calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    examples: dict[str, Example] = {}
    for row in evidence.calls:
        peer = str(row["PeerService"] or "")
        if kind(row) not in (SpanKind.CLIENT, SpanKind.PRODUCER) or not peer or row["System"]:
            continue
        if peer in services or callee(row, services, known):
            continue
        calls[peer][str(row["ServiceName"])] += int(row["Spans"])
        examples.setdefault(
            peer, Example(str(row["Example"]), str(row["ServiceName"]), str(row["SpanName"]))
        )
    findings = []
    for peer, callers in sorted(calls.items()):
        total = sum(callers.values())
        findings.append(
            Finding(
                check="instrumentation.peers-only",
                severity=Severity.LOW,
                title=f"{peer} is seen only as a peer",
                detail=f"{total:,} calls to {peer} from {quoted(sorted(callers))}, but no "
                f"span of its own: its time is a black box in every trace.",
                fix=f"If {peer} is yours, instrument it (an OpenTelemetry SDK or "
                "auto-instrumentation, OTEL_PROPAGATORS=tracecontext,baggage, exporting to "
                "breadcrumbs); if it is a third party, keep `peer.service` on the client "
                "spans so the service graph still shows it.",
                count=total,
                unit="calls",
                examples=(examples[peer],),
            )
        )
    return findings
