"""Clock skew: across a service pair, children that start before their parent, or after the
client span that waited for them ended (on one clock, neither can happen)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from breadcrumbs.analysis.doctor.findings import (
    Evidence,
    Example,
    Finding,
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


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.1f} ms"


def clock_skew(evidence: Evidence) -> list[Finding]:
    pairs: dict[tuple[str, str], _Pair] = defaultdict(_Pair)
    for row in evidence.parents:
        parent, child = row["ParentService"], str(row["ServiceName"])
        if parent is None or parent == child:
            continue
        pair = pairs[(str(parent), child)]
        pair.calls += int(row["Spans"])
        skewed = int(row["StartsBefore"]) + int(row["StartsAfter"])
        if skewed:
            pair.skewed += skewed
            worst = max(int(row["MaxBeforeNs"]), int(row["MaxAfterNs"]))
            if worst > pair.worst_ns:
                pair.worst_ns = worst
                pair.example = Example(str(row["Example"]), child, str(row["SpanName"]))
    findings = []
    for (parent, child), pair in sorted(pairs.items()):
        if not pair.skewed:
            continue
        often = share(pair.skewed, pair.calls)
        if often >= 0.5 and pair.worst_ns >= 10**7:
            severity = Severity.HIGH
        elif often >= 0.05 and pair.skewed >= 3:
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        findings.append(
            Finding(
                check="skew.clock-skew",
                severity=severity,
                title=f"clock skew between {parent} and {child}: up to {_ms(pair.worst_ns)}",
                detail=f"{pair.skewed:,} of {pair.calls:,} spans of {child} under {parent} "
                f"({percent(pair.skewed, pair.calls)}) start before their parent, or after the "
                "client span that waited for them had ended: their hosts' clocks disagree.",
                fix=f"Synchronise the clocks of the hosts running {parent} and {child} "
                "(chrony or NTP; on VMs the hypervisor's clock source). Trace views adjust "
                "for it and say so; the stored times are left as sent.",
                count=pair.skewed,
                total=pair.calls,
                unit="spans",
                examples=(pair.example,) if pair.example else (),
            )
        )
    return findings
