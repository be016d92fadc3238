"""Parameters of ``GET /api/x/critical-path``: which traces to aggregate and how to split them.

``service`` (required), ``operation``, a time range (``lookback`` such as ``1h`` or ``2d``,
default 1h; or ``start``/``end`` in ns), ``limit`` (traces analysed, newest first, default
1000, at most 100000), and optionally ``slowerThan`` (a duration such as ``200ms``) or
``percentile`` (e.g. ``95``): the traces slower than that are the selection and the others
its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from breadcrumbs.errors import BadInput
from breadcrumbs.query.analysis_params import parse_band
from breadcrumbs.query.jaeger_params import parse_lookback
from breadcrumbs.query.params import NS_PER_S, Params, first, parse_int
from breadcrumbs.store.base import TraceQuery

DEFAULT_LOOKBACK_NS: Final = 3600 * NS_PER_S
DEFAULT_TRACES: Final = 1_000
MAX_TRACES: Final = 100_000


@dataclass(frozen=True, slots=True)
class CriticalPathParams:
    query: TraceQuery
    """The search; its ``limit`` is the cap on traces analysed."""
    slower_than_ns: int | None = None
    percentile: float | None = None
    faster_than_ns: int | None = None
    """With ``slower_than_ns``: the selection is the band [slower, faster) of trace durations."""


def parse_critical_path(params: Params, now_ns: int) -> CriticalPathParams:
    service = first(params, "service").strip()
    if not service:
        raise BadInput("parameter 'service' is required")
    operation = first(params, "operation").strip() or None
    end_text, start_text = first(params, "end"), first(params, "start")
    end = parse_int(end_text, "end") if end_text else now_ns
    lookback = parse_lookback(first(params, "lookback"))
    if start_text:
        start = parse_int(start_text, "start")
    else:
        start = max(0, end - (lookback if lookback is not None else DEFAULT_LOOKBACK_NS))
    if start > end:
        raise BadInput("parameter 'start' is after 'end'")
    limit_text = first(params, "limit")
    limit = (
        parse_int(limit_text, "limit", minimum=1, maximum=MAX_TRACES)
        if limit_text
        else DEFAULT_TRACES
    )
    slower_text, percentile_text = first(params, "slowerThan"), first(params, "percentile")
    faster_text = first(params, "fasterThan")
    if (slower_text or faster_text) and percentile_text:
        raise BadInput("give a band ('slowerThan'/'fasterThan') or 'percentile', not both")
    slower, faster = parse_band(slower_text, faster_text)
    percentile = None
    if percentile_text:
        try:
            percentile = float(percentile_text)
        except ValueError:
            raise BadInput(
                f"parameter 'percentile' must be a number, got {percentile_text[:32]!r}"
            ) from None
        if not 0 < percentile < 100:
            raise BadInput("parameter 'percentile' must be between 0 and 100 (exclusive)")
    return CriticalPathParams(
        query=TraceQuery(
            start_ns=start, end_ns=end, service=service, operation=operation, limit=limit
        ),
        slower_than_ns=slower,
        percentile=percentile,
        faster_than_ns=faster,
    )
