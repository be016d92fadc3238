"""Head sampling: error traces whose siblings the SDKs' samplers never recorded.

An endpoint that starts traces (root spans) at head-sampling probability p keeps an error
trace with probability p too: each error root span kept at p stands for 1/p error traces, of
which 1/p - 1 were dropped before anyone knew they would fail. Per root endpoint, from the
operation profile: error spans kept at p (its ``ot=th:`` tracestate), the root share of the
endpoint's spans, and p. ``sampling.errors-lost`` counts error spans everywhere; this counts
the traces users would have opened, and names the endpoints to fix.
"""

from __future__ import annotations

import math

from breadcrumbs.analysis.doctor.findings import Evidence, Example, Finding, Row, Severity
from breadcrumbs.analysis.doctor.sampling import probability

_LISTED = 5


def _lost(row: Row) -> tuple[float, float] | None:
    """(error traces lost, p) of a root endpoint sampled below 1, None otherwise."""
    roots, spans, errors = int(row["Roots"]), int(row["Spans"]), int(row["ErrorsSampled"])
    p = probability(str(row["SampledState"] or ""))
    if not roots or not errors or p is None or not 0 < p < 1:
        return None
    error_roots = errors * roots / spans  # the endpoint's error spans that were roots
    return error_roots * (1 / p - 1), p


def error_traces_lost(evidence: Evidence) -> list[Finding]:
    """Root endpoints whose error traces head sampling dropped, most lost first."""
    endpoints = []
    for row in evidence.operations:
        found = _lost(row)
        if found is not None:
            endpoints.append((found[0], found[1], row))
    if not endpoints:
        return []
    endpoints.sort(key=lambda entry: -entry[0])
    estimate = math.ceil(sum(lost for lost, _, _ in endpoints))
    listed = "; ".join(
        f"{row['ServiceName']} '{row['LastName']}' ~{math.ceil(lost):,} at p={p:.3g}"
        for lost, p, row in endpoints[:_LISTED]
    )
    more = f" and {len(endpoints) - _LISTED} more" if len(endpoints) > _LISTED else ""
    worst = endpoints[0][2]
    return [
        Finding(
            check="sampling.error-traces-lost",
            severity=Severity.HIGH if estimate >= 100 else Severity.MEDIUM,
            title=f"head sampling dropped ~{estimate:,} error traces",
            detail="Error traces are kept only as often as their endpoint is sampled: for "
            f"each kept at probability p, about 1/p - 1 others failed unseen. {listed}{more}.",
            fix="Keep every error trace: sample at the tail (breadcrumbs serve "
            "--tail-sampling-rate 0.1 keeps every error and slow trace and 10% of the rest) "
            "and let the SDKs send more (a higher probability for these endpoints in the "
            "--sampling-strategies file, or a higher --sampling-target-tps).",
            count=estimate,
            unit="error traces",
            examples=(
                Example(str(worst["Example"]), str(worst["ServiceName"]), str(worst["LastName"])),
            ),
        )
    ]
