"""Parameters of the analysis APIs over many traces (``/api/x/why``, ``/api/x/latency``,
``/api/x/compare``), parsed into the store's parameter objects; every error names the
parameter.

An endpoint: ``service`` (required), ``operation``, and a window: ``start``/``end`` in ns
since the epoch, or ``lookback`` (``1h``, ``30m``, ``2d``) before ``end`` (default: now),
1 hour by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from breadcrumbs.errors import BadInput
from breadcrumbs.query.jaeger_params import parse_go_duration, parse_lookback
from breadcrumbs.query.params import MAX_NS, Params, first, parse_int
from breadcrumbs.store.base import Endpoint, LatencyQuery, TraceSelection

DEFAULT_LOOKBACK_NS = 3600 * 10**9
DEFAULT_PERCENTILE = 90.0
MAX_LIMIT = 100


def parse_endpoint(params: Params, now_ns: int) -> Endpoint:
    service = first(params, "service").strip()
    if not service:
        raise BadInput("missing required param 'service'")
    operation = first(params, "operation") or None
    end_text, start_text = first(params, "end"), first(params, "start")
    end = parse_int(end_text, "end") if end_text else now_ns
    if start_text:
        start = parse_int(start_text, "start")
    else:
        lookback = parse_lookback(first(params, "lookback")) or DEFAULT_LOOKBACK_NS
        start = max(0, end - lookback)
    if start > end:
        raise BadInput("unable to parse param 'start': after 'end'")
    return Endpoint(start, end, service, operation)


def _parse_bool(text: str, name: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("", "0", "false", "no"):
        return False
    if lowered in ("1", "true", "yes"):
        return True
    raise BadInput(f"unable to parse param '{name}': not a boolean: {text[:64]!r}")


def parse_percentile(text: str, name: str = "percentile") -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"unable to parse param '{name}': not a number: {text[:64]!r}") from None
    if not math.isfinite(value) or not 0 < value < 100:
        raise BadInput(f"unable to parse param '{name}': {text[:64]!r} is not in (0, 100)")
    return value


@dataclass(frozen=True, slots=True)
class WhyRequest:
    selection: TraceSelection
    limit: int


def parse_why(params: Params, now_ns: int) -> WhyRequest:
    """A duration band (``slowerThan`` and/or ``fasterThan``, durations such as ``200ms``:
    at least the one, under the other), ``percentile`` (0-100) or ``errors=true``: at most
    one kind; the 90th percentile when none. ``limit``: findings per list (1-100)."""
    endpoint = parse_endpoint(params, now_ns)
    slower_text, percentile_text = first(params, "slowerThan"), first(params, "percentile")
    faster_text = first(params, "fasterThan")
    errors = _parse_bool(first(params, "errors"), "errors")
    band = bool(slower_text or faster_text)
    if sum((band, bool(percentile_text), errors)) > 1:
        raise BadInput(
            "give at most one of a band ('slowerThan'/'fasterThan'), 'percentile' and 'errors'"
        )
    limit_text = first(params, "limit")
    limit = parse_int(limit_text, "limit", minimum=1, maximum=MAX_LIMIT) if limit_text else 15
    if band:
        lower, upper = parse_band(slower_text, faster_text)
        selection = TraceSelection(endpoint, slower_than_ns=lower, faster_than_ns=upper)
    elif errors:
        selection = TraceSelection(endpoint, errors=True)
    else:
        percentile = parse_percentile(percentile_text) if percentile_text else DEFAULT_PERCENTILE
        selection = TraceSelection(endpoint, percentile=percentile)
    return WhyRequest(selection, limit)


def parse_band(slower_text: str, faster_text: str) -> tuple[int | None, int | None]:
    """``slowerThan``/``fasterThan`` as a band [lower, upper) of ns, either edge open."""
    lower = parse_go_duration(slower_text, "slowerThan") if slower_text else None
    upper = parse_go_duration(faster_text, "fasterThan") if faster_text else None
    if lower is not None and upper is not None and upper <= lower:
        raise BadInput("parameter 'fasterThan' must be longer than 'slowerThan' (a band)")
    return lower, upper


def parse_latency(params: Params, now_ns: int) -> LatencyQuery:
    """``timeBuckets`` (1-1000, default 60), ``bucketsPerDoubling`` (1-16, default 4)."""
    endpoint = parse_endpoint(params, now_ns)
    steps_text, per_text = first(params, "timeBuckets"), first(params, "bucketsPerDoubling")
    steps = parse_int(steps_text, "timeBuckets", minimum=1, maximum=1000) if steps_text else 60
    per = parse_int(per_text, "bucketsPerDoubling", minimum=1, maximum=16) if per_text else 4
    return LatencyQuery(endpoint, time_buckets=steps, buckets_per_doubling=per)


def parse_typical_window(params: Params, now_ns: int) -> int:
    """``lookback`` for "recent traces" of compare-with-typical, in ns (default 1 hour)."""
    lookback = parse_lookback(first(params, "lookback")) or DEFAULT_LOOKBACK_NS
    return min(lookback, MAX_NS)
