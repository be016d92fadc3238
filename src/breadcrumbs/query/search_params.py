"""Native search parameters (``/api/x/search``, ``/api/x/traces/{id}/matches``) -> query objects.

The web UI's search, which the Jaeger API cannot express: every service at once, the span
kind, attribute filters on the span or on its resource, errors only, and the duration of the
whole trace beside that of the matching span.

- ``service``, ``operation``: optional; no service searches every service.
- ``kind``: ``server``, ``client``, ``producer``, ``consumer``, ``internal``.
- ``tag=key=value`` (span, resource or event attributes, as Jaeger's ``tags``),
  ``spanTag=key=value`` (span attributes only), ``resourceTag=key=value`` (the resource's),
  each repeated; all must hold on one span. The value is everything after the first ``=``.
- ``minDuration``/``maxDuration``: of the matching span; ``minTraceDuration``/
  ``maxTraceDuration``: of the whole trace (first start to last end); Go durations (``150ms``).
- ``errors=1``: the matching span has an error status.
- ``start``/``end``: ns since the epoch, bounding the matching span's start (default: ``end``
  now and ``start`` = end - ``lookback``); ``lookback`` as in Jaeger (``1h``, ``2d``; default 1h).
- ``limit``: traces, 1-1500, default 20.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from breadcrumbs.errors import BadInput
from breadcrumbs.model import SpanKind, StatusCode
from breadcrumbs.query.jaeger_params import parse_go_duration, parse_lookback
from breadcrumbs.query.params import NS_PER_S, Params, first, parse_int, values
from breadcrumbs.store.base import TagFilter, TagScope, TraceQuery

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 1_500
DEFAULT_LOOKBACK_NS: Final = 3600 * NS_PER_S
_TAG_PARAMS: Final[tuple[tuple[str, TagScope], ...]] = (
    ("tag", "any"),
    ("spanTag", "span"),
    ("resourceTag", "resource"),
)
_KINDS: Final = {kind.label: kind for kind in SpanKind if kind != SpanKind.UNSPECIFIED}


@dataclass(frozen=True, slots=True)
class NativeSearch:
    """The span conditions (``query``) and the whole trace's duration bounds."""

    query: TraceQuery
    min_trace_ns: int | None = None
    max_trace_ns: int | None = None

    def trace_fits(self, duration_ns: int) -> bool:
        return (self.min_trace_ns is None or duration_ns >= self.min_trace_ns) and (
            self.max_trace_ns is None or duration_ns <= self.max_trace_ns
        )


def _tags(params: Params) -> tuple[TagFilter, ...]:
    tags: list[TagFilter] = []
    for name, scope in _TAG_PARAMS:
        for text in values(params, name):
            if not text:
                continue  # an empty form field
            key, equals, value = text.partition("=")
            if not equals or not key.strip():
                raise BadInput(
                    f"malformed '{name}' parameter, expecting key=value, received: {text[:100]!r}"
                )
            tags.append(TagFilter(key.strip(), value, scope))
    return tuple(tags)


def _duration(params: Params, name: str) -> int | None:
    text = first(params, name).strip()
    return parse_go_duration(text, name) if text else None


def _bounds(params: Params, low: str, high: str) -> tuple[int | None, int | None]:
    lo, hi = _duration(params, low), _duration(params, high)
    if lo is not None and hi is not None and hi < lo:
        raise BadInput(f"'{high}' must not be less than '{low}'")
    return lo, hi


def parse_native_search(params: Params, now_ns: int) -> NativeSearch:
    end_text, start_text = first(params, "end"), first(params, "start")
    end_ns = parse_int(end_text, "end") if end_text else now_ns
    if start_text:
        start_ns = parse_int(start_text, "start")
    else:
        lookback = parse_lookback(first(params, "lookback"))
        start_ns = max(0, end_ns - (DEFAULT_LOOKBACK_NS if lookback is None else lookback))
    if start_ns > end_ns:
        raise BadInput("parameter 'start' must not be after 'end'")

    kind_text = first(params, "kind").strip().lower()
    if kind_text and kind_text not in _KINDS:
        raise BadInput(
            f"unable to parse param 'kind': {kind_text[:40]!r} is not one of {', '.join(_KINDS)}"
        )
    errors_text = first(params, "errors")
    if errors_text not in ("", "0", "1", "true", "false"):
        raise BadInput(
            f"unable to parse param 'errors': expecting 1 or 0, not {errors_text[:20]!r}"
        )
    limit_text = first(params, "limit")
    min_span, max_span = _bounds(params, "minDuration", "maxDuration")
    min_trace, max_trace = _bounds(params, "minTraceDuration", "maxTraceDuration")
    query = TraceQuery(
        start_ns=start_ns,
        end_ns=end_ns,
        service=first(params, "service") or None,
        operation=first(params, "operation") or None,
        span_kind=_KINDS[kind_text] if kind_text else None,
        tags=_tags(params),
        min_duration_ns=min_span,
        max_duration_ns=max_span,
        limit=(
            parse_int(limit_text, "limit", minimum=1, maximum=MAX_LIMIT)
            if limit_text
            else DEFAULT_LIMIT
        ),
        status_codes=(StatusCode.ERROR,) if errors_text in ("1", "true") else (),
    )
    return NativeSearch(query, min_trace, max_trace)
