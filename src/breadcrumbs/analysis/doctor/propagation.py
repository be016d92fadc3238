"""Broken propagation: the trace context did not make it from one span to the next.

Each check judges only settled spans (their relatives had time to arrive, see
``store.base.DoctorWindow``), so spans still in flight never count as lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from breadcrumbs.analysis.doctor.findings import (
    Evidence,
    Example,
    Finding,
    Row,
    Severity,
    kind,
    percent,
    share,
)
from breadcrumbs.model import SpanKind

PROPAGATORS = (
    "configure the same propagators on both sides (OpenTelemetry SDKs: "
    "OTEL_PROPAGATORS=tracecontext,baggage; add b3multi where Zipkin B3 services take part)"
)


def _severity(lost: int, total: int) -> Severity:
    if lost >= 5 and share(lost, total) >= 0.2:
        return Severity.HIGH
    if lost >= 3 and share(lost, total) >= 0.02:
        return Severity.MEDIUM
    return Severity.LOW


def _host(address: object) -> str:
    """``host`` of ``host`` or ``host:port`` (a server span's ``server.address`` may carry
    the port); IPv6 brackets kept."""
    text = str(address or "")
    if text.startswith("["):
        return text.split("]", 1)[0] + "]"
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def listeners(evidence: Evidence) -> dict[tuple[str, str], str]:
    """(host, port) a service's server spans report -> that service (ambiguous ones dropped)."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in evidence.calls:
        if kind(row) == SpanKind.SERVER and row["Port"]:
            seen[(_host(row["Host"]), str(row["Port"]))].add(str(row["ServiceName"]))
    return {key: next(iter(names)) for key, names in seen.items() if len(names) == 1}


def callee(row: Row, services: frozenset[str], listeners: dict[tuple[str, str], str]) -> str:
    """The instrumented service a client span calls, "" when none is known."""
    peer = str(row["PeerService"] or "")
    if peer in services:
        return peer
    host = _host(row["Host"])
    if host in services:
        return host
    return listeners.get((host, str(row["Port"] or "")), "")


@dataclass
class _Edge:
    calls: int = 0
    lost: int = 0
    names: set[str] = field(default_factory=set)
    example: Example | None = None


def client_without_server(evidence: Evidence) -> list[Finding]:
    """Client spans to an instrumented service with no server span under them.

    When the callee meanwhile starts traces of its own (root server spans), the requests
    arrived without their context: that is high whatever the share (a break that began an
    hour into a day-long window is still a break)."""
    services = evidence.instrumented_services()
    known = listeners(evidence)
    edges: dict[tuple[str, str], _Edge] = defaultdict(_Edge)
    for row in evidence.calls:
        if kind(row) != SpanKind.CLIENT:
            continue
        target = callee(row, services, known)
        if not target or target == row["ServiceName"]:
            continue
        edge = edges[(str(row["ServiceName"]), target)]
        edge.calls += int(row["Spans"])
        lost = int(row["Childless"])
        if lost:
            edge.lost += lost
            edge.names.add(str(row["SpanName"]))
            if edge.example is None:
                edge.example = Example(
                    str(row["Example"]), str(row["ServiceName"]), row["SpanName"]
                )
    new_traces = _server_roots(evidence.operations)
    return [
        _lost_call(caller, target, edge, new_traces.get(target, 0))
        for (caller, target), edge in sorted(edges.items())
        if edge.lost
    ]


def _lost_call(caller: str, target: str, edge: _Edge, roots: int) -> Finding:
    examples = (edge.example,) if edge.example else ()
    counts = f"{edge.lost:,} of {edge.calls:,} client spans of {caller} calling {target}"
    if roots:
        # The callee served requests that came without a context: propagation broke.
        return Finding(
            check="propagation.client-without-server",
            severity=Severity.HIGH
            if edge.lost >= 5 and roots >= edge.lost // 2
            else _severity(edge.lost, edge.calls),
            title=f"{caller} → {target}: {edge.lost:,} calls lost their trace context "
            f"({percent(edge.lost, edge.calls)})",
            detail=f"{counts} (an instrumented service) have no server span under them, "
            f"while {target}'s server spans started {roots:,} traces of their own.",
            fix=f"{target} does not receive {caller}'s `traceparent`: make every proxy, load "
            "balancer or mesh between them forward the `traceparent`, `tracestate` and "
            f"`baggage` headers untouched, and {PROPAGATORS}.",
            count=edge.lost,
            total=edge.calls,
            unit="calls",
            examples=examples,
        )
    # No new traces in the callee: its spans for these calls were made but never arrived
    # (or never made); a missing context alone would have started new traces.
    return Finding(
        check="propagation.client-without-server",
        severity=min(_severity(edge.lost, edge.calls), Severity.MEDIUM),
        title=f"{caller} → {target}: {edge.lost:,} calls have no {target} span "
        f"({percent(edge.lost, edge.calls)})",
        detail=f"{counts} (an instrumented service) have no server span under them, and "
        f"{target} started no traces of its own: its spans for these calls never arrived.",
        fix=f"Check what drops {target}'s spans: a sampler that ignores the caller's decision "
        "(use OTEL_TRACES_SAMPLER=parentbased_traceidratio), an exporter that drops or times "
        "out under load (the SDK's logs, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_EXPORT_TIMEOUT), "
        f"or a path to {target} that skips its instrumentation.",
        count=edge.lost,
        total=edge.calls,
        unit="calls",
        examples=examples,
    )


