"""Sampling: too little data to answer, and errors that head sampling threw away."""

from __future__ import annotations

import math
import re
from typing import Final

from breadcrumbs.analysis.doctor.findings import Evidence, Example, Finding, Severity, kind
from breadcrumbs.model import SpanKind

P99_TRACES: Final = 1_000
"""Traces a p99 needs: 10 of them above it, so one outlier does not decide it."""

# OpenTelemetry's consistent probability sampling: ``ot=th:<hex>`` in the W3C tracestate,
# the rejection threshold as up to 14 hex digits (trailing zeros dropped) of 2**56.
_THRESHOLD: Final = re.compile(r"(?:^|,)\s*ot=(?:[^,]*;)?th:([0-9a-f]{1,14})(?:;|,|$)")
_MAX_THRESHOLD: Final = 2**56


def probability(trace_state: str) -> float | None:
    """The sampling probability a span's tracestate records, None when it records none."""
    found = _THRESHOLD.search(trace_state or "")
    if not found:
        return None
    threshold = int(found.group(1).ljust(14, "0"), 16)
    return 1 - threshold / _MAX_THRESHOLD


def too_few_for_p99(evidence: Evidence) -> list[Finding]:
    """Server endpoints with too few traces in the window for a trustworthy p99."""
    thin = sorted(
        (
            row
            for row in evidence.operations
            if kind(row) == SpanKind.SERVER and int(row["Traces"]) < P99_TRACES
        ),
        key=lambda row: int(row["Traces"]),
    )
    if not thin:
        return []
    listed = "; ".join(
        f"{row['ServiceName']} '{row['LastName']}' {int(row['Traces']):,}" for row in thin[:5]
    )
    more = f" and {len(thin) - 5} more" if len(thin) > 5 else ""
    return [
        Finding(
            check="sampling.too-few-for-p99",
            severity=Severity.INFO,
            title=f"{len(thin)} endpoint{'s' if len(thin) > 1 else ''} with too few traces "
            "for a p99",
            detail=f"A p99 needs about {P99_TRACES:,} traces (10 above it) in the window; "
            f"these have fewer: {listed}{more}.",
            fix="Look at a longer time range (the CLI's --lookback), or keep more traces of quiet "
            "endpoints: tail sampling with a per-endpoint minimum rather than one head "
            "sampling rate for all.",
            count=len(thin),
            unit="endpoints",
            examples=tuple(
                Example(str(row["Example"]), str(row["ServiceName"]), str(row["LastName"]))
                for row in thin[:2]
            ),
        )
    ]


def errors_lost_to_head_sampling(evidence: Evidence) -> list[Finding]:
    """Error spans sampled at a probability below 1: for each kept, 1/p - 1 were dropped."""
    lost = 0.0
    kept = 0
    lowest = 1.0
    worst: Example | None = None
    for row in evidence.operations:
        p = probability(str(row["SampledState"] or ""))
        errors = int(row["ErrorsSampled"])
        if p is None or p >= 1 or p <= 0:
            continue
        lowest = min(lowest, p)
        if errors:
            kept += errors
            lost += errors * (1 / p - 1)
            worst = worst or Example(
                str(row["Example"]), str(row["ServiceName"]), str(row["LastName"])
            )
    if lowest >= 1:
        return [
            Finding(
                check="sampling.errors-lost",
                severity=Severity.INFO,
                title="error traces lost to head sampling: not measurable yet",
                detail="No span records the probability it was sampled at (`ot=th:` in its "
                "tracestate), so how many error traces head sampling dropped cannot be told.",
                fix="Use an SDK sampler that records its threshold (OpenTelemetry's "
                "consistent probability samplers); better, sample at the tail so every "
                "error trace is kept.",
                count=0,
                unit="traces",
            )
        ]
    if not kept:
        return []
    estimate = math.ceil(lost)
    return [
        Finding(
            check="sampling.errors-lost",
            severity=Severity.HIGH if estimate >= 100 else Severity.MEDIUM,
            title=f"head sampling dropped ~{estimate:,} error spans",
            detail=f"{kept:,} error spans were kept at sampling probabilities down to "
            f"{lowest:.3g}: for each, about 1/p - 1 others like it were never recorded.",
            fix="Decide after the trace ends: tail sampling that keeps every trace with an "
            "error (the OpenTelemetry Collector's tail_sampling processor with a "
            "status_code policy, or breadcrumbs' tail sampler), head-sampling the rest.",
            count=estimate,
            unit="error spans",
            examples=(worst,) if worst else (),
        )
    ]
