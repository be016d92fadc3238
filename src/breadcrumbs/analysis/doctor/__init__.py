"""The trace doctor: the classic instrumentation mistakes, found in the user's telemetry.

``diagnose(evidence)`` runs every check of ``registry.CHECKS`` over the store's aggregates for
one time range (``findings.Evidence``) and returns the findings, worst first.
"""

from __future__ import annotations

from collections.abc import Mapping

from breadcrumbs.analysis.doctor.findings import Check, Evidence, Example, Finding, Severity
from breadcrumbs.analysis.doctor.naming import ID_PATTERN
from breadcrumbs.analysis.doctor.registry import CHECKS

__all__ = [
    "CHECKS",
    "ID_PATTERN",
    "Check",
    "Evidence",
    "Example",
    "Finding",
    "Severity",
    "diagnose",
]


def diagnose(evidence: Evidence, checks: Mapping[str, Check] = CHECKS) -> list[Finding]:
    """Every check's findings, worst first (then the most affected)."""
    found = [finding for check in checks.values() for finding in check(evidence)]
    return sorted(found, key=lambda f: (-f.severity, -(f.count or 0), f.check, f.title))
