"""Clock skew: per host pair, children that start before their parent, or after the client
span that waited for them ended (on one clock, neither can happen).

Clocks belong to hosts, so spans are paired by their resources' ``host.name``; where a side
does not say its host, the service stands for it (one service, one host, as far as we know).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from breadcrumbs.analysis.doctor.findings import (
    Evidence,
    Example,
    Finding,
    Row,
    Severity,
    percent,
    share,
)


@dataclass
class _Pair:
    calls: int = 0
    skewed: int = 0
    worst_ns: int = 0
    example: Example | None = None
    services: set[tuple[str, str]] = field(default_factory=set)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.1f} ms"


def _clocks(row: Row) -> tuple[str, str, bool] | None:
    """(parent's clock, child's clock, named by host) of a row whose two spans ran on
    different clocks, as far as the data tells; None when they share one or it is unknown."""
    parent, child = row["ParentService"], str(row["ServiceName"])
    if parent is None:
        return None
    parent_host, child_host = row.get("ParentHost"), row.get("Host")
    if parent_host and child_host:
        return (str(parent_host), str(child_host), True) if parent_host != child_host else None
    return (str(parent), child, False) if parent != child else None


def clock_skew(evidence: Evidence) -> list[Finding]:
    pairs: dict[tuple[str, str, bool], _Pair] = defaultdict(_Pair)
    for row in evidence.parents:
        clocks = _clocks(row)
        if clocks is None:
            continue
        pair = pairs[clocks]
        pair.calls += int(row["Spans"])
        skewed = int(row["StartsBefore"]) + int(row["StartsAfter"])
        if skewed:
            pair.skewed += skewed
            pair.services.add((str(row["ParentService"]), str(row["ServiceName"])))
            worst = max(int(row["MaxBeforeNs"]), int(row["MaxAfterNs"]))
            if worst > pair.worst_ns:
                pair.worst_ns = worst
                pair.example = Example(
                    str(row["Example"]), str(row["ServiceName"]), str(row["SpanName"])
                )
    findings = []
    for (parent, child, by_host), pair in sorted(pairs.items()):
        if not pair.skewed:
            continue
        often = share(pair.skewed, pair.calls)
        if often >= 0.5 and pair.worst_ns >= 10**7:
            severity = Severity.HIGH
        elif often >= 0.05 and pair.skewed >= 3:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        if by_host:
            calls = ", ".join(f"{caller} → {callee}" for caller, callee in sorted(pair.services))
            title = f"clock skew between hosts {parent} and {child}: up to {_ms(pair.worst_ns)}"
            spans = f"spans on {child} under parents on {parent} ({calls})"
            hosts = f"hosts {parent} and {child}"
        else:
            title = f"clock skew between {parent} and {child}: up to {_ms(pair.worst_ns)}"
            spans = f"spans of {child} under {parent}"
            hosts = f"the hosts running {parent} and {child} (set `host.name` in their "
            "resources, e.g. OTEL_RESOURCE_ATTRIBUTES=host.name=$(hostname), to see which)"
        findings.append(
            Finding(
                check="skew.clock-skew",
                severity=severity,
                title=title,
                detail=f"{pair.skewed:,} of {pair.calls:,} {spans} "
                f"({percent(pair.skewed, pair.calls)}) start before their parent, or after the "
                "client span that waited for them had ended: their clocks disagree.",
                fix=f"Synchronise the clocks of {hosts} (chrony or NTP; on VMs the "
                "hypervisor's clock source). Trace views adjust for it and say so; the stored "
                "times are left as sent.",
                count=pair.skewed,
                total=pair.calls,
                unit="spans",
                examples=(pair.example,) if pair.example else (),
            )
        )
    return findings
