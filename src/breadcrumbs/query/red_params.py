"""Parameters of the RED and service-graph APIs: the native ones (``/api/x/red``,
``/api/x/service-graph``: times in ns, durations in Go syntax or ns) and Jaeger's monitoring
API (``/api/metrics/*``: ``endTs`` in ms, durations in ms, as ``http_handler.go`` and
``query_parser.go``'s ``parseMetricsQueryParams`` take them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from breadcrumbs.analysis.red import LEVELS_NS, MINUTE_NS
from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanKind
from breadcrumbs.query.jaeger_params import parse_go_duration
from breadcrumbs.query.params import (
    MAX_NS,
    NS_PER_MS,
    NS_PER_S,
    Params,
    first,
    parse_int,
    scaled,
    values,
)
from breadcrumbs.store.base import PEER_SETTLE_NS, RedQuery, ServiceGraphQuery

DEFAULT_RANGE_NS: Final = 3600 * NS_PER_S
MAX_POINTS: Final = 1_500  # steps per series; a finer step over a longer range is a 400
AUTO_POINTS: Final = 60  # the step chosen when none is given
MAX_SERVICE_GRAPH_RANGE_NS: Final = 24 * 3600 * NS_PER_S

# Jaeger's defaults (query_parser.go): lookback 1h, step 5s, ratePer 10m, span kind server.
JAEGER_LOOKBACK_NS: Final = 3600 * NS_PER_S
JAEGER_STEP_NS: Final = 5 * NS_PER_S
JAEGER_RATE_PER_NS: Final = 600 * NS_PER_S
JAEGER_MIN_STEP_MS: Final = MINUTE_NS // NS_PER_MS


# Steps chosen when none is given: round figures, each a multiple of a kept level.
NICE_STEPS_NS: Final = tuple(
    minutes * MINUTE_NS for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)
)


def _nice_step(ns: int) -> int:
    return next((step for step in NICE_STEPS_NS if step >= ns), _minutes_up(ns))


def aligned_start(start_ns: int, step_ns: int) -> int:
    """``start_ns`` floored to the coarsest kept level dividing the step, so that each step
    is read from that level's rows (a day in 5 min steps reads 5 min rows, not minutes)."""
    level = max(level for level in LEVELS_NS if step_ns % level == 0)
    return start_ns - start_ns % level


