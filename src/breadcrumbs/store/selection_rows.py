"""What every engine's reads over many traces share once their SQL has run: the sampling
rate of a side, a counted attribute row as an ``AttributeCount``, the latency percentiles
and time step. Engine-neutral, so both engines give the same answers from the same rows."""

from __future__ import annotations

from typing import Final

from breadcrumbs.store.base import AttributeCount, AttributeScope

SAMPLE_SCALE: Final = 1_000_000
"""A trace is drawn when hash(TraceId) % SAMPLE_SCALE is below its side's rate."""

PERCENTILES: Final = (50, 90, 95, 99)
"""The anchor duration percentiles of ``LatencyDistribution.percentiles_ns``."""


def sample_rate(traces: int, cap: int) -> int:
    """The hash threshold that keeps about ``cap`` of ``traces`` (all when fewer)."""
    if traces <= cap:
        return SAMPLE_SCALE
    return -(-SAMPLE_SCALE * cap // traces)


def latency_step(first_ns: int, last_ns: int, time_buckets: int) -> int:
    """The time step that splits [first, last] into at most ``time_buckets`` steps."""
    return max(1, -(-(last_ns - first_ns + 1) // max(1, time_buckets)))


def _number_text(number: float) -> str:
    return f"{number:g}"


def attribute_count(
    scope: AttributeScope,
    service: str,
    span_name: str,
    key: str,
    value: str,
    bucketed: bool,
    low: float | None,
    selected: int,
    baseline: int,
) -> AttributeCount:
    """One counted value; a ``bucketed`` one is the power-of-two bucket starting at ``low``."""
    high = low
    if bucketed and low is not None:
        high = 2 * low if low > 0 else (low / 2 if low < 0 else 0.0)
        value = f"[{_number_text(low)}, {_number_text(high)})" if low else "0"
    return AttributeCount(
        scope, service, span_name, key, value, int(selected), int(baseline), low, high
    )


EXAMPLES: Final = 3
"""Selected traces ``why`` names, for a person to open next."""
