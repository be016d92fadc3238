"""Jaeger query API parameters -> query objects, as Jaeger's ``query_parser.go`` reads them.

- ``/api/traces``: ``service`` (required unless ``traceID`` is given), ``operation``,
  ``tag=key:value`` (repeated; the value may hold colons), ``tags`` (a JSON object, repeated),
  ``start``/``end`` (µs since the epoch; default ``end`` = now, ``start`` = end - lookback),
  ``lookback`` (``1h``, ``2d``, ``custom`` = use start/end; the Jaeger UI sends it beside
  start/end), ``minDuration``/``maxDuration`` (Go durations: ``150ms``, ``1.2s``, ``1m30s``,
  ``500us``/``µs``), ``limit`` (traces, default 100 as in Jaeger), ``traceID`` (repeated).
- ``/api/dependencies``: ``endTs`` and ``lookback`` in ms (default now and 24 h).
- ``/api/operations``: ``service`` (required) and ``spanKind``.
- ``/api/v3/traces`` and ``/api/v3/operations``: see ``parse_v3_search``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson

from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanKind, normalize_trace_id
from breadcrumbs.query.params import (
    MAX_NS,
    NS_PER_MS,
    NS_PER_S,
    NS_PER_US,
    Params,
    first,
    parse_int,
    scaled,
    values,
)
from breadcrumbs.store.base import TagFilter, TraceQuery

DEFAULT_LIMIT: Final = 100  # Jaeger's defaultQueryLimit
MAX_LIMIT: Final = 10_000
DEFAULT_LOOKBACK_NS: Final = 2 * 24 * 3600 * NS_PER_S  # Jaeger's query lookback default: 2 days
DEFAULT_DEPENDENCIES_LOOKBACK_NS: Final = 24 * 3600 * NS_PER_S

_GO_UNITS: Final = {
    "ns": 1,
    "us": NS_PER_US,
    "\u00b5s": NS_PER_US,  # micro sign
    "\u03bcs": NS_PER_US,  # Greek mu
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
}
# One "<number><unit>" component of a Go duration; longer units first so "ms" beats "m".
_GO_COMPONENT: Final = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DAYS: Final = re.compile(r"([0-9]{1,6})([dw])")


def parse_go_duration(text: str, name: str) -> int:
    """A non-negative Go ``time.ParseDuration`` string as ns (``1m30s``, ``1.5ms``, ``0``)."""
    rest = text
    if rest.startswith("+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise BadInput(f"unable to parse param '{name}': invalid duration {text[:64]!r}")
    total = 0
    while rest:
        match = _GO_COMPONENT.match(rest)
        if match is None or not (match.group(1) or match.group(2)):
            raise BadInput(
                f"unable to parse param '{name}': invalid duration {text[:64]!r} "
                "(expected e.g. 150ms, 1.2s, 1m30s, 500us)"
            )
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        factor = _GO_UNITS[unit]
        if len(whole) > 20:
            raise BadInput(f"unable to parse param '{name}': duration {text[:64]!r} too large")
        total += int(whole or "0") * factor
        if fraction:
            # Beyond 19 digits no unit (at most 3.6e12 ns) gains any precision.
            digits = fraction[:19]
            total += int(digits) * factor // 10 ** len(digits)
        if total > MAX_NS:
            raise BadInput(f"unable to parse param '{name}': duration {text[:64]!r} too large")
        rest = rest[match.end() :]
    return total


def parse_lookback(text: str, name: str = "lookback") -> int | None:
    """Jaeger UI lookback (``1h``, ``2d``, ``1w`` or any Go duration) as ns; None for
    ``custom`` or absent (then start/end alone count)."""
    if text in ("", "custom"):
        return None
    days = _DAYS.fullmatch(text)
    if days:
        per = 7 if days.group(2) == "w" else 1
        return int(days.group(1)) * per * 24 * 3600 * NS_PER_S
    return parse_go_duration(text, name)


def _tag_value_text(value: object, key: str) -> str:
    # Value text as model.encode_value spells it, so an int tag matches "200".
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise BadInput(f"malformed 'tags' parameter: value of {key!r} must be a string")


def parse_tags(simple: list[str], json_objects: list[str]) -> tuple[TagFilter, ...]:
    """``tag=key:value`` pairs then ``tags={"k":"v"}`` objects; later keys win, as in Jaeger."""
    tags: dict[str, str] = {}
    for pair in simple:
        key, colon, value = pair.partition(":")
        if not colon or not key:
            raise BadInput(
                f"malformed 'tag' parameter, expecting key:value, received: {pair[:100]!r}"
            )
        tags[key] = value
    for text in json_objects:
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise BadInput(f"malformed 'tags' parameter, cannot unmarshal JSON: {error}") from None
        if not isinstance(decoded, dict):
            raise BadInput("malformed 'tags' parameter: expecting a JSON object")
        for key, value in decoded.items():
            if not key:
                raise BadInput("malformed 'tags' parameter: empty tag key")
            tags[key] = _tag_value_text(value, key)
    return tuple(TagFilter(key, value) for key, value in tags.items())


@dataclass(frozen=True, slots=True)
class TraceSearch:
    """A Jaeger ``/api/traces`` request: a query, or explicit trace ids (then the query's
    service and filters are ignored, as in Jaeger)."""

    query: TraceQuery
    trace_ids: tuple[str, ...] = ()


def parse_trace_search(
    params: Params,
    now_ns: int,
    max_lookback_ns: int = DEFAULT_LOOKBACK_NS,
    max_traces: int = MAX_LIMIT,
) -> TraceSearch:
    """``max_lookback_ns`` and ``max_traces`` cap the default lookback and limit
    (``--max-query-window``, ``--max-query-traces``): a search naming neither always fits."""
    trace_ids = tuple(normalize_trace_id(text) for text in values(params, "traceID") if text)
    service = first(params, "service")
    if not service and not trace_ids:
        raise BadInput("parameter 'service' is required")

    end_text, start_text = first(params, "end"), first(params, "start")
    end_ns = scaled(parse_int(end_text, "end"), NS_PER_US, "end") if end_text else now_ns
    if start_text:
        start_ns = scaled(parse_int(start_text, "start"), NS_PER_US, "start")
    else:
        lookback = parse_lookback(first(params, "lookback"))
        default_ns = min(DEFAULT_LOOKBACK_NS, max_lookback_ns)
        start_ns = max(0, end_ns - (default_ns if lookback is None else lookback))
    if start_ns > end_ns:
        raise BadInput("parameter 'start' must not be after 'end'")

    limit_text = first(params, "limit")
    limit = parse_int(limit_text, "limit", minimum=1, maximum=MAX_LIMIT) if limit_text else 0

    min_text, max_text = first(params, "minDuration"), first(params, "maxDuration")
    min_ns = parse_go_duration(min_text, "minDuration") if min_text else None
    max_ns = parse_go_duration(max_text, "maxDuration") if max_text else None
    if min_ns and max_ns and max_ns < min_ns:
        raise BadInput("'maxDuration' should be greater than 'minDuration'")

    query = TraceQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        service=service or None,
        operation=first(params, "operation") or None,
        # empty values are "not given", as the UIs send every form field
        tags=parse_tags(
            [v for v in values(params, "tag") if v], [v for v in values(params, "tags") if v]
        ),
        min_duration_ns=min_ns or None,
        max_duration_ns=max_ns or None,
        limit=limit or min(DEFAULT_LIMIT, max_traces),
    )
    return TraceSearch(query=query, trace_ids=trace_ids)


def parse_dependencies(
    params: Params, now_ns: int, max_lookback_ns: int = DEFAULT_DEPENDENCIES_LOOKBACK_NS
) -> tuple[int, int]:
    """(end_ns, lookback_ns) from ``endTs`` and ``lookback`` in ms (the default lookback
    capped by ``max_lookback_ns``)."""
    end_text, lookback_text = first(params, "endTs"), first(params, "lookback")
    end_ns = scaled(parse_int(end_text, "endTs"), NS_PER_MS, "endTs") if end_text else now_ns
    lookback_ns = (
        scaled(parse_int(lookback_text, "lookback", minimum=1), NS_PER_MS, "lookback")
        if lookback_text
        else min(DEFAULT_DEPENDENCIES_LOOKBACK_NS, max_lookback_ns)
    )
    return end_ns, lookback_ns


def parse_operations(params: Params) -> tuple[str, SpanKind | None]:
    """(service, span kind) for ``/api/operations``."""
    service = first(params, "service")
    if not service:
        raise BadInput("parameter 'service' is required")
    kind_text = first(params, "spanKind")
    try:
        kind = SpanKind.parse(kind_text) if kind_text else None
    except (BadInput, ValueError):  # ValueError: int() of a non-ASCII digit such as "²"
        raise BadInput(
            f"unable to parse param 'spanKind': unknown span kind {kind_text[:64]!r}"
        ) from None
    return service, kind


# --- API v3 (HTTP gateway) --------------------------------------------------------------------

_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(text: str, name: str) -> int:
    """An RFC 3339 time with up to ns precision (Go's ``time.RFC3339Nano``) as ns."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise BadInput(f"malformed parameter {name}: not an RFC 3339 time: {text[:64]!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as error:
        raise BadInput(f"malformed parameter {name}: {error}") from None
    offset = 0
    if match.group(9):
        offset = (int(match.group(10)) * 60 + int(match.group(11))) * 60
        offset = -offset if match.group(9) == "-" else offset
    fraction = int((match.group(7) or "0").ljust(9, "0"))
    ns = (calendar.timegm(moment.timetuple()) - offset) * NS_PER_S + fraction
    if not 0 <= ns <= MAX_NS:
        raise BadInput(f"malformed parameter {name}: {text[:64]!r} is out of range")
    return ns


def parse_v3_search(params: Params, max_traces: int = MAX_LIMIT) -> TraceQuery:
    """``/api/v3/traces``: ``query.service_name``, ``query.operation_name``,
    ``query.start_time_min``/``max`` (RFC 3339, required), ``query.num_traces``,
    ``query.duration_min``/``max`` (Go durations), as Jaeger's ``apiv3/http_gateway.go``."""
    time_min, time_max = (
        first(params, "query.start_time_min"),
        first(params, "query.start_time_max"),
    )
    if not time_min or not time_max:
        raise BadInput("query.start_time_min and query.start_time_max are required")
    start_ns = parse_rfc3339(time_min, "query.start_time_min")
    end_ns = parse_rfc3339(time_max, "query.start_time_max")
    if start_ns > end_ns:
        raise BadInput("malformed parameter query.start_time_min: after query.start_time_max")
    limit_text = first(params, "query.num_traces")
    min_text, max_text = first(params, "query.duration_min"), first(params, "query.duration_max")
    min_ns = parse_go_duration(min_text, "query.duration_min") if min_text else None
    max_ns = parse_go_duration(max_text, "query.duration_max") if max_text else None
    if min_ns and max_ns and max_ns < min_ns:
        raise BadInput("malformed parameter query.duration_max: less than query.duration_min")
    return TraceQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        service=first(params, "query.service_name") or None,
        operation=first(params, "query.operation_name") or None,
        min_duration_ns=min_ns or None,
        max_duration_ns=max_ns or None,
        limit=(
            parse_int(limit_text, "query.num_traces", minimum=1, maximum=MAX_LIMIT)
            if limit_text
            else min(DEFAULT_LIMIT, max_traces)
        ),
    )


def parse_v3_operations(params: Params) -> tuple[str, SpanKind | None]:
    """``/api/v3/operations``: ``service`` and ``span_kind``."""
    return parse_operations(
        [("service", first(params, "service")), ("spanKind", first(params, "span_kind"))]
    )