def _minutes_up(ns: int) -> int:
    """``ns`` rounded up to whole minutes, at least one (the aggregates' resolution)."""
    return max(MINUTE_NS, -(-ns // MINUTE_NS) * MINUTE_NS)


def parse_step(text: str, name: str = "step") -> int:
    """ns from a Go duration (``5m``) or a bare integer of ns."""
    if text.strip().isascii() and text.strip().isdigit():
        return parse_int(text, name, minimum=1)
    return parse_go_duration(text, name)


def parse_time_range(params: Params, now_ns: int) -> tuple[int, int]:
    """(start, end) ns from ``start``/``end`` (ns; default: the hour before now)."""
    end_text, start_text = first(params, "end"), first(params, "start")
    end = parse_int(end_text, "end") if end_text else now_ns
    start = parse_int(start_text, "start") if start_text else max(0, end - DEFAULT_RANGE_NS)
    if start >= end:
        raise BadInput("unable to parse param 'start': start must be before end")
    return start, end


def _span_kinds(params: Params, name: str) -> tuple[SpanKind, ...]:
    kinds: list[SpanKind] = []
    for text in values(params, name):
        for part in text.split(","):
            if part.strip():
                kinds.append(SpanKind.parse(part))
    return tuple(dict.fromkeys(kinds))


def _services(params: Params, name: str) -> tuple[str, ...]:
    found: list[str] = []
    for text in values(params, name):
        found.extend(part for part in text.split(",") if part)
    return tuple(dict.fromkeys(found))


def parse_red(params: Params, now_ns: int) -> RedQuery:
    """``service`` (repeatable), ``operation``, ``spanKind`` (repeatable), ``start``, ``end``,
    ``step`` (default: about 60 points, a round figure), ``groupBy`` (``operation``, the
    default, or ``service``: one row per service and kind)."""
    start, end = parse_time_range(params, now_ns)
    step_text = first(params, "step")
    span = end - start
    step = _minutes_up(parse_step(step_text) if step_text else _nice_step(span // AUTO_POINTS))
    if span // step > MAX_POINTS:
        raise BadInput(
            f"unable to parse param 'step': {span // step} steps; at most {MAX_POINTS} "
            "(choose a longer step or a shorter range)"
        )
    group_by = first(params, "groupBy") or "operation"
    if group_by not in ("operation", "service"):
        raise BadInput("unable to parse param 'groupBy': expected operation or service")
    operation = first(params, "operation") or None
    return RedQuery(
        start_ns=start,
        end_ns=end,
        step_ns=step,
        services=_services(params, "service"),
        operation=operation,
        span_kinds=_span_kinds(params, "spanKind"),
        by_operation=group_by == "operation" or operation is not None,
    )


def parse_service_graph(params: Params, now_ns: int) -> ServiceGraphQuery:
    start, end = parse_time_range(params, now_ns)
    if end - start > MAX_SERVICE_GRAPH_RANGE_NS:
        raise BadInput("unable to parse param 'start': the service graph spans at most 24h")
    return ServiceGraphQuery(
        start_ns=start, end_ns=end, peers_ended_before_ns=now_ns - PEER_SETTLE_NS
    )


@dataclass(frozen=True, slots=True)
class JaegerMetricsParams:
    query: RedQuery
    rate_per_ns: int
    quantile: float | None


def _ms(params: Params, name: str, default_ns: int, *, minimum: int = 1) -> int:
    text = first(params, name)
    if not text:
        return default_ns
    return scaled(parse_int(text, name, minimum=minimum), NS_PER_MS, name)


def _parse_bool(text: str, name: str) -> bool:
    # Go's strconv.ParseBool, which Jaeger uses.
    if text in ("", "0", "f", "F", "false", "FALSE", "False"):
        return False
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    raise BadInput(f"unable to parse param '{name}': not a boolean: {text[:64]!r}")


def parse_jaeger_metrics(
    params: Params, now_ns: int, *, needs_quantile: bool
) -> JaegerMetricsParams:
    services = _services(params, "service")
    if not services:
        raise BadInput("unable to parse param 'service': please provide at least one service name")
    end_text = first(params, "endTs")
    end = scaled(parse_int(end_text, "endTs"), NS_PER_MS, "endTs") if end_text else now_ns
    lookback = _ms(params, "lookback", JAEGER_LOOKBACK_NS)
    step = _minutes_up(_ms(params, "step", JAEGER_STEP_NS))
    rate_per = _minutes_up(_ms(params, "ratePer", JAEGER_RATE_PER_NS))
    if lookback // step > MAX_POINTS:
        raise BadInput(f"unable to parse param 'step': more than {MAX_POINTS} points")
    quantile: float | None = None
    if needs_quantile:
        text = first(params, "quantile")
        try:
            quantile = float(text)
        except ValueError:
            raise BadInput(
                f"unable to parse param 'quantile': not a number: {text[:64]!r}"
            ) from None
        if not (math.isfinite(quantile) and 0.0 < quantile <= 1.0):
            raise BadInput("unable to parse param 'quantile': must be in (0, 1]")
    kinds = _span_kinds(params, "spanKind") or (SpanKind.SERVER,)
    # Points every step, ending at the step holding endTs; each covers the ratePer before it.
    last_end = _minutes_up(min(end, MAX_NS - MINUTE_NS))
    first_start = max(0, last_end - lookback)
    query = RedQuery(
        start_ns=first_start - first_start % MINUTE_NS,
        end_ns=last_end - step + 1,
        step_ns=step,
        services=services,
        span_kinds=kinds,
        by_operation=_parse_bool(first(params, "groupByOperation"), "groupByOperation"),
        by_kind=False,
        quantiles=(quantile,) if quantile is not None else (),
        window_ns=rate_per,
    )
    return JaegerMetricsParams(query=query, rate_per_ns=rate_per, quantile=quantile)