def _server_roots(operations: Iterable[Row]) -> dict[str, int]:
    roots: dict[str, int] = defaultdict(int)
    for row in operations:
        if kind(row) == SpanKind.SERVER:
            roots[str(row["ServiceName"])] += int(row["Roots"])
    return roots


def orphans(evidence: Evidence) -> list[Finding]:
    """Spans whose parent never arrived; server and consumer spans (a remote parent) told
    apart. An in-process parent is usually an ancestor that ends after its children, so
    those count only in traces whose root has arrived (or that are old): a root still
    running is not a lost one."""
    groups: dict[tuple[str, bool], list[Row]] = defaultdict(list)
    with_parent: dict[str, int] = defaultdict(int)
    for row in evidence.parents:
        service = str(row["ServiceName"])
        with_parent[service] += int(row["Spans"])
        remote = kind(row) in (SpanKind.SERVER, SpanKind.CONSUMER)
        if row["ParentService"] is None and (remote or int(row["InCompleteTraces"])):
            groups[(service, remote)].append(row)
    findings = []
    for (service, remote), rows in sorted(groups.items()):
        counted = "Spans" if remote else "InCompleteTraces"
        lost = sum(int(row[counted]) for row in rows)
        top = max(rows, key=lambda row: int(row[counted]))
        names = sorted({str(row["SpanName"]) for row in rows})
        if remote:
            which = "server" if all(kind(r) == SpanKind.SERVER for r in rows) else "consumer"
            title = f"{service}: {which} spans whose remote parent never arrived"
            fix = (
                f"the caller of {service} sends a `traceparent` but its span never reaches "
                "breadcrumbs: it is not exported (check the caller's exporter endpoint), "
                "sampled out by a sampler that ignores the parent's decision (use "
                "parentbased_traceidratio: OTEL_TRACES_SAMPLER=parentbased_traceidratio), "
                "or made by a proxy that forwards its own span id without exporting spans "
                "(export the proxy's spans, or let it pass the header through unchanged)"
            )
        else:
            title = f"{service}: spans whose parent never arrived"
            fix = (
                "the parent span was started but never exported: end every span (use "
                "`with tracer.start_as_current_span(...)`), do not drop spans at the "
                "exporter (OTEL_BSP_MAX_QUEUE_SIZE, the SDK's dropped-span logs), and flush "
                "the SDK on shutdown"
            )
        findings.append(
            Finding(
                check="propagation.orphans",
                severity=_severity(lost, with_parent[service]),
                title=title,
                detail=f"{lost:,} of {with_parent[service]:,} spans of {service} with a "
                f"parent id have no parent in the trace ({', '.join(names[:3])}).",
                fix=fix[0].upper() + fix[1:] + ".",
                count=lost,
                total=with_parent[service],
                unit="spans",
                examples=(Example(str(top["Example"]), service, str(top["SpanName"])),),
            )
        )
    return findings


def several_roots(evidence: Evidence) -> list[Finding]:
    """Traces with more than one root span."""
    findings = []
    for row in evidence.roots:
        services = [str(s) for s in row["RootServices"]]
        traces = int(row["Traces"])
        findings.append(
            Finding(
                check="propagation.several-roots",
                severity=Severity.MEDIUM if traces >= 5 else Severity.LOW,
                title=f"traces with several roots (in {', '.join(services)})",
                detail=f"{traces:,} traces have up to {int(row['MaxRoots'])} spans without a "
                f"parent, in {', '.join(services)}: one request shown as several trees.",
                fix="A span was started without the active context: a new thread, task or "
                "callback lost it (pass it on: `contextvars.copy_context()`, "
                "`context.attach(ctx)`), or a service keeps the incoming trace id but drops "
                f"the parent span id (extract the whole `traceparent`; {PROPAGATORS}).",
                count=traces,
                unit="traces",
                examples=(Example(str(row["Example"]), services[0] if services else ""),),
            )
        )
    return findings


def message_starts_new_trace(evidence: Evidence) -> list[Finding]:
    """Consumer spans with neither a parent nor a link: the message lost its context."""
    findings = []
    for row in evidence.operations:
        if kind(row) != SpanKind.CONSUMER:
            continue
        lost = int(row["Roots"]) - int(row["LinkedRoots"])
        if lost <= 0:
            continue
        service, spans = str(row["ServiceName"]), int(row["Spans"])
        name = str(row["LastName"])
        findings.append(
            Finding(
                check="propagation.message-new-trace",
                severity=_severity(lost, spans),
                title=f"{service} '{name}': work that arrived by message starts a new trace",
                detail=f"{lost:,} of {spans:,} consumer spans have no parent and no link: "
                "the producer's trace ends at the queue.",
                fix="Inject the context into each message's headers when producing "
                "(`propagate.inject(headers)`) and extract it when consuming "
                "(`propagate.extract(headers)`) as the parent; a consumer of batches adds "
                "one span link per message instead.",
                count=lost,
                total=spans,
                unit="spans",
                examples=(Example(str(row["Example"]), service, name),),
            )
        )
    return findings
